/**
 * What keeps a session from running is the same in the CodeLens, the Test Explorer, the editor's
 * Run and `smtpwb run`: the script's own errors, not advice about the message body.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LanguageService } from '../../server/src/languageService';

function open(text: string): { service: LanguageService; document: TextDocument } {
  return { service: new LanguageService(), document: TextDocument.create('file:///gate.smtp', 'smtp', 1, text) };
}

test('a message body without From is advice: the session still runs', () => {
  const { service, document } = open('### probe\nEHLO a.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\nSubject: test\n\nhi\n.\nQUIT\n');
  assert.ok(service.problems(document).some((p) => p.code === 'eml-header-missing' && p.severity === 'error'));
  assert.equal(service.sessions(document)[0].errors, 0);
  assert.deepEqual(service.sessionPlan(document, { uri: document.uri, index: 0 }).errors, []);
});

test('an error among the file variables counts for every session, in the CodeLens too', () => {
  const { service, document } = open('@server = smtp://{{host}}:2525\n\n### s\nCONNECT {{server}}\nEHLO a.example.test\nQUIT\n');
  assert.equal(service.sessions(document)[0].errors, 1);
  assert.equal(service.sessionPlan(document, { uri: document.uri, index: 0 }).errors.length, 1);
});

test('AUTH to a target known only at run time is left to the engine, which refuses cleartext there', () => {
  const { service, document } = open('### s\nCONNECT {{server}}\nEHLO a.example.test\nAUTH PLAIN user {{$secret pw}}\nQUIT\n');
  service.setExternalVariables(['server']);
  assert.ok(!service.problems(document).some((p) => p.code === 'smtp-security-cleartext-auth'));
});

test('an order error under an EXPECT that asks for a refusal is a warning: a deliberate test of the server', () => {
  const { service, document } = open('### s\nCONNECT smtp://127.0.0.1:25\nMAIL FROM:<a@example.test>\nEXPECT 503\nEHLO a.example.test\nQUIT\n');
  const order = service.problems(document).find((p) => p.code === 'smtp-order-mail-before-helo');
  assert.equal(order?.severity, 'warning');
});
