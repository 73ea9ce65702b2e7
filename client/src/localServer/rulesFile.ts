/**
 * A behaviour-rules file read from disk for `smtpwb serve --rules` and `smtpwb run --rules`: the
 * rules, or the problems that refuse them, as `file:line:col severity code message` lines (the
 * positions from the same parser the language server lints the file with).
 */
import { promises as fs } from 'node:fs';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { parseCaptureRules, sizeLimitProblems, type CaptureRules } from '../../../common/captureRules';
import { visibleLine } from '../../../common/escape';

/**
 * Reads and checks a rules file; the problems as `file:line:col severity code message` lines. With
 * the server's SIZE limit (0 for none), a rule that advertises more than the server accepts is an
 * error too (`rules-size-over-limit`, RFC 1870 §4), at its position.
 */
export async function loadRulesFile(path: string, sizeLimit = 0): Promise<{ rules?: CaptureRules; lines: string[]; errors: boolean }> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (error) {
    return { lines: [`${path}: cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`], errors: true };
  }
  const parsed = parseCaptureRules(text);
  const problems = [...parsed.problems, ...sizeLimitProblems(parsed.rules, sizeLimit)];
  const document = TextDocument.create('file://rules', 'json', 1, text);
  const lines = problems.map((p) => {
    const at = document.positionAt(p.range.start);
    return visibleLine(`${path}:${at.line + 1}:${at.character + 1} ${p.severity} ${p.code} ${p.message}`);
  });
  const errors = problems.some((p) => p.severity === 'error');
  return { rules: errors ? undefined : parsed.rules, lines, errors };
}
