// Throughput of SMTP Workbench against Postfix's smtp-sink, as users run it: `smtpwb run` as a
// whole process (start-up, script parsing, transcript to stdout, secrets masking and timeouts on),
// each figure next to its reference measured in the same run, the commands alternating:
//   1. lock-step (one command, wait for its reply), 2,000 × 1 KB over one connection
//        `smtpwb run --repeat 2000`                   vs `smtp-source -m 2000 -d`        goal ≥ 1.0×
//   2. pipelined (RFC 2920, `# @pipelining`), same messages
//        `smtpwb run --repeat 2000`                   vs `smtp-source -m 2000 -d`        goal ≥ 2.5×
//   3. 10 parallel sessions, pipelined, 200 messages each
//        `smtpwb run --parallel 10 --repeat 200`      vs `smtp-source -s 10 -m 2000 -d`  goal ≥ 2.0×
//   4. one connection vs swaks, one process per message                                 goal ≥ 100×
// The engine's figure in process (runSession with the same plan, transcript kept, the secret
// masked, default timeouts) is printed beside each, and the CPU per message of every program
// (user + system, start-up included for processes). smtp-source never pipelines (its man page:
// "No SMTP command pipelining support"); it waits for every reply, as lock-step does.
// Usage (the checkout is found from this file's location; SMTPWB_DIST names the CLI's folder):
//   node OUT/bench/engine-throughput.main.js [--messages N] [--runs N] [--swaks-messages N] [--json]
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { postfixEnv, smtpSourcePath, startSmtpSink } from '../test/peers/postfixTools';
import { findBinary, repoRoot } from '../test/peers/require';
import { runSession } from '../client/src/engine/session';
import { runParallel } from '../client/src/engine/parallel';
import type { SessionPlan } from '../common/sessionPlan';
import { spread, timedProcess, type Spread } from './processTiming';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? Number(argv[i + 1]) : fallback;
};
const MESSAGES = opt('--messages', 2000);
const RUNS = Math.max(1, opt('--runs', 5));
const SWAKS_MESSAGES = opt('--swaks-messages', 20);
const PARALLEL = 10;
const PER_COPY = Math.ceil(MESSAGES / PARALLEL);
const CLI = join(process.env.SMTPWB_DIST ?? join(repoRoot(), 'dist'), 'cli.js');
/** A token in a header of every message: masking is on, as in a script that carries an API key. */
const TOKEN = 'bench-token-7f3a9c1e5d';

/** A 1 KB message: a few headers and 76-character lines up to 1,024 octets with CRLF. */
function messageLines(tokenLine: string): string[] {
  const lines = ['From: bench@example.test', 'To: sink@example.test', 'Subject: engine throughput', tokenLine, ''];
  let size = lines.reduce((n, l) => n + l.length + 2, 0);
  while (size < 1024) {
    const room = Math.min(76, 1024 - size - 2);
    const line = 'x'.repeat(Math.max(1, room));
    lines.push(line);
    size += line.length + 2;
  }
  return lines;
}

/** The script the CLI runs: the same session as `plan()`, the token as a `$secret`. */
function script(port: number, pipelining: boolean): string {
  return [
    `### bench ${pipelining ? 'pipelined' : 'lock-step'}`,
    ...(pipelining ? ['# @pipelining'] : []),
    `CONNECT smtp://127.0.0.1:${port}`,
    'EHLO bench.example.test',
    'MAIL FROM:<bench@example.test>',
    'RCPT TO:<sink@example.test>',
    'DATA',
    ...messageLines('X-Bench-Token: {{$secret bench-token}}'),
    '.',
    'QUIT',
    '',
  ].join('\n');
}

function plan(port: number, pipelining: boolean): SessionPlan {
  const exp = (c: 2 | 3) => ({ line: 0, source: '', codes: [{ kind: 'class' as const, class: c }], enhanced: [], implicit: true });
  const command = (text: string, line: number) => ({ kind: 'command' as const, line, source: text, verb: text.split(' ')[0], template: text, expect: exp(2) });
  return {
    file: 'bench.smtp',
    title: 'bench',
    line: 0,
    endLine: 10,
    variables: [],
    connect: { template: `smtp://127.0.0.1:${port}`, line: 0 },
    tls: { verify: true },
    options: { allowCleartextAuth: false, pipelining, timeouts: {} },
    steps: [
      command('EHLO bench.example.test', 1),
      command('MAIL FROM:<bench@example.test>', 2),
      command('RCPT TO:<sink@example.test>', 3),
      { kind: 'data', line: 4, source: 'DATA', body: { kind: 'inline', lines: messageLines(`X-Bench-Token: ${TOKEN}`), firstLine: 5 }, intermediate: exp(3), expect: exp(2) },
      command('QUIT', 9),
    ],
  };
}

