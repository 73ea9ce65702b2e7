// How the end of a zip archive is found and read (session 22, second wave). A zip64 archive (sizes
// and offsets of all ones in the classic fields, the real values in the zip64 extra field and the
// zip64 end records, APPNOTE 4.3.14, 4.3.15, 4.5.3) is read, since writers use it even for a small
// report; a comment that holds the end record's signature does not hide the real record (4.3.16);
// and a damaged zip's finding links to the page that explains zip, not to the gzip RFC. The
// archives are written by Python's zipfile; Python's zipfile also reads each one the tests accept.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { unzipReport } from '../../server/src/reports/archive';
import { openReportBytes } from '../../server/src/reports/open';
import { reportProblemLink } from '../../server/src/reports/reportProblems';
import { repoRoot } from '../peers/require';
import { aggregateXml, randomAggregate } from './generate';

const PYTHON = '/usr/bin/python3';

function python(script: string, input: Buffer, args: string[] = []): Buffer {
  const run = spawnSync(PYTHON, ['-c', script, ...args], { input, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(run.status, 0, `python3 failed: ${run.error?.message ?? run.stderr.toString()}`);
  return run.stdout;
}

interface ZipOptions {
  /** zipfile.ZIP64_LIMIT for the writing: a low one makes every size and offset a zip64 one. */
  zip64Limit?: number;
  /** The archive's comment. */
  comment?: Buffer;
  /** A second file after the report, so that its local header offset is past the zip64 limit. */
  second?: boolean;
}

/** A zip of one report written by Python's zipfile (deflated). */
function pythonZip(data: Buffer, options: ZipOptions = {}): Buffer {
  const script = [
    'import sys, io, zipfile',
    `limit = ${options.zip64Limit ?? 'None'}`,
    'if limit is not None: zipfile.ZIP64_LIMIT = limit',
    'out = io.BytesIO()',
    'with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:',
    '    z.writestr("r.xml", sys.stdin.buffer.read())',
    `    if ${options.second ? 'True' : 'False'}: z.writestr("second.xml", b"<feedback/>")`,
    `    z.comment = bytes.fromhex("${(options.comment ?? Buffer.alloc(0)).toString('hex')}")`,
    'sys.stdout.buffer.write(out.getvalue())',
  ].join('\n');
  return python(script, data);
}

/** What Python's zipfile reads from the archive's first file (its testzip() finds no bad CRC). */
function pythonReads(zip: Buffer): Buffer {
  return python(['import sys, io, zipfile', 'z = zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read()))', 'assert z.testzip() is None', 'sys.stdout.buffer.write(z.read(z.namelist()[0]))'].join('\n'), zip);
}

const xml = Buffer.from(aggregateXml(randomAggregate(2205, 'rfc9990')));
const codes = (problems: Array<{ code: string }>): string[] => problems.map((p) => p.code);

/** The offset of the last occurrence of a 4-byte little-endian signature. */
function signature(zip: Buffer, sig: number): number {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(sig);
  return zip.lastIndexOf(b);
}

describe('zip64 archives are read (APPNOTE 4.3.14, 4.3.15, 4.5.3)', () => {
  it('Python zipfile with a lowered ZIP64_LIMIT: all-ones sizes in the central record, the real ones in the zip64 extra field', () => {
    const zip = pythonZip(xml, { zip64Limit: 10 });
    const central = signature(zip, 0x02014b50);
    assert.equal(zip.readUInt32LE(central + 20), 0xffffffff, 'the compressed size is in the zip64 extra field');
    assert.equal(zip.readUInt32LE(central + 24), 0xffffffff, 'the uncompressed size is in the zip64 extra field');
    assert.ok(signature(zip, 0x07064b50) > 0, 'zipfile wrote the zip64 end of central directory locator');
    assert.ok(pythonReads(zip).equals(xml));
    const u = unzipReport(zip);
    assert.deepEqual(codes(u.problems), []);
    assert.equal(u.name, 'r.xml');
    assert.ok(u.data?.equals(xml));
    const opened = openReportBytes('r.zip', zip);
    assert.equal(opened.length, 1);
    assert.equal(opened[0].report?.kind, 'dmarc-aggregate');
    assert.deepEqual(codes(opened[0].problems), []);
  });

  it('a local header offset in the zip64 extra field (a second file past the limit) is read', () => {
    const zip = pythonZip(xml, { zip64Limit: 10, second: true });
    const central = signature(zip, 0x02014b50);
    assert.equal(zip.readUInt32LE(central + 42), 0xffffffff, 'the second file\'s offset is in its zip64 extra field');
    const u = unzipReport(zip);
    assert.deepEqual(codes(u.problems), ['report-archive-unsupported']);
    assert.equal(u.problems[0].severity, 'warning');
    assert.ok(u.data?.equals(xml));
  });

  it('an end record whose counts, size and offset are all ones (APPNOTE 4.4.1.4) defers to the zip64 record', () => {
    const zip = pythonZip(xml, { zip64Limit: 10 });
    const eocd = zip.length - 22;
    zip.writeUInt16LE(0xffff, eocd + 8);
    zip.writeUInt16LE(0xffff, eocd + 10);
    zip.writeUInt32LE(0xffffffff, eocd + 12);
    zip.writeUInt32LE(0xffffffff, eocd + 16);
    assert.ok(pythonReads(zip).equals(xml));
    const u = unzipReport(zip);
    assert.deepEqual(codes(u.problems), []);
    assert.ok(u.data?.equals(xml));
  });

  it('the zip64 sizes are checked as the classic ones are: a wrong uncompressed size is report-archive-corrupt', () => {
    const zip = pythonZip(xml, { zip64Limit: 10 });
    const central = signature(zip, 0x02014b50);
    // The zip64 extra field follows the name; its first value is the uncompressed size.
    const extra = central + 46 + zip.readUInt16LE(central + 28);
    assert.equal(zip.readUInt16LE(extra), 0x0001);
    zip.writeBigUInt64LE(BigInt(xml.length + 1), extra + 4);
    const u = unzipReport(zip);
    assert.equal(u.data, undefined);
    assert.deepEqual(codes(u.problems), ['report-archive-corrupt']);
    assert.match(u.problems[0].message, new RegExp(`holds ${xml.length} bytes, but the archive says ${xml.length + 1}`));
  });

  it('a zip64 uncompressed size over the limit is a decompression bomb, refused before inflating', () => {
    const zip = pythonZip(xml, { zip64Limit: 10 });
    const central = signature(zip, 0x02014b50);
    const extra = central + 46 + zip.readUInt16LE(central + 28);
    zip.writeBigUInt64LE(2n ** 40n, extra + 4);
    assert.deepEqual(codes(unzipReport(zip).problems), ['report-archive-limit']);
  });

  it('all-ones sizes without a zip64 extra field, or an end record without its zip64 record, are report-archive-corrupt', () => {
    const zip = pythonZip(xml, { zip64Limit: 10 });
    const central = signature(zip, 0x02014b50);
    const extra = central + 46 + zip.readUInt16LE(central + 28);
    const noExtra = Buffer.from(zip);
    noExtra.writeUInt16LE(0x7075, extra); // another header ID: the zip64 field is gone
    const u = unzipReport(noExtra);
    assert.deepEqual(codes(u.problems), ['report-archive-corrupt']);
    assert.match(u.problems[0].message, /zip64 extra field that is missing/);

    const noLocator = Buffer.from(zip);
    noLocator.writeUInt32LE(0, signature(noLocator, 0x07064b50));
    noLocator.writeUInt32LE(0xffffffff, noLocator.length - 22 + 16);
    const v = unzipReport(noLocator);
    assert.deepEqual(codes(v.problems), ['report-archive-corrupt']);
    assert.match(v.problems[0].message, /zip64 record that is missing/);
  });

  it('a zip64 archive split over several disks is report-archive-unsupported', () => {
    const zip = pythonZip(xml, { zip64Limit: 10 });
    const locator = signature(zip, 0x07064b50);
    zip.writeUInt32LE(3, locator + 16);
    const u = unzipReport(zip);
    assert.deepEqual(codes(u.problems), ['report-archive-unsupported']);
    assert.match(u.problems[0].message, /split over several files/);
  });

  it('a damaged zip64 archive never throws (every byte of the end records changed in turn)', () => {
    const zip = pythonZip(xml, { zip64Limit: 10 });
    const from = signature(zip, 0x06064b50);
    for (let i = from; i < zip.length; i++) {
      for (const value of [0x00, 0xff, zip[i] ^ 0x80]) {
        const bad = Buffer.from(zip);
        bad[i] = value;
        const u = unzipReport(bad);
        assert.ok(u.data?.equals(xml) || u.problems.some((p) => p.severity === 'error'), `byte ${i - from} set to ${value}`);
      }
    }
  });
});

describe('the end of central directory record is validated, so a comment cannot hide it (APPNOTE 4.3.16)', () => {
  /** A fake end record: no entries, a central directory at offset 0, no comment. */
  const fake = (entries = 0, offset = 0): Buffer => {
    const b = Buffer.alloc(22);
    b.writeUInt32LE(0x06054b50, 0);
    b.writeUInt16LE(entries, 8);
    b.writeUInt16LE(entries, 10);
    b.writeUInt32LE(entries * 46, 12);
    b.writeUInt32LE(offset, 16);
    return b;
  };
  const cases: Array<{ name: string; comment: Buffer }> = [
    { name: 'a fake empty record that ends the comment (and the file)', comment: Buffer.concat([Buffer.from('sent by '), fake()]) },
    { name: 'a fake empty record inside the comment', comment: Buffer.concat([Buffer.from('see '), fake(), Buffer.from(' for details')]) },
    { name: 'a fake record of one file pointing at the local header', comment: Buffer.concat([Buffer.from('x'), fake(1, 0)]) },
    { name: 'the bare signature PK\\x05\\x06 in text', comment: Buffer.from('PK\x05\x06 marks the end of a zip archive, PK\x03\x04 its files', 'latin1') },
  ];
  for (const c of cases) {
    it(`${c.name}: the report is read`, () => {
      const zip = pythonZip(xml, { comment: c.comment });
      assert.ok(zip.subarray(zip.length - c.comment.length).equals(c.comment), 'zipfile wrote the comment last');
      const u = unzipReport(zip);
      assert.deepEqual(codes(u.problems), [], u.problems.map((p) => p.message).join('; '));
      assert.ok(u.data?.equals(xml));
    });
  }

  it('a zip64 archive with a fake record in its comment is read', () => {
    const zip = pythonZip(xml, { zip64Limit: 10, comment: Buffer.concat([Buffer.from('c '), fake()]) });
    const u = unzipReport(zip);
    assert.deepEqual(codes(u.problems), []);
    assert.ok(u.data?.equals(xml));
  });

  it('an empty archive from zipfile is "the archive holds no file", as before', () => {
    const empty = python('import sys, io, zipfile\nout = io.BytesIO()\nzipfile.ZipFile(out, "w").close()\nsys.stdout.buffer.write(out.getvalue())', Buffer.alloc(0));
    const u = unzipReport(empty);
    assert.deepEqual(codes(u.problems), ['report-archive-corrupt']);
    assert.match(u.problems[0].message, /holds no file/);
  });

  it('stray bytes after the archive (a line end a mailer added) are a warning, and the report is read', () => {
    const zip = Buffer.concat([pythonZip(xml), Buffer.from('\r\n')]);
    const u = unzipReport(zip);
    assert.deepEqual(u.problems.map((p) => `${p.code} ${p.severity}`), ['report-archive-corrupt warning']);
    assert.match(u.problems[0].message, /2 bytes follow the end of the zip archive/);
    assert.ok(u.data?.equals(xml));
  });

  it('a record whose central directory offset is wrong is report-archive-corrupt, whatever else the comment holds', () => {
    const zip = pythonZip(xml, { comment: Buffer.concat([Buffer.from('x'), fake()]) });
    const real = zip.indexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    zip.writeUInt32LE(zip.readUInt32LE(real + 16) + 1, real + 16);
    const u = unzipReport(zip);
    assert.equal(u.data, undefined);
    assert.deepEqual(codes(u.problems), ['report-archive-corrupt']);
  });
});

describe('the link of a damaged-archive finding explains zip as well as gzip', () => {
  it('report-archive-corrupt links to the Archives section of docs/reports.md, which cites APPNOTE and RFC 1952', () => {
    const link = reportProblemLink('report-archive-corrupt');
    assert.doesNotMatch(link, /rfc1952/);
    const anchor = /docs\/reports\.md#([a-z0-9-]+)$/.exec(link)?.[1];
    assert.ok(anchor, link);
    const docs = readFileSync(join(repoRoot(), 'docs', 'reports.md'), 'utf8');
    const heading = docs.split('\n').find((line) => /^#+ /.test(line) && line.replace(/^#+ /, '').toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-') === anchor);
    assert.ok(heading, `docs/reports.md has a heading for #${anchor}`);
    const section = docs.slice(docs.indexOf(heading));
    const body = section.slice(0, section.indexOf('\n#', heading.length) >= 0 ? section.indexOf('\n#', heading.length) : undefined);
    assert.match(body, /APPNOTE/);
    assert.match(body, /RFC 1952/);
  });
});
