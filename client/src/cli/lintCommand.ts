/**
 * `smtpwb lint FILE|DIR... [--language smtp|eml] [--json] [--list-codes]`: lints `.smtp` scripts,
 * `.eml` messages and capture server rules files (`capture-rules.json`, `*.capture-rules.json`) with
 * the same language service as the editor, and prints `file:line:col severity code message`.
 */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Diagnostic } from 'vscode-languageserver-types';
import { jsonText, visibleLine } from '../../../common/escape';
import { allProblemDefinitions, toDiagnostics } from '../../../server/src/diagnostics';
import { isCaptureRulesFileName, LanguageService, type DocumentKind } from '../../../server/src/languageService';
import { emlDocumentText, startsWithBom } from '../../../server/src/eml/emlService';
import type { CliIo } from './cliIo';
import { parseOptions, readInputFileSync, usageError, wantsHelp } from './options';

const SEVERITY_NAMES = ['', 'error', 'warning', 'info', 'hint'];

export const LINT_USAGE = `usage: smtpwb lint FILE|DIR... [--language smtp|eml] [--json] [--list-codes]

Lints .smtp session scripts, .eml messages and capture server rules files (capture-rules.json,
*.capture-rules.json) with the editor's language service and prints
FILE:LINE:COL SEVERITY CODE MESSAGE per diagnostic (control characters shown as escapes).

  FILE|DIR           files to lint; a folder is searched for .smtp, .eml and rules files (hidden
                     folders and node_modules are skipped; symbolic links are followed, each file
                     once)
  --language L       read every file as L (smtp or eml), whatever its name; without it, a file
                     that is neither .smtp nor .eml nor a rules file is refused
  --json             print a JSON list of {file, diagnostics} in the LSP Diagnostic shape
  --list-codes       list every diagnostic code with its severity, summary and documentation
  -h, --help         show this help

Exit codes: 0 no errors, 1 errors found, 2 usage error (also: a folder with no file to lint, an
unreadable file).`;

const LINT_OPTIONS = {
  json: { type: 'boolean' },
  'list-codes': { type: 'boolean' },
  language: { type: 'string' },
} as const;

/** What lint reads a file as: a language `--language` can name, or a capture server rules file. */
type LintKind = DocumentKind | 'rules';

/**
 * What a file's name makes it: `.smtp`, `.eml`, or a rules file by the name the editor and the
 * language server know it by (`isCaptureRulesFileName`); undefined for any other name.
 */
function kindOfName(path: string): LintKind | undefined {
  const ext = extname(path).toLowerCase();
  if (ext === '.smtp') return 'smtp';
  if (ext === '.eml') return 'eml';
  return isCaptureRulesFileName(basename(path)) ? 'rules' : undefined;
}

/**
 * The language id a file is given to the language service: a rules file is JSON, and the service
 * knows it as a rules file by its name, as it does in the editor.
 */
function languageIdOf(kind: LintKind): string {
  return kind === 'rules' ? 'json' : kind;
}

/**
 * Collects the .smtp, .eml and rules files below a folder. Folders are identified by their real path, so
 * a symbolic link loop is walked once; files are identified the same way by the caller.
 */
function collect(dir: string, out: string[], seenDirs: Set<string>): void {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    return;
  }
  if (seenDirs.has(real)) return;
  seenDirs.add(real);
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const child = join(dir, name);
    let stat;
    try {
      stat = statSync(child);
    } catch {
      // A dangling link or a file that vanished: nothing to lint.
      continue;
    }
    if (stat.isDirectory()) collect(child, out, seenDirs);
    else if (stat.isFile() && kindOfName(name)) out.push(child);
  }
}

