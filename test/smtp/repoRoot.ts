/**
 * The repository root, found from this file's own location only: the nearest folder above it whose
 * package.json is the project's. Compiled tests live in `<build>/dist-test/test/smtp/`, sources in
 * `test/smtp/`; both lead to the checkout, wherever it is and whatever the working directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: string | undefined;

export function repoRoot(): string {
  if (cached !== undefined) return cached;
  let dir = __dirname;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'smtp-workbench') return (cached = dir);
      } catch {
        // Not a readable package.json: keep walking up.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no smtp-workbench package.json above ${__dirname}`);
    dir = parent;
  }
}

/** A path inside the repository. */
export function repoPath(...parts: string[]): string {
  return join(repoRoot(), ...parts);
}
