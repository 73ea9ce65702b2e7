/**
 * `smtpwb lint FILE... [--json] [--list-codes]`: lints `.smtp` scripts and `.eml` messages with the
 * same language service as the editor, and prints `file:line:col severity code message`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Diagnostic } from 'vscode-languageserver-types';
import { allProblemDefinitions, toDiagnostics } from '../../../server/src/diagnostics';
import { LanguageService, documentKind } from '../../../server/src/languageService';
import type { CliIo } from './cliIo';

const SEVERITY_NAMES = ['', 'error', 'warning', 'info', 'hint'];

const USAGE = 'usage: smtpwb lint FILE|DIR... [--json] [--list-codes]';

/** Expands folders into the .smtp and .eml files below them. */
function expand(path: string, out: string[]): void {
  const stat = statSync(path);
  if (!stat.isDirectory()) {
    out.push(path);
    return;
  }
  for (const name of readdirSync(path).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const child = join(path, name);
    if (statSync(child).isDirectory()) expand(child, out);
    else if (/\.(smtp|eml)$/i.test(name)) out.push(child);
  }
}

export async function lintCommand(args: string[], io: CliIo): Promise<number> {
  let json = false;
  const files: string[] = [];
  for (const arg of args) {
    if (arg === '--json') json = true;
    else if (arg === '--list-codes') {
      for (const d of allProblemDefinitions()) io.stdout.write(`${d.code}\t${d.severity}\t${d.summary}\t${d.link}\n`);
      return 0;
    } else if (arg === '-h' || arg === '--help') {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    } else if (arg.startsWith('-')) {
      io.stderr.write(`smtpwb lint: unknown option ${arg}\n${USAGE}\n`);
      return 2;
    } else files.push(arg);
  }
  if (files.length === 0) {
    io.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const service = new LanguageService();
  const results: Array<{ file: string; diagnostics: Diagnostic[] }> = [];
  let errors = 0;
  let unreadable = false;
  const paths: string[] = [];
  for (const file of files) {
    try {
      expand(resolve(io.cwd, file), paths);
    } catch (error) {
      io.stderr.write(`smtpwb lint: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
      unreadable = true;
    }
  }
  for (const path of paths) {
    let text: string;
    try {
      text = decodeFile(readFileSync(path), documentKind(path));
    } catch (error) {
      io.stderr.write(`smtpwb lint: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
      unreadable = true;
      continue;
    }
    const kind = documentKind(path);
    const document = TextDocument.create(pathToFileURL(path).toString(), kind, 1, text);
    const diagnostics = toDiagnostics(service.problems(document), document);
    service.forget(document.uri);
    errors += diagnostics.filter((d) => d.severity === 1).length;
    const shown = relativeName(io.cwd, path);
    results.push({ file: shown, diagnostics });
    if (!json) {
      for (const d of diagnostics) {
        io.stdout.write(`${shown}:${d.range.start.line + 1}:${d.range.start.character + 1} ${SEVERITY_NAMES[d.severity ?? 1]} ${String(d.code)} ${d.message}\n`);
      }
    }
  }
  if (json) io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else {
    const total = results.reduce((n, r) => n + r.diagnostics.length, 0);
    io.stderr.write(`${results.length} file${results.length === 1 ? '' : 's'} linted: ${errors} error${errors === 1 ? '' : 's'}, ${total - errors} other diagnostic${total - errors === 1 ? '' : 's'}\n`);
  }
  if (unreadable) return 2;
  return errors > 0 ? 1 : 0;
}

/**
 * Reads a file as UTF-8. A message that is not valid UTF-8 is read as Latin-1 instead, byte for
 * byte, so a correct 8-bit ISO-8859-1 body is not reported as damaged text (RFC 2045 §2.8).
 */
function decodeFile(bytes: Buffer, kind: 'smtp' | 'eml'): string {
  if (kind !== 'eml') return bytes.toString('utf8');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

function relativeName(cwd: string, path: string): string {
  const base = resolve(cwd) + '/';
  return path.startsWith(base) ? path.slice(base.length) : path;
}
