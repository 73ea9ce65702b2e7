// The names `smtpwb report fetch` saves reports under (tester I, session 21, H6): a report
// extension from the content (magic bytes) or the media type, unique within a message, RFC 2231 /
// RFC 2047 names decoded then made safe, the printed count equal to the files written, and every
// saved file read back by `smtpwb report DIR`. Against a real Dovecot (test/peers/dovecot.ts).
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { captureCli, type CapturedRun } from '../support/cliCapture';
import { reportCommand } from '../../client/src/cli/reportCommand';
import { reportFilesOf, summariseReportFiles, REPORT_FILE } from '../../client/src/reports/collect';
import { reportAttachmentFileName, reportExtension } from '../../client/src/reports/imapFetch';
import { attachmentFileName, decodeEncodedWords } from '../../server/src/reports/attachmentName';
import { startDovecot, type DovecotPeer } from '../peers/dovecot';
import { aggregateXml, failureReportEml, gzip, randomAggregate, tlsRptJson, zipFiles } from './generate';

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CapturedRun> {
  return captureCli(reportCommand, args, { cwd, env });
}

interface Part {
  /** The header lines of the part (Content-Type first). */
  headers: string[];
  data: Buffer;
}

/** A multipart/mixed mail whose parts are base64 attachments with the given header lines. */
function mail(subject: string, parts: Part[]): string {
  const b = 'fetch-names-boundary';
  const lines = ['From: r@receiver.example', 'To: rua@example.com', `Subject: ${subject}`, 'MIME-Version: 1.0', `Content-Type: multipart/mixed; boundary="${b}"`, '', `--${b}`, 'Content-Type: text/plain', '', 'Reports attached.'];
  for (const p of parts) lines.push(`--${b}`, ...p.headers, 'Content-Transfer-Encoding: base64', '', p.data.toString('base64').replace(/.{76}/g, '$&\r\n'));
  lines.push(`--${b}--`, '');
  return lines.join('\r\n');
}

const xml = (seed: number): Buffer => Buffer.from(aggregateXml(randomAggregate(seed, 'rfc9990')));
const tls = (): Buffer => Buffer.from(tlsRptJson({ organizationName: 'R', reportId: 'tls-1', policyDomain: 'example.com', policyType: 'sts', successful: 3, failures: [] }));

describe('report fetch: the names of saved reports (unit)', () => {
  it('chooses the extension from the magic bytes, then the media type', () => {
    assert.equal(reportExtension(gzip(xml(1)), 'application/gzip'), '.xml.gz');
    assert.equal(reportExtension(gzip(tls()), 'application/gzip'), '.json.gz');
    assert.equal(reportExtension(zipFiles([{ name: 'a.xml', data: xml(1) }]), 'application/octet-stream'), '.zip');
    assert.equal(reportExtension(xml(1), 'application/octet-stream'), '.xml');
    assert.equal(reportExtension(tls(), 'text/plain'), '.json');
    assert.equal(reportExtension(Buffer.from('From: a@b\r\n\r\nx'), 'application/octet-stream'), '.eml');
    assert.equal(reportExtension(Buffer.from([0x1f, 0x8b, 0, 0]), 'application/tlsrpt+gzip'), '.json.gz');
  });

  it('keeps a matching name, fixes a wrong or missing extension, de-duplicates, bounds the length', () => {
    const taken = new Set<string>();
    const gz = gzip(xml(2));
    assert.equal(reportAttachmentFileName(7, { filename: 'google.com!example.com!1!2.xml.gz', contentType: 'application/gzip', data: gz }, taken), '7-google.com!example.com!1!2.xml.gz');
    assert.equal(reportAttachmentFileName(7, { filename: 'google.com!example.com!1!2.xml.gz', contentType: 'application/gzip', data: gz }, taken), '7-google.com!example.com!1!2-2.xml.gz');
    assert.equal(reportAttachmentFileName(7, { filename: 'google.com!example.com!1!2.xml.gz', contentType: 'application/gzip', data: gz }, taken), '7-google.com!example.com!1!2-3.xml.gz');
    assert.equal(reportAttachmentFileName(7, { filename: '', contentType: 'application/gzip', data: gz }, taken), '7-report.xml.gz');
    assert.equal(reportAttachmentFileName(7, { filename: 'report.xml', contentType: 'application/gzip', data: gz }, taken), '7-report-2.xml.gz');
    assert.equal(reportAttachmentFileName(7, { filename: 'report', contentType: 'text/xml', data: xml(2) }, taken), '7-report.xml');
    assert.equal(reportAttachmentFileName(7, { filename: '...', contentType: 'text/xml', data: xml(2) }, taken), '7-report-2.xml');
    assert.equal(reportAttachmentFileName(7, { filename: 'a.xml.gz', contentType: 'application/zip', data: zipFiles([{ name: 'a.xml', data: xml(2) }]) }, taken), '7-a.zip');
    assert.equal(reportAttachmentFileName(7, { filename: '../../etc/cron.d/x', contentType: 'text/xml', data: xml(2) }, taken), '7-x.xml');
    assert.equal(reportAttachmentFileName(7, { filename: '=?UTF-8?B?csOpcG9ydC54bWw=?=', contentType: 'text/xml', data: xml(2) }, taken), '7-réport.xml');
    assert.equal(reportAttachmentFileName(7, { filename: 'a\u202eb\u0000.xml', contentType: 'text/xml', data: xml(2) }, taken), '7-a_b_.xml');
    const long = reportAttachmentFileName(7, { filename: 'y'.repeat(500) + '.xml', contentType: 'text/xml', data: xml(2) }, taken);
    assert.ok(long.length <= 200 && long.endsWith('.xml'), long);
    assert.ok(REPORT_FILE.test(long));
  });

  it('decodes RFC 2231 and RFC 2047 names', () => {
    assert.equal(attachmentFileName("attachment; filename*=UTF-8''r%C3%A9port.xml", 'text/xml'), 'réport.xml');
    assert.equal(attachmentFileName("attachment; filename*0*=UTF-8''r%C3%A9; filename*1=port.xml.gz", undefined), 'réport.xml.gz');
    assert.equal(attachmentFileName("attachment; filename*=iso-8859-1'fr'r%E9port.xml", undefined), 'réport.xml');
    assert.equal(attachmentFileName('attachment; filename="=?UTF-8?Q?r=C3=A9port.xml?="', undefined), 'réport.xml');
    assert.equal(attachmentFileName('attachment', 'application/gzip; name="=?utf-8?B?csOpcG9ydC54bWwuZ3o=?="'), 'réport.xml.gz');
    assert.equal(attachmentFileName(undefined, undefined), '');
    assert.equal(decodeEncodedWords('=?UTF-8?B?YQ==?= =?UTF-8?B?Yg==?=.xml'), 'ab.xml');
    assert.equal(decodeEncodedWords('=?x-unknown?B?YQ==?='), 'a');
  });
});

