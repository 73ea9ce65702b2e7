// Wall and CPU time of a child process, for benchmarks that compare whole processes (the CLI
// against smtp-source or swaks). The command runs under `sh`, which afterwards prints its children's
// CPU time from /proc/self/stat, so the figure is the child's own user + system time, measured the
// same way for every program compared.
import { spawn } from 'node:child_process';
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
