/**
 * The `.smtp` language service: one pure facade over the parser, the analysers and the editor
 * features. The LSP server and the CLI call only this; neither knows how a script is parsed.
 */
import type { Problem } from '../../../common/problem';
import type { SessionPlan } from '../../../common/sessionPlan';
import type { SessionNode, SmtpDocument } from './smtpAst';
import { moveProblem, moveRange, type Move } from './smtpMove';
import { analyzeDocument, analyzeSession, type AnalyzeOptions, type BodyLinter, type SessionAnalysis, type SessionName } from './smtpAnalyzer';
import { parseSmtp, type CachedAnalysis, type ParseCache } from './smtpParser';
import type { Scope } from './smtpScopes';
import { missingFiles, type FileExists, type NamedFile } from './smtpFiles';
import { buildSessionPlans } from './smtpPlan';

export interface SmtpAnalysis {
  file: string;
  text: string;
  document: SmtpDocument;
  problems: Problem[];
  /** Names defined outside the file (the selected environment, `--var`), for completion. */
  externalVariables?: ReadonlySet<string>;
}

export interface SmtpServiceOptions extends AnalyzeOptions {
  /** Lints a DATA body as a message; offsets are relative to the body text. Supplied by the .eml service. */
  lintMessageBody?: BodyLinter;
  /** Keeps unchanged sessions between edits of the same document (see ParseCache). */
  cache?: ParseCache;
  /** Answers whether a file exists, to warn about files the script names (smtpFiles.ts); no check without it. */
  fileExists?: FileExists;
}

/**
 * The part of a session's analysis the cache keeps besides its problems. Its positions are relative
 * to the start (offsets) and first line of the session's chunk, so it is true wherever the session
 * moves: analyzeDocument places it (SessionAnalysis.at) where it needs a position.
 */
interface CachedExtra {
  referenced: Set<string>;
  defined: Set<string>;
  names: SessionName[];
  files: NamedFile[];
}

function placeExtra(extra: CachedExtra, offset: number, line: number): CachedExtra {
  const by = { offset, line };
  return {
    referenced: extra.referenced,
    defined: extra.defined,
    names: extra.names.length === 0 ? extra.names : extra.names.map((n) => ({ name: n.name, range: moveRange(n.range, by), line: n.line + line })),
    files: extra.files.length === 0 ? extra.files : extra.files.map((f) => ({ what: f.what, value: f.value, range: moveRange(f.range, by) })),
  };
}

/**
 * The names a session's analysis reads from outside the session: the variables it references or
 * defines, and the variables their file definitions reference in turn.
 */
function dependencies(extra: { referenced: ReadonlySet<string>; defined: ReadonlySet<string> }): string[] {
  const out = new Set<string>(extra.referenced);
  for (const name of extra.defined) out.add(name);
  return [...out];
}

/**
 * Walks what a session's analysis depends on outside its own text: each variable it uses (and each
 * file variable those reference, transitively), with the text of its file definition (undefined
 * when there is none) and whether it is external. A session's analysis reads the file only through
 * these (checkReferences, staticValue, checkCycles and namedFiles all look names up in the scope),
 * so a cached analysis stays valid while the walk yields the same: typing into `@from` re-analyses
 * the sessions that use `from`, and only those. `visit` returns false to stop the walk early.
 */
function walkDependencies(names: readonly string[], file: Scope, visit: (name: string, value: string | undefined, external: boolean) => boolean): boolean {
  const seen: string[] = [];
  const walk = (name: string): boolean => {
    if (seen.includes(name)) return true;
    seen.push(name);
    const definition = file.variables.get(name);
    if (!visit(name, definition?.value?.text, file.external.has(name))) return false;
    if (definition) for (const ref of definition.references) if (!ref.builtin && !walk(ref.name)) return false;
    return true;
  };
  for (const name of names) if (!walk(name)) return false;
  return true;
}

/** The walk of walkDependencies as a flat list: name, value, external, name, value, … */
function dependencyValues(names: readonly string[], file: Scope): Array<string | boolean | undefined> {
  const out: Array<string | boolean | undefined> = [];
  walkDependencies(names, file, (name, value, external) => {
    out.push(name, value, external);
    return true;
  });
  return out;
}

/** True when the walk over `file` yields exactly `values`; compared as it goes, without building anything. */
function sameDependencies(names: readonly string[], values: ReadonlyArray<string | boolean | undefined>, file: Scope): boolean {
  let i = 0;
  const same = walkDependencies(names, file, (name, value, external) => {
    const ok = values[i] === name && values[i + 1] === value && values[i + 2] === external;
    i += 3;
    return ok;
  });
  return same && i === values.length;
}

