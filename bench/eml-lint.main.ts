/**
 * Benchmarks the `.eml` linter on a generated 10 MB message: time to parse and lint in-process and
 * the peak heap and RSS, next to a plain line scan of the same text (split into lines and count) as
 * the reference. Goal: ≤ 100 ms to diagnostics and peak RSS ≤ 5× the file size.
 *
 * The parent generates the message into a temporary file and measures in a fresh child process, so
 * the RSS figures are not inflated by the generator's garbage; the child reports the RSS of the bare
 * process before reading the file, and the peak (getrusage maxRSS) after linting.
 *
 * Usage: node OUT/bench/eml-lint.main.js [--mb 10] [--runs 5]
 */
import { numberOption } from './benchArgs';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emlFolding, emlSymbols } from '../server/src/eml/features';
import { lintMessage } from '../server/src/eml/lint';
import { generateLargeMessage } from './emlGenerator';

const arg = numberOption;

const MiB = 1024 * 1024;
const fmt = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function time<T>(fn: () => T): { ms: number; value: T } {
  const started = performance.now();
  const value = fn();
  return { ms: performance.now() - started, value };
}

function child(file: string, runs: number): void {
  const bareRss = process.memoryUsage().rss;
  const text = readFileSync(file, 'latin1');
  const fileBytes = text.length;
  const afterRead = process.resourceUsage().maxRSS * 1024;
  // The first run is what an editor waits for when it opens the file.
  const first = time(() => lintMessage(text));
  const peakFirst = process.resourceUsage().maxRSS * 1024;
  const heapAfterFirst = process.memoryUsage().heapUsed;
  const lintTimes = [first.ms];
  for (let r = 1; r < runs; r++) lintTimes.push(time(() => lintMessage(text)).ms);
  const symbols = time(() => emlSymbols(text));
  const folding = time(() => emlFolding(text));
  const scanTimes: number[] = [];
  let lines = 0;
  for (let r = 0; r < runs; r++) {
    const { ms, value } = time(() => text.split('\n').length);
    scanTimes.push(ms);
    lines = value;
  }
  const lintMs = median(lintTimes);
  const scanMs = median(scanTimes);
  const peakLintOnly = peakFirst;
  const lintGrowth = Math.max(0, peakLintOnly - bareRss);
  console.log(`message: ${fmt(fileBytes)}, ${lines} lines, ${first.value.length} problems (${[...new Set(first.value.map((p) => p.code))].join(', ') || 'none'})`);
  console.log(`parse+lint: first run ${first.ms.toFixed(1)} ms, median of ${runs} ${lintMs.toFixed(1)} ms`);
  console.log(`line scan (split + count): median ${scanMs.toFixed(1)} ms`);
  console.log(`ratio lint / line scan: ${(lintMs / scanMs).toFixed(2)}×`);
  console.log(`symbols ${symbols.ms.toFixed(1)} ms (cached parse), folding ${folding.ms.toFixed(1)} ms`);
  console.log(`heap used after the first lint: ${fmt(heapAfterFirst)}`);
  console.log(`RSS: bare process ${fmt(bareRss)}, after reading ${fmt(afterRead)}, peak through the first lint ${fmt(peakLintOnly)}`);
  console.log(`RSS above the bare process: ${fmt(lintGrowth)} = ${(lintGrowth / fileBytes).toFixed(2)}× file size (total peak ${(peakLintOnly / fileBytes).toFixed(2)}×)`);
  console.log(`goal ≤ 100 ms to diagnostics: ${first.ms <= 100 ? 'met' : 'NOT met'} (${first.ms.toFixed(1)} ms first run)`);
  console.log(`goal peak RSS ≤ 5× file size (above the bare process): ${lintGrowth <= 5 * fileBytes ? 'met' : 'NOT met'}`);
}

const childIndex = process.argv.indexOf('--child');
if (childIndex !== -1) {
  child(process.argv[childIndex + 1], arg('--runs', 5));
} else {
  const mb = arg('--mb', 10);
  const runs = arg('--runs', 5);
  // A folder of its own, removed afterwards: the bench leaves nothing in the temp folder.
  const dir = mkdtempSync(join(tmpdir(), 'eml-bench-'));
  try {
    const file = join(dir, `${mb}mb.eml`);
    const generated = time(() => generateLargeMessage({ targetBytes: mb * MiB }));
    writeFileSync(file, generated.value, 'latin1');
    console.log(`generated a ${mb} MiB message in ${generated.ms.toFixed(0)} ms`);
    const result = spawnSync(process.execPath, [__filename, '--child', file, '--runs', String(runs)], { stdio: 'inherit' });
    process.exitCode = result.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
