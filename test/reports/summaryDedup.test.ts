// The summary of many findings and of the same report read more than once: each finding's line and
// column come from one index of the report's text (not a scan from the start per finding), at most
// FINDINGS_PER_CODE findings of a code per report are listed (one more counts the rest), and a
// report read twice (a.xml, a.xml.gz and a.zip; a TLS-RPT .json and .json.gz) is counted once, with
// a `report-duplicate` warning naming both files (docs/reports.md).
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAggregateXml } from '../../server/src/reports/aggregate';
import { openReportBytes } from '../../server/src/reports/open';
import { ReportSummariser, type ReportSummary } from '../../client/src/reports/summary';
import { reportCommand } from '../../client/src/cli/reportCommand';
import { captureCli } from '../support/cliCapture';
import { aggregateXml, expectedCounts, gzip, randomAggregate, tlsRptJson, zipFiles, type AggregateSpec } from './generate';

/** The 1-based line and column of an offset, the slow and obvious way (the reference). */
function naiveLineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - (before.lastIndexOf('\n') + 1) + 1 };
}

/** A report text that counts how often it is searched (`indexOf`), to tell one scan from one per finding. */
class CountingText extends String {
  calls = 0;
  override indexOf(search: string, position?: number): number {
    this.calls++;
    return super.indexOf(search, position);
  }
}

/** An RFC 9990 report whose first record holds `unknown` elements the schema does not define, after `padding` blank lines. */
function reportWithUnknowns(unknown: number, padding: number, eol = '\n'): { xml: string; spec: AggregateSpec } {
  const spec = randomAggregate(21, 'rfc9990');
  const extra = eol.repeat(padding) + Array.from({ length: unknown }, (_, i) => `<surprise n="${i}"/>`).join(eol);
  const xml = aggregateXml(spec).replace('</identifiers>', `</identifiers>${extra}${eol}`);
  return { xml, spec };
}

function summarise(add: (s: ReportSummariser) => void): ReportSummary {
  const s = new ReportSummariser();
  add(s);
  return s.result();
}

describe('report summary: the positions of findings (H3)', () => {
  it('gives every finding its line and column from one scan of the text, not one per finding', () => {
    for (const eol of ['\n', '\r\n']) {
      const { xml } = reportWithUnknowns(90, 3000, eol);
      const { report, problems } = parseAggregateXml(xml);
      assert.equal(problems.filter((p) => p.code === 'dmarc-agg-unknown').length, 90);
      const text = new CountingText(xml);
      const sum = summarise((s) => s.add({ source: 'r.xml', report, problems, text: text as unknown as string }));
      const lines = xml.split('\n').length;
      // One index of the text: one search per line (and one that finds no more), whatever the number of findings.
      assert.ok(text.calls <= lines + 1, `${text.calls} searches of a text of ${lines} lines`);
      assert.equal(sum.findings.length, problems.length);
      for (const f of sum.findings) {
        const want = naiveLineColumn(xml, f.start);
        assert.deepEqual({ line: f.line, column: f.column }, want, `${f.code} at ${f.start}`);
      }
      // The unknown elements are each on their own line, after the padding.
      const first = sum.findings.find((f) => f.code === 'dmarc-agg-unknown');
      assert.equal(xml.slice(first?.start, (first?.start ?? 0) + 10), '<surprise ');
      assert.equal(first?.column, 1);
    }
  });

  it('lists at most 100 findings of a code per report and one more that counts the rest; totals are unchanged', () => {
    const { xml, spec } = reportWithUnknowns(1000, 0);
    const [opened] = openReportBytes('many.xml', Buffer.from(xml), { keepText: true });
    assert.equal(opened.problems.filter((p) => p.code === 'dmarc-agg-unknown').length, 1000, 'the parser reports each one');
    const sum = summarise((s) => s.add(opened));
    const unknown = sum.findings.filter((f) => f.code === 'dmarc-agg-unknown');
    assert.equal(unknown.length, 101);
    assert.ok(unknown.slice(0, 100).every((f) => /<surprise> is not an element/.test(f.message)));
    const rest = unknown[100];
    assert.equal(rest.severity, 'warning');
    assert.match(rest.message, /900 more/);
    assert.equal(xml.slice(rest.start, rest.start + 17), '<surprise n="100"');
    assert.ok(rest.end > xml.lastIndexOf('<surprise'), 'the counting finding covers the ones it stands for');
    assert.equal(rest.line, naiveLineColumn(xml, rest.start).line);
    // The cap is per report: a second copy of the report under another name lists its own 101
    // (it is a duplicate, so its counts are not added).
    const want = expectedCounts([spec]);
    assert.equal(sum.aggregate.messages, want.messages);
    assert.equal(sum.aggregate.dmarcPass, want.dmarcPass);
    assert.deepEqual(sum.counts, { aggregate: 1, tlsRpt: 0, failure: 0, unreadable: 0 });
  });

  it('summarises a report with 50,000 unknown elements (each finding once on its own line) in linear time', { timeout: 120_000 }, () => {
    const { xml, spec } = reportWithUnknowns(50_000, 0);
    const [opened] = openReportBytes('huge.xml', Buffer.from(xml), { keepText: true });
    const text = new CountingText(opened.text ?? '');
    const sum = summarise((s) => s.add({ ...opened, text: text as unknown as string }));
    assert.ok(text.calls <= xml.split('\n').length + 1, `${text.calls} searches`);
    assert.equal(sum.findings.filter((f) => f.code === 'dmarc-agg-unknown').length, 101);
    assert.equal(sum.aggregate.messages, expectedCounts([spec]).messages);
  });
});

