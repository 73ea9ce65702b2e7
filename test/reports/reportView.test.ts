// The report view's pure renderer (strict CSP, inert text, nothing fetched) and the language
// server's validator entry point (which documents are reports, positions of findings).
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { reportHover } from '../../server/src/reports/hover';
import { openReportBytes } from '../../server/src/reports/open';
import { renderReportHtml, reportCsp } from '../../client/src/reports/reportHtml';
import { ReportSummariser } from '../../client/src/reports/summary';
import { isReportDocument, validateReportDocument } from '../../server/src/reports/validate';
import { aggregateXml, randomAggregate, tlsRptJson } from './generate';

const NONCE = 'abcdefghijklmnop0123';

function hostileSummary() {
  const spec = randomAggregate(40, 'rfc9990');
  spec.orgName = '<img src=https://evil.example/x onerror=alert(1)>\u202e\u001b[2J';
  spec.records[0].headerFrom = 'example.com"><script>alert(2)</script>';
  const s = new ReportSummariser();
  s.addFile();
  for (const o of openReportBytes('a.xml', Buffer.from(aggregateXml(spec)))) s.add(o);
  s.addFile();
  for (const o of openReportBytes('t.json', Buffer.from(tlsRptJson({ organizationName: 'R', reportId: '1', policyDomain: 'example.com', policyType: 'sts', successful: 1, failures: [{ resultType: 'dane-required', mx: '<b>mx</b>', ip: '192.0.2.1', count: 1 }] })))) s.add(o);
  return s.result();
}

describe('report view HTML', () => {
  it('has a strict CSP and loads nothing', () => {
    const html = renderReportHtml(hostileSummary(), { cspSource: 'vscode-webview://x', nonce: NONCE });
    const csp = reportCsp('vscode-webview://x', NONCE);
    assert.ok(html.includes(csp.replace(/'/g, '&#39;')));
    for (const directive of ["default-src 'none'", "img-src 'none'", "connect-src 'none'", "frame-src 'none'", "form-action 'none'"]) assert.ok(csp.includes(directive));
    assert.ok(!/<(img|iframe|link|object|embed)\b/i.test(html), 'no element that fetches');
    const scripts = html.match(/<script\b[^>]*>/g) ?? [];
    assert.deepEqual(scripts, [`<script nonce="${NONCE}">`]);
  });

  it('renders report text inert and visible', () => {
    const html = renderReportHtml(hostileSummary(), { cspSource: 'vscode-webview://x', nonce: NONCE });
    assert.ok(html.includes('&lt;img src=https://evil.example/x onerror=alert(1)&gt;\\u202E\\x1B[2J'));
    assert.ok(html.includes('&lt;script&gt;alert(2)&lt;/script&gt;'));
    assert.ok(html.includes('&lt;b&gt;mx&lt;/b&gt;'));
    assert.ok(!html.includes('\u202e') && !html.includes('\u001b'));
    assert.match(html, /<svg role="img"/);
  });

  it('refuses a weak nonce', () => {
    assert.throws(() => renderReportHtml(hostileSummary(), { cspSource: 'x', nonce: 'short' }));
  });
});

describe('report validation for the language server', () => {
  it('knows which documents are reports', () => {
    assert.equal(isReportDocument('a.xml', aggregateXml(randomAggregate(1, 'rfc9990'))), true);
    assert.equal(isReportDocument('pom.xml', '<project><modelVersion>4.0.0</modelVersion></project>'), false);
    assert.equal(isReportDocument('package.json', '{"name": "x"}'), false);
    assert.equal(isReportDocument('plain.eml', 'Subject: hi\r\n\r\nhello'), false);
    assert.deepEqual(validateReportDocument('pom.xml', '<project>'), []);
  });

  it('puts findings on the exact text', () => {
    const xml = aggregateXml(randomAggregate(2, 'rfc9990')).replace(/<count>\d+<\/count>/, '<count>many</count>');
    const problems = validateReportDocument('r.xml', xml);
    const p = problems.find((x) => x.code === 'dmarc-agg-value');
    assert.ok(p);
    assert.equal(xml.slice(p.range.start, p.range.end), 'many');
    const truncated = validateReportDocument('r.xml', xml.slice(0, xml.length - 40));
    assert.ok(truncated.some((x) => x.code === 'report-xml-truncated'));
  });
});

describe('report hovers', () => {
  it('explains an aggregate element and shows a timestamp as a date', () => {
    const xml = aggregateXml(randomAggregate(3, 'rfc9990'));
    const at = xml.indexOf('<begin>') + 2;
    const h = reportHover('r.xml', xml, at);
    assert.ok(h);
    assert.match(h.markdown, /^\*\*begin\*\*: The start of the period/);
    assert.match(h.markdown, /\d{4}-\d{2}-\d{2}T/);
    assert.equal(xml.slice(h.range.start, h.range.end), '<begin>');
    const disp = reportHover('r.xml', xml, xml.indexOf('<disposition>') + 3);
    assert.match(disp?.markdown ?? '', /What the receiver did/);
  });

  it('explains a TLS-RPT field', () => {
    const json = tlsRptJson({ organizationName: 'R', reportId: '1', policyDomain: 'example.com', policyType: 'sts', successful: 1, failures: [{ resultType: 'dane-required', mx: 'mx', ip: '192.0.2.1', count: 1 }] });
    const h = reportHover('t.json', json, json.indexOf('"result-type"') + 3);
    assert.match(h?.markdown ?? '', /starttls-not-supported/);
    assert.equal(reportHover('t.json', json, 0), undefined);
  });
});
