/**
 * Reads report files and folders into a summary: one home for what `smtpwb report FILE|DIR...`
 * and the editor's report view both do (list a folder's report files, open each with its
 * decompression limits, add it to a ReportSummariser, turn an unreadable file into a finding).
 * Core: node's file system only, no `vscode`.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { openReportBytes, sizeLimitFinding, type OpenedReport } from '../../../server/src/reports/open';
import { DEFAULT_ARCHIVE_LIMITS } from '../../../server/src/reports/archive';
import { finding } from '../../../server/src/reports/reportProblems';
import { ReportSummariser, type ReportSummary } from './summary';

/** The file names a folder's reports have: aggregate (.xml, .xml.gz, .zip), TLS-RPT (.json, .json.gz), failure (.eml). */
export const REPORT_FILE = /\.(xml|xml\.gz|gz|zip|json|eml)$/i;

/** Lists report files under a folder, sorted, skipping dot-files (recursive). */
export async function listReportFiles(dir: string, out: string[] = []): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) await listReportFiles(path, out);
    else if (e.isFile() && REPORT_FILE.test(e.name)) out.push(path);
  }
  return out;
}

/** The files of the given paths: a file as it is (whatever its name), a folder's report files. */
export async function reportFilesOf(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const st = await stat(path);
    if (st.isDirectory()) await listReportFiles(path, files);
    else files.push(path);
  }
  return files;
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
    summariser.addFile();
    const shown = options.shownName ? options.shownName(file) : file;
    let bytes: Buffer;
    try {
      // A file over the size limit is a finding before it is read: no report is that large, and
      // reading it whole could exhaust memory (gzip and zip output has the same limit).
      const size = (await stat(file)).size;
      if (size > DEFAULT_ARCHIVE_LIMITS.maxBytes) {
        summariser.add({ source: shown, report: undefined, problems: [sizeLimitFinding(size, DEFAULT_ARCHIVE_LIMITS.maxBytes)] });
        continue;
      }
      bytes = await readFile(file);
    } catch (error) {
      summariser.add({ source: shown, report: undefined, problems: [finding('report-unreadable', `cannot read the file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, 0, 0)] });
      continue;
    }
    // The text is kept for the line and column of findings, and dropped with the report.
    for (const opened of openReportBytes(shown, bytes, { keepText: true })) if (!options.include || options.include(opened)) summariser.add(opened);
  }
  return summariser.result(options.top);
}
