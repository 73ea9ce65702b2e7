// The local capture server, driven by the project's session engine (sessions without CONNECT go to
// the local target) and by raw sockets: byte-exact storage after dot-unstuffing (RFC 5321 §4.5.2),
// the envelope sidecar, 8BITMIME/SMTPUTF8, SIZE refusals, STARTTLS with the generated certificate,
// AUTH, misbehaving clients and TLS handshake failures, concurrency, and list/delete/clear.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync, rmSync, utimesSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startCaptureServer, generateSelfSignedCertificate, parseCaptureRules, CERT_FOLDER, type CaptureLogEntry, type CaptureServer } from '../../client/src/localServer';
import { makeTempDir, removeTempDir } from '../peers/process';
import { RawSmtp } from '../peers/rawSmtp';
import { auth, cmd, data, makePlan, nextMessage, sendLocal, starttls, why, withCaptureServer } from './support';

/** A message whose lines need dot-stuffing, with 8-bit bytes, blank and white-space lines. */
const TRICKY = Buffer.concat([
  Buffer.from(
    [
      'From: "Alice A." <alice@example.test>',
      'To: Bob <bob@example.test>',
      'Subject: =?UTF-8?Q?Tricky_=C3=A9?= dots',
      'Date: Mon, 23 Nov 2026 10:00:00 +0000',
      'X-Folded: first',
      '\tsecond',
      '',
      '.',
      '..two dots',
      '.leading dot',
      '...',
      ' .space then dot',
      'trailing spaces   ',
      '\t',
      '',
      '',
      `${'x'.repeat(990)}`,
      '',
    ].join('\r\n'),
    'utf8',
  ),
  Buffer.from([0xe9, 0x20, 0xff, 0x00, 0x41, 0x0d, 0x0a]),
  Buffer.from('.\r\n', 'latin1'),
]);

function sidecarOf(path: string): { envelope: Record<string, unknown>; headers: Record<string, string>; id: string; file: string } {
  return JSON.parse(readFileSync(path.replace(/\.eml$/, '.envelope.json'), 'utf8')) as {
    envelope: Record<string, unknown>;
    headers: Record<string, string>;
    id: string;
    file: string;
  };
}

test('DATA < file: the stored .eml is byte for byte the message, dot-unstuffed', async () => {
  await withCaptureServer({}, async (server) => {
    const arrived = nextMessage(server);
    const plan = makePlan({
      steps: [cmd('EHLO client.example.test'), cmd('MAIL FROM:<alice@example.test>'), cmd('RCPT TO:<bob@example.test>'), data({ file: '/virtual/tricky.eml' }), cmd('QUIT')],
    });
    const result = await sendLocal(server, plan, async () => TRICKY);
    assert.equal(result.ok, true, why(result));
    assert.match(result.steps[3].reply?.lines.join('') ?? '', /captured as [0-9a-f]+/);
    const message = await arrived;
    assert.match(message.path, /[/\\]\d{8}T\d{9}Z-[0-9a-f]+\.eml$/);
    assert.ok(readFileSync(message.path).equals(TRICKY), 'the stored bytes differ from the message');
    assert.equal(message.size, TRICKY.length);
    assert.equal(message.subject, 'Tricky é dots');
    assert.equal(message.from, '"Alice A." <alice@example.test>');
    assert.equal(message.to, 'Bob <bob@example.test>');
    assert.equal(message.date, 'Mon, 23 Nov 2026 10:00:00 +0000');
    assert.ok((await server.read(message.id)).equals(TRICKY));
  });
});

