// The SMTP client's address and EHLO name read from Received fields (RFC 5321 §4.4) as each MTA
// writes them: Exim 4.96, Postfix 3.7, Sendmail 8.17, Google, Microsoft Exchange, Courier and qmail.
// The address must come from the place the receiving MTA writes it, never from the client's EHLO
// argument: a client that says `EHLO [192.0.2.1]` must not choose the address SPF checks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseReceived, returnPath, topReceived } from '../../client/src/mailAuth/received';
import { verifyCommand } from '../../client/src/cli/verifyCommand';
import type { AuthReport } from '../../client/src/mailAuth/verify';
import { startKnot, type KnotPeer } from '../peers/knot';
import { requireBinary } from '../peers/require';
import { captureIo, ROOT_ZONE } from './fixtures';

interface Case {
  name: string;
  field: string;
  ip: string | undefined;
  helo: string | undefined;
  reverseName?: string;
}

const DATE = 'Sun, 06 Dec 2026 16:00:00 +0000';

const CASES: Case[] = [
  // Exim 4.96, default received_header_text ($sender_rcvhost).
  { name: 'Exim, no verified name, port and forged helo literal (tester H1)', field: `from [203.0.113.9] (port=4242 helo=[192.0.2.1]) by mx.other.test with esmtp (Exim 4.96) (envelope-from <alice@example.test>) id 1; ${DATE}`, ip: '203.0.113.9', helo: '[192.0.2.1]' },
  { name: 'Exim, no verified name, forged helo literal, no port (tester H1)', field: `from [203.0.113.9] (helo=[192.0.2.1]) by mx.other.test with esmtp (Exim 4.96) id 1; ${DATE}`, ip: '203.0.113.9', helo: '[192.0.2.1]' },
  { name: 'Exim, no verified name, helo name', field: `from [198.51.100.7] (port=51234 helo=client.example.org) by mx.example.net with esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384 (Exim 4.96) (envelope-from <a@example.org>) id 1rA2bC-000123-4d; ${DATE}`, ip: '198.51.100.7', helo: 'client.example.org' },
  { name: 'Exim, no verified name, ident', field: `from [198.51.100.7] (port=25 helo=c.example ident=joe) by mx with esmtp (Exim 4.96) id 1; ${DATE}`, ip: '198.51.100.7', helo: 'c.example' },
  { name: 'Exim, helo equal to the address: no comment', field: `from [198.51.100.7] by mx.example.net with esmtp (Exim 4.96) id 1; ${DATE}`, ip: '198.51.100.7', helo: '[198.51.100.7]' },
  { name: 'Exim, verified name, forged helo literal', field: `from mail.evil.test ([203.0.113.9] helo=[192.0.2.1]) by mx with esmtp (Exim 4.96) id 1; ${DATE}`, ip: '203.0.113.9', helo: '[192.0.2.1]', reverseName: 'mail.evil.test' },
  { name: 'Exim, verified name with port, forged helo literal', field: `from mail.evil.test ([203.0.113.9]:40000 helo=[192.0.2.1]) by mx with esmtp (Exim 4.96) id 1; ${DATE}`, ip: '203.0.113.9', helo: '[192.0.2.1]', reverseName: 'mail.evil.test' },
  { name: 'Exim, verified name with port, helo same as the name', field: `from mail.example.org ([198.51.100.7]:40000) by mx with esmtp (Exim 4.96) id 1; ${DATE}`, ip: '198.51.100.7', helo: 'mail.example.org' },
  { name: 'Exim, verified name, IPv6 with port', field: `from mail.example.org ([2001:db8::25]:40000 helo=other.example.org) by mx with esmtp (Exim 4.96) id 1; ${DATE}`, ip: '2001:db8::25', helo: 'other.example.org', reverseName: 'mail.example.org' },
  { name: 'Exim, no verified name, IPv6', field: `from [2001:db8::25] (port=40000 helo=[IPv6:2001:db8::1]) by mx with esmtp (Exim 4.96) id 1; ${DATE}`, ip: '2001:db8::25', helo: '[IPv6:2001:db8::1]' },
  { name: 'Exim, local SMTP (-bs): no network client', field: `from joe (helo=client.example) by mx.example.net with local-esmtp (Exim 4.96) id 1; ${DATE}`, ip: undefined, helo: 'client.example' },
  // Postfix 3.7: from HELO (NAME [IP]), NAME "unknown" without a forward-confirmed name.
  { name: 'Postfix, forged helo literal, unknown client (tester H1)', field: `from [192.0.2.1] (unknown [203.0.113.9]) by mx.example.net (Postfix) with ESMTP id 4Q1; ${DATE}`, ip: '203.0.113.9', helo: '[192.0.2.1]' },
  { name: 'Postfix, forged helo literal, named client', field: `from [192.0.2.1] (mail.evil.test [203.0.113.9]) by mx.example.net (Postfix) with ESMTP id 4Q1; ${DATE}`, ip: '203.0.113.9', helo: '[192.0.2.1]', reverseName: 'mail.evil.test' },
  { name: 'Postfix, TLS comment after TCP-info', field: `from mail.example.org (mail.example.org [198.51.100.7]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256) (No client certificate requested) by mx.example.net (Postfix) with ESMTPS id 4Q1 for <bob@example.net>; ${DATE}`, ip: '198.51.100.7', helo: 'mail.example.org' },
  { name: 'Postfix, IPv6', field: `from helo.example (unknown [IPv6:2001:db8::7]) by mx (Postfix) with ESMTP id 4Q1; ${DATE}`, ip: '2001:db8::7', helo: 'helo.example' },
  // Sendmail 8.17.
  { name: 'Sendmail, helo and name', field: `from helo.example (rdns.example [198.51.100.7]) by mx.example.net (8.17.1/8.17.1) with ESMTP id 2B6G0; ${DATE}`, ip: '198.51.100.7', helo: 'helo.example', reverseName: 'rdns.example' },
  { name: 'Sendmail, may be forged, forged helo literal', field: `from [192.0.2.1] (rdns.example [203.0.113.9] (may be forged)) by mx.example.net (8.17.1/8.17.1) with ESMTP id 2B6G0; ${DATE}`, ip: '203.0.113.9', helo: '[192.0.2.1]', reverseName: 'rdns.example' },
  { name: 'Sendmail, no name', field: `from [192.0.2.1] ([203.0.113.9]) by mx.example.net (8.17.1/8.17.1) with ESMTP id 2B6G0; ${DATE}`, ip: '203.0.113.9', helo: '[192.0.2.1]' },
  { name: 'Sendmail, ident user@name', field: `from helo.example (joe@rdns.example [198.51.100.7]) by mx (8.17.1/8.17.1) with ESMTP id 2B6G0; ${DATE}`, ip: '198.51.100.7', helo: 'helo.example', reverseName: 'rdns.example' },
  { name: 'Sendmail, forged helo literal and a client PTR name that looks like an Exim item', field: `from [192.0.2.1] (ident=x [203.0.113.9] (may be forged)) by mx.example.net (8.17.1/8.17.1) with ESMTP id 2B6G0; ${DATE}`, ip: '203.0.113.9', helo: '[192.0.2.1]' },
  // Google, Microsoft, Courier, qmail.
  { name: 'Google, name with a final dot', field: `from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS id x for <bob@example.com> (Google Transport Security); ${DATE}`, ip: '209.85.220.41', helo: 'mail-sor-f41.google.com' },
  { name: 'Google submission, literal helo and no name', field: `from [192.168.1.5] ([2a01:cb00::1]) by smtp.gmail.com with ESMTPSA id x; ${DATE}`, ip: '2a01:cb00::1', helo: '[192.168.1.5]' },
  { name: 'Microsoft Exchange Online, TCP-info', field: `from EUR05-AM6-obe.outbound.protection.outlook.com (mail-am6eur05on2070.outbound.protection.outlook.com [40.107.22.70]) by mx.example.net with ESMTPS id 1; ${DATE}`, ip: '40.107.22.70', helo: 'EUR05-AM6-obe.outbound.protection.outlook.com', reverseName: 'mail-am6eur05on2070.outbound.protection.outlook.com' },
  { name: 'Microsoft Exchange, bare address; the BY comment is the server', field: `from AM6PR04MB1234.eurprd04.prod.outlook.com (2603:10a6:20b:1::23) by AM6PR04MB5678.eurprd04.prod.outlook.com (2603:10a6:20b:2::45) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.1234.5; ${DATE}`, ip: '2603:10a6:20b:1::23', helo: 'AM6PR04MB1234.eurprd04.prod.outlook.com' },
  { name: 'Courier, IPv4-mapped IPv6', field: `from helo.example (rdns.example [::ffff:198.51.100.7]) by mx.example.net with ESMTP; ${DATE}`, ip: '198.51.100.7', helo: 'helo.example', reverseName: 'rdns.example' },
  { name: 'qmail, HELO comment then address', field: `from unknown (HELO [192.0.2.1]) (203.0.113.9) by mx.example.net with SMTP; ${DATE}`, ip: '203.0.113.9', helo: '[192.0.2.1]' },
  // Forms nobody's MTA writes: no address is guessed from a comment the client could fill.
  { name: 'unknown comment with a literal after other text', field: `from [192.0.2.1] (client said [192.0.2.2]) by mx; ${DATE}`, ip: undefined, helo: '[192.0.2.1]' },
  { name: 'unterminated Exim comment: the address still comes from where Exim writes it', field: `from x.example ([198.51.100.7] helo=[192.0.2.1] by mx; ${DATE}`, ip: '198.51.100.7', helo: '[192.0.2.1]' },
  { name: 'qmail, HELO comment alone: no address', field: `from unknown (HELO [192.0.2.1]) by mx.example.net with SMTP; ${DATE}`, ip: undefined, helo: 'unknown' },
];

