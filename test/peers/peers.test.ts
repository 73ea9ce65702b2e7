// Proves that each real test peer works: Exim (STARTTLS, AUTH, implicit TLS, policy, byte-exact
// Maildir), Knot (MX/TXT, zone reload) and Postfix's smtp-sink/smtp-source.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as dns from 'node:dns';
import * as tls from 'node:tls';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { startExim, EximPeer } from './exim';
import { startKnot } from './knot';
import { startSmtpSink, runSmtpSource } from './postfixTools';
import { expiredCert, serverCert, testCa, wrongNameCert, selfSignedCert } from './certs';
import { freePort } from './ports';
import { peerUnavailable } from './require';
import { pidsWithMarker as pidsWithMarkerForTest } from './process';
import { RawSmtp } from './rawSmtp';

const timings: Record<string, number> = {};
process.on('exit', () => {
  console.log(`peer timings (ms): ${JSON.stringify(timings)}`);
});

/** A message with CRLF line ends, a line that needs dot-stuffing, 8-bit text and no final blank. */
const MESSAGE = Buffer.from(
  'From: Sender <sender@example.test>\r\n' +
    'To: User <user@example.test>\r\n' +
    'Subject: peer test\r\n' +
    'Message-ID: <peer-test-1@example.test>\r\n' +
    'Date: Mon, 23 Nov 2026 04:00:00 +0000\r\n' +
    'MIME-Version: 1.0\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    'Content-Transfer-Encoding: 8bit\r\n' +
    '\r\n' +
    'Hello, w\u00f6rld.\r\n' +
    '.leading dot\r\n' +
    '..two dots\r\n' +
    'last line\r\n',
  'utf8',
);

/** Dot-stuffs a CRLF message for DATA. */
function dotStuff(message: Buffer): Buffer {
  return Buffer.from(message.toString('latin1').replace(/(^|\r\n)\./g, '$1..'), 'latin1');
}

test('exim: STARTTLS + AUTH PLAIN delivers byte-exact to Maildir', async () => {
  const exim = await startExim();
  timings.exim = exim.startupMs;
  try {
    const c = await RawSmtp.connect(exim.host, exim.port);
    assert.equal((await c.read()).code, 220);
    const ehlo = await c.command('EHLO client.example.test');
    assert.equal(ehlo.code, 250);
    const keywords = ehlo.lines.map((l) => l.split(' ')[0].toUpperCase());
    for (const k of ['PIPELINING', 'CHUNKING', '8BITMIME', 'SMTPUTF8', 'DSN', 'SIZE', 'STARTTLS']) {
      assert.ok(keywords.includes(k), `EHLO lacks ${k}: ${ehlo.raw}`);
    }
    assert.ok(ehlo.lines.includes('SIZE 20971520'), ehlo.raw);
    assert.ok(!keywords.includes('AUTH'), 'AUTH must not be advertised before TLS');
    assert.equal((await c.command('AUTH PLAIN AHVzZXIAcGFzcw==')).code, 503);
    await c.starttls(exim.caPem);
    const ehlo2 = await c.command('EHLO client.example.test');
    const auth = ehlo2.lines.find((l) => l.startsWith('AUTH '));
    assert.ok(auth !== undefined && /PLAIN/.test(auth) && /LOGIN/.test(auth) && /CRAM-MD5/.test(auth), ehlo2.raw);
    assert.equal((await c.command('AUTH PLAIN AHVzZXIAcGFzcw==')).code, 235);
    assert.equal((await c.command(`MAIL FROM:<sender@example.test> SIZE=${MESSAGE.length}`)).code, 250);
    assert.equal((await c.command('RCPT TO:<someone@elsewhere.example>')).code, 250, 'authenticated relay');
    assert.equal((await c.command('DATA')).code, 354);
    c.write(dotStuff(MESSAGE));
    c.write('.\r\n');
    assert.equal((await c.read()).code, 250);
    await c.quit();
    const [delivered] = await exim.waitForMessages(1);
    assert.deepEqual(delivered, MESSAGE);
    const [d] = await exim.deliveries();
    assert.equal(d.recipient, 'someone@elsewhere.example');
  } finally {
    await exim.stop();
  }
});

