/**
 * Opening the containers reports arrive in: gzip (RFC 1952) and zip (PKWARE APPNOTE 6.3: the end of
 * central directory record, the central directory and the local headers, stored or deflated
 * entries), decompressed with node:zlib under limits so that a zip or gzip bomb is a finding:
 *
 * - at most `maxBytes` (default 50 MiB) of output per file, and
 * - at most `maxRatio` (default 1000) output bytes per input byte once the output passes 1 MiB.
 *
 * Real aggregate reports compress 10–50×; a deflate bomb reaches 1032×. zlib's `maxOutputLength`
 * stops the inflater at the limit, so a bomb never occupies more than the limit in memory.
 * Encrypted entries, other methods and archives with several reports are refused. What is read is
 * checked: a gzip member's CRC-32 and ISIZE (RFC 1952 §2.3.1; node:zlib checks its trailer and fails
 * with "incorrect data check" or "incorrect length check"), and a zip entry's CRC-32 and
 * uncompressed size against its central directory record (APPNOTE 4.4.7, 4.4.9), so damaged data is
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

/**
 * Reads the one report in a zip archive (RFC 7489 §7.2.1.1 allows zip; a report archive holds one
 * XML file). Directory entries are skipped; a second file entry is a finding and is not read.
 */
export function unzipReport(bytes: Buffer, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Unpacked {
  const size = bytes.length;
  const corrupt = (what: string): Unpacked => ({ data: undefined, problems: [finding('report-archive-corrupt', `the zip archive is damaged or truncated: ${what}`, 0, size)] });
  // The end of central directory record is 22 bytes plus a comment of up to 65535 bytes.
  let eocd = -1;
  for (let i = size - 22; i >= Math.max(0, size - 22 - 0xffff); i--) {
    if (bytes.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return corrupt('no end of central directory record');
  const entries = bytes.readUInt16LE(eocd + 10);
  const cdSize = bytes.readUInt32LE(eocd + 12);
  const cdOffset = bytes.readUInt32LE(eocd + 16);
  if (cdOffset === 0xffffffff || entries === 0xffff) return { data: undefined, problems: [finding('report-archive-unsupported', 'a zip64 archive: no report needs one', 0, size)] };
  if (cdOffset + cdSize > eocd) return corrupt('the central directory lies outside the file');
  const files: Array<{ name: string; method: number; flags: number; crc: number; compressed: number; uncompressed: number; local: number }> = [];
  let p = cdOffset;
  for (let n = 0; n < entries; n++) {
    if (p + 46 > eocd || bytes.readUInt32LE(p) !== 0x02014b50) return corrupt('a central directory entry is malformed');
    const flags = bytes.readUInt16LE(p + 8);
    const method = bytes.readUInt16LE(p + 10);
    const crc = bytes.readUInt32LE(p + 16);
    const compressed = bytes.readUInt32LE(p + 20);
    const uncompressed = bytes.readUInt32LE(p + 24);
    const nameLength = bytes.readUInt16LE(p + 28);
    const extraLength = bytes.readUInt16LE(p + 30);
    const commentLength = bytes.readUInt16LE(p + 32);
    const local = bytes.readUInt32LE(p + 42);
    const name = bytes.subarray(p + 46, p + 46 + nameLength).toString(flags & 0x800 ? 'utf8' : 'latin1');
    p += 46 + nameLength + extraLength + commentLength;
    if (!name.endsWith('/')) files.push({ name, method, flags, crc, compressed, uncompressed, local });
  }
  if (files.length === 0) return corrupt('the archive holds no file');
  const problems: Problem[] = [];
  if (files.length > 1) {
    problems.push(finding('report-archive-unsupported', `the archive holds ${files.length} files; a report archive holds one, so only "${namePart(files[0].name)}" is read`, 0, size, 'warning'));
  }
  const f = files[0];
  if (f.flags & 0x1) return { name: f.name, data: undefined, problems: [...problems, finding('report-archive-unsupported', 'the zip entry is encrypted', 0, size)] };
  if (f.method !== 0 && f.method !== 8) {
    return { name: f.name, data: undefined, problems: [...problems, finding('report-archive-unsupported', `the zip entry uses compression method ${f.method}; reports use deflate (8) or none (0)`, 0, size)] };
  }
  if (f.local + 30 > size || bytes.readUInt32LE(f.local) !== 0x04034b50) return corrupt('the local file header is missing');
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