for (const c of CASES) {
  test(`Received: ${c.name}`, () => {
    const got = parseReceived(c.field);
    assert.equal(got.ip, c.ip, c.field);
    assert.equal(got.helo, c.helo, c.field);
    if (c.reverseName !== undefined) assert.equal(got.reverseName, c.reverseName, c.field);
  });
}

test('Received: folded Exim field in a message gives the connecting address, not the helo= literal', () => {
  const msg = Buffer.from(
    `Received: from [203.0.113.9] (port=4242 helo=[192.0.2.1])\r\n\tby mx.other.test with esmtp (Exim 4.96)\r\n\t(envelope-from <alice@example.test>)\r\n\tid 1; ${DATE}\r\nFrom: alice@example.test\r\n\r\nbody\r\n`,
  );
  const top = topReceived(msg);
  assert.equal(top?.ip, '203.0.113.9');
  assert.equal(top?.helo, '[192.0.2.1]');
  assert.equal(top?.envelopeFrom, 'alice@example.test');
});

test('Received: an unreadable top hop ends the search; a forged field below it is never used', () => {
  const msg = Buffer.from(
    [
      `Received: from [192.0.2.1] (client said [192.0.2.2]) by mx.example.net; ${DATE}`,
      // Written by the client itself: it would give SPF an address of its choice.
      `Received: from mail.example.test (mail.example.test [192.0.2.1]) by relay.example.test (Postfix) with ESMTP id 1; ${DATE}`,
      'From: alice@example.test',
      '',
      'body',
      '',
    ].join('\r\n'),
  );
  const top = topReceived(msg);
  assert.equal(top?.index, 0);
  assert.equal(top?.ip, undefined);
  assert.equal(top?.unreadable, true);
  // Hops without TCP-info (LMTP) and internal ones are still passed over.
  const lmtp = Buffer.from(
    [
      `Received: from mail.example.test by mx.example.test (Dovecot) with LMTP id x; ${DATE}`,
      `Received: from localhost ([127.0.0.1]) by mx.example.test (amavis) with ESMTP id y; ${DATE}`,
      `Received: from [203.0.113.9] (port=4242 helo=[192.0.2.1]) by mx.example.test with esmtp (Exim 4.96) id z; ${DATE}`,
      'From: alice@example.test',
      '',
      'body',
      '',
    ].join('\r\n'),
  );
  assert.equal(topReceived(lmtp)?.ip, '203.0.113.9');
});

