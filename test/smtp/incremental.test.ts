/**
 * The incremental path (a ParseCache kept between edits) must give exactly the problems a full
 * analysis gives, whatever the edit: typing, new lines, deleted separators, moved sessions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ParseCache } from '../../server/src/smtp/smtpParser';
import { analyzeSmtp } from '../../server/src/smtp/smtpService';
import { prng } from '../fuzz/smtpFuzz';

const root = join(process.cwd(), 'test', 'smtp', 'fixtures');
const corpus = readdirSync(root)
  .map((name) => join(root, name, 'script.smtp'))
  .filter((path) => existsSync(path))
  .map((path) => readFileSync(path, 'utf8'))
  .join('\n');

const EDITS = ['x', '\n', 'NOOP\n', '###\n', '', '{{', '.\n', 'EXPECT 250\n', '\n### New\n', 'MAIL FROM:<a@example.test>\n'];

test('incremental analysis equals full analysis over 300 random edits', () => {
  const random = prng(42);
  const cache = new ParseCache();
  let text = corpus;
  analyzeSmtp(text, 'x.smtp', { cache });
  for (let i = 0; i < 300; i++) {
    const at = Math.floor(random() * text.length);
    const remove = random() < 0.3 ? Math.floor(random() * 30) : 0;
    text = text.slice(0, at) + EDITS[Math.floor(random() * EDITS.length)] + text.slice(at + remove);
    const incremental = analyzeSmtp(text, 'x.smtp', { cache });
    const full = analyzeSmtp(text, 'x.smtp');
    const key = (p: { code: string; range: { start: number; end: number }; message: string }) => `${p.range.start}-${p.range.end} ${p.code} ${p.message}`;
    assert.deepEqual(incremental.problems.map(key), full.problems.map(key), `edit ${i} at ${at}`);
  }
});
