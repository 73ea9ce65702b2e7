// Protocol features against in-process servers and Exim: LMTP (RFC 2033), XOAUTH2, IPv6, client
// certificates, minimum TLS versions, SIZE and capabilities after STARTTLS (RFC 3207 §4.2).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type * as tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { issueCert, serverCert, testCa } from '../peers/certs';
import { startExim, type EximPeer } from '../peers/exim';
import { runSession, type SessionResult } from '../../client/src/engine';
import { auth, cmd, data, makePlan, starttls } from './plan';
import { politeSmtp, rawServer, type RawServer } from './rawServer';

let exim: EximPeer;
const closers: Array<() => Promise<void>> = [];

before(async () => {
  exim = await startExim();
});
after(async () => {
  for (const c of closers) await c();
  await exim?.stop();
});

const explain = (r: SessionResult): string => `${r.failure?.kind}: ${r.failure?.message}\n${r.transcript.map((e) => `${e.dir} ${e.text}`).join('\n')}`;

async function smtpServer(options: SMTPServerOptions): Promise<number> {
  const server = new SMTPServer({ logger: false, disableReverseLookup: true, ...options });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.server.address() as AddressInfo).port;
}

test('LMTP: one reply per accepted recipient after DATA (RFC 2033 §4.2)', async () => {
  const port = await smtpServer({
    lmtp: true,
    authOptional: true,
    onRcptTo(address, _session, cb) {
      if (address.address.startsWith('nobody@')) cb(Object.assign(new Error('no such user'), { responseCode: 550 }));
      else cb();
    },
    onData(stream, session, cb) {
      stream.resume();
      stream.on('end', () => {
        const replies: Array<string | Error> = session.envelope.rcptTo.map((r) =>
          r.address.startsWith('full@') ? Object.assign(new Error('mailbox full'), { responseCode: 452 }) : `delivered to ${r.address}`,
        );
        cb(null, replies as unknown as string);
      });
    },
  });
  const steps = (third: string) => [
    cmd('LHLO client.example.test'),
    cmd('MAIL FROM:<a@example.test>'),
    cmd('RCPT TO:<bob@example.test>'),
    cmd('RCPT TO:<nobody@example.test>', '550'),
    cmd(`RCPT TO:<${third}@example.test>`),
    data(['Subject: lmtp', '', 'hello']),
    cmd('QUIT'),
  ];
  const ok = await runSession(makePlan({ connect: `lmtp://127.0.0.1:${port}`, steps: steps('carol') }));
  assert.ok(ok.ok, explain(ok));
  const dataStep = ok.steps[5];
  assert.equal(dataStep.reply?.code, 250);
  assert.match(dataStep.reply?.lines[0] ?? '', /delivered to bob/);
  // The second per-recipient reply is kept with the intermediate 354.
  assert.deepEqual(dataStep.replies?.map((r) => r.code), [354, 250]);
  assert.match(dataStep.replies?.[1].lines[0] ?? '', /delivered to carol/);
  const partial = await runSession(makePlan({ connect: `lmtp://127.0.0.1:${port}`, steps: steps('full') }));
  assert.equal(partial.failure?.kind, 'expectation', explain(partial));
  assert.match(partial.failure?.message ?? '', /recipient 2 of the LMTP transaction: expected 2xx, got 452/);
  assert.equal(partial.target?.lmtp, true);
});

