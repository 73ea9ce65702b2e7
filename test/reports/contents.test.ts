// What the report parsers and the summary decide, on generated fixtures (test/reports/generate.ts)
// and tables of cases: which JSON is a TLS-RPT report (RFC 8460 §4.4), one row per source address
// and per domain however they are written, totals that stay exact past 2^53, `--domain` per
// TLS-RPT policy, and the records `--min-pass` does not count.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { reportCommand } from '../../client/src/cli/reportCommand';
import { summaryText } from '../../client/src/reports/render';
import { reportForDomains, ReportSummariser, type ReportSummary } from '../../client/src/reports/summary';
import { normalDomain, normalIp } from '../../server/src/reports/normalForm';
import { reportAboutDomain } from '../../client/src/reports/reportDomain';
import { openReportBytes } from '../../server/src/reports/open';
import { reportProblemDefinition } from '../../server/src/reports/reportProblems';
import { isReportDocument } from '../../server/src/reports/validate';
import { captureCli, type CapturedRun } from '../support/cliCapture';
import { aggregateXml, failureReportEml, randomAggregate, reportFileName, tlsRptJson, type AggregateSpec, type RecordSpec, type TlsRptSpec } from './generate';

const codes = (ps: Array<{ code: string }>): string[] => [...new Set(ps.map((p) => p.code))].sort();

/** Opens files given as name and text, and summarises them as `smtpwb report` does. */
function summarise(files: Array<[string, string]>): ReportSummary {
  const s = new ReportSummariser();
  for (const [name, text] of files) {
    s.addFile();
    for (const o of openReportBytes(name, Buffer.from(text), { keepText: true })) s.add(o);
  }
  return s.result();
}

function run(args: string[], cwd: string): Promise<CapturedRun> {
  return captureCli(reportCommand, [...args, '--no-dns'], { cwd });
}

const record = (sourceIp: string, count: number, pass: boolean, headerFrom = 'example.com'): RecordSpec => ({
  sourceIp,
  count,
  disposition: 'none',
  dkim: pass ? 'pass' : 'fail',
  spf: pass ? 'pass' : 'fail',
  headerFrom,
  envelopeFrom: headerFrom,
  spfDomain: headerFrom,
  spfResult: pass ? 'pass' : 'fail',
});

function aggregate(seed: number, domain: string, records: RecordSpec[]): AggregateSpec {
  return { ...randomAggregate(seed, 'rfc9990', domain), records };
}

const tlsSpec = (policyDomain: string, successful: number, failed = 0, reportId = 't-1'): TlsRptSpec => ({
  organizationName: 'Receiver Inc.',
  reportId,
  policyDomain,
  policyType: 'sts',
  successful,
  failures: failed > 0 ? [{ resultType: 'certificate-expired', mx: `mx1.${policyDomain}`, ip: '192.0.2.9', count: failed }] : [],
});

/** One TLS-RPT report whose "policies" hold the policy items of several generated ones. */
function tlsReportOf(specs: TlsRptSpec[], reportId = 't-multi'): string {
  const docs = specs.map((s) => JSON.parse(tlsRptJson(s)) as { policies: unknown[] });
  const first = JSON.parse(tlsRptJson(specs[0])) as Record<string, unknown>;
  return JSON.stringify({ ...first, 'report-id': reportId, policies: docs.flatMap((d) => d.policies) }, null, 2) + '\n';
}

