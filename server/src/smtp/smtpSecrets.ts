/**
 * The one decision of whether a variable's value in a `.smtp` script is secret
 * (docs/smtp-language.md#variables): hover and completion mask such values, and the analyzer warns
 * when a literal value reaches a credential. A value is secret when its name looks secret
 * (`namesSecret`), when it reaches a credential position (the secret of an AUTH line, RFC 4954 §4),
 * directly or through other variables, or when it holds a secret itself (`$secret`, a masked
 * `$prompt`, or another secret variable). Pure; never throws.
 */
import { namesSecret } from '../../../common/variables';
import type { SessionItem, SessionNode, SmtpDocument, VariableNode, VariableReference } from './smtpAst';
import { itemsAsBuilt } from './smtpParser';
import { sessionScope, type Scope } from './smtpScopes';

/** Why a value is secret. */
export type SecretReason =
  /** The name looks like a secret (`pass`, `secret`, `token`, `key`, ...). */
  | 'name'
  /** The value reaches the secret of an AUTH line, directly or through other variables. */
  | 'credential'
  /** The value holds a secret: `$secret`, a masked `$prompt` or `$env`, or a secret variable. */
  | 'holds-secret';

/** What reaches the credential positions of one session or of a whole document. */
export interface CredentialSources {
  /** The definitions whose values reach a credential, as the session's scope resolves them. */
  readonly variables: ReadonlySet<VariableNode>;
  /**
   * Every name whose value reaches a credential: the variables' names, the names of variables
   * from outside the script, and the arguments of `$env`, `$dotenv` and `$prompt`.
   */
  readonly names: ReadonlySet<string>;
}

/**
 * The `{{…}}` references of each session's AUTH secrets, kept with the session's items as built:
 * an edit above a session moves it but leaves these the same (only their names and arguments are
 * read here, never their positions), so a keystroke reads no session it did not change.
 */
const authSecretReferences = new WeakMap<readonly SessionItem[], readonly VariableReference[]>();

function credentialReferences(session: SessionNode): readonly VariableReference[] {
  const items = itemsAsBuilt(session);
  let found = authSecretReferences.get(items);
  if (!found) {
    const refs: VariableReference[] = [];
    for (const item of items) {
      const secret = item.kind === 'auth' ? item.args[1] : undefined;
      if (!secret) continue;
      for (const ref of item.references) if (ref.range.start >= secret.range.start && ref.range.end <= secret.range.end) refs.push(ref);
    }
    authSecretReferences.set(items, (found = refs));
  }
  return found;
}

/**
 * Adds what the credentials of one session reach to `variables` and `names`, following variable
 * definitions through the session's scope, as the engine substitutes them.
 */
function collect(session: SessionNode, scope: Scope, variables: Set<VariableNode>, names: Set<string>): void {
  const visit = (ref: VariableReference, depth: number): void => {
    if (ref.builtin) {
      if (ref.argument && ref.name !== 'secret') names.add(ref.argument.text);
      return;
    }
    names.add(ref.name);
    const definition = scope.variables.get(ref.name);
    if (!definition || variables.has(definition) || depth > 16) return;
    variables.add(definition);
    for (const next of definition.references) visit(next, depth + 1);
  };
  for (const ref of credentialReferences(session)) visit(ref, 0);
}

/** What reaches the AUTH secrets of one session, through its scope. */
export function sessionCredentialSources(session: SessionNode, scope: Scope): CredentialSources {
  const variables = new Set<VariableNode>();
  const names = new Set<string>();
  collect(session, scope, variables, names);
  return { variables, names };
}

/** What reaches the AUTH secrets of any session of a document, each through its own scope. */
export function documentCredentialSources(document: SmtpDocument, file: Scope): CredentialSources {
  const variables = new Set<VariableNode>();
  const names = new Set<string>();
  for (const session of document.sessions) {
    if (credentialReferences(session).length > 0) collect(session, sessionScope(file, session), variables, names);
  }
  return { variables, names };
}

/**
 * Whether a name read from outside the script (a variable of the selected environment, or the
 * argument of `$env`, `$dotenv` or `$prompt`) is secret.
 */
export function outsideNameSecret(name: string, sources: CredentialSources): boolean {
  return namesSecret(name) || sources.names.has(name);
}

/**
 * Why the value of the variable `name`, as `scope` resolves it, is secret; undefined when it is not.
 * The one decision that hover, completion and the analyzer share.
 */
export function variableSecrecy(name: string, scope: Scope, sources: CredentialSources): SecretReason | undefined {
  if (namesSecret(name)) return 'name';
  const definition = scope.variables.get(name);
  if (sources.names.has(name) || (definition && sources.variables.has(definition))) return 'credential';
  return definition && holdsSecret(definition, scope, sources, [name]) ? 'holds-secret' : undefined;
}

/** True when a definition's value takes something secret from a built-in or another variable. */
function holdsSecret(definition: VariableNode, scope: Scope, sources: CredentialSources, stack: string[]): boolean {
  for (const ref of definition.references) {
    if (ref.builtin) {
      if (ref.name === 'secret') return true;
      if ((ref.name === 'prompt' || ref.name === 'env' || ref.name === 'dotenv') && ref.argument && outsideNameSecret(ref.argument.text, sources)) return true;
      continue;
    }
    if (stack.includes(ref.name) || stack.length > 16) continue;
    if (namesSecret(ref.name) || sources.names.has(ref.name)) return true;
    const next = scope.variables.get(ref.name);
    if (next && (sources.variables.has(next) || holdsSecret(next, scope, sources, [...stack, ref.name]))) return true;
  }
  return false;
}
