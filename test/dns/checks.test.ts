// End-to-end tests of the mail DNS checks against real peers: Knot serves the fixture zones, a local
// HTTPS server with a certificate from the test CA serves the MTA-STS policies (the CA is injected as
// trusted; verification stays on), and Exim answers the STARTTLS probe.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import { promisify } from 'node:util';
import { promises as dnsPromises } from 'node:dns';
import {
  createNodeHttpsFetcher,
  createNodeResolver,
  createNodeStartTlsProber,
  type DomainReport,
  type Finding,
  renderText,
  runReport,
  type ReportOptions,
} from '../../client/src/dns/index';
import { createEngineStartTlsProber } from '../../client/src/dns/engineProber';
import { evaluateSpf } from '../../client/src/dns/spfEval';
import { createWireResolver } from '../../client/src/dns/wireResolver';
import { startExim, type EximPeer } from '../peers/exim';
import { freePort } from '../peers/ports';
import { findBinary } from '../peers/require';
import { startDnsTestEnv, type DnsTestEnv } from './env';
import { startFakeDns } from './fakeDns';
import { SPF_SYNTAX_COLUMN, SPF_SYNTAX_RECORD } from './fixtures';

let env: DnsTestEnv;

before(async () => {
  env = await startDnsTestEnv();
});

after(async () => {
  await env?.stop();
});

function report(domain: string, options: Partial<ReportOptions> = {}): Promise<DomainReport> {
  return runReport(domain, { resolver: env.resolver, fetcher: env.fetcher, probeSelectors: false, timeoutMs: 3000, ...options });
}

function findings(r: DomainReport, check?: string): Finding[] {
  return r.checks.filter((c) => !check || c.id === check).flatMap((c) => c.findings);
}

function one(r: DomainReport, code: string): Finding {
  const f = findings(r).filter((x) => x.code === code);
  assert.equal(f.length, 1, `expected one ${code} in ${r.domain}, got ${f.length}: ${findings(r).map((x) => x.code).join(', ')}`);
  return f[0];
}

/** The text a finding's range covers inside its record. */
function covered(f: Finding): string {
  assert.ok(f.record?.range, `${f.code} has no range`);
  return f.record.text.slice(f.record.range.start, f.record.range.end);
}

test('the good domain has no errors and no warnings, and every check passes', async () => {
  const r = await report('example.test', { selectors: ['ed'], probeSelectors: true });
  const bad = findings(r).filter((f) => f.severity === 'error' || f.severity === 'warning');
  assert.deepEqual(bad, []);
  for (const code of ['mx-ok', 'ptr-ok', 'spf-ok', 'dmarc-ok', 'dmarc-external-authorized', 'mta-sts-ok', 'tls-rpt-ok', 'bimi-ok']) one(r, code);
  // The mark certificate (a=) is fetched and checked: a VMC for example.test certifying the logo l= serves.
  assert.match(one(r, 'bimi-vmc-ok').message, /^Mark certificate https:\/\/vmc\.example\.test\/vmc\.pem: VMC \(Registered Mark\) for example\.test/);
  // The probe found the "default" selector; the user gave "ed".
  const dkim = findings(r, 'dkim').filter((f) => f.code === 'dkim-key-ok').map((f) => f.message);
  assert.equal(dkim.length, 2);
  assert.ok(dkim.some((m) => /default: RSA key of 2048 bits/.test(m)));
  assert.ok(dkim.some((m) => /ed: Ed25519/.test(m)));
  const spf = r.checks.find((c) => c.id === 'spf')!;
  assert.equal(spf.spfTree?.children[0].domain, '_spf.example.test');
  assert.equal(spf.spfTree?.children[0].via, 'include');
  assert.ok(r.depth >= 2 && r.depth <= 4, `depth ${r.depth}`);
  for (const c of r.checks) assert.ok(c.findings.every((f) => f.link.startsWith('https://')));
});