test('Received: UTF-8 envelope-from and Return-Path (RFC 6532) are read as UTF-8, not byte by byte', () => {
  const msg = Buffer.from(`Return-Path: <anna@bücher.test>\r\nReceived: from [203.0.113.9] (helo=mail.example)\r\n\tby mx with utf8esmtp (Exim 4.96)\r\n\t(envelope-from <anna@bücher.test>)\r\n\tid 1; ${DATE}\r\n\r\nbody\r\n`, 'utf8');
  assert.equal(topReceived(msg)?.envelopeFrom, 'anna@bücher.test');
  assert.equal(returnPath(msg), 'anna@bücher.test');
  // Bytes that are not UTF-8 stay as they are.
  const latin = Buffer.concat([Buffer.from('Return-Path: <b'), Buffer.from([0xfc]), Buffer.from('@x.test>\r\n\r\n')]);
  assert.equal(returnPath(latin), 'b\u00fc@x.test');
});

test('Received: parsing never throws on hostile or truncated fields', () => {
  for (const field of ['', 'from', 'from (', 'from x ((((', `from [${'1'.repeat(5000)}] (helo=)`, 'from [::ffff:1.2.3.4]', 'from a (b) (c) (d) (e) (f) (g) (h) (i) (j) by k', '\u0000from\u0000']) {
    assert.doesNotThrow(() => parseReceived(field));
  }
});

// Real Exim 4.96: `exim -bh IP.PORT` runs Exim's SMTP receiver as if the connection came from that
// address (host checking mode), with the real received_header_text; the DATA ACL writes the
// Received field it built to the log on stderr, and the message is then discarded. The client
// says `EHLO [192.0.2.1]` from 203.0.113.9: the spoofing attempt of tester H1.
let dir: string;
let knot: KnotPeer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-received-'));
  // The zone lets 192.0.2.1 send for example.test, never 203.0.113.9, and asks for p=reject.
  const zone = [
    '$ORIGIN example.test.',
    '$TTL 300',
    '@ IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300',
    '@ IN NS ns1.example.test.',
    'ns1 IN A 127.0.0.1',
    '@ IN TXT "v=spf1 ip4:192.0.2.1 -all"',
    '_dmarc IN TXT "v=DMARC1; p=reject"',
  ].join('\n');
  knot = await startKnot({ zones: { '': ROOT_ZONE, 'example.test': zone } });
});