describe('which JSON is a TLS-RPT report (RFC 8460 §4.4)', () => {
  const real = tlsRptJson(tlsSpec('example.com', 10, 2));
  // [what, file name, text, a TLS-RPT report?, the codes expected]; a report that does not parse
  // as JSON is one (its findings are tlsrpt-*), but has no model to summarise.
  const cases: Array<[string, string, string, boolean, string[]]> = [
    ['a package.json', 'package.json', '{"name": "my-package", "version": "1.0.0"}', false, ['report-unknown-format']],
    ['an empty object', 'a.json', '{}', false, ['report-unknown-format']],
    ['a JSON array', 'a.json', '[{"report-id": "x"}]', false, ['report-unknown-format']],
    ['"policies" alone, not policy items', 'a.json', '{"policies": {"read": true}, "name": "x"}', false, ['report-unknown-format']],
    ['"organization-name" alone', 'a.json', '{"organization-name": "Acme"}', false, ['report-unknown-format']],
    ['unrelated JSON cut short', 'a.json', '{"name": "my-package", "vers', false, ['report-unknown-format']],
    ['a real report', 'a.json', real, true, []],
    ['a report cut short', 'a.json', real.slice(0, 200), true, ['tlsrpt-json-syntax']],
    ['only "report-id"', 'a.json', '{"report-id": "r-1"}', true, ['tlsrpt-missing']],
    ['only "date-range"', 'a.json', '{"date-range": {"start-datetime": "2026-01-01T00:00:00Z", "end-datetime": "2026-01-01T23:59:59Z"}}', true, ['tlsrpt-missing']],
    ['only policy items', 'a.json', JSON.stringify({ policies: (JSON.parse(real) as { policies: unknown[] }).policies }), true, ['tlsrpt-missing']],
    ['two of the five members', 'a.json', '{"organization-name": "Acme", "contact-info": "tls@acme.example"}', true, ['tlsrpt-missing']],
    ['a name that says it is a report (§5.1)', `${reportFileName('receiver.example', 'example.com', 1, 2)}.json`, '{"name": "x"}', true, ['tlsrpt-missing', 'tlsrpt-unknown']],
  ];
  for (const [what, name, text, isReport, expected] of cases) {
    it(`${what}: ${isReport ? 'a TLS-RPT report' : 'report-unknown-format'}`, () => {
      const [opened] = openReportBytes(name, Buffer.from(text));
      const parses = !expected.includes('tlsrpt-json-syntax');
      assert.equal(opened.report?.kind, isReport && parses ? 'tls-rpt' : undefined, JSON.stringify(opened.problems));
      assert.deepEqual(codes(opened.problems), expected);
      for (const p of opened.problems) assert.ok(reportProblemDefinition(p.code), p.code);
      // The language server takes the same decision for a file opened in the editor.
      assert.equal(isReportDocument(name, text), isReport, `${what} in the editor`);
    });
  }

  describe('smtpwb report', () => {
    let dir = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'smtpwb-contents-'));
      writeFileSync(join(dir, 'package.json'), '{"name": "my-package"}\n');
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('does not count a package.json as a TLS-RPT report, and exits 2 (no report read)', async () => {
      const r = await run(['package.json'], dir);
      assert.equal(r.code, 2, r.out + r.err);
      assert.match(r.out, /1 file\(s\): 0 DMARC aggregate, 0 TLS-RPT, 0 failure report\(s\), 1 unreadable/);
      assert.match(r.out, /package\.json:1:1: error report-unknown-format not a TLS-RPT report/);
    });
  });
});

describe('one row per source address and per domain, however written', () => {
  it('normal forms: RFC 5952 IPv6, IPv4-mapped as IPv4, domains in lower case without the final dot', () => {
    const ips: Array<[string, string]> = [
      ['192.0.2.1', '192.0.2.1'],
      ['2001:db8::1', '2001:db8::1'],
      ['2001:0db8:0:0::1', '2001:db8::1'],
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['::ffff:192.0.2.1', '192.0.2.1'],
      ['::FFFF:c000:0201', '192.0.2.1'],
      [' 192.0.2.7 ', '192.0.2.7'],
      ['not-an-ip', 'not-an-ip'],
    ];
    for (const [input, want] of ips) assert.equal(normalIp(input), want, input);
    for (const [input, want] of [
      ['Example.COM.', 'example.com'],
      [' example.com ', 'example.com'],
      ['example.com', 'example.com'],
    ]) assert.equal(normalDomain(input), want, input);
  });

  it('groups DMARC sources, domains and header-from domains in their normal form', () => {
    const a = aggregate(1, 'example.com', [record('2001:db8::1', 10, true), record('192.0.2.1', 5, false)]);
    const b = aggregate(2, 'Example.COM.', [record('2001:0db8:0:0::1', 20, true, 'Example.COM.'), record('::ffff:192.0.2.1', 7, true)]);
    const s = summarise([
      ['a.xml', aggregateXml(a)],
      ['b.xml', aggregateXml(b)],
    ]);
    assert.equal(s.counts.aggregate, 2);
    assert.deepEqual(
      s.aggregate.sources.map((x) => [x.sourceIp, x.messages, x.dmarcPass]),
      [
        ['2001:db8::1', 30, 30],
        ['192.0.2.1', 12, 7],
      ],
    );
    assert.deepEqual(s.aggregate.sources[0].headerFrom, ['example.com']);
    assert.deepEqual(
      s.aggregate.domains.map((d) => [d.domain, d.reports, d.messages]),
      [['example.com', 2, 42]],
    );
  });

  it('groups TLS-RPT policies and days by the normal form of the policy domain', () => {
    const s = summarise([
      ['t1.json', tlsRptJson(tlsSpec('example.com', 10, 2, 't-1'))],
      ['t2.json', tlsRptJson(tlsSpec('Example.COM.', 5, 1, 't-2'))],
    ]);
    assert.deepEqual(
      s.tlsRpt.policies.map((p) => [p.policyDomain, p.successful, p.failed, p.reports]),
      [['example.com', 15, 3, 2]],
    );
    assert.deepEqual(
      s.tlsRpt.days.map((d) => [d.day, d.policyDomain, d.successful, d.failed]),
      [['2026-01-01', 'example.com', 15, 3]],
    );
  });
});