test('SPF: too many lookups points at the 11th lookup term (RFC 7208 §4.6.4)', async () => {
  const r = await report('spf-many.test');
  const f = one(r, 'spf-lookup-limit');
  assert.equal(f.severity, 'error');
  assert.equal(f.record?.name, 'l3.spf-many.test');
  assert.equal(covered(f), 'a:mx2.example.test');
  assert.match(f.message, /12 DNS-querying terms/);
});

test('SPF: an include loop, void lookups, two records, a syntax error at its column', async () => {
  const loop = one(await report('spf-loop.test'), 'spf-loop');
  assert.equal(loop.record?.name, 'b.spf-loop.test');
  assert.equal(covered(loop), 'include:a.spf-loop.test');

  const voids = one(await report('spf-void.test'), 'spf-void-limit');
  assert.equal(covered(voids), 'a:nx3.spf-void.test');

  one(await report('spf-two.test'), 'spf-multiple');

  // "include:" names no domain: a syntax error, and not a loop back to the domain itself.
  for (const domain of ['spf-empty.test', 'spf-bare.test']) {
    const r = await report(domain);
    assert.ok(findings(r).some((f) => f.code === 'spf-syntax' && f.severity === 'error'), domain);
    assert.ok(!findings(r).some((f) => f.code === 'spf-loop'), `${domain}: ${findings(r).map((f) => `${f.code}: ${f.message}`).join('; ')}`);
  }

  const syntax = one(await report('spf-syntax.test'), 'spf-syntax');
  assert.equal(syntax.record?.text, SPF_SYNTAX_RECORD);
  assert.equal(syntax.record!.range!.start + 1, SPF_SYNTAX_COLUMN);
  assert.equal(covered(syntax), '192.0.2.300');
  assert.match(syntax.message, new RegExp(`column ${SPF_SYNTAX_COLUMN}`));
});

