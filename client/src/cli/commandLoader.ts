/**
 * Loads the bundle of one CLI command (dist/cli-run.js, dist/cli-lint.js, …) with V8's code cache,
 * so that a command run again does not compile its bundle again: compiling a 1–1.5 MB bundle is
 * about a fifth of the start-up of `smtpwb lint` or `smtpwb run`.
 *
 * The bundle is compiled through `vm.Script` with `cachedData`, as Node's own loader would compile
 * it (the CommonJS wrapper, `require` relative to the bundle, `__filename` and `__dirname`), on
 * every Node version. Node 22's `module.enableCompileCache` would do it too, but it takes its cache
 * right after compiling, when only the top level is compiled; this cache is taken when the process
 * ends, so it also holds every function the command ran: a warm `smtpwb lint` or `smtpwb run` took
 * 10–15 % less CPU with it than with Node's cache on Node 22 and 24 (measured side by side, same
 * bundles). The cache lives beside the
 * bundles, in `.v8-cache/`, never in the temporary folder; a folder that cannot be written (a
 * read-only install) only means there is no cache. Each cache file is named after the bundle's
 * size and modification time, the Node version and the architecture (V8 checks only a script's
 * length, and rejects data from another V8), written once (to a temporary name, then renamed, so
 * concurrent runs never see half a file), and older files of the same bundle for the same Node are
 * removed then (another Node's stay: two Node versions sharing an install do not evict each other).
 * With `--enable-source-maps` the bundle is loaded by `require`, which maps stack traces, and with
 * `NODE_DISABLE_COMPILE_CACHE` set (Node's own switch for its compile cache) without a cache.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { isAscii } from 'node:buffer';
import * as nodeModule from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** The folder of the cache, beside the bundles. */
export const CODE_CACHE_DIR = '.v8-cache';

interface ModuleApi {
  wrap(source: string): string;
}

type Wrapper = (exports: unknown, require: NodeJS.Require, module: { exports: unknown }, filename: string, dirname: string) => void;

function sourceMapsOn(): boolean {
  return process.execArgv.includes('--enable-source-maps') || /--enable-source-maps/.test(process.env.NODE_OPTIONS ?? '');
}

/** Requires the bundle at the absolute `path`, through the code cache where the runtime allows. */
export function loadBundle(path: string): Record<string, unknown> {
  const api = nodeModule as unknown as ModuleApi;
  const cacheDir = join(dirname(path), CODE_CACHE_DIR);
  // NODE_DISABLE_COMPILE_CACHE turns Node 22's compile cache off; it turns this one off too.
  if (sourceMapsOn() || process.env.NODE_DISABLE_COMPILE_CACHE) return require(path) as Record<string, unknown>;
  const source = readSource(path);
  const stat = statSync(path);
  const prefix = `${basename(path)}-`;
  const runtime = `-${process.version}-${process.arch}.bin`;
  const cacheName = `${prefix}${stat.size}-${Math.trunc(stat.mtimeMs)}${runtime}`;
  const cacheFile = join(cacheDir, cacheName);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(api.wrap(source), { filename: path, cachedData });
  const wrapper = script.runInThisContext({ displayErrors: true }) as Wrapper;
  const loaded = { exports: {} as unknown };
  wrapper.call(loaded.exports, loaded.exports, nodeModule.createRequire(path), loaded, path, dirname(path));
  if (cachedData === undefined || script.cachedDataRejected === true) {
    // Written when the process ends, so the functions the command ran are in the cache too.
    process.once('exit', () => writeCache(script, cacheDir, cacheFile, prefix, runtime, cacheName));
  }
  return loaded.exports as Record<string, unknown>;
}

/**
 * The bundle's text. The CLI bundles are pure ASCII (esbuild escapes everything else), so they are
 * decoded as Latin-1, which makes a one-byte string with a plain copy, where UTF-8 decoding of a
 * megabyte costs several milliseconds; any other file is decoded as UTF-8. Both give the same text
 * for ASCII, so the code cache (keyed by the source's length) matches either way.
 */
function readSource(path: string): string {
  const bytes = readFileSync(path);
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}

function writeCache(script: Script, cacheDir: string, cacheFile: string, prefix: string, runtime: string, cacheName: string): void {
  try {
    mkdirSync(cacheDir, { recursive: true });
    const temporary = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(temporary, script.createCachedData());
    renameSync(temporary, cacheFile);
    for (const name of readdirSync(cacheDir)) {
      if (name.startsWith(prefix) && name.endsWith(runtime) && name !== cacheName) unlinkSync(join(cacheDir, name));
    }
  } catch {
    // A folder that cannot be written: no cache, nothing else changes.
  }
}
