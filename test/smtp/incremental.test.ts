/**
 * The incremental path (a ParseCache kept between edits) must give exactly what a full analysis
 * gives, whatever the edit (typing, new lines, deleted separators, moved sessions): the same
 * syntax tree, the same session plans and the same problems. Trees are values: an analysis made
 * before an edit is not changed by the edits after it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ParseCache } from '../../server/src/smtp/smtpParser';
import { analyzeSmtp, sessionPlans } from '../../server/src/smtp/smtpService';
import { lintMessage } from '../../server/src/eml/lint';
import { prng } from '../fuzz/smtpFuzz';
import { repoPath } from './repoRoot';

const root = repoPath('test', 'smtp', 'fixtures');
const corpus = readdirSync(root)
  .map((name) => join(root, name, 'script.smtp'))
  .filter((path) => existsSync(path))
  .map((path) => readFileSync(path, 'utf8'))
  .join('\n');

const EDITS = ['x', '\n', '\r', '\r\n', '#', '##', ' ', 'NOOP\n', '###\n', '', '{{', '.\n', 'EXPECT 250\n', '\n### New\n', 'MAIL FROM:<a@example.test>\n'];

test('incremental analysis equals full analysis over 500 random edits', () => {
  const random = prng(42);
  const cache = new ParseCache();
  let text = corpus;
  analyzeSmtp(text, 'x.smtp', { cache });
  for (let i = 0; i < 500; i++) {
    const at = Math.floor(random() * text.length);
    const remove = random() < 0.3 ? Math.floor(random() * 30) : 0;
    text = text.slice(0, at) + EDITS[Math.floor(random() * EDITS.length)] + text.slice(at + remove);
    const incremental = analyzeSmtp(text, 'x.smtp', { cache });
    const full = analyzeSmtp(text, 'x.smtp');
    const key = (p: { code: string; range: { start: number; end: number }; message: string }) => `${p.range.start}-${p.range.end} ${p.code} ${p.message}`;
    assert.deepEqual(incremental.problems.map(key), full.problems.map(key), `edit ${i} at ${at}`);
    assert.deepEqual(value(incremental.problems), value(full.problems), `edit ${i} at ${at}: problems with their fixes`);
    assert.deepEqual(value(incremental.document), value(full.document), `edit ${i} at ${at}: the tree`);
    assert.deepEqual(value(sessionPlans(incremental)), value(sessionPlans(full)), `edit ${i} at ${at}: the plans`);
  }
});

/** A tree as plain data: what it says, whatever objects hold it (undefined fields dropped). */
function value(tree: unknown): unknown {
  return JSON.parse(JSON.stringify(tree)) as unknown;
}

test('an analysis made before an edit keeps its offsets after the edit reuses its sessions', () => {
  const cache = new ParseCache();
  const first = 'EHLO a.example.test\n### One\nEHLO b.example.test\nMAIL FROM:<a@example.test>\n### Two\nEHLO c.example.test\nNOOP x\n';
  const before = analyzeSmtp(first, 'x.smtp', { cache });
  const snapshot = value(before.document);
  const problemsBefore = value(before.problems);
  const plansBefore = value(sessionPlans(before));
  // Insert lines at the top: every session after them moves and is reused from the cache.
  const after = analyzeSmtp('# a comment\n# another\n' + first, 'x.smtp', { cache });
  assert.deepEqual(value(before.document), snapshot, 'the earlier tree is unchanged');
  assert.deepEqual(value(before.problems), problemsBefore, 'the earlier problems are unchanged');
  assert.deepEqual(value(sessionPlans(before)), plansBefore, 'the earlier plans are unchanged');
  assert.equal(after.document.sessions[1].line, before.document.sessions[1].line + 2);
  assert.equal(after.document.sessions[1].items[0].range.start, before.document.sessions[1].items[0].range.start + '# a comment\n# another\n'.length);
  assert.notEqual(after.document.sessions[2].items[0], before.document.sessions[2].items[0], 'a moved session is a new tree');
  // An edit that moves nothing shares the unchanged sessions as they are.
  const again = analyzeSmtp('# a comment\n# another\n' + first.replace('NOOP x', 'NOOP y'), 'x.smtp', { cache });
  assert.equal(again.document.sessions[1].items[0], after.document.sessions[1].items[0], 'an unmoved session is reused as is');
});

test('a moved session keeps its analysis: names and fixes follow it', () => {
  const cache = new ParseCache();
  const text = '### A\n# @name same\nEHLO a.example.test\nAUTH PLAIN u {{$secret p}}\n### B\n# @name same\nEHLO b.example.test\n';
  analyzeSmtp(text, 'x.smtp', { cache });
  const moved = analyzeSmtp('\n\n' + text, 'x.smtp', { cache });
  const full = analyzeSmtp('\n\n' + text, 'x.smtp');
  assert.deepEqual(value(moved.problems), value(full.problems));
  assert.ok(moved.problems.some((p) => p.code === 'smtp-session-name'));
  assert.ok(moved.problems.some((p) => p.code === 'smtp-security-cleartext-auth' && (p.fixes?.length ?? 0) > 0));
});

test('typing into a file variable re-analyses every moved session where it was built, as a full analysis would', () => {
  const cache = new ParseCache();
  const lintMessageBody = (body: string) => lintMessage(body, { embedded: true });
  const session = (n: number) =>
    `### S${n}\n# @name s${n}\nCONNECT {{server}}\nEHLO client.example.test\nMAIL FROM:<{{from}}>\nRCPT TO:<{{to}}>\nDATA\nFrom: <a@example.test>\nSubject: x\n\nbody\n.\nAUTH PLAIN u hunter2\n\n`;
  const sessions = Array.from({ length: 8 }, (_, i) => session(i)).join('');
  let preamble = '@server = smtp://127.0.0.1:2525\n@from = alice@example.test\n';
  const check = (label: string) => {
    const text = preamble + sessions;
    const incremental = analyzeSmtp(text, 'file:///tmp/x.smtp', { cache, lintMessageBody });
    const full = analyzeSmtp(text, 'file:///tmp/x.smtp', { lintMessageBody });
    assert.deepEqual(value(incremental.problems), value(full.problems), label);
    assert.deepEqual(value(incremental.document), value(full.document), `${label}: the tree`);
  };
  check('first');
  // Each keystroke changes the value (the signature) and moves every session by one character.
  for (const c of ['x', '>', ' ', 'y']) {
    preamble = preamble.replace('alice@', `alice${c}@`);
    check(`typed ${JSON.stringify(c)}`);
  }
  // A new variable line moves every session by a line; then `{{to}}` becomes defined.
  preamble = '# top\n' + preamble;
  check('a line above');
  preamble += '@to = bob@example.test\n';
  check('a new variable');
});
