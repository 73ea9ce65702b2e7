// What a report archive's checks catch (session 22): a zip entry whose data does not match the
// CRC-32 or the uncompressed size of its central directory record (APPNOTE 4.4.7, 4.4.9) is
// `report-archive-corrupt`, never read as if fine; a gzip member's trailer (CRC-32 and ISIZE,
// RFC 1952 §2.3.1) is checked by node:zlib, which these tests pin. The archives are written by the
// real tools: Python's zipfile and gzip(1).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipReport, unzipReport } from '../../server/src/reports/archive';
import { openReportBytes } from '../../server/src/reports/open';
import { aggregateXml, randomAggregate } from './generate';

const PYTHON = '/usr/bin/python3';

/**
 * Writes a zip with Python's zipfile: `method` stored or deflated; `stream` writes to a pipe, so
 * that zipfile puts the CRC-32 and sizes in a data descriptor after the data (general purpose
 * flag bit 3; the local header holds zeros), as a streaming sender does.
 */
function pythonZip(entries: Array<{ name: string; data: Buffer }>, method: 'stored' | 'deflated', stream = false): Buffer {
  const script = [
    'import sys, json, zipfile, io, base64',
    'entries = json.load(sys.stdin)',
    `method = zipfile.ZIP_${method.toUpperCase()}`,
    `target = sys.stdout.buffer if ${stream ? 'True' : 'False'} else io.BytesIO()`,
    'with zipfile.ZipFile(target, "w", method) as z:',
    '    for e in entries:',
    '        z.writestr(e["name"], base64.b64decode(e["data"]))',
    'if not isinstance(target, type(sys.stdout.buffer)): sys.stdout.buffer.write(target.getvalue())',
  ].join('\n');
  const run = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(entries.map((e) => ({ name: e.name, data: e.data.toString('base64') }))), maxBuffer: 64 * 1024 * 1024 });
  assert.equal(run.status, 0, `python3 zipfile failed: ${run.error?.message ?? run.stderr.toString()}`);
  return run.stdout;
}

/** The offset of the one central directory record of a zip. */
function centralRecord(zip: Buffer): number {
  const at = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  assert.ok(at > 0, 'no central directory record');
  return at;
}

const xml = Buffer.from(aggregateXml(randomAggregate(2201, 'rfc9990')));
const codes = (problems: Array<{ code: string }>): string[] => problems.map((p) => p.code);

