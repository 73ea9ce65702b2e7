// `smtpwb report fetch` against a real Dovecot (test/peers/dovecot.ts): a message over the
// report-size limit is not downloaded but reported; every file is written to a temporary name and
// renamed (a second fetch replaces a planted link rather than writing through it, and a file that
// cannot be saved leaves no temporary file); the `Report Domain:` claim of the Subject (RFC 7489
// §7.2.1.1), RFC 2047 encoded or not, is kept in the saved name so that `smtpwb report DIR` still
// finds a report that lies about its domain (dmarc-agg-domain-mismatch).
import { strict as assert } from 'node:assert';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { captureCli, type CapturedRun } from '../support/cliCapture';
import { reportCommand } from '../../client/src/cli/reportCommand';
import { fetchReportsOverImap, MAX_FETCHED_MESSAGE_BYTES, reportAttachmentFileName, subjectDomainClaim, type ImapFetchOptions } from '../../client/src/reports/imapFetch';
import { REPORT_FILE } from '../../client/src/reports/collect';
import { DEFAULT_ARCHIVE_LIMITS } from '../../server/src/reports/archive';
import { openReportBytes } from '../../server/src/reports/open';
import { startDovecot, type DovecotPeer } from '../peers/dovecot';
import { aggregateReportMail, gzip, aggregateXml, randomAggregate } from './generate';

