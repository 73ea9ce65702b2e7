// Failure reports whose parts are transfer-encoded (session 22): a `message/feedback-report` part
// in base64 or quoted-printable (RFC 5965 §2 does not forbid it, and mail libraries choose base64
// for a part on their own) is decoded before its fields are read, and so is a base64
// `text/rfc822-headers` part. The messages are written by Python's email package.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parseFailureReport } from '../../server/src/reports/failure';
import { isFailureReportMessage, openReportBytes } from '../../server/src/reports/open';

const FIELDS = [
  'Feedback-Type: auth-failure',
  'User-Agent: python-fixture/1.0',
  'Version: 1',
  'Original-Mail-From: <bounce@example.com>',
  'Arrival-Date: Thu, 01 Jan 2026 12:00:00 +0000',
  'Source-IP: 192.0.2.77',
  'Reported-Domain: example.com',
  'Auth-Failure: dmarc',
  'Identity-Alignment: dkim',
].join('\r\n');

const HEADERS = ['From: Someone <someone@other.example>', 'To: user@receiver.example', 'Subject: the original message', ''].join('\r\n');

/**
 * A multipart/report failure report built by Python's email package, its feedback part and its
 * returned header encoded as asked (`base64`, `quoted-printable` or `7bit`).
 */
function pythonFailureReport(reportEncoding: string, headerEncoding: string): string {
  const script = `
import sys, json
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.mime.base import MIMEBase
from email import encoders
import quopri
fields, headers, enc, henc = json.load(sys.stdin)
m = MIMEMultipart('report', report_type='feedback-report')
m['From'] = 'dmarc-failure@receiver.example'
m['To'] = 'ruf@example.com'
m['Subject'] = 'FW: DMARC failure report for example.com'
m.attach(MIMEText('This is an authentication failure report.', 'plain', 'us-ascii'))
def part(maintype, subtype, body, encoding):
    p = MIMEBase(maintype, subtype)
    data = body.encode('ascii')
    if encoding == 'base64':
        p.set_payload(data)
        encoders.encode_base64(p)
    elif encoding == 'quoted-printable':
        # Every character escaped (the line breaks stay hard breaks), so the fields can only be read once decoded.
        p.set_payload('\\n'.join(''.join('=%02X' % b for b in line) for line in data.split(b'\\r\\n')))
        p['Content-Transfer-Encoding'] = 'quoted-printable'
    else:
        p.set_payload(body.replace('\\r\\n', '\\n'))
        encoders.encode_7or8bit(p)
    return p
m.attach(part('message', 'feedback-report', fields, enc))
m.attach(part('text', 'rfc822-headers', headers, henc))
sys.stdout.write(m.as_string().replace('\\n', '\\r\\n'))
`;
  const run = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify([FIELDS, HEADERS, reportEncoding, headerEncoding]), encoding: 'latin1' });
  assert.equal(run.status, 0, `python3 failed: ${run.error?.message ?? run.stderr}`);
  return run.stdout;
}

const codes = (problems: Array<{ code: string }>): string[] => problems.map((p) => p.code);

