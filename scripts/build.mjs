// Builds the bundles (client, server, CLI) and the test files with esbuild.
//
// Usage: node scripts/build.mjs [--minify] [--no-tests] [--no-bundles]
//                               [--dist DIR] [--test-out DIR] [--only test/PATH]...
// --dist and --test-out let several builds run side by side without removing each other's output;
// --only limits the test build to files under the given folders.
import * as esbuild from 'esbuild';
import { readdirSync, statSync, rmSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const values = (name) => argv.flatMap((a, i) => (a === name && argv[i + 1] ? [argv[i + 1]] : []));
const minify = flag('--minify');
const distDir = values('--dist')[0] ?? 'dist';
const testOut = values('--test-out')[0] ?? 'dist-test';
const only = values('--only');

/** Collects files under a folder whose names end with one of the suffixes. */
function collect(dir, suffixes, out = []) {
  if (!existsSync(dir)) return out;
  if (!statSync(dir).isDirectory()) {
    if (suffixes.some((s) => dir.endsWith(s))) out.push(dir);
    return out;
  }
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, suffixes, out);
    else if (suffixes.some((s) => name.endsWith(s))) out.push(path);
  }
  return out;
}

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  minify,
  logLevel: 'warning',
  legalComments: 'none',
};

if (!flag('--no-bundles')) {
  rmSync(distDir, { recursive: true, force: true });
  const entryPoints = {
    client: 'client/src/extension.ts',
    server: 'server/src/server.ts',
    // Feature bundles the extension loads on first use (client/src/lazy/loader.ts).
    emlTools: 'client/src/lazy/emlTools.ts',
    dnsTools: 'client/src/lazy/dnsTools.ts',
    captureTools: 'client/src/lazy/captureTools.ts',
    languageClientTools: 'client/src/lazy/languageClientTools.ts',
  };
  // The CLI: dist/cli.js only dispatches (client/src/cli/main.ts); each command is a bundle of its
  // own that it loads when the command runs, so a command compiles and evaluates only what it uses.
  const cliEntryPoints = {
    cli: 'client/src/cli/main.ts',
    'cli-lint': 'client/src/cli/lintCommand.ts',
    'cli-run': 'client/src/cli/runCommand.ts',
    'cli-dns': 'client/src/cli/dnsCommand.ts',
    'cli-verify': 'client/src/cli/verifyCommand.ts',
    'cli-sign': 'client/src/cli/signCommand.ts',
    'cli-dkim': 'client/src/cli/dkimCommand.ts',
    'cli-serve': 'client/src/cli/serveCommand.ts',
    'cli-inbox': 'client/src/cli/inboxCommand.ts',
    'cli-report': 'client/src/cli/reportCommand.ts',
    'cli-lsp': 'client/src/cli/lspCommand.ts',
  };
  const existing = (entries) => Object.fromEntries(Object.entries(entries).filter(([, file]) => existsSync(file)));
  await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: existing(entryPoints),
      outdir: distDir,
      external: ['vscode'],
      // The activation benchmark measures from the first statement of the bundle.
      banner: { js: 'globalThis.__smtpwbLoadStart = globalThis.__smtpwbLoadStart ?? performance.now();' },
      footer: { js: 'globalThis.__smtpwbLoadEnd = globalThis.__smtpwbLoadEnd ?? performance.now();' },
    }),
    // Every CLI process reads and compiles its command's bundle before it does anything: without
    // whitespace and comments it is a fifth smaller and pure ASCII (esbuild escapes the rest), which
    // the loader reads as a one-byte string (commandLoader.ts). Names are kept, so stack traces
    // still name functions, and the linked source maps still map them. No load-time banner: its
    // `performance.now()` alone loads perf_hooks, which `smtpwb --help` does not need.
    esbuild.build({
      ...common,
      entryPoints: existing(cliEntryPoints),
      outdir: distDir,
      external: ['vscode'],
      minifyWhitespace: true,
      minifySyntax: true,
    }),
  ]);
  if (existsSync(join(distDir, 'cli.js'))) chmodSync(join(distDir, 'cli.js'), 0o755);
}

if (!flag('--no-tests')) {
  rmSync(testOut, { recursive: true, force: true });
  // Tests end in .test.ts; runnable helpers (peer starters, fuzzers, benchmarks) end in .main.ts.
  const roots = only.length > 0 ? only : ['test', 'bench'];
  const entryPoints = roots.flatMap((root) => collect(root, ['.test.ts', '.main.ts']));
  if (entryPoints.length > 0) {
    await esbuild.build({
      ...common,
      entryPoints,
      outdir: testOut,
      outbase: '.',
      // Test files keep npm packages external so they load the same copies as the product does.
      packages: 'external',
      external: ['vscode'],
      define: { 'process.env.SMTPWB_DIST': JSON.stringify(distDir) },
    });
  }
}
