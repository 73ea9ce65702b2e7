/**
 * Completion and the analyzer fold the session's state in one place (server/src/smtp/smtpState.ts),
 * so a line that completion offers at the start of a line is a line the analyzer accepts there:
 * every command and directive offered is inserted, the script is linted again, and the inserted
 * line must carry no ordering problem. The property runs over a `|`-cursor table and over every
 * line of the examples and the linter fixtures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { smtpCompletionStrict, type CompletionItem } from '../../../server/src/smtp/smtpCompletion';
import { analyzeSmtp } from '../../../server/src/smtp/smtpService';
import { cursor, snippetDefault } from '../hover/cursor';
import { repoPath } from '../repoRoot';

/** Problems that say a line stands in the wrong place in the session. */
const ORDERING = /^smtp-order-|^smtp-connect-late$|^smtp-tls-late$|^smtp-expect-orphan$|^smtp-expect-duplicate$/;

/** The lines a start-of-line completion offers: commands and directives, as they are inserted. */
function offeredLines(items: CompletionItem[]): Array<{ label: string; text: string }> {
  return items
    .filter((item) => item.kind === 'command' || item.kind === 'directive')
    .map((item) => ({ label: item.label, text: item.insertText ? (item.snippet ? snippetDefault(item.insertText) : item.insertText) : item.label }));
}

/**
 * Inserts each offered line at the cursor (which stands at the start of an empty line) and returns
 * the ordering problems found on it.
 */
function disagreements(text: string, offset: number, counter?: { inserted: number }): string[] {
  const before = analyzeSmtp(text, '/tmp/agreement.smtp');
  const found: string[] = [];
  for (const offered of offeredLines(smtpCompletionStrict(before, offset))) {
    if (counter) counter.inserted++;
    const edited = text.slice(0, offset) + offered.text + text.slice(offset);
    const after = analyzeSmtp(edited, '/tmp/agreement.smtp');
    const end = offset + offered.text.length;
    for (const p of after.problems) {
      if (ORDERING.test(p.code) && p.range.start >= offset && p.range.start < Math.max(end, offset + 1)) found.push(`${offered.label}: ${p.code} (${p.message})`);
    }
  }
  return found;
}

interface StateCase {
  name: string;
  script: string;
  contains: string[];
  excludes?: string[];
}

const HELLO = 'EHLO client.example.test\n';

const CASES: StateCase[] = [
  // Issue 11: a refused MAIL opens no transaction, so MAIL FROM comes again, not RCPT TO.
  { name: 'MAIL FROM refused with EXPECT 550', script: `${HELLO}MAIL FROM:<alice@example.test>\nEXPECT 550\n|`, contains: ['MAIL FROM', 'RSET'], excludes: ['RCPT TO', 'DATA'] },
  { name: 'MAIL FROM refused with EXPECT 4xx', script: `${HELLO}MAIL FROM:<alice@example.test>\nEXPECT 4xx\n|`, contains: ['MAIL FROM'], excludes: ['RCPT TO'] },
  { name: 'refused RCPT adds no recipient', script: `${HELLO}MAIL FROM:<alice@example.test>\nRCPT TO:<nobody@example.test>\nEXPECT 550 5.1.1\n|`, contains: ['RCPT TO'], excludes: ['DATA', 'BDAT'] },
  { name: 'accepted RCPT after a refused one', script: `${HELLO}MAIL FROM:<a@example.test>\nRCPT TO:<x@example.test>\nEXPECT 550\nRCPT TO:<b@example.test>\n|`, contains: ['DATA', 'RCPT TO'] },
  { name: 'refused EHLO leaves the session ungreeted', script: 'EHLO client.example.test\nEXPECT 5xx\n|', contains: ['EHLO', 'HELO'], excludes: ['MAIL FROM', 'STARTTLS'] },
  { name: 'refused STARTTLS keeps the greeting', script: `${HELLO}STARTTLS\nEXPECT 454\n|`, contains: ['MAIL FROM', 'STARTTLS'], excludes: ['RCPT TO'] },
  { name: 'refused AUTH may be tried again', script: `CONNECT smtps://mail.example.test\n${HELLO}AUTH PLAIN user {{$secret p}}\nEXPECT 535\n|`, contains: ['AUTH', 'MAIL FROM'] },
  { name: 'accepted AUTH is not offered twice', script: `CONNECT smtps://mail.example.test\n${HELLO}AUTH PLAIN user {{$secret p}}\n|`, contains: ['MAIL FROM'], excludes: ['AUTH'] },
  { name: 'refused DATA still ends the transaction', script: `${HELLO}MAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\nSubject: x\n\nhi\n.\nEXPECT 554\n|`, contains: ['MAIL FROM'], excludes: ['RCPT TO', 'DATA'] },
  { name: 'the cursor between a command and its EXPECT', script: `${HELLO}MAIL FROM:<a@example.test>\n|\nEXPECT 550\n`, contains: ['RCPT TO', 'EXPECT'] },
  { name: 'after QUIT nothing', script: `${HELLO}QUIT\n|`, contains: [], excludes: ['EHLO', 'MAIL FROM', 'RSET', 'NOOP', 'EXPECT'] },
  { name: 'refused QUIT still ends the session', script: `${HELLO}QUIT\nEXPECT 5xx\n|`, contains: [], excludes: ['EHLO', 'NOOP'] },
  { name: 'LMTP', script: `CONNECT lmtp://127.0.0.1:2424\nLHLO client.example.test\nMAIL FROM:<a@example.test>\nEXPECT 550\n|`, contains: ['MAIL FROM', 'LHLO'], excludes: ['EHLO', 'RCPT TO'] },
];

