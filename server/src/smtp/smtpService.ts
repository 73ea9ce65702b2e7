/**
 * The `.smtp` language service: one pure facade over the parser, the analysers and the editor
 * features. The LSP server and the CLI call only this; neither knows how a script is parsed.
 */
import type { Problem } from '../../../common/problem';
import type { SessionPlan } from '../../../common/sessionPlan';
import type { SessionNode, SmtpDocument } from './smtpAst';
import { moveProblem, moveRange, type Move } from './smtpMove';
import { analyzeDocument, analyzeSession, type AnalyzeOptions, type BodyLinter, type SessionAnalysis, type SessionName } from './smtpAnalyzer';
import { parseSmtp, sessionEntries, type ParseCache } from './smtpParser';
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
 * moves: reading it adds the chunk's current place.
 */
interface CachedExtra {
  referenced: Set<string>;
  defined: Set<string>;
  names: SessionName[];
  files: NamedFile[];
}

function placeExtra(extra: CachedExtra, offset: number, line: number): CachedExtra {
  return {
    referenced: extra.referenced,
    defined: extra.defined,
    names: extra.names.map((n) => ({ name: n.name, range: moveRange(n.range, { offset, line }), line: n.line + line })),
    files: extra.files.map((f) => ({ what: f.what, value: f.value, range: moveRange(f.range, { offset, line }) })),
  };
}

/** An analysis made where a session's items were built, moved to where the session stands now. */
function moveAnalysis(analysis: SessionAnalysis, by: Move): SessionAnalysis {
  const { problems, ...extra } = analysis;
  return { problems: problems.map((p) => moveProblem(p, by)), ...placeExtra(extra, by.offset, by.line) };
}

/** Parses and analyses a script; with a cache, only the sessions an edit changed. Never throws. */
export function analyzeSmtp(text: string, file: string, options: SmtpServiceOptions = {}): SmtpAnalysis {
  const { document, problems } = parseSmtp(text, options.cache);
  const lintBody = options.lintMessageBody;
  const fileExists = options.fileExists;
  const cachedAnalysis = (session: SessionNode, scope: Scope, signature: string): SessionAnalysis => {
    const entry = sessionEntries.get(session);
    if (entry?.analysis && entry.analysis.signature === signature) {
      // Placed once per entry: an entry the edit did not move is the same object, and is read as is.
      const placed = entry.placed as { signature: string; analysis: SessionAnalysis } | undefined;
      if (placed && placed.signature === signature) return placed.analysis;
      const analysis = { problems: [...entry.analysis.problems], ...placeExtra(entry.analysis.extra as CachedExtra, entry.start, entry.line) };
      entry.placed = { signature, analysis };
      return analysis;
    }
    if (!entry) return analyzeSession(document, session, scope, lintBody);
    // A body's lint depends on its text alone: it is kept with the session across variable edits.
    const lints = entry.bodyLints;
    const lintKept: BodyLinter | undefined = lintBody && ((body: string) => {
      let found = lints.get(body);
      if (!found) lints.set(body, (found = lintBody(body)));
      return found;
    });
    const view = entry.atOrigin(session);
    const result = view ? moveAnalysis(analyzeSession(view.document, view.session, scope, lintKept), view.by) : analyzeSession(document, session, scope, lintKept);
    {
      const { problems: sessionProblems, ...extra } = result;
      entry.analysis = { signature, problems: [...sessionProblems], extra: placeExtra(extra, -entry.start, -entry.line) };
    }
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
