// Throughput of the local capture server against Postfix's smtp-sink, both driven by Postfix's
// smtp-source (a C load generator that waits for every reply), and the latency of the HTTP API's
// `wait` (issue 16):
//   1. one connection:  `smtp-source -m 2000 -l 1024 -d`        capture server vs smtp-sink  goal ≥ 0.7×
//   2. ten connections: `smtp-source -s 10 -m 2000 -l 1024 -d`  capture server vs smtp-sink  goal ≥ 0.7×
//   3. `GET /api/v1/wait` answered within 10 ms of the message being stored (median and max over
//      200 messages; "stored" is the moment the server's onMessage fires).
// For information, in the same runs and against the same smtp-sink figures, two servers that store
// nothing (referenceSmtpServers.ts): smtp-server alone as the capture server runs it (the ceiling
// of the library the capture server is built on), and a bare responder on node:net (what Node
// itself costs per message).
// "Stored" means what the server acknowledges: the message appended to the store's journal, where
// list, read and wait find it and from which a restart after a crash writes it out. Its .eml and
// sidecar files are written once the server is quiet; the figures include none of that work (the
// runs clear the store before it starts), and say so. The capture server runs in this process as
// `smtpwb serve --no-verify` runs it (STARTTLS and AUTH offered); smtp-sink discards what it
// receives. Each run measures smtp-sink and the capture server back to back, so a ratio compares
// figures taken under the same load; the ratios' min/median/max over the runs are printed, with
// messages per second and CPU microseconds per message for both servers (CPU is the steadier figure
// on a busy machine: smtp-sink's from /proc/PID/schedstat, the capture server's from process.cpuUsage()).
// Usage (the checkout is found from this file's location):
//   node OUT/bench/capture-throughput.main.js [--messages N] [--runs N] [--waits N] [--json]
import { numberOption } from './benchArgs';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { postfixEnv, smtpSourcePath, startSmtpSink } from '../test/peers/postfixTools';
import { startCaptureServer, type CaptureServer } from '../client/src/localServer/captureServer';
import { startCaptureApi } from '../client/src/localServer/captureApi';
import { startLibraryOnly, startMinimalResponder, type ReferenceServer } from './referenceSmtpServers';
import { spread, timedProcess, type Spread } from './processTiming';
import { readdirSync, readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: number): number => numberOption(name, fallback, argv);
const MESSAGES = opt('--messages', 2000);
const RUNS = Math.max(1, opt('--runs', 5));
const WAITS = opt('--waits', 200);
const GOAL = 0.7;
const WAIT_GOAL_MS = 10;

interface Figure {
  rate: number;
  cpuUsPerMessage: number;
  /** For the capture server: the rate at which smtp-source got its replies. */
  acceptedRate?: number;
}

/** smtp-sink's process id, found by the address it listens on (the peer helper does not expose it). */
function sinkPid(address: string): number {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const args = readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0');
      if (args[0].endsWith('smtp-sink') && args.includes(address)) return Number(name);
    } catch {
      // Gone meanwhile.
    }
  }
  throw new Error(`no smtp-sink process listens on ${address}`);
}

/** A process's CPU time so far in milliseconds, from /proc/PID/schedstat (nanoseconds; /proc/PID/stat counts 10 ms ticks, too coarse here). */
function processCpuMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'latin1').split(' ')[0]) / 1e6;
}

/** smtp-source against an address; the figure is messages per wall second, and the server's CPU per message when its pid is known. */
async function drive(address: string, sessions: number, serverPid?: number): Promise<Figure> {
  const args = ['-m', String(MESSAGES), '-l', '1024', '-d', '-f', 'bench@example.test', '-t', 'sink@example.test', ...(sessions > 1 ? ['-s', String(sessions)] : []), address];
  const cpuBefore = serverPid === undefined ? 0 : processCpuMs(serverPid);
  const sample = await timedProcess(smtpSourcePath(), args, postfixEnv());
  const cpuMs = serverPid === undefined ? Number.NaN : processCpuMs(serverPid) - cpuBefore;
  return { rate: (MESSAGES * 1000) / sample.wallMs, cpuUsPerMessage: (cpuMs * 1000) / MESSAGES };
}

/**
 * The capture server's run, timed until the last message is stored (journaled, its event fired; its
 * files are written later), not only until smtp-source has its replies; the CPU figure is this
 * process's (the server's) per message. `acceptedRate` is the rate smtp-source saw.
 */
