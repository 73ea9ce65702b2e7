// Authentication of what arrived: with `verify`, each captured message is verified (DKIM, SPF with
// the connecting IP and HELO, DMARC, ARC) against a real Knot serving the zones, and the result is
// stored in its sidecar, shown by the API and by `serve` (on by default).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createResolver, publicKeyRecord, signMessage, type MailauthResolver } from '../../client/src/mailAuth';
import { MessageStore, startCaptureServer, type StoredMessage } from '../../client/src/localServer';
import { PassThrough } from 'node:stream';
import { serveCommand } from '../../client/src/cli/serveCommand';
import { runSession } from '../../client/src/engine';
import { startKnot } from '../peers/knot';
import { makeTempDir, removeTempDir } from '../peers/process';
import { cmd, data, makePlan, sendLocal, why, withCaptureServer } from './support';

test('verify: a signed, SPF-aligned message passes; a forged one fails; both results are in the sidecar', async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const knot = await startKnot({
    zones: {
      'example.test': [
        '@ TXT "v=spf1 ip4:127.0.0.1 -all"',
        '_dmarc TXT "v=DMARC1; p=reject"',
        `sel._domainkey TXT "${publicKeyRecord(privateKeyPem)}"`,
        'client TXT "v=spf1 ip4:127.0.0.1 -all"',
      ].join('\n'),
      'other.test': ['@ TXT "v=spf1 -all"', '_dmarc TXT "v=DMARC1; p=reject"'].join('\n'),
    },
  });
  try {
    const resolver = createResolver({ server: knot.address, timeoutMs: 2000, tries: 2 });
    await withCaptureServer({ tls: false, verify: { resolver } }, async (server) => {
      const verified = (n: number): Promise<StoredMessage[]> =>
        new Promise((done) => {
          const got: StoredMessage[] = [];
          const subscription = server.onAuthenticated((m) => {
            got.push(m);
            if (got.length === n) {
              subscription.dispose();
              done(got);
            }
          });
        });
      const arrived = verified(2);
      const body = Buffer.from('From: Alice <alice@example.test>\r\nTo: <bob@example.test>\r\nSubject: signed\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <s@example.test>\r\n\r\nhello\r\n');
      const signed = await signMessage(body, { domain: 'example.test', selector: 'sel', privateKeyPem });
      const good = await sendLocal(
        server,
        makePlan({ steps: [cmd('EHLO client.example.test'), cmd('MAIL FROM:<alice@example.test>'), cmd('RCPT TO:<bob@example.test>'), data({ file: '/virtual/signed.eml' }), cmd('QUIT')] }),
        async () => signed,
      );
      assert.equal(good.ok, true, why(good));
      const forged = await sendLocal(
        server,
        makePlan({
          steps: [cmd('EHLO client.example.test'), cmd('MAIL FROM:<ceo@other.test>'), cmd('RCPT TO:<bob@example.test>'), data(['From: <ceo@other.test>', 'Subject: forged', '', 'pay now']), cmd('QUIT')],
        }),
      );
      assert.equal(forged.ok, true, why(forged));
      const results = await arrived;
      const bySubject = new Map(results.map((m) => [m.subject, m.authentication]));
      const pass = bySubject.get('signed');
      assert.deepEqual(pass?.dkim.map((d) => [d.result, d.domain, d.selector]), [['pass', 'example.test', 'sel']]);
      assert.equal(pass?.spf.result, 'pass');
      assert.equal(pass?.dmarc.result, 'pass');
      assert.equal(pass?.failed, false);
      assert.match(pass?.authenticationResults ?? '', /spf=pass/);
      const fail = bySubject.get('forged');
      assert.equal(fail?.spf.result, 'fail');
      assert.equal(fail?.dmarc.result, 'fail');
      assert.equal(fail?.failed, true);
      // Stored in the sidecar, so a later listing shows it too.
      const listed = await server.list();
      for (const m of listed) {
        const sidecar = JSON.parse(readFileSync(m.envelopePath, 'utf8')) as { authentication?: { spf: { result: string } } };
        assert.equal(sidecar.authentication?.spf.result, m.subject === 'signed' ? 'pass' : 'fail');
        assert.equal(m.authentication?.spf.result, sidecar.authentication?.spf.result);
      }
    });
  } finally {
    await knot.stop();
  }
});