test('raw DATA written a few octets at a time: unstuffed across every chunk boundary', async () => {
  await withCaptureServer({}, async (server) => {
    const intended = Buffer.from('Subject: split\r\n\r\n.\r\n..\r\nline\r\n.x\r\n\r\n.\r\n', 'latin1');
    // RFC 5321 §4.5.2: every line that starts with "." gets one more.
    const stuffed = Buffer.from(intended.toString('latin1').replace(/^\./gm, '..'), 'latin1');
    const wire = Buffer.concat([stuffed, Buffer.from('.\r\n')]);
    const client = await RawSmtp.connect(server.host, server.port);
    assert.equal((await client.read()).code, 220);
    assert.equal((await client.command('EHLO raw.example.test')).code, 250);
    assert.equal((await client.command('MAIL FROM:<>')).code, 250);
    assert.equal((await client.command('RCPT TO:<bob@example.test>')).code, 250);
    assert.equal((await client.command('DATA')).code, 354);
    const arrived = nextMessage(server);
    for (let i = 0, size = 1; i < wire.length; i += size, size = (size % 5) + 1) {
      client.write(wire.subarray(i, i + size));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const reply = await client.read();
    assert.equal(reply.code, 250, reply.raw);
    const message = await arrived;
    assert.equal(readFileSync(message.path).toString('latin1'), intended.toString('latin1'));
    assert.equal(message.envelope?.mailFrom, '', 'the null reverse-path is the empty string');
    await client.quit();
  });
});

test('the sidecar holds the envelope, parameters, client, TLS and AUTH', async () => {
  await withCaptureServer({}, async (server) => {
    const arrived = nextMessage(server);
    const plan = makePlan({
      tls: { verify: true, ca: server.certificatePath, sni: 'localhost' },
      steps: [
        cmd('EHLO client.example.test'),
        starttls(),
        cmd('EHLO client.example.test'),
        auth('PLAIN', 'someone', 'any password'),
        cmd('MAIL FROM:<alice@example.test> SIZE=200 BODY=8BITMIME'),
        cmd('RCPT TO:<bob@example.test>'),
        cmd('RCPT TO:<carol@example.test>'),
        data(['Subject: envelope', '', 'body']),
        cmd('QUIT'),
      ],
    });
    const result = await sendLocal(server, plan);
    assert.equal(result.ok, true, why(result));
    assert.equal(result.tls?.verified, true, 'the engine verifies the pinned certificate');
    const message = await arrived;
    const sidecar = sidecarOf(message.path);
    assert.equal(sidecar.id, message.id);
    assert.equal(sidecar.file, message.path.split(/[/\\]/).pop());
    const env = sidecar.envelope;
    assert.equal(env.mailFrom, 'alice@example.test');
    assert.deepEqual(env.rcptTo, ['bob@example.test', 'carol@example.test']);
    assert.deepEqual(env.mailParameters, { SIZE: '200', BODY: '8BITMIME' });
    assert.equal(env.remoteAddress, '127.0.0.1');
    assert.equal(typeof env.remotePort, 'number');
    assert.equal(env.helo, 'client.example.test');
    assert.equal((env.tls as { protocol: string }).protocol.startsWith('TLSv1.'), true);
    assert.deepEqual(env.auth, { method: 'PLAIN', username: 'someone' });
    assert.equal(env.bodyType, '8bitmime');
    assert.equal(env.smtpUtf8, false);
    assert.equal(env.transmissionType, 'ESMTPSA');
    assert.equal(env.size, readFileSync(message.path).length);
    assert.ok(Math.abs(Date.parse(String(env.receivedAt)) - Date.now()) < 60_000);
    assert.deepEqual(message.envelope, env);
    assert.equal(sidecar.headers.subject, 'envelope');
  });
});

test('8BITMIME and SMTPUTF8: UTF-8 addresses and headers, 8-bit body, all kept as sent', async () => {
  await withCaptureServer({}, async (server) => {
    const body = Buffer.concat([
      Buffer.from('From: Jöran <jöran@exämple.test>\r\nTo: 用户@例子.test\r\nSubject: Grüße 🌍\r\n\r\nGrüße, 8-bit: ', 'utf8'),
      Buffer.from([0xe9, 0xe8, 0x80]),
      Buffer.from('\r\n', 'utf8'),
    ]);
    const arrived = nextMessage(server);
    const plan = makePlan({
      steps: [
        cmd('EHLO client.example.test'),
        cmd('MAIL FROM:<jöran@exämple.test> BODY=8BITMIME SMTPUTF8'),
        cmd('RCPT TO:<用户@例子.test>'),
        data({ file: '/virtual/utf8.eml' }),
        cmd('QUIT'),
      ],
    });
    const result = await sendLocal(server, plan, async () => body);
    assert.equal(result.ok, true, why(result));
    for (const keyword of ['8BITMIME', 'SMTPUTF8', 'PIPELINING', 'SIZE', 'STARTTLS', 'AUTH', 'ENHANCEDSTATUSCODES']) {
      assert.ok(result.capabilities?.keywords[keyword] !== undefined, `EHLO advertises ${keyword}`);
    }
    const message = await arrived;
    assert.ok(readFileSync(message.path).equals(body));
    assert.equal(message.envelope?.mailFrom, 'jöran@exämple.test');
    assert.deepEqual(message.envelope?.rcptTo, ['用户@例子.test']);
    assert.equal(message.envelope?.smtpUtf8, true);
    assert.equal(message.envelope?.bodyType, '8bitmime');
    assert.equal(message.subject, 'Grüße 🌍');
    assert.equal(message.from, 'Jöran <jöran@exämple.test>');
  });
});

test('SIZE: a declared or actual size over the limit gets 552 and nothing is stored; the session goes on', async () => {
  await withCaptureServer({ sizeLimit: 1000 }, async (server) => {
    const big = ['Subject: big', '', ...Array.from({ length: 40 }, (_, i) => `line ${i} ${'y'.repeat(60)}`)];
    const plan = makePlan({
      steps: [
        cmd('EHLO client.example.test'),
        cmd('MAIL FROM:<alice@example.test> SIZE=5000', '552'),
        cmd('MAIL FROM:<alice@example.test>'),
        cmd('RCPT TO:<bob@example.test>'),
        data(big, '552'),
        cmd('MAIL FROM:<alice@example.test>'),
        cmd('RCPT TO:<bob@example.test>'),
        data(['Subject: small', '', 'fits']),
        cmd('QUIT'),
      ],
    });
    const result = await sendLocal(server, plan);
    assert.equal(result.ok, true, why(result));
    assert.equal(result.capabilities?.size, 1000);
    assert.match(result.steps[4].reply?.lines.join(' ') ?? '', /^552 5\.3\.4 /);
    const list = await server.list();
    assert.equal(list.length, 1);
    assert.equal(list[0].subject, 'small');
    assert.deepEqual(readdirSync(join(server.dir, '.smtpwb-incoming')), [], 'no partial file is left');
  });
});

test('a failed TLS handshake, garbage and clients that vanish do not crash the server', async () => {
  const log: CaptureLogEntry[] = [];
  await withCaptureServer({ logger: (entry) => log.push(entry) }, async (server) => {
    // 1. STARTTLS, then bytes that are no TLS ClientHello.
    const garbage = await RawSmtp.connect(server.host, server.port);
    await garbage.read();
    await garbage.command('EHLO x.example.test');
    assert.equal((await garbage.command('STARTTLS')).code, 220);
    garbage.write('this is not a TLS handshake\r\n'.repeat(20));
    await new Promise((resolve) => setTimeout(resolve, 100));
    garbage.destroy();

    // 2. STARTTLS, then a client that refuses the self-signed certificate and aborts the handshake.
    const strict = await RawSmtp.connect(server.host, server.port);
    await strict.read();
    await strict.command('EHLO x.example.test');
    await assert.rejects(strict.starttls(undefined as unknown as string, 'localhost'), /self.signed|certificate/i);
    strict.destroy();

    // 3. A client that goes away in the middle of DATA: nothing is stored.
    const quitter = await RawSmtp.connect(server.host, server.port);
    await quitter.read();
    await quitter.command('EHLO x.example.test');
    await quitter.command('MAIL FROM:<a@example.test>');
    await quitter.command('RCPT TO:<b@example.test>');
    assert.equal((await quitter.command('DATA')).code, 354);
    quitter.write('Subject: half\r\n\r\nhalf a messa');
    await new Promise((resolve) => setTimeout(resolve, 50));
    quitter.destroy();

    // 4. A line far over the command length limit, and a connection closed before the greeting.
    const long = await RawSmtp.connect(server.host, server.port);
    await long.read();
    long.write(`${'A'.repeat(40_000)}\r\n`);
    await long.read().catch(() => undefined);
    long.destroy();
    await new Promise<void>((resolve) => net.connect(server.port, server.host, function (this: net.Socket) {
      this.destroy();
      resolve();
    }));

    // 5. A direct TLS ClientHello on the plaintext port.
    await new Promise<void>((resolve) => {
      const socket = tls.connect({ host: server.host, port: server.port, rejectUnauthorized: false });
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
      setTimeout(() => socket.destroy(), 500);
    });

    await new Promise((resolve) => setTimeout(resolve, 100));
    // The server still takes mail.
    const arrived = nextMessage(server);
    const result = await sendLocal(
      server,
      makePlan({ steps: [cmd('EHLO ok.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), data(['Subject: after', '', 'ok']), cmd('QUIT')] }),
    );
    assert.equal(result.ok, true, why(result));
    assert.equal((await arrived).subject, 'after');
    assert.equal((await server.list()).length, 1, 'the half message was not stored');
    assert.deepEqual(readdirSync(join(server.dir, '.smtpwb-incoming')), []);
    assert.ok(log.some((e) => e.level === 'warn'), `client errors are logged: ${JSON.stringify(log)}`);
  });
});

test('many concurrent clients, and many pipelined transactions on one connection', async () => {
  await withCaptureServer({}, async (server) => {
    const clients = 40;
    const results = await Promise.all(
      Array.from({ length: clients }, (_, i) =>
        sendLocal(
          server,
          makePlan({
            steps: [
              cmd(`EHLO client${i}.example.test`),
              cmd(`MAIL FROM:<sender${i}@example.test>`),
              cmd(`RCPT TO:<rcpt${i}@example.test>`),
              data([`Subject: message ${i}`, '', `body ${i}`, '..dot line']),
              cmd('QUIT'),
            ],
          }),
        ),
      ),
    );
    for (const r of results) assert.equal(r.ok, true, why(r));
    const steps = [cmd('EHLO batch.example.test')];
    for (let i = 0; i < 10; i++) steps.push(cmd('MAIL FROM:<batch@example.test>'), cmd(`RCPT TO:<n${i}@example.test>`), data([`Subject: batch ${i}`, '', 'x']));
    steps.push(cmd('QUIT'));
    const batch = await sendLocal(server, makePlan({ options: { pipelining: true }, steps }));
    assert.equal(batch.ok, true, why(batch));
    const list = await server.list();
    assert.equal(list.length, clients + 10);
    for (const message of list) {
      const n = /^message (\d+)$/.exec(message.subject ?? '');
      if (!n) continue;
      assert.equal(readFileSync(message.path, 'latin1'), `Subject: message ${n[1]}\r\n\r\nbody ${n[1]}\r\n.dot line\r\n`);
      assert.deepEqual(message.envelope?.rcptTo, [`rcpt${n[1]}@example.test`]);
    }
    assert.equal(new Set(list.map((m) => m.id)).size, list.length, 'ids are unique');
  });
});

test('list is newest first; delete and clear remove messages and sidecars and report changes', async () => {
  await withCaptureServer({}, async (server) => {
    let changes = 0;
    const subscription = server.onChange(() => changes++);
    const send = (subject: string): Promise<unknown> =>
      sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), data([`Subject: ${subject}`, '', 'x']), cmd('QUIT')] }));
    for (const subject of ['first', 'second', 'third']) {
      await send(subject);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    let list = await server.list();
    assert.deepEqual(list.map((m) => m.subject), ['third', 'second', 'first']);
    assert.equal(changes, 3);
    assert.equal((await server.get(list[1].id))?.subject, 'second');
    assert.equal(await server.delete(list[1].id), true);
    assert.equal(existsSync(list[1].path), false);
    assert.equal(existsSync(list[1].envelopePath), false);
    assert.equal(await server.delete(list[1].id), false);
    assert.equal(await server.delete('../../etc/passwd'), false);
    assert.equal(await server.get('nope'), undefined);
    await assert.rejects(server.read('nope'), /no message/);
    list = await server.list();
    assert.deepEqual(list.map((m) => m.subject), ['third', 'first']);
    assert.equal(changes, 4);
    assert.equal(await server.clear(), 2);
    assert.deepEqual(await server.list(), []);
    assert.deepEqual(readdirSync(server.dir).filter((n) => !n.startsWith('.')), []);
    assert.ok(existsSync(join(server.dir, CERT_FOLDER, 'cert.pem')), 'clear keeps the certificate');
    assert.equal(changes, 5);
    subscription.dispose();
    // A listener that throws does not disturb the server.
    server.onMessage(() => {
      throw new Error('listener failure');
    });
    await send('after a bad listener');
    assert.equal((await server.list())[0].subject, 'after a bad listener');
  });
});

test('a message whose sidecar is gone is still listed from its own header fields', async () => {
  await withCaptureServer({}, async (server) => {
    await sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), data(['From: x@example.test', 'Subject: orphan', '', 'x']), cmd('QUIT')] }));
    const [message] = await server.list();
    // Removed by hand: the store's index notices by the folder's names (a sidecar changed in place is not read again).
    rmSync(message.envelopePath);
    const [again] = await server.list();
    assert.equal(again.subject, 'orphan');
    assert.equal(again.from, 'x@example.test');
    assert.equal(again.envelope, undefined);
    assert.equal(again.size, message.size);
  });
});