test('XOAUTH2: a valid token authenticates; an invalid one gets the JSON challenge, then 535', async () => {
  const cert = await serverCert();
  const port = await smtpServer({
    secure: true,
    key: cert.keyPem,
    cert: cert.certPem,
    authMethods: ['XOAUTH2'],
    onAuth(a, _session, cb) {
      if (a.method === 'XOAUTH2' && a.username === 'user@example.test' && a.accessToken === 'good-token') cb(null, { user: a.username });
      else cb(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.example.test/' } });
    },
    onData(stream, _s, cb) {
      stream.resume();
      stream.on('end', () => cb());
    },
  });
  const plan = (token: string) =>
    makePlan({
      connect: `smtps://127.0.0.1:${port}`,
      tls: { ca: cert.caPath, sni: 'mail.example.test' },
      steps: [cmd('EHLO c.example.test'), auth('XOAUTH2', 'user@example.test', token), cmd('QUIT')],
    });
  const good = await runSession(plan('good-token'));
  assert.ok(good.ok, explain(good));
  assert.equal(good.steps[1].reply?.code, 235);
  const bad = await runSession(plan('bad-token'));
  assert.equal(bad.failure?.kind, 'expectation');
  assert.equal(bad.steps[1].reply?.code, 535);
  assert.equal(bad.steps[1].replies?.[0].code, 334);
  assert.ok(!JSON.stringify(bad).includes('bad-token'));
  assert.ok(!JSON.stringify(bad).includes(Buffer.from('user=user@example.test\x01auth=Bearer bad-token\x01\x01').toString('base64')));
});

test('IPv6: a session over [::1] delivers to Exim', async (t) => {
  if (!exim.host6) {
    t.skip('IPv6 loopback is not available');
    return;
  }
  const r = await runSession(
    makePlan({ connect: `smtp://[::1]:${exim.port}`, steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<bob@example.test>'), data(['Subject: over IPv6', '', 'x']), cmd('QUIT')] }),
  );
  assert.ok(r.ok, explain(r));
  assert.equal(r.target?.address, '::1');
  const deadline = Date.now() + 10_000;
  while (!(await exim.messages()).some((m) => m.includes('Subject: over IPv6'))) {
    assert.ok(Date.now() < deadline, 'the IPv6 message arrives');
    await new Promise((res) => setTimeout(res, 10));
  }
});

test('STARTTLS forgets the capabilities from before TLS (RFC 3207 §4.2); SIZE and AUTH parse', async () => {
  const r = await runSession(
    makePlan({
      connect: `smtp://127.0.0.1:${exim.port}`,
      tls: { ca: exim.caPath, sni: 'mail.example.test' },
      steps: [cmd('EHLO c.example.test'), starttls(), cmd('EHLO c.example.test'), cmd('QUIT')],
    }),
  );
  assert.ok(r.ok, explain(r));
  assert.equal(r.capabilities?.size, 20971520);
  assert.ok(!('STARTTLS' in (r.capabilities?.keywords ?? {})), 'the post-TLS EHLO does not offer STARTTLS');
  assert.deepEqual(r.capabilities?.authMechanisms.sort(), ['CRAM-MD5', 'LOGIN', 'PLAIN']);
  assert.ok(r.transcript.some((e) => /capabilities from before TLS are forgotten/.test(e.text)));
});

test('TLS client certificate: cert= and key= are presented to the server', async () => {
  const ca = await testCa();
  const server = await serverCert();
  const client = await issueCert({ names: ['client.example.test'] });
  let presented: string | undefined;
  const s: RawServer = await rawServer(
    (c) => {
      const peer = (c.socket as tls.TLSSocket).getPeerCertificate();
      presented = typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined;
      void politeSmtp(c);
    },
    { cert: server.certPem, key: server.keyPem, ca: [ca.caPem], requestCert: true, rejectUnauthorized: true },
  );
  closers.push(() => s.close());
  const r = await runSession(
    makePlan({
      connect: `smtps://127.0.0.1:${s.port}`,
      tls: { ca: ca.caPath, sni: 'mail.example.test', cert: client.certPath, key: client.keyPath },
      steps: [cmd('EHLO c.example.test'), cmd('QUIT')],
    }),
  );
  assert.ok(r.ok, explain(r));
  assert.equal(presented, 'client.example.test');
});

test('TLS min= refuses a server that only speaks older versions', async () => {
  const cert = await serverCert();
  const s = await rawServer((c) => void politeSmtp(c), { cert: cert.certPem, key: cert.keyPem, maxVersion: 'TLSv1.2' });
  closers.push(() => s.close());
  const r = await runSession(
    makePlan({ connect: `smtps://127.0.0.1:${s.port}`, tls: { ca: cert.caPath, sni: 'mail.example.test', minVersion: 'TLSv1.3' }, steps: [cmd('EHLO c'), cmd('QUIT')] }),
    { timeouts: { tls: 2000 } },
  );
  assert.equal(r.failure?.kind, 'tls', explain(r));
  assert.match(r.failure?.message ?? '', /TLS handshake failed/);
  const ok = await runSession(
    makePlan({ connect: `smtps://127.0.0.1:${s.port}`, tls: { ca: cert.caPath, sni: 'mail.example.test', minVersion: 'TLSv1.2' }, steps: [cmd('EHLO c'), cmd('QUIT')] }),
  );
  assert.ok(ok.ok, explain(ok));
  assert.equal(ok.tls?.protocol, 'TLSv1.2');
});
