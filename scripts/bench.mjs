// Runs every benchmark of a build (dist-test/bench/*.main.js) one after the other, then repeats the
// lines that carry a verdict (met / NOT met), so the figures of one run are read in one place.
// Usage: node scripts/bench.mjs [DIR]   (DIR defaults to dist-test/bench)
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'dist-test/bench';
const verdicts = [];
let failed = false;
for (const file of readdirSync(dir).filter((f) => f.endsWith('.main.js')).sort()) {
  process.stdout.write(`\n== ${file}\n`);
  const run = spawnSync(process.execPath, [join(dir, file)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(run.stdout ?? '');
  if (run.status !== 0) {
    failed = true;
    verdicts.push(`${file}: FAILED (exit ${run.status})`);
    continue;
  }
  // A verdict line is often the last line of an indented block; its heading is the block's first line.
  let context = '';
  for (const line of (run.stdout ?? '').split('\n')) {
    if (/\b(met|NOT met)\b/.test(line)) verdicts.push(`${file}: ${context ? `${context.trim()}: ` : ''}${line.trim()}`);
    else if (/^\s{2}\S/.test(line)) context = line;
  }
}
process.stdout.write(`\n== verdicts\n${verdicts.join('\n')}\n`);
process.exitCode = failed ? 1 : 0;
