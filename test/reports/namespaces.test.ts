// XML namespaces in aggregate reports (RFC 9990 Appendix A; Namespaces in XML 1.0): the report's own
// elements are those in its root's namespace, found by resolving prefixes against the xmlns
// declarations in scope. An element of another namespace never stands in for one of the report's
// (a `<x:count>` before the real `<count>`, a root-level `<x:record>`); RFC 9990 allows such elements
// only at the end of a <record> and inside <extension> (xs:any namespace="##other"), and anywhere
// else they are a finding. RFC 7489 reports (no namespace) read as before.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DMARC2_NAMESPACE, parseAggregateXml } from '../../server/src/reports/aggregate';
import { child, childText, children, scanXml } from '../../server/src/reports/xmlScanner';
import { ReportSummariser } from '../../client/src/reports/summary';
import { aggregateXml, expectedCounts, randomAggregate, type AggregateSpec } from './generate';

const ROOT_9990 = `<feedback xmlns="${DMARC2_NAMESPACE}">`;

/** One RFC 9990 report of two records: 5000 messages that pass and 100 that fail. */
function twoRecords(): AggregateSpec {
  const spec = randomAggregate(41, 'rfc9990');
  const r = { ...spec.records[0], dkimDomain: undefined, reason: undefined, headerFrom: 'example.com' };
  spec.records = [
    { ...r, sourceIp: '192.0.2.1', count: 5000, dkim: 'pass', spf: 'pass', spfResult: 'pass' },
    { ...r, sourceIp: '198.51.100.7', count: 100, dkim: 'fail', spf: 'fail', spfResult: 'fail' },
  ];
  return spec;
}

const errorsOf = (ps: Array<{ code: string; severity: string }>): string[] => ps.filter((p) => p.severity === 'error').map((p) => p.code);

describe('the XML scanner resolves namespaces', () => {
  it('child, children and childText match the parent element’s namespace, not the local name alone', () => {
    const { root, problems } = scanXml('<a xmlns="urn:a" xmlns:b="urn:b"><b:x>1</b:x><x xmlns="urn:c">2</x><x>3</x><p:x xmlns:p="urn:a">4</p:x></a>');
    assert.deepEqual(problems, []);
    assert.equal(root?.ns, 'urn:a');
    assert.equal(childText(root, 'x'), '3');
    assert.deepEqual(
      children(root, 'x').map((e) => e.text),
      ['3', '4'],
    );
    assert.equal(root?.children[0].ns, 'urn:b');
    assert.equal(root?.children[1].ns, 'urn:c');
    assert.equal(child(root, 'x')?.start, root?.children[2].start);
  });

  it('an element without a namespace (RFC 7489) has none, and xmlns="" undeclares the default', () => {
    const { root } = scanXml('<feedback><record><row/></record><x xmlns="urn:x"><record xmlns=""/></x></feedback>');
    assert.equal(root?.ns, '');
    assert.equal(children(root, 'record').length, 1);
    assert.equal(root?.children[1].children[0].ns, '');
    assert.equal(child(root, 'x'), undefined, 'an element of another namespace is not a child of the report');
  });

  it('an undeclared prefix is an error, and the element matches nothing', () => {
    const { root, problems } = scanXml('<a><y:b>1</y:b></a>');
    assert.ok(problems.some((p) => p.code === 'report-xml-syntax' && /prefix "y"/.test(p.message)), JSON.stringify(problems));
    assert.equal(child(root, 'b'), undefined);
  });
});

