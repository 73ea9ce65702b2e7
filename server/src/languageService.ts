/**
 * One facade over the `.smtp` and `.eml` services, keyed by document, as vscode-json-languageservice
 * does: the LSP server and the CLI ask it, and it decides which pure service answers. Analyses are
 * cached per document version, so a hover after an edit reuses the analysis the diagnostics made.
 */
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { OffsetRange, Problem } from '../../common/problem';
import type { SessionPlanParams, SessionPlanResult, SessionSummary } from '../../common/protocol';
import { emlFolding, emlHover, emlSymbols, lintMessage } from './eml/emlService';
import { smtpCompletion, type CompletionItem as SmtpCompletionItem } from './smtp/smtpCompletion';
import { smtpHover } from './smtp/smtpHover';
import { smtpFolding, smtpOutline, type FoldingRegion, type OutlineNode } from './smtp/smtpOutline';
import { pairSteps } from './smtp/smtpState';
import { analyzeSmtp, sessionAt, sessionPlans, type SmtpAnalysis } from './smtp/smtpService';
import { ParseCache } from './smtp/smtpParser';
import type { FileExists } from './smtp/smtpFiles';
import { parseCaptureRules } from '../../common/captureRules';
import { isReportDocument, validateReportDocument } from './reports/validate';
import { reportHover } from './reports/hover';
import { bulkHeaderProblems } from './reports/bulkHeaders';
import { capProblemsPerLine } from './problemsPerLine';

export type CompletionEntry = SmtpCompletionItem;

export interface OutlineEntry {
  name: string;
  detail?: string;
  kind: string;
  range: OffsetRange;
  selectionRange: OffsetRange;
  children: OutlineEntry[];
}

/**
 * What a document is to the service: an `.smtp` script, an `.eml` message, a DMARC aggregate or
 * TLS-RPT report opened as text, a capture server rules file, or a document it has nothing to say
 * about (other XML and JSON the client sends because their names could be reports).
 */
export type ServiceKind = 'smtp' | 'eml' | 'report' | 'rules' | 'other';

/** The languages the CLI's `lint` names (the other kinds are recognised by name and content). */
export type DocumentKind = 'smtp' | 'eml';

