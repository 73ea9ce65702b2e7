/**
 * Opening the containers reports arrive in: gzip (RFC 1952) and zip (PKWARE APPNOTE 6.3: the end
 * of central directory record, found past a comment that may hold its signature; the zip64 records
 * and extra field a zip64 writer uses even for a small report; the central directory and the local
 * headers; stored or deflated entries), decompressed with node:zlib under limits so that a zip or
 * gzip bomb is a finding:
 *
 * - at most `maxBytes` (default 50 MiB) of output per file, and
 * - at most `maxRatio` (default 1000) output bytes per input byte once the output passes 1 MiB.
 *
 * Real aggregate reports compress 10–50×; a deflate bomb reaches 1032×. zlib's `maxOutputLength`
 * stops the inflater at the limit, so a bomb never occupies more than the limit in memory.
 * Encrypted entries, other methods, archives split over several disks and archives with several
 * reports are refused (`report-archive-unsupported`). What is read is checked: a gzip member's
 * CRC-32 and ISIZE (RFC 1952 §2.3.1; node:zlib checks its trailer and fails with "incorrect data
 * check" or "incorrect length check"), and a zip entry's CRC-32 and uncompressed size against its
 * central directory record (APPNOTE 4.4.7, 4.4.9), so damaged data is
 * `report-archive-corrupt`, never read as if fine. Never throws.
 */
import { crc32, gunzipSync, inflateRawSync } from 'node:zlib';
import type { Problem } from '../../../common/problem';
import { finding } from './reportProblems';

export interface ArchiveLimits {
  maxBytes: number;
  maxRatio: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = { maxBytes: 50 * 1024 * 1024, maxRatio: 1000 };

/** What is inside a container: the entry's name (for zip) and its bytes, or findings. */
export interface Unpacked {
  name?: string;
  data: Buffer | undefined;
  problems: Problem[];
}

const RATIO_FLOOR = 1024 * 1024;

/** The longest name (an attachment or a zip entry, from the file: data) kept in a source name or a finding. */
const MAX_NAME_PART = 200;

/** A name from a report file shortened for a source name or a finding (the caller escapes it for output). */
export function namePart(name: string): string {
  return name.length > MAX_NAME_PART ? `${name.slice(0, MAX_NAME_PART)}…` : name;
}

function limitFor(inputLength: number, limits: ArchiveLimits): number {
  return Math.min(limits.maxBytes, Math.max(RATIO_FLOOR, inputLength * limits.maxRatio));
}

function inflate(kind: 'gzip' | 'deflate', input: Buffer, limits: ArchiveLimits, label: string, size: number): Unpacked {
  const max = limitFor(input.length, limits);
  try {
    const data = kind === 'gzip' ? gunzipSync(input, { maxOutputLength: max }) : inflateRawSync(input, { maxOutputLength: max });
    return { data, problems: [] };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (error instanceof RangeError || code === 'ERR_BUFFER_TOO_LARGE') {
      return {
        data: undefined,
        problems: [
          finding(
            'report-archive-limit',
            `${label} decompresses to more than ${max} bytes (limits: ${limits.maxBytes} bytes, ${limits.maxRatio}× the compressed size): refused as a decompression bomb`,
            0,
            size,
          ),
        ],
      };
    }
    const message = error instanceof Error ? error.message : String(error);
    return { data: undefined, problems: [finding('report-archive-corrupt', `${label} is damaged or truncated: ${message}`, 0, size)] };
  }
}

/** True for the gzip magic number (RFC 1952 §2.3.1). */
export function isGzip(bytes: Buffer): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** True for a zip local file header or an empty archive's end record. */
export function isZip(bytes: Buffer): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5) && (bytes[3] === 4 || bytes[3] === 6);
}