/** One measurement: messages per second and CPU microseconds per message. */
interface Figure {
  rate: number;
  cpuUsPerMessage: number;
}

async function inProcess(port: number, pipelining: boolean, copies = 1): Promise<Figure> {
  const options = { repeat: copies > 1 ? PER_COPY : MESSAGES, secrets: [TOKEN], keepTranscript: true };
  const messages = copies > 1 ? PER_COPY * copies : MESSAGES;
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  if (copies > 1) {
    const r = await runParallel(plan(port, pipelining), options, copies);
    if (!r.ok) throw new Error(`parallel engine run failed: ${r.results.find((x) => !x.ok)?.failure?.message}`);
  } else {
    const r = await runSession(plan(port, pipelining), options);
    if (!r.ok || r.repeat?.delivered !== MESSAGES) throw new Error(`engine run failed: ${r.failure?.kind}: ${r.failure?.message}`);
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  return { rate: (messages * 1000) / ms, cpuUsPerMessage: (cpu.user + cpu.system) / messages };
}

async function process_(command: string, args: string[], messages: number, env?: NodeJS.ProcessEnv): Promise<Figure> {
  const s = await timedProcess(command, args, env);
  return { rate: (messages * 1000) / s.wallMs, cpuUsPerMessage: (s.cpuMs * 1000) / messages };
}

function swaksOnce(swaks: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(swaks, ['--server', `127.0.0.1:${port}`, '--from', 'bench@example.test', '--to', 'sink@example.test', '--silent', '2', '--body', 'x'.repeat(900)], (error) =>
      error ? reject(error) : resolve(),
    );
  });
}

async function swaksRate(port: number): Promise<number | undefined> {
  const swaks = findBinary('swaks');
  if (!swaks) return undefined;
  const started = performance.now();
  for (let i = 0; i < SWAKS_MESSAGES; i++) await swaksOnce(swaks, port);
  return (SWAKS_MESSAGES * 1000) / (performance.now() - started);
}

interface Row {
  name: string;
  smtpwb: Spread;
  smtpwbCpu: number;
  inProcess: Spread;
  inProcessCpu: number;
  refName: string;
  reference: Spread;
  referenceCpu: number;
  goal: number;
  /** The process's rate over the reference's: the figure the goal is for. */
  ratio: number;
  /** The engine's rate in process over the reference's, for information. */
  inProcessRatio: number;
  met: boolean;
}

