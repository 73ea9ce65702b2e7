/**
 * Writes `expected.json` for fixtures that lack one (or all with `--force`), printing what it wrote so
 * the author can review each expectation before committing it.
 * Usage: node OUT/test/eml/updateFixtures.main.js [--force] [name...]
 */
import { existsSync, writeFileSync } from 'node:fs';
import { fixtureNames, lintFixture, readFixture } from './fixtureSupport';

const args = process.argv.slice(2);
const force = args.includes('--force');
const names = args.filter((a) => !a.startsWith('--'));
for (const name of names.length > 0 ? names : fixtureNames()) {
  const { expectedPath } = readFixture(name);
  if (existsSync(expectedPath) && !force) continue;
  const { actual, problems } = lintFixture(name);
  writeFileSync(expectedPath, `${JSON.stringify(actual, null, 2)}\n`);
  console.log(`${name}:`);
  for (const p of problems) console.log(`  ${p.code} ${p.severity} [${p.range.start},${p.range.end}) ${p.message}`);
}