/** Decompresses a gzip file under the limits. */
export function gunzipReport(bytes: Buffer, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Unpacked {
  return inflate('gzip', bytes, limits, 'the gzip file', bytes.length);
}

/** The signatures of zip records (APPNOTE 4.3.7, 4.3.12, 4.3.14, 4.3.15, 4.3.16). */
const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_RECORD = 0x06054b50;
const ZIP64_END_RECORD = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;

/** One file of the central directory, with its zip64 sizes and offset resolved. */
interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressed: number;
  uncompressed: number;
  local: number;
}

/** Where the central directory is, or why it cannot be read. */
type CentralDirectory = { entries: number; cdOffset: number; cdEnd: number; trailing: number } | { damaged: string } | { unsupported: string };

/**
 * A little-endian 64-bit field as a number. A value past 2^53 is past the end of any file this
 * reads, so its loss of precision only makes a bounds check fail, as it must.
 */
function u64(bytes: Buffer, at: number): number {
  return Number(bytes.readBigUInt64LE(at));
}

/**
 * Reads the end of central directory record at `at` (APPNOTE 4.3.16) and, when it is there, the
 * zip64 end of central directory locator before it and the zip64 record it points to (4.3.14,
 * 4.3.15): a field too small for its value is set to all ones (4.4.1.4) and the zip64 record holds
 * the value; a writer may write the zip64 records for a small archive too (Python's zipfile past a
 * lowered ZIP64_LIMIT does), so when the locator is there its record's values are the ones read.
 * The central directory it names must start with a central file header (or be empty and end where
 * the records start); anything else is not this archive's end record (see findCentralDirectory).
 */
function readEndRecord(bytes: Buffer, at: number): CentralDirectory {
  const disk = bytes.readUInt16LE(at + 4);
  const cdDisk = bytes.readUInt16LE(at + 6);
  let entries = bytes.readUInt16LE(at + 10);
  let cdSize = bytes.readUInt32LE(at + 12);
  let cdOffset = bytes.readUInt32LE(at + 16);
  let recordsStart = at;
  const locator = at - 20;
  if (locator >= 0 && bytes.readUInt32LE(locator) === ZIP64_LOCATOR) {
    const record = u64(bytes, locator + 8);
    if (bytes.readUInt32LE(locator + 4) !== 0 || bytes.readUInt32LE(locator + 16) > 1) return { unsupported: 'a zip archive split over several files (disks): reports are one file' };
    if (record + 56 > locator || bytes.readUInt32LE(record) !== ZIP64_END_RECORD) return { damaged: 'the zip64 end of central directory record is missing' };
    if (bytes.readUInt32LE(record + 16) !== 0 || bytes.readUInt32LE(record + 20) !== 0) return { unsupported: 'a zip archive split over several files (disks): reports are one file' };
    entries = u64(bytes, record + 32);
    cdSize = u64(bytes, record + 40);
    cdOffset = u64(bytes, record + 48);
    recordsStart = record;
  } else if (entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    return { damaged: 'the end of central directory record defers to a zip64 record that is missing' };
  } else if (disk !== 0 || cdDisk !== 0) {
    return { unsupported: 'a zip archive split over several files (disks): reports are one file' };
  }
  if (cdOffset + cdSize > recordsStart) return { damaged: 'the central directory lies outside the file' };
  // An empty central directory ends where the end records start (an archive of no file).
  const empty = entries === 0 && cdSize === 0 && cdOffset === recordsStart;
  if (!empty && (cdSize < 46 || bytes.readUInt32LE(cdOffset) !== CENTRAL_HEADER)) return { damaged: 'the end of central directory record points to no central directory' };
  return { entries, cdOffset, cdEnd: cdOffset + cdSize, trailing: 0 };
}

/**
 * Finds the end of central directory record: 22 bytes and a comment of up to 65535 bytes at the
 * end of the file (APPNOTE 4.3.16). The comment is free text, so it may hold the record's
 * signature: scanning back from the end, a candidate is this archive's record only when its
 * comment ends exactly at the end of the file and the central directory it names is one
 * (readEndRecord); otherwise the scan goes on. A record followed by stray bytes (a mailer's line
 * end) is taken only when no candidate ends the file, and the stray bytes are a warning.
 */
