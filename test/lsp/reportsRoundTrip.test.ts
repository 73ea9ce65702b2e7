/**
 * LSP round trips over stdio against the built server for the documents beside `.smtp` and
 * `.eml`: DMARC aggregate and TLS-RPT reports opened as text (diagnostics at exact positions,
 * hovers), other XML and JSON (nothing), capture server rules files (diagnostics), and the
 * bulk-sender findings that an `.eml` message's header fields decide without the network.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLspClient, type LspClient } from '../support/lspClient';
import { aggregateXml, failureReportEml, randomAggregate, tlsRptJson } from '../reports/generate';

let client: LspClient;

before(async () => {
  client = await startLspClient();
});

after(async () => {
  await client.stop();
});

async function open(uri: string, languageId: string, text: string): Promise<{ code: string; start: { line: number; character: number }; end: { line: number; character: number }; href?: string; severity?: number }[]> {
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version: 1, text } });
  const published = await client.nextDiagnostics(uri, 1);
  // The support client types only part of a diagnostic; the link is in codeDescription (LSP 3.16).
  return published.diagnostics.map((d) => ({
    code: String(d.code),
    start: d.range.start,
    end: d.range.end,
    ...((d as { codeDescription?: { href: string } }).codeDescription ? { href: (d as { codeDescription?: { href: string } }).codeDescription!.href } : {}),
    ...(d.severity !== undefined ? { severity: d.severity } : {}),
  }));
}

/** The offset of a line/character position in a text (LF line ends). */
function offsetOf(text: string, position: { line: number; character: number }): number {
  const lines = text.split('\n');
  let offset = 0;
  for (let i = 0; i < position.line; i++) offset += lines[i].length + 1;
  return offset + position.character;
}

/** The position of an offset. */
function positionOf(text: string, offset: number): { line: number; character: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
}

test('an aggregate report gets its schema findings at the exact text, with links', async () => {
  const xml = aggregateXml(randomAggregate(3, 'rfc9990')).replace(/<count>\d+<\/count>/, '<count>many</count>');
  const uri = 'file:///tmp/google.com!example.com!1700000000!1700086400.xml';
  const diagnostics = await open(uri, 'xml', xml);
  const bad = diagnostics.find((d) => d.code === 'dmarc-agg-value');
  assert.ok(bad, JSON.stringify(diagnostics));
  assert.equal(xml.slice(offsetOf(xml, bad.start), offsetOf(xml, bad.end)), 'many');
  assert.equal(bad.severity, 1);
  assert.match(bad.href ?? '', /rfc9990/);
});

test('a truncated aggregate report is a diagnostic, never a crash', async () => {
  const xml = aggregateXml(randomAggregate(4, 'rfc7489'));
  const diagnostics = await open('file:///tmp/truncated.xml', 'xml', xml.slice(0, Math.floor(xml.length / 2)));
  assert.ok(diagnostics.some((d) => d.code === 'report-xml-truncated'), JSON.stringify(diagnostics));
});

test('hover on an aggregate element explains it and shows the timestamp as a date', async () => {
  const xml = aggregateXml(randomAggregate(5, 'rfc9990'));
  const uri = 'file:///tmp/hover.xml';
  await open(uri, 'xml', xml);
  const hover = (await client.connection.sendRequest('textDocument/hover', { textDocument: { uri }, position: positionOf(xml, xml.indexOf('<begin>') + 2) })) as { contents: { value: string } } | null;
  assert.ok(hover, 'a hover');
  assert.match(hover.contents.value, /\*\*begin\*\*/);
  assert.match(hover.contents.value, /\d{4}-\d{2}-\d{2}T/);
});

test('a TLS-RPT report is validated and its fields explained', async () => {
  const json = tlsRptJson({ organizationName: 'R', reportId: '1', policyDomain: 'example.com', policyType: 'sts', successful: 1, failures: [{ resultType: 'dane-required', mx: 'mx.example.com', ip: '192.0.2.1', count: 1 }] });
  const uri = 'file:///tmp/report.json';
  const clean = await open(uri, 'json', json);
  assert.ok(!clean.some((d) => d.severity === 1), JSON.stringify(clean));
  const hover = (await client.connection.sendRequest('textDocument/hover', { textDocument: { uri }, position: positionOf(json, json.indexOf('"result-type"') + 3) })) as { contents: { value: string } } | null;
  assert.match(hover?.contents.value ?? '', /starttls-not-supported/);
  const broken = json.replace('"policy-type": "sts"', '"policy-type": "carrier-pigeon"');
  const diagnostics = await open('file:///tmp/broken.json', 'json', broken);
  const bad = diagnostics.find((d) => d.code === 'tlsrpt-value');
  assert.ok(bad, JSON.stringify(diagnostics));
  assert.match(broken.slice(offsetOf(broken, bad.start), offsetOf(broken, bad.end)), /carrier-pigeon/);
});

