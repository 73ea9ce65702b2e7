// Benchmark: the full mail DNS report of the good fixture domain, through a loopback UDP proxy that
// adds 20 ms to every DNS answer. It prints the wall time, the dependency depth, and the ratio to
// (depth + 1) × 20 ms + 50 ms; the goal is a ratio of at most 1.0.
//
// The report includes the DNSSEC, DANE and transport checks (RFC 7672), whose queries go through
// their own DNS client (dnssecWire.ts, for DO/CD/AD) to the same delayed server. `report.depth`
// counts only the shared client's chain, so the budget uses the depth the proxy measures over every
// query of both clients (see test/peers/dnsForwarder.ts), or the report's when that is larger. The server is
// Knot, which does not validate: no name is secure, so the chain-of-trust walk runs for the domain
// (the slow path); the validation probes are off (they would leave the loopback).
//
// node scripts/build.mjs --only bench && node dist-test/bench/dns-report.main.js [--runs N] [--json]
import { numberOption } from './benchArgs';
import { createNodeResolver, runReport, countErrors } from '../client/src/dns/index';
import { startDnsTestEnv } from '../test/dns/env';
import { startDnsForwarder } from '../test/peers/dnsForwarder';

const DELAY_MS = 20;

async function main(): Promise<void> {
  const runs = numberOption('--runs', 7);
  const env = await startDnsTestEnv();
  const proxy = await startDnsForwarder({ upstream: { host: env.knot.host, port: env.knot.port }, delayMs: DELAY_MS });
  try {
    const once = async (): Promise<{ wall: number; depth: number; queries: number; errors: number; reportDepth: number }> => {
      // A fresh resolver per run, so nothing is cached between runs: the product's own, as the CLI
      // and the sidebar create it (its MX query goes through the wire client, which reads owners).
      const resolver = createNodeResolver({ server: proxy.address, timeoutMs: 2000, tries: 2 });
      proxy.resetDepth();
      const before = proxy.count();
      const started = performance.now();
      const report = await runReport('example.test', { resolver, fetcher: env.fetcher, selectors: ['ed'], probeSelectors: true, dnssec: { server: proxy.address, probes: {} } });
      const wall = performance.now() - started;
      if (!report.checks.some((c) => c.id === 'dnssec') || !report.checks.some((c) => c.id === 'dane')) throw new Error('the report lacks the DNSSEC and DANE checks');
      return { wall, depth: Math.max(report.depth, proxy.depth()), queries: proxy.count() - before, errors: countErrors(report), reportDepth: report.depth };
    };
    await once(); // Warm-up: loads code paths and the TLS context.
    const results = [];
    for (let i = 0; i < runs; i++) results.push(await once());
    const walls = results.map((r) => r.wall).sort((a, b) => a - b);
    const median = walls[Math.floor(walls.length / 2)];
    const depth = Math.max(...results.map((r) => r.depth));
    const budget = (depth + 1) * DELAY_MS + 50;
    const ratio = median / budget;
    const line = {
      domain: 'example.test',
      delayMs: DELAY_MS,
      runs,
      queries: results[0].queries,
      errors: results[0].errors,
      depth,
      reportDepth: Math.max(...results.map((r) => r.reportDepth)),
      wallMsMedian: Math.round(median * 10) / 10,
      wallMsMin: Math.round(walls[0] * 10) / 10,
      wallMsMax: Math.round(walls[walls.length - 1] * 10) / 10,
      budgetMs: budget,
      ratio: Math.round(ratio * 1000) / 1000,
      goal: ratio <= 1 ? 'met (≤ 1.0)' : 'NOT met (> 1.0)',
    };
    // The figures as JSON with --json, as the other benches do; otherwise one line a person reads
    // (scripts/bench.mjs collects the lines that carry a verdict, so a JSON line would repeat it).
    if (process.argv.includes('--json')) {
      process.stdout.write(`${JSON.stringify(line)}\n`);
      return;
    }
    process.stdout.write(
      `dns-report: ${line.queries} queries, depth ${depth}, wall ${line.wallMsMedian} ms (median of ${runs}; min ${line.wallMsMin}, max ${line.wallMsMax}), ` +
        `budget (${depth} + 1) × ${DELAY_MS} + 50 = ${budget} ms, ratio ${line.ratio} — goal ${line.goal}\n`,
    );
    // A goal not met is a figure, not a failure: the exit status is kept for a run that could not measure.
  } finally {
    await proxy.stop();
    await env.stop();
  }
}

void main();
