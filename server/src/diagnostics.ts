/**
 * Turns analysers' problems into LSP diagnostics, in one place for the language server and the
 * CLI: offsets become positions, the catalogue gives each code its documentation link.
 */
import type { Diagnostic } from 'vscode-languageserver-types';
import { DiagnosticSeverity, DiagnosticTag } from 'vscode-languageserver-types';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Problem, ProblemDefinition, Severity } from '../../common/problem';
import { SMTP_PROBLEMS } from './smtp/smtpProblems';
import { EML_PROBLEMS } from './eml/emlProblems';
import { REPORT_PROBLEMS } from './reports/reportProblems';
import { BULK_PROBLEMS } from './reports/bulkHeaders';
import { CAPTURE_RULE_PROBLEMS } from '../../common/captureRules';

const CATALOGUE = new Map<string, ProblemDefinition>(
  [...SMTP_PROBLEMS, ...EML_PROBLEMS, ...REPORT_PROBLEMS, ...BULK_PROBLEMS, ...CAPTURE_RULE_PROBLEMS].map((d) => [d.code, d]),
);

export function allProblemDefinitions(): ProblemDefinition[] {
  return [...CATALOGUE.values()];
}

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

const DIAGNOSTIC_SOURCE = 'smtp-workbench';

function toDiagnostic(problem: Problem, document: TextDocument): Diagnostic {
  const definition = CATALOGUE.get(problem.code);
  const diagnostic: Diagnostic = {
    range: { start: document.positionAt(problem.range.start), end: document.positionAt(problem.range.end) },
    severity: SEVERITY[problem.severity],
    code: problem.code,
    source: DIAGNOSTIC_SOURCE,
    message: problem.message,
  };
  if (definition) diagnostic.codeDescription = { href: definition.link };
  if (problem.tags) {
    diagnostic.tags = problem.tags.map((t) => (t === 'unnecessary' ? DiagnosticTag.Unnecessary : DiagnosticTag.Deprecated));
  }
  return diagnostic;
}

export function toDiagnostics(problems: Problem[], document: TextDocument): Diagnostic[] {
  return problems.map((p) => toDiagnostic(p, document));
}