test('XML and JSON that are not reports get no diagnostics and no hover', async () => {
  assert.deepEqual(await open('file:///tmp/pom.xml', 'xml', '<project><modelVersion>4.0.0</modelVersion>'), []);
  assert.deepEqual(await open('file:///tmp/package.json', 'json', '{"name": "x", '), []);
  // One TLS-RPT key alone is common in other JSON: not enough to call it a report.
  assert.deepEqual(await open('file:///tmp/policy.json', 'json', '{"policies": [{"name": 1}]}'), []);
  const hover = await client.connection.sendRequest('textDocument/hover', { textDocument: { uri: 'file:///tmp/package.json' }, position: { line: 0, character: 3 } });
  assert.equal(hover, null);
});

test('a capture rules file gets the rules checker diagnostics', async () => {
  const text = ['{', '  "version": 1,', '  "rules": [', '    { "name": "bad", "when": { "command": "RCPT" }, "reply": "250 fine" }', '  ]', '}'].join('\n');
  const diagnostics = await open('file:///tmp/app.capture-rules.json', 'json', text);
  const bad = diagnostics.find((d) => d.code === 'rules-reply-code');
  assert.ok(bad, JSON.stringify(diagnostics));
  assert.match(text.slice(offsetOf(text, bad.start), offsetOf(text, bad.end)), /250 fine/);
  assert.match(bad.href ?? '', /5321/);
  const syntax = await open('file:///tmp/capture-rules.json', 'json', '{"rules": [');
  assert.ok(syntax.some((d) => d.code === 'rules-json-syntax'), JSON.stringify(syntax));
});

test('a bulk message gets the header-level bulk-sender findings; a personal message none', async () => {
  const bulk = [
    'From: News <news@example.com>',
    'To: someone@example.org',
    'Subject: Weekly',
    'Date: Sun, 06 Dec 2026 07:00:00 +0000',
    'Message-ID: <1@example.com>',
    'List-Unsubscribe: <mailto:unsub@example.com>',
    'DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; h=from:to:subject; bh=AAAA; b=BBBB',
    '',
    'Hello',
    '',
  ].join('\r\n');
  const diagnostics = await open('file:///tmp/bulk.eml', 'eml', bulk);
  const codes = diagnostics.map((d) => d.code).filter((c) => c.startsWith('bulk-')).sort();
  assert.deepEqual(codes, ['bulk-list-unsubscribe', 'bulk-one-click', 'bulk-unsubscribe-signed']);
  const lu = diagnostics.find((d) => d.code === 'bulk-list-unsubscribe')!;
  assert.equal(lu.start.line, 5);
  assert.match(lu.href ?? '', /rfc8058#section-3\.1/);
  const personal = await open('file:///tmp/personal.eml', 'eml', bulk.replace(/List-Unsubscribe:[^\r]*\r\n/, ''));
  assert.ok(!personal.some((d) => d.code.startsWith('bulk-')), JSON.stringify(personal));
  const good = bulk.replace('List-Unsubscribe: <mailto:unsub@example.com>', 'List-Unsubscribe: <https://example.com/u/1>, <mailto:unsub@example.com>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click').replace('h=from:to:subject', 'h=from:to:subject:list-unsubscribe:list-unsubscribe-post');
  const compliant = await open('file:///tmp/compliant.eml', 'eml', good);
  assert.ok(!compliant.some((d) => d.code.startsWith('bulk-')), JSON.stringify(compliant));
});

test('a failure report (.eml, ARF) gets its report findings beside the message lint', async () => {
  const eml = failureReportEml({ reportedDomain: 'example.com', originalFromDomain: 'example.com', sourceIp: '192.0.2.1', authFailure: 'dmarc', omit: ['feedback-type'] });
  const diagnostics = await open('file:///tmp/failure.eml', 'eml', eml);
  assert.ok(diagnostics.some((d) => d.code === 'arf-missing'), JSON.stringify(diagnostics));
  const whole = await open('file:///tmp/failure-ok.eml', 'eml', failureReportEml({ reportedDomain: 'example.com', originalFromDomain: 'example.com', sourceIp: '192.0.2.1', authFailure: 'dmarc' }));
  assert.ok(!whole.some((d) => d.code.startsWith('arf-')), JSON.stringify(whole));
});
