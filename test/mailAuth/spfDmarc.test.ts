// SPF (RFC 7208) and DMARC (RFC 7489) through verifyCommand against a real Knot serving a fixture
// zone; identities from the caller and from the top Received field; exit codes 0, 1, 2 and 3.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKnot, type KnotPeer } from '../peers/knot';
import { verifyCommand } from '../../client/src/cli/verifyCommand';
import type { AuthReport } from '../../client/src/mailAuth/verify';
import { captureIo, exampleZone, makeKeys, ROOT_ZONE, sampleMessage } from './fixtures';

let knot: KnotPeer;
let dir: string;

before(async () => {
  knot = await startKnot({ zones: { '': ROOT_ZONE, 'example.test': exampleZone(makeKeys()) } });
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-spf-'));
});

after(async () => {
  await knot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function verify(name: string, message: Buffer, args: string[], json = true): Promise<{ code: number; report?: AuthReport; out: string; err: string }> {
  writeFileSync(join(dir, name), message);
  const cap = captureIo(dir);
  const code = await verifyCommand([name, '--dns-server', knot.address, '--authserv-id', 'mx.test', ...(json ? ['--json'] : []), ...args], cap.io);
  const out = cap.stdout().toString('utf8');
  return { code, report: json && out ? (JSON.parse(out) as AuthReport) : undefined, out, err: cap.stderr() };
}

const RECEIVED_OK = 'Received: from mail.example.test (mail.example.test [198.51.100.10])\r\n\tby mx.test (Postfix) with ESMTPS id 4ABC; Mon, 23 Nov 2026 04:00:01 +0000';
const RECEIVED_BAD = 'Received: from relay.elsewhere.test ([192.0.2.55] helo=relay.elsewhere.test)\r\n\tby mx.test with esmtp (Exim 4.96)\r\n\t(envelope-from <alice@example.test>)\r\n\tid 1xyz; Mon, 23 Nov 2026 04:00:01 +0000';

test('SPF pass from the top Received field and Return-Path; DMARC passes through aligned SPF', async () => {
  const msg = sampleMessage('alice@example.test', ['Return-Path: <alice@example.test>', RECEIVED_OK, 'Received: from other.test (other.test [192.0.2.99]) by mail.example.test; Mon, 23 Nov 2026 03:59:00 +0000']);
  const { code, report } = await verify('spf-pass.eml', msg, []);
  assert.ok(report);
  assert.equal(code, 0, JSON.stringify(report, null, 2));
  assert.equal(report.smtp.ip, '198.51.100.10');
  assert.equal(report.smtp.sources.ip, 'received');
  assert.equal(report.smtp.helo, 'mail.example.test');
  assert.equal(report.smtp.mailFrom, 'alice@example.test');
  assert.equal(report.smtp.sources.mailFrom, 'return-path');
  assert.equal(report.smtp.receivedIndex, 0);
  assert.equal(report.spf.result, 'pass');
  assert.equal(report.spf.details.domain, 'example.test');
  assert.equal(report.dkim[0].result, 'none');
  assert.equal(report.dkim[0].reason, 'message not signed');
  assert.equal(report.dmarc.result, 'pass');
  assert.equal(report.dmarc.failed, false);
  assert.match(report.authenticationResults, /^Authentication-Results: mx\.test;\r\n dkim=none \(message not signed\);\r\n spf=pass /);
  assert.match(report.authenticationResults, /smtp\.mailfrom=alice@example\.test/);
  assert.match(report.authenticationResults, /dmarc=pass/);
  assert.match(report.receivedSpf ?? '', /^Received-SPF: pass/);
});

test('SPF fail (-all) for an address outside the record; DMARC fails with p=reject; exit 1', async () => {
  const msg = sampleMessage('alice@example.test', [RECEIVED_BAD]);
  const { code, report } = await verify('spf-fail.eml', msg, []);
  assert.ok(report);
  assert.equal(code, 1);
  // Exim's form: the IP and helo= come from the comment, MAIL FROM from (envelope-from <…>).
  assert.equal(report.smtp.ip, '192.0.2.55');
  assert.equal(report.smtp.helo, 'relay.elsewhere.test');
  assert.equal(report.smtp.mailFrom, 'alice@example.test');
  assert.equal(report.smtp.sources.mailFrom, 'received');
  assert.equal(report.spf.result, 'fail');
  assert.equal(report.spf.failed, true);
  assert.match(report.spf.reason ?? '', /does not designate 192\.0\.2\.55 as permitted sender/);
  assert.equal(report.dmarc.result, 'fail');
  assert.equal(report.dmarc.details.policy, 'reject');
  assert.match(report.authenticationResults, /spf=fail/);
  assert.match(report.authenticationResults, /dmarc=fail/);
});

test('caller identities override the Received field; a softfail (~all) is reported as failing', async () => {
  const msg = sampleMessage('bob@softfail.example.test', [RECEIVED_OK]);
  const { code, report } = await verify('softfail.eml', msg, ['--ip', '198.51.100.7', '--helo', 'client.softfail.example.test', '--mail-from', 'bob@softfail.example.test']);
  assert.ok(report);
  assert.equal(code, 1);
  assert.equal(report.smtp.sources.ip, 'caller');
  assert.equal(report.smtp.helo, 'client.softfail.example.test');
  assert.equal(report.spf.result, 'softfail');
  assert.equal(report.spf.details.domain, 'softfail.example.test');
  // The organisational domain's record applies to the subdomain (RFC 7489 §6.6.3); nothing aligns.
  assert.equal(report.dmarc.result, 'fail');
});

test('no client IP anywhere: SPF is none with a reason, and the text output shows every method', async () => {
  const { code, out } = await verify('noip.eml', sampleMessage(), [], false);
  assert.equal(code, 1, out); // DMARC fails: neither DKIM nor SPF passes, and p=reject.
  assert.match(out, /^DKIM +none/m);
  assert.match(out, /^SPF +none/m);
  assert.match(out, /reason: no SMTP client IP address/);
  assert.match(out, /^DMARC +fail ✗/m);
  assert.match(out, /^ARC +none/m);
  assert.match(out, /^BIMI +skipped/m);
  assert.match(out, /^Authentication-Results: mx\.test;$/m);
});

test('a DMARC record with a tag twice is invalid: no policy is read from it, as the Mail DNS check decides (RFC 9989 §4.7)', async () => {
  const { report } = await verify('dup.eml', sampleMessage('carol@dup.example.test'), ['--ip', '192.0.2.1', '--mail-from', 'carol@dup.example.test']);
  assert.ok(report);
  assert.equal(report.dmarc.result, 'none', JSON.stringify(report.dmarc));
  assert.equal(report.dmarc.details['requested policy'], undefined);
  assert.match(report.dmarc.details['duplicate tags'] ?? '', /^p \(a tag twice makes the record invalid, RFC 9989 §4\.7: no policy is read from it\)$/);
  assert.match(report.dmarc.reason ?? '', /more than once, which makes it invalid/);
});

test('without exactly one Author Domain (two From fields, two From domains, no From) DMARC is a permerror and the exit status 1 (RFC 9989 §5.3.1, §11.5)', async () => {
  const one = sampleMessage('alice@example.test');
  const withFrom = (from: string[]): Buffer => Buffer.from(one.toString('latin1').replace(/^From: .*\r\n/m, from.map((f) => `${f}\r\n`).join('')), 'latin1');
  const cases: Array<{ name: string; message: Buffer; reason: RegExp }> = [
    { name: 'two-fields.eml', message: withFrom(['From: a@example.test', 'From: b@evil.test']), reason: /2 From fields, where RFC 5322 §3\.6 allows exactly one \(domains: example\.test, evil\.test\)/ },
    { name: 'two-fields-one-domain.eml', message: withFrom(['From: a@example.test', 'From: b@example.test']), reason: /2 From fields, where RFC 5322 §3\.6 allows exactly one \(all of example\.test\)/ },
    { name: 'two-domains.eml', message: withFrom(['From: a@example.test, b@evil.test']), reason: /the From field names 2 domains \(example\.test, evil\.test\)/ },
    { name: 'no-from.eml', message: withFrom([]), reason: /the message has no From field/ },
  ];
  for (const c of cases) {
    // SPF passes and aligns with example.test, which publishes p=reject: the message must still not pass quietly.
    const { code, report } = await verify(c.name, c.message, ['--ip', '198.51.100.10', '--mail-from', 'a@example.test']);
    assert.ok(report, c.name);
    assert.equal(report.spf.result, 'pass', c.name);
    assert.equal(report.dmarc.result, 'permerror', c.name);
    assert.equal(report.dmarc.failed, true, c.name);
    assert.match(report.dmarc.reason ?? '', c.reason, c.name);
    assert.match(report.dmarc.reason ?? '', /DMARC validation is not possible \(RFC 9989 §5\.3\.1\)/, c.name);
    assert.match(report.authenticationResults, /dmarc=permerror \(/, c.name);
    assert.equal(report.failed, true, c.name);
    assert.equal(code, 1, c.name);
    const text = await verify(c.name, c.message, ['--ip', '198.51.100.10', '--mail-from', 'a@example.test'], false);
    assert.equal(text.code, 1, c.name);
    assert.match(text.out, /DMARC\s+permerror/, `${c.name}: ${text.out}`);
  }
  // The same message with one From of one domain passes: the permerrors above come from the From fields alone.
  const { code, report } = await verify('one-from.eml', withFrom(['From: a@example.test, c@example.test']), ['--ip', '198.51.100.10', '--mail-from', 'a@example.test']);
  assert.equal(report?.dmarc.result, 'pass');
  assert.equal(code, 0);
});

test('an unreachable DNS server exits 3', async () => {
  // A UDP port that nothing listens on: bind one, note its number and close it.
  const port = await new Promise<number>((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  writeFileSync(join(dir, 'dns.eml'), sampleMessage());
  const cap = captureIo(dir);
  const code = await verifyCommand(['dns.eml', '--dns-server', `127.0.0.1:${port}`, '--ip', '127.0.0.1'], cap.io);
  assert.equal(code, 3, cap.stdout().toString() + cap.stderr());
  assert.match(cap.stderr(), /did not answer/);
});

test('usage errors exit 2', async () => {
  const cap = captureIo(dir);
  assert.equal(await verifyCommand([], cap.io), 2);
  assert.equal(await verifyCommand(['x.eml', '--ip', 'not-an-ip'], cap.io), 2);
  // A server name that does not resolve is an error too; that path is tested with a lookup table in
  // test/cli/options.test.ts, since the suite never asks the system resolver.
  assert.equal(await verifyCommand(['x.eml', '--dns-server', 'dns.example:port'], cap.io), 2);
  assert.equal(await verifyCommand(['x.eml', '--bogus'], cap.io), 2);
  assert.equal(await verifyCommand(['does-not-exist.eml'], cap.io), 2);
  assert.match(cap.stderr(), /usage: smtpwb verify/);
});