describe('totals stay exact past 2^53', () => {
  const MAX = Number.MAX_SAFE_INTEGER;

  it('leaves out the DMARC record that would take a total past 2^53 - 1, with a finding', () => {
    const big = aggregate(3, 'example.com', [record('192.0.2.1', MAX, true)]);
    const more = aggregate(4, 'example.com', [record('192.0.2.2', 2, false), record('192.0.2.3', 0, false)]);
    const s = summarise([
      ['big.xml', aggregateXml(big)],
      ['more.xml', aggregateXml(more)],
    ]);
    assert.equal(s.aggregate.messages, MAX);
    assert.equal(s.aggregate.dmarcPass, MAX);
    assert.equal(s.aggregate.passRate, 1);
    assert.equal(s.aggregate.recordsLeftOut, 1);
    assert.equal(s.aggregate.domains[0].messages, MAX);
    const limit = s.findings.filter((f) => f.code === 'report-total-limit');
    assert.equal(limit.length, 1);
    assert.equal(limit[0].source, 'more.xml');
    assert.equal(limit[0].severity, 'error');
    assert.ok(limit[0].line !== undefined && limit[0].line > 1, 'placed on the record');
    // The record with 0 messages still counts (it takes no total past the limit).
    assert.ok(s.aggregate.sources.some((x) => x.sourceIp === '192.0.2.3'));
    for (const n of [s.aggregate.messages, s.aggregate.dmarcPass, ...s.aggregate.sources.map((x) => x.messages), ...s.aggregate.days.map((d) => d.messages)]) {
      assert.ok(Number.isSafeInteger(n), String(n));
    }
  });

  it('leaves out the TLS-RPT policy that would take a total past 2^53 - 1, with a finding', () => {
    const s = summarise([
      ['t1.json', tlsRptJson(tlsSpec('example.com', MAX - 10, 10, 't-1'))],
      ['t2.json', tlsRptJson(tlsSpec('example.com', 3, 0, 't-2'))],
    ]);
    assert.equal(s.tlsRpt.successful, MAX - 10);
    assert.equal(s.tlsRpt.failed, 10);
    assert.equal(s.tlsRpt.policiesLeftOut, 1);
    assert.deepEqual(
      s.findings.filter((f) => f.code === 'report-total-limit').map((f) => f.source),
      ['t2.json'],
    );
  });

  describe('smtpwb report --json', () => {
    let dir = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'smtpwb-contents-'));
      writeFileSync(join(dir, 'big.xml'), aggregateXml(aggregate(5, 'example.com', [record('192.0.2.1', MAX - 1, true)])));
      writeFileSync(join(dir, 'more.xml'), aggregateXml(aggregate(6, 'example.com', [record('192.0.2.2', 1, false), record('192.0.2.3', 1, false)])));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('writes every figure as an exact JSON integer, and says what it left out', async () => {
      const r = await run(['big.xml', 'more.xml', '--json'], dir);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /"messages": 9007199254740991,/);
      const s = JSON.parse(r.out) as ReportSummary;
      assert.equal(s.aggregate.messages, MAX);
      assert.equal(s.aggregate.dmarcPass, MAX - 1);
      assert.equal(s.aggregate.recordsLeftOut, 1);
      assert.ok(s.findings.some((f) => f.code === 'report-total-limit' && f.source === 'more.xml'));
      const text = await run(['big.xml', 'more.xml'], dir);
      // 9007199254740990 of 9007199254740991 passed: a failure rounding must not hide.
      assert.match(text.out, /messages 9007199254740991, DMARC pass >99\.9%/);
      assert.match(text.out, /records left out of the totals: 1/);
    });
  });
});

