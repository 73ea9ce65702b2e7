/**
 * The language service as the server uses it (a TextDocument updated by incremental edits, one
 * service keeping its caches) must publish exactly the diagnostics a fresh service computes from
 * the same text, over random edits: typing in sessions, in message bodies, and in file variables
 * that some sessions use and others do not (a session's cached analysis is kept while the variables
 * it reads are unchanged, see smtpService.ts). Also: the cache keeps nothing of earlier versions
 * of the document alive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LanguageService } from '../../server/src/languageService';
import { toDiagnostics } from '../../server/src/diagnostics';
import { ParseCache } from '../../server/src/smtp/smtpParser';
import { analyzeSmtp } from '../../server/src/smtp/smtpService';
import type { SessionNode } from '../../server/src/smtp/smtpAst';
import { prng } from '../fuzz/smtpFuzz';

const PREAMBLE = [
  '@server = smtp://127.0.0.1:2525',
  '@from = alice@example.test',
  '@to = bob@{{domain}}',
  '@domain = example.test',
  '@helo = client.example.test',
  '',
];

/** Sessions that use different variables: all of them, some, none, or their own of the same name. */
function session(n: number): string {
  const uses = n % 4;
  const lines = [`### Session ${n}`, `# @name s${n % 7 === 6 ? 1 : n}`, 'CONNECT {{server}}'];
  lines.push(uses === 0 ? 'EHLO {{helo}}' : 'EHLO client.example.test');
  if (uses === 3) lines.push('@from = own@example.test');
  lines.push(uses === 2 ? 'MAIL FROM:<carol@example.test>' : 'MAIL FROM:<{{from}}> SIZE=1000');
  lines.push(uses === 1 ? 'RCPT TO:<{{to}}>' : `RCPT TO:<user${n}@example.test>`);
  lines.push('DATA', 'From: <alice@example.test>', `Subject: message ${n}`, 'Date: Mon, 23 Nov 2026 04:19:27 +0000', '', 'Hello,', '.leading dot', '.', 'QUIT', '');
  return lines.join('\n');
}

const TEXT = PREAMBLE.join('\n') + '\n' + Array.from({ length: 12 }, (_, i) => session(i)).join('\n');
const TYPED = ['x', 'a', '@', '.', ' ', '\n', '{{', '}}', '{{to}}', '{{nope}}', '<', '>', '=', '###\n', '\n@extra = {{from}}\n', ''];

/** Diagnostics as plain data, in the order published. */
function published(service: LanguageService, document: TextDocument): unknown {
  return JSON.parse(JSON.stringify(toDiagnostics(service.problems(document), document)));
}

test('incremental diagnostics equal a fresh service over 400 random edits, many in file variables', () => {
  const random = prng(1313);
  const incremental = new LanguageService({ fileExists: () => false });
  let document = TextDocument.create('file:///tmp/incremental.smtp', 'smtp', 1, TEXT);
  published(incremental, document);
  const preambleEnd = () => document.getText().indexOf('###');
  for (let i = 0; i < 400; i++) {
    const text = document.getText();
    // Half of the edits type into the file variables, the rest anywhere.
    const inPreamble = random() < 0.5 && preambleEnd() > 0;
    const at = Math.floor(random() * (inPreamble ? preambleEnd() : text.length));
    const removed = random() < 0.25 ? Math.floor(random() * 6) : 0;
    const inserted = TYPED[Math.floor(random() * TYPED.length)];
    const range = { start: document.positionAt(at), end: document.positionAt(Math.min(text.length, at + removed)) };
    document = TextDocument.update(document, [{ range, text: inserted }], document.version + 1);
    const fresh = new LanguageService({ fileExists: () => false });
    const expected = published(fresh, TextDocument.create(document.uri, 'smtp', document.version, document.getText()));
    assert.deepEqual(published(incremental, document), expected, `edit ${i}: ${JSON.stringify(inserted)} at ${at} (${inPreamble ? 'file variables' : 'anywhere'})`);
  }
});

test('typing into a variable that no session uses re-analyses no session, and the diagnostics stay right', () => {
  const cache = new ParseCache();
  let text = '@unused = a\n@from = alice@example.test\n' + Array.from({ length: 5 }, (_, i) => session(4 * i + 2)).join('\n');
  const first = analyzeSmtp(text, 'x.smtp', { cache });
  text = text.replace('@unused = a', '@unused = ab');
  const second = analyzeSmtp(text, 'x.smtp', { cache });
  assert.deepEqual(JSON.parse(JSON.stringify(second.problems)), JSON.parse(JSON.stringify(analyzeSmtp(text, 'x.smtp').problems)));
  assert.ok(second.problems.some((p) => p.code === 'smtp-variable-unused'), 'the unused variable is still reported');
  assert.equal(first.document.sessions.length, second.document.sessions.length);
});

test('the cache keeps no earlier version of a moved session alive', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const cache = new ParseCache();
  const sessions = Array.from({ length: 6 }, (_, i) => session(i)).join('\n');
  let preamble = '@from = alice@example.test\n';
  // A weak reference to the last session's node as first parsed (the analysis itself is not kept):
  // every later edit above moves it.
  const firstNode = (): SessionNode => {
    const sessionNodes = analyzeSmtp(preamble + sessions, 'x.smtp', { cache }).document.sessions;
    return sessionNodes[sessionNodes.length - 1];
  };
  const ref = new WeakRef(firstNode());
  for (let i = 0; i < 50; i++) {
    preamble = `# line ${i}\n` + preamble;
    analyzeSmtp(preamble + sessions, 'x.smtp', { cache });
  }
  // A WeakRef keeps its target until the current job ends.
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  assert.equal(ref.deref(), undefined, 'the first node of a session that has moved since is collected');
});
