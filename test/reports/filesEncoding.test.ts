// The text encodings of report files (session 22): XML 1.0 §4.3.3 and Appendix F have a processor
// read UTF-16 with a byte order mark (parsedmarc does); a UTF-8 BOM is removed; a declaration is
// honoured where it can be; what contradicts itself is a `report-encoding` warning and the file is
// still read. Findings point into the decoded text, so their line and column are right. The UTF-16
// files are written by iconv(1) and Python's codecs, not by the code under test.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { summariseReportFiles } from '../../client/src/reports/collect';
import { decodeReportBytes, openReportBytes } from '../../server/src/reports/open';
import type { AggregateReport } from '../../server/src/reports/aggregate';
import { aggregateXml, expectedCounts, randomAggregate, tlsRptJson, zipFiles } from './generate';

/** Encodes text with Python's codecs (`utf-16` writes a little-endian BOM first; `utf-16-le`/`-be` none). */
function pythonEncode(text: string, codec: string): Buffer {
  const run = spawnSync('/usr/bin/python3', ['-c', `import sys; sys.stdout.buffer.write(sys.stdin.buffer.read().decode("utf-8").encode("${codec}"))`], { input: Buffer.from(text, 'utf8') });
  assert.equal(run.status, 0, `python3 failed: ${run.error?.message ?? run.stderr.toString()}`);
  return run.stdout;
}

/** Encodes text with iconv(1) (`UTF-16BE` without a BOM; the caller adds one). */
function iconv(text: string, to: string): Buffer {
  const run = spawnSync('iconv', ['-f', 'UTF-8', '-t', to], { input: Buffer.from(text, 'utf8') });
  assert.equal(run.status, 0, `iconv failed: ${run.error?.message ?? run.stderr.toString()}`);
  return run.stdout;
}

const spec = randomAggregate(2202, 'rfc9990');
spec.orgName = 'Réceiver 株式会社';
const utf8Xml = aggregateXml(spec);
/** The same report declaring UTF-16, as a UTF-16 file must. */
const utf16Xml = utf8Xml.replace(/^<\?xml[^>]*\?>/, '<?xml version="1.0" encoding="UTF-16"?>');
const codes = (problems: Array<{ code: string }>): string[] => problems.map((p) => p.code);

function aggregateOf(bytes: Buffer, name = 'r.xml'): { report: AggregateReport; problems: string[]; text: string } {
  const opened = openReportBytes(name, bytes, { keepText: true });
  assert.equal(opened.length, 1);
  const o = opened[0];
  assert.equal(o.report?.kind, 'dmarc-aggregate', JSON.stringify(o.problems));
  return { report: o.report as AggregateReport, problems: codes(o.problems).filter((c) => c !== 'dmarc-agg-7489'), text: o.text ?? '' };
}

function assertSameReport(report: AggregateReport): void {
  assert.equal(report.orgName, 'Réceiver 株式会社');
  assert.equal(
    report.records.reduce((n, r) => n + r.count, 0),
    expectedCounts([spec]).messages,
  );
}

