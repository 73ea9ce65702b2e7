// Builds the harness extension (test/editor/harnessExtension/, which bundles the in-editor suite)
// and the suite alone (for @vscode/test-electron) with esbuild. Both are small and take well under
// a second, so every code-server start builds a fresh harness.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths';

/** The harness extension's identity, from its package.json. */
export interface HarnessManifest {
  name: string;
  publisher: string;
  version: string;
}

/** Bundles an entry point for the extension host (vscode stays external). */
async function bundle(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'inline',
    external: ['vscode'],
    logLevel: 'warning',
  });
}

/** Builds the harness extension into outDir (package.json + extension.js) and returns its identity. */
export async function buildHarnessExtension(outDir: string): Promise<HarnessManifest> {
  const source = join(repoRoot(), 'test', 'editor', 'harnessExtension');
  mkdirSync(outDir, { recursive: true });
  const manifestText = readFileSync(join(source, 'package.json'), 'utf8');
  writeFileSync(join(outDir, 'package.json'), manifestText);
  await bundle(join(source, 'extension.ts'), join(outDir, 'extension.js'));
  return JSON.parse(manifestText) as HarnessManifest;
}

/** Builds the in-editor suite into one file that exports run() for @vscode/test-electron. */
export async function buildSuite(outfile: string): Promise<void> {
  await bundle(join(repoRoot(), 'test', 'editor', 'suite', 'index.ts'), outfile);
}