/** Runs a test body against one Exim shared by the tests below. */
let shared: Promise<EximPeer> | undefined;
function sharedExim(): Promise<EximPeer> {
  shared ??= startExim();
  return shared;
}
after(async () => {
  if (shared) await (await shared).stop();
});

/** Connects to the plain port, reads the greeting and says EHLO. */
async function ehloPlain(exim: EximPeer, port = exim.port, host = exim.host): Promise<{ c: RawSmtp; ehlo: string[] }> {
  const c = await RawSmtp.connect(host, port);
  assert.equal((await c.read()).code, 220);
  const reply = await c.command('EHLO client.example.test');
  assert.equal(reply.code, 250);
  return { c, ehlo: reply.lines };
}

test('exim: implicit TLS with the test CA, AUTH LOGIN and CRAM-MD5, BDAT byte-exact', async () => {
  const exim = await sharedExim();
  const c = await RawSmtp.connect(exim.host, exim.tlsPort, { implicitTls: true, ca: exim.caPem });
  assert.ok(c.secure);
  assert.equal((await c.read()).code, 220);
  const ehlo = await c.command('EHLO client.example.test');
  assert.ok(ehlo.lines.some((l) => l.startsWith('AUTH ')), ehlo.raw);
  assert.ok(!ehlo.lines.includes('STARTTLS'), 'STARTTLS is not offered inside TLS');
  // AUTH LOGIN.
  assert.equal((await c.command('AUTH LOGIN')).code, 334);
  assert.equal((await c.command(Buffer.from('user').toString('base64'))).code, 334);
  assert.equal((await c.command(Buffer.from('pass').toString('base64'))).code, 235);
  // BDAT in two chunks, with a body that is not dot-stuffed.
  await exim.clear();
  assert.equal((await c.command('MAIL FROM:<sender@example.test> BODY=8BITMIME')).code, 250);
  assert.equal((await c.command('RCPT TO:<bdat@example.test>')).code, 250);
  const half = 100;
  c.write(`BDAT ${half}\r\n`);
  c.write(MESSAGE.subarray(0, half));
  assert.equal((await c.read()).code, 250);
  c.write(`BDAT ${MESSAGE.length - half} LAST\r\n`);
  c.write(MESSAGE.subarray(half));
  assert.equal((await c.read()).code, 250);
  await c.quit();
  const [d] = await waitForRecipient(exim, 'bdat@example.test');
  assert.deepEqual(d.data, MESSAGE);

  // CRAM-MD5 after STARTTLS on the plain port.
  const { c: c2 } = await ehloPlain(exim);
  await c2.starttls(exim.caPem);
  await c2.command('EHLO client.example.test');
  const challenge = await c2.command('AUTH CRAM-MD5');
  assert.equal(challenge.code, 334);
  const digest = createHmac('md5', 'pass').update(Buffer.from(challenge.lines[0], 'base64')).digest('hex');
  assert.equal((await c2.command(Buffer.from(`user ${digest}`).toString('base64'))).code, 235);
  await c2.quit();
});