/** An analysis made where a session's items were built, moved to where the session stands now. */
function moveAnalysis(analysis: SessionAnalysis, by: Move): SessionAnalysis {
  const { problems, ...extra } = analysis;
  return { problems: problems.map((p) => moveProblem(p, by)), ...placeExtra(extra, by.offset, by.line) };
}

/** Parses and analyses a script; with a cache, only the sessions an edit changed. Never throws. */
export function analyzeSmtp(text: string, file: string, options: SmtpServiceOptions = {}): SmtpAnalysis {
  const { document, problems, entries } = parseSmtp(text, options.cache);
  const lintBody = options.lintMessageBody;
  const fileExists = options.fileExists;
  // Trees are values: when the file variables are the very nodes the cached analyses were last
  // checked against (an edit inside a session), every one of them still holds, unchecked.
  const fileVariables = document.preamble.filter((item) => item.kind === 'variable');
  const checked = options.cache?.checkedScope;
  const scopeUnchanged =
    checked !== undefined && checked.external === options.externalVariables && checked.variables.length === fileVariables.length && checked.variables.every((node, i) => node === fileVariables[i]);
  if (options.cache) options.cache.checkedScope = { variables: fileVariables, external: options.externalVariables };
  const cachedAnalysis = (session: SessionNode, scope: Scope): SessionAnalysis => {
    const entry = entries?.[session.index];
    if (!entry) return analyzeSession(document, session, scope, lintBody);
    const cached = entry.analysis;
    if (cached && (scopeUnchanged || sameDependencies(cached.dependencies, cached.values, scope))) {
      // Made once per entry: an entry the edit did not move is the same object, and is read as is.
      const placed = entry.placed as { from: CachedAnalysis; analysis: SessionAnalysis } | undefined;
      if (placed && placed.from === cached) return placed.analysis;
      const extra = cached.extra as CachedExtra;
      const analysis: SessionAnalysis = { problems: cached.problems as Problem[], referenced: extra.referenced, defined: extra.defined, names: extra.names, files: extra.files, at: { offset: entry.start, line: entry.line } };
      entry.placed = { from: cached, analysis };
      return analysis;
    }
    // A body's lint depends on its text alone: it is kept with the session across variable edits.
    const lints = entry.bodyLints;
    const lintKept: BodyLinter | undefined = lintBody && ((body: string) => {
      let found = lints.get(body);
      if (!found) lints.set(body, (found = lintBody(body)));
      return found;
    });
    const view = entry.view(session);
    const analysed = analyzeSession(view.document, view.session, scope, lintKept);
    const result = view.by.offset === 0 && view.by.line === 0 ? analysed : moveAnalysis(analysed, view.by);
    const { problems: sessionProblems, ...extra } = result;
    const needs = dependencies(extra);
    entry.analysis = { values: dependencyValues(needs, scope), dependencies: needs, problems: sessionProblems, extra: placeExtra(extra, -entry.start, -entry.line) };
    return result;
  };
  const documentProblems = analyzeDocument(document, {
    externalVariables: options.externalVariables,
    lintBody,
    ...(fileExists ? { checkFiles: (files: readonly NamedFile[]) => missingFiles(files, file, fileExists) } : {}),
    ...(options.cache ? { sessionAnalysis: cachedAnalysis } : {}),
  });
  for (const p of documentProblems) problems.push(p);
  problems.sort((a, b) => a.range.start - b.range.start || a.range.end - b.range.end);
  return { file, text, document, problems, ...(options.externalVariables ? { externalVariables: options.externalVariables } : {}) };
}

/** The plans of every session in the script, for running. */
export function sessionPlans(analysis: SmtpAnalysis): SessionPlan[] {
  return buildSessionPlans(analysis.document, analysis.file);
}

/** The session that holds an offset (a `###` line and everything up to the next one). */
export function sessionAt(analysis: SmtpAnalysis, offset: number): SessionNode | undefined {
  const sessions = analysis.document.sessions;
  let found: SessionNode | undefined;
  for (const session of sessions) {
    const start = session.separator ? session.separator.range.start : session.range.start;
    if (start <= offset) found = session;
    else break;
  }
  return found;
}

/** Convenience for the CLI and the engine's callers: analysis, plans and error count at once. */
export function analyzeSmtpDocument(text: string, file: string, options: SmtpServiceOptions = {}): { problems: Problem[]; plans: SessionPlan[]; analysis: SmtpAnalysis } {
  const analysis = analyzeSmtp(text, file, options);
  return { problems: analysis.problems, plans: sessionPlans(analysis), analysis };
}