test('serve verifies by default (--dns-server) and prints each message\'s authentication; --no-verify with --dns-server is a usage error', async () => {
  const knot = await startKnot({ zones: { 'other.test': ['@ TXT "v=spf1 -all"', '_dmarc TXT "v=DMARC1; p=reject"'].join('\n') } });
  const dir = makeTempDir('serve-verify');
  const controller = new AbortController();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const running = serveCommand(['--port', '0', '--no-tls', '--dir', 'box', '--dns-server', knot.address], { stdout, stderr, env: {}, cwd: dir, signal: controller.signal });
  try {
    for (let i = 0; i < 200 && !/listening on/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    const [, host, port] = /listening on (\S+):(\d+)/.exec(out) ?? [];
    assert.match(out, /verifying what arrives \(DKIM, SPF, DMARC, ARC\) with the DNS server 127\.0\.0\.1:\d+/);
    const result = await runSession(
      makePlan({ steps: [cmd('EHLO client.example.test'), cmd('MAIL FROM:<ceo@other.test>'), cmd('RCPT TO:<bob@example.test>'), data(['From: <ceo@other.test>', 'Subject: forged', '', 'x']), cmd('QUIT')] }),
      { localTarget: { host, port: Number(port) } },
    );
    assert.equal(result.ok, true, why(result));
    for (let i = 0; i < 200 && !/FAILED/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /\[[0-9a-f]+\] FAILED .*spf=fail.*dmarc=fail/);
  } finally {
    controller.abort();
    assert.equal(await running, 0);
    removeTempDir(dir);
    await knot.stop();
  }
  const usage = new PassThrough();
  let err = '';
  usage.on('data', (c: Buffer) => (err += c.toString()));
  assert.equal(await serveCommand(['--no-verify', '--dns-server', '127.0.0.1:53'], { stdout: new PassThrough(), stderr: usage, env: {}, cwd: process.cwd() }), 2);
  assert.match(err, /--dns-server is for the verification, which --no-verify turns off/);
});

test('verification: one DNS question per name and type for many messages of one domain; a stop cuts a hanging one short and says so', async () => {
  const asked = new Map<string, number>();
  let hang = false;
  const resolver: MailauthResolver = (name, rrtype) => {
    const key = `${rrtype} ${name}`;
    asked.set(key, (asked.get(key) ?? 0) + 1);
    if (hang) return new Promise<never>(() => undefined);
    return Promise.reject(Object.assign(new Error(`${rrtype} ${name} ENOTFOUND`), { code: 'ENOTFOUND' }));
  };
  const dir = makeTempDir('verify-queue');
  const log: string[] = [];
  const server = await startCaptureServer({ dir, tls: false, verify: { resolver }, logger: (e) => log.push(e.message) });
  try {
    const verified: StoredMessage[] = [];
    let allVerified: () => void = () => undefined;
    const done = new Promise<void>((resolveDone) => (allVerified = resolveDone));
    server.onAuthenticated((m) => {
      verified.push(m);
      if (verified.length === 20) allVerified();
    });
    const steps = [cmd('EHLO client.example.test')];
    for (let i = 0; i < 20; i++) steps.push(cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), data(['From: <a@example.test>', `Subject: m${i}`, '', 'x'], '250'));
    const sent = await sendLocal(server, makePlan({ steps: [...steps, cmd('QUIT')] }));
    assert.equal(sent.ok, true, why(sent));
    await done;
    assert.ok(asked.size > 0, 'the verifier asked DNS');
    for (const [key, count] of asked) assert.equal(count, 1, `${key} was asked ${count} times`);
    for (const m of verified) assert.equal(m.authentication?.spf.result, 'none');

    // A DNS server that never answers: the stop does not wait for it beyond its bound.
    hang = true;
    const hanging = await sendLocal(server, makePlan({ steps: [cmd('EHLO client.example.test'), cmd('MAIL FROM:<a@hangs.test>'), cmd('RCPT TO:<b@example.test>'), data(['From: <a@hangs.test>', 'Subject: hangs', '', 'x'], '250'), cmd('QUIT')] }));
    assert.equal(hanging.ok, true, why(hanging));
  } finally {
    await server.stop();
  }
  try {
    assert.ok(log.some((l) => /1 message was not verified before the server stopped/.test(l)), log.join('\n'));
    const store = new MessageStore(dir);
    const hangs = (await store.list()).find((m) => m.subject === 'hangs');
    assert.ok(hangs, 'the message is stored');
    // Either the stop cut its verification short (recorded with the reason), or it never started.
    if (hangs.authentication) assert.match(hangs.authentication.error ?? '', /the server stopped before the verification finished/);
  } finally {
    removeTempDir(dir);
  }
});

test('a server name that cannot be an authserv-id (RFC 8601 §2.2) is refused at start, not on every message', async () => {
  const dir = makeTempDir('verify-name');
  try {
    await assert.rejects(
      startCaptureServer({ dir, tls: false, name: 'bad name; x=y', verify: { resolver: createResolver({ timeoutMs: 100 }) } }),
      (error: Error) => error instanceof RangeError && /cannot be an authserv-id/.test(error.message),
    );
  } finally {
    removeTempDir(dir);
  }
});
