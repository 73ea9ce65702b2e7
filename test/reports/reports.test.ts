// The report parsers and the summary, on fixtures from the generator (test/reports/generate.ts):
// the aggregate fixtures are first checked with xmllint against the standards' schemas, so the
// parser is tested on reports a schema accepts, and hostile input is a finding, never a crash.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parseAggregateXml } from '../../server/src/reports/aggregate';
import { gunzipReport, unzipReport } from '../../server/src/reports/archive';
import { parseFailureReport } from '../../server/src/reports/failure';
import { openReportBytes } from '../../server/src/reports/open';
import { reportProblemDefinition } from '../../server/src/reports/reportProblems';
import { ReportSummariser } from '../../client/src/reports/summary';
import { parseTlsRptJson } from '../../server/src/reports/tlsRpt';
import { scanXml } from '../../server/src/reports/xmlScanner';
import { peerUnavailable, repoRoot } from '../peers/require';
import { prng } from '../support/prng';
import {
  aggregateReportMail,
  aggregateXml,
  expectedCounts,
  failureReportEml,
  gzip,
  randomAggregate,
  reportFileName,
  tlsRptJson,
  zipFiles,
  type AggregateSpec,
} from './generate';

const codes = (ps: Array<{ code: string }>): string[] => ps.map((p) => p.code);
const errors = (ps: Array<{ code: string; severity: string }>): string[] => ps.filter((p) => p.severity === 'error').map((p) => p.code);

describe('aggregate fixtures are valid against the standards’ schemas (xmllint --schema)', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'smtpwb-reports-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const format of ['rfc9990', 'rfc7489'] as const) {
    it(`${format}: 20 generated reports validate and parse without errors`, () => {
      if (spawnSync('xmllint', ['--version']).error) peerUnavailable('xmllint', 'libxml2-utils');
      const schema = join(repoRoot(), 'test', 'reports', 'schemas', `${format}.xsd`);
      const files: string[] = [];
      const specs: AggregateSpec[] = [];
      for (let seed = 1; seed <= 20; seed++) {
        const spec = randomAggregate(seed, format);
        specs.push(spec);
        const file = join(dir, `${format}-${seed}.xml`);
        writeFileSync(file, aggregateXml(spec));
        files.push(file);
      }
      const run = spawnSync('xmllint', ['--noout', '--nonet', '--schema', schema, ...files], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      const s = new ReportSummariser();
      for (const [i, file] of files.entries()) {
        const xml = aggregateXml(specs[i]);
        const parsed = parseAggregateXml(xml);
        assert.deepEqual(errors(parsed.problems), [], file);
        assert.equal(parsed.report?.format, format);
        assert.equal(parsed.report?.records.length, specs[i].records.length);
        s.add({ source: file, report: parsed.report, problems: [] });
      }
      const sum = s.result();
      const want = expectedCounts(specs);
      assert.equal(sum.aggregate.messages, want.messages);
      assert.equal(sum.aggregate.dmarcPass, want.dmarcPass);
      assert.equal(sum.aggregate.dkimAligned, want.dkimAligned);
      assert.equal(sum.aggregate.spfAligned, want.spfAligned);
    });
  }

  it('xmllint rejects a fixture with a value the schema forbids, and so does the parser', () => {
    const schema = join(repoRoot(), 'test', 'reports', 'schemas', 'rfc9990.xsd');
    const xml = aggregateXml(randomAggregate(3, 'rfc9990')).replace(/<p>\w+<\/p>/, '<p>block</p>');
    const file = join(dir, 'bad.xml');
    writeFileSync(file, xml);
    const run = spawnSync('xmllint', ['--noout', '--nonet', '--schema', schema, file], { encoding: 'utf8' });
    assert.notEqual(run.status, 0);
    const parsed = parseAggregateXml(xml);
    const bad = parsed.problems.find((p) => p.code === 'dmarc-agg-value');
    assert.ok(bad, JSON.stringify(parsed.problems));
    assert.equal(xml.slice(bad.range.start, bad.range.end), 'block');
  });
});