describe('TLS-RPT session counts that cannot be read', () => {
  it('leave their policy out of every total, rather than count it as 0 sessions', () => {
    const good = tlsRptJson(tlsSpec('example.com', 10, 2, 't-1'));
    // A sender that writes the failure count as a string: 12 failed sessions must not read as 0.
    const stringCount = tlsRptJson(tlsSpec('example.com', 30, 12, 't-2')).replace('"total-failure-session-count": 12', '"total-failure-session-count": "12"');
    const noSummary = JSON.stringify({ ...(JSON.parse(tlsRptJson(tlsSpec('example.com', 5, 0, 't-3'))) as Record<string, unknown>), policies: [{ policy: { 'policy-type': 'sts', 'policy-domain': 'example.com' } }] });
    const s = summarise([
      ['good.json', good],
      ['string.json', stringCount],
      ['nosummary.json', noSummary],
    ]);
    assert.equal(s.counts.tlsRpt, 3);
    assert.equal(s.tlsRpt.successful, 10);
    assert.equal(s.tlsRpt.failed, 2);
    assert.equal(s.tlsRpt.policiesLeftOut, 2);
    const why = s.findings.filter((f) => f.severity === 'error').map((f) => [f.source, f.code, f.message]);
    assert.deepEqual(why, [
      ['string.json', 'tlsrpt-value', '"total-failure-session-count" is not a whole number of sessions from 0 to 2^53 - 1; the policy is left out of the totals'],
      ['nosummary.json', 'tlsrpt-missing', 'a policy item has no "summary"; the policy is left out of the totals'],
    ]);
    assert.match(summaryText(s), /policies left out of the totals: 2 /);
  });
});

describe('--domain and a TLS-RPT report about several policy domains', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'smtpwb-contents-'));
    writeFileSync(join(dir, 'multi.json'), tlsReportOf([tlsSpec('example.com', 10, 2), tlsSpec('Example.NET.', 100, 0), tlsSpec('example.org', 7, 1)]));
    writeFileSync(join(dir, 'net.json'), tlsRptJson(tlsSpec('example.net', 50, 5, 't-net')));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [domain, successful, failed, reports, policiesLeftOut, reportsLeftOut] of [
    ['example.com', 10, 2, 1, 2, 1],
    ['example.net.', 150, 5, 2, 2, 0],
    ['EXAMPLE.ORG', 7, 1, 1, 2, 1],
  ] as const) {
    it(`--domain ${domain} counts only that domain's policies`, async () => {
      const r = await run(['.', '--domain', domain, '--json'], dir);
      assert.equal(r.code, 0, r.err);
      const s = JSON.parse(r.out) as ReportSummary;
      assert.equal(s.counts.tlsRpt, reports);
      assert.equal(s.tlsRpt.successful, successful);
      assert.equal(s.tlsRpt.failed, failed);
      assert.deepEqual(
        s.tlsRpt.policies.map((p) => p.policyDomain),
        [normalDomain(domain)],
      );
      assert.ok(s.tlsRpt.days.every((d) => d.policyDomain === normalDomain(domain)));
      assert.match(r.err, new RegExp(`left out ${policiesLeftOut} TLS-RPT policy item\\(s\\) about other domains`));
      if (reportsLeftOut > 0) assert.match(r.err, new RegExp(`left out ${reportsLeftOut} report\\(s\\) about other domains`));
      else assert.doesNotMatch(r.err, /report\(s\) about other domains/);
    });
  }

  it('reportForDomains: aggregate and failure reports whole, by their domain in the normal form', () => {
    const [agg] = openReportBytes('a.xml', Buffer.from(aggregateXml(aggregate(10, 'Example.COM.', [record('192.0.2.1', 1, true)]))));
    const [ruf] = openReportBytes('f.eml', Buffer.from(failureReportEml({ reportedDomain: 'EXAMPLE.com', originalFromDomain: 'example.com', sourceIp: '192.0.2.9', authFailure: 'dmarc' })));
    const [tls] = openReportBytes('t.json', Buffer.from(tlsReportOf([tlsSpec('example.com', 1), tlsSpec('example.net', 2)])));
    const only = (d: string) => (x: string) => x === d;
    assert.ok(agg.report && ruf.report && tls.report);
    assert.equal(reportForDomains(agg.report, only('example.com')), agg.report);
    assert.equal(reportForDomains(agg.report, only('example.net')), undefined);
    assert.equal(reportForDomains(ruf.report, only('example.com')), ruf.report);
    assert.equal(reportForDomains(tls.report, only('example.org')), undefined);
    assert.equal(reportForDomains(tls.report, () => true), tls.report);
    const net = reportForDomains(tls.report, only('example.net'));
    assert.deepEqual(net?.kind === 'tls-rpt' ? net.policies.map((p) => p.policyDomain) : [], ['example.net']);
    // The report read is not changed.
    assert.equal(tls.report.kind === 'tls-rpt' ? tls.report.policies.length : 0, 2);
  });

  it("the report view's domain filter (reportAboutDomain) keeps a TLS-RPT report's policies for that domain and its relatives only", () => {
    const [tls] = openReportBytes('t.json', Buffer.from(tlsReportOf([tlsSpec('mx.example.com', 1), tlsSpec('example.net', 2)])));
    const [agg] = openReportBytes('a.xml', Buffer.from(aggregateXml(aggregate(10, 'example.com', [record('192.0.2.1', 1, true)]))));
    assert.ok(tls.report && agg.report);
    const kept = reportAboutDomain(tls.report, 'Example.COM.');
    assert.deepEqual(kept?.kind === 'tls-rpt' ? kept.policies.map((p) => p.policyDomain) : [], ['mx.example.com']);
    assert.equal(reportAboutDomain(tls.report, 'example.org'), undefined);
    // An aggregate report on example.com covers its subdomains (sp=, RFC 9989 §4.7).
    assert.equal(reportAboutDomain(agg.report, 'news.example.com'), agg.report);
    assert.equal(reportAboutDomain(agg.report, ''), undefined);
  });

  it('without --domain every policy counts', async () => {
    const r = await run(['.', '--json'], dir);
    const s = JSON.parse(r.out) as ReportSummary;
    assert.equal(s.tlsRpt.successful, 167);
    assert.deepEqual(
      s.tlsRpt.policies.map((p) => p.policyDomain),
      ['example.com', 'example.net', 'example.org'],
    );
  });
});

