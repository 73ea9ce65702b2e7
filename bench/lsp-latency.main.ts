/**
 * bench/lsp-latency: a real LSP client process talks to the built server over stdio, opens a
 * generated 5,000-line script and sends 200 single-character edits, timing each didChange →
 * publishDiagnostics round trip. Prints p50 and p95 and the ratio of p95 to one 60 Hz frame.
 * Goal: p95 ≤ 16 ms. Run after `npm run build`: node dist-test/bench/lsp-latency.main.js
 */
import { startLspClient } from '../test/support/lspClient';
import { generateScript } from './scriptGenerator';

const FRAME_MS = 1000 / 60;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  const edits = Number(process.argv.find((a) => a.startsWith('--edits='))?.slice(8) ?? 200);
  const text = generateScript(5000);
  const lineCount = text.split('\n').length - 1;
  const client = await startLspClient();
  const uri = 'file:///tmp/bench-latency.smtp';
  const openedAt = performance.now();
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'smtp', version: 1, text } });
  const first = await client.nextDiagnostics(uri, 1);
  const openMs = first.receivedAt - openedAt;

  const samples: number[] = [];
  for (let i = 0; i < edits; i++) {
    const version = i + 2;
    // Type one character into a different session each time: the EHLO argument of session N.
    const session = (i * 7) % Math.floor(lineCount / 20);
    const line = 3 + session * 20 + 3;
    const sentAt = performance.now();
    await client.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version },
      contentChanges: [{ range: { start: { line, character: 5 }, end: { line, character: 5 } }, text: 'x' }],
    });
    const published = await client.nextDiagnostics(uri, version);
    samples.push(published.receivedAt - sentAt);
  }
  await client.stop();
  samples.sort((a, b) => a - b);
  const p50 = percentile(samples, 50);
  const p95 = percentile(samples, 95);
  console.log(`lsp-latency: ${lineCount}-line script, ${edits} single-character edits over stdio`);
  console.log(`  open → first diagnostics: ${openMs.toFixed(1)} ms (${first.diagnostics.length} diagnostics)`);
  console.log(`  didChange → publishDiagnostics: p50 ${p50.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms, max ${samples[samples.length - 1].toFixed(2)} ms`);
  console.log(`  p95 / 60 Hz frame (${FRAME_MS.toFixed(1)} ms) = ${(p95 / FRAME_MS).toFixed(2)} (goal: p95 ≤ 16 ms, ${p95 <= 16 ? 'met' : 'NOT met'})`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