describe('aggregate reports: reading and findings', () => {
  it('reads an RFC 9990 report into the model', () => {
    const spec = randomAggregate(7, 'rfc9990');
    const { report, problems } = parseAggregateXml(aggregateXml(spec));
    assert.deepEqual(errors(problems), []);
    assert.equal(report?.policy.domain, 'example.com');
    assert.equal(report?.policy.discoveryMethod, 'treewalk');
    assert.equal(report?.begin, spec.begin);
    assert.equal(report?.records[0].sourceIp, spec.records[0].sourceIp);
    assert.equal(report?.records[0].count, spec.records[0].count);
  });

  it('honours an XML declaration naming ISO-8859-1', () => {
    const spec = randomAggregate(13, 'rfc7489');
    spec.orgName = 'Réseau Mél';
    const xml = aggregateXml(spec).replace('encoding="UTF-8"', 'encoding="ISO-8859-1"');
    const [o] = openReportBytes('l.xml', Buffer.from(xml, 'latin1'));
    assert.equal(o.report?.kind === 'dmarc-aggregate' ? o.report.orgName : '', 'Réseau Mél');
  });

  it('accepts RFC 9990 extension elements of another namespace, and flags unknown ones', () => {
    const xml = aggregateXml(randomAggregate(14, 'rfc9990'))
      .replace('<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">', '<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0" xmlns:ext="urn:example:ext">')
      .replace('</auth_results>', '</auth_results>\n    <ext:note>local data</ext:note>')
      .replace('</identifiers>', '</identifiers><surprise/>');
    const codes9990 = codes(parseAggregateXml(xml).problems);
    assert.ok(!codes9990.includes('dmarc-agg-unknown') || parseAggregateXml(xml).problems.filter((p) => p.code === 'dmarc-agg-unknown').every((p) => xml.slice(p.range.start, p.range.end).startsWith('<surprise')));
    assert.ok(codes9990.includes('dmarc-agg-unknown'));
  });

  it('marks an RFC 7489 report as such and reads pct', () => {
    const { report, problems } = parseAggregateXml(aggregateXml(randomAggregate(8, 'rfc7489')));
    assert.ok(codes(problems).includes('dmarc-agg-7489'));
    assert.equal(report?.policy.pct, 100);
  });

  it('refuses a DTD with an external entity without reading anything', () => {
    const xml = '<?xml version="1.0"?>\n<!DOCTYPE feedback [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<feedback><report_metadata><org_name>&x;</org_name></report_metadata></feedback>';
    const { report, problems } = parseAggregateXml(xml);
    assert.equal(report, undefined);
    const dtd = problems.find((p) => p.code === 'report-xml-dtd');
    assert.ok(dtd);
    assert.ok(xml.slice(dtd.range.start, dtd.range.end).startsWith('<!DOCTYPE'));
    assert.ok(!JSON.stringify(problems).includes('root:'), 'nothing from /etc/passwd');
  });

  it('keeps an undeclared entity as text and reports it', () => {
    const xml = aggregateXml(randomAggregate(9, 'rfc9990')).replace('<org_name>', '<org_name>&lol9;');
    const { report, problems } = parseAggregateXml(xml);
    assert.ok(codes(problems).includes('report-xml-entity'));
    assert.ok(report?.orgName.startsWith('&lol9;'));
  });

  it('reports truncation at every cut, never throwing', () => {
    const xml = aggregateXml(randomAggregate(10, 'rfc9990'));
    for (let cut = 0; cut < xml.length; cut += 7) {
      const r = parseAggregateXml(xml.slice(0, cut));
      if (cut > 60) assert.ok(codes(r.problems).some((c) => c === 'report-xml-truncated' || c === 'report-xml-syntax' || c === 'dmarc-agg-missing'), `cut ${cut}`);
    }
    const r = parseAggregateXml(xml.slice(0, Math.floor(xml.length / 2)));
    assert.ok(codes(r.problems).includes('report-xml-truncated'));
    assert.ok(r.report, 'the records read so far are kept');
  });

  it('keeps the complete records before a cut inside a later record, with the truncation finding (docs/reports.md)', () => {
    const spec = randomAggregate(15, 'rfc9990');
    while (spec.records.length < 3) spec.records.push({ ...spec.records[0], sourceIp: `192.0.2.${100 + spec.records.length}` });
    const xml = aggregateXml(spec);
    const firstEnd = xml.indexOf('</record>') + '</record>'.length;
    const second = xml.indexOf('<record>', firstEnd);
    // Cuts inside the second record's start tag, inside its <count>, inside an end tag, and right after the first record.
    for (const cut of [second + 4, xml.indexOf('<count>', second) + 8, xml.indexOf('</source_ip', second) + 5, firstEnd]) {
      const { report, problems } = parseAggregateXml(xml.slice(0, cut));
      assert.ok(report, `cut ${cut}: the report is kept`);
      assert.equal(report.records.length, 1, `cut ${cut}: only the complete record`);
      assert.equal(report.records[0].count, spec.records[0].count, `cut ${cut}`);
      assert.equal(report.records[0].sourceIp, spec.records[0].sourceIp);
      assert.ok(codes(problems).includes('report-xml-truncated'), `cut ${cut}`);
      assert.ok(!codes(problems).includes('dmarc-agg-missing'), `cut ${cut}: the cut record's missing parts are the truncation: ${JSON.stringify(problems)}`);
    }
    // Through openReportBytes and the summary, as \`smtpwb report\` reads it: one aggregate report, none unreadable.
    const s = new ReportSummariser();
    for (const o of openReportBytes('t.xml', Buffer.from(xml.slice(0, second + 4)))) s.add(o);
    const sum = s.result();
    assert.deepEqual(sum.counts, { aggregate: 1, tlsRpt: 0, failure: 0, unreadable: 0 });
    assert.equal(sum.aggregate.messages, spec.records[0].count);
  });

  it('a negative, huge or fractional <count> is an error on its text, and its record is left out of the totals', () => {
    const spec = randomAggregate(16, 'rfc9990');
    while (spec.records.length < 2) spec.records.push({ ...spec.records[0], sourceIp: '192.0.2.200' });
    const xml = aggregateXml(spec);
    for (const [value, why] of [['-5', /negative/], ['99999999999999999999', /too large/], ['1.5', /not an integer/], ['9007199254740992', /too large/]] as const) {
      const bad = xml.replace(`<count>${spec.records[0].count}</count>`, `<count>${value}</count>`);
      const { report, problems } = parseAggregateXml(bad);
      const f = problems.find((p) => p.code === 'dmarc-agg-value');
      assert.ok(f, `${value}: ${JSON.stringify(problems)}`);
      assert.equal(f.severity, 'error');
      assert.equal(bad.slice(f.range.start, f.range.end), value);
      assert.match(f.message, why, value);
      assert.match(f.message, /left out of the totals/, value);
      assert.equal(report?.records.length, spec.records.length - 1, value);
      assert.ok(report?.records.every((r) => r.count >= 0));
      const s = new ReportSummariser();
      s.add({ source: 'bad.xml', report, problems });
      assert.equal(s.result().aggregate.messages, expectedCounts([{ ...spec, records: spec.records.slice(1) }]).messages, value);
    }
    // The largest exact count and zero are accepted.
    for (const value of ['0', '9007199254740991']) {
      const { report, problems } = parseAggregateXml(xml.replace(`<count>${spec.records[0].count}</count>`, `<count>${value}</count>`));
      assert.deepEqual(errors(problems), [], value);
      assert.equal(report?.records[0].count, Number(value));
    }
  });

  it('finds a report that lies about its domain (file name, subject, foreign records)', () => {
    const spec = randomAggregate(11, 'rfc9990', 'example.com');
    spec.records[0].headerFrom = 'victim.example';
    const xml = aggregateXml(spec);
    const name = `${reportFileName('receiver.example', 'example.org', spec.begin, spec.end)}.xml`;
    const [opened] = openReportBytes(name, Buffer.from(xml));
    const mismatch = opened.problems.find((p) => p.code === 'dmarc-agg-domain-mismatch');
    assert.ok(mismatch);
    assert.equal(xml.slice(mismatch.range.start, mismatch.range.end), 'example.com');
    const foreign = opened.problems.find((p) => p.code === 'dmarc-agg-foreign-record');
    assert.ok(foreign);
    assert.equal(xml.slice(foreign.range.start, foreign.range.end), 'victim.example');
    const mail = openReportBytes('mail.eml', Buffer.from(aggregateReportMail(randomAggregate(12, 'rfc9990'), 'other.example')));
    assert.equal(mail.length, 1);
    assert.ok(mail[0].report);
    assert.ok(codes(mail[0].problems).includes('dmarc-agg-domain-mismatch'));
  });

  it('reads the Report Domain claim of an RFC 2047 encoded Subject in a whole mail', () => {
    const plain = aggregateReportMail(randomAggregate(43, 'rfc9990'), 'other.example');
    const encoded = `=?UTF-8?B?${Buffer.from('Report Domain: other.example Submitter: r').toString('base64')}?=`;
    const mail = plain.replace(/^Subject: .*$/m, `Subject: ${encoded}`);
    assert.notEqual(mail, plain);
    const [opened] = openReportBytes('mail.eml', Buffer.from(mail));
    assert.ok(opened.report);
    assert.ok(codes(opened.problems).includes('dmarc-agg-domain-mismatch'));
  });

  it('every code the parsers produce is in the catalogue', () => {
    const all = [
      ...parseAggregateXml('<feedback><record/></feedback>').problems,
      ...parseAggregateXml('<x/>').problems,
      ...scanXml('<a><b></a>').problems,
      ...parseTlsRptJson('{"policies": 3}').problems,
      ...parseTlsRptJson('{"a": 1, "a": 2, "date-range": {"start-datetime": "2026-01-02T00:00:00Z", "end-datetime": "2026-01-01T00:00:00Z"}, "policies": [{"summary": {"total-failure-session-count": 0}, "failure-details": [{"failed-session-count": 1}]}]}').problems,
      ...parseAggregateXml('<feedback><record><row><count>-1</count></row></record></feedback>').problems,
      ...parseFailureReport('Subject: x\r\n\r\nbody').problems,
    ];
    for (const p of all) assert.ok(reportProblemDefinition(p.code), p.code);
  });
});