async function main(): Promise<void> {
  const sink = await startSmtpSink();
  const work = mkdtempSync(join(tmpdir(), 'smtpwb-bench-throughput-'));
  try {
    const lockScript = join(work, 'lockstep.smtp');
    const pipeScript = join(work, 'pipelined.smtp');
    writeFileSync(lockScript, script(sink.port, false));
    writeFileSync(pipeScript, script(sink.port, true));
    const cliEnv = { ...process.env, SMTPWB_SECRET_BENCH_TOKEN: TOKEN };
    const source = smtpSourcePath();
    const sourceArgs = (sessions: number) => ['-m', String(MESSAGES), '-l', '1024', '-d', '-f', 'bench@example.test', '-t', 'sink@example.test', ...(sessions > 1 ? ['-s', String(sessions)] : []), sink.address];
    const cli = (file: string, parallel: boolean) => [CLI, 'run', file, '--repeat', String(parallel ? PER_COPY : MESSAGES), ...(parallel ? ['--parallel', String(PARALLEL)] : [])];
    const measures: Record<string, () => Promise<Figure>> = {
      source1: () => process_(source, sourceArgs(1), MESSAGES, postfixEnv()),
      cliLock: () => process_(process.execPath, cli(lockScript, false), MESSAGES, cliEnv),
      inLock: () => inProcess(sink.port, false),
      cliPipe: () => process_(process.execPath, cli(pipeScript, false), MESSAGES, cliEnv),
      inPipe: () => inProcess(sink.port, true),
      sourceN: () => process_(source, sourceArgs(PARALLEL), MESSAGES, postfixEnv()),
      cliPar: () => process_(process.execPath, cli(pipeScript, true), PER_COPY * PARALLEL, cliEnv),
      inPar: () => inProcess(sink.port, true, PARALLEL),
      cliParLock: () => process_(process.execPath, cli(lockScript, true), PER_COPY * PARALLEL, cliEnv),
      inParLock: () => inProcess(sink.port, false, PARALLEL),
    };
    // A warm-up of each, so the file cache and the JIT are warm for every measured run alike.
    for (const m of Object.values(measures)) await m();
    const samples: Record<string, Figure[]> = Object.fromEntries(Object.keys(measures).map((k) => [k, []]));
    for (let i = 0; i < RUNS; i++) for (const [name, m] of Object.entries(measures)) samples[name].push(await m());
    const rate = (name: string) => spread(samples[name].map((f) => f.rate));
    const cpu = (name: string) => spread(samples[name].map((f) => f.cpuUsPerMessage)).median;
    const row = (name: string, cli: string, inproc: string, ref: string, refName: string, goal: number): Row => {
      const ratio = rate(cli).median / rate(ref).median;
      return {
        name, smtpwb: rate(cli), smtpwbCpu: cpu(cli), inProcess: rate(inproc), inProcessCpu: cpu(inproc),
        refName, reference: rate(ref), referenceCpu: cpu(ref), goal, ratio, inProcessRatio: rate(inproc).median / rate(ref).median, met: goal > 0 ? ratio >= goal : true,
      };
    };
    const rows: Row[] = [
      row(`lock-step, ${MESSAGES} × 1 KB, one connection`, 'cliLock', 'inLock', 'source1', 'smtp-source -d', 1.0),
      row(`pipelined, ${MESSAGES} × 1 KB, one connection`, 'cliPipe', 'inPipe', 'source1', 'smtp-source -d', 2.5),
      row(`${PARALLEL} parallel sessions, pipelined`, 'cliPar', 'inPar', 'sourceN', `smtp-source -s ${PARALLEL} -d`, 2.0),
      row(`${PARALLEL} parallel sessions, lock-step`, 'cliParLock', 'inParLock', 'sourceN', `smtp-source -s ${PARALLEL} -d`, 0),
    ];
    const swaks = await swaksRate(sink.port);
    const swaksRow = swaks ? { name: 'one connection (pipelined) vs one swaks process per message', smtpwb: rate('cliPipe').median, swaks, ratio: rate('cliPipe').median / swaks, goal: 100 } : undefined;
    if (argv.includes('--json')) {
      process.stdout.write(`${JSON.stringify({ bench: 'engine-throughput', runs: RUNS, messages: MESSAGES, rows, swaks: swaksRow ? { ...swaksRow, met: swaksRow.ratio >= 100 } : null }, null, 2)}\n`);
      return;
    }
    const r0 = (s: Spread) => `${s.median.toFixed(0)} (min ${s.min.toFixed(0)}, max ${s.max.toFixed(0)})`;
    process.stdout.write(`engine throughput against smtp-sink: msgs/s, medians of ${RUNS} alternating runs; CPU is user + system per message\n`);
    for (const r of rows) {
      process.stdout.write(`  ${r.name}\n`);
      process.stdout.write(`    smtpwb run (process)   ${r0(r.smtpwb)} msgs/s, CPU ${r.smtpwbCpu.toFixed(0)} µs/msg\n`);
      process.stdout.write(`    engine in process      ${r0(r.inProcess)} msgs/s, CPU ${r.inProcessCpu.toFixed(0)} µs/msg\n`);
      process.stdout.write(`    ${r.refName.padEnd(22)} ${r0(r.reference)} msgs/s, CPU ${r.referenceCpu.toFixed(0)} µs/msg\n`);
      process.stdout.write(`    ratio ${r.ratio.toFixed(2)}× ${r.goal > 0 ? `(goal ≥ ${r.goal.toFixed(1)}×): ${r.met ? 'met' : 'NOT met'}` : '(informational)'}; in process ${r.inProcessRatio.toFixed(2)}×\n`);
    }
    if (swaksRow) {
      process.stdout.write(`  ${swaksRow.name}\n    smtpwb run ${swaksRow.smtpwb.toFixed(0)} msgs/s, swaks ${swaksRow.swaks.toFixed(1)} msgs/s: ratio ${swaksRow.ratio.toFixed(0)}× (goal ≥ 100×): ${swaksRow.ratio >= 100 ? 'met' : 'NOT met'}\n`);
    } else process.stdout.write('  swaks not installed: its comparison was skipped\n');
  } finally {
    await sink.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`engine-throughput: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
