/**
 * `node dist-test/test/fuzz/smtpFuzz.main.js [--count N] [--seed S]`: feeds N mutated scripts
 * (10,000 by default) to every feature of the `.smtp` language service. A watchdog in the parent
 * process catches a hang: the fuzzing runs in a worker that must report progress every 10 s.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fuzzSmtp, loadCorpus } from './smtpFuzz';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

if (isMainThread) {
  const count = arg('--count', 10_000);
  const seed = arg('--seed', 20261123);
  const started = Date.now();
  const worker = new Worker(__filename, { workerData: { count, seed } });
  let lastProgress = Date.now();
  let done = 0;
  const watchdog = setInterval(() => {
    if (Date.now() - lastProgress > 10_000) {
      console.error(`smtp fuzz: HANG — no progress for 10 s after input ${done} (seed ${seed})`);
      console.log(`${done} passed, 1 failed`);
      process.exit(1);
    }
  }, 1000);
  worker.on('message', (message: { done?: number; failures?: Array<{ index: number; error: string; input: string }>; slow?: Array<{ index: number; ms: number }> }) => {
    lastProgress = Date.now();
    if (message.done !== undefined) done = message.done;
    if (message.failures) {
      clearInterval(watchdog);
      for (const f of message.failures.slice(0, 5)) console.error(`input ${f.index}: ${f.error}\n--- input (JSON) ---\n${JSON.stringify(f.input).slice(0, 2000)}`);
      for (const s of message.slow!.slice(0, 5)) console.error(`input ${s.index} was slow: ${s.ms.toFixed(0)} ms`);
      const failed = message.failures.length + message.slow!.length;
      console.log(`smtp fuzz: ${count} mutated scripts, seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s, ${message.failures.length} throws, ${message.slow!.length} slow (> 2 s)`);
      console.log(`${count - failed} passed, ${failed} failed`);
      process.exitCode = failed > 0 ? 1 : 0;
      void worker.terminate();
    }
  });
  worker.on('error', (error) => {
    clearInterval(watchdog);
    console.error(error);
    process.exitCode = 1;
  });
} else {
  const { count, seed } = workerData as { count: number; seed: number };
  const corpus = loadCorpus(['examples', 'test/smtp/fixtures']);
  const chunk = 250;
  const all = { failures: [] as Array<{ index: number; error: string; input: string }>, slow: [] as Array<{ index: number; ms: number }> };
  for (let from = 0; from < count; from += chunk) {
    const result = fuzzSmtp(Math.min(chunk, count - from), seed + from, corpus);
    all.failures.push(...result.failures.map((f) => ({ ...f, index: f.index + from })));
    all.slow.push(...result.slow.map((s) => ({ ...s, index: s.index + from })));
    parentPort!.postMessage({ done: from + chunk });
  }
  parentPort!.postMessage(all);
}