describe('containers and bombs', () => {
  const xml = aggregateXml(randomAggregate(20, 'rfc9990'));

  it('opens .xml.gz and .zip', () => {
    const gz = openReportBytes('r.xml.gz', gzip(xml));
    assert.equal(gz[0].report?.kind, 'dmarc-aggregate');
    const zip = openReportBytes('r.zip', zipFiles([{ name: 'receiver!example.com!1!2.xml', data: Buffer.from(xml) }]));
    assert.equal(zip[0].report?.kind, 'dmarc-aggregate');
    assert.equal(zip[0].source, 'r.zip#receiver!example.com!1!2.xml');
    const stored = openReportBytes('s.zip', zipFiles([{ name: 'a.xml', data: Buffer.from(xml), store: true }]));
    assert.equal(stored[0].report?.kind, 'dmarc-aggregate');
  });

  it('refuses a gzip bomb by its ratio and size', () => {
    const bomb = gzipSync(Buffer.alloc(20 * 1024 * 1024, 0x20));
    const r = gunzipReport(bomb, { maxBytes: 50 * 1024 * 1024, maxRatio: 1000 });
    assert.equal(r.data, undefined);
    assert.deepEqual(codes(r.problems), ['report-archive-limit']);
    const small = gunzipReport(gzipSync(Buffer.alloc(4096, 0x20)), { maxBytes: 1000, maxRatio: 1000 });
    assert.deepEqual(codes(small.problems), ['report-archive-limit']);
  });

  it('refuses a zip bomb, whether or not its header admits the size', () => {
    const big = Buffer.alloc(20 * 1024 * 1024, 0x41);
    const zip = zipFiles([{ name: 'bomb.xml', data: big }]);
    assert.deepEqual(codes(unzipReport(zip).problems), ['report-archive-limit']);
    // A header that lies about the size: the inflater's limit still holds.
    const lying = Buffer.from(zip);
    const cd = lying.readUInt32LE(lying.length - 6);
    lying.writeUInt32LE(100, cd + 24);
    assert.deepEqual(codes(unzipReport(lying).problems), ['report-archive-limit']);
  });

  it('reports damaged containers', () => {
    const gz = gzip(xml);
    assert.deepEqual(codes(gunzipReport(gz.subarray(0, gz.length - 20)).problems), ['report-archive-corrupt']);
    const zip = zipFiles([{ name: 'a.xml', data: Buffer.from(xml) }]);
    assert.deepEqual(codes(unzipReport(zip.subarray(0, zip.length - 30)).problems), ['report-archive-corrupt']);
    const two = unzipReport(zipFiles([{ name: 'a.xml', data: Buffer.from(xml) }, { name: 'b.xml', data: Buffer.from(xml) }]));
    assert.ok(codes(two.problems).includes('report-archive-unsupported'));
    assert.ok(two.data);
  });
});

