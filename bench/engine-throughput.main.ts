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
// The smtpwb side runs under every installed Node (the running one and the checkout's
// .node-versions/<major>, see scripts/install-node-versions.sh); the goals are judged on Node 22
// and later, and Node 20 (past its end of life) is shown for information, also without
// NODE_EXTRA_CA_CERTS when that is set (Node before 22 reads the file at every start). Beside each
// process figure: the engine's figure in process under the same Node, with a warm JIT (runSession
// with the same plan, transcript kept, the secret masked, default timeouts; this file run again
// with --in-process, which runs once untimed first), and the CPU per message of every program (user + system, start-up included for
// processes). Rates are medians with the run's minimum and maximum. smtp-source never pipelines
// (its man page: "No SMTP command pipelining support"); it waits for every reply, as lock-step does.
// Usage (the checkout is found from this file's location; SMTPWB_DIST names the CLI's folder):
//   node OUT/bench/engine-throughput.main.js [--messages N] [--runs N] [--swaks-messages N] [--json]
import { numberOption } from './benchArgs';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { postfixEnv, smtpSourcePath, startSmtpSink } from '../test/peers/postfixTools';
import { findBinary, repoRoot } from '../test/peers/require';
import { runSession } from '../client/src/engine/session';
import { runParallel } from '../client/src/engine/parallel';
import type { SessionPlan } from '../common/sessionPlan';
import { FIRST_JUDGED_MAJOR, benchNodes, benchVariants, notJudgedNote, spread, spreadText, timedProcess, withoutExtraCaCerts, type Spread } from './processTiming';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: number): number => numberOption(name, fallback, argv);
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

/** The in-process measurements, by name: lock-step, pipelined, and 10 copies of either. */
const IN_PROCESS: Record<string, { pipelining: boolean; copies: number }> = {
  lock: { pipelining: false, copies: 1 },
  pipe: { pipelining: true, copies: 1 },
  par: { pipelining: true, copies: PARALLEL },
  parLock: { pipelining: false, copies: PARALLEL },
};

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