for (const c of CASES) {
  test(`state: ${c.name}`, () => {
    const { text, offset } = cursor(c.script);
    const labels = smtpCompletionStrict(analyzeSmtp(text, '/tmp/state.smtp'), offset).map((i) => i.label);
    for (const label of c.contains) assert.ok(labels.includes(label), `${label} missing from ${labels.join(', ')}`);
    for (const label of c.excludes ?? []) assert.ok(!labels.includes(label), `${label} offered: ${labels.join(', ')}`);
    assert.deepEqual(disagreements(text, offset), []);
  });
}

test('the named case: MAIL FROM inserted after a refused MAIL FROM lints without an ordering problem', () => {
  const { text, offset } = cursor(`${HELLO}MAIL FROM:<alice@example.test>\nEXPECT 550\n|`);
  const edited = text.slice(0, offset) + 'MAIL FROM:<alice@example.test>\nRCPT TO:<bob@example.test>\n' + text.slice(offset);
  const codes = analyzeSmtp(edited, '/tmp/state.smtp').problems.map((p) => p.code);
  assert.deepEqual(codes.filter((code) => ORDERING.test(code)), []);
});

test('snippet defaults', () => {
  assert.equal(snippetDefault('MAIL FROM:<${1:alice@example.test}>'), 'MAIL FROM:<alice@example.test>');
  assert.equal(snippetDefault('AUTH ${1|PLAIN,LOGIN|} ${2:user} {{\\$secret ${3:smtp-password}}}'), 'AUTH PLAIN user {{$secret smtp-password}}');
  assert.equal(snippetDefault('DATA\n$0\n.'), 'DATA\n\n.');
});

/** Every `.smtp` script of the examples and the linter fixtures. */
function corpus(): Array<{ name: string; text: string }> {
  const out: Array<{ name: string; text: string }> = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.smtp')) out.push({ name: path.slice(repoPath().length + 1), text: readFileSync(path, 'utf8') });
    }
  };
  walk(repoPath('examples'));
  const fixtures = repoPath('test', 'smtp', 'fixtures');
  for (const name of readdirSync(fixtures)) {
    const script = join(fixtures, name, 'script.smtp');
    if (existsSync(script)) out.push({ name: `test/smtp/fixtures/${name}`, text: readFileSync(script, 'utf8') });
  }
  return out;
}

test('property: at the start of every line of the examples and fixtures, each offered line lints in order', () => {
  const scripts = corpus();
  assert.ok(scripts.length >= 20, `${scripts.length} scripts`);
  const failures: string[] = [];
  let checked = 0;
  const counter = { inserted: 0 };
  for (const { name, text } of scripts) {
    const lines = text.split('\n');
    for (let i = 0; i <= lines.length; i++) {
      // An empty line inserted before line i, with the cursor on it.
      const head = lines.slice(0, i).join('\n') + (i > 0 ? '\n' : '');
      const edited = head + '\n' + lines.slice(i).join('\n');
      const found = disagreements(edited, head.length, counter);
      checked++;
      for (const f of found) failures.push(`${name}, before line ${i + 1}: ${f}`);
    }
  }
  assert.ok(checked > 500, `${checked} cursors`);
  assert.ok(counter.inserted > 5 * checked, `${counter.inserted} lines inserted at ${checked} cursors`);
  assert.deepEqual(failures, []);
});