async function driveCapture(capture: CaptureServer, sessions: number): Promise<Figure> {
  let count = 0;
  let allStored: () => void = () => undefined;
  const stored = new Promise<void>((done) => (allStored = done));
  const subscription = capture.onMessage(() => {
    if (++count === MESSAGES) allStored();
  });
  const figure = await driveInProcess(capture.address, sessions, stored);
  subscription.dispose();
  const cleared = await capture.clear();
  if (cleared !== MESSAGES) throw new Error(`the capture server stored ${cleared} of ${MESSAGES} messages`);
  return figure;
}

/** A reference server's run (it stores nothing), timed until it has read the last message. */
function driveReference(server: ReferenceServer, sessions: number): Promise<Figure> {
  return driveInProcess(server.address, sessions, server.messages(MESSAGES));
}

/**
 * smtp-source against a server in this process, timed until `done` (the server's own "all
 * messages in"), not only until smtp-source has its replies; the CPU figure is this process's.
 */
async function driveInProcess(address: string, sessions: number, done: Promise<void>): Promise<Figure> {
  const before = process.cpuUsage();
  const started = performance.now();
  const figure = await drive(address, sessions);
  await done;
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(before);
  return { rate: (MESSAGES * 1000) / wallMs, acceptedRate: figure.rate, cpuUsPerMessage: (used.user + used.system) / MESSAGES };
}

/** One GET, resolving with the status when the whole body has arrived. */
function get(url: string): Promise<number> {
  return new Promise((resolveGet, rejectGet) => {
    const req = request(url, (res) => {
      res.resume();
      res.on('end', () => resolveGet(res.statusCode ?? 0));
    });
    req.on('error', rejectGet);
    req.end();
  });
}

/** Sends one message over a fresh connection, pipelined (RFC 2920), and resolves after QUIT's reply. */
function sendOne(port: number, rcpt: string): Promise<void> {
  return new Promise((resolveSend, rejectSend) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let sent = false;
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!sent && /^220 /m.test(text)) {
        sent = true;
        socket.write(`EHLO bench.example.test\r\nMAIL FROM:<bench@example.test>\r\nRCPT TO:<${rcpt}>\r\nDATA\r\n`);
      }
      if (sent && /^354 /m.test(text) && !text.includes('\u0000sent')) {
        text += '\u0000sent';
        socket.write(`From: bench@example.test\r\nTo: ${rcpt}\r\nSubject: wait latency\r\n\r\nhello\r\n.\r\nQUIT\r\n`);
      }
      if (/^221 /m.test(text)) socket.end();
    });
    socket.on('close', () => (/^221 /m.test(text) ? resolveSend() : rejectSend(new Error(`unexpected session: ${text}`))));
    socket.on('error', rejectSend);
  });
}

/** Latency from "stored" (onMessage) to the end of the wait's response, in milliseconds. */
async function waitLatencies(capture: CaptureServer, apiUrl: string): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < WAITS; i++) {
    const rcpt = `wait-${i}@example.test`;
    let storedAt = 0;
    const subscription = capture.onMessage((m) => {
      if (m.envelope?.rcptTo.includes(rcpt)) storedAt = performance.now();
    });
    const waiting = get(`${apiUrl}/api/v1/wait?to=${encodeURIComponent(rcpt)}&timeout=10000`);
    // Let the request reach the server and subscribe before the message comes.
    await new Promise((done) => setTimeout(done, 5));
    await sendOne(capture.port, rcpt);
    const status = await waiting;
    const answeredAt = performance.now();
    subscription.dispose();
    if (status !== 200 || storedAt === 0) throw new Error(`wait ${i} answered ${status}`);
    latencies.push(answeredAt - storedAt);
  }
  await capture.clear();
  return latencies;
}