test('AUTH with a configured account: wrong credentials get 535, PLAIN, LOGIN and CRAM-MD5 pass', async () => {
  await withCaptureServer({ auth: { user: 'user', pass: 'secret' } }, async (server) => {
    assert.equal(server.authMode, 'account');
    const tlsOptions = { verify: true, ca: server.certificatePath };
    const result = await sendLocal(
      server,
      makePlan({
        tls: tlsOptions,
        steps: [cmd('EHLO c.example.test'), starttls(), cmd('EHLO c.example.test'), auth('PLAIN', 'user', 'wrong', '535'), auth('LOGIN', 'user', 'secret'), cmd('QUIT')],
      }),
    );
    assert.equal(result.ok, true, why(result));
    for (const mechanism of ['PLAIN', 'CRAM-MD5'] as const) {
      const r = await sendLocal(server, makePlan({ tls: tlsOptions, steps: [cmd('EHLO c.example.test'), starttls(), cmd('EHLO c.example.test'), auth(mechanism, 'user', 'secret'), cmd('QUIT')] }));
      assert.equal(r.ok, true, why(r));
    }
    const bad = await sendLocal(server, makePlan({ tls: tlsOptions, steps: [cmd('EHLO c.example.test'), starttls(), cmd('EHLO c.example.test'), auth('CRAM-MD5', 'user', 'nope', '535'), cmd('QUIT')] }));
    assert.equal(bad.ok, true, why(bad));
  });
});

