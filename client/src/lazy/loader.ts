/**
 * Feature bundles loaded the first time they are needed, so that activation evaluates only what it
 * uses: message authentication and preview (mailauth, mailparser), the Mail DNS checks and the
 * capture server (smtp-server) each live in their own bundle beside the client bundle
 * (dist/emlTools.js, dist/dnsTools.js, dist/captureTools.js). Types come from the modules themselves.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export type LazyBundleName = 'emlTools' | 'dnsTools' | 'captureTools' | 'languageClientTools';

function locate(name: LazyBundleName): string {
  const beside = join(__dirname, `${name}.js`);
  if (existsSync(beside)) return beside;
  // Tests are bundled elsewhere; they find the feature bundles in the build's dist folder.
  return resolve(process.env.SMTPWB_DIST ?? 'dist', `${name}.js`);
}

export function lazyBundle<T>(name: LazyBundleName): () => T {
  let loaded: T | undefined;
  return () => {
    if (loaded === undefined) {
      const path = locate(name);
      // A runtime require of a computed path: the bundler leaves it alone, so the feature bundle
      // stays a separate file.
      loaded = require(path) as T;
    }
    return loaded;
  };
}