describe('failure reports: transfer-encoded parts are decoded (RFC 2045 §6.7, §6.8)', () => {
  it('the same fields from a 7bit, a base64 and a quoted-printable feedback-report part', () => {
    const plain = parseFailureReport(pythonFailureReport('7bit', '7bit'));
    assert.ok(plain.report);
    for (const encoding of ['base64', 'quoted-printable']) {
      const text = pythonFailureReport(encoding, '7bit');
      assert.match(text, new RegExp(`Content-Transfer-Encoding: ${encoding}`, 'i'));
      assert.doesNotMatch(text, /Feedback-Type: auth-failure/, 'the fields are not readable before decoding');
      const r = parseFailureReport(text);
      assert.ok(r.report, encoding);
      assert.deepEqual(r.report.fields, plain.report.fields, encoding);
      assert.equal(r.report.reportedDomain, 'example.com');
      assert.equal(r.report.sourceIp, '192.0.2.77');
      assert.equal(r.report.authFailure, 'dmarc');
      assert.deepEqual(codes(r.problems), codes(plain.problems), encoding);
    }
  });

  it('a finding on a field of a base64 part lies within that part', () => {
    const text = pythonFailureReport('base64', '7bit');
    const r = parseFailureReport(text);
    // The original is from other.example, the report is about example.com.
    const mismatch = r.problems.find((p) => p.code === 'arf-domain-mismatch');
    assert.ok(mismatch, JSON.stringify(r.problems));
    const partStart = text.indexOf('Content-Type: message/feedback-report');
    const nextPart = text.indexOf('Content-Type: text/rfc822-headers');
    assert.ok(mismatch.range.start > partStart && mismatch.range.end < nextPart, JSON.stringify(mismatch.range));
    assert.ok(/^[A-Za-z0-9+/=\r\n]+$/.test(text.slice(mismatch.range.start, mismatch.range.end)), 'the range is the encoded body');
  });

  it('a base64 text/rfc822-headers part gives the original From and Subject', () => {
    const r = parseFailureReport(pythonFailureReport('7bit', 'base64'));
    assert.equal(r.report?.originalFrom, 'Someone <someone@other.example>');
    assert.equal(r.report?.originalSubject, 'the original message');
    assert.ok(r.problems.some((p) => p.code === 'arf-domain-mismatch'));
  });

  it('a base64 failure report file is one failure report through openReportBytes', () => {
    const text = pythonFailureReport('base64', 'base64');
    assert.ok(isFailureReportMessage(text));
    const opened = openReportBytes('f.eml', Buffer.from(text, 'latin1'));
    assert.equal(opened.length, 1);
    assert.equal(opened[0].report?.kind, 'dmarc-failure');
    assert.deepEqual(codes(opened[0].problems), ['arf-domain-mismatch']);
  });

  // RFC 2045 §6.1: the mechanism is a token, case-insensitive, in a structured field that may hold
  // comments (RFC 822 §3.1.4) and folding white space.
  for (const written of ['base64 (sent by the fixture)', 'BASE64', '(encoded) Base64', 'base64\r\n (folded comment)']) {
    it(`a feedback-report part with "Content-Transfer-Encoding: ${written.replace(/\r\n/g, '\\r\\n')}" is decoded`, () => {
      const plain = parseFailureReport(pythonFailureReport('7bit', '7bit'));
      const text = pythonFailureReport('base64', 'base64').replace(/Content-Transfer-Encoding: base64/g, `Content-Transfer-Encoding: ${written}`);
      assert.equal(text.split(`Content-Transfer-Encoding: ${written}`).length, 3, 'both parts carry the rewritten field');
      const r = parseFailureReport(text);
      assert.deepEqual(codes(r.problems), ['arf-domain-mismatch']);
      assert.deepEqual(r.report?.fields.map((f) => [f.name, f.value]), plain.report?.fields.map((f) => [f.name, f.value]));
      assert.equal(r.report?.originalFrom, 'Someone <someone@other.example>');
    });
  }

  it('a quoted-printable feedback-report part with a comment after its mechanism is decoded', () => {
    const text = pythonFailureReport('quoted-printable', '7bit').replace('Content-Transfer-Encoding: quoted-printable', 'Content-Transfer-Encoding: Quoted-Printable (every octet escaped)');
    const r = parseFailureReport(text);
    assert.deepEqual(codes(r.problems), ['arf-domain-mismatch']);
    assert.equal(r.report?.sourceIp, '192.0.2.77');
  });

  it('comments in the Content-Type fields (RFC 2045 §5.1) do not hide the report or its boundary', () => {
    const text = pythonFailureReport('base64', '7bit')
      .replace('Content-Type: multipart/report;', 'Content-Type: multipart/report (DMARC failure);')
      .replace(/boundary="([^"]+)"/, 'boundary="$1" (the delimiter)')
      .replace('Content-Type: message/feedback-report', 'Content-Type: message/feedback-report (ARF, RFC 5965)')
      .replace('Content-Type: text/rfc822-headers', 'Content-Type: text/rfc822-headers (the original header)');
    assert.match(text, /\(ARF, RFC 5965\)/);
    assert.match(text, /\(the delimiter\)/);
    const r = parseFailureReport(text);
    assert.deepEqual(codes(r.problems), ['arf-domain-mismatch']);
    assert.equal(r.report?.sourceIp, '192.0.2.77');
    assert.equal(r.report?.originalFrom, 'Someone <someone@other.example>');
  });

  it('a base64 part that lacks a required field still says so', () => {
    const text = pythonFailureReport('base64', '7bit');
    const cut = text.replace(/(Content-Transfer-Encoding: base64\r\n\r\n)([A-Za-z0-9+/=\r\n]+?)(\r\n--)/, (_m, head: string, _b64: string, tail: string) => head + Buffer.from(FIELDS.replace('Version: 1\r\n', '')).toString('base64') + tail);
    assert.notEqual(cut, text);
    const r = parseFailureReport(cut);
    assert.deepEqual(codes(r.problems).sort(), ['arf-domain-mismatch', 'arf-missing']);
  });
});