describe('--min-pass and records left out of the totals', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'smtpwb-contents-'));
    const spec = aggregate(7, 'example.com', [record('192.0.2.1', 90, true), record('192.0.2.2', 10, false), record('192.0.2.3', 500, false)]);
    // The failing source's count cannot be read: the record is left out of every total.
    writeFileSync(join(dir, 'r.xml'), aggregateXml(spec).replace('<count>500</count>', '<count>5OO</count>'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('says how many records the pass rate leaves out, when it holds', async () => {
    const r = await run(['r.xml', '--min-pass', '0.9'], dir);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /1 DMARC record\(s\) are left out of the pass rate that --min-pass checks/);
    assert.match(r.out, /messages 100, DMARC pass 90\.0%/);
    assert.match(r.out, /records left out of the totals: 1 /);
    assert.match(r.out, /error dmarc-agg-value <count> is "5OO", not an integer; the record is left out of the totals/);
  });

  it('the Markdown and JSON outputs say it too', async () => {
    const md = await run(['r.xml', '--markdown'], dir);
    assert.match(md.out, /Records left out of the totals: 1 /);
    const json = JSON.parse((await run(['r.xml', '--json'], dir)).out) as ReportSummary;
    assert.equal(json.aggregate.recordsLeftOut, 1);
    assert.equal(json.aggregate.messages, 100);
  });

  it('and when it does not', async () => {
    const r = await run(['r.xml', '--min-pass', '95%'], dir);
    assert.equal(r.code, 1);
    assert.match(r.err, /1 DMARC record\(s\) are left out/);
    assert.match(r.err, /below --min-pass/);
  });

  it('the summary counts records a truncated file cuts through', () => {
    const xml = aggregateXml(aggregate(8, 'example.com', [record('192.0.2.1', 3, true), record('192.0.2.2', 4, true)]));
    const cut = xml.slice(0, xml.lastIndexOf('<auth_results>'));
    const s = summarise([['cut.xml', cut]]);
    assert.equal(s.aggregate.messages, 3);
    assert.equal(s.aggregate.recordsLeftOut, 1);
    assert.match(summaryText(s), /records left out of the totals: 1 /);
  });

  it('a clean run says nothing of it', async () => {
    writeFileSync(join(dir, 'clean.xml'), aggregateXml(aggregate(9, 'example.com', [record('192.0.2.1', 5, true)])));
    const r = await run(['clean.xml', '--min-pass', '0.9'], dir);
    assert.equal(r.code, 0);
    assert.equal(r.err, '');
    assert.doesNotMatch(r.out, /left out/);
  });
});