describe('report fetch: the names of saved reports (Dovecot)', () => {
  let peer: DovecotPeer;
  let dir = '';
  before(async () => {
    peer = await startDovecot();
    dir = mkdtempSync(join(tmpdir(), 'smtpwb-fetch-names-'));
    // (a) a gzip attachment with no name.
    peer.deliver(mail('a', [{ headers: ['Content-Type: application/gzip'], data: gzip(xml(201)) }]));
    // (b) two attachments of the same name in one message.
    peer.deliver(
      mail('b', [
        { headers: ['Content-Type: application/gzip; name="report.xml.gz"'], data: gzip(xml(202)) },
        { headers: ['Content-Type: application/gzip; name="report.xml.gz"'], data: gzip(xml(203)) },
      ]),
    );
    // (c) a name without an extension; (d) a name that is only dots.
    peer.deliver(mail('c', [{ headers: ['Content-Type: text/xml; name="report"'], data: xml(204) }]));
    peer.deliver(mail('d', [{ headers: ['Content-Type: text/xml; name="..."'], data: xml(205) }]));
    // (e) an RFC 2231 name; (f) an RFC 2047 name; (g) TLS-RPT gzip without a name; (h) a zip named .xml.
    peer.deliver(mail('e', [{ headers: ['Content-Type: text/xml', "Content-Disposition: attachment; filename*=UTF-8''r%C3%A9port.xml"], data: xml(206) }]));
    peer.deliver(mail('f', [{ headers: ['Content-Type: application/gzip', 'Content-Disposition: attachment; filename="=?UTF-8?B?csOpcG9ydC54bWwuZ3o=?="'], data: gzip(xml(207)) }]));
    peer.deliver(mail('g', [{ headers: ['Content-Type: application/tlsrpt+gzip'], data: gzip(tls()) }]));
    peer.deliver(mail('h', [{ headers: ['Content-Type: application/zip; name="report.xml"'], data: zipFiles([{ name: 'r.xml', data: xml(208) }]) }]));
    peer.deliver(failureReportEml({ reportedDomain: 'example.com', originalFromDomain: 'example.com', sourceIp: '192.0.2.9', authFailure: 'dmarc' }));
  });
  after(async () => {
    await peer?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every saved file has a report extension, a unique name, is counted once and is read by `smtpwb report DIR`', async () => {
    const out = join(dir, 'out');
    const r = await run(['fetch', '--imap', `127.0.0.1:${peer.port}`, '--user', peer.user, '--starttls', '--ca', peer.caPath, '--out', out], dir, { SMTPWB_IMAP_PASSWORD: peer.pass });
    assert.equal(r.code, 0, r.err + peer.log());
    const files = readdirSync(out).sort();
    assert.equal(files.length, 10, files.join(' '));
    assert.match(r.err, /9 message\(s\) read from INBOX, 10 report\(s\) saved/);
    for (const f of files) assert.ok(REPORT_FILE.test(f), f);
    assert.deepEqual(files.filter((f) => /^2-report(-2)?\.xml\.gz$/.test(f)).length, 2, files.join(' '));
    assert.ok(files.some((f) => /^1-report\.xml\.gz$/.test(f)), files.join(' '));
    assert.ok(files.some((f) => /^3-report\.xml$/.test(f)), files.join(' '));
    assert.ok(files.some((f) => /^4-report\.xml$/.test(f)), files.join(' '));
    assert.ok(files.includes('5-réport.xml'), files.join(' '));
    assert.ok(files.some((f) => f === '6-réport.xml.gz'), files.join(' '));
    assert.ok(files.some((f) => /^7-report\.json\.gz$/.test(f)), files.join(' '));
    assert.ok(files.some((f) => /^8-report\.zip$/.test(f)), files.join(' '));
    assert.ok(files.some((f) => /^9-.*\.eml$/.test(f)), files.join(' '));
    const summary = await summariseReportFiles(await reportFilesOf([out]));
    assert.equal(summary.files, 10);
    assert.deepEqual(summary.counts, { aggregate: 8, tlsRpt: 1, failure: 1, unreadable: 0 });
    const again = await run(['--no-dns', out], dir, {});
    assert.match(again.out, /10 file\(s\): 8 DMARC aggregate, 1 TLS-RPT, 1 failure report\(s\), 0 unreadable/, again.out + again.err);
  });
});
