/**
 * Fuzzes the `.eml` language service: N seeded mutations of realistic messages (byte flips, NUL/CR/LF
 * insertions, truncation, duplicated boundaries, huge lines, deep nesting, replacement characters,
 * long quoted strings and encoded words)
 * go through parseMessage, lintMessage, emlSymbols, emlFolding and emlHover. Throws and inputs over
 * the time cap fail; a watchdog thread catches real hangs. The last line is `N passed, M failed`.
 *
 * Usage: node OUT/test/fuzz/emlFuzz.main.js [--count 10000] [--seed 1] [--cap-ms 2000] [--save DIR]
 *
 * Failing inputs are saved to DIR (default: eml-fuzz-failures/ in the temporary folder), which is
 * created only when an input failed; slow inputs that did not fail are reported by index (the seed
 * reproduces them) and saved only beside failures, so a passing run leaves nothing behind.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { runFuzz } from '../eml/fuzzCore';

interface Job {
  count: number;
  seed: number;
  capMs: number;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i === -1 ? NaN : Number(process.argv[i + 1]);
  return Number.isFinite(value) ? value : fallback;
}

if (!isMainThread) {
  // The worker runs the inputs and reports progress so the main thread can detect a hang.
  const job = workerData as Job;
  const result = runFuzz(job.count, job.seed, job.capMs, 250, (index) => parentPort?.postMessage({ type: 'progress', index }));
  parentPort?.postMessage({ type: 'done', result });
} else {
  const job: Job = { count: arg('--count', 10000), seed: arg('--seed', 1), capMs: arg('--cap-ms', 2000) };
  const saveIndex = process.argv.indexOf('--save');
  const saveDir = saveIndex === -1 ? join(tmpdir(), 'eml-fuzz-failures') : process.argv[saveIndex + 1];
  const started = Date.now();
  const worker = new Worker(__filename, { workerData: job });
  let current = -1;
  let lastProgress = Date.now();
  const watchdog = setInterval(() => {
    if (Date.now() - lastProgress > job.capMs * 5 + 5000) {
      clearInterval(watchdog);
      console.log(`HANG: input #${current} (seed ${job.seed}) made no progress for ${Date.now() - lastProgress} ms`);
      void worker.terminate();
      console.log(`${Math.max(0, current)} passed, 1 failed`);
      process.exitCode = 1;
    }
  }, 500);
  worker.on('message', (message: { type: 'progress'; index: number } | { type: 'done'; result: ReturnType<typeof runFuzz> }) => {
    lastProgress = Date.now();
    if (message.type === 'progress') {
      current = message.index;
      if (message.index > 0 && message.index % 1000 === 0) console.log(`… ${message.index} inputs`);
      return;
    }
    clearInterval(watchdog);
    const { result } = message;
    const saving = result.failed.length > 0;
    if (saving) mkdirSync(saveDir, { recursive: true });
    for (const slow of result.slow.slice(0, 20)) {
      let saved = '';
      if (saving && slow.input !== undefined) {
        saved = join(saveDir, `seed${job.seed}-slow${slow.index}.eml`);
        writeFileSync(saved, slow.input);
      }
      console.log(`slow: input #${slow.index} (${slow.length} chars) took ${slow.ms.toFixed(0)} ms${saved ? ` (saved to ${saved})` : ''}`);
    }
    for (const failure of result.failed.slice(0, 50)) {
      const file = join(saveDir, `seed${job.seed}-input${failure.index}.eml`);
      writeFileSync(file, failure.input);
      console.log(`FAIL #${failure.index}: ${failure.reason.split('\n').slice(0, 4).join(' | ')} (saved to ${file})`);
    }
    console.log(`seed ${job.seed}, ${job.count} inputs in ${((Date.now() - started) / 1000).toFixed(1)} s, ${result.slow.length} slower than 250 ms`);
    console.log(`${result.passed} passed, ${result.failed.length} failed`);
    process.exitCode = result.failed.length > 0 ? 1 : 0;
  });
  worker.on('error', (error) => {
    clearInterval(watchdog);
    console.log(`worker crashed at input #${current}: ${error.stack ?? error.message}`);
    console.log(`${Math.max(0, current)} passed, 1 failed`);
    process.exitCode = 1;
  });
}
