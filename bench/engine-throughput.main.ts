// Throughput of the session engine against Postfix's smtp-sink, each figure next to its reference
// measured in the same run:
//   1. 2,000 × 1 KB messages over one connection  vs `smtp-source -d` (one connection)   goal ≥ 0.9×
//   2. 10 parallel sessions                        vs `smtp-source -s 10 -d`               goal ≥ 0.7×
//   3. the engine over one connection              vs swaks, one process per message      goal ≥ 100×
// The engine pipelines (RFC 2920) as smtp-sink offers PIPELINING, and sends each body in the same
// write as the next transaction's MAIL/RCPT/DATA; smtp-source waits for every reply. The engine's
// lock-step figure (no pipelining) is printed too, for information.
// Usage (from the repository root, so the peers are found):
//   NODE_PATH=node_modules node OUT/bench/engine-throughput.main.js [--messages N] [--runs N] [--swaks-messages N] [--json]
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { startSmtpSink, runSmtpSource } from '../test/peers/postfixTools';
import { findBinary } from '../test/peers/require';
import { runSession } from '../client/src/engine/session';
import { runParallel } from '../client/src/engine/parallel';
import type { SessionPlan } from '../common/sessionPlan';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? Number(argv[i + 1]) : fallback;
};
const MESSAGES = opt('--messages', 2000);
const RUNS = opt('--runs', 3);
const SWAKS_MESSAGES = opt('--swaks-messages', 20);
const PARALLEL = 10;

/** A 1 KB message: a few headers and 76-character lines up to 1,024 octets with CRLF. */
function messageLines(): string[] {
  const lines = ['From: bench@example.test', 'To: sink@example.test', 'Subject: engine throughput', ''];
  let size = lines.reduce((n, l) => n + l.length + 2, 0);
  while (size < 1024) {
    const room = Math.min(76, 1024 - size - 2);
    const line = 'x'.repeat(Math.max(1, room));
    lines.push(line);
    size += line.length + 2;
  }
  return lines;
}

function plan(port: number, pipelining = true): SessionPlan {
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
      { kind: 'data', line: 4, source: 'DATA', body: { kind: 'inline', lines: messageLines(), firstLine: 5 }, intermediate: exp(3), expect: exp(2) },
      command('QUIT', 9),
    ],
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function engineOne(port: number, pipelining = true): Promise<number> {
  const started = performance.now();
  const r = await runSession(plan(port, pipelining), { repeat: MESSAGES, keepTranscript: false });
  const ms = performance.now() - started;
  if (!r.ok || r.repeat?.delivered !== MESSAGES) throw new Error(`engine run failed: ${r.failure?.kind}: ${r.failure?.message}`);
  return (MESSAGES * 1000) / ms;
}

async function engineParallel(port: number): Promise<number> {
  const per = Math.ceil(MESSAGES / PARALLEL);
  const started = performance.now();
  const r = await runParallel(plan(port), { repeat: per, keepTranscript: false }, PARALLEL);
  const ms = performance.now() - started;
  if (!r.ok) throw new Error(`parallel engine run failed: ${r.results.find((x) => !x.ok)?.failure?.message}`);
  return (per * PARALLEL * 1000) / ms;
}

async function source(address: string, sessions: number): Promise<number> {
  const args = ['-m', String(MESSAGES), '-l', '1024', '-d', '-f', 'bench@example.test', '-t', 'sink@example.test', ...(sessions > 1 ? ['-s', String(sessions)] : []), address];
  const r = await runSmtpSource(args);
  if (r.code !== 0) throw new Error(`smtp-source failed (${r.code}): ${r.stderr}`);
  return (MESSAGES * 1000) / r.ms;
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

async function main(): Promise<void> {
  const sink = await startSmtpSink();
  try {
    // A warm-up, so the first measured run does not pay for JIT compilation.
    await runSession(plan(sink.port), { repeat: 200, keepTranscript: false });
    const one: number[] = [];
    const oneRef: number[] = [];
    const par: number[] = [];
    const lockstep: number[] = [];
    const parRef: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      oneRef.push(await source(sink.address, 1));
      one.push(await engineOne(sink.port));
      lockstep.push(await engineOne(sink.port, false));
      parRef.push(await source(sink.address, PARALLEL));
      par.push(await engineParallel(sink.port));
    }
    const swaks = await swaksRate(sink.port);
    const rows = [
      { name: `${MESSAGES} × 1 KB, one connection`, engine: median(one), reference: median(oneRef), refName: 'smtp-source -d', goal: 0.9 },
      { name: `${MESSAGES} × 1 KB, one connection, no pipelining`, engine: median(lockstep), reference: median(oneRef), refName: 'smtp-source -d', goal: 0 },
      { name: `${PARALLEL} parallel sessions`, engine: median(par), reference: median(parRef), refName: `smtp-source -s ${PARALLEL} -d`, goal: 0.7 },
      ...(swaks ? [{ name: 'one connection vs one process per message', engine: median(one), reference: swaks, refName: 'swaks', goal: 100 }] : []),
    ];
    const out = rows.map((r) => ({ ...r, ratio: r.engine / r.reference, met: r.engine / r.reference >= r.goal }));
    if (argv.includes('--json')) {
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    } else {
      process.stdout.write(`engine throughput against smtp-sink (median of ${RUNS} runs; msgs/s)\n`);
      for (const r of out) {
        process.stdout.write(
          `  ${r.name.padEnd(44)} engine ${r.engine.toFixed(0).padStart(7)}   ${r.refName.padEnd(22)} ${r.reference.toFixed(0).padStart(7)}   ratio ${r.ratio.toFixed(2).padStart(7)}× ${r.goal > 0 ? `(goal ≥ ${r.goal}×) ${r.met ? 'met' : 'NOT met'}` : '(informational)'}\n`,
        );
      }
      if (!swaks) process.stdout.write('  swaks not installed: its comparison was skipped\n');
    }
  } finally {
    await sink.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`engine-throughput: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