test('SPF: ptr, ?all, +all, redirect beside all, macros', async () => {
  const lax = await report('spf-lax.test');
  assert.equal(covered(one(lax, 'spf-ptr')), 'ptr');
  assert.equal(covered(one(lax, 'spf-all-neutral')), '?all');
  assert.equal(one(await report('spf-open.test'), 'spf-all-pass').severity, 'error');
  assert.equal(covered(one(await report('spf-redir.test'), 'spf-redirect-with-all')), 'redirect=_spf.example.test');
  const macro = await report('spf-macro.test');
  assert.equal(covered(one(macro, 'spf-syntax')), '%{z}');
  assert.equal(findings(macro).filter((f) => f.code === 'spf-macro').length, 2);
  const exp = one(await report('spf-exp.test'), 'spf-exp');
  assert.match(exp.message, /%\{i\} is not one of %\{d\}'s designated mail servers/);
  assert.equal(covered(exp), 'exp=explain.spf-exp.test');
  assert.equal(covered(one(await report('spf-exp2.test'), 'spf-exp-missing')), 'exp=nothing.spf-exp.test');
});

test('DKIM: revoked, testing, RSA-1024, RSA-512, Ed25519, sha1, syntax, missing selector', async () => {
  const r = await report('dkim.test', { selectors: ['revoked', 'testing', 'rsa1024', 'rsa512', 'ed', 'sha1', 'broken', 'missing', 'md5', 'both'] });
  // RFC 6376 §3.6.1: an empty p= is a revoked key, and no signature with it can pass.
  assert.equal(covered(one(r, 'dkim-revoked')), 'p=');
  assert.equal(one(r, 'dkim-revoked').severity, 'error');
  // h= that leaves no accepted hash (RFC 8301 §3.1) is an error; h=md5:sha256 still has sha256.
  const unusable = one(r, 'dkim-hash-unusable');
  assert.equal(unusable.severity, 'error');
  assert.equal(covered(unusable), 'md5');
  assert.match(unusable.message, /^Selector md5:/);
  assert.equal(covered(one(r, 'dkim-testing')), 'y');
  assert.equal(one(r, 'dkim-key-short').severity, 'warning');
  assert.match(one(r, 'dkim-key-short').message, /1024 bits/);
  assert.equal(one(r, 'dkim-key-too-short').severity, 'error');
  assert.equal(covered(one(r, 'dkim-sha1')), 'sha1');
  const syntax = one(r, 'dkim-syntax');
  assert.equal(covered(syntax), 'bogus');
  assert.equal(syntax.record!.range!.start, 'v=DKIM1; k=rsa; '.length);
  assert.match(one(r, 'dkim-selector-missing').message, /missing\._domainkey\.dkim\.test/);
  const ed = findings(r).filter((f) => f.code === 'dkim-key-ok' && /Ed25519/.test(f.message));
  assert.equal(ed.length, 1);
});

test('DMARC: duplicate tags, bad pct, unauthorized external rua, organizational fallback', async () => {
  const dup = one(await report('dmarc-dup.test'), 'dmarc-duplicate-tag');
  assert.equal(covered(dup), 'p=reject');
  assert.equal(covered(one(await report('dmarc-pct.test'), 'dmarc-bad-pct')), '150');
  const ext = one(await report('dmarc-ext.test'), 'dmarc-external-unauthorized');
  assert.equal(covered(ext), 'mailto:agg@unauth.test');
  assert.match(ext.message, /dmarc-ext\.test\._report\._dmarc\.unauth\.test/);
  const fb = await report('sub.orgfb.test');
  one(fb, 'dmarc-org-fallback');
  // The subdomain gets the organizational domain's sp=none.
  assert.equal(covered(one(fb, 'dmarc-monitoring')), 'none');
  assert.equal(one(fb, 'dmarc-monitoring').record?.name, '_dmarc.orgfb.test');
});

test('MX: null MX, null MX mixed, CNAME, IP literal, implicit MX; reverse DNS missing and unconfirmed', async () => {
  assert.equal(one(await report('nullmx.test'), 'mx-null').severity, 'info');
  assert.equal(one(await report('nullmixed.test'), 'mx-null-mixed').severity, 'error');
  assert.equal(covered(one(await report('mxcname.test'), 'mx-cname')), 'alias.mxcname.test');
  assert.equal(covered(one(await report('mxip.test'), 'mx-ip-literal')), '192.0.2.1');
  one(await report('nomx.test'), 'mx-implicit');
  // An MX whose name holds a control character is the record's error, never sent as a query (RFC 5321 §2.3.5).
  const mxbad = await report('mxbad.test');
  const invalid = one(mxbad, 'mx-host-invalid');
  assert.equal(invalid.severity, 'error');
  // Node (c-ares) hands the name over in presentation form, the octet written as \007.
  assert.equal(covered(invalid), 'bad\\007host.example.test');
  assert.ok(!findings(mxbad, 'mx').some((f) => f.code === 'mx-dns-error'), findings(mxbad, 'mx').map((f) => f.code).join(', '));
  const noptr = await report('noptr.test');
  assert.equal(covered(one(noptr, 'ptr-missing')), '127.0.0.20');
  assert.equal(one(noptr, 'ptr-not-confirmed').record?.name, '30.0.0.127.in-addr.arpa');
});

test('MTA-STS: a wildcard covers one label only, testing mode is noted (RFC 8461 §4.1)', async () => {
  const r = await report('sts.test');
  const mismatch = one(r, 'mta-sts-mx-mismatch');
  assert.equal(covered(mismatch), 'mx.backup.sts.test');
  assert.equal(mismatch.severity, 'warning');
  assert.equal(covered(one(r, 'mta-sts-testing')), 'testing');
  const policy = r.checks.find((c) => c.id === 'mta-sts')!.records.find((x) => x.type === 'HTTPS');
  assert.match(policy!.data, /mx: \*\.sts\.test/);
});

test('MTA-STS: an mx: pattern with a wildcard inside the name is an error, not only unused (RFC 8461 §3.2, §4.1)', async () => {
  const r = await report('sts-pattern.test');
  const bad = one(r, 'mta-sts-policy-mx');
  assert.equal(bad.severity, 'error');
  assert.equal(covered(bad), 'mx.*.sts-pattern.test');
  assert.match(bad.message, /leftmost label/);
  assert.ok(!findings(r).some((f) => f.code === 'mta-sts-ok' || f.code === 'mta-sts-pattern-unused'), findings(r).map((f) => f.code).join(', '));
  // The valid pattern still matches the MX.
  assert.ok(!findings(r).some((f) => f.code === 'mta-sts-mx-mismatch'));
});

test('MTA-STS and TLS-RPT: a record meant for them that does not begin with the version tag is an error, and listed (RFC 8461 §3.1, RFC 8460 §3)', async () => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['sts-lower.test', 'mta-sts', 'mta-sts-not-a-record', /the version value is "stsv1", but it must be exactly "STSv1"/],
    ['sts-space.test', 'mta-sts', 'mta-sts-not-a-record', /starts with white space/],
    ['tlsrpt-order.test', 'tls-rpt', 'tls-rpt-not-a-record', /"v=TLSRPTv1" is not its first field/],
    ['tlsrpt-nosemi.test', 'tls-rpt', 'tls-rpt-not-a-record', /followed by "rua=mailto:tlsrpt@example\.test" with no ";"/],
  ];
  for (const [domain, check, code, why] of cases) {
    const r = await report(domain);
    const f = one(r, code);
    assert.equal(f.severity, 'error', domain);
    assert.match(f.message, why, domain);
    assert.match(f.message, /is not one/, domain);
    const result = r.checks.find((c) => c.id === check)!;
    assert.equal(result.records.length, 1, domain);
    assert.equal(result.records[0].data, f.record?.text, domain);
  }
  // A record that does not mention the version at all is still just no record.
  const none = await report('nomx.test');
  assert.ok(!findings(none).some((f) => f.code === 'mta-sts-not-a-record' || f.code === 'tls-rpt-not-a-record'));
});

