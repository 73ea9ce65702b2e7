// DMARC with an internationalised From domain and with From domains that are not domains.
// RFC 9989 (Author Domain) and RFC 8616 §3: U-labels of the From domain are converted to A-labels,
// the form of DKIM's d= and of the names DNS is asked for. A From address literal (`a@[192.0.2.1]`)
// or a name IDNA cannot convert is no Author Domain: permerror with the reason, and no DNS query.
// End to end: python3-dkim's dkimsign signs with d=<A-label>, Knot serves the key and the DMARC
// records, and `smtpwb verify` (verifyCommand) must give dkim=pass and dmarc=pass.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asciiDomain, authorDomain, verifyDmarc } from '../../client/src/mailAuth/dmarcVerify';
import { verifyCommand } from '../../client/src/cli/verifyCommand';
import { verifyMessage, type AuthReport } from '../../client/src/mailAuth/verify';
import { createResolver } from '../../client/src/mailAuth/resolver';
import { publicKeyRecord } from '../../client/src/mailAuth/sign';
import { startKnot, type KnotPeer } from '../peers/knot';
import { dkimsign } from './debianTools';
import { captureIo, ROOT_ZONE, txt } from './fixtures';

let knot: KnotPeer;
let dir: string;
let keyFile: string;

/** A zone with the DKIM key under selector "idn" and a DMARC record. */
function zone(origin: string, keyPem: string, dmarc: string): string {
  return [
    `$ORIGIN ${origin}.`,
    '$TTL 300',
    `@ IN SOA ns1.${origin}. hostmaster.${origin}. 1 3600 600 86400 300`,
    `@ IN NS ns1.${origin}.`,
    'ns1 IN A 127.0.0.1',
    '@ IN A 127.0.0.1',
    'post IN A 127.0.0.1',
    '@ IN TXT "v=spf1 ip4:198.51.100.10 -all"',
    `idn._domainkey IN TXT ${txt(publicKeyRecord(keyPem))}`,
    `_dmarc IN TXT "${dmarc}"`,
    '',
  ].join('\n');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-dmarc-idn-'));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pkcs8 = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // dkimsign reads PKCS#1 PEM.
  keyFile = join(dir, 'idn.pem');
  writeFileSync(keyFile, rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(), { mode: 0o600 });
  knot = await startKnot({
    zones: {
      '': ROOT_ZONE,
      // bücher.test: strict DKIM alignment.
      'xn--bcher-kva.test': zone('xn--bcher-kva.test', pkcs8, 'v=DMARC1; p=reject; adkim=s; aspf=s'),
      // münchen.test: relaxed alignment.
      'xn--mnchen-3ya.test': zone('xn--mnchen-3ya.test', pkcs8, 'v=DMARC1; p=reject'),
    },
  });
});