describe('UTF-16 reports (XML 1.0 §4.3.3, Appendix F)', () => {
  it('UTF-16 little-endian with a BOM (Python "utf-16") is read', () => {
    const bytes = pythonEncode(utf16Xml, 'utf-16');
    assert.deepEqual([bytes[0], bytes[1]], [0xff, 0xfe]);
    const { report, problems } = aggregateOf(bytes);
    assertSameReport(report);
    assert.deepEqual(problems, []);
  });

  it('UTF-16 big-endian with a BOM (iconv) is read', () => {
    const bytes = Buffer.concat([Buffer.from([0xfe, 0xff]), iconv(utf16Xml, 'UTF-16BE')]);
    const { report, problems } = aggregateOf(bytes);
    assertSameReport(report);
    assert.deepEqual(problems, []);
  });

  it('a gzipped and a zipped UTF-16 report are read, and the text is no longer than the bytes', () => {
    const bytes = pythonEncode(utf16Xml, 'utf-16');
    for (const [name, packed] of [
      ['r.xml.gz', gzipSync(bytes)],
      ['r.zip', zipFiles([{ name: 'r.xml', data: bytes }])],
    ] as const) {
      const { report, problems, text } = aggregateOf(packed, name);
      assertSameReport(report);
      assert.deepEqual(problems, [], name);
      assert.ok(text.length <= bytes.length, `${text.length} characters from ${bytes.length} bytes`);
    }
  });

  it('UTF-16 without a BOM is read, with a report-encoding warning (XML requires the BOM)', () => {
    for (const codec of ['utf-16-le', 'utf-16-be']) {
      const { report, problems } = aggregateOf(pythonEncode(utf16Xml, codec));
      assertSameReport(report);
      assert.deepEqual(problems, ['report-encoding'], codec);
    }
  });

  it('a UTF-16 BOM wins over a declaration that says UTF-8: read, with a report-encoding warning at the name', () => {
    const opened = openReportBytes('r.xml', pythonEncode(utf8Xml, 'utf-16'), { keepText: true })[0];
    assertSameReport(opened.report as AggregateReport);
    const w = opened.problems.find((p) => p.code === 'report-encoding');
    assert.ok(w, JSON.stringify(opened.problems));
    assert.equal(w.severity, 'warning');
    assert.equal(opened.text?.slice(w.range.start, w.range.end), 'UTF-8');
  });

  it('findings point into the decoded text: line and column of an unknown element in a UTF-16 file', async () => {
    const lines = utf16Xml.split('\n');
    // An element the schema does not define, on its own line after the metadata.
    const at = lines.findIndex((l) => l.includes('</report_metadata>'));
    lines.splice(at + 1, 0, '  <bogus>x</bogus>');
    const bytes = pythonEncode(lines.join('\n'), 'utf-16');
    const opened = openReportBytes('r.xml', bytes, { keepText: true })[0];
    const unknown = opened.problems.find((p) => p.code === 'dmarc-agg-unknown');
    assert.ok(unknown, JSON.stringify(opened.problems));
    assert.equal(opened.text?.slice(unknown.range.start, unknown.range.start + 6), '<bogus');
    const dir = mkdtempSync(join(tmpdir(), 'smtpwb-files-encoding-'));
    try {
      writeFileSync(join(dir, 'r.xml'), bytes);
      const summary = await summariseReportFiles([join(dir, 'r.xml')]);
      const f = summary.findings.find((x) => x.code === 'dmarc-agg-unknown');
      assert.equal(f?.line, at + 2);
      assert.equal(f?.column, 3);
      assert.equal(summary.counts.aggregate, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a UTF-16 TLS-RPT report with a BOM is read', () => {
    const json = tlsRptJson({ organizationName: 'R', reportId: 'u16', policyDomain: 'example.com', policyType: 'sts', successful: 5, failures: [] });
    const opened = openReportBytes('t.json', pythonEncode(json, 'utf-16'));
    assert.equal(opened[0].report?.kind, 'tls-rpt', JSON.stringify(opened[0].problems));
  });
});

describe('UTF-8 and declared encodings', () => {
  it('a UTF-8 BOM is removed and the report read', () => {
    const { report, problems } = aggregateOf(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(utf8Xml)]));
    assertSameReport(report);
    assert.deepEqual(problems, []);
  });

  it('a declaration of UTF-16 in a file without a BOM whose bytes are ASCII is read as UTF-8, with a warning', () => {
    // The old reader decoded these bytes as UTF-16 and found no XML at all.
    const { report, problems, text } = aggregateOf(Buffer.from(utf16Xml));
    assertSameReport(report);
    assert.deepEqual(problems, ['report-encoding']);
    assert.ok(text.startsWith('<?xml'));
  });

  it('a declared ISO-8859-1 is honoured, and an encoding the platform does not know is a warning', () => {
    const latin = utf8Xml.replace(/^<\?xml[^>]*\?>/, '<?xml version="1.0" encoding="ISO-8859-1"?>').replace('Réceiver 株式会社', 'Réceiver');
    const { report, problems } = aggregateOf(Buffer.from(latin, 'latin1'));
    assert.equal(report.orgName, 'Réceiver');
    assert.deepEqual(problems, []);
    const unknown = decodeReportBytes(Buffer.from('<?xml version="1.0" encoding="x-no-such-9"?><feedback/>'));
    assert.equal(unknown.encoding, 'utf-8');
    assert.deepEqual(codes(unknown.problems), ['report-encoding']);
  });

  it('decodeReportBytes never throws and never returns more characters than bytes', () => {
    for (const bytes of [Buffer.alloc(0), Buffer.from([0xff]), Buffer.from([0xff, 0xfe, 0x3c]), Buffer.from([0xfe, 0xff, 0xd8, 0x00]), Buffer.from([0x00, 0x3c]), Buffer.from([0xef, 0xbb])]) {
      const d = decodeReportBytes(bytes);
      assert.ok(d.text.length <= bytes.length, `${bytes.toString('hex')}: ${d.text.length}`);
    }
  });
});

describe('summariseReportFiles reads a folder of mixed encodings', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'smtpwb-files-encoding-'));
    writeFileSync(join(dir, 'a.xml'), pythonEncode(utf16Xml.replace(/<report_id>[^<]*</, '<report_id>a<'), 'utf-16'));
    writeFileSync(join(dir, 'b.xml'), Buffer.concat([Buffer.from([0xfe, 0xff]), iconv(utf16Xml.replace(/<report_id>[^<]*</, '<report_id>b<'), 'UTF-16BE')]));
    writeFileSync(join(dir, 'c.xml'), Buffer.from(utf8Xml.replace(/<report_id>[^<]*</, '<report_id>c<')));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('three reports, each counted', async () => {
    const summary = await summariseReportFiles([join(dir, 'a.xml'), join(dir, 'b.xml'), join(dir, 'c.xml')]);
    assert.equal(summary.counts.aggregate, 3, JSON.stringify(summary.findings));
    assert.equal(summary.counts.unreadable, 0);
    assert.equal(summary.aggregate.messages, 3 * expectedCounts([spec]).messages);
  });
});