/** Validates JSON documents against a JSON Schema with Python's jsonschema (Debian python3-jsonschema). */
function jsonSchemaErrors(schemaPath: string, documents: string[]): string {
  const script = [
    'import json, sys, jsonschema',
    'schema = json.load(open(sys.argv[1]))',
    'docs = json.load(sys.stdin)',
    'v = jsonschema.Draft7Validator(schema)',
    'errs = [f"{i}: {e.message}" for i, d in enumerate(docs) for e in v.iter_errors(json.loads(d))]',
    'print("\\n".join(errs))',
  ].join('\n');
  // Debian's own Python, which has python3-jsonschema (a python3 earlier on the PATH may not).
  const run = spawnSync('/usr/bin/python3', ['-c', script, schemaPath], { input: JSON.stringify(documents), encoding: 'utf8' });
  if (run.error || /No module named/.test(run.stderr)) peerUnavailable('python3-jsonschema', 'python3-jsonschema');
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.trim();
}

describe('TLS-RPT reports (RFC 8460)', () => {
  it('generated fixtures follow the RFC 8460 structure (JSON Schema), and a broken one does not', () => {
    const schema = join(repoRoot(), 'test', 'reports', 'schemas', 'rfc8460-tlsrpt.schema.json');
    const docs = (['sts', 'tlsa', 'no-policy-found'] as const).map((policyType, i) =>
      tlsRptJson({ ...spec, policyType, reportId: `r-${i}`, failures: i === 2 ? [] : spec.failures }),
    );
    assert.equal(jsonSchemaErrors(schema, docs), '');
    for (const d of docs) assert.deepEqual(errors(parseTlsRptJson(d).problems), []);
    const broken = docs[0].replace('"certificate-expired"', '"certificate-old"').replace('"report-id"', '"report_id"');
    assert.notEqual(jsonSchemaErrors(schema, [broken]), '');
    assert.ok(parseTlsRptJson(broken).problems.some((p) => p.code === 'tlsrpt-missing'));
  });

  const spec = {
    organizationName: 'Receiver Inc.',
    reportId: 'r-1',
    policyDomain: 'example.com',
    policyType: 'sts' as const,
    successful: 900,
    failures: [
      { resultType: 'certificate-expired', mx: 'mx1.example.com', ip: '192.0.2.7', count: 30 },
      { resultType: 'starttls-not-supported', mx: 'mx2.example.com', ip: '192.0.2.8', count: 5 },
    ],
  };

  it('reads a report with the RFC 8460 structure', () => {
    const { report, problems } = parseTlsRptJson(tlsRptJson(spec));
    assert.deepEqual(problems, []);
    assert.equal(report?.policies[0].failed, 35);
    assert.equal(report?.policies[0].failures[0].resultType, 'certificate-expired');
  });

  it('summarises failure types per policy and MX, from .json.gz', () => {
    const s = new ReportSummariser();
    for (const o of openReportBytes('a.json.gz', gzip(tlsRptJson(spec)))) s.add(o);
    const sum = s.result();
    assert.equal(sum.tlsRpt.successful, 900);
    assert.equal(sum.tlsRpt.policies[0].failureTypes['certificate-expired'], 30);
    assert.deepEqual(sum.tlsRpt.policies[0].byMx[0], { mx: 'mx1.example.com', resultType: 'certificate-expired', sessions: 30 });
  });

  it('puts each structural problem on its text', () => {
    const text = tlsRptJson(spec).replace('"sts"', '"dane"').replace('"total-successful-session-count": 900', '"total-successful-session-count": "many"');
    const { problems } = parseTlsRptJson(text);
    const type = problems.find((p) => p.message.includes('policy-type'));
    assert.ok(type);
    assert.equal(text.slice(type.range.start, type.range.end), '"dane"');
    assert.ok(problems.some((p) => p.code === 'tlsrpt-value' && text.slice(p.range.start, p.range.end) === '"many"'));
    const syntax = parseTlsRptJson(text.slice(0, 100));
    assert.ok(codes(syntax.problems).includes('tlsrpt-json-syntax'));
  });

  it('finds a start after the end, failure details over the total, and a duplicated field (RFC 8460 §4.4)', () => {
    const good = tlsRptJson(spec);
    const reversed = good.replace('"start-datetime": "2026-01-01T00:00:00Z"', '"start-datetime": "2026-01-02T00:00:00Z"');
    const range = parseTlsRptJson(reversed).problems.find((p) => p.code === 'tlsrpt-date-range');
    assert.ok(range, JSON.stringify(parseTlsRptJson(reversed).problems));
    assert.equal(range.severity, 'error');
    assert.ok(reversed.slice(range.range.start, range.range.end).startsWith('{'));
    assert.ok(reversed.slice(range.range.start, range.range.end).includes('end-datetime'));
    // The same instant in another offset is not a reversed range.
    const offset = good.replace('"end-datetime": "2026-01-01T23:59:59Z"', '"end-datetime": "2026-01-01T00:30:00+00:30"');
    assert.ok(!codes(parseTlsRptJson(offset).problems).includes('tlsrpt-date-range'));

    const over = good.replace('"total-failure-session-count": 35', '"total-failure-session-count": 20');
    const count = parseTlsRptJson(over).problems.find((p) => p.code === 'tlsrpt-failure-count');
    assert.ok(count, JSON.stringify(parseTlsRptJson(over).problems));
    assert.equal(count.severity, 'error');
    assert.equal(over.slice(count.range.start, count.range.end), '20');
    assert.match(count.message, /35 failed sessions, more than the 20/);
    // Fewer in the details than the total is allowed.
    assert.ok(!codes(parseTlsRptJson(good.replace('"total-failure-session-count": 35', '"total-failure-session-count": 40')).problems).includes('tlsrpt-failure-count'));

    const twice = good.replace('"organization-name": "Receiver Inc.",', '"organization-name": "Receiver Inc.",\n  "organization-name": "Someone Else",');
    const parsed = parseTlsRptJson(twice);
    const dup = parsed.problems.filter((p) => p.code === 'tlsrpt-duplicate-key');
    assert.equal(dup.length, 1, JSON.stringify(parsed.problems));
    assert.equal(dup[0].severity, 'error');
    assert.equal(twice.slice(dup[0].range.start, dup[0].range.end), '"organization-name"');
    assert.ok(dup[0].range.start > twice.indexOf('"organization-name"'), 'the second occurrence');
    assert.equal(parsed.report?.organizationName, 'Receiver Inc.');
    const nested = good.replace('"end-datetime": "2026-01-01T23:59:59Z"', '"end-datetime": "2026-01-01T23:59:59Z", "end-datetime": "2026-01-01T23:59:59Z"');
    assert.ok(codes(parseTlsRptJson(nested).problems).includes('tlsrpt-duplicate-key'));
    assert.deepEqual(parseTlsRptJson(good).problems, []);
  });

  it('finds a report whose file name names another domain', () => {
    const name = 'receiver.example!example.org!1767225600!1767311999!x.json';
    const [o] = openReportBytes(name, Buffer.from(tlsRptJson(spec)));
    assert.ok(codes(o.problems).includes('tlsrpt-domain-mismatch'));
  });
});