test('MTA-STS: without the test CA the certificate is refused; without a fetcher only DNS is used', async () => {
  const untrusted = createNodeHttpsFetcher({ port: env.httpsPort });
  const r = await report('example.test', { fetcher: untrusted });
  assert.equal(one(r, 'mta-sts-certificate').severity, 'error');
  const dnsOnly = await report('example.test', { fetcher: undefined });
  one(dnsOnly, 'mta-sts-not-fetched');
});

test('MTA-STS: a redirect is not followed, a missing policy, a bad id, two records', async () => {
  one(await report('sts-redirect.test'), 'mta-sts-redirect');
  assert.match(one(await report('sts-404.test'), 'mta-sts-http-status').message, /HTTP 404/);
  assert.equal(covered(one(await report('sts-bad.test'), 'mta-sts-bad-id')), 'not-alnum!');
  // RFC 8461 §3.1: exactly one id= field.
  const dupId = one(await report('sts-dupid.test'), 'mta-sts-duplicate-id');
  assert.equal(dupId.severity, 'error');
  assert.equal(covered(dupId), 'id=20260102');
  one(await report('sts-two.test'), 'mta-sts-multiple');
});

test('TLS-RPT and BIMI problems', async () => {
  assert.equal(covered(one(await report('tlsrpt-bad.test'), 'tls-rpt-bad-uri')), 'ftp://reports.tlsrpt-bad.test');
  // A control character or "<" makes a URI invalid (RFC 3986 §2, RFC 8460 §3), though new URL() takes both.
  const esc = await report('tlsrpt-esc.test');
  const bad = findings(esc, 'tls-rpt').filter((f) => f.code === 'tls-rpt-bad-uri');
  assert.deepEqual(bad.map(covered), ['mailto:tls\x1brpt@example.test', 'https://reports.example.test/a<b']);
  assert.match(bad[0].message, /U\+001B at column 11/);
  assert.ok(!findings(esc, 'tls-rpt').some((f) => f.code === 'tls-rpt-ok'));
  // The Organizational Domain's BIMI record applies to a subdomain without one (BIMI draft, discovery).
  const orgBimi = await report('shop.bimiorg.test');
  one(orgBimi, 'bimi-org-fallback');
  // Its logo breaks the SVG Tiny PS profile: each rule is its own finding.
  for (const code of ['bimi-svg-version', 'bimi-svg-profile', 'bimi-svg-root-position', 'bimi-svg-square', 'bimi-svg-title', 'bimi-svg-event', 'bimi-svg-external-reference']) {
    assert.equal(one(orgBimi, code).severity, 'error', code);
  }
  assert.equal(findings(orgBimi).filter((f) => f.code === 'bimi-svg-forbidden-element').length, 2);
  assert.ok(orgBimi.checks.find((c) => c.id === 'bimi')?.records.some((r) => r.name === 'default._bimi.bimiorg.test'));
  const bimi = await report('bimi-bad.test');
  assert.equal(covered(one(bimi, 'bimi-logo-url')), 'http://bimi-bad.test/logo.png');
  one(bimi, 'bimi-dmarc-not-enforced');
});

