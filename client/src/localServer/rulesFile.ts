/**
 * A behaviour-rules file read from disk for `smtpwb serve --rules` and `smtpwb run --rules`: the
 * rules, or the problems that refuse them, as `file:line:col severity code message` lines (the
 * positions from the same parser the language server lints the file with).
 */
import { promises as fs } from 'node:fs';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { parseCaptureRules, type CaptureRules } from '../../../common/captureRules';
import { visibleLine } from '../../../common/escape';

/** Reads and checks a rules file; the problems as `file:line:col severity code message` lines. */
export async function loadRulesFile(path: string): Promise<{ rules?: CaptureRules; lines: string[]; errors: boolean }> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (error) {
    return { lines: [`${path}: cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`], errors: true };
  }
  const parsed = parseCaptureRules(text);
  const document = TextDocument.create('file://rules', 'json', 1, text);
  const lines = parsed.problems.map((p) => {
    const at = document.positionAt(p.range.start);
    return visibleLine(`${path}:${at.line + 1}:${at.character + 1} ${p.severity} ${p.code} ${p.message}`);
  });
  const errors = parsed.problems.some((p) => p.severity === 'error');
  return { rules: errors ? undefined : parsed.rules, lines, errors };
}
