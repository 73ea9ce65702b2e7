/**
 * Reads report files and folders into a summary: one home for what `smtpwb report FILE|DIR...`
 * and the editor's report view both do (list a folder's report files, open each with its
 * decompression limits, add it to a ReportSummariser, turn an unreadable file into a finding).
 * Core: node's file system only, no `vscode`.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import { readInputFile } from '../../../common/inputFile';
import { join } from 'node:path';
import type { Problem } from '../../../common/problem';
import { openReportBytes, sizeLimitFinding, type OpenedReport } from '../../../server/src/reports/open';
import { DEFAULT_ARCHIVE_LIMITS } from '../../../server/src/reports/archive';
import { finding } from '../../../server/src/reports/reportProblems';
import { ReportSummariser, type ReportSummary } from './summary';

/** The file names a folder's reports have: aggregate (.xml, .xml.gz, .zip), TLS-RPT (.json, .json.gz), failure (.eml). */
export const REPORT_FILE = /\.(xml|xml\.gz|gz|zip|json|eml)$/i;

/**
 * Lists report files under a folder, sorted, skipping dot-files (recursive). Symbolic links are
 * followed, as `grep -R` and parsedmarc do: a link to a report file is listed under the link's
 * name, a link to a folder is read as the folder. Nothing is dropped without a word, and nothing
 * loops:
 * - a folder reached a second time (a link loop, or two links to one folder) is listed as the
 *   folder itself, not its files again, and summariseReportFiles reports it (`report-link-loop`);
 * - a link whose target is missing (or a loop of links) is listed when its name is a report
 *   file's, as a file is, and reading it is a `report-unreadable` finding that says why;
 * - a report-named entry that is not a regular file (a FIFO, a socket, a device) is listed, and
 *   summariseReportFiles refuses it without reading (`report-unreadable`).
 * `seen` holds the folders read so far (device and inode), shared by the calls of one listing.
 */
export async function listReportFiles(dir: string, out: string[] = [], seen: Set<string> = new Set()): Promise<string[]> {
  const st = await stat(dir);
  const key = `${st.dev}:${st.ino}`;
  if (seen.has(key)) {
    out.push(dir);
    return out;
  }
  seen.add(key);
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    let isDirectory = e.isDirectory();
    if (e.isSymbolicLink()) {
      try {
        isDirectory = (await stat(path)).isDirectory();
      } catch {
        // A link to nothing (or a loop of links) with a report's name: listed, so that reading it
        // says so. Its target is unknown, so the link's name decides, as a file's name does.
        if (REPORT_FILE.test(e.name)) out.push(path);
        continue;
      }
    }
    if (isDirectory) await listReportFiles(path, out, seen);
    else if (REPORT_FILE.test(e.name)) out.push(path);
  }
  return out;
}

/**
 * The files of the given paths: a file as it is (whatever its name), a folder's report files
 * (listReportFiles, one listing for all the paths: a folder given twice, or inside another one
 * given, is read once).
 */
export async function reportFilesOf(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    const st = await stat(path);
    if (st.isDirectory()) await listReportFiles(path, files, seen);
    else files.push(path);
  }
  return files;
}

/** What reading one listed path gives: its bytes, a finding instead, or a folder already read. */
type ReadResult = { bytes: Buffer } | { problem: Problem } | { folder: true };

/** Why a FIFO, a socket or a device is not read. */
const NOT_REGULAR = 'not a regular file (a FIFO, a socket or a device): not read';

/**
 * Reads a report file whole, if it is a regular file within the size limit, by the one rule for
 * named files (common/inputFile.ts), asynchronously for the editor. Never throws.
 */
async function readReportFile(path: string, limit: number): Promise<ReadResult> {
  const unreadable = (why: string): ReadResult => ({ problem: finding('report-unreadable', why, 0, 0) });
  try {
    const read = await readInputFile(path, limit);
    if (read.kind === 'folder') return { folder: true };
    if (read.kind === 'not-regular') return unreadable(NOT_REGULAR);
    // A file over the size limit is a finding before it is read: no report is that large, and
    // reading it whole could exhaust memory (gzip and zip output has the same limit).
    if (read.kind === 'too-large') return { problem: sizeLimitFinding(read.size, limit) };
    return { bytes: read.bytes };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    if (code === 'EISDIR') return { folder: true };
    if (code === 'ELOOP') return unreadable('cannot read the file: ELOOP (a loop of symbolic links)');
    if (code === 'ENOENT' && (await lstat(path).then((l) => l.isSymbolicLink(), () => false))) return unreadable('cannot read the file: ENOENT (a symbolic link whose target does not exist)');
    return unreadable(`cannot read the file: ${code}`);
  }
}

export interface SummariseOptions {
  /** How a file is named in findings and tables (e.g. relative to the workspace). */
  shownName?: (path: string) => string;
  /** How many failing sources to keep. */
  top?: number;
  /** Which opened reports count (the CLI's `--domain`); all when absent. */
  include?: (opened: OpenedReport) => boolean;
}

/** Opens each file and summarises what it holds; a file that cannot be read is a finding. */
export async function summariseReportFiles(files: readonly string[], options: SummariseOptions = {}): Promise<ReportSummary> {
  const summariser = new ReportSummariser();
  for (const file of files) {
    const shown = options.shownName ? options.shownName(file) : file;
    const read = await readReportFile(file, DEFAULT_ARCHIVE_LIMITS.maxBytes);
    if ('folder' in read) {
      // Only listReportFiles puts a folder here: one it had read already (listReportFiles).
      summariser.addProblem(shown, finding('report-link-loop', 'a folder already read (reached again through a symbolic link, or given twice): its files are read once', 0, 0));
      continue;
    }
    summariser.addFile();
    if ('problem' in read) {
      summariser.add({ source: shown, report: undefined, problems: [read.problem] });
      continue;
    }
    // The text is kept for the line and column of findings, and dropped with the report.
    for (const opened of openReportBytes(shown, read.bytes, { keepText: true })) if (!options.include || options.include(opened)) summariser.add(opened);
  }
  return summariser.result(options.top);
}
