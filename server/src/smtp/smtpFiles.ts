/**
 * The files a script names: `TLS ca=`, `cert=`, `key=` and `DATA < file` / `BDAT < file`. The engine
 * reads them, relative to the script, before it connects; the linter warns when one does not exist
 * there, so a missing file is seen while writing the script rather than as a script error at run
 * time. Whether a file exists is asked through a function the caller passes in (the LSP server and
 * the CLI pass the file system's), so this module stays pure.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Problem } from '../../../common/problem';
import { TLS_FILE_OPTIONS } from '../facts/scriptVocabulary';
import type { OffsetRange, SessionNode, Token } from './smtpAst';
import { problem } from './smtpProblems';
import { staticValue, type Scope } from './smtpScopes';

/** Answers whether a file exists at an absolute path. */
export type FileExists = (path: string) => boolean;

/**
 * The folder of a script given as a `file:` URI or a plain path; undefined for documents that are
 * not files (`untitled:`), whose relative paths mean nothing yet.
 */
function scriptDirectory(file: string): string | undefined {
  if (/^file:/i.test(file)) {
    try {
      return dirname(fileURLToPath(file));
    } catch {
      return undefined;
    }
  }
  // Another URI scheme (a Windows drive letter is not one).
  if (/^[a-z][a-z0-9+.-]+:/i.test(file)) return undefined;
  return dirname(resolve(file));
}

/** A file a script names: what names it, the path as it will be read, and where it is written. */
export interface NamedFile {
  what: string;
  value: string;
  range: OffsetRange;
}

/**
 * The files a session names whose paths are known now. A path that depends on a value known only
 * at run time is left to the engine, which checks it before connecting.
 */
export function namedFiles(session: SessionNode, scope: Scope): NamedFile[] {
  const files: NamedFile[] = [];
  const add = (token: Token, what: string): void => {
    const value = staticValue(token.text, scope);
    if (value !== undefined && value !== '') files.push({ what, value, range: token.range });
  };
  for (const item of session.items) {
    if (item.kind === 'tls') {
      for (const option of item.options) {
        const key = option.key.text.toLowerCase();
        if (option.value && (TLS_FILE_OPTIONS as readonly string[]).includes(key)) add(option.value, `the ${key}= file`);
      }
    } else if ((item.kind === 'data' || item.kind === 'bdat') && item.file) {
      add(item.file, `the message file of ${item.kind === 'data' ? 'DATA' : 'BDAT'}`);
    }
  }
  return files;
}

/** Warns about each named file that does not exist relative to the script (a `file:` URI or a path). */
export function missingFiles(files: readonly NamedFile[], script: string, fileExists: FileExists): Problem[] {
  if (files.length === 0) return [];
  const directory = scriptDirectory(script);
  if (directory === undefined) return [];
  const problems: Problem[] = [];
  for (const file of files) {
    const path = isAbsolute(file.value) ? file.value : resolve(directory, file.value);
    let exists: boolean;
    try {
      exists = fileExists(path);
    } catch {
      exists = false;
    }
    if (!exists) problems.push(problem('smtp-file-missing', file.range, `${file.what} "${file.value}" does not exist relative to the script; the run stops before connecting`));
  }
  return problems;
}