/** True when a regular file exists at the path: what the engine will read before connecting. */
function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export async function lintCommand(args: string[], io: CliIo): Promise<number> {
  if (wantsHelp(args)) {
    io.stdout.write(`${LINT_USAGE}\n`);
    return 0;
  }
  const parsed = parseOptions(args, LINT_OPTIONS);
  if (!parsed.ok) return usageError(io, 'lint', parsed.error, LINT_USAGE);
  if (parsed.values['list-codes']) {
    for (const d of allProblemDefinitions()) io.stdout.write(`${d.code}\t${d.severity}\t${d.summary}\t${d.link}\n`);
    return 0;
  }
  const json = parsed.values.json === true;
  const language = parsed.values.language;
  if (language !== undefined && language !== 'smtp' && language !== 'eml') return usageError(io, 'lint', `--language must be smtp or eml, not "${visibleLine(language)}"`, LINT_USAGE);
  const files = parsed.positionals;
  if (files.length === 0) return usageError(io, 'lint', 'give at least one file or folder', LINT_USAGE);
  // Messages whose file starts with a byte-order mark: the text has none (as in the editor), and the
  // service learns of the mark as the language server learns it, from the file (`fileStartsWithBom`).
  const withBom = new Set<string>();
  const service = new LanguageService({ fileExists: isFile, fileStartsWithBom: (uri) => withBom.has(uri) });
  const results: Array<{ file: string; diagnostics: Diagnostic[] }> = [];
  let errors = 0;
  let unusable = false;
  const paths: Array<{ path: string; kind: LintKind }> = [];
  const seenFiles = new Set<string>();
  const seenDirs = new Set<string>();
  const add = (path: string, kind: LintKind): void => {
    let real = path;
    try {
      real = realpathSync(path);
    } catch {
      // Reported when it is read.
    }
    if (seenFiles.has(real)) return;
    seenFiles.add(real);
    paths.push({ path, kind });
  };
  for (const file of files) {
    const path = resolve(io.cwd, file);
    let stat;
    try {
      stat = statSync(path);
    } catch (error) {
      io.stderr.write(`smtpwb lint: cannot read ${visibleLine(file)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
      unusable = true;
      continue;
    }
    if (stat.isDirectory()) {
      const found: string[] = [];
      let walkedBefore = false;
      try {
        walkedBefore = seenDirs.has(realpathSync(path));
        collect(path, found, seenDirs);
      } catch (error) {
        io.stderr.write(`smtpwb lint: cannot read ${visibleLine(file)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
        unusable = true;
        continue;
      }
      if (found.length === 0 && !walkedBefore) {
        io.stderr.write(`smtpwb lint: ${visibleLine(file)} holds no .smtp, .eml or rules file (capture-rules.json, *.capture-rules.json)\n`);
        unusable = true;
      }
      // --language says how to read scripts and messages; a rules file, found by its name, stays one.
      for (const f of found) {
        const named = kindOfName(f)!;
        add(f, named === 'rules' ? named : ((language as DocumentKind | undefined) ?? named));
      }
      continue;
    }
    const kind = (language as DocumentKind | undefined) ?? kindOfName(path);
    if (!kind) {
      io.stderr.write(
        `smtpwb lint: ${visibleLine(file)} is neither .smtp nor .eml nor a rules file (capture-rules.json, *.capture-rules.json); say how to read it with --language smtp or --language eml\n`,
      );
      unusable = true;
      continue;
    }
    add(path, kind);
  }
  if (unusable && paths.length === 0) {
    io.stderr.write(`${LINT_USAGE}\n`);
    return 2;
  }
  for (const { path, kind } of paths) {
    let text: string;
    const uri = pathToFileURL(path).toString();
    try {
      const bytes = readInputFileSync(path);
      if (kind === 'eml' && startsWithBom(bytes)) withBom.add(uri);
      text = decodeFile(bytes, kind);
    } catch (error) {
      io.stderr.write(`smtpwb lint: cannot read ${visibleLine(path)}: ${visibleLine((error as NodeJS.ErrnoException).code ?? (error as Error).message)}\n`);
      unusable = true;
      continue;
    }
    const document = TextDocument.create(uri, languageIdOf(kind), 1, text);
    const diagnostics = toDiagnostics(service.problems(document), document);
    service.forget(document.uri);
    errors += diagnostics.filter((d) => d.severity === 1).length;
    const shown = relativeName(io.cwd, path);
    results.push({ file: shown, diagnostics });
    if (!json) {
      for (const d of diagnostics) {
        io.stdout.write(`${visibleLine(shown)}:${d.range.start.line + 1}:${d.range.start.character + 1} ${SEVERITY_NAMES[d.severity ?? 1]} ${visibleLine(String(d.code))} ${visibleLine(typeof d.message === 'string' ? d.message : d.message.value)}\n`);
      }
    }
  }
  if (json) io.stdout.write(`${jsonText(results, 2)}\n`);
  else {
    const total = results.reduce((n, r) => n + r.diagnostics.length, 0);
    io.stderr.write(`${results.length} file${results.length === 1 ? '' : 's'} linted: ${errors} error${errors === 1 ? '' : 's'}, ${total - errors} other diagnostic${total - errors === 1 ? '' : 's'}\n`);
  }
  if (unusable) return 2;
  return errors > 0 ? 1 : 0;
}

/**
 * The text of a file as the editor gives it to the language service: a message through
 * `emlDocumentText` (UTF-8, each ill-formed sequence a U+FFFD, a byte-order mark taken off, as the editor opens it), so the CLI
 * and the editor report the same codes at the same places; scripts and rules files as UTF-8.
 */
function decodeFile(bytes: Buffer, kind: LintKind): string {
  return kind === 'eml' ? emlDocumentText(bytes) : bytes.toString('utf8');
}

function relativeName(cwd: string, path: string): string {
  const base = resolve(cwd) + '/';
  return path.startsWith(base) ? path.slice(base.length) : path;
}