test('DNS failures are reported as failures, never as "no record"', async () => {
  for (const mode of ['servfail', 'refused'] as const) {
    const fake = await startFakeDns(mode);
    try {
      const resolver = new dnsPromises.Resolver({ timeout: 500, tries: 1 });
      resolver.setServers([fake.address]);
      const r = await runReport('example.test', { resolver, selectors: ['default'], probeSelectors: true, timeoutMs: 2000 });
      const codes = findings(r).map((f) => f.code);
      // One finding for the given selector, one for all the probed ones.
      assert.equal(codes.filter((c) => c === 'dkim-dns-error').length, 2);
      for (const code of ['mx-dns-error', 'spf-dns-error', 'dmarc-dns-error', 'mta-sts-dns-error', 'tls-rpt-dns-error', 'bimi-dns-error']) {
        assert.ok(codes.includes(code), `${mode}: ${code} missing from ${codes.join(', ')}`);
      }
      for (const code of ['spf-none', 'dmarc-none', 'mta-sts-none', 'tls-rpt-none', 'bimi-none', 'mx-none', 'dkim-selector-missing', 'dkim-none-found']) {
        assert.ok(!codes.includes(code), `${mode}: ${code} must not appear`);
      }
      const expected = mode === 'servfail' ? /SERVFAIL/ : /refused/;
      assert.match(one(r, 'mx-dns-error').message, expected);
      assert.equal(r.dnsUnreachable, mode === 'refused');
    } finally {
      await fake.stop();
    }
  }
});

test('every query has a timeout', async () => {
  const fake = await startFakeDns('silent');
  try {
    const resolver = new dnsPromises.Resolver({ timeout: 5000, tries: 1 });
    resolver.setServers([fake.address]);
    const started = Date.now();
    const r = await runReport('example.test', { resolver, probeSelectors: false, timeoutMs: 300 });
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    assert.match(one(r, 'mx-dns-error').message, /timed out/);
    assert.equal(r.dnsUnreachable, true);
  } finally {
    await fake.stop();
  }
});

