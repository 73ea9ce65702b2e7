// `smtpwb dns` end to end: dnsCommand() against Knot, the local MTA-STS server and Exim, with the
// exit codes 0, 1, 2 and 3; and the CLI bundle too once main.ts dispatches `dns`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runReport, type DomainReportJson } from '../../client/src/dns/index';
import { buildDomainNode, type MailDnsNode } from '../../client/src/views/mailDnsTree';
import { startExim } from '../peers/exim';
import { runDnsCli, type DnsCliResult } from './cliRun';
import { startDnsTestEnv, type DnsTestEnv } from './env';
import { startFakeDns } from './fakeDns';
import { startStallingSmtp } from './stallingSmtp';

let env: DnsTestEnv;
before(async () => {
  env = await startDnsTestEnv();
});
after(async () => {
  await env?.stop();
});

const cli = (args: string[], extraEnv: Record<string, string> = {}): Promise<DnsCliResult> => runDnsCli(env, args, extraEnv);

test('the good domain: exit 0, one JSON object with checks, findings and raw records', async () => {
  const r = await cli(['example.test', '--selector', 'ed', '--dns-server', env.knot.address, '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const report = JSON.parse(lines[0]) as DomainReportJson;
  assert.equal(report.domain, 'example.test');
  assert.equal(report.errors, 0);
  assert.deepEqual(report.checks.map((c) => c.id), ['mx', 'ptr', 'spf', 'dkim', 'dmarc', 'mta-sts', 'tls-rpt', 'bimi', 'starttls']);
  const mtaSts = report.checks.find((c) => c.id === 'mta-sts')!;
  assert.equal(mtaSts.status, 'pass');
  assert.ok(mtaSts.records.some((x) => x.type === 'HTTPS' && /mode: enforce/.test(x.data)));
  assert.ok(report.checks.find((c) => c.id === 'mx')!.records.some((x) => x.data === '10 mail.example.test.'));
});

test('findings with errors: exit 1; one JSON line per domain with codes and ranges', async () => {
  const r = await cli(['spf-syntax.test', 'dmarc-dup.test', '--dns-server', env.knot.address, '--json', '--no-selector-probe']);
  assert.equal(r.code, 1);
  const reports = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as DomainReportJson);
  assert.deepEqual(reports.map((x) => x.domain), ['spf-syntax.test', 'dmarc-dup.test']);
  const syntax = reports[0].checks.find((c) => c.id === 'spf')!.findings.find((f) => f.code === 'spf-syntax')!;
  assert.equal(syntax.severity, 'error');
  assert.deepEqual(syntax.record?.range, { start: 11, end: 22 });
  const dup = reports[1].checks.find((c) => c.id === 'dmarc')!.findings.find((f) => f.code === 'dmarc-duplicate-tag')!;
  assert.equal(dup.record?.text.slice(dup.record.range!.start, dup.record.range!.end), 'p=reject');
});

test('the readable report', async () => {
  const r = await cli(['spf-syntax.test', '--dns-server', env.knot.address]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /spf-syntax: Syntax error at column 12/);
  assert.match(r.stdout, /✗ error/);
});

test('the Markdown report', async () => {
  const r = await cli(['dmarc-dup.test', '--dns-server', env.knot.address, '--markdown', '--no-selector-probe']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^# Mail DNS report for dmarc-dup\.test/);
  assert.match(r.stdout, /\*\*error\*\* `dmarc-duplicate-tag`/);
  assert.match(r.stdout, /\| DMARC \| error \|/);
});

/** A zone whose records try to forge report lines, Markdown and theme icons. */
async function setForgeZone(): Promise<void> {
  // \010 is a line feed in zone-file text (RFC 1035 §5.1). The SPF record tries to print a fake
  // "pass" line; the include targets' records carry a code fence, a heading, a link, a theme icon
  // and an escape sequence (\027 is ESC).
  await env.knot.setZone(
    'forge.test',
    [
      '$ORIGIN forge.test.',
      '$TTL 300',
      '@ TXT "v=spf1 include:x.forge.test include:y.forge.test include:\\010    + pass    spf-ok: SPF record is valid\\010 -all"',
      'y TXT "v=spf1 $(pass) \\027[31m -all"',
      'x TXT "v=spf1 ip4:192.0.2.1\\010```\\010# Owned\\010[click](https://evil.example/) -all"',
      '_dmarc TXT "v=DMARC1; p=reject\\010    + pass    dmarc-ok: forged; rua=mailto:a@forge.test"',
      '',
    ].join('\n'),
  );
}

test('DNS data cannot forge report lines: line feeds are escaped in the terminal and Markdown, and Markdown stays inert', async () => {
  await setForgeZone();
  const text = await cli(['forge.test', '--dns-server', env.knot.address, '--no-selector-probe']);
  assert.ok(text.stdout.includes('\\x0A'), text.stdout);
  for (const line of text.stdout.split('\n')) {
    assert.doesNotMatch(line, /^\s*\+ pass /, `a forged line in the terminal report: ${line}`);
    assert.doesNotMatch(line, /^(```|# Owned|\[click\])/, `a forged line in the terminal report: ${line}`);
  }
  const md = await cli(['forge.test', '--dns-server', env.knot.address, '--no-selector-probe', '--markdown']);
  const lines = md.stdout.split('\n');
  for (const line of lines) {
    assert.doesNotMatch(line, /^\s*\+ pass /, `a forged line in the Markdown report: ${line}`);
    assert.doesNotMatch(line, /^\s*(# Owned|\[click\])/, `a forged line in the Markdown report: ${line}`);
  }
  // Each SPF tree line is one line with the record in one code span, whatever backticks it holds.
  const tree = lines.slice(lines.indexOf('SPF tree:') + 2, lines.indexOf('', lines.indexOf('SPF tree:') + 2));
  assert.ok(tree.length >= 2, md.stdout);
  const xLine = tree.find((l) => l.startsWith('  - include:x.forge.test'))!;
  assert.match(xLine, /^ {2}- include:x\.forge\.test ````v=spf1 ip4:192\.0\.2\.1\\x0A```\\x0A# Owned\\x0A\[click\]\(https:\/\/evil\.example\/\) -all```` — /, xLine);
  // A fenced block opened by the report is closed by the report, never by a record.
  const fences = lines.filter((l) => /^\s{0,3}```/.test(l));
  assert.ok(fences.includes('````'), 'the SPF records, which hold a fence of three, get a fence of four');
  for (const f of fences) assert.match(f, /^```+$/, `a fence line: ${f}`);
  // Finding messages quote the DMARC record: escaped, with nothing Markdown-active left raw.
  assert.ok(md.stdout.includes('\\[click\\](https://evil.example/)'), 'the link in a finding message is escaped');
  for (const line of lines.filter((l) => /(^|[^\\])\[click\]\(/.test(l))) {
    assert.ok(/````.*\[click\]\(.*````/.test(line) || line.startsWith('x.forge.test TXT '), `a live link outside a code span or the raw records: ${line}`);
  }
});

test('the Mail DNS view shows the same DNS data inertly: one line, controls visible, no theme icon', async () => {
  await setForgeZone();
  const report = await runReport('forge.test', { resolver: env.resolver, fetcher: env.fetcher, probeSelectors: false, timeoutMs: 3000 });
  const root = buildDomainNode({ domain: 'forge.test', report, running: false, selectors: [] });
  const seen: string[] = [];
  const walk = (n: MailDnsNode): void => {
    for (const [what, value] of [['label', n.label], ['description', n.description ?? '']] as const) {
      assert.doesNotMatch(value, /[\u0000-\u001f\u007f]/, `a raw control character in a ${what}: ${JSON.stringify(value)}`);
      assert.doesNotMatch(value, /(^|[^\\])\$\(/, `a live theme icon in a ${what}: ${value}`);
      seen.push(value);
    }
    for (const line of (n.tooltip ?? '').split('\n')) {
      assert.doesNotMatch(line, /[\u0000-\u001f\u007f]/, `a raw control character in a tooltip: ${JSON.stringify(line)}`);
      assert.doesNotMatch(line, /^\s*\+ pass /, `a forged tooltip line: ${line}`);
    }
    for (const c of n.children) walk(c);
  };
  walk(root);
  assert.ok(seen.some((v) => v.includes('\\$(pass) \\x1B[31m')), 'the record with an icon and ESC is shown, escaped');
  assert.ok(seen.some((v) => v.includes('include:\\x0A    + pass')), 'the record with line feeds is shown, escaped');
});

test('usage errors exit 2', async () => {
  assert.equal((await cli([])).code, 2);
  assert.equal((await cli(['example.test', '--frobnicate'])).code, 2);
  assert.equal((await cli(['example.test', '--dns-server', 'ns example.test'])).code, 2);
  assert.equal((await cli(['example.test', '--dns-server', '::1:53'])).code, 2);
  assert.equal((await cli(['not a domain'])).code, 2);
  assert.equal((await cli(['example.test', '--json', '--markdown'])).code, 2);
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: smtpwb dns/);
});

test('DNS that cannot be reached exits 3', async () => {
  const silent = await startFakeDns('silent');
  try {
    const r = await cli(['example.test', '--dns-server', silent.address, '--timeout', '300', '--json']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /DNS could not be reached/);
    assert.equal((JSON.parse(r.stdout.trim().split('\n')[0]) as DomainReportJson).dnsUnreachable, true);
  } finally {
    await silent.stop();
  }
  // SERVFAIL reaches a server: it is an error finding (exit 1), not "unreachable".
  const servfail = await startFakeDns('servfail');
  try {
    const r = await cli(['example.test', '--dns-server', servfail.address, '--json']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /mx-dns-error/);
  } finally {
    await servfail.stop();
  }
});

test('--probe-starttls against Exim', async () => {
  const exim = await startExim();
  try {
    const r = await cli(['tls.test', '--dns-server', env.knot.address, '--probe-starttls', '--json', '--no-selector-probe'], {
      SMTPWB_DNS_SMTP_PORT: String(exim.port),
      SMTPWB_DNS_EXTRA_CA: exim.caPath,
    });
    const report = JSON.parse(r.stdout.trim()) as DomainReportJson;
    const starttls = report.checks.find((c) => c.id === 'starttls')!;
    assert.equal(starttls.status, 'pass', JSON.stringify(starttls.findings));
    assert.match(starttls.findings[0].message, /TLSv1\.[23]/);
  } finally {
    await exim.stop();
  }
});

test('the CLI bundle runs `smtpwb dns`', async (t) => {
  const cliJs = join(process.env.SMTPWB_DIST ?? 'dist', 'cli.js');
  assert.ok(existsSync(cliJs), `${cliJs} is not built: run node scripts/build.mjs`);
  void t;
  const result = await promisify(execFile)(process.execPath, [cliJs, 'dns', 'example.test', '--dns-server', env.knot.address, '--json', '--selector', 'ed'], {
    env: { ...process.env, SMTPWB_DNS_HTTPS_PORT: String(env.httpsPort), SMTPWB_DNS_EXTRA_CA: env.caPath },
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
  );
  assert.ok(result.stdout.startsWith('{'), `smtpwb dns printed no JSON (exit ${result.code}: ${result.stderr.slice(0, 200)})`);
  assert.equal(result.code, 0, result.stderr);
  assert.equal((JSON.parse(result.stdout) as DomainReportJson).domain, 'example.test');
});

test('--timeout bounds the whole run: a silent DNSSEC resolver and a STARTTLS probe that never ends stop within the timeout plus one second', async () => {
  const silent = await startFakeDns('silent');
  const smtp = await startStallingSmtp('drip');
  try {
    const started = Date.now();
    const r = await cli(['tls.test', '--dns-server', env.knot.address, '--dnssec-resolver', silent.address, '--probe-starttls', '--timeout', '1500', '--json', '--no-selector-probe'], {
      SMTPWB_DNS_SMTP_PORT: String(smtp.port),
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 2500, `the run took ${elapsed} ms`);
    const report = JSON.parse(r.stdout.trim()) as DomainReportJson;
    // The EHLO reply never ended: a failed probe, not "STARTTLS not offered".
    const starttls = report.checks.find((c) => c.id === 'starttls')!.findings.map((f) => f.code);
    assert.ok(starttls.includes('starttls-connect-failed'), starttls.join(', '));
    assert.ok(!starttls.includes('starttls-not-offered'), starttls.join(', '));
    assert.ok(report.checks.some((c) => c.id === 'dnssec'));
  } finally {
    await smtp.stop();
    await silent.stop();
  }
});

test('a --timeout beyond what a timer can hold (2^31-1 ms) is a usage error, not a run where every query fails', async () => {
  for (const value of ['2147483648', '2147484s', '99999999999999999999']) {
    const r = await cli(['example.test', '--dns-server', env.knot.address, '--timeout', value]);
    assert.equal(r.code, 2, `${value}: ${r.stderr}`);
    assert.match(r.stderr, /--timeout/);
  }
  // The largest value that fits still runs.
  const ok = await cli(['example.test', '--dns-server', env.knot.address, '--timeout', '2147483647', '--json', '--selector', 'ed']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('a selector that cannot be a DNS name is a usage error (exit 2), not a DNS error', async () => {
  for (const selector of ['a..b', 'x'.repeat(64), 'a b', `${'s'.repeat(60)}.${'s'.repeat(60)}.${'s'.repeat(60)}.${'s'.repeat(60)}`]) {
    const r = await cli(['example.test', '--dns-server', env.knot.address, '--selector', selector, '--json']);
    assert.equal(r.code, 2, `${selector}: ${r.stdout.slice(0, 200)}`);
    assert.match(r.stderr, /--selector/);
    assert.equal(r.stdout, '');
  }
  // 63 characters is the longest label.
  const ok = await cli(['example.test', '--dns-server', env.knot.address, '--selector', 'x'.repeat(63), '--no-selector-probe', '--json']);
  assert.equal(ok.code, 1, ok.stderr);
  assert.match(ok.stdout, /dkim-selector-missing/);
});

test('--no-selector-probe without --selector says that no selector was checked, not that common names were probed', async () => {
  const r = await cli(['example.test', '--dns-server', env.knot.address, '--no-selector-probe', '--json']);
  const dkim = (JSON.parse(r.stdout.trim()) as DomainReportJson).checks.find((c) => c.id === 'dkim')!;
  assert.deepEqual(dkim.findings.map((f) => f.code), ['dkim-not-checked']);
  assert.doesNotMatch(dkim.findings[0].message, /common selector names;/);
  assert.match(dkim.findings[0].message, /not probed/);
});

test('TXT text that is UTF-8 reads as UTF-8 in the text report and --json, and a CR shows as \\r, not \\n', async () => {
  const json = await cli(['utf8.test', '--dns-server', env.knot.address, '--no-selector-probe', '--json']);
  const rpt = (JSON.parse(json.stdout.trim()) as DomainReportJson).checks.find((c) => c.id === 'tls-rpt')!;
  assert.deepEqual(rpt.records.map((r) => r.data), ['v=TLSRPTv1; rua=mailto:caf\u00e9@example.test\r\n']);
  const text = await cli(['utf8.test', '--dns-server', env.knot.address, '--no-selector-probe']);
  assert.ok(text.stdout.includes('caf\u00e9@example.test\\r\\n"'), text.stdout);
  assert.ok(!text.stdout.includes('\u00c3'), 'no Latin-1 reading of the UTF-8 octets');
  const md = await cli(['utf8.test', '--dns-server', env.knot.address, '--no-selector-probe', '--markdown']);
  assert.ok(md.stdout.includes('caf\u00e9@example.test\\r\\n'), md.stdout);
});

test('an MX record owned by another name in the answer is ignored with a finding, not taken as the domain\'s MX (RFC 1034 §3.6.2, RFC 5452 §9.1)', async () => {
  // No real server sends such an answer (Knot answers only for the name asked, Unbound scrubs
  // foreign records), so the project's loopback responder does, in real DNS over UDP.
  const fake = await startFakeDns('foreign-mx');
  try {
    const r = await cli(['own.test', '--dns-server', fake.address, '--no-selector-probe', '--json']);
    const mx = (JSON.parse(r.stdout.trim()) as DomainReportJson).checks.find((c) => c.id === 'mx')!;
    assert.deepEqual(mx.records.filter((x) => x.type === 'MX').map((x) => x.data), ['10 mx.own.test.'], JSON.stringify(mx));
    const foreign = mx.findings.find((f) => f.code === 'mx-foreign-records');
    assert.ok(foreign, JSON.stringify(mx.findings));
    assert.match(foreign.message, /evil\.test MX/);
    assert.ok(!JSON.stringify(mx.findings.filter((f) => f !== foreign)).includes('evil'), JSON.stringify(mx.findings));
    // An answer holding only a foreign MX record holds no MX of the domain: the implicit MX applies.
    const only = await cli(['onlyforeign.own.test', '--dns-server', fake.address, '--no-selector-probe', '--json']);
    const alone = (JSON.parse(only.stdout.trim()) as DomainReportJson).checks.find((c) => c.id === 'mx')!;
    assert.deepEqual(alone.records.filter((x) => x.type === 'MX'), [], JSON.stringify(alone));
    assert.deepEqual(alone.findings.map((f) => f.code).sort(), ['mx-foreign-records', 'mx-implicit'], JSON.stringify(alone.findings));
  } finally {
    await fake.stop();
  }
});