describe('report summary: the same report read twice is counted once (H4)', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'smtpwb-report-dedup-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A report of 100 messages, `passing` of them passing DMARC. */
  const spec100 = (reportId: string, passing: number, domain = 'example.com'): AggregateSpec => {
    const base = randomAggregate(31, 'rfc9990', domain);
    const record = { ...base.records[0], headerFrom: domain, dkimDomain: undefined, reason: undefined };
    return {
      ...base,
      orgName: 'Receiver Inc',
      email: 'r@receiver.example',
      reportId,
      records: [
        { ...record, sourceIp: '192.0.2.1', count: passing, dkim: 'pass', spf: 'pass', spfResult: 'pass' },
        { ...record, sourceIp: '198.51.100.7', count: 100 - passing, dkim: 'fail', spf: 'fail', spfResult: 'fail' },
      ],
    };
  };

  it('a.xml, a.xml.gz and a.zip of one aggregate report: one report, its messages once, a warning naming both files', () => {
    const xml = aggregateXml(spec100('r-1', 90));
    const files: Array<[string, Buffer]> = [
      ['a.xml', Buffer.from(xml)],
      ['a.xml.gz', gzip(xml)],
      ['a.zip', zipFiles([{ name: 'a.xml', data: Buffer.from(xml) }])],
    ];
    const sum = summarise((s) => {
      for (const [name, bytes] of files) for (const o of openReportBytes(name, bytes, { keepText: true })) s.add(o);
    });
    assert.equal(sum.counts.aggregate, 1);
    assert.equal(sum.aggregate.messages, 100);
    assert.equal(sum.aggregate.dmarcPass, 90);
    assert.equal(sum.aggregate.domains[0].reports, 1);
    assert.equal(sum.aggregate.reporters[0].reports, 1);
    assert.equal(sum.aggregate.reporters[0].messages, 100);
    assert.equal(sum.aggregate.sources.find((x) => x.sourceIp === '192.0.2.1')?.messages, 90);
    assert.equal(sum.aggregate.days[0].messages, 100);
    const dups = sum.findings.filter((f) => f.code === 'report-duplicate');
    assert.deepEqual(
      dups.map((f) => f.source),
      ['a.xml.gz', 'a.zip#a.xml'],
    );
    for (const f of dups) {
      assert.equal(f.severity, 'warning');
      assert.ok(f.message.includes('"a.xml"'), f.message);
      assert.ok(f.message.includes('r-1'), f.message);
    }
  });

  it('other reports are not taken for duplicates: another report_id, another reporter, another policy domain', () => {
    const a = spec100('r-1', 90);
    const variants = [a, { ...a, reportId: 'r-2' }, { ...a, orgName: 'Other Receiver', email: 'o@other.example' }, { ...spec100('r-1', 90, 'example.org') }];
    const sum = summarise((s) => {
      for (const [i, v] of variants.entries()) for (const o of openReportBytes(`v${i}.xml`, Buffer.from(aggregateXml(v)))) s.add(o);
    });
    assert.equal(sum.counts.aggregate, 4);
    assert.equal(sum.aggregate.messages, 400);
    assert.ok(!sum.findings.some((f) => f.code === 'report-duplicate'));
  });

  it('--min-pass decides on the deduplicated reports (a passing report given three times does not lift the rate)', async () => {
    const good = aggregateXml(spec100('good-1', 100));
    writeFileSync(join(dir, 'a.xml'), good);
    writeFileSync(join(dir, 'a.xml.gz'), gzip(good));
    writeFileSync(join(dir, 'a.zip'), zipFiles([{ name: 'a.xml', data: Buffer.from(good) }]));
    writeFileSync(join(dir, 'b.xml'), aggregateXml(spec100('bad-1', 50)));
    // Unique: 150 of 200 pass (75 %); counted three times, a.xml would make it 350 of 400 (87.5 %).
    const r = await captureCli(reportCommand, ['a.xml', 'a.xml.gz', 'a.zip', 'b.xml', 'a.xml', '--min-pass', '0.8', '--json', '--no-dns'], { cwd: dir });
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /75\.00% is below --min-pass 80\.00%/);
    const json = JSON.parse(r.out) as ReportSummary;
    assert.equal(json.counts.aggregate, 2);
    assert.equal(json.aggregate.messages, 200);
    assert.equal(json.findings.filter((f) => f.code === 'report-duplicate').length, 3);
    const ok = await captureCli(reportCommand, ['a.xml', 'a.xml.gz', 'b.xml', '--min-pass', '0.75', '--no-dns'], { cwd: dir });
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /report-duplicate/);
  });

  it('a TLS-RPT report as .json and .json.gz: one report, its sessions once', () => {
    const json = tlsRptJson({ organizationName: 'R', reportId: 'tls-1', policyDomain: 'example.com', policyType: 'sts', successful: 10, failures: [{ resultType: 'certificate-expired', mx: 'mx1.example.com', ip: '192.0.2.1', count: 2 }] });
    const other = tlsRptJson({ organizationName: 'R', reportId: 'tls-2', policyDomain: 'example.com', policyType: 'sts', successful: 5, failures: [] });
    const sum = summarise((s) => {
      for (const o of openReportBytes('t.json', Buffer.from(json))) s.add(o);
      for (const o of openReportBytes('t.json.gz', gzip(json))) s.add(o);
      for (const o of openReportBytes('u.json', Buffer.from(other))) s.add(o);
    });
    assert.equal(sum.counts.tlsRpt, 2);
    assert.equal(sum.tlsRpt.successful, 15);
    assert.equal(sum.tlsRpt.failed, 2);
    assert.equal(sum.tlsRpt.policies[0].reports, 2);
    assert.equal(sum.tlsRpt.days[0].successful, 15);
    const dups = sum.findings.filter((f) => f.code === 'report-duplicate');
    assert.equal(dups.length, 1);
    assert.equal(dups[0].source, 't.json.gz');
    assert.equal(dups[0].severity, 'warning');
    assert.ok(dups[0].message.includes('"t.json"') && dups[0].message.includes('tls-1'), dups[0].message);
  });
});