/** The engine in process under the Node at `node`: this file, run again with --in-process. */
function inProcessUnder(node: string, port: number, kind: string): Figure {
  const out = execFileSync(node, [__filename, '--in-process', kind, '--port', String(port), '--messages', String(MESSAGES)], { encoding: 'utf8', env: withoutExtraCaCerts(process.env) });
  return JSON.parse(out) as Figure;
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

/** One Node's figures for one scenario, beside the scenario's reference. */
interface Row {
  scenario: string;
  node: string;
  judged: boolean;
  withoutExtraCa: boolean;
  smtpwb: Spread;
  smtpwbCpu: number;
  inProcess?: Spread;
  inProcessCpu?: number;
  refName: string;
  reference: Spread;
  referenceCpu: number;
  goal: number;
  /** The process's rate over the reference's: the figure the goal is for. */
  ratio: number;
  /** The engine's rate in process over the reference's, for information. */
  inProcessRatio?: number;
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
    const nodes = benchNodes(repoRoot());
    const variants = benchVariants(nodes);
    const scenarios = [
      { key: 'lock', name: `lock-step, ${MESSAGES} × 1 KB, one connection`, file: lockScript, parallel: false, ref: 'source1', refName: 'smtp-source -d', goal: 1.0 },
      { key: 'pipe', name: `pipelined, ${MESSAGES} × 1 KB, one connection`, file: pipeScript, parallel: false, ref: 'source1', refName: 'smtp-source -d', goal: 2.5 },
      { key: 'par', name: `${PARALLEL} parallel sessions, pipelined`, file: pipeScript, parallel: true, ref: 'sourceN', refName: `smtp-source -s ${PARALLEL} -d`, goal: 2.0 },
      { key: 'parLock', name: `${PARALLEL} parallel sessions, lock-step`, file: lockScript, parallel: true, ref: 'sourceN', refName: `smtp-source -s ${PARALLEL} -d`, goal: 0 },
    ];
    const measures: Record<string, () => Promise<Figure>> = {
      source1: () => process_(source, sourceArgs(1), MESSAGES, postfixEnv()),
      sourceN: () => process_(source, sourceArgs(PARALLEL), MESSAGES, postfixEnv()),
    };
    for (const v of variants) {
      for (const sc of scenarios) {
        // Without NODE_EXTRA_CA_CERTS only the start-up changes: the goal scenarios are enough.
        if (v.withoutExtraCa && sc.goal === 0) continue;
        const env = v.withoutExtraCa ? withoutExtraCaCerts(cliEnv) : cliEnv;
        const messages = sc.parallel ? PER_COPY * PARALLEL : MESSAGES;
        measures[`${v.key}.cli.${sc.key}`] = () => process_(v.node.path, cli(sc.file, sc.parallel), messages, env);
        if (!v.withoutExtraCa) measures[`${v.key}.in.${sc.key}`] = async () => inProcessUnder(v.node.path, sink.port, sc.key);
      }
    }
    // A warm-up of each, so the file cache, each Node's code cache of the CLI and the JIT are warm for every measured run alike.
    for (const m of Object.values(measures)) await m();
    const samples: Record<string, Figure[]> = Object.fromEntries(Object.keys(measures).map((k) => [k, []]));
    for (let i = 0; i < RUNS; i++) for (const [name, m] of Object.entries(measures)) samples[name].push(await m());
    const rate = (name: string) => spread(samples[name].map((f) => f.rate));
    const cpu = (name: string) => spread(samples[name].map((f) => f.cpuUsPerMessage)).median;
    const rows: Row[] = [];
    for (const sc of scenarios) {
      for (const v of variants) {
        const figure = `${v.key}.cli.${sc.key}`;
        if (!samples[figure]) continue;
        const inproc = `${v.key}.in.${sc.key}`;
        const ratio = rate(figure).median / rate(sc.ref).median;
        const judged = v.node.judged && !v.withoutExtraCa && sc.goal > 0;
        rows.push({
          scenario: sc.name,
          node: v.node.version,
          judged,
          withoutExtraCa: v.withoutExtraCa,
          smtpwb: rate(figure),
          smtpwbCpu: cpu(figure),
          ...(samples[inproc] ? { inProcess: rate(inproc), inProcessCpu: cpu(inproc), inProcessRatio: rate(inproc).median / rate(sc.ref).median } : {}),
          refName: sc.refName,
          reference: rate(sc.ref),
          referenceCpu: cpu(sc.ref),
          goal: sc.goal,
          ratio,
          met: judged ? ratio >= sc.goal : true,
        });
      }
    }
    const swaks = await swaksRate(sink.port);
    const swaksRows = swaks
      ? variants.filter((v) => !v.withoutExtraCa).map((v) => {
          const smtpwb = rate(`${v.key}.cli.pipe`).median;
          return { node: v.node.version, judged: v.node.judged, smtpwb, swaks, ratio: smtpwb / swaks, goal: 100, met: smtpwb / swaks >= 100 };
        })
      : [];
    if (argv.includes('--json')) {
      process.stdout.write(`${JSON.stringify({ bench: 'engine-throughput', runs: RUNS, messages: MESSAGES, nodes, rows, swaks: swaks ? swaksRows : null }, null, 2)}\n`);
      return;
    }
    const r0 = (s: Spread) => spreadText(s);
    const judgedOn = nodes.filter((n) => n.judged).map((n) => n.version);
    process.stdout.write(`engine throughput against smtp-sink: msgs/s, medians of ${RUNS} alternating runs (min, max); CPU is user + system per message\n`);
    process.stdout.write(`  goals judged on ${judgedOn.length > 0 ? judgedOn.join(' and ') : `no installed Node ${FIRST_JUDGED_MAJOR} or later (run scripts/install-node-versions.sh)`}; other versions are informational\n`);
    process.stdout.write(`  references in this run: smtp-source -d ${r0(rate('source1'))} msgs/s, CPU ${cpu('source1').toFixed(0)} µs/msg; smtp-source -s ${PARALLEL} -d ${r0(rate('sourceN'))} msgs/s, CPU ${cpu('sourceN').toFixed(0)} µs/msg\n`);
    for (const sc of scenarios) {
      process.stdout.write(`  ${sc.name}: ${sc.goal > 0 ? `goal ≥ ${sc.goal.toFixed(1)}× ${sc.refName}` : `vs ${sc.refName} (informational)`}\n`);
      process.stdout.write(`    ${sc.refName.padEnd(34)} ${r0(rate(sc.ref))} msgs/s, CPU ${cpu(sc.ref).toFixed(0)} µs/msg\n`);
      for (const r of rows.filter((x) => x.scenario === sc.name)) {
        const who = `Node ${r.node}${r.withoutExtraCa ? ' without NODE_EXTRA_CA_CERTS' : ''}`;
        process.stdout.write(`    ${`${who}, smtpwb run`.padEnd(34)} ${r0(r.smtpwb)} msgs/s, CPU ${r.smtpwbCpu.toFixed(0)} µs/msg\n`);
        if (r.inProcess) process.stdout.write(`    ${`${who}, engine in process (warm)`.padEnd(34)} ${r0(r.inProcess)} msgs/s, CPU ${r.inProcessCpu!.toFixed(0)} µs/msg\n`);
        const node = nodes.find((n) => n.version === r.node)!;
        const note = r.judged ? `: ${r.met ? 'met' : 'NOT met'}` : sc.goal === 0 || r.withoutExtraCa ? ' (informational)' : ` (${notJudgedNote(node)})`;
        process.stdout.write(`      ${who}: ratio ${r.ratio.toFixed(2)}×${r.inProcessRatio !== undefined ? ` (in process ${r.inProcessRatio.toFixed(2)}×)` : ''}${note}\n`);
      }
      if (sc.goal > 0 && !rows.some((x) => x.scenario === sc.name && x.judged)) process.stdout.write(`      no Node ${FIRST_JUDGED_MAJOR} or later installed: NOT met (nothing to judge on)\n`);
    }
    if (swaks) {
      process.stdout.write(`  one connection (pipelined) vs one swaks process per message (${swaks.toFixed(1)} msgs/s): goal ≥ 100×\n`);
      for (const r of swaksRows) {
        const node = nodes.find((n) => n.version === r.node)!;
        process.stdout.write(`      Node ${r.node}: smtpwb run ${r.smtpwb.toFixed(0)} msgs/s, ratio ${r.ratio.toFixed(0)}×${r.judged ? `: ${r.met ? 'met' : 'NOT met'}` : ` (${notJudgedNote(node)})`}\n`);
      }
    } else process.stdout.write('  swaks not installed: its comparison was skipped\n');
  } finally {
    await sink.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** `--in-process KIND --port N`: one in-process measurement, as JSON on stdout (for another Node). */
async function inProcessMain(): Promise<void> {
  const kind = argv[argv.indexOf('--in-process') + 1];
  const spec = IN_PROCESS[kind];
  if (!spec) throw new Error(`--in-process needs one of ${Object.keys(IN_PROCESS).join(', ')}`);
  // One run first, untimed, so the figure is the engine's with a warm JIT, as a long-lived process
  // (the editor, the language server) runs it; the process figures carry the cold start.
  await inProcess(opt('--port', 0), spec.pipelining, spec.copies);
  const figure = await inProcess(opt('--port', 0), spec.pipelining, spec.copies);
  process.stdout.write(`${JSON.stringify(figure)}\n`);
}

(argv.includes('--in-process') ? inProcessMain() : main()).catch((e: unknown) => {
  process.stderr.write(`engine-throughput: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