test('pyspf agrees that the over-limit and looping records are permerrors and the good one is not', async (t) => {
  // Debian's python3-spf lives in the system Python, which may not be the first python3 on PATH.
  const python = ['/usr/bin/python3', findBinary('python3')].find((p) => p !== undefined);
  const probe = python ? await promisify(execFile)(python, ['-c', 'import spf, dns.resolver']).then(() => true, () => false) : false;
  // A missing reference checker fails the test: scripts/install-peers.sh installs it.
  assert.ok(probe, 'python3-spf is not installed: run scripts/install-peers.sh as root (apt-get install python3-spf)');
  void t;
  const [, port] = env.knot.address.split(':');
  const script = [
    'import sys, spf, dns.resolver',
    'res = dns.resolver.Resolver(configure=False)',
    "res.nameservers = ['127.0.0.1']",
    `res.port = ${port}`,
    'dns.resolver.default_resolver = res',
    'for d in sys.argv[1:]:',
    "    r = spf.check2(i='192.0.2.7', s='user@' + d, h='client.invalid')",
    "    print(d, r[0])",
  ].join('\n');
  const { stdout } = await promisify(execFile)(python!, ['-c', script, 'example.test', 'spf-many.test', 'spf-loop.test', 'spf-void.test', 'spf-two.test', 'spf-syntax.test']);
  const results = Object.fromEntries(stdout.trim().split('\n').map((l) => l.split(' ')));
  assert.equal(results['example.test'], 'pass');
  for (const d of ['spf-many.test', 'spf-loop.test', 'spf-void.test', 'spf-two.test', 'spf-syntax.test']) {
    assert.equal(results[d], 'permerror', `pyspf on ${d}: ${results[d]}`);
    const r = await report(d);
    assert.ok(findings(r, 'spf').some((f) => f.severity === 'error'), `${d} has no SPF error`);
  }
});

let exim: EximPeer | undefined;
after(async () => {
  await exim?.stop();
});

for (const [name, make] of [
  ['the session engine', createEngineStartTlsProber],
  ['node:tls', createNodeStartTlsProber],
] as const) {
  test(`STARTTLS probe on ${name} against Exim: offered, TLS version, certificate valid for the MX name`, async () => {
    exim ??= await startExim();
    const prober = make({ port: exim.port, extraCa: [exim.caPem] });
    const r = await report('tls.test', { prober });
    const ok = one(r, 'starttls-ok');
    assert.match(ok.message, /mail\.example\.test \(127\.0\.0\.1\): STARTTLS with TLSv1\.[23]/);
    assert.deepEqual(findings(r, 'starttls').map((f) => f.code), ['starttls-ok']);
    // Without the test CA the chain does not verify, and that is reported, not hidden.
    const untrusted = await report('tls.test', { prober: make({ port: exim.port }) });
    assert.deepEqual(findings(untrusted, 'starttls').map((f) => f.code), ['starttls-cert-untrusted']);
    // MX hosts whose name the certificate does not cover (the chain itself is fine).
    const wrongName = await report('sts.test', { prober });
    const codes = findings(wrongName, 'starttls').map((f) => f.code);
    assert.deepEqual(codes, ['starttls-cert-name', 'starttls-cert-name']);
    // A port where nothing listens.
    const closed = await report('tls.test', { prober: make({ port: await freePort() }) });
    assert.deepEqual(findings(closed, 'starttls').map((f) => f.code), ['starttls-connect-failed']);
    // A server that does not offer STARTTLS.
    const plain = await startPlainSmtp();
    try {
      const r2 = await report('tls.test', { prober: make({ port: plain.port }) });
      assert.deepEqual(findings(r2, 'starttls').map((f) => f.code), ['starttls-not-offered']);
    } finally {
      plain.server.close();
    }
    // Without a prober the check is skipped.
    assert.ok((await report('tls.test')).checks.find((c) => c.id === 'starttls')?.skipped);
  });
}