function findCentralDirectory(bytes: Buffer): CentralDirectory {
  const size = bytes.length;
  let first: CentralDirectory | undefined;
  let loose: CentralDirectory | undefined;
  for (let i = size - 22; i >= Math.max(0, size - 22 - 0xffff); i--) {
    if (bytes.readUInt32LE(i) !== END_RECORD) continue;
    const end = i + 22 + bytes.readUInt16LE(i + 20);
    if (end > size) continue;
    const found = readEndRecord(bytes, i);
    if (end === size) {
      if ('entries' in found) return found;
      first ??= found;
    } else if (loose === undefined && 'entries' in found) {
      loose = { ...found, trailing: size - end };
    }
  }
  return loose ?? first ?? { damaged: 'no end of central directory record' };
}

/**
 * The sizes and the local header offset of the central file header at `p`. A field set to all
 * ones is in the zip64 extended information extra field (header ID 0x0001), which holds, in this
 * order, only the fields that are all ones: the uncompressed size, the compressed size, the local
 * header offset (APPNOTE 4.5.3). A string says what is wrong.
 */
function entrySizes(bytes: Buffer, p: number, extra: Buffer): { compressed: number; uncompressed: number; local: number } | string {
  let uncompressed = bytes.readUInt32LE(p + 24);
  let compressed = bytes.readUInt32LE(p + 20);
  let local = bytes.readUInt32LE(p + 42);
  if (uncompressed !== 0xffffffff && compressed !== 0xffffffff && local !== 0xffffffff) return { compressed, uncompressed, local };
  let zip64: Buffer | undefined;
  for (let q = 0; q + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(q);
    const length = extra.readUInt16LE(q + 2);
    if (q + 4 + length > extra.length) break;
    if (id === 0x0001) {
      zip64 = extra.subarray(q + 4, q + 4 + length);
      break;
    }
    q += 4 + length;
  }
  if (!zip64) return 'its sizes are in a zip64 extra field that is missing';
  let at = 0;
  const next = (): number | undefined => {
    if (at + 8 > zip64.length) return undefined;
    at += 8;
    return u64(zip64, at - 8);
  };
  if (uncompressed === 0xffffffff) uncompressed = next() ?? -1;
  if (compressed === 0xffffffff) compressed = next() ?? -1;
  if (local === 0xffffffff) local = next() ?? -1;
  if (uncompressed < 0 || compressed < 0 || local < 0) return 'its zip64 extra field is too short';
  return { compressed, uncompressed, local };
}

/**
 * Reads the one report in a zip archive (RFC 7489 §7.2.1.1 allows zip; a report archive holds one
 * XML file). Directory entries are skipped; a second file entry is a finding and is not read.
 */