/** Waits for deliveries to one recipient. */
async function waitForRecipient(exim: EximPeer, recipient: string, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await exim.deliveries()).filter((d) => d.recipient === recipient);
    if (found.length > 0) return found;
    if (Date.now() > deadline) throw new Error(`no delivery to ${recipient}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('exim: policy: reject 550 5.1.1, tempfail 451, relay without AUTH 550, VRFY refused', async () => {
  const exim = await sharedExim();
  const { c } = await ehloPlain(exim);
  assert.equal((await c.command('MAIL FROM:<a@example.test>')).code, 250);
  const rejected = await c.command('RCPT TO:<reject@example.test>');
  assert.equal(rejected.code, 550);
  assert.match(rejected.lines[0], /^5\.1\.1 /);
  const deferred = await c.command('RCPT TO:<tempfail@example.test>');
  assert.equal(deferred.code, 451);
  assert.match(deferred.lines[0], /^4\.3\.0 /);
  const relay = await c.command('RCPT TO:<victim@elsewhere.example>');
  assert.equal(relay.code, 550);
  assert.match(relay.lines[0], /^5\.7\.1 /);
  assert.equal((await c.command('RCPT TO:<ok@localhost>')).code, 250);
  assert.equal((await c.command('RSET')).code, 250);
  // Exim's default without a VRFY ACL: 252 Administrative prohibition.
  const vrfy = await c.command('VRFY user@example.test');
  assert.equal(vrfy.code, 252, vrfy.raw);
  const big = await c.command('MAIL FROM:<a@example.test> SIZE=30000000');
  assert.equal(big.code, 552);
  await c.quit();
});

test('exim: startExim({ vrfy: true }) answers VRFY and EXPN', async () => {
  const exim = await startExim({ vrfy: true });
  // Certificates are cached by now, so this is Exim's own startup.
  timings.eximWarm = exim.startupMs;
  try {
    const { c } = await ehloPlain(exim);
    const vrfy = await c.command('VRFY user@example.test');
    const expn = await c.command('EXPN user@example.test');
    console.log(`vrfy: ${vrfy.raw.trim()} / expn: ${expn.raw.trim()}`);
    assert.equal(vrfy.code, 250, vrfy.raw);
    assert.equal(expn.code, 250, expn.raw);
    await c.quit();
  } finally {
    await exim.stop();
  }
});

test('exim: cleartext AUTH port advertises AUTH before TLS; [::1] listens', async () => {
  const exim = await sharedExim();
  const { c, ehlo } = await ehloPlain(exim, exim.clearAuthPort);
  assert.ok(ehlo.some((l) => l.startsWith('AUTH ')), ehlo.join('|'));
  assert.equal((await c.command('AUTH PLAIN AHVzZXIAcGFzcw==')).code, 235);
  await c.quit();
  if (exim.host6 !== undefined) {
    const { c: c6 } = await ehloPlain(exim, exim.port, exim.host6);
    await c6.starttls(exim.caPem, 'mail.example.test');
    await c6.quit();
  }
});

test('certs: the server certificate verifies for its names; expired, wrong-name and self-signed fail', async () => {
  const ca = await testCa();
  const good = await serverCert();
  assert.deepEqual(good.names, ['mail.example.test', 'localhost', '127.0.0.1', '::1']);
  const check = async (cert: { certPem: string; keyPem: string }, servername: string): Promise<string> => {
    const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => s.end());
    server.on('tlsClientError', () => undefined);
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    try {
      return await new Promise<string>((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port, ca: ca.caPem, servername }, () => {
          s.destroy();
          resolve('ok');
        });
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
    } finally {
      server.close();
    }
  };
  assert.equal(await check(good, 'mail.example.test'), 'ok');
  assert.equal(await check(good, 'localhost'), 'ok');
  assert.equal(await check(await expiredCert(), 'mail.example.test'), 'CERT_HAS_EXPIRED');
  assert.equal(await check(await wrongNameCert(), 'mail.example.test'), 'ERR_TLS_CERT_ALTNAME_INVALID');
  assert.equal(await check(await selfSignedCert(), 'mail.example.test'), 'DEPTH_ZERO_SELF_SIGNED_CERT');
});

const ZONE = `$TTL 300
@        IN SOA ns1 hostmaster 2024010101 3600 600 86400 300
@        IN NS  ns1
ns1      IN A   127.0.0.1
@        IN MX  10 mail
@        IN MX  20 mail2.example.test.
mail     IN A   127.0.0.1
mail     IN AAAA ::1
@        IN TXT "v=spf1 ip4:127.0.0.0/8 -all"
sel1._domainkey IN TXT ( "v=DKIM1; k=rsa; " "p=AAAA" "BBBB" )
`;

test('knot: answers MX and TXT, setZone reloads and adds zones', async () => {
  const knot = await startKnot({ zones: { 'example.test': ZONE } });
  timings.knot = knot.startupMs;
  try {
    const resolver = new dns.promises.Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([knot.address]);
    // Node 24 adds `type: 'MX'` to each record; what Knot served is the exchange and the priority.
    const mxOf = async (name: string): Promise<Array<{ exchange: string; priority: number }>> =>
      (await resolver.resolveMx(name)).map(({ exchange, priority }) => ({ exchange, priority })).sort((x, y) => x.priority - y.priority);
    const mx = await mxOf('example.test');
    assert.deepEqual(mx, [
      { exchange: 'mail.example.test', priority: 10 },
      { exchange: 'mail2.example.test', priority: 20 },
    ]);
    assert.deepEqual(await resolver.resolveTxt('example.test'), [['v=spf1 ip4:127.0.0.0/8 -all']]);
    assert.deepEqual((await resolver.resolveTxt('sel1._domainkey.example.test'))[0].join(''), 'v=DKIM1; k=rsa; pAAAABBBB'.replace('pAAAA', 'p=AAAA'));
    await assert.rejects(resolver.resolveTxt('nope.example.test'), { code: 'ENOTFOUND' });
    await assert.rejects(resolver.resolveMx('mail.example.test'), { code: 'ENODATA' });
    // The same SOA serial with new text: setZone still reloads.
    const t0 = Date.now();
    await knot.setZone('example.test', ZONE.replace('-all', '~all'));
    timings.knotReload = Date.now() - t0;
    assert.deepEqual(await resolver.resolveTxt('example.test'), [['v=spf1 ip4:127.0.0.0/8 ~all']]);
    // A new zone without SOA gets one added.
    const t1 = Date.now();
    await knot.setZone('other.test.', '@ IN TXT "hello"\n@ IN MX 5 mx.other.test.\n');
    timings.knotAddZone = Date.now() - t1;
    assert.deepEqual(await resolver.resolveTxt('other.test'), [['hello']]);
    assert.deepEqual(await mxOf('other.test'), [{ exchange: 'mx.other.test', priority: 5 }]);
    // Bad text fails setZone and Knot keeps serving the old zone.
    await assert.rejects(knot.setZone('other.test', '@ IN TXT "unterminated\n'), /knotc/);
    assert.deepEqual(await resolver.resolveTxt('other.test'), [['hello']]);
  } finally {
    await knot.stop();
  }
});

test('postfix tools: smtp-sink accepts a message, smtp-source runs against it, faults work', async () => {
  const sink = await startSmtpSink();
  timings.smtpSink = sink.startupMs;
  try {
    const c = await RawSmtp.connect(sink.host, sink.port);
    assert.equal((await c.read()).code, 220);
    assert.equal((await c.command('EHLO client.example.test')).code, 250);
    assert.equal((await c.command('MAIL FROM:<a@example.test>')).code, 250);
    assert.equal((await c.command('RCPT TO:<b@example.test>')).code, 250);
    assert.equal((await c.command('DATA')).code, 354);
    c.write(dotStuff(MESSAGE));
    c.write('.\r\n');
    assert.equal((await c.read()).code, 250);
    await c.quit();
    const result = await runSmtpSource(['-s', '2', '-m', '20', '-l', '1024', '-d', sink.address]);
    assert.equal(result.code, 0, result.stderr);
  } finally {
    await sink.stop();
  }
  const faulty = await startSmtpSink({ faults: ['-r', 'RCPT'] });
  try {
    const c = await RawSmtp.connect(faulty.host, faulty.port);
    await c.read();
    await c.command('EHLO client.example.test');
    await c.command('MAIL FROM:<a@example.test>');
    assert.equal((await c.command('RCPT TO:<b@example.test>')).code, 450);
    await c.quit();
  } finally {
    await faulty.stop();
  }
});

test('require: a missing peer fails with the apt command and the install script', () => {
  assert.throws(() => peerUnavailable('frobd', 'frob-daemon'), (e: Error) => {
    assert.match(e.message, /sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y frob-daemon/);
    assert.match(e.message, /scripts\/install-peers\.sh as root/);
    return true;
  });
});

test('stop() leaves no process and no temp dir behind', async () => {
  const exim = await startExim();
  const knot = await startKnot({ zones: { 'example.test': ZONE } });
  const sink = await startSmtpSink();
  const dirs = [exim.base, sink.dir];
  const timed = async (name: string, stop: () => Promise<void>): Promise<void> => {
    const t = Date.now();
    await stop();
    timings[name] = Date.now() - t;
  };
  await Promise.all([timed('eximStop', exim.stop), timed('knotStop', knot.stop), timed('sinkStop', sink.stop)]);
  for (const dir of dirs) {
    assert.equal(existsSync(dir), false, dir);
    assert.deepEqual(pidsWithMarkerForTest(dir), []);
  }
});