after(async () => {
  await knot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs one SMTP session through `exim -bh` and returns the Received field Exim built, folded as Exim folds it. */
async function eximReceived(name: string, logSelector: string, helo: string, client: string): Promise<string> {
  const exim = requireBinary('exim4');
  const base = join(dir, name);
  // The test's temp folder is private (0700); Exim's user only needs to pass through it.
  chmodSync(dir, 0o711);
  for (const d of [base, join(base, 'spool'), join(base, 'log')]) {
    mkdirSync(d, { recursive: true });
    // Exim's unprivileged user (Debian-exim when run as root) must reach its spool.
    chmodSync(d, 0o777);
  }
  const config = join(base, 'exim.conf');
  writeFileSync(
    config,
    [
      'primary_hostname = mx.other.test',
      `spool_directory = ${base}/spool`,
      `log_file_path = ${base}/log/%slog`,
      `log_selector = ${logSelector}`,
      'never_users =',
      'keep_environment =',
      'host_lookup =',
      'rfc1413_hosts =',
      'helo_try_verify_hosts =',
      'helo_lookup_domains =',
      'acl_smtp_rcpt = acl_rcpt',
      'acl_smtp_data = acl_data',
      'begin acl',
      'acl_rcpt:',
      '  accept',
      'acl_data:',
      '  warn logwrite = RECEIVED<$h_received:>',
      '  accept',
      '',
    ].join('\n'),
  );
  const session = `EHLO ${helo}\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nFrom: alice@example.test\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n`;
  const output = await new Promise<string>((resolve, reject) => {
    const child = execFile(exim, ['-C', config, '-bh', client], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && !/RECEIVED</.test(stderr)) reject(new Error(`exim -bh failed: ${err.message}\n${stderr}`));
      else resolve(`${stdout}${stderr}`);
    });
    child.stdin?.end(session);
  });
  const m = /^LOG: \S+ RECEIVED<([\s\S]*?)>$/m.exec(output);
  assert.ok(m, `no Received field in Exim's output:\n${output}`);
  // The log writes Exim's folding newlines as "\n"; the field folds them as CRLF.
  return m[1].replace(/\\n/g, '\r\n');
}

async function verifyMessage(name: string, received: string): Promise<AuthReport> {
  const message = Buffer.from(`Received: ${received}\r\nFrom: Alice <alice@example.test>\r\nTo: bob@example.net\r\nSubject: x\r\nDate: ${DATE}\r\nMessage-ID: <h1@example.test>\r\n\r\nbody\r\n`);
  writeFileSync(join(dir, name), message);
  const cap = captureIo(dir);
  await verifyCommand([name, '--dns-server', knot.address, '--authserv-id', 'mx.test', '--json'], cap.io);
  return JSON.parse(cap.stdout().toString('utf8')) as AuthReport;
}

for (const [label, selector, form] of [
  ['default log selector', '+smtp_connection', /^from \[203\.0\.113\.9\] \(helo=\[192\.0\.2\.1\]\)\r\n\tby mx\.other\.test with esmtp \(Exim 4\.96\)/],
  ['+incoming_port', '+incoming_port', /^from \[203\.0\.113\.9\] \(port=4242 helo=\[192\.0\.2\.1\]\)\r\n\tby mx\.other\.test/],
] as const) {
  test(`Received: real Exim 4.96 field (${label}) with EHLO [192.0.2.1] from 203.0.113.9: SPF checks 203.0.113.9 and fails, DMARC fails`, async () => {
    const field = await eximReceived(label.replace(/\W+/g, '-'), selector, '[192.0.2.1]', '203.0.113.9.4242');
    assert.match(field, form);
    const parsed = parseReceived(field.replace(/\r\n/g, ''));
    assert.equal(parsed.ip, '203.0.113.9');
    assert.equal(parsed.helo, '[192.0.2.1]');
    assert.equal(parsed.envelopeFrom, 'alice@example.test');
    const report = await verifyMessage(`exim-${label.replace(/\W+/g, '-')}.eml`, field);
    assert.equal(report.smtp.ip, '203.0.113.9');
    assert.equal(report.smtp.helo, '[192.0.2.1]');
    assert.equal(report.spf.result, 'fail', JSON.stringify(report.spf));
    assert.equal(report.dmarc.result, 'fail', JSON.stringify(report.dmarc));
  });
}