async function main(): Promise<void> {
  const sink = await startSmtpSink();
  const dir = mkdtempSync(join(tmpdir(), 'smtpwb-bench-capture-'));
  const capture = await startCaptureServer({ dir, port: 0, maxClients: 100 });
  const api = await startCaptureApi(capture, { port: 0 });
  const library = await startLibraryOnly();
  const responder = await startMinimalResponder();
  try {
    const pid = sinkPid(sink.address);
    const measures: Record<string, () => Promise<Figure>> = {
      sink1: () => drive(sink.address, 1, pid),
      capture1: () => driveCapture(capture, 1),
      sink10: () => drive(sink.address, 10, pid),
      capture10: () => driveCapture(capture, 10),
      library1: () => driveReference(library, 1),
      library10: () => driveReference(library, 10),
      responder1: () => driveReference(responder, 1),
      responder10: () => driveReference(responder, 10),
    };
    // A warm-up of each, so the file cache and the JIT are warm for every measured run alike.
    for (const m of Object.values(measures)) await m();
    const samples: Record<string, Figure[]> = Object.fromEntries(Object.keys(measures).map((k) => [k, []]));
    for (let i = 0; i < RUNS; i++) for (const [name, m] of Object.entries(measures)) samples[name].push(await m());
    const reference = (name: string, sink: Figure[]) => ({
      rate: spread(samples[name].map((f) => f.rate)),
      cpu: spread(samples[name].map((f) => f.cpuUsPerMessage)),
      ratio: spread(samples[name].map((f, i) => f.rate / sink[i].rate)),
    });
    const row = (name: string, sessions: 1 | 10) => {
      const sink = samples[`sink${sessions}`];
      const cap = samples[`capture${sessions}`];
      const ratios = cap.map((c, i) => c.rate / sink[i].rate);
      const ratio = spread(ratios);
      return {
        name,
        capture: spread(cap.map((f) => f.rate)),
        captureAccepted: spread(cap.map((f) => f.acceptedRate ?? f.rate)),
        captureCpu: spread(cap.map((f) => f.cpuUsPerMessage)),
        sink: spread(sink.map((f) => f.rate)),
        sinkCpu: spread(sink.map((f) => f.cpuUsPerMessage)),
        ratio,
        /** CPU per message of smtp-sink over the capture server's, run by run: the ratio the machine's load disturbs least. */
        cpuRatio: spread(cap.map((c, i) => sink[i].cpuUsPerMessage / c.cpuUsPerMessage)),
        goal: GOAL,
        met: ratio.median >= GOAL,
        /** For information: the servers that store nothing, against the same smtp-sink figures. */
        references: {
          library: reference(`library${sessions}`, sink),
          responder: reference(`responder${sessions}`, sink),
        },
      };
    };
    const rows = [row(`one connection, ${MESSAGES} × 1 KB`, 1), row(`ten connections, ${MESSAGES} × 1 KB`, 10)];
    const latencies = await waitLatencies(capture, api.url);
    const wait = { ...spread(latencies), count: latencies.length, goalMs: WAIT_GOAL_MS, met: Math.max(...latencies) <= WAIT_GOAL_MS };
    if (argv.includes('--json')) {
      process.stdout.write(`${JSON.stringify({ bench: 'capture-throughput', runs: RUNS, messages: MESSAGES, rows, wait }, null, 2)}\n`);
      return;
    }
    const r0 = (x: Spread, digits = 0): string => `${x.median.toFixed(digits)} (min ${x.min.toFixed(digits)}, max ${x.max.toFixed(digits)})`;
    process.stdout.write(`capture server against smtp-sink, both driven by smtp-source; median (min, max) of ${RUNS} runs, each run measuring both servers back to back\n`);
    for (const r of rows) {
      process.stdout.write(`  ${r.name}\n`);
      process.stdout.write(`    capture server (stored)  ${r0(r.capture)} msgs/s, CPU ${r0(r.captureCpu)} µs/msg (replies came at ${r0(r.captureAccepted)} msgs/s)\n`);
      process.stdout.write(`    smtp-sink (discarded)    ${r0(r.sink)} msgs/s, CPU ${r0(r.sinkCpu)} µs/msg\n`);
      process.stdout.write(`    ratio of msgs/s, run by run ${r0(r.ratio, 2)}× (goal ≥ ${GOAL}×): ${r.met ? 'met' : 'NOT met'}; ratio of CPU per message (sink / capture) ${r0(r.cpuRatio, 2)}×\n`);
      const { library: lib, responder: bare } = r.references;
      process.stdout.write(`    for information, storing nothing: smtp-server alone ${r0(lib.rate)} msgs/s, CPU ${r0(lib.cpu)} µs/msg, ${r0(lib.ratio, 2)}× smtp-sink;\n`);
      process.stdout.write(`      a bare node:net responder ${r0(bare.rate)} msgs/s, CPU ${r0(bare.cpu)} µs/msg, ${r0(bare.ratio, 2)}× smtp-sink\n`);
    }
    process.stdout.write(
      `  wait latency over ${wait.count} messages: median ${wait.median.toFixed(2)} ms, max ${wait.max.toFixed(2)} ms (goal ≤ ${WAIT_GOAL_MS} ms): ${wait.met ? 'met' : 'NOT met'}\n`,
    );
  } finally {
    await api.stop();
    await library.stop();
    await responder.stop();
    await capture.stop();
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`capture-throughput: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