/** A minimal SMTP server without STARTTLS: a greeting, EHLO with SIZE only, and QUIT. */
async function startPlainSmtp(): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((socket) => {
    socket.write('220 plain.test ESMTP\r\n');
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      let nl: number;
      while ((nl = buffer.indexOf('\r\n')) !== -1) {
        const line = buffer.slice(0, nl).toUpperCase();
        buffer = buffer.slice(nl + 2);
        if (line.startsWith('EHLO')) socket.write('250-plain.test\r\n250 SIZE 1000000\r\n');
        else if (line === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('502 5.5.1 not implemented\r\n');
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port };
}

test('SPF: a target name that cannot exist is decided as the evaluator decides it: no query, no temperror (RFC 7208 §4.3, §5)', async () => {
  // a, mx and exists with an empty label: three void lookups that do not match, so the third crosses
  // the void limit (§4.6.4); the parser's syntax findings say why, and no DNS failure is claimed.
  const bad = await report('spf-badname.test');
  const codes = findings(bad, 'spf').map((f) => f.code);
  assert.ok(!codes.includes('spf-dns-error'), codes.join(', '));
  assert.equal(codes.filter((c) => c === 'spf-syntax').length, 3);
  assert.equal(covered(one(bad, 'spf-void-limit')), 'exists:e..f');
  // The evaluator (smtpwb verify) gives the same verdict on the same record: permerror at the third void lookup.
  const evaluated = await evaluateSpf({ ip: '192.0.2.1', mailFrom: 'a@spf-badname.test', helo: 'x.test', resolver: createWireResolver({ server: env.knot.address, timeoutMs: 3000 }) });
  assert.equal(evaluated.result, 'permerror', evaluated.reason);
  assert.equal(evaluated.voidLookups, 3);
  // include: of such a name finds no record (permerror), said once, by the syntax finding.
  const inc = await report('spf-badinc.test');
  const incCodes = findings(inc, 'spf').map((f) => f.code);
  assert.ok(!incCodes.includes('spf-dns-error'), incCodes.join(', '));
  assert.equal(incCodes.filter((c) => c === 'spf-syntax').length, 1);
  assert.match(inc.checks.find((c) => c.id === 'spf')!.spfTree!.children[0].note ?? '', /not a valid domain name/);
  // "exp=" with no domain: a syntax error, and the empty name (the root) is never asked.
  const exp = await report('spf-expempty.test');
  const expCodes = findings(exp, 'spf').map((f) => f.code);
  assert.deepEqual(expCodes.filter((c) => c.startsWith('spf-exp') || c === 'spf-dns-error'), []);
  assert.match(one(exp, 'spf-syntax').message, /exp=: a domain is required/);
});

test('SPF: a failing lookup is one finding, however many terms and includes ask it', async () => {
  // mail.elsewhere.example (A, AAAA) and elsewhere.example (MX) lie outside Knot's zones: REFUSED.
  const r = await report('spf-fails.test');
  const failures = findings(r, 'spf').filter((f) => f.code === 'spf-dns-error');
  assert.equal(failures.length, 2, failures.map((f) => f.message).join('\n'));
  assert.ok(failures.some((f) => /mail\.elsewhere\.example/.test(f.message)));
  assert.ok(failures.some((f) => /mx:elsewhere\.example/.test(f.message)));
});

test('DMARC: a record with a duplicate tag is invalid, so the report states no policy from it (RFC 9989 §4.7)', async () => {
  const r = await report('dmarc-dup.test');
  assert.equal(one(r, 'dmarc-duplicate-tag').severity, 'error');
  const dmarc = r.checks.find((c) => c.id === 'dmarc')!;
  assert.equal(dmarc.dmarcWalk?.policy, undefined);
  assert.doesNotMatch(renderText([r]), /policy: p=/);
  assert.ok(!findings(r, 'dmarc').some((f) => f.code === 'dmarc-monitoring' || f.code === 'dmarc-ok'), findings(r, 'dmarc').map((f) => f.code).join(', '));
});

test('MX records reached through a CNAME or a DNAME (Knot) are the domain\'s own: taken, with no foreign-record finding', async () => {
  // The wire-format MX query decides owners from the answer; records owned along the CNAME chain
  // (a synthesized CNAME for the DNAME) answer the question, so nothing is ignored.
  const resolver = createNodeResolver({ server: env.knot.address });
  for (const domain of ['mxalias.test', 'host.dn.test']) {
    const r = await report(domain, { resolver });
    const mx = r.checks.find((c) => c.id === 'mx')!;
    assert.deepEqual(mx.records.filter((x) => x.type === 'MX').map((x) => x.data), ['10 mail.example.test.'], `${domain}: ${JSON.stringify(mx)}`);
    assert.ok(!mx.findings.some((f) => f.code === 'mx-foreign-records'), `${domain}: ${JSON.stringify(mx.findings)}`);
    one(r, 'mx-ok');
  }
});
