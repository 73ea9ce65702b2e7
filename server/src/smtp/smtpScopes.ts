/**
 * Variable scopes of a `.smtp` document: file variables (before the first `###`) and each session's
 * own variables, which override file variables of the same name (docs/smtp-language.md#variables).
 */
import type { SessionNode, SmtpDocument, VariableNode } from './smtpAst';

export interface Scope {
  /** The definition that wins for each visible name. */
  variables: Map<string, VariableNode>;
  /** Names defined outside the file (the selected environment, `--var`), which are always defined. */
  external: ReadonlySet<string>;
}

export function fileScope(document: SmtpDocument, external: ReadonlySet<string> = new Set()): Scope {
  const variables = new Map<string, VariableNode>();
  for (const item of document.preamble) if (item.kind === 'variable' && item.value) variables.set(item.name.text, item);
  return { variables, external };
}

export function sessionScope(file: Scope, session: SessionNode): Scope {
  // A session without variables of its own sees the file's scope as it is (scopes are only read).
  if (!session.items.some((item) => item.kind === 'variable' && item.value)) return file;
  const variables = new Map(file.variables);
  for (const item of session.items) if (item.kind === 'variable' && item.value) variables.set(item.name.text, item);
  return { variables, external: file.external };
}

/**
 * Substitutes user variables whose values are known statically, for checks that need the text a
 * command will have (addresses, CONNECT targets). Returns undefined when the text depends on a
 * built-in, an external value, an undefined variable or a cycle: such text is checked at run time.
 */
export function staticValue(text: string, scope: Scope, depth = 0): string | undefined {
  if (!text.includes('{{')) return text;
  if (depth > 16) return undefined;
  if (depth > 0) return substitute(text, scope, depth);
  // Every session that uses `{{from}}` asks for the same text in the same scope: answered once per
  // scope (a scope is made per analysis and only read, so its answers never change).
  let known = resolved.get(scope);
  if (!known) resolved.set(scope, (known = new Map()));
  if (known.has(text)) return known.get(text);
  const value = substitute(text, scope, depth);
  known.set(text, value);
  return value;
}

const resolved = new WeakMap<Scope, Map<string, string | undefined>>();

function substitute(text: string, scope: Scope, depth: number): string | undefined {
  let out = '';
  let from = 0;
  for (;;) {
    const open = text.indexOf('{{', from);
    if (open < 0) break;
    const close = text.indexOf('}}', open + 2);
    if (close < 0) return undefined;
    const name = text.slice(open + 2, close).trim();
    if (name.startsWith('$') || scope.external.has(name)) return undefined;
    const definition = scope.variables.get(name);
    if (!definition?.value) return undefined;
    const value = staticValue(definition.value.text, scope, depth + 1);
    if (value === undefined) return undefined;
    out += text.slice(from, open) + value;
    from = close + 2;
  }
  return out + text.slice(from);
}
