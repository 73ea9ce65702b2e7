// The limits of openReportBytes on hostile files (tester I, session 21): a mail/zip nesting bomb is
// a `report-nesting` finding without recursion (H1), the decompression limits hold for a whole
// file and not per attachment (H2), a plain file over the size limit is a finding and the run goes
// on (M2), and "is this a failure report" is one decision shared with `report fetch` (M3).
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32, gzipSync } from 'node:zlib';
import { isFailureReportMessage as fetchDecision } from '../../client/src/reports/imapFetch';
import { summariseReportFiles } from '../../client/src/reports/collect';
import { DEFAULT_ARCHIVE_LIMITS } from '../../server/src/reports/archive';
import { decodeReportText, isFailureReportMessage, openReportBytes } from '../../server/src/reports/open';
import { aggregateReportMail, aggregateXml, gzip, randomAggregate, zipFiles } from './generate';

const MIB = 1024 * 1024;

/** A stored zip of one entry as its three pieces: what precedes the entry's data and what follows it. */
function storedZipFrame(name: string, dataLength: number): { head: Buffer; tail: Buffer } {
  const n = Buffer.from(name, 'latin1');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(dataLength, 18);
  local.writeUInt32LE(dataLength, 22);
  local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(dataLength, 20);
  central.writeUInt32LE(dataLength, 24);
  central.writeUInt16LE(n.length, 28);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(46 + n.length, 12);
  eocd.writeUInt32LE(30 + n.length + dataLength, 16);
  return { head: Buffer.concat([local, n]), tail: Buffer.concat([central, n, eocd]) };
}

/**
 * Tester I's nesting bomb: `Content-Type: application/zip\n\n` + a stored zip holding the next
 * level, `levels` times around a report. Built in one pass (every level's sizes are known), so a
 * 20,000-level file costs no more than its 2.6 MB.
 */
function nestingBomb(levels: number, innermost: Buffer): Buffer {
  const mailHead = Buffer.from('Content-Type: application/zip\n\n', 'latin1');
  const heads: Buffer[] = [];
  const tails: Buffer[] = [];
  let size = innermost.length;
  for (let i = 0; i < levels; i++) {
    const { head, tail } = storedZipFrame('a', size);
    heads.push(Buffer.concat([mailHead, head]));
    tails.push(tail);
    size += mailHead.length + head.length + tail.length;
  }
  // heads[i] wraps level i (0 = innermost): the file starts with the outermost head.
  const outerHead = heads[heads.length - 1].length;
  const outerTail = tails[tails.length - 1].length;
  const bomb = Buffer.concat([...heads.reverse(), innermost, ...tails]);
  // Only the outermost entry is ever read (the mail inside it is not opened), so only its CRC-32
  // is written (APPNOTE 4.4.7: the central record's, which the reader checks).
  if (levels > 0) bomb.writeUInt32LE(crc32(bomb.subarray(outerHead, bomb.length - outerTail)), bomb.length - outerTail + 16);
  return bomb;
}