describe('zip: the CRC-32 and the size of the entry read are checked (APPNOTE 4.4.7)', () => {
  it('a well-formed zip from Python zipfile reads, stored and deflated, with and without a data descriptor', () => {
    for (const method of ['stored', 'deflated'] as const) {
      for (const stream of [false, true]) {
        const zip = pythonZip([{ name: 'r.xml', data: xml }], method, stream);
        if (stream) assert.ok(zip.readUInt16LE(6) & 0x8, 'zipfile wrote a data descriptor');
        const u = unzipReport(zip);
        assert.deepEqual(codes(u.problems), [], `${method} ${stream}`);
        assert.ok(u.data?.equals(xml), `${method} ${stream}`);
      }
    }
  });

  it('a stored entry whose data was changed after zipping is report-archive-corrupt, not a report with another count', () => {
    const zip = pythonZip([{ name: 'r.xml', data: xml }], 'stored');
    // One digit of the first <count> changes: the XML stays well-formed, only the CRC-32 tells.
    const at = zip.indexOf('<count>') + '<count>'.length;
    zip[at] = zip[at] === 0x39 ? 0x38 : zip[at] + 1;
    const u = unzipReport(zip);
    assert.equal(u.data, undefined);
    assert.deepEqual(codes(u.problems), ['report-archive-corrupt']);
    assert.match(u.problems[0].message, /CRC-32 of the entry "r\.xml" is [0-9a-f]{8}, but the archive says [0-9a-f]{8}/);
    const opened = openReportBytes('r.zip', zip);
    assert.equal(opened.length, 1);
    assert.equal(opened[0].report, undefined);
    assert.deepEqual(codes(opened[0].problems), ['report-archive-corrupt']);
  });

  it('a deflated entry whose central CRC-32 does not match its data is report-archive-corrupt', () => {
    const zip = pythonZip([{ name: 'r.xml', data: xml }], 'deflated');
    zip[centralRecord(zip) + 16] ^= 0x01;
    const u = unzipReport(zip);
    assert.equal(u.data, undefined);
    assert.deepEqual(codes(u.problems), ['report-archive-corrupt']);
  });

  it('the CRC-32 of a streamed zip (data descriptor, zeros in the local header) is checked too', () => {
    const zip = pythonZip([{ name: 'r.xml', data: xml }], 'stored', true);
    const at = zip.indexOf('<count>') + '<count>'.length;
    zip[at] = zip[at] === 0x39 ? 0x38 : zip[at] + 1;
    assert.deepEqual(codes(unzipReport(zip).problems), ['report-archive-corrupt']);
  });

  it('an uncompressed size that differs from what the entry inflates to is report-archive-corrupt', () => {
    const zip = pythonZip([{ name: 'r.xml', data: xml }], 'deflated');
    const c = centralRecord(zip);
    zip.writeUInt32LE(zip.readUInt32LE(c + 24) - 1, c + 24);
    const u = unzipReport(zip);
    assert.equal(u.data, undefined);
    assert.deepEqual(codes(u.problems), ['report-archive-corrupt']);
    assert.match(u.problems[0].message, new RegExp(`holds ${xml.length} bytes, but the archive says ${xml.length - 1}`));
  });

  it('a damaged zip attached to a rua= mail is a finding on that attachment', () => {
    const zip = pythonZip([{ name: 'r.xml', data: xml }], 'deflated');
    zip[centralRecord(zip) + 17] ^= 0x40;
    const mail = Buffer.concat([Buffer.from('Content-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n'), Buffer.from(zip.toString('base64').replace(/.{76}/g, '$&\r\n'))]);
    const opened = openReportBytes('m.eml', mail);
    assert.equal(opened.length, 1);
    assert.equal(opened[0].report, undefined);
    assert.deepEqual(codes(opened[0].problems), ['report-archive-corrupt']);
  });
});

describe('gzip: the trailer is checked (RFC 1952 §2.3.1, by node:zlib)', () => {
  let dir = '';
  let gz = Buffer.alloc(0);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'smtpwb-files-archive-'));
    writeFileSync(join(dir, 'r.xml'), xml);
    const run = spawnSync('gzip', ['-k', '-n', join(dir, 'r.xml')]);
    assert.equal(run.status, 0, `gzip failed: ${run.error?.message ?? run.stderr.toString()}`);
    gz = readFileSync(join(dir, 'r.xml.gz'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a file from gzip(1) reads', () => {
    const u = gunzipReport(gz);
    assert.deepEqual(codes(u.problems), []);
    assert.ok(u.data?.equals(xml));
  });

  // The trailer is CRC-32 then ISIZE, 4 bytes each, little-endian (RFC 1952 §2.3.1).
  for (const [field, fromEnd, message] of [
    ['CRC-32', 8, /incorrect data check/],
    ['ISIZE', 4, /incorrect length check/],
  ] as const) {
    it(`a wrong ${field} in the trailer is report-archive-corrupt`, () => {
      const bad = Buffer.from(gz);
      bad[bad.length - fromEnd] ^= 0x01;
      const u = gunzipReport(bad);
      assert.equal(u.data, undefined);
      assert.deepEqual(codes(u.problems), ['report-archive-corrupt']);
      assert.match(u.problems[0].message, message);
    });
  }

  it('a missing trailer (a cut file) is report-archive-corrupt', () => {
    const u = gunzipReport(gz.subarray(0, gz.length - 8));
    assert.equal(u.data, undefined);
    assert.deepEqual(codes(u.problems), ['report-archive-corrupt']);
  });

  it('a changed byte of the compressed data is report-archive-corrupt, never a different report', () => {
    // Every byte of the deflate data in turn (a sample): zlib fails on the stream or on the CRC-32.
    for (let i = 10; i < gz.length - 8; i += Math.max(1, Math.floor((gz.length - 18) / 40))) {
      const bad = Buffer.from(gz);
      bad[i] ^= 0x10;
      const u = gunzipReport(bad);
      assert.equal(u.data, undefined, `byte ${i}`);
      assert.deepEqual(codes(u.problems), ['report-archive-corrupt'], `byte ${i}`);
    }
  });
});
