/**
 * bench/eml-lsp: a generated 10 MB message (many parts, base64 attachments) opened in the language
 * server over stdio, as an editor opens it: time from didOpen to publishDiagnostics, and the
 * server's peak RSS (VmHWM), with a plain line scan of the same text in the same run as the
 * reference. Goals (issue 13 §4): ≤ 100 ms from the client's hand-over to the pipe to diagnostics,
 * and a server peak ≤ 4× the file above the idle server. The server's CPU time for the open (from
 * /proc) is printed too, as a figure that does not depend on how busy the machine is.
 * Run after `npm run build`: node dist-test/bench/eml-lsp.main.js [--runs 5] [--json]
 */
import { numberOption } from './benchArgs';
import { processCpuMs as cpuMs, processMemory as procStatus } from './procStat';
import { startLspClient } from '../test/support/lspClient';
import { generateLargeMessage } from './emlGenerator';

const MiB = 1024 * 1024;
const runs = numberOption('--runs', 5);


const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spreadOf = (xs: number[], digits = 1) => `min ${Math.min(...xs).toFixed(digits)} / median ${median(xs).toFixed(digits)} / max ${Math.max(...xs).toFixed(digits)}`;


async function main(): Promise<void> {
  const text = generateLargeMessage();
  const bytes = Buffer.byteLength(text, 'utf8');
  const opens: number[] = [];
  const afterHandOver: number[] = [];
  const peaks: number[] = [];
  const baselines: number[] = [];
  const cpus: number[] = [];
  let diagnostics = 0;
  for (let r = 0; r < runs; r++) {
    // A fresh server each time, so the peak RSS belongs to this one open.
    const client = await startLspClient();
    const pid = client.process.pid!;
    baselines.push(procStatus(pid, 'VmRSS'));
    const cpuBefore = cpuMs(pid);
    const uri = `file:///tmp/bench-${r}.eml`;
    const sent = performance.now();
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'eml', version: 1, text } });
    // The client has serialised the 10 MB message and handed it to the pipe: what follows is the
    // transfer, the server's parse of the JSON-RPC message, the lint, and the reply.
    const handedOver = performance.now();
    const published = await client.nextDiagnostics(uri, 1);
    opens.push(published.receivedAt - sent);
    afterHandOver.push(published.receivedAt - handedOver);
    peaks.push(procStatus(pid, 'VmHWM'));
    cpus.push(cpuMs(pid) - cpuBefore);
    diagnostics = published.diagnostics.length;
    await client.stop();
  }
  const scans: number[] = [];
  for (let r = 0; r < runs; r++) {
    const started = performance.now();
    let lines = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
    scans.push(performance.now() - started);
    if (lines === 0) throw new Error('no lines');
  }
  const open = median(opens);
  const scan = median(scans);
  const server = median(afterHandOver);
  const aboveIdle = peaks.map((p, i) => (p - baselines[i]) / bytes);
  const above = median(aboveIdle);
  const goals = [
    { name: 'hand-over → diagnostics ≤ 100 ms', met: server <= 100 },
    { name: 'server peak ≤ 4× the file above the idle server', met: above <= 4 },
  ];
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ bench: 'eml-lsp', bytes, runs, diagnostics, endToEnd: opens, afterHandOver, serverCpu: cpus, peakAboveIdle: aboveIdle, lineScan: scans, goals }));
    return;
  }
  console.log(`eml-lsp: ${(bytes / MiB).toFixed(1)} MiB message over stdio, ${runs} fresh servers, ${diagnostics} diagnostics`);
  console.log(`  from the client's hand-over to the pipe to diagnostics (transfer, the server's JSON-RPC parse, the lint, the reply): ${spreadOf(afterHandOver)} ms`);
  console.log(`    end to end, with the client's own JSON serialisation: ${spreadOf(opens)} ms`);
  console.log(`    the server's CPU time for the open: ${spreadOf(cpus, 0)} ms`);
  console.log(`    reference, a plain line scan of the same text in this process: ${spreadOf(scans)} ms; median ratio ${(server / scan).toFixed(1)}×`);
  console.log(`  server peak RSS above the idle server (${(median(baselines) / MiB).toFixed(1)} MiB): ${spreadOf(aboveIdle)} × the file (${((median(peaks) - median(baselines)) / MiB).toFixed(1)} MiB median)`);
  for (const g of goals) console.log(`  ${g.name}: ${g.met ? 'met' : 'NOT met'}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
