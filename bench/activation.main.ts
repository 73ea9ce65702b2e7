/**
 * bench/activation: the time from loading the client bundle to the end of `activate` (the language
 * server's start excluded), measured inside a real VS Code 1.100 extension host (code-server), and
 * the reference measured in the same run: a bare `require` of the same bundle in the same
 * extension host (through the test harness extension), which evaluates it without activating.
 * Also the size of the .vsix. Goals: ≤ 50 ms and ≤ 3 MB.
 * Run after `npm run package`: node dist-test/bench/activation.main.js [--runs 3]
 */
import { numberOption } from './benchArgs';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCodeServer } from '../test/editor/codeServer';
import { repoRoot } from '../test/peers/require';
import { poll, Workbench } from '../test/editor/workbench';

interface Trace {
  evaluateMs: number;
  hostGapMs: number;
  activateMs: number;
  serverStartMs: number;
  phases: Record<string, number>;
  totalMs: number;
}

const runs = numberOption('--runs', 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function activationInEditor(): Promise<{ trace: Trace; bareRequireMs: number }> {
  const traceDir = mkdtempSync(join(tmpdir(), 'smtpwb-activation-'));
  const traceFile = join(traceDir, 'trace.jsonl');
  const server = await startCodeServer({ folder: 'basic', env: { SMTPWB_ACTIVATION_TRACE: traceFile } });
  let workbench: Workbench | undefined;
  try {
    workbench = await Workbench.open(server, { name: 'activation' });
    await workbench.openFileFromExplorer('hello.smtp');
    const line = await poll(async () => (existsSync(traceFile) ? readFileSync(traceFile, 'utf8').trim().split('\n')[0] || undefined : undefined), 60_000, 'no activation trace within 60 s');
    // The reference, in the same extension host: a bare require of the same bundle.
    const harness = await workbench.harness();
    const extension = await harness.request<{ path: string }>({ op: 'extension', id: 'smtp-workbench.smtp-workbench' });
    const bare = await harness.request<{ ms: number }>({ op: 'requireTimed', path: join(extension.path, 'dist', 'client.js') });
    return { trace: JSON.parse(line) as Trace, bareRequireMs: bare.ms };
  } finally {
    await workbench?.close();
    await server.stop();
    rmSync(traceDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  // The checkout is found from this file's location, never from the working directory.
  const bundle = join(process.env.SMTPWB_DIST ?? join(repoRoot(), 'dist'), 'client.js');
  const traces: Trace[] = [];
  const requires: number[] = [];
  for (let r = 0; r < runs; r++) {
    const run = await activationInEditor();
    traces.push(run.trace);
    requires.push(run.bareRequireMs);
  }
  const total = median(traces.map((t) => t.totalMs));
  const ours = median(traces.map((t) => t.evaluateMs + t.activateMs));
  const bare = median(requires);
  console.log(`activation: ${runs} runs in code-server 4.100.3 (VS Code 1.100), bundle ${(statSync(bundle).size / 1024 / 1024).toFixed(2)} MB`);
  console.log(`  bundle load → end of activate, language server excluded: median ${total.toFixed(1)} ms (runs: ${traces.map((t) => t.totalMs.toFixed(1)).join(', ')}) — goal ≤ 50 ms: ${total <= 50 ? 'met' : 'NOT met'}`);
  console.log(`    bundle evaluation ${median(traces.map((t) => t.evaluateMs)).toFixed(1)} ms + activate ${median(traces.map((t) => t.activateMs)).toFixed(1)} ms = ${ours.toFixed(1)} ms of the extension's own work; the extension host's gap between loading and calling activate ${median(traces.map((t) => t.hostGapMs)).toFixed(1)} ms; the language server's start (excluded) ${median(traces.map((t) => t.serverStartMs)).toFixed(0)} ms`);
  console.log(`    activate phases (last run): ${Object.entries(traces[traces.length - 1].phases).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
  console.log(`  reference, a bare require of the same bundle in the same extension host: median ${bare.toFixed(1)} ms; ratio ${(total / bare).toFixed(2)}×`);
  const vsix = join(repoRoot(), 'smtp-workbench.vsix');
  if (existsSync(vsix)) {
    const size = statSync(vsix).size;
    console.log(`  .vsix: ${(size / 1024 / 1024).toFixed(2)} MB — goal ≤ 3 MB: ${size <= 3 * 1024 * 1024 ? 'met' : 'NOT met'}`);
  } else {
    console.log('  .vsix: not built (npm run package)');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
