// Report domains the way a demanding user writes them: one domain as a U-label and as an A-label
// (RFC 5890 §2.3.2.1) is one domain for the claim checks, the grouping and `--domain`; a raw UTF-8
// Subject (RFC 6532) is read as UTF-8; a TLS-RPT report covers every policy domain the sender met
// (RFC 8460 §4.4); `--domain` values are checked; and UTF-16 without a BOM may start with white space.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { reportCommand } from '../../client/src/cli/reportCommand';
import { ReportSummariser, type ReportSummary } from '../../client/src/reports/summary';
import { reportAboutDomain } from '../../client/src/reports/reportDomain';
import { domainFromReportSubject } from '../../server/src/reports/aggregate';
import { normalDomain, reportDomainProblem } from '../../server/src/reports/normalForm';
import { decodeReportBytes, openReportBytes, type OpenedReport } from '../../server/src/reports/open';
import { captureCli, type CapturedRun } from '../support/cliCapture';
import { aggregateReportMail, aggregateXml, failureReportEml, randomAggregate, reportFileName, tlsRptJson, type TlsRptSpec } from './generate';

const codes = (ps: Array<{ code: string }>): string[] => [...new Set(ps.map((p) => p.code))].sort();

const U = 'bücher.example';
const A = 'xn--bcher-kva.example';

/** A rua= mail whose Subject header field is `subject` (as given: encoded words or raw UTF-8). */
function mailWithSubject(policyDomain: string, subject: string): Buffer {
  const mail = aggregateReportMail(randomAggregate(7, 'rfc9990', policyDomain), 'placeholder.example');
  const [head, ...rest] = mail.split(/^Subject: .*$/m);
  assert.equal(rest.length, 1);
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(`Subject: ${subject}`, 'utf8'), Buffer.from(rest[0], 'latin1')]);
}

function openMail(bytes: Buffer): OpenedReport {
  const opened = openReportBytes('mail.eml', bytes);
  assert.equal(opened.length, 1);
  assert.ok(opened[0].report, JSON.stringify(opened[0].problems));
  return opened[0];
}

const tlsSpec = (policyDomain: string, successful: number): TlsRptSpec => ({
  organizationName: 'Receiver Inc.',
  reportId: 't-1',
  policyDomain,
  policyType: 'sts',
  successful,
  failures: [],
});

/** One TLS-RPT report whose "policies" hold the policy items of several generated ones. */
function tlsReportOf(specs: TlsRptSpec[]): string {
  const docs = specs.map((s) => JSON.parse(tlsRptJson(s)) as { policies: unknown[] });
  const first = JSON.parse(tlsRptJson(specs[0])) as Record<string, unknown>;
  return JSON.stringify({ ...first, policies: docs.flatMap((d) => d.policies) }, null, 2) + '\n';
}