describe('failure reports (RFC 9991, ARF)', () => {
  it('reads the feedback-report part', () => {
    const { report, problems } = parseFailureReport(failureReportEml({ reportedDomain: 'example.com', originalFromDomain: 'example.com', sourceIp: '192.0.2.9', authFailure: 'dmarc' }));
    assert.deepEqual(problems, []);
    assert.equal(report?.feedbackType, 'auth-failure');
    assert.equal(report?.sourceIp, '192.0.2.9');
    assert.equal(report?.originalFrom, 'Someone <someone@example.com>');
  });

  it('reports missing fields and a domain that is not the From domain', () => {
    const text = failureReportEml({ reportedDomain: 'example.com', originalFromDomain: 'evil.example', sourceIp: '192.0.2.9', authFailure: 'dmarc', omit: ['version'] });
    const { problems } = parseFailureReport(text);
    assert.ok(codes(problems).includes('arf-missing'));
    const mismatch = problems.find((p) => p.code === 'arf-domain-mismatch');
    assert.ok(mismatch);
    assert.equal(text.slice(mismatch.range.start, mismatch.range.end), 'Reported-Domain: example.com');
  });

  it('a mail without a report is a finding', () => {
    assert.deepEqual(codes(parseFailureReport('Subject: hi\r\n\r\nhello\r\n').problems), ['arf-no-report']);
  });
});

