/**
 * The `.smtp` language service: one pure facade over the parser, the analysers and the editor
 * features. The LSP server and the CLI call only this; neither knows how a script is parsed.
 */
import type { Problem } from '../../../common/problem';
import type { SessionPlan } from '../../../common/sessionPlan';
import type { SessionNode, SmtpDocument } from './smtpAst';
import { analyzeDocument, analyzeSession, type AnalyzeOptions, type BodyLinter, type SessionAnalysis } from './smtpAnalyzer';
import { parseSmtp, sessionEntries, type ParseCache } from './smtpParser';
import type { Scope } from './smtpScopes';
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
}

/** Parses and analyses a script; with a cache, only the sessions an edit changed. Never throws. */
export function analyzeSmtp(text: string, file: string, options: SmtpServiceOptions = {}): SmtpAnalysis {
  const { document, problems } = parseSmtp(text, options.cache);
  const lintBody = options.lintMessageBody;
  const cachedAnalysis = (session: SessionNode, scope: Scope, signature: string): SessionAnalysis => {
    const entry = sessionEntries.get(session);
    if (entry?.analysis && entry.analysis.signature === signature) {
      return { problems: entry.analysis.problems, ...(entry.analysis.extra as Omit<SessionAnalysis, 'problems'>) };
    }
    const result = analyzeSession(document, session, scope, lintBody);
    if (entry) {
      const { problems: sessionProblems, ...extra } = result;
      entry.analysis = { signature, problems: sessionProblems, extra };
    }
    return result;
  };
  const documentProblems = analyzeDocument(document, {
    externalVariables: options.externalVariables,
    lintBody,
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