test('requireAuth refuses mail before AUTH with 530; cleartext AUTH is allowed on loopback', async () => {
  await withCaptureServer({ requireAuth: true, tls: false }, async (server) => {
    assert.equal(server.certificatePem, undefined);
    const result = await sendLocal(
      server,
      makePlan({
        options: { allowCleartextAuth: true },
        steps: [
          cmd('EHLO c.example.test'),
          cmd('MAIL FROM:<a@example.test>', '530'),
          auth('LOGIN', 'anyone', 'anything'),
          cmd('MAIL FROM:<a@example.test>'),
          cmd('RCPT TO:<b@example.test>'),
          data(['Subject: authed', '', 'x']),
          cmd('QUIT'),
        ],
      }),
    );
    assert.equal(result.ok, true, why(result));
    assert.equal(result.capabilities?.keywords.STARTTLS, undefined, 'no STARTTLS with tls: false');
    const [message] = await server.list();
    assert.deepEqual(message.envelope?.auth, { method: 'LOGIN', username: 'anyone' });
    assert.equal(message.envelope?.tls, null);
    assert.equal(message.envelope?.transmissionType, 'ESMTPA');
  });
});

test('the generated certificate covers localhost, 127.0.0.1 and ::1, and is kept across restarts', async () => {
  const dir = makeTempDir('inbox-cert');
  try {
    const first = await startCaptureServer({ dir });
    await first.stop();
    const second = await startCaptureServer({ dir });
    await second.stop();
    assert.ok(first.certificatePem !== undefined && first.certificatePem === second.certificatePem, 'the same certificate is reused');
    const cert = new X509Certificate(first.certificatePem);
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.ok(cert.checkIP('::1') !== undefined);
    assert.equal(readFileSync(join(dir, CERT_FOLDER, 'cert.pem'), 'utf8'), first.certificatePem);
    // An expired certificate is replaced.
    const old = generateSelfSignedCertificate({ now: new Date(Date.now() - 10 * 86_400_000), validDays: 2 });
    mkdirSync(join(dir, CERT_FOLDER), { recursive: true });
    writeFileSync(join(dir, CERT_FOLDER, 'cert.pem'), old.certPem);
    writeFileSync(join(dir, CERT_FOLDER, 'key.pem'), old.keyPem);
    const third = await startCaptureServer({ dir });
    await third.stop();
    assert.notEqual(third.certificatePem, old.certPem);
    assert.ok(new Date(new X509Certificate(third.certificatePem ?? '').validTo).getTime() > Date.now() + 365 * 86_400_000);
  } finally {
    removeTempDir(dir);
  }
});