/** The same mail with its Subject field replaced. */
function withSubject(mail: string, subject: string): string {
  return mail.replace(/^Subject: [^\r\n]*/m, `Subject: ${subject}`);
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** The finding codes `smtpwb report` gives for a saved file (the same opener it uses). */
function codesOf(path: string): string[] {
  return openReportBytes(basename(path), readFileSync(path)).flatMap((o) => o.problems.map((p) => p.code));
}

describe('report fetch: the Subject domain claim kept in the saved name (unit)', () => {
  const gz = gzip(aggregateXml(randomAggregate(5, 'rfc9990')));
  it('reads the claim, RFC 2047 encoded or not, and keeps only a name a file name can carry', () => {
    assert.equal(subjectDomainClaim('Subject: Report Domain: Example.COM. Submitter: r\r\n\r\n'), 'example.com');
    assert.equal(subjectDomainClaim(`Subject: =?UTF-8?B?${b64('Report Domain: other.example Submitter: r')}?=\r\n\r\n`), 'other.example');
    assert.equal(subjectDomainClaim('Subject: =?utf-8?q?Report_Domain=3A_other=2Eexample?=\r\n\r\n'), 'other.example');
    assert.equal(subjectDomainClaim('Subject: Report\r\n Domain: folded.example\r\n\r\n'), 'folded.example');
    // A U-label claim is kept as its A-label, the form the mismatch check compares (normalForm.ts).
    assert.equal(subjectDomainClaim(`Subject: =?UTF-8?B?${b64('Report Domain: bücher.example')}?=\r\n\r\n`), 'xn--bcher-kva.example');
    assert.equal(subjectDomainClaim('Subject: Report Domain: a/../b\r\n\r\n'), undefined);
    assert.equal(subjectDomainClaim('Subject: weekly report\r\n\r\n'), undefined);
  });

  it('keeps the name when it already claims the domain, else puts the claim in the RFC 7489 form', () => {
    const taken = new Set<string>();
    const rfcName = 'receiver.example!example.com!1!2.xml.gz';
    assert.equal(reportAttachmentFileName(3, { filename: rfcName, contentType: 'application/gzip', data: gz }, taken, 'example.com'), `3-${rfcName}`);
    assert.equal(reportAttachmentFileName(3, { filename: rfcName, contentType: 'application/gzip', data: gz }, taken, 'other.example'), `3!other.example!subject!${rfcName}`);
    assert.equal(reportAttachmentFileName(3, { filename: 'report.xml.gz', contentType: 'application/gzip', data: gz }, taken, 'example.com'), '3!example.com!subject!report.xml.gz');
    assert.equal(reportAttachmentFileName(3, { filename: 'report.xml.gz', contentType: 'application/gzip', data: gz }, taken), '3-report.xml.gz');
    const long = reportAttachmentFileName(3, { filename: `${'é'.repeat(300)}.xml.gz`, contentType: 'application/gzip', data: gz }, taken, 'example.com');
    assert.ok(Buffer.byteLength(long) <= 200 && long.endsWith('.xml.gz') && long.startsWith('3!example.com!subject!'), long);
    assert.ok(REPORT_FILE.test(long));
  });

  it('a non-ASCII claim kept as its A-label agrees with a report that writes its domain either way', () => {
    const claim = subjectDomainClaim(`Subject: =?UTF-8?B?${b64('Report Domain: bücher.example')}?=\r\n\r\n`);
    for (const domain of ['bücher.example', 'xn--bcher-kva.example']) {
      const data = gzip(aggregateXml({ ...randomAggregate(44, 'rfc9990'), domain }));
      const name = reportAttachmentFileName(9, { filename: 'report.xml.gz', contentType: 'application/gzip', data }, new Set(), claim);
      assert.equal(name, '9!xn--bcher-kva.example!subject!report.xml.gz');
      const codes = openReportBytes(name, data).flatMap((o) => o.problems.map((p) => p.code));
      assert.ok(!codes.includes('dmarc-agg-domain-mismatch'), `${domain}: ${codes.join(' ')}`);
    }
  });

  it('downloads at most the report-size limit by default', () => {
    assert.equal(MAX_FETCHED_MESSAGE_BYTES, DEFAULT_ARCHIVE_LIMITS.maxBytes);
  });
});

describe('report fetch: size limit, atomic files and the Subject claim (Dovecot)', () => {
  let peer: DovecotPeer;
  let dir = '';
  const base = (): ImapFetchOptions => ({ host: peer.host, port: peer.port, user: peer.user, password: peer.pass, tls: 'starttls', ca: readFileSync(peer.caPath), out: '' });
  before(async () => {
    peer = await startDovecot();
    dir = mkdtempSync(join(tmpdir(), 'smtpwb-fetch-limits-'));
    // A report that agrees with its Subject.
    peer.deliver(aggregateReportMail(randomAggregate(41, 'rfc9990')));
    // A report about example.com whose Subject claims other.example, in plain text.
    peer.deliver(aggregateReportMail(randomAggregate(42, 'rfc9990'), 'other.example'));
    // The same lie in an RFC 2047 encoded Subject.
    peer.deliver(withSubject(aggregateReportMail(randomAggregate(43, 'rfc9990')), `=?UTF-8?B?${b64('Report Domain: other.example Submitter: Receiver')}?=`));
    // A message of 200 kB: over the limit the tests give.
    peer.deliver(`From: big@example.com\r\nTo: rua@example.com\r\nSubject: Report Domain: example.com\r\n\r\n${'0123456789abcdef\r\n'.repeat(11_000)}`);
  });
  after(async () => {
    await peer?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a message over the limit is not downloaded; it is listed with its UID and size, and the others are saved', async () => {
    const out = join(dir, 'size');
    const seen: string[] = [];
    const r = await fetchReportsOverImap({ ...base(), out, maxMessageBytes: 100_000, onSkipped: (s) => seen.push(`${s.uid}:${s.size}`) });
    assert.ok(r.ok, r.ok ? '' : r.message + peer.log());
    assert.equal(r.messages, 4);
    assert.equal(r.saved.length, 3);
    assert.equal(r.skipped.length, 1);
    assert.ok(r.skipped[0].size > 100_000, String(r.skipped[0].size));
    assert.match(r.skipped[0].reason, /more than the 100000-byte limit for a report: not downloaded/);
    assert.deepEqual(seen, [`${r.skipped[0].uid}:${r.skipped[0].size}`]);
    // The saved files are the three reports, none of them the large message.
    assert.equal(readdirSync(out).length, 3);
  });

  it('the Subject claim, plain or RFC 2047 encoded, is checked by `smtpwb report DIR`', async () => {
    const out = join(dir, 'claim');
    const r = await fetchReportsOverImap({ ...base(), out, maxMessageBytes: 100_000 });
    assert.ok(r.ok, r.ok ? '' : r.message);
    const files = readdirSync(out).sort();
    const lying = files.filter((f) => f.includes('!other.example!subject!'));
    assert.equal(lying.length, 2, files.join(' '));
    for (const f of lying) assert.ok(codesOf(join(out, f)).includes('dmarc-agg-domain-mismatch'), f);
    const honest = files.filter((f) => !lying.includes(f));
    assert.equal(honest.length, 1, files.join(' '));
    assert.ok(!codesOf(join(out, honest[0])).includes('dmarc-agg-domain-mismatch'), honest[0]);
    const report = await captureCli(reportCommand, ['--no-dns', out], { cwd: dir, env: {} });
    assert.equal((report.out.match(/dmarc-agg-domain-mismatch/g) ?? []).length, 2, report.out + report.err);
    assert.match(report.out, /its file name says "other\.example"/);
  });

  it('a second fetch replaces a planted link instead of writing through it, and leaves no temporary file', async () => {
    const out = join(dir, 'links');
    const first = await fetchReportsOverImap({ ...base(), out, maxMessageBytes: 100_000 });
    assert.ok(first.ok, first.ok ? '' : first.message);
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'keep me');
    for (const path of first.saved) {
      rmSync(path);
      symlinkSync(victim, path);
    }
    const second = await fetchReportsOverImap({ ...base(), out, maxMessageBytes: 100_000 });
    assert.ok(second.ok, second.ok ? '' : second.message);
    assert.equal(readFileSync(victim, 'utf8'), 'keep me');
    for (const path of second.saved) assert.ok(lstatSync(path).isFile(), path);
    assert.deepEqual(readdirSync(out).filter((f) => f.endsWith('.part')), []);
  });

  it('a file that cannot be saved is exit 3 and leaves no temporary file behind', async () => {
    const out = join(dir, 'blocked');
    const first = await fetchReportsOverImap({ ...base(), out, maxMessageBytes: 100_000 });
    assert.ok(first.ok, first.ok ? '' : first.message);
    // Each saved name is now a folder that is not empty: renaming a file over it fails.
    for (const path of first.saved) {
      rmSync(path);
      mkdirSync(join(path, 'x'), { recursive: true });
    }
    const r = await captureCli(reportCommand, ['fetch', '--imap', `127.0.0.1:${peer.port}`, '--user', peer.user, '--starttls', '--ca', peer.caPath, '--out', out], { cwd: dir, env: { SMTPWB_IMAP_PASSWORD: peer.pass } });
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /cannot save .*: (EISDIR|ENOTEMPTY|EEXIST)/);
    assert.deepEqual(readdirSync(out).filter((f) => f.endsWith('.part')), []);
  });
});
