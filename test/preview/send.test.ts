// "Send .eml": the envelope derived from header fields, and the plan run by the real session engine
// against an in-process smtp-server, both to an explicit target and to the "local" target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { runSession } from '../../client/src/engine';
import { buildSendPlan } from '../../client/src/preview/sendPlan';
import { envelopeFromHeaders } from '../../client/src/preview/envelope';

const MESSAGE = Buffer.from(
  [
    'From: "Alice, A." <alice@example.test>',
    'To: Bob <bob@example.test>, undisclosed-recipients:;',
    'Cc: team: carol@example.test, Dave <dave@example.test>;, BOB@example.test',
    'Bcc: eve@example.test',
    'Subject: send test',
    '',
    'line one',
    '.leading dot',
    '',
  ].join('\r\n'),
);

test('the envelope comes from Return-Path/Sender/From and To, Cc, Bcc', () => {
  const env = envelopeFromHeaders(MESSAGE);
  assert.equal(env.mailFrom, 'alice@example.test');
  assert.equal(env.mailFromSource, 'From');
  assert.deepEqual(env.recipients, ['bob@example.test', 'carol@example.test', 'dave@example.test', 'eve@example.test']);
  const rp = envelopeFromHeaders(Buffer.from('Return-Path: <>\r\nSender: s@example.test\r\nFrom: f@example.test\r\n\r\n'));
  assert.equal(rp.mailFrom, '');
  assert.deepEqual(rp.recipients, []);
  const resent = envelopeFromHeaders(Buffer.from('From: a@x.test\r\nTo: b@x.test\r\nResent-From: r@y.test\r\nResent-To: c@y.test\r\n\r\n'));
  assert.equal(resent.resent, true);
  assert.equal(resent.mailFrom, 'r@y.test');
  assert.deepEqual(resent.recipients, ['c@y.test']);
  assert.equal(envelopeFromHeaders(Buffer.from('Subject: none\r\n\r\n')).mailFrom, undefined);
});

async function withServer(fn: (port: number, received: Array<{ from: string; to: string[]; data: Buffer }>) => Promise<void>): Promise<void> {
  const received: Array<{ from: string; to: string[]; data: Buffer }> = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks),
        });
        callback();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn((server.server.address() as AddressInfo).port, received);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

test('the send plan delivers the file byte for byte through the engine (explicit and local target)', async () => {
  await withServer(async (port, received) => {
    const env = envelopeFromHeaders(MESSAGE);
    const readFile = async (): Promise<Buffer> => MESSAGE;
    const explicit = await runSession(
      buildSendPlan({ file: '/tmp/m.eml', mailFrom: env.mailFrom ?? '', recipients: env.recipients, ehloName: 'client.test', connect: `smtp://127.0.0.1:${port}` }),
      { readFile },
    );
    assert.equal(explicit.ok, true, JSON.stringify(explicit.failure));
    const local = await runSession(buildSendPlan({ file: '/tmp/m.eml', mailFrom: 'x@example.test', recipients: ['y@example.test'], ehloName: 'client.test' }), {
      readFile,
      localTarget: { host: '127.0.0.1', port },
    });
    assert.equal(local.ok, true, JSON.stringify(local.failure));
    assert.equal(received.length, 2);
    assert.equal(received[0].from, 'alice@example.test');
    assert.deepEqual(received[0].to, env.recipients);
    assert.ok(received[0].data.equals(MESSAGE), received[0].data.toString());
    assert.deepEqual(received[1].to, ['y@example.test']);
  });
});

test('a refused recipient fails the send with the server reply', async () => {
  await withServer(async (port) => {
    const plan = buildSendPlan({ file: '/tmp/m.eml', mailFrom: 'a@example.test', recipients: ['bad address@x'], ehloName: 'client.test', connect: `smtp://127.0.0.1:${port}` });
    const result = await runSession(plan, { readFile: async () => MESSAGE });
    assert.equal(result.ok, false);
    assert.equal(result.failure?.kind, 'expectation');
  });
});
