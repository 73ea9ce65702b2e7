// Authentication of what arrived: with `verify`, each captured message is verified (DKIM, SPF with
// the connecting IP and HELO, DMARC, ARC) against a real Knot serving the zones, and the result is
// stored in its sidecar, shown by the API and by `serve --verify`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createResolver, publicKeyRecord, signMessage } from '../../client/src/mailAuth';
import type { StoredMessage } from '../../client/src/localServer';
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

test('serve --verify --dns-server prints each message\'s authentication; --dns-server alone is a usage error', async () => {
  const knot = await startKnot({ zones: { 'other.test': ['@ TXT "v=spf1 -all"', '_dmarc TXT "v=DMARC1; p=reject"'].join('\n') } });
  const dir = makeTempDir('serve-verify');
  const controller = new AbortController();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const running = serveCommand(['--port', '0', '--no-tls', '--dir', 'box', '--verify', '--dns-server', knot.address], { stdout, stderr, env: {}, cwd: dir, signal: controller.signal });
  try {
    for (let i = 0; i < 200 && !/listening on/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    const [, host, port] = /listening on (\S+):(\d+)/.exec(out) ?? [];
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
  assert.equal(await serveCommand(['--dns-server', '127.0.0.1:53'], { stdout: new PassThrough(), stderr: usage, env: {}, cwd: process.cwd() }), 2);
  assert.match(err, /--dns-server goes with --verify/);
});