test('STARTTLS verifies by IP address too (no SNI), and [::1] works when IPv6 loopback is there', async () => {
  await withCaptureServer({}, async (server) => {
    const plan = makePlan({ tls: { verify: true, ca: server.certificatePath }, steps: [cmd('EHLO c.example.test'), starttls(), cmd('EHLO c.example.test'), cmd('QUIT')] });
    const result = await sendLocal(server, plan);
    assert.equal(result.ok, true, why(result));
    assert.equal(result.tls?.verified, true);
  });
  let v6: CaptureServer | undefined;
  const dir = makeTempDir('inbox-v6');
  try {
    v6 = await startCaptureServer({ dir, host: '::1' });
  } catch {
    removeTempDir(dir);
    return; // No IPv6 loopback in this container.
  }
  try {
    assert.equal(v6.address, `[::1]:${v6.port}`);
    const plan = makePlan({ tls: { verify: true, ca: v6.certificatePath }, steps: [cmd('EHLO c.example.test'), starttls(), cmd('QUIT')] });
    const result = await sendLocal(v6, plan);
    assert.equal(result.ok, true, why(result));
    assert.equal(result.tls?.verified, true);
  } finally {
    await v6.stop();
    removeTempDir(dir);
  }
});

test('a port in use is an error; stop() ends idle sessions promptly and is idempotent', async () => {
  await withCaptureServer({}, async (server) => {
    await assert.rejects(startCaptureServer({ dir: server.dir, port: server.port }), /EADDRINUSE/);
    const idle = await RawSmtp.connect(server.host, server.port);
    await idle.read();
    const started = Date.now();
    await server.stop();
    await server.stop();
    assert.ok(Date.now() - started < 5000, `stop took ${Date.now() - started} ms`);
    const reply = await idle.read().catch(() => undefined);
    if (reply) assert.equal(reply.code, 421);
    idle.destroy();
  });
});