describe('RFC 9990 reports: elements of another namespace', () => {
  it('an <x:count> before the real <count> is not read, and is a finding where the schema does not allow it', () => {
    const spec = twoRecords();
    const xml = aggregateXml(spec).replace('<count>5000</count>', '<x:count xmlns:x="urn:example:ext">1</x:count><count>5000</count>');
    const { report, problems } = parseAggregateXml(xml);
    assert.equal(report?.format, 'rfc9990');
    assert.deepEqual(
      report?.records.map((r) => r.count),
      [5000, 100],
    );
    assert.ok(!problems.some((p) => p.code === 'dmarc-agg-repeated'), JSON.stringify(problems));
    const f = problems.find((p) => p.code === 'dmarc-agg-unknown');
    assert.ok(f, JSON.stringify(problems));
    assert.ok(xml.slice(f.range.start).startsWith('<x:count'), xml.slice(f.range.start, f.range.end));
    assert.match(f.message, /urn:example:ext/);
    assert.match(f.message, /only at the end of a <record> and inside <extension>/);
    const s = new ReportSummariser();
    s.add({ source: 'b.xml', report, problems });
    const sum = s.result();
    assert.equal(sum.aggregate.messages, 5100);
    assert.equal(sum.aggregate.dmarcPass, 5000);
  });

  it('an <x:count> alone does not stand in for a missing <count>', () => {
    const xml = aggregateXml(twoRecords()).replace('<count>5000</count>', '<x:count xmlns:x="urn:example:ext">1</x:count>');
    const { report, problems } = parseAggregateXml(xml);
    assert.deepEqual(
      report?.records.map((r) => r.count),
      [100],
    );
    assert.ok(problems.some((p) => p.code === 'dmarc-agg-missing' && /<row> has no <count>/.test(p.message)), JSON.stringify(problems));
  });

  it('a root-level <x:record> of another namespace adds no messages, and is a finding', () => {
    const spec = twoRecords();
    const foreign = aggregateXml({ ...spec, records: [{ ...spec.records[0], count: 1000000 }] })
      .replace(/^[\s\S]*?(<record>[\s\S]*<\/record>)[\s\S]*$/, '$1')
      .replace(/<(\/?)([a-z_]+)/g, '<$1x:$2')
      .replace('<x:record>', '<x:record xmlns:x="urn:example:ext">');
    const xml = aggregateXml(spec).replace('</feedback>', `${foreign}\n</feedback>`);
    const { report, problems } = parseAggregateXml(xml);
    assert.equal(report?.records.length, 2);
    assert.equal(
      report?.records.reduce((n, r) => n + r.count, 0),
      5100,
    );
    const f = problems.find((p) => p.code === 'dmarc-agg-unknown');
    assert.ok(f && xml.slice(f.range.start).startsWith('<x:record'), JSON.stringify(problems));
    assert.equal(problems.filter((p) => p.code === 'dmarc-agg-unknown').length, 1, 'its content is not checked element by element');
  });

  it('elements of another namespace at the end of a record and inside <extension> are allowed and not read', () => {
    const spec = twoRecords();
    const xml = aggregateXml(spec)
      .replace(ROOT_9990, `<feedback xmlns="${DMARC2_NAMESPACE}" xmlns:ext="urn:example:ext">`)
      .replace('</policy_published>', '</policy_published>\n  <extension><ext:count>7</ext:count><ext:record><ext:count>9</ext:count></ext:record></extension>')
      .replace('</auth_results>', '</auth_results>\n    <ext:note>local data</ext:note><ext:count>1</ext:count>');
    const { report, problems } = parseAggregateXml(xml);
    assert.deepEqual(errorsOf(problems), []);
    assert.ok(!problems.some((p) => p.code === 'dmarc-agg-unknown'), JSON.stringify(problems));
    assert.equal(report?.records.reduce((n, r) => n + r.count, 0), 5100);
  });

  it('an element of another namespace followed by one of the report’s in a record is out of place', () => {
    const xml = aggregateXml(twoRecords()).replace('</row>', '</row><x:note xmlns:x="urn:example:ext"/>');
    const { report, problems } = parseAggregateXml(xml);
    const f = problems.find((p) => p.code === 'dmarc-agg-unknown');
    assert.ok(f && xml.slice(f.range.start).startsWith('<x:note'), JSON.stringify(problems));
    assert.equal(report?.records.length, 2);
  });

  it('an unprefixed element that redeclares the default namespace is another namespace’s', () => {
    const xml = aggregateXml(twoRecords()).replace('<count>5000</count>', '<count xmlns="urn:example:ext">1</count><count>5000</count>');
    const { report, problems } = parseAggregateXml(xml);
    assert.deepEqual(
      report?.records.map((r) => r.count),
      [5000, 100],
    );
    assert.ok(problems.some((p) => p.code === 'dmarc-agg-unknown'));
    assert.ok(!problems.some((p) => p.code === 'dmarc-agg-repeated'));
  });

  it('a prefix bound to the report’s namespace names the report’s own elements', () => {
    const xml = aggregateXml(twoRecords()).replace('<count>5000</count>', '<d:count xmlns:d="urn:ietf:params:xml:ns:dmarc-2.0">5000</d:count>');
    const { report, problems } = parseAggregateXml(xml);
    assert.deepEqual(errorsOf(problems), []);
    assert.deepEqual(
      report?.records.map((r) => r.count),
      [5000, 100],
    );
  });

  it('reads a report whose root has a prefix for the RFC 9990 namespace as RFC 9990 (L5)', () => {
    const spec = twoRecords();
    const xml = aggregateXml(spec)
      .replace(/<(\/?)([a-z_]+)/g, '<$1d:$2')
      .replace(`<d:feedback xmlns="${DMARC2_NAMESPACE}">`, `<d:feedback xmlns:d="${DMARC2_NAMESPACE}">`);
    assert.ok(xml.includes('<d:record>'));
    const { report, problems } = parseAggregateXml(xml);
    assert.equal(report?.format, 'rfc9990');
    assert.ok(!problems.some((p) => p.code === 'dmarc-agg-7489'));
    assert.deepEqual(errorsOf(problems), []);
    assert.equal(report?.policy.domain, 'example.com');
    assert.equal(report?.reportId, spec.reportId);
    assert.equal(report?.records.reduce((n, r) => n + r.count, 0), 5100);
  });
});

describe('RFC 7489 reports (no namespace) read as before', () => {
  it('20 generated reports: the same records, counts and findings', () => {
    const specs: AggregateSpec[] = [];
    const s = new ReportSummariser();
    for (let seed = 1; seed <= 20; seed++) {
      const spec = randomAggregate(seed, 'rfc7489');
      specs.push(spec);
      const { report, problems } = parseAggregateXml(aggregateXml(spec).replace('<feedback>', '<feedback xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'));
      assert.deepEqual(
        problems.map((p) => p.code),
        ['dmarc-agg-7489'],
      );
      assert.equal(report?.format, 'rfc7489');
      assert.equal(report?.records.length, spec.records.length);
      s.add({ source: `${seed}.xml`, report, problems });
    }
    const want = expectedCounts(specs);
    const sum = s.result();
    assert.equal(sum.aggregate.messages, want.messages);
    assert.equal(sum.aggregate.dmarcPass, want.dmarcPass);
  });

  it('an element of another namespace in an RFC 7489 report is not in its schema and is not read', () => {
    const spec = twoRecords();
    spec.format = 'rfc7489';
    const xml = aggregateXml(spec).replace('<count>5000</count>', '<x:count xmlns:x="urn:example:ext">1</x:count><count>5000</count>');
    const { report, problems } = parseAggregateXml(xml);
    assert.deepEqual(
      report?.records.map((r) => r.count),
      [5000, 100],
    );
    assert.ok(problems.some((p) => p.code === 'dmarc-agg-unknown' && xml.slice(p.range.start).startsWith('<x:count')));
  });
});
