// Wall and CPU time of a child process, for benchmarks that compare whole processes (the CLI
// against smtp-source or swaks). The command runs under `sh`, which afterwards prints its children's
// CPU time from /proc/self/stat, so the figure is the child's own user + system time, measured the
// same way for every program compared. Also: the Node binaries a benchmark runs the CLI under
// (`benchNodes`, `benchVariants`) and which of them the speed goals are judged on.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** Clock ticks per second of /proc's times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

export interface ProcessSample {
  /** From spawn to exit, in milliseconds. */
  wallMs: number;
  /** User + system CPU of the command, in milliseconds (10 ms resolution). */
  cpuMs: number;
}

/**
 * Runs `command args` with its output sent to /dev/null and its standard error to `stderrFile`
 * (or /dev/null), and returns its wall and CPU time. Rejects when the command exits non-zero.
 */
export function timedProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env, stderrFile = '/dev/null'): Promise<ProcessSample> {
  return new Promise((resolvePromise, reject) => {
    const script = '"$@" >/dev/null 2>"$SMTPWB_BENCH_ERR"; rc=$?; cat /proc/$$/stat; exit $rc';
    const started = performance.now();
    const child = spawn('sh', ['-c', script, 'sh', command, ...args], { env: { ...env, SMTPWB_BENCH_ERR: stderrFile }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0) {
        reject(new Error(`${command} ${args.join(' ')} exited ${code}`));
        return;
      }
      // The command's own name may hold spaces and parentheses: split after the last ')'. After it
      // the fields start at field 3 (state); cutime and cstime are fields 16 and 17 (proc(5)).
      const fields = out.slice(out.lastIndexOf(')') + 2).trim().split(/\s+/);
      const cutime = Number(fields[16 - 3]);
      const cstime = Number(fields[17 - 3]);
      resolvePromise({ wallMs, cpuMs: ((cutime + cstime) * 1000) / CLOCK_TICKS });
    });
  });
}

export interface Spread {
  min: number;
  median: number;
  max: number;
}

/** The median (the upper one for an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

/** Minimum, median and maximum, so a figure shows the machine's noise beside it. */
export function spread(xs: readonly number[]): Spread {
  return { min: Math.min(...xs), median: median(xs), max: Math.max(...xs) };
}

/** One Node binary a benchmark runs the CLI under. */
export interface BenchNode {
  /** The binary. */
  path: string;
  /** `process.version` of that binary, e.g. v22.23.3. */
  version: string;
  major: number;
  /**
   * Whether the speed goals are judged on this version. Node 20 reached its end of life on
   * 2026-04-30: it stays supported and tested, and its figures are shown, but the goals are judged
   * on Node 22 and 24 (which, unlike Node 20, do not read NODE_EXTRA_CA_CERTS at every start).
   */
  judged: boolean;
}

/** The first Node major the speed goals are judged on. */
export const FIRST_JUDGED_MAJOR = 22;

/**
 * The Node binaries to measure: the one running the benchmark and every `.node-versions/<major>/bin/node`
 * of the checkout (scripts/install-node-versions.sh), one per major, oldest first.
 */
export function benchNodes(root: string): BenchNode[] {
  const candidates = [process.execPath];
  const dir = join(root, '.node-versions');
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      const bin = join(dir, name, 'bin', 'node');
      if (existsSync(bin)) candidates.push(bin);
    }
  }
  const byMajor = new Map<number, BenchNode>();
  for (const path of candidates) {
    const version = path === process.execPath ? process.version : execFileSync(path, ['-p', 'process.version'], { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } }).trim();
    const major = Number(/^v(\d+)/.exec(version)?.[1] ?? 0);
    if (!byMajor.has(major)) byMajor.set(major, { path, version, major, judged: major >= FIRST_JUDGED_MAJOR });
  }
  return [...byMajor.values()].sort((a, b) => a.major - b.major);
}

/** One way a benchmark runs the CLI: under a Node, with the environment as it is or without NODE_EXTRA_CA_CERTS. */
export interface BenchVariant {
  /** A short key for sample names (`n22`, `n20NoExtraCa`). */
  key: string;
  node: BenchNode;
  withoutExtraCa: boolean;
}

/**
 * Every Node as the environment is, and each version the goals are not judged on also without
 * NODE_EXTRA_CA_CERTS when that is set (informational: Node before 22 reads it at every start).
 */
export function benchVariants(nodes: readonly BenchNode[], env: NodeJS.ProcessEnv = process.env): BenchVariant[] {
  const variants: BenchVariant[] = [];
  for (const node of nodes) {
    variants.push({ key: `n${node.major}`, node, withoutExtraCa: false });
    if (extraCaCertsSet(env) && !node.judged) variants.push({ key: `n${node.major}NoExtraCa`, node, withoutExtraCa: true });
  }
  return variants;
}

/** Whether NODE_EXTRA_CA_CERTS is set: Node before 22 then reads that file at every start. */
export function extraCaCertsSet(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NODE_EXTRA_CA_CERTS !== undefined && env.NODE_EXTRA_CA_CERTS !== '';
}

/** A copy of an environment without NODE_EXTRA_CA_CERTS. */
export function withoutExtraCaCerts(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  delete copy.NODE_EXTRA_CA_CERTS;
  return copy;
}

/** The note a figure of a version the goals are not judged on carries. */
export function notJudgedNote(node: BenchNode): string {
  return `informational: Node ${node.major} is past its end of life; the goal is judged on Node ${FIRST_JUDGED_MAJOR} and later`;
}

/** A spread as text: "MEDIAN (min MIN, max MAX)", the unit after the median. */
export function spreadText(s: Spread, digits = 0, unit = ''): string {
  return `${s.median.toFixed(digits)}${unit} (min ${s.min.toFixed(digits)}, max ${s.max.toFixed(digits)})`;
}