export function unzipReport(bytes: Buffer, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Unpacked {
  const size = bytes.length;
  const corrupt = (what: string): Unpacked => ({ data: undefined, problems: [finding('report-archive-corrupt', `the zip archive is damaged or truncated: ${what}`, 0, size)] });
  const found = findCentralDirectory(bytes);
  if ('unsupported' in found) return { data: undefined, problems: [finding('report-archive-unsupported', found.unsupported, 0, size)] };
  if ('damaged' in found) return corrupt(found.damaged);
  const { entries, cdOffset, cdEnd } = found;
  const problems: Problem[] = [];
  if (found.trailing > 0) {
    problems.push(finding('report-archive-corrupt', `${found.trailing} bytes follow the end of the zip archive: they are not read`, 0, size, 'warning'));
  }
  const files: ZipEntry[] = [];
  let p = cdOffset;
  for (let n = 0; n < entries; n++) {
    if (p + 46 > cdEnd || bytes.readUInt32LE(p) !== CENTRAL_HEADER) return corrupt('a central directory entry is malformed');
    const flags = bytes.readUInt16LE(p + 8);
    const method = bytes.readUInt16LE(p + 10);
    const crc = bytes.readUInt32LE(p + 16);
    const nameLength = bytes.readUInt16LE(p + 28);
    const extraLength = bytes.readUInt16LE(p + 30);
    const commentLength = bytes.readUInt16LE(p + 32);
    if (p + 46 + nameLength + extraLength + commentLength > cdEnd) return corrupt('a central directory entry is malformed');
    const name = bytes.subarray(p + 46, p + 46 + nameLength).toString(flags & 0x800 ? 'utf8' : 'latin1');
    const sizes = entrySizes(bytes, p, bytes.subarray(p + 46 + nameLength, p + 46 + nameLength + extraLength));
    if (typeof sizes === 'string') return corrupt(`the entry "${namePart(name)}": ${sizes}`);
    p += 46 + nameLength + extraLength + commentLength;
    if (!name.endsWith('/')) files.push({ name, method, flags, crc, ...sizes });
  }
  if (files.length === 0) return { data: undefined, problems: [...problems, ...corrupt('the archive holds no file').problems] };
  if (files.length > 1) {
    problems.push(finding('report-archive-unsupported', `the archive holds ${files.length} files; a report archive holds one, so only "${namePart(files[0].name)}" is read`, 0, size, 'warning'));
  }
  const f = files[0];
  if (f.flags & 0x1) return { name: f.name, data: undefined, problems: [...problems, finding('report-archive-unsupported', 'the zip entry is encrypted', 0, size)] };
  if (f.method !== 0 && f.method !== 8) {
    return { name: f.name, data: undefined, problems: [...problems, finding('report-archive-unsupported', `the zip entry uses compression method ${f.method}; reports use deflate (8) or none (0)`, 0, size)] };
  }
  if (f.local + 30 > size || bytes.readUInt32LE(f.local) !== LOCAL_HEADER) return corrupt('the local file header is missing');
  const start = f.local + 30 + bytes.readUInt16LE(f.local + 26) + bytes.readUInt16LE(f.local + 28);
  if (start + f.compressed > size) return corrupt('the entry runs past the end of the file');
  const body = bytes.subarray(start, start + f.compressed);
  if (f.uncompressed > limits.maxBytes) {
    return {
      name: f.name,
      data: undefined,
      problems: [...problems, finding('report-archive-limit', `the entry says it holds ${f.uncompressed} bytes, more than the ${limits.maxBytes}-byte limit: refused as a decompression bomb`, 0, size)],
    };
  }
  const out: Unpacked = f.method === 0 ? { data: Buffer.from(body), problems: [] } : inflate('deflate', body, limits, `the zip entry "${namePart(f.name)}"`, size);
  if (out.data) {
    // The central directory's CRC-32 and uncompressed size are the entry's (APPNOTE 4.4.7, 4.4.9;
    // with general purpose flag bit 3 the local header holds zeros and they follow the data, so
    // the central record is the one to trust, as Info-ZIP's unzip and Python's zipfile do).
    if (out.data.length !== f.uncompressed) {
      return { name: f.name, data: undefined, problems: [...problems, ...corrupt(`the entry "${namePart(f.name)}" holds ${out.data.length} bytes, but the archive says ${f.uncompressed}`).problems] };
    }
    const actual = crc32(out.data) >>> 0;
    if (actual !== f.crc) {
      const hex = (n: number): string => n.toString(16).padStart(8, '0');
      return { name: f.name, data: undefined, problems: [...problems, ...corrupt(`the CRC-32 of the entry "${namePart(f.name)}" is ${hex(actual)}, but the archive says ${hex(f.crc)}`).problems] };
    }
  }
  return { name: f.name, data: out.data, problems: [...problems, ...out.problems] };
}