test('the folder can be removed while the server runs; stale partial files are cleaned at start', async () => {
  const dir = makeTempDir('inbox-gone');
  try {
    mkdirSync(join(dir, '.smtpwb-incoming'), { recursive: true });
    const stale = join(dir, '.smtpwb-incoming', 'old.part');
    const fresh = join(dir, '.smtpwb-incoming', 'new.part');
    writeFileSync(stale, 'half');
    writeFileSync(fresh, 'half');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    utimesSync(stale, twoHoursAgo, twoHoursAgo);
    await withCaptureServer({ dir, tls: false }, async (server) => {
      assert.equal(existsSync(stale), false, 'a partial file from over an hour ago is removed');
      assert.equal(existsSync(fresh), true, 'a recent one may belong to another running server');
      rmSync(dir, { recursive: true, force: true });
      const result = await sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), data(['Subject: again', '', 'x']), cmd('QUIT')] }));
      assert.equal(result.ok, true, why(result));
      assert.deepEqual((await server.list()).map((m) => m.subject), ['again']);
    });
  } finally {
    removeTempDir(dir);
  }
});

test('SMTPUTF8 (RFC 6531 §3.4, §3.7.4.1): a non-ASCII address without the MAIL parameter gets 553 5.6.7, also when a rule hides SMTPUTF8', async () => {
  const hidden = parseCaptureRules(JSON.stringify({ version: 1, rules: [{ name: 'no utf8', extensions: { hide: ['SMTPUTF8'] } }] }));
  assert.deepEqual(hidden.problems, []);
  for (const rules of [undefined, hidden.rules]) {
    await withCaptureServer({ tls: false, rules }, async (server) => {
      const raw = await RawSmtp.connect(server.host, server.port);
      const utf8 = async (line: string): Promise<{ code: number; raw: string }> => {
        raw.write(Buffer.from(`${line}\r\n`, 'utf8'));
        return raw.read();
      };
      try {
        await raw.read();
        const ehlo = await raw.command('EHLO client.example.test');
        assert.equal(ehlo.lines.includes('SMTPUTF8'), rules === undefined, ehlo.raw);
        // A non-ASCII sender without SMTPUTF8 is refused, in the local part and in the domain.
        for (const sender of ['jörg@example.test', 'joerg@exämple.test']) {
          const refused = await utf8(`MAIL FROM:<${sender}>`);
          assert.equal(refused.code, 553, refused.raw);
          assert.match(refused.raw, /^553 5\.6\.7 /);
        }
        // An A-label domain is ASCII: accepted without SMTPUTF8 (smtp-server shows it as a U-label).
        assert.equal((await raw.command('MAIL FROM:<joerg@xn--exmple-cua.test>')).code, 250);
        assert.equal((await raw.command('RSET')).code, 250);
        // A non-ASCII recipient in a transaction whose MAIL had no SMTPUTF8 is refused; ASCII ones are not.
        assert.equal((await raw.command('MAIL FROM:<a@example.test>')).code, 250);
        const rcpt = await utf8('RCPT TO:<用户@例子.test>');
        assert.equal(rcpt.code, 553, rcpt.raw);
        assert.match(rcpt.raw, /^553 5\.6\.7 /);
        assert.equal((await raw.command('RCPT TO:<b@example.test>')).code, 250);
        assert.equal((await raw.command('RSET')).code, 250);
        // With SMTPUTF8 offered the parameter makes both acceptable; hidden, the parameter itself is
        // refused as one of an extension that was not advertised (RFC 5321 §4.1.1.11).
        const withParameter = await utf8('MAIL FROM:<jörg@exämple.test> SMTPUTF8');
        if (rules === undefined) {
          assert.equal(withParameter.code, 250, withParameter.raw);
          assert.equal((await utf8('RCPT TO:<用户@例子.test>')).code, 250);
        } else {
          assert.equal(withParameter.code, 555, withParameter.raw);
          assert.match(withParameter.raw, /^555 5\.5\.4 /);
        }
        await raw.quit();
      } finally {
        raw.destroy();
      }
      assert.equal((await server.list()).length, 0);
    });
  }
});