describe('one domain as a U-label and as an A-label (RFC 5890 §2.3.2.1)', () => {
  it('normalDomain gives the A-label form, lower case, without the final dot', () => {
    for (const [input, want] of [
      [U, A],
      ['Bücher.Example.', A],
      [' XN--BCHER-KVA.Example. ', A],
      [A, A],
      ['ÉCOLE.example', 'xn--cole-9oa.example'],
      ['Example.COM.', 'example.com'],
      ['', ''],
    ] as const) {
      assert.equal(normalDomain(input), want, input);
    }
    // Text IDNA cannot convert stays as written (lower case): it equals no valid domain.
    assert.equal(normalDomain('a\u00ADb\u200D.example').length > 0, true);
    assert.notEqual(normalDomain('x\uFFFDy.example'), '');
  });

  for (const [claim, policy] of [
    [U, A],
    [A, U],
  ]) {
    it(`an RFC 2047 Subject claiming ${claim} and a report on ${policy} is no mismatch`, () => {
      const q = `=?UTF-8?Q?Report_Domain:_${Buffer.from(claim, 'utf8')
        .toString('latin1')
        .replace(/[^\x21-\x7e]/g, (c) => `=${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)}?= Submitter: r`;
      const opened = openMail(mailWithSubject(policy, q));
      assert.deepEqual(
        opened.problems.filter((p) => p.code === 'dmarc-agg-domain-mismatch'),
        [],
      );
    });
  }

  it('the brief\'s exact Subject (=?UTF-8?Q?Report_Domain:_b=C3=BCcher.example?=) matches an A-label report', () => {
    assert.equal(domainFromReportSubject('=?UTF-8?Q?Report_Domain:_b=C3=BCcher.example?='), U);
    const opened = openMail(mailWithSubject(A, '=?UTF-8?Q?Report_Domain:_b=C3=BCcher.example?='));
    assert.ok(!codes(opened.problems).includes('dmarc-agg-domain-mismatch'));
  });

  it('a raw UTF-8 Subject (RFC 6532) is read as UTF-8: no false mismatch, and a true one is shown without mojibake', () => {
    const same = openMail(mailWithSubject(A, `Report Domain: ${U} Submitter: receiver.example`));
    assert.ok(!codes(same.problems).includes('dmarc-agg-domain-mismatch'), JSON.stringify(same.problems));
    const other = openMail(mailWithSubject(A, 'Report Domain: müller.example Submitter: receiver.example'));
    const mismatch = other.problems.find((p) => p.code === 'dmarc-agg-domain-mismatch');
    assert.ok(mismatch);
    assert.match(mismatch.message, /müller\.example/);
    assert.doesNotMatch(mismatch.message, /Ã/);
    // Raw bytes that are not UTF-8 stay as they were (one character per byte).
    assert.equal(domainFromReportSubject('Report Domain: m\xfcller.example'), 'm\xfcller.example');
  });

  it('a U-label in the file name is compared the same way', () => {
    const spec = randomAggregate(8, 'rfc9990', A);
    const ok = openReportBytes(`${reportFileName('receiver.example', U, spec.begin, spec.end)}.xml`, Buffer.from(aggregateXml(spec)));
    assert.ok(!codes(ok[0].problems).includes('dmarc-agg-domain-mismatch'), JSON.stringify(ok[0].problems));
    const bad = openReportBytes(`${reportFileName('receiver.example', 'müller.example', spec.begin, spec.end)}.xml`, Buffer.from(aggregateXml(spec)));
    assert.ok(codes(bad[0].problems).includes('dmarc-agg-domain-mismatch'));
  });

  it('TLS-RPT: a policy domain written as a U-label matches an A-label in the file name', () => {
    const [o] = openReportBytes(`receiver.example!${A}!1767225600!1767311999.json`, Buffer.from(tlsRptJson(tlsSpec(U, 3))));
    assert.deepEqual(codes(o.problems), []);
  });

  it('the summary groups reports on the U-label and the A-label as one domain, shown in the A-label form', () => {
    const s = new ReportSummariser();
    for (const [i, d] of [U, A].entries()) {
      s.addFile();
      for (const o of openReportBytes(`r${i}.xml`, Buffer.from(aggregateXml(randomAggregate(20 + i, 'rfc9990', d))))) s.add(o);
    }
    s.addFile();
    for (const o of openReportBytes('t.json', Buffer.from(tlsReportOf([tlsSpec(U, 1), tlsSpec(A, 2)])))) s.add(o);
    const r = s.result();
    assert.deepEqual(
      r.aggregate.domains.map((d) => [d.domain, d.reports]),
      [[A, 2]],
    );
    assert.deepEqual(
      r.tlsRpt.policies.map((p) => [p.policyDomain, p.successful]),
      [[A, 3]],
    );
  });

  it("the report view's domain filter takes either form", () => {
    const [agg] = openReportBytes('a.xml', Buffer.from(aggregateXml(randomAggregate(9, 'rfc9990', A))));
    assert.ok(agg.report);
    assert.equal(reportAboutDomain(agg.report, U), agg.report);
    assert.equal(reportAboutDomain(agg.report, `news.${U}`), agg.report);
  });
});

describe('smtpwb report --domain with U-labels and A-labels, and invalid values', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'smtpwb-domains-'));
    writeFileSync(join(dir, 'u.xml'), aggregateXml(randomAggregate(30, 'rfc9990', U)));
    writeFileSync(join(dir, 'a.xml'), aggregateXml(randomAggregate(31, 'rfc9990', A)));
    writeFileSync(join(dir, 'o.xml'), aggregateXml(randomAggregate(32, 'rfc9990', 'example.org')));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const run = (args: string[]): Promise<CapturedRun> => captureCli(reportCommand, [...args, '--no-dns'], { cwd: dir });

  for (const asked of [U, A, 'Bücher.EXAMPLE.']) {
    it(`--domain ${asked} keeps the reports on both forms`, async () => {
      const r = await run(['.', '--domain', asked, '--json']);
      assert.equal(r.code, 0, r.err);
      const s = JSON.parse(r.out) as ReportSummary;
      assert.equal(s.counts.aggregate, 2);
      assert.deepEqual(
        s.aggregate.domains.map((d) => d.domain),
        [A],
      );
      assert.match(r.err, /left out 1 report\(s\) about other domains/);
    });
  }

  for (const bad of ['ex ample.com', '*.x', 'a..', '.', '-a.example', 'a_b..example', '192.0.2.1', `${'a'.repeat(64)}.example`, 'x\u0000y.example', 'bü cher.example']) {
    it(`--domain ${JSON.stringify(bad)} is a usage error`, async () => {
      const r = await run(['.', '--domain', 'example.org', '--domain', bad]);
      assert.equal(r.code, 2, r.out + r.err);
      assert.match(r.err, /--domain/);
      // The value is shown escaped (common/escape.ts), never raw.
      assert.doesNotMatch(r.err, /\u0000/);
    });
  }

  it('reportDomainProblem: the rule behind --domain', () => {
    for (const good of ['example.com', 'Example.COM.', U, A, '_dmarc.example.com', 'localhost']) assert.equal(reportDomainProblem(good), undefined, good);
    for (const bad of ['', ' ', 'ex ample.com', '*.x', 'a..', 'xn--zz.example', '2001:db8::1', '[192.0.2.1]']) assert.ok(reportDomainProblem(bad), bad);
  });
});

describe('TLS-RPT: one report covers every policy domain the sender met (RFC 8460 §4.4)', () => {
  const two = tlsReportOf([tlsSpec('example.com', 1), tlsSpec('example.net', 2)]);

  it('a file name claiming one of the policy domains is no mismatch', () => {
    const [o] = openReportBytes('sender!example.com!1767225600!1767311999.json', Buffer.from(two));
    assert.deepEqual(codes(o.problems), []);
    const [n] = openReportBytes('sender!EXAMPLE.net.!1767225600!1767311999.json', Buffer.from(two));
    assert.deepEqual(codes(n.problems), []);
  });

  it('a file name claiming none of them is one mismatch that names every policy domain', () => {
    const [o] = openReportBytes('sender!example.org!1767225600!1767311999.json', Buffer.from(two));
    const found = o.problems.filter((p) => p.code === 'tlsrpt-domain-mismatch');
    assert.equal(found.length, 1, JSON.stringify(o.problems));
    assert.match(found[0].message, /example\.com/);
    assert.match(found[0].message, /example\.net/);
    assert.match(found[0].message, /example\.org/);
    assert.match(found[0].message, /file name/);
    // The range is the first policy domain, as the report text has it.
    assert.equal(two.slice(found[0].range.start, found[0].range.end), '"example.com"');
  });

  it('in a mail, the Subject claim is checked the same way, and the finding says it came from the Subject', () => {
    const mail = (claim: string): Buffer =>
      Buffer.from(
        [
          'From: tlsrpt@receiver.example',
          'To: tlsrpt@example.com',
          `Subject: Report Domain: ${claim} Submitter: receiver.example Report-ID: <t-1>`,
          'MIME-Version: 1.0',
          'TLS-Report-Domain: example.com',
          'Content-Type: multipart/report; report-type=tlsrpt; boundary="b1"',
          '',
          '--b1',
          'Content-Type: text/plain',
          '',
          'A TLS report.',
          '--b1',
          'Content-Type: application/tlsrpt+json; name="sender!example.com!1767225600!1767311999.json"',
          'Content-Disposition: attachment; filename="sender!example.com!1767225600!1767311999.json"',
          'Content-Transfer-Encoding: base64',
          '',
          Buffer.from(two).toString('base64'),
          '--b1--',
          '',
        ].join('\r\n'),
      );
    const same = openReportBytes('m.eml', mail('Example.NET'));
    assert.equal(same.length, 1);
    assert.equal(same[0].report?.kind, 'tls-rpt', JSON.stringify(same[0].problems));
    assert.deepEqual(codes(same[0].problems), []);
    const [other] = openReportBytes('m.eml', mail('example.org'));
    const found = other.problems.filter((p) => p.code === 'tlsrpt-domain-mismatch');
    assert.equal(found.length, 1, JSON.stringify(other.problems));
    assert.match(found[0].message, /the subject says "example\.org"/);
  });

  it('a single-policy report on another domain is still a mismatch', () => {
    const [o] = openReportBytes('sender!example.org!1767225600!1767311999.json', Buffer.from(tlsRptJson(tlsSpec('example.com', 1))));
    assert.ok(codes(o.problems).includes('tlsrpt-domain-mismatch'));
  });
});

describe('UTF-16 without a byte order mark after leading white space (XML 1.0 §2.3 S)', () => {
  const xml = aggregateXml(randomAggregate(40, 'rfc9990', 'example.com')).replace(/^<\?xml[^>]*\?>/, '<?xml version="1.0" encoding="UTF-16"?>');
  const json = tlsRptJson(tlsSpec('example.com', 4));
  const be = (text: string): Buffer => {
    const le = Buffer.from(text, 'utf16le');
    for (let i = 0; i + 1 < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1], le[i]];
    return le;
  };

  for (const lead of ['\r\n', ' \t \n', '\n\n\n']) {
    for (const [order, encode] of [
      ['little', (t: string) => Buffer.from(t, 'utf16le')],
      ['big', be],
    ] as const) {
      it(`${order}-endian, ${JSON.stringify(lead)} before the XML and the JSON`, () => {
        const x = openReportBytes('r.xml', encode(lead + xml))[0];
        assert.equal(x.report?.kind, 'dmarc-aggregate', JSON.stringify(x.problems));
        assert.deepEqual(codes(x.problems), ['report-encoding']);
        const j = openReportBytes('r.json', encode(lead + json))[0];
        assert.equal(j.report?.kind, 'tls-rpt', JSON.stringify(j.problems));
        assert.deepEqual(codes(j.problems), ['report-encoding']);
        assert.equal(decodeReportBytes(encode(lead + json)).encoding, `utf-16${order === 'little' ? 'le' : 'be'}`);
      });
    }
  }

  it('white space alone, or UTF-8 with leading white space, is not taken for UTF-16', () => {
    assert.equal(decodeReportBytes(Buffer.from(' \n ', 'utf16le')).encoding, 'utf-8');
    assert.equal(decodeReportBytes(Buffer.from(`\n  ${json}`, 'utf8')).encoding, 'utf-8');
    assert.equal(openReportBytes('r.json', Buffer.from(`\n  ${json}`, 'utf8'))[0].report?.kind, 'tls-rpt');
  });
});

describe('failure reports: one domain as a U-label and as an A-label', () => {
  it('Reported-Domain in A-labels and a raw UTF-8 From in U-labels (and the reverse) are one domain, read as UTF-8', () => {
    for (const [reportedDomain, originalFromDomain] of [
      ['xn--bcher-kva.example', 'bücher.example'],
      ['bücher.example', 'xn--bcher-kva.example'],
    ]) {
      const eml = failureReportEml({ reportedDomain, originalFromDomain, sourceIp: '192.0.2.9', authFailure: 'dmarc' });
      const [opened] = openReportBytes('f.eml', Buffer.from(eml, 'utf8'));
      assert.ok(opened.report, reportedDomain);
      assert.ok(!opened.problems.some((p) => p.code === 'arf-domain-mismatch'), JSON.stringify(opened.problems));
      if (opened.report.kind === 'dmarc-failure') assert.equal(opened.report.reportedDomain, reportedDomain);
    }
    const [other] = openReportBytes('g.eml', Buffer.from(failureReportEml({ reportedDomain: 'müller.example', originalFromDomain: 'bücher.example', sourceIp: '192.0.2.9', authFailure: 'dmarc' }), 'utf8'));
    const mismatch = other.problems.find((p) => p.code === 'arf-domain-mismatch');
    assert.ok(mismatch, 'a real mismatch is still found');
    assert.match(mismatch.message, /"müller\.example" but the original message is from "bücher\.example"/);
  });
});
