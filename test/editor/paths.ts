// Paths shared by the in-editor test helpers: the repository root, the installed code-server, the
// workspace fixtures and the artifacts folder of this run.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../peers/require';

/** The fields of the extension's package.json that the helpers need. */
export interface ExtensionManifest {
  name: string;
  publisher: string;
  version: string;
}

/**
 * The repository root, found from this file's own location (never the working directory); one
 * home for every test helper: test/peers/require.ts.
 */
export { repoRoot } from '../peers/require';

/** Reads the extension's name, publisher and version from the repository's package.json. */
export function extensionManifest(): ExtensionManifest {
  const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as Partial<ExtensionManifest>;
  return {
    name: pkg.name ?? 'smtp-workbench',
    publisher: pkg.publisher ?? 'smtp-workbench',
    version: pkg.version ?? '0.0.0',
  };
}

/** The folder code-server is installed in (scripts/install-editor.sh), overridable for CI caches. */
export function editorDir(): string {
  return process.env.SMTPWB_EDITOR_DIR ?? join(repoRoot(), '.editor');
}

/** The entry script of the installed code-server. */
export function codeServerEntry(): string {
  return join(editorDir(), 'node_modules', 'code-server', 'out', 'node', 'entry.js');
}

/** The Chromium that playwright-core drives (Debian's package unless overridden). */
export function chromiumPath(): string {
  return process.env.SMTPWB_CHROMIUM ?? '/usr/bin/chromium';
}

/** Explains what is missing to run the in-editor tests, or returns undefined when all is there. */
export function editorUnavailableReason(): string | undefined {
  if (!existsSync(codeServerEntry())) {
    return `code-server is not installed in ${editorDir()}: run bash scripts/install-editor.sh`;
  }
  if (!existsSync(chromiumPath())) {
    return `Chromium is not installed at ${chromiumPath()}: run bash scripts/install-editor.sh (as root) or set SMTPWB_CHROMIUM`;
  }
  return undefined;
}

/** The workspace fixtures opened in the editor. */
export function fixturesDir(): string {
  return join(repoRoot(), 'test', 'editor-fixtures');
}

let artifactsCache: string | undefined;

/**
 * The artifacts folder of this run, .test-artifacts/editor/<timestamp>/ (or $SMTPWB_ARTIFACTS_DIR),
 * created and printed on first use so that a failing run points at its screenshots and logs.
 */
export function artifactsDir(): string {
  if (artifactsCache !== undefined) return artifactsCache;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = process.env.SMTPWB_ARTIFACTS_DIR ?? join(repoRoot(), '.test-artifacts', 'editor', `${stamp}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  artifactsCache = dir;
  process.stdout.write(`# editor test artifacts (screenshots, logs): ${dir}\n`);
  return dir;
}