/** The last path segment of a URI or path, percent-decoded when it can be. */
export function documentFileName(uriOrPath: string): string {
  const last = uriOrPath.replace(/[?#].*$/, '').split(/[\\/]/).pop() ?? '';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/** Whether a file name is a capture server rules file (`capture-rules.json`, `*.capture-rules.json`). */
export function isCaptureRulesFileName(fileName: string): boolean {
  return /(^|\.)capture-rules\.json$/i.test(fileName);
}

/**
 * Decides the kind of a document from its language id and its URI (or its file name in the CLI).
 * XML and JSON are recognised as reports by their content (`isReportDocument` sniffs the root
 * element or the TLS-RPT keys in the first 4 KiB), rules files by their name.
 */
function documentKind(languageId: string, uriOrPath: string, text: string): ServiceKind {
  const name = documentFileName(uriOrPath);
  if (languageId === 'smtp') return 'smtp';
  if (languageId === 'eml' || /\.(eml|msg|mbox-part)$/i.test(name)) return 'eml';
  if (isCaptureRulesFileName(name)) return 'rules';
  if (/\.(xml|json)$/i.test(name) || ['xml', 'json', 'jsonc'].includes(languageId)) {
    const reportName = /\.(xml|json)$/i.test(name) ? name : `${name}.${languageId === 'xml' ? 'xml' : 'json'}`;
    return isReportDocument(reportName, text) ? 'report' : 'other';
  }
  return 'smtp';
}

interface CacheEntry {
  version: number;
  parseCache?: ParseCache;
  kind: ServiceKind;
  smtp?: SmtpAnalysis;
  problems: Problem[];
}

/**
 * Lints a DATA body of a `.smtp` script as a message, skipping what the script form makes moot.
 * A header field or body line that holds a `{{…}}` reference is only known at run time, so
 * problems inside it are dropped (`Date: {{$date}}` is a valid date once substituted).
 */
function lintEmbeddedMessage(body: string): Problem[] {
  // UTF-8 in header fields and line lengths are checked by the script itself, with what it knows of
  // MAIL FROM (smtp-i18n-utf8-headers) and RFC 5321 §4.5.3.1.6 (smtp-limit-text-line).
  const problems = lintMessage(body, { embedded: true }).filter((p) => p.code !== 'eml-utf8-header' && p.code !== 'eml-line-too-long');
  if (!body.includes('{{')) return problems;
  const spans: Array<{ start: number; end: number }> = [];
  let inHeaders = true;
  let offset = 0;
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const start = offset;
    offset += line.length + 1;
    if (inHeaders && line.replace(/\r$/, '') === '') inHeaders = false;
    if (!line.includes('{{')) continue;
    let end = start + line.length;
    let first = start;
    if (inHeaders) {
      // The whole field: back to its first line, on over its folded continuation lines (RFC 5322 §2.2.3).
      let j = i;
      let back = start;
      while (j > 0 && /^[ \t]/.test(lines[j])) {
        j--;
        back -= lines[j].length + 1;
      }
      first = back;
      let k = i + 1;
      while (k < lines.length && /^[ \t]/.test(lines[k])) end += lines[k++].length + 1;
    }
    spans.push({ start: first, end });
  }
  return problems.filter((p) => !spans.some((s) => p.range.start >= s.start && p.range.start <= s.end));
}

/**
 * What the language service may know of the world, passed in by its host (the LSP server, the CLI),
 * so that the service itself stays pure: the process environment and the clock and UUIDs for
 * hovers, and whether a file exists for the files a script names. Without them, hovers show fixed
 * examples and no file is checked.
 */
export interface LanguageServiceHost {
  processEnv?: Record<string, string | undefined>;
  now?: () => Date;
  uuid?: () => string;
  fileExists?: FileExists;
  /**
   * Whether the file behind a document's URI starts with a UTF-8 byte-order mark, for `.eml`
   * documents whose text does not show it (VS Code removes the mark from the text it opens). The
   * language server reads it from disk when a `file:` document is opened and saved.
   */
  fileStartsWithBom?: (uri: string) => boolean;
}

export class LanguageService {
  private readonly cache = new Map<string, CacheEntry>();
  private externalVariables: ReadonlySet<string> = new Set();
  private environment: Record<string, string> = {};

  constructor(private readonly host: LanguageServiceHost = {}) {}

  setExternalVariables(names: string[], environment: Record<string, string> = {}): void {
    this.externalVariables = new Set(names);
    this.environment = environment;
    this.cache.clear();
  }

  forget(uri: string): void {
    this.cache.delete(uri);
  }

  private entry(document: TextDocument): CacheEntry {
    const cached = this.cache.get(document.uri);
    if (cached && cached.version === document.version) return cached;
    const text = document.getText();
    const kind = documentKind(document.languageId, document.uri, text);
    let entry: CacheEntry;
    if (kind === 'eml') {
      // A failure report (RFC 9991, ARF) is a message too: its report findings join the lint, and
      // so do the bulk-sender requirements its header fields decide (bulkHeaders.ts).
      const reportProblems = validateReportDocument('message.eml', text);
      const fileStartsWithBom = this.host.fileStartsWithBom?.(document.uri) === true;
      entry = { version: document.version, kind, problems: [...lintMessage(text, { fileStartsWithBom }), ...reportProblems, ...bulkHeaderProblems(text)] };
    } else if (kind === 'report') {
      entry = { version: document.version, kind, problems: validateReportDocument(reportFileName(document), text) };
    } else if (kind === 'rules') {
      entry = { version: document.version, kind, problems: parseCaptureRules(text).problems };
    } else if (kind === 'other') {
      entry = { version: document.version, kind, problems: [] };
    } else {
      const parseCache = cached?.parseCache ?? new ParseCache();
      const smtp = analyzeSmtp(text, document.uri, {
        externalVariables: this.externalVariables,
        lintMessageBody: lintEmbeddedMessage,
        cache: parseCache,
        ...(this.host.fileExists ? { fileExists: this.host.fileExists } : {}),
      });
      entry = { version: document.version, kind, smtp, problems: smtp.problems, parseCache };
    }
    // What the editor shows and `smtpwb lint` prints: at most PROBLEMS_PER_LINE of a kind per line.
    entry.problems = capProblemsPerLine(entry.problems, (offset) => document.positionAt(offset).line);
    this.cache.set(document.uri, entry);
    return entry;
  }

  /** The problems the editor shows and `smtpwb lint` prints: at most PROBLEMS_PER_LINE of a kind per line. */
  problems(document: TextDocument): Problem[] {
    return this.entry(document).problems;
  }

  hover(document: TextDocument, offset: number): { markdown: string; range: OffsetRange } | undefined {
    const entry = this.entry(document);
    if (entry.smtp) {
      const { processEnv, now, uuid } = this.host;
      return smtpHover(entry.smtp, offset, { environment: this.environment, ...(processEnv ? { processEnv } : {}), ...(now ? { now } : {}), ...(uuid ? { uuid } : {}) }) ?? undefined;
    }
    if (entry.kind === 'report') return reportHover(reportFileName(document), document.getText(), offset);
    if (entry.kind !== 'eml') return undefined;
    return emlHover(document.getText(), offset) ?? undefined;
  }

  completion(document: TextDocument, offset: number): CompletionEntry[] {
    const entry = this.entry(document);
    return entry.smtp ? smtpCompletion(entry.smtp, offset) : [];
  }

  outline(document: TextDocument): OutlineEntry[] {
    const entry = this.entry(document);
    if (entry.smtp) return smtpOutline(entry.smtp) as OutlineNode[];
    if (entry.kind !== 'eml') return [];
    return emlSymbols(document.getText()) as OutlineEntry[];
  }

  folding(document: TextDocument): FoldingRegion[] {
    const entry = this.entry(document);
    if (entry.smtp) return smtpFolding(entry.smtp);
    if (entry.kind !== 'eml') return [];
    // The .eml service folds by offsets; a fold needs at least two lines.
    return emlFolding(document.getText())
      .map((f) => ({ startLine: document.positionAt(f.start).line, endLine: document.positionAt(Math.max(f.start, f.end - 1)).line }))
      .filter((f) => f.endLine > f.startLine);
  }

  sessions(document: TextDocument): SessionSummary[] {
    const entry = this.entry(document);
    if (!entry.smtp) return [];
    const analysis = entry.smtp;
    return analysis.document.sessions.map((session) => {
      const name = session.items.find((i) => i.kind === 'metadata' && i.key.text.toLowerCase() === 'name');
      const start = session.separator?.range.start ?? session.range.start;
      return {
        title: session.title,
        ...(name && name.kind === 'metadata' && name.value ? { name: name.value.text } : {}),
        index: session.index,
        line: session.line,
        endLine: session.endLine,
        hasExpectations: pairSteps(session).some((s) => s.expects.length > 0),
        errors: blockingErrors(entry.problems, analysis, start, session.range.end).length,
      };
    });
  }

  sessionPlan(document: TextDocument, params: SessionPlanParams): SessionPlanResult {
    const entry = this.entry(document);
    if (!entry.smtp) return { errors: [{ line: 0, message: 'only .smtp scripts have sessions', code: 'not-smtp' }] };
    const sessions = entry.smtp.document.sessions;
    const session =
      params.index !== undefined ? sessions[params.index] : params.line !== undefined ? sessionAt(entry.smtp, document.offsetAt({ line: params.line, character: 0 })) ?? sessions[0] : undefined;
    if (!session) return { errors: [{ line: params.line ?? 0, message: 'there is no session here', code: 'no-session' }] };
    const plan = sessionPlans(entry.smtp)[session.index];
    const start = session.separator?.range.start ?? session.range.start;
    const errors = blockingErrors(entry.problems, entry.smtp, start, session.range.end).map((p) => ({ line: document.positionAt(p.range.start).line, message: p.message, code: p.code }));
    return { plan, errors };
  }
}

/** The file name a report is validated under: its own, or one with the extension its language gives. */
function reportFileName(document: TextDocument): string {
  const name = documentFileName(document.uri);
  if (/\.(xml|json)$/i.test(name)) return name;
  return `${name}.${document.languageId === 'xml' ? 'xml' : 'json'}`;
}

/**
 * The errors that keep a session from running, as `smtpwb run` decides too: the script's own errors
 * inside the session or before the first `###` (file variables). Problems of the message body
 * (`eml-*`) are advice about the message, which a probe may send malformed on purpose.
 */
function blockingErrors(problems: Problem[], analysis: SmtpAnalysis, start: number, end: number): Problem[] {
  return problems.filter(
    (p) => p.severity === 'error' && !p.code.startsWith('eml-') && ((p.range.start >= start && p.range.start <= end) || !inAnySession(analysis, p.range.start)),
  );
}

function inAnySession(analysis: SmtpAnalysis, offset: number): boolean {
  return analysis.document.sessions.some((s) => (s.separator?.range.start ?? s.range.start) <= offset && offset <= s.range.end);
}
