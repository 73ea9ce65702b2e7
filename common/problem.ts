/**
 * The shape every analyser reports a problem in. Analysers work with offsets into the text they were
 * given; the language server and the CLI turn offsets into LSP positions in one place (see
 * server/src/diagnostics.ts), so no analyser needs to know about lines and columns.
 */

export type Severity = 'error' | 'warning' | 'info' | 'hint';

/** A half-open range of UTF-16 code-unit offsets into a document: [start, end). */
export interface OffsetRange {
  start: number;
  end: number;
}

/** A replacement of a range of the document, used by quick fixes. */
export interface TextEdit {
  range: OffsetRange;
  newText: string;
}

export interface QuickFix {
  title: string;
  edits: TextEdit[];
  /** Marks the fix the editor should prefer when several apply. */
  preferred?: boolean;
}

export interface Problem {
  /** A stable code such as `smtp-order-rcpt-before-mail` or `eml-date-syntax`. */
  code: string;
  severity: Severity;
  message: string;
  range: OffsetRange;
  /** Quick fixes that repair the problem, when it can be repaired mechanically. */
  fixes?: QuickFix[];
  /** Set when the problem marks code as unnecessary or deprecated, for editors that render that. */
  tags?: Array<'unnecessary' | 'deprecated'>;
}

/** What the problem catalogue knows of a code: its default severity and where its rule is written. */
export interface ProblemDefinition {
  code: string;
  severity: Severity;
  /** A short summary of the rule, for documentation and `--list-codes`. */
  summary: string;
  /** An RFC section (https://www.rfc-editor.org/rfc/rfcNNNN#section-X) or a docs/ page. */
  link: string;
}

/**
 * The link to a section of an RFC, in the rfc-editor.org form that editors open in a browser.
 * Numbered sections use `#section-N`; appendices, which start with a capital letter (`F.1`), use
 * `#appendix-F.1`; without a section the link is the whole RFC.
 */
export function rfcLink(rfc: number, section = ''): string {
  const base = `https://www.rfc-editor.org/rfc/rfc${rfc}`;
  if (section === '') return base;
  return /^[A-Z]/.test(section) ? `${base}#appendix-${section}` : `${base}#section-${section}`;
}

/** The link to a section of the project's own documentation. */
export function docsLink(page: string, anchor?: string): string {
  const base = `https://github.com/smtp-workbench/smtp-workbench/blob/main/docs/${page}`;
  return anchor ? `${base}#${anchor}` : base;
}
