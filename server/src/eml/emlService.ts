/**
 * The `.eml` language service: one facade over the pure functions that parse, lint and describe a
 * message. Every function takes the document text and works with UTF-16 offsets; none throws.
 */
export { emlDocumentText, startsWithBom } from './documentText';
export { parseMessage } from './parser';
export type { HeaderField, MimePart, ParsedMessage, ParseOptions } from './parser';
export { lintMessage } from './lint';
export type { LintOptions } from './lint';
export { emlSymbols, emlFolding, emlHover } from './features';
export type { EmlSymbol, EmlFoldingRange, EmlHover, HoverOptions } from './features';
export { EML_PROBLEMS, findEmlProblem } from './emlProblems';
export { LineIndex } from './lines';
export type { Position } from './lines';