describe('never throws', () => {
  it('on 2,000 random mutations of every kind of report file', () => {
    const rnd = prng(2026);
    const xml = aggregateXml(randomAggregate(50, 'rfc9990'));
    const seeds: Array<[string, Buffer]> = [
      ['a.xml', Buffer.from(xml)],
      ['a.xml.gz', gzip(xml)],
      ['a.zip', zipFiles([{ name: 'a.xml', data: Buffer.from(xml) }])],
      ['t.json', Buffer.from(tlsRptJson({ organizationName: 'R', reportId: '1', policyDomain: 'example.com', policyType: 'sts', successful: 1, failures: [] }))],
      ['f.eml', Buffer.from(failureReportEml({ reportedDomain: 'example.com', originalFromDomain: 'example.com', sourceIp: '192.0.2.9', authFailure: 'dmarc' }))],
      ['m.eml', Buffer.from(aggregateReportMail(randomAggregate(51, 'rfc7489')))],
    ];
    for (let i = 0; i < 2000; i++) {
      const [name, original] = seeds[i % seeds.length];
      const bytes = Buffer.from(original);
      const edits = 1 + Math.floor(rnd() * 8);
      let data: Buffer = bytes;
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rnd() * data.length);
        const kind = rnd();
        if (kind < 0.5) data[at] = Math.floor(rnd() * 256);
        else if (kind < 0.75) data = data.subarray(0, at);
        else data = Buffer.concat([data.subarray(0, at), Buffer.from('<!&;>]]>"{}\u0000'), data.subarray(at)]);
      }
      for (const o of openReportBytes(name, data)) {
        for (const p of o.problems) assert.ok(reportProblemDefinition(p.code), p.code);
      }
    }
  });
});
