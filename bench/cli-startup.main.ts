// How fast the CLI is as a whole process, each figure next to its reference measured in the same run
// (issue "speed where users feel it", part 1). The commands alternate, and each figure is the median
// of at least 10 runs:
//   1. `smtpwb run` of one session (EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) against
//      Exim  vs  swaks doing the same session against the same Exim            goal ≤ 1.0× swaks's wall time
//   2. `smtpwb --help`                   vs  `node -e 0`                          goal ≤ 2×
//   3. `smtpwb lint` of one small file   vs  `node -e 0`                          goal ≤ 2×
// CPU time (user + system of the child, from /proc) is printed beside each wall time.
// Usage (from the repository root, so the peers are found):
//   node OUT/bench/cli-startup.main.js [--runs N] [--json]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startExim } from '../test/peers/exim';
import { requireBinary } from '../test/peers/require';

const argv = process.argv.slice(2);
const runsIndex = argv.indexOf('--runs');
const RUNS = Math.max(10, runsIndex >= 0 ? Number(argv[runsIndex + 1]) || 10 : 10);
const JSON_OUT = argv.includes('--json');
const CLI = resolve(process.env.SMTPWB_DIST ?? 'dist', 'cli.js');
const CLOCK_TICKS = 100;

interface Sample {
  wallMs: number;
  cpuMs: number;
}

/**
 * Runs a command under `sh`, which afterwards prints its children's CPU time from /proc/self/stat
 * (fields 16 and 17, cutime and cstime, in clock ticks). Rejects when the command fails.
 */
function timed(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Sample> {
  return new Promise((resolvePromise, reject) => {
    const script = '"$@" >/dev/null 2>"$SMTPWB_BENCH_ERR"; rc=$?; cat /proc/$$/stat; exit $rc';
    const started = performance.now();
    const child = spawn('sh', ['-c', script, 'sh', command, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0) {
        reject(new Error(`${command} ${args.join(' ')} exited ${code}`));
        return;
      }
      // The command's own name may hold spaces and parentheses: split after the last ')'.
      const fields = out.slice(out.lastIndexOf(')') + 2).trim().split(/\s+/);
      // After the ')' the fields start at field 3 (state); cutime and cstime are fields 16 and 17.
      const cutime = Number(fields[16 - 3]);
      const cstime = Number(fields[17 - 3]);
      resolvePromise({ wallMs, cpuMs: ((cutime + cstime) * 1000) / CLOCK_TICKS });
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stats = (xs: number[]): { min: number; median: number; max: number } => ({ min: Math.min(...xs), median: median(xs), max: Math.max(...xs) });

async function main(): Promise<void> {
  const swaks = requireBinary('swaks');
  const work = mkdtempSync(join(tmpdir(), 'smtpwb-bench-cli-'));
  const exim = await startExim();
  try {
    const script = join(work, 'submit.smtp');
    writeFileSync(
      script,
      [
        '### Submit with STARTTLS and AUTH',
        `CONNECT smtp://127.0.0.1:${exim.port}`,
        `TLS ca=${exim.caPath} sni=mail.example.test`,
        'EHLO client.example.test',
        'STARTTLS',
        'EHLO client.example.test',
        'AUTH PLAIN {{user}} {{$secret bench-password}}',
        'MAIL FROM:<alice@example.test>',
        'RCPT TO:<bob@example.test>',
        'DATA',
        'From: alice@example.test',
        'To: bob@example.test',
        'Subject: cli startup',
        '',
        'hello',
        '.',
        'QUIT',
        '',
      ].join('\n'),
    );
    const small = join(work, 'small.smtp');
    writeFileSync(small, '### Small\nEHLO client.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nQUIT\n');
    const env = { ...process.env, SMTPWB_SECRET_BENCH_PASSWORD: exim.pass, SMTPWB_BENCH_ERR: join(work, 'stderr.txt') };
    const commands: Record<string, [string, string[]]> = {
      smtpwbRun: [process.execPath, [CLI, 'run', script, '--var', `user=${exim.user}`]],
      swaks: [
        swaks,
        [
          '--server', `127.0.0.1:${exim.port}`, '--ehlo', 'client.example.test', '--tls', '--tls-verify', '--tls-ca-path', exim.caPath,
          '--tls-sni', 'mail.example.test', '--auth', 'PLAIN', '--auth-user', exim.user, '--auth-password', exim.pass,
          '--from', 'alice@example.test', '--to', 'bob@example.test', '--header', 'Subject: cli startup', '--body', 'hello',
        ],
      ],
      help: [process.execPath, [CLI, '--help']],
      lint: [process.execPath, [CLI, 'lint', small]],
      nodeBare: [process.execPath, ['-e', '0']],
    };
    const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
    // One warm-up of each, so the file cache is warm for every command alike.
    for (const [command, args] of Object.values(commands)) await timed(command, args, env);
    for (let i = 0; i < RUNS; i++) {
      for (const [name, [command, args]] of Object.entries(commands)) samples[name].push(await timed(command, args, env));
    }
    const wall = (name: string) => stats(samples[name].map((s) => s.wallMs));
    const cpu = (name: string) => stats(samples[name].map((s) => s.cpuMs));
    const rows = [
      { name: 'smtpwb run (STARTTLS + AUTH session to Exim)', figure: 'smtpwbRun', reference: 'swaks', goal: 1.0 },
      { name: 'smtpwb --help', figure: 'help', reference: 'nodeBare', goal: 2.0 },
      { name: 'smtpwb lint (one small file)', figure: 'lint', reference: 'nodeBare', goal: 2.0 },
    ].map((r) => {
      const ratio = wall(r.figure).median / wall(r.reference).median;
      return { ...r, wall: wall(r.figure), cpu: cpu(r.figure), refWall: wall(r.reference), refCpu: cpu(r.reference), ratio, met: ratio <= r.goal };
    });
    if (JSON_OUT) {
      process.stdout.write(JSON.stringify({ bench: 'cli-startup', runs: RUNS, rows }, null, 2) + '\n');
      return;
    }
    const refName: Record<string, string> = { swaks: 'swaks', nodeBare: 'node -e 0' };
    const ms = (s: { min: number; median: number; max: number }) => `${s.median.toFixed(0)} ms (min ${s.min.toFixed(0)}, max ${s.max.toFixed(0)})`;
    console.log(`cli-startup: medians of ${RUNS} alternating runs`);
    for (const r of rows) {
      console.log(`  ${r.name}: wall ${ms(r.wall)}, CPU ${r.cpu.median.toFixed(0)} ms`);
      console.log(`    vs ${refName[r.reference]}: wall ${ms(r.refWall)}, CPU ${r.refCpu.median.toFixed(0)} ms`);
      console.log(`    ratio ${r.ratio.toFixed(2)}× (goal ≤ ${r.goal.toFixed(1)}×): ${r.met ? 'met' : 'NOT met'}`);
    }
  } finally {
    await exim.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