after(async () => {
  await knot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A CRLF message with a raw UTF-8 From field (RFC 6532), signed by dkimsign with d=<domain>. */
async function signedMessage(from: string, domain: string): Promise<Buffer> {
  const message = Buffer.from(
    [`From: Anna <${from}>`, 'To: bob@example.net', 'Subject: IDN', 'Date: Sun, 06 Dec 2026 16:00:00 +0000', `Message-ID: <idn-${Date.now()}@x.test>`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', 'Grüße', ''].join('\r\n'),
    'utf8',
  );
  return dkimsign(message, 'idn', domain, keyFile);
}

async function verify(name: string, message: Buffer): Promise<{ code: number; report: AuthReport }> {
  writeFileSync(join(dir, name), message);
  const cap = captureIo(dir);
  const code = await verifyCommand([name, '--dns-server', knot.address, '--authserv-id', 'mx.test', '--json'], cap.io);
  return { code, report: JSON.parse(cap.stdout().toString('utf8')) as AuthReport };
}

test('asciiDomain: U-labels become A-labels; A-labels and ASCII stay; what is not a domain says why', () => {
  assert.deepEqual(asciiDomain('bücher.test'), { domain: 'xn--bcher-kva.test' });
  assert.deepEqual(asciiDomain('BÜCHER.Test.'), { domain: 'xn--bcher-kva.test' });
  assert.deepEqual(asciiDomain('post.münchen.test'), { domain: 'post.xn--mnchen-3ya.test' });
  assert.deepEqual(asciiDomain('xn--bcher-kva.test'), { domain: 'xn--bcher-kva.test' });
  assert.deepEqual(asciiDomain('Example.TEST'), { domain: 'example.test' });
  for (const [text, why] of [
    ['[192.0.2.1]', /address literal \[192\.0\.2\.1\].*not a domain.*RFC 5322 §3\.4\.1/],
    ['[IPv6:2001:db8::1]', /address literal/],
    ['xn--ü.test', /cannot be converted to A-labels/],
    ['ü\u200d.test', /cannot be converted to A-labels/],
    ['192.0.2.1', /is an IP address, not a domain/],
    // Fullwidth digits map to an IPv4 address under UTS #46: still not a domain.
    ['１９２.０.２.１', /is an IP address \(192\.0\.2\.1\), not a domain/],
    ['ex..test', /not a valid domain name \(.*empty label/],
    ['xn--zz.test', /not a valid domain name \(.*not a valid A-label/],
    ['a!b.test', /not a valid domain name/],
    [`${'a'.repeat(64)}.test`, /not a valid domain name/],
  ] as const) {
    const got = asciiDomain(text);
    assert.ok('problem' in got, `${text}: ${JSON.stringify(got)}`);
    assert.match(got.problem, why, text);
  }
});

test('authorDomain: one Author Domain in A-labels, whichever form each From address uses; permerror reasons', () => {
  assert.deepEqual(authorDomain(1, ['a@bücher.test']), { domain: 'xn--bcher-kva.test', written: 'bücher.test' });
  assert.deepEqual(authorDomain(1, ['a@bücher.test', 'b@XN--BCHER-KVA.test']), { domain: 'xn--bcher-kva.test', written: 'bücher.test' });
  assert.deepEqual(authorDomain(1, ['a@example.test']), { domain: 'example.test' });
  const literal = authorDomain(1, ['a@[192.0.2.1]']);
  assert.ok('problem' in literal);
  assert.match(literal.problem, /^the From address has the address literal \[192\.0\.2\.1\], which names a host, not a domain \(RFC 5322 §3\.4\.1\), so DMARC validation is not possible \(RFC 9989 §5\.3\.1\)/);
  assert.deepEqual(literal.domains, ['[192.0.2.1]']);
  const bad = authorDomain(1, ['a@xn--ü.test']);
  assert.ok('problem' in bad && /cannot be converted to A-labels/.test(bad.problem));
  const two = authorDomain(1, ['a@bücher.test', 'b@[192.0.2.1]']);
  assert.ok('problem' in two && /names 2 domains/.test(two.problem));
});

test('DMARC: From a@bücher.test signed by dkimsign with d=xn--bcher-kva.test passes strict alignment', async () => {
  const signed = await signedMessage('anna@bücher.test', 'xn--bcher-kva.test');
  const { code, report } = await verify('idn-strict.eml', signed);
  assert.equal(report.dkim.length, 1);
  assert.equal(report.dkim[0].result, 'pass', JSON.stringify(report.dkim[0]));
  assert.equal(report.dkim[0].domain, 'xn--bcher-kva.test');
  assert.equal(report.dmarc.result, 'pass', JSON.stringify(report.dmarc));
  assert.equal(report.dmarc.details['DKIM alignment'], 'xn--bcher-kva.test');
  assert.match(report.dmarc.details['policy discovery'] ?? '', /^_dmarc\.xn--bcher-kva\.test: /);
  assert.match(report.dmarc.details.alignment ?? '', /the From domain bücher\.test is xn--bcher-kva\.test in A-labels/);
  assert.match(report.authenticationResults, /dmarc=pass /);
  assert.match(report.authenticationResults, /header\.from=xn--bcher-kva\.test/);
  assert.equal(code, 0);
});

test('DMARC: strict alignment still fails for a U-label subdomain of the signing domain', async () => {
  const signed = await signedMessage('anna@post.bücher.test', 'xn--bcher-kva.test');
  const { code, report } = await verify('idn-strict-sub.eml', signed);
  assert.equal(report.dkim[0].result, 'pass', JSON.stringify(report.dkim[0]));
  assert.equal(report.dmarc.result, 'fail', JSON.stringify(report.dmarc));
  assert.match(report.dmarc.details.alignment ?? '', /DKIM xn--bcher-kva\.test is not post\.xn--bcher-kva\.test \(strict alignment\)/);
  assert.equal(code, 1);
});

test('DMARC: relaxed alignment of a@post.münchen.test with d=xn--mnchen-3ya.test compares A-label Organizational Domains', async () => {
  const signed = await signedMessage('anna@post.münchen.test', 'xn--mnchen-3ya.test');
  const { code, report } = await verify('idn-relaxed.eml', signed);
  assert.equal(report.dkim[0].result, 'pass', JSON.stringify(report.dkim[0]));
  assert.equal(report.dmarc.result, 'pass', JSON.stringify(report.dmarc));
  assert.equal(report.dmarc.details['policy domain'], 'xn--mnchen-3ya.test');
  assert.match(report.dmarc.details['policy discovery'] ?? '', /_dmarc\.post\.xn--mnchen-3ya\.test: /);
  assert.equal(code, 0);
});

test('DMARC: From a@[192.0.2.1] is permerror with the reason, and no DMARC name is queried', async () => {
  const names: string[] = [];
  const inner = createResolver({ server: knot.address });
  const resolver = async (name: string, rrtype: string) => {
    names.push(`${name}/${rrtype}`);
    return inner(name, rrtype);
  };
  const message = Buffer.from('From: a@[192.0.2.1]\r\nTo: bob@example.net\r\nSubject: x\r\n\r\nbody\r\n');
  const report = await verifyMessage(message, { resolver, authServId: 'mx.test', useReceived: false });
  assert.equal(report.dmarc.result, 'permerror');
  assert.equal(report.dmarc.failed, true);
  assert.match(report.dmarc.reason ?? '', /address literal \[192\.0\.2\.1\], which names a host, not a domain/);
  assert.match(report.authenticationResults, /dmarc=permerror \(the From address has the address literal \[192\.0\.2\.1\]/);
  assert.deepEqual(names.filter((n) => /dmarc|\[/i.test(n)), []);
  assert.equal(report.dnsUnreachable.length, 0);
});

test('DMARC: SPF of MAIL FROM <anna@bücher.test> read from a raw UTF-8 Return-Path (RFC 6532) passes and aligns strictly', async () => {
  const message = Buffer.from(
    [
      'Return-Path: <anna@bücher.test>',
      `Received: from mail.xn--bcher-kva.test (mail.xn--bcher-kva.test [198.51.100.10]) by mx.test (Postfix) with UTF8SMTPS id 4Q1; Sun, 06 Dec 2026 16:00:01 +0000`,
      'From: Anna <anna@bücher.test>',
      'To: bob@example.net',
      'Subject: IDN SPF',
      '',
      'body',
      '',
    ].join('\r\n'),
    'utf8',
  );
  const { report } = await verify('idn-spf.eml', message);
  assert.equal(report.smtp.mailFrom, 'anna@bücher.test');
  assert.equal(report.spf.result, 'pass', JSON.stringify(report.spf));
  assert.equal(report.dmarc.result, 'pass', JSON.stringify(report.dmarc));
  assert.equal(report.dmarc.details['SPF alignment'], 'bücher.test');
});

test('verifyDmarc: a From domain that is not a domain is permerror without a query, also when called directly', async () => {
  for (const fromDomain of ['[192.0.2.1]', 'xn--ü.test']) {
    const names: string[] = [];
    const result = await verifyDmarc({
      fromDomain,
      dkimDomains: ['example.test'],
      resolver: async (name: string) => {
        names.push(name);
        throw Object.assign(new Error('no'), { code: 'ENOTFOUND' });
      },
    });
    assert.equal(result.status.result, 'permerror', fromDomain);
    assert.match(result.info ?? '', /^dmarc=permerror \(the From (address|domain)/);
    assert.deepEqual(names, []);
  }
});