/** A multipart mail with the given attachments (base64), as a receiver might send several reports at once. */
function mailWithAttachments(attachments: Array<{ name: string; type: string; data: Buffer }>): Buffer {
  const b = 'k1-boundary';
  const lines = ['From: r@receiver.example', 'To: rua@example.com', 'Subject: Report Domain: example.com Submitter: R Report-ID: <1>', 'MIME-Version: 1.0', `Content-Type: multipart/mixed; boundary="${b}"`, ''];
  for (const a of attachments) {
    lines.push(`--${b}`, `Content-Type: ${a.type}; name="${a.name}"`, `Content-Disposition: attachment; filename="${a.name}"`, 'Content-Transfer-Encoding: base64', '', a.data.toString('base64').replace(/.{76}/g, '$&\r\n'));
  }
  lines.push(`--${b}--`, '');
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

describe('openReportBytes: nesting (H1)', () => {
  const xml = Buffer.from(aggregateXml(randomAggregate(70, 'rfc9990')));

  for (const levels of [5000, 20000]) {
    it(`a ${levels}-level mail/zip nesting bomb is a report-nesting finding, no throw, bounded memory and time`, () => {
      const bomb = nestingBomb(levels, xml);
      const rssBefore = process.memoryUsage().rss;
      const cpuBefore = process.cpuUsage();
      let opened: ReturnType<typeof openReportBytes> = [];
      assert.doesNotThrow(() => {
        opened = openReportBytes('nest.eml', bomb, { keepText: true });
      });
      const cpu = process.cpuUsage(cpuBefore);
      const grown = process.memoryUsage().rss - rssBefore;
      assert.equal(opened.length, 1);
      assert.equal(opened[0].report, undefined);
      assert.ok(opened[0].problems.some((p) => p.code === 'report-nesting'), JSON.stringify(opened[0].problems));
      assert.ok(opened[0].source.length < 600, `source name of ${opened[0].source.length} characters`);
      // Generous bounds (a shared machine): the bomb is a few MB and is read a few times over.
      assert.ok(grown < 256 * MIB, `RSS grew by ${Math.round(grown / MIB)} MiB`);
      assert.ok((cpu.user + cpu.system) / 1e6 < 10, `${(cpu.user + cpu.system) / 1e6} s of CPU`);
    });
  }

  it('what reports need still opens: a mail holding a zip holding the report, and a gzipped rua mail', () => {
    const mail = Buffer.concat([Buffer.from('Content-Type: application/zip\n\n'), zipFiles([{ name: 'r.xml', data: xml }])]);
    const [o] = openReportBytes('m.eml', mail);
    assert.equal(o.report?.kind, 'dmarc-aggregate', JSON.stringify(o.problems));
    assert.equal(o.source, 'm.eml#application/zip#r.xml');
    const gz = openReportBytes('m.eml.gz', gzip(aggregateReportMail(randomAggregate(71, 'rfc7489'))));
    assert.deepEqual(
      gz.map((x) => x.report?.kind),
      ['dmarc-aggregate'],
    );
  });

  it('a mail in a zip in a mail is not opened (two levels of mail)', () => {
    const bomb = nestingBomb(2, xml);
    const opened = openReportBytes('two.eml', bomb);
    assert.equal(opened.length, 1);
    assert.deepEqual(
      opened[0].problems.map((p) => p.code),
      ['report-nesting'],
    );
    assert.equal(opened[0].source, 'two.eml#application/zip#a');
  });

  it('a very long attachment or entry name is shortened in the source name', () => {
    const long = 'x'.repeat(5000) + '.xml';
    const [o] = openReportBytes('z.zip', zipFiles([{ name: long, data: xml }]));
    assert.equal(o.report?.kind, 'dmarc-aggregate');
    assert.ok(o.source.length < 300, String(o.source.length));
  });
});

describe('openReportBytes: one decompression budget per file (H2)', () => {
  /** A valid report padded with blank lines: ~`size` bytes that gzip to a few KB (ratio ~ 400). */
  function paddedGzip(seed: number, size: number): Buffer {
    const xml = aggregateXml(randomAggregate(seed, 'rfc9990'));
    const pad = Buffer.alloc(size - xml.length, 0x20);
    for (let i = 1000; i < pad.length; i += 2000) pad[i] = 0x0a;
    return gzipSync(Buffer.concat([Buffer.from(xml), pad]));
  }

  it('with a scaled limit: the attachments together may decompress to maxBytes, then a finding and the rest unopened', () => {
    const limits = { maxBytes: 2 * MIB, maxRatio: 1000 };
    const attachments = Array.from({ length: 10 }, (_, i) => ({ name: `r${i}.xml.gz`, type: 'application/gzip', data: paddedGzip(80 + i, 700 * 1024) }));
    const opened = openReportBytes('many.eml', mailWithAttachments(attachments), { limits, keepText: true });
    const reports = opened.filter((o) => o.report?.kind === 'dmarc-aggregate');
    assert.equal(reports.length, 2, opened.map((o) => `${o.source}: ${o.problems.map((p) => p.code).join(',')}`).join('\n'));
    const limitFindings = opened.flatMap((o) => o.problems).filter((p) => p.code === 'report-archive-limit');
    assert.ok(limitFindings.length >= 1);
    assert.ok(limitFindings.some((p) => /budget/.test(p.message) && /7 more attachment\(s\) not opened/.test(p.message)), limitFindings.map((p) => p.message).join('\n'));
    const kept = opened.reduce((n, o) => n + (o.text?.length ?? 0), 0);
    assert.ok(kept <= limits.maxBytes, `${kept} bytes of text kept`);
    // Nothing past the attachment that ended the budget was opened.
    assert.ok(!opened.some((o) => /#r[4-9]\.xml\.gz$/.test(o.source)));
  });

  it('with the default limits: two 30 MiB attachments are more than 50 MiB together', () => {
    const one = paddedGzip(90, 30 * MIB);
    const opened = openReportBytes('two.eml', mailWithAttachments([
      { name: 'a.xml.gz', type: 'application/gzip', data: one },
      { name: 'b.xml.gz', type: 'application/gzip', data: one },
    ]));
    assert.equal(opened.filter((o) => o.report?.kind === 'dmarc-aggregate').length, 1);
    const second = opened.find((o) => o.source.endsWith('#b.xml.gz'));
    assert.ok(second?.problems.some((p) => p.code === 'report-archive-limit'), JSON.stringify(opened.map((o) => o.problems)));
    assert.equal(DEFAULT_ARCHIVE_LIMITS.maxBytes, 50 * MIB);
  });

  it('within the budget every attachment opens', () => {
    const limits = { maxBytes: 2 * MIB, maxRatio: 1000 };
    const attachments = Array.from({ length: 3 }, (_, i) => ({ name: `r${i}.xml.gz`, type: 'application/gzip', data: paddedGzip(100 + i, 600 * 1024) }));
    const opened = openReportBytes('ok.eml', mailWithAttachments(attachments), { limits });
    assert.deepEqual(
      opened.map((o) => o.report?.kind),
      ['dmarc-aggregate', 'dmarc-aggregate', 'dmarc-aggregate'],
    );
  });
});

describe('plain files over the size limit (M2)', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'smtpwb-open-limits-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('openReportBytes: a plain report over maxBytes is report-size-limit, not parsed', () => {
    const xml = Buffer.from(aggregateXml(randomAggregate(110, 'rfc9990')));
    const [o] = openReportBytes('big.xml', xml, { limits: { maxBytes: xml.length - 1, maxRatio: 1000 } });
    assert.equal(o.report, undefined);
    assert.deepEqual(
      o.problems.map((p) => p.code),
      ['report-size-limit'],
    );
  });

  it('smtpwb report: a (sparse) 60 MiB .xml is a finding and the other files are still summarised', async () => {
    const big = join(dir, 'big.xml');
    writeFileSync(big, '<feedback>');
    truncateSync(big, 60 * MIB);
    const good = join(dir, 'good.xml');
    writeFileSync(good, aggregateXml(randomAggregate(111, 'rfc9990')));
    const summary = await summariseReportFiles([big, good]);
    assert.equal(summary.counts.aggregate, 1);
    assert.ok(summary.findings.some((f) => f.code === 'report-size-limit' && f.source === big), JSON.stringify(summary.findings.map((f) => [f.code, f.source])));
  });

  it('decodeReportText does not throw', () => {
    assert.equal(decodeReportText(Buffer.from('<?xml version="1.0" encoding="x-unknown-9"?><a/>')), '<?xml version="1.0" encoding="x-unknown-9"?><a/>');
    assert.equal(decodeReportText(Buffer.alloc(0)), '');
  });
});

describe('one failure-report decision (M3)', () => {
  it('an aggregate-report mail whose text mentions message/feedback-report keeps its attachment', () => {
    const mail = aggregateReportMail(randomAggregate(120, 'rfc9990')).replace('This is an aggregate report from', 'Not a message/feedback-report: an aggregate report from');
    assert.ok(mail.includes('message/feedback-report'));
    assert.equal(isFailureReportMessage(mail), false);
    const opened = openReportBytes('agg.eml', Buffer.from(mail, 'latin1'));
    assert.deepEqual(
      opened.map((o) => o.report?.kind),
      ['dmarc-aggregate'],
      JSON.stringify(opened.map((o) => o.problems)),
    );
  });

  it('fetch and the opener use the same function', () => {
    assert.equal(fetchDecision, isFailureReportMessage);
  });
});
