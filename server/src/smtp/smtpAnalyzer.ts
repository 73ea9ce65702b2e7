/**
 * The rules of a `.smtp` script beyond its syntax: variables, the order of commands (RFC 5321
 * §4.1.4 and the extensions' RFCs), the limits of RFC 5321 §4.5.3.1, security and
 * internationalisation. It reads the tree from smtpParser.ts and never throws.
 */
import { checkHostName, isIpv4, isIpv6 } from '../../../common/connectTarget';
import { connectTarget, hostNameProblem } from './targetCache';
import type { OffsetRange, Problem, QuickFix } from '../../../common/problem';
import { commandFact } from '../facts/commands';
import { mailParameter, rcptParameter } from '../facts/esmtpKeywords';
import { ENGINE_AUTH_MECHANISMS, isEngineAuthMechanism, isKnownUnperformedMechanism, isTlsVersion, METADATA_KEYS, TIMEOUT_PHASES, TLS_DANE_VALUES, TLS_OPTIONS, TLS_VERSIONS } from '../facts/scriptVocabulary';
import type {
  AuthNode,
  CommandNode,
  MessageNode,
  MetadataNode,
  SessionItem,
  SessionNode,
  SmtpDocument,
  TlsNode,
  Token,
  VariableNode,
  VariableReference,
} from './smtpAst';
import { documentLineStart, documentText } from './smtpAst';
import { BUILTINS } from './smtpParser';
import { namedFiles, type NamedFile } from './smtpFiles';
import { moveProblem, moveRange } from './smtpMove';
import { problem } from './smtpProblems';
import { namesSecret } from '../../../common/variables';
import { fileScope, sessionScope, staticValue, type Scope } from './smtpScopes';
import { documentCredentialSources, sessionCredentialSources } from './smtpSecrets';
import { declaresBinaryMime, expectsSuccess, foldSession, greetedWithoutExtensions, pairSteps, type PairedStep, type SmtpState } from './smtpState';

export interface AnalyzeOptions {
  /** Variable names defined outside the file (the selected environment, `--var`). */
  externalVariables?: ReadonlySet<string>;
}

/** What the analysis of one session yields: cacheable while its text and the file's variables stay the same. */
export interface SessionAnalysis {
  problems: Problem[];
  /** The user variables the session references, in its commands and in its own definitions. */
  referenced: Set<string>;
  /** The names the session defines itself. */
  defined: Set<string>;
  /** Its `# @name` lines, checked for uniqueness across the file. */
  names: SessionName[];
  /** The files the session names (TLS ca=, cert=, key=, DATA < file), checked by the caller. */
  files: NamedFile[];
  /**
   * When set, the ranges and lines of `names` and `files` are relative to this place (the start
   * and first line of the session's chunk), as the parse cache keeps them, so that an analysis
   * reused for a moved session needs no copy; `problems` are always where they stand.
   */
  at?: { offset: number; line: number };
}

/** A `# @name` of a session: plain data, so that a cached analysis holds no nodes. */
export interface SessionName {
  name: string;
  range: OffsetRange;
  line: number;
}

/** Lints one DATA or BDAT body as a message; offsets are relative to the body. */
export type BodyLinter = (body: string) => Problem[];

/** Analyses one session against the file's variables. Never throws. */
export function analyzeSession(document: SmtpDocument, session: SessionNode, file: Scope, lintBody?: BodyLinter): SessionAnalysis {
  const problems: Problem[] = [];
  const scope = sessionScope(file, session);
  const used = new Set<VariableNode>();
  checkVariableDefinitions(session.items, problems, sessionCredentialSources(session, scope).variables);
  checkReferences(session.items, scope, problems, used);
  const names: SessionName[] = [];
  checkSessionRules(document, session, scope, problems, names);
  const defined = new Set<string>();
  const own: VariableNode[] = [];
  for (const item of session.items) {
    if (item.kind === 'variable' && item.value) {
      defined.add(item.name.text);
      own.push(item);
    }
  }
  checkCycles(scope, own, problems);
  for (const def of own) {
    if (!used.has(def) && !file.external.has(def.name.text)) problems.push(unused(def));
  }
  const referenced = new Set<string>();
  for (const item of session.items) for (const ref of item.references) if (!ref.builtin) referenced.add(ref.name);
  if (lintBody) {
    for (const item of session.items) {
      if ((item.kind === 'data' || item.kind === 'bdat') && item.body && item.body.lines.length > 0) {
        const base = item.body.range.start;
        for (const p of lintBody(documentText(document, base, item.body.range.end))) problems.push(moveProblem(p, { offset: base, line: 0 }));
      }
    }
  }
  return { problems, referenced, defined, names, files: namedFiles(session, scope) };
}

function unused(def: VariableNode): Problem {
  return { ...problem('smtp-variable-unused', def.name.range, `the variable "${def.name.text}" is never used`), tags: ['unnecessary'] };
}

export interface AnalyzeDocumentOptions extends AnalyzeOptions {
  lintBody?: BodyLinter;
  /** Checks the files the sessions name (smtpFiles.ts); no check without it. */
  checkFiles?: (files: readonly NamedFile[]) => Problem[];
  /** Supplies a session's analysis, from a cache when neither the session nor what it uses of the file has changed. */
  sessionAnalysis?: (session: SessionNode, file: Scope) => SessionAnalysis;
}

/** A session name where it stands in the document. */
function placedName(node: SessionName, at: SessionAnalysis['at']): SessionName {
  return at ? { name: node.name, range: moveRange(node.range, at), line: node.line + at.line } : node;
}

export function analyzeDocument(document: SmtpDocument, options: AnalyzeDocumentOptions = {}): Problem[] {
  const problems: Problem[] = [];
  const external = options.externalVariables ?? new Set<string>();
  const file = fileScope(document, external);
  const usedInPreamble = new Set<VariableNode>();

  checkVariableDefinitions(document.preamble, problems, documentCredentialSources(document, file).variables);
  checkReferences(document.preamble, file, problems, usedInPreamble);
  for (const item of document.preamble) {
    if (item.kind === 'metadata') problems.push(problem('smtp-metadata-unknown', item.range, 'metadata belongs inside a session, after its ### line'));
  }
  checkCycles(file, [...file.variables.values()], problems);

  const analyses = document.sessions.map((session) =>
    options.sessionAnalysis ? options.sessionAnalysis(session, file) : analyzeSession(document, session, file, options.lintBody),
  );
  // Names are placed in the document only to report a duplicate.
  const names = new Map<string, { node: SessionName; at: SessionAnalysis['at'] }>();
  for (const analysis of analyses) {
    for (const p of analysis.problems) problems.push(p);
    for (const node of analysis.names) {
      const previous = names.get(node.name);
      if (previous) {
        const here = placedName(node, analysis.at);
        problems.push(problem('smtp-session-name', here.range, `the name "${node.name}" is already used on line ${placedName(previous.node, previous.at).line + 1}`));
      } else names.set(node.name, { node, at: analysis.at });
    }
    if (options.checkFiles && analysis.files.length > 0) {
      const at = analysis.at;
      const files = at ? analysis.files.map((f) => ({ what: f.what, value: f.value, range: moveRange(f.range, at) })) : analysis.files;
      for (const p of options.checkFiles(files)) problems.push(p);
    }
  }
  // A file variable is used when the preamble references it, or a session that does not define
  // the same name itself.
  for (const item of document.preamble) {
    if (item.kind !== 'variable' || !item.value || usedInPreamble.has(item) || external.has(item.name.text)) continue;
    if (file.variables.get(item.name.text) !== item) continue; // A duplicate, reported as such.
    const name = item.name.text;
    if (!analyses.some((a) => a.referenced.has(name) && !a.defined.has(name))) problems.push(unused(item));
  }
  return problems;
}

/**
 * Checks duplicates and literal secrets among definitions. A value is a literal secret when the
 * name looks secret, or when the value reaches the secret of an AUTH line (`credentials`, from
 * smtpSecrets.ts), directly or through other variables: the same warning as a password written on
 * the AUTH line itself.
 */
function checkVariableDefinitions(items: readonly SessionItem[], problems: Problem[], credentials: ReadonlySet<VariableNode>): void {
  const seen = new Map<string, VariableNode>();
  for (const item of items) {
    if (item.kind !== 'variable' || !item.value) continue;
    const previous = seen.get(item.name.text);
    if (previous) {
      problems.push(problem('smtp-variable-duplicate', item.name.range, `"${item.name.text}" is already defined above in the same scope; this later definition wins`));
    }
    seen.set(item.name.text, item);
    if (item.value.text === '' || item.value.text.includes('{{')) continue;
    if (namesSecret(item.name.text)) {
      problems.push(secretFix(item.value, item.name.text, 'a secret written literally ends up in git and in every copy of the script'));
    } else if (credentials.has(item)) {
      problems.push(secretFix(item.value, item.name.text, `the value of "${item.name.text}" is used as an AUTH secret: a password written literally ends up in git and in every copy of the script`));
    }
  }
}

function secretFix(token: Token, suggestedName: string, message: string): Problem {
  const name = suggestedName.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'smtp-password';
  return problem('smtp-security-literal-secret', token.range, message, [
    { title: `Move the secret to {{$secret ${name}}}`, edits: [{ range: token.range, newText: `{{$secret ${name}}}` }], preferred: true },
  ]);
}

/** Checks every reference: defined, well-formed built-ins. Marks the definitions used. */
function checkReferences(items: readonly SessionItem[], scope: Scope, problems: Problem[], used: Set<VariableNode>): void {
  for (const item of items) {
    for (const ref of item.references) checkReference(ref, scope, problems, used);
  }
}

function checkReference(ref: VariableReference, scope: Scope, problems: Problem[], used: Set<VariableNode>): void {
  if (ref.builtin) {
    const builtin = BUILTINS[ref.name];
    if (!builtin) {
      problems.push(problem('smtp-variable-builtin-unknown', ref.nameRange, `unknown built-in "$${ref.name}": use ${Object.keys(BUILTINS).map((b) => '$' + b).join(', ')}`));
    } else if (builtin.argument && !ref.argument) {
      problems.push(problem('smtp-variable-builtin-argument', ref.range, `$${ref.name} needs a name: {{$${ref.name} NAME}}`));
    } else if (!builtin.argument && ref.argument) {
      problems.push(problem('smtp-variable-builtin-argument', ref.argument.range, `$${ref.name} takes no argument`));
    }
    return;
  }
  if (!/^[A-Za-z_][\w.-]*$/.test(ref.name)) return; // Reported by the parser.
  const definition = scope.variables.get(ref.name);
  if (definition) {
    used.add(definition);
    return;
  }
  if (scope.external.has(ref.name)) return;
  problems.push(problem('smtp-variable-undefined', ref.nameRange, `the variable "${ref.name}" is not defined: add "@${ref.name} = value" or define it in the selected environment`));
}

/** Reports variables, among `starts`, whose values reference each other in a cycle. */
function checkCycles(scope: Scope, starts: VariableNode[], problems: Problem[]): void {
  for (const start of starts) {
    const path: VariableNode[] = [];
    const visit = (node: VariableNode): boolean => {
      if (path.includes(node)) return node === start;
      if (path.length > 64) return false;
      path.push(node);
      for (const ref of node.references) {
        if (ref.builtin) continue;
        const next = scope.variables.get(ref.name);
        if (next && visit(next)) return true;
      }
      path.pop();
      return false;
    };
    if (visit(start)) {
      problems.push(problem('smtp-variable-cycle', start.name.range, `"${start.name.text}" references itself through ${path.map((p) => p.name.text).join(' → ')} → ${start.name.text}`));
    }
  }
}

/** The state before each step comes from the one fold of smtpState.ts, which completion shares. */
type SessionState = Readonly<SmtpState>;

function checkSessionRules(document: SmtpDocument, session: SessionNode, scope: Scope, problems: Problem[], names: SessionName[]): void {
  let allowCleartextAuth = false;
  let connect: SessionItem | undefined;
  const tlsOptions = new Map<string, Token>();

  for (const item of session.items) if (item.kind === 'metadata') allowCleartextAuth ||= checkMetadata(item, problems, names);

  for (const item of session.items) {
    if (item.kind !== 'connect') continue;
    if (connect) problems.push(problem('smtp-connect-duplicate', item.range, 'the session already has a CONNECT line'));
    else {
      connect = item;
      checkConnect(item, scope, problems);
    }
  }

  // Orphan and duplicate EXPECT lines are reported here; the fold pairs the steps the same way.
  pairSteps(session, problems);

  foldSession(session, scope, {
    visit: ({ item, step, state, ok }) => {
      if (item.kind === 'connect') {
        if (state.commandSeen && item === connect) problems.push(problem('smtp-connect-late', item.range, 'CONNECT must come before the first command of the session'));
        return;
      }
      if (item.kind === 'tls') {
        checkTls(item, tlsOptions, problems);
        if (state.tls && state.scheme !== 'smtps') problems.push(problem('smtp-tls-late', item.range, 'TLS has already started on this connection; these options do not apply to it'));
        return;
      }
      if (!step) return;
      if (state.quit && !state.raw) {
        problems.push(problem('smtp-order-after-quit', rangeOfVerb(item), 'nothing can follow QUIT: the server closes the connection (RFC 5321 §4.1.1.10)'));
      }
      const before = problems.length;
      switch (item.kind) {
        case 'auth':
          checkAuth(item, state, allowCleartextAuth, { document, session }, problems);
          break;
        case 'data':
        case 'bdat':
          checkMessage(item, state, step, problems);
          break;
        case 'command':
          checkCommandKept(item, state, scope, ok, problems);
          break;
      }
      // A command whose EXPECT asks for a refusal (4xx/5xx) is a deliberate test of the server's
      // order checks: the order problem is worth a warning, not an error that stops the run.
      if (!ok) {
        for (let i = before; i < problems.length; i++) {
          if (problems[i].code.startsWith('smtp-order-') && problems[i].severity === 'error') problems[i] = { ...problems[i], severity: 'warning' };
        }
      }
    },
  });
}

function rangeOfVerb(item: SessionItem) {
  if (item.kind === 'command' || item.kind === 'data' || item.kind === 'bdat') return item.verbToken.range;
  if (item.kind === 'auth' || item.kind === 'raw') return item.keyword.range;
  return item.range;
}

/** Checks a metadata line; returns true when it opts in to cleartext AUTH. */
function checkMetadata(item: MetadataNode, problems: Problem[], names: SessionName[]): boolean {
  const key = item.key.text.toLowerCase();
  switch (key) {
    case 'name': {
      const value = item.value?.text ?? '';
      if (!/^[\w.-]+$/.test(value)) {
        problems.push(problem('smtp-session-name', item.value?.range ?? item.key.range, 'a session name is letters, digits, "-", "_" and "."'));
      } else {
        names.push({ name: value, range: item.value!.range, line: item.line });
      }
      return false;
    }
    case 'allow-cleartext-auth':
    case 'pipelining':
      if (item.value) problems.push(problem('smtp-metadata-value', item.value.range, `# @${key} takes no value`));
      return key === 'allow-cleartext-auth';
    case 'timeout': {
      const parts = (item.value?.text ?? '').split(/\s+/).filter(Boolean);
      if (parts.length === 0) problems.push(problem('smtp-metadata-value', item.range, `# @timeout needs phase=seconds, with phases ${TIMEOUT_PHASES.join(', ')}`));
      let offset = item.value?.range.start ?? item.range.end;
      for (const part of parts) {
        const at = item.value ? item.value.range.start + item.value.text.indexOf(part, offset - item.value.range.start) : offset;
        const m = /^([a-z-]+)=(\d+(?:\.\d+)?)$/.exec(part);
        if (!m || !(TIMEOUT_PHASES as readonly string[]).includes(m[1]) || Number(m[2]) < 0.001 || Number(m[2]) > 2_147_483) {
          problems.push(problem('smtp-metadata-value', { start: at, end: at + part.length }, `"${part}" is not phase=seconds (0.001 to 2147483), with phases ${TIMEOUT_PHASES.join(', ')}`));
        }
        offset = at + part.length;
      }
      return false;
    }
    default:
      problems.push(problem('smtp-metadata-unknown', item.key.range, `unknown metadata "@${item.key.text}": use ${METADATA_KEYS.map((k) => '@' + k).join(', ')}`));
      return false;
  }
}

/** Reports a missing or malformed CONNECT target; the scheme it selects is decided by the fold (connectScheme). */
function checkConnect(item: Extract<SessionItem, { kind: 'connect' }>, scope: Scope, problems: Problem[]): void {
  if (!item.url) {
    problems.push(problem('smtp-connect-url', item.range, 'CONNECT needs a target: smtp://host:port, smtps://host, submission://host, lmtp://host:port, mx:domain or local'));
    return;
  }
  // A target that depends on a value known only at run time is checked by the engine.
  const value = staticValue(item.url.text, scope);
  if (value === undefined) return;
  const parsed = connectTarget(value);
  if (!parsed.ok) {
    const exact = value === item.url.text;
    problems.push(
      problem(
        'smtp-connect-url',
        exact ? { start: item.url.range.start + parsed.start, end: item.url.range.start + parsed.end } : item.url.range,
        exact ? parsed.message : `${parsed.message} (the target is "${value}")`,
      ),
    );
  }
}

function checkTls(item: TlsNode, seen: Map<string, Token>, problems: Problem[]): void {
  for (const option of item.options) {
    const key = option.key.text.toLowerCase();
    if (!(TLS_OPTIONS as readonly string[]).includes(key)) {
      problems.push(problem('smtp-tls-option', option.key.range, `unknown TLS option "${option.key.text}": use ${TLS_OPTIONS.map((o) => o + '=').join(', ')}`));
      continue;
    }
    if (!option.value || option.value.text === '') {
      problems.push(problem('smtp-tls-option', option.range, `${key} needs a value: ${key}=…`));
      continue;
    }
    const previous = seen.get(key);
    if (previous) problems.push(problem('smtp-tls-option', option.key.range, `${key} is already set`));
    seen.set(key, option.value);
    const value = option.value.text;
    if (key === 'verify') {
      if (!/^(on|off|true|false|yes|no)$/i.test(value)) problems.push(problem('smtp-tls-option', option.value.range, 'verify is on or off'));
      else if (/^(off|false|no)$/i.test(value)) {
        problems.push(problem('smtp-security-tls-verify-off', option.range, 'certificate verification is off: the session cannot tell the real server from an impostor; prefer ca=FILE for a private CA'));
      }
    } else if (key === 'dane') {
      if (!(TLS_DANE_VALUES as readonly string[]).includes(value.toLowerCase())) {
        problems.push(problem('smtp-tls-option', option.value.range, `dane is ${TLS_DANE_VALUES.join(', ')}`));
      }
    } else if (key === 'min' && !isTlsVersion(value)) {
      problems.push(problem('smtp-tls-option', option.value.range, `min is one of ${TLS_VERSIONS.join(', ')}`));
    } else if (key === 'sni' && !value.includes('{{') && checkHostName(value)) {
      problems.push(problem('smtp-tls-option', option.value.range, `sni must be a host name: ${checkHostName(value)}`));
    }
  }
  const keys = new Set(item.options.map((o) => o.key.text.toLowerCase()));
  if (keys.has('cert') !== keys.has('key') && !(seen.has('cert') && seen.has('key'))) {
    problems.push(problem('smtp-tls-option', item.range, 'a client certificate needs both cert=FILE and key=FILE'));
  }
}

function checkAuth(item: AuthNode, state: SessionState, allowCleartext: boolean, where: { document: SmtpDocument; session: SessionNode }, problems: Problem[]): void {
  if (!item.mechanism) {
    problems.push(problem('smtp-auth-arguments', item.range, `AUTH needs a mechanism, a user and a secret: AUTH PLAIN user {{$secret smtp-password}}`));
  } else {
    const mech = item.mechanism.text.toUpperCase();
    if (!isEngineAuthMechanism(mech)) {
      problems.push(
        problem(
          'smtp-auth-mechanism',
          item.mechanism.range,
          isKnownUnperformedMechanism(mech)
            ? `the engine does not perform ${mech}; use ${ENGINE_AUTH_MECHANISMS.join(', ')}, or RAW lines for a manual exchange`
            : `unknown mechanism "${item.mechanism.text}": use ${ENGINE_AUTH_MECHANISMS.join(', ')}`,
        ),
      );
    }
    if (item.args.length !== 2) {
      problems.push(problem('smtp-auth-arguments', item.args.length > 2 ? item.args[2].range : item.range, `AUTH ${mech} needs exactly a user and a ${mech === 'XOAUTH2' ? 'token' : 'secret'}`));
    } else if (!item.args[1].text.includes('{{')) {
      problems.push(secretFix(item.args[1], mech === 'XOAUTH2' ? 'oauth-token' : 'smtp-password', 'the password is written in the script: it ends up in git and in every copy'));
    }
  }
  if (state.raw) return;
  if (!state.greeted) problems.push(problem('smtp-order-auth-before-ehlo', item.keyword.range, 'send EHLO first: servers offer AUTH only in the EHLO reply (RFC 4954 §3)'));
  else if (greetedWithoutExtensions(state)) problems.push(extensionAfterHelo(item.keyword.range, 'AUTH', state));
  if (state.mail) problems.push(problem('smtp-order-auth-in-transaction', item.keyword.range, 'AUTH is not permitted during a mail transaction (RFC 4954 §4)'));
  if (state.authenticated) problems.push(problem('smtp-order-auth-twice', item.keyword.range, 'the session is already authenticated; a second AUTH is refused with 503 (RFC 4954 §4)'));
  // A target known only at run time (CONNECT {{server}} from the environment) is checked by the
  // engine, which refuses AUTH without TLS there.
  if (!state.tls && !allowCleartext && state.scheme !== 'unknown') {
    problems.push(
      problem(
        'smtp-security-cleartext-auth',
        item.keyword.range,
        'AUTH on a connection without TLS sends the credentials in clear: add STARTTLS before it, connect with smtps://, or opt in with "# @allow-cleartext-auth"',
        cleartextAuthFixes(item, state, where.document, where.session),
      ),
    );
  }
}

/**
 * The repairs of AUTH over cleartext: STARTTLS and a new greeting before the AUTH line (RFC 3207
 * §4.2 makes the client greet again), or the session's opt-in for a deliberate test.
 */
function cleartextAuthFixes(item: AuthNode, state: SessionState, document: SmtpDocument, session: SessionNode): QuickFix[] {
  const fixes: QuickFix[] = [];
  const lineStart = documentLineStart(document, item.line) ?? item.range.start;
  const indent = documentText(document, lineStart, item.range.start);
  const greeting = state.greeting;
  if (greeting && !state.mail && !state.starttls && state.scheme !== 'smtps') {
    // After HELO the server offers no STARTTLS (RFC 5321 §2.2.1): the fix greets with EHLO instead,
    // and greets with EHLO again after TLS starts, as RFC 3207 §4.2 asks.
    const helo = greeting.name === 'HELO';
    const verb = helo ? extendedGreeting(state) : documentText(document, greeting.verbToken.range.start, greeting.verbToken.range.end);
    const again = verb + documentText(document, greeting.verbToken.range.end, greeting.range.end);
    const insert = { range: { start: lineStart, end: lineStart }, newText: `${indent}STARTTLS\n${indent}${again}\n` };
    fixes.push(
      helo
        ? { title: `Greet with ${verb} instead of HELO, and add STARTTLS and ${verb} before AUTH`, edits: [{ range: greeting.verbToken.range, newText: verb }, insert], preferred: true }
        : { title: `Add STARTTLS and ${greeting.name} before AUTH`, edits: [insert], preferred: true },
    );
  }
  const optIn = '# @allow-cleartext-auth';
  fixes.push(
    session.separator
      ? { title: `Allow cleartext AUTH in this session (${optIn})`, edits: [{ range: { start: session.separator.range.end, end: session.separator.range.end }, newText: `\n${optIn}` }] }
      : { title: `Allow cleartext AUTH in this session (${optIn})`, edits: [{ range: { start: documentLineStart(document, session.line) ?? session.range.start, end: documentLineStart(document, session.line) ?? session.range.start }, newText: `${optIn}\n` }] },
  );
  return fixes;
}

/** The greeting that negotiates extensions on the session's connection: LHLO on LMTP, else EHLO. */
function extendedGreeting(state: SessionState): 'EHLO' | 'LHLO' {
  return state.scheme === 'lmtp' ? 'LHLO' : 'EHLO';
}

/**
 * An extension (a command or a MAIL/RCPT parameter) used after HELO: the server offers none
 * (RFC 5321 §2.2.1, §4.1.1.1), so it refuses the command (502 or 503) or the parameter (555,
 * §4.1.1.11). The fix greets with EHLO (LHLO on LMTP) instead of the HELO in force.
 */
function extensionAfterHelo(range: OffsetRange, what: string, state: SessionState): Problem {
  const verb = extendedGreeting(state);
  const greeting = state.greeting;
  // Messages name no line: a cached analysis is reused when its session moves (smtpMove.ts).
  return problem(
    'smtp-order-extension-after-helo',
    range,
    `${what} is an ESMTP extension, but the session greeted with HELO: a server offers extensions only in its reply to ${verb} (RFC 5321 §2.2.1, §4.1.1.1)`,
    greeting ? [{ title: `Greet with ${verb} instead of HELO`, edits: [{ range: greeting.verbToken.range, newText: verb }], preferred: true }] : undefined,
  );
}

/**
 * What checkCommand found for a command, with everything it read besides the command itself: the
 * state fields it looks at, whether the step's EXPECT asks for success, and the one value it takes
 * from the variables (the greeting's argument or the path's address, substituted). Typing into a
 * file variable has every session that uses it analysed again; a command whose inputs are the same
 * as last time (every one but the MAIL FROM that uses the variable) is not checked again. Commands
 * are values, so the answer is kept with the node.
 */
interface CommandCheck {
  readonly ok: boolean;
  readonly raw: boolean;
  readonly scheme: SessionState['scheme'];
  readonly starttls: boolean;
  readonly greeted: boolean;
  readonly esmtp: boolean;
  readonly greeting: CommandNode | undefined;
  readonly needGreetingAfterTls: boolean;
  readonly mail: CommandNode | undefined;
  readonly value: string | undefined;
  readonly problems: readonly Problem[];
}

const commandChecks = new WeakMap<CommandNode, CommandCheck>();

function checkCommandKept(item: CommandNode, state: SessionState, scope: Scope, ok: boolean, problems: Problem[]): void {
  const text = item.name === 'MAIL' || item.name === 'RCPT' ? item.path?.address.text : item.name === 'EHLO' || item.name === 'HELO' || item.name === 'LHLO' ? item.argument?.text : undefined;
  const value = text === undefined ? undefined : staticValue(text, scope);
  const kept = commandChecks.get(item);
  if (
    kept &&
    kept.ok === ok &&
    kept.raw === state.raw &&
    kept.scheme === state.scheme &&
    kept.starttls === state.starttls &&
    kept.greeted === state.greeted &&
    kept.esmtp === state.esmtp &&
    kept.greeting === state.greeting &&
    kept.needGreetingAfterTls === state.needGreetingAfterTls &&
    kept.mail === state.mail &&
    kept.value === value
  ) {
    for (const p of kept.problems) problems.push(p);
    return;
  }
  const found: Problem[] = [];
  checkCommand(item, state, scope, ok, found);
  commandChecks.set(item, { ok, raw: state.raw, scheme: state.scheme, starttls: state.starttls, greeted: state.greeted, esmtp: state.esmtp, greeting: state.greeting, needGreetingAfterTls: state.needGreetingAfterTls, mail: state.mail, value, problems: found });
  for (const p of found) problems.push(p);
}

function checkCommand(item: CommandNode, state: SessionState, scope: Scope, ok: boolean, problems: Problem[]): void {
  const fact = commandFact(item.name);
  const verb = item.verbToken.range;
  if (!fact || item.name === 'AUTH') {
    problems.push(problem('smtp-command-unknown', verb, `unknown command "${item.verbToken.text}": it is sent as written`));
  }
  checkCommandLineLength(item, problems);
  if (fact) {
    if (fact.args === 'none' && item.argument && item.name !== 'DATA') {
      problems.push(problem('smtp-syntax-argument', item.argument.range, `${item.name} takes no argument`, [
        { title: `Remove the argument of ${item.name}`, edits: [{ range: { start: item.verbToken.range.end, end: item.argument.range.end }, newText: '' }] },
      ]));
    } else if (fact.args === 'required' && !item.argument) {
      problems.push(problem('smtp-syntax-argument', verb, `${item.name} needs an argument: ${fact.syntax}`));
    }
  }
  if (state.raw) return;
  // Commands that need an EHLO keyword (RFC 5321 §2.2.1); STARTTLS is checked below with its own rules.
  if (fact?.requiresKeyword && item.name !== 'STARTTLS' && greetedWithoutExtensions(state)) problems.push(extensionAfterHelo(verb, item.name, state));
  if ((item.name === 'MAIL' || item.name === 'RCPT') && greetedWithoutExtensions(state)) {
    // Every MAIL and RCPT parameter belongs to an extension (RFC 5321 §4.1.2, Mail-parameters).
    for (const param of item.parameters) problems.push(extensionAfterHelo(param.range, `the ${item.name} parameter ${param.name.text.toUpperCase()}`, state));
  }

  switch (item.name) {
    case 'HELO':
    case 'EHLO':
    case 'LHLO': {
      if (item.argument) checkGreetingArgument(item.argument, scope, problems);
      if (item.name === 'LHLO' && state.scheme !== 'lmtp' && state.scheme !== 'unknown') {
        problems.push(problem('smtp-order-lhlo-on-smtp', verb, 'LHLO is LMTP\'s greeting; an SMTP server expects EHLO (RFC 2033 §4.1)'));
      }
      if (item.name !== 'LHLO' && state.scheme === 'lmtp') {
        problems.push(problem('smtp-order-ehlo-on-lmtp', verb, `an LMTP server expects LHLO, not ${item.name} (RFC 2033 §4.1)`, [
          { title: 'Replace with LHLO', edits: [{ range: verb, newText: 'LHLO' }], preferred: true },
        ]));
      }
      break;
    }
    case 'STARTTLS':
      if (state.scheme === 'smtps') problems.push(problem('smtp-order-starttls-implicit-tls', verb, 'smtps:// already uses TLS from the start (RFC 8314); STARTTLS would be refused'));
      else if (state.starttls) problems.push(problem('smtp-order-starttls-twice', verb, 'TLS is already active: a second STARTTLS is refused with 503 (RFC 3207 §4.2)'));
      else if (!state.greeted) problems.push(problem('smtp-order-starttls-before-ehlo', verb, 'send EHLO first: STARTTLS is offered only in the EHLO reply (RFC 3207 §4)'));
      else if (greetedWithoutExtensions(state)) problems.push(extensionAfterHelo(verb, 'STARTTLS', state));
      if (state.mail) problems.push(problem('smtp-order-starttls-in-transaction', verb, 'STARTTLS during a mail transaction'));
      break;
    case 'MAIL':
      checkPath(item, 'FROM', state, scope, problems);
      if (state.needGreetingAfterTls) {
        problems.push(problem('smtp-order-ehlo-after-starttls', verb, 'after STARTTLS the client must send EHLO again before MAIL (RFC 3207 §4.2)'));
      } else if (!state.greeted) {
        problems.push(problem('smtp-order-mail-before-helo', verb, 'MAIL before EHLO or HELO: the server expects a greeting first (RFC 5321 §4.1.4)'));
      }
      if (state.mail && ok) problems.push(problem('smtp-order-mail-in-transaction', verb, `a transaction is already open (MAIL FROM:<${state.mail.path?.address.text ?? ''}>): finish it with DATA or RSET first`));
      break;
    case 'RCPT':
      checkPath(item, 'TO', state, scope, problems);
      if (!state.mail) problems.push(problem('smtp-order-rcpt-before-mail', verb, 'RCPT before MAIL: a recipient needs an open transaction (RFC 5321 §4.1.4)'));
      break;
    case 'TURN':
      problems.push(problem('smtp-security-turn', verb, 'TURN reverses the roles without authenticating the client: obsolete and insecure (RFC 2645 §1)'));
      break;
    case 'VRFY':
    case 'EXPN':
      problems.push(problem('smtp-security-harvesting', verb, `${item.name} tells the client which addresses exist; servers often disable it against address harvesting (RFC 5321 §7.3)`));
      break;
  }
}

function checkCommandLineLength(item: CommandNode, problems: Problem[]): void {
  // RFC 5321 §4.5.3.1.4: a command line is at most 512 octets, CRLF included. A UTF-16 code unit
  // is at most 3 octets in UTF-8: a line that short cannot be too long, and is not measured.
  const units = item.verbToken.text.length + (item.argument ? 1 + item.argument.text.length : 0);
  if (units * 3 + 2 <= 512) return;
  const text = item.verbToken.text + (item.argument ? ' ' + item.argument.text : '');
  const octets = Buffer.byteLength(text, 'utf8') + 2;
  if (octets > 512) problems.push(problem('smtp-limit-command-line', item.range, `the command line is ${octets} octets with CRLF; the limit is 512`));
}

function checkGreetingArgument(arg: Token, scope: Scope, problems: Problem[]): void {
  const value = staticValue(arg.text, scope);
  if (value === undefined) return;
  if (/\s/.test(value)) {
    problems.push(problem('smtp-syntax-domain', arg.range, 'the greeting takes one domain or address literal'));
    return;
  }
  if (value.startsWith('[')) {
    const inner = value.endsWith(']') ? value.slice(1, -1) : '';
    if (!(isIpv4(inner) || (/^IPv6:/i.test(inner) && isIpv6(inner.slice(5))))) {
      problems.push(problem('smtp-syntax-domain', arg.range, 'an address literal is [IPv4] or [IPv6:address] (RFC 5321 §4.1.3)'));
    }
    return;
  }
  const bad = hostNameProblem(value);
  if (bad) problems.push(problem('smtp-syntax-domain', arg.range, `${bad}; use the client's fully qualified domain name or an address literal like [192.0.2.1]`));
}

/** Checks the path and parameters of MAIL FROM or RCPT TO (RFC 5321 §4.1.2, §4.5.3.1). */
function checkPath(item: CommandNode, keyword: 'FROM' | 'TO', state: SessionState, scope: Scope, problems: Problem[]): void {
  const verb = item.name;
  if (!item.argument) {
    problems.push(problem('smtp-syntax-path-keyword', item.verbToken.range, `${verb} needs ${keyword}:<address>`));
    return;
  }
  if (!item.pathKeyword || item.pathKeyword.text.replace(/\s*:$/, '').toUpperCase() !== keyword) {
    const range = item.pathKeyword?.range ?? item.argument.range;
    problems.push(problem('smtp-syntax-path-keyword', range, `${verb} is written ${verb} ${keyword}:<address>`));
    return;
  }
  if (/\s:$/.test(item.pathKeyword.text)) {
    problems.push(problem('smtp-syntax-path-keyword', item.pathKeyword.range, `no blank before the colon: ${keyword}:`));
  }
  const path = item.path;
  if (!path) {
    problems.push(problem('smtp-syntax-path-brackets', item.pathKeyword.range, `${keyword}: needs an address in angle brackets, e.g. ${keyword}:<${keyword === 'FROM' ? '' : 'bob@example.test'}>`));
    return;
  }
  if (path.range.start > item.pathKeyword.range.end) {
    problems.push(problem('smtp-syntax-path-space', { start: item.pathKeyword.range.end, end: path.range.start }, `RFC 5321 allows no blank after "${keyword}:"; strict servers answer 501`, [
      { title: 'Remove the blank', edits: [{ range: { start: item.pathKeyword.range.end, end: path.range.start }, newText: '' }], preferred: true },
    ]));
  }
  if (!path.bracketed) {
    problems.push(
      problem('smtp-syntax-path-brackets', path.range, 'the path must be written in angle brackets', [
        {
          title: 'Add angle brackets',
          edits: path.range.start === path.address.range.start
            ? [{ range: path.range, newText: `<${path.address.text}>` }]
            : [{ range: { start: path.range.end, end: path.range.end }, newText: '>' }],
          preferred: true,
        },
      ]),
    );
  }
  const raw = path.address.text;
  const address = staticValue(raw, scope);
  if (address !== undefined) checkAddress(item, address, raw === address, path.address.range, keyword, state, problems);
  for (const p of parameterProblems(item, keyword)) problems.push(p);
}

function checkAddress(
  item: CommandNode,
  address: string,
  exact: boolean,
  range: { start: number; end: number },
  keyword: 'FROM' | 'TO',
  state: SessionState,
  problems: Problem[],
): void {
  if (address === '') {
    if (keyword === 'TO') problems.push(problem('smtp-syntax-null-path', range.start === range.end ? item.path!.range : range, 'the null path <> is allowed only in MAIL FROM (RFC 5321 §4.1.1.3)'));
    return;
  }
  // A source route (@a,@b:user@domain) is obsolete but must be accepted (RFC 5321 §4.1.2, C).
  const mailbox = address.replace(/^(@[^,:]+,)*@[^,:]+:/, '');
  const at = mailbox.lastIndexOf('@');
  if (at < 0) {
    if (keyword === 'TO' && /^postmaster$/i.test(mailbox)) return;
    problems.push(problem('smtp-syntax-address', range, `"${address}" has no domain: write local-part@domain`));
    return;
  }
  const local = mailbox.slice(0, at);
  const domain = mailbox.slice(at + 1);
  const localOctets = utf8Length(local);
  const domainOctets = utf8Length(domain);
  const pathOctets = utf8Length(address) + 2;
  const sub = (from: number, length: number) => (exact ? { start: range.start + from, end: range.start + from + length } : range);
  const localStart = address.length - mailbox.length;
  if (!validLocalPart(local)) problems.push(problem('smtp-syntax-address', sub(localStart, local.length), `"${local}" is not a valid local-part: use a dot-atom or a quoted string`));
  if (domainOctets <= 255 && !validDomainOrLiteral(domain)) problems.push(problem('smtp-syntax-address', sub(localStart + at + 1, domain.length), `"${domain}" is not a valid domain or address literal`));
  if (localOctets > 64) problems.push(problem('smtp-limit-local-part', sub(localStart, local.length), `the local-part is ${localOctets} octets; the limit is 64`));
  if (domainOctets > 255) problems.push(problem('smtp-limit-domain', sub(localStart + at + 1, domain.length), `the domain is ${domainOctets} octets; the limit is 255`));
  if (pathOctets > 256) problems.push(problem('smtp-limit-path', item.path!.range, `the path is ${pathOctets} octets with its brackets; the limit is 256`));
  // RFC 6531 §3.4: a non-ASCII address needs SMTPUTF8 on the transaction's MAIL FROM.
  if (/[^\x00-\x7f]/.test(address)) {
    const mail = keyword === 'FROM' ? item : state.mail;
    if (mail && !mail.parameters.some((p) => p.name.text.toUpperCase() === 'SMTPUTF8')) {
      problems.push(problem('smtp-i18n-smtputf8-required', range, 'a non-ASCII address needs SMTPUTF8 on MAIL FROM (RFC 6531 §3.4)', [appendParameter(mail, 'SMTPUTF8')]));
    }
  }
}

/** The length of a string in UTF-8 octets, counted in place for ASCII (the usual address). */
function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return Buffer.byteLength(text, 'utf8');
  return text.length;
}

function appendParameter(mail: CommandNode, parameter: string): QuickFix {
  return { title: `Add ${parameter} to MAIL FROM`, edits: [{ range: { start: mail.range.end, end: mail.range.end }, newText: ` ${parameter}` }], preferred: true };
}

const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+$/;

/** Answers of validLocalPart for the local-parts seen lately: a script repeats its addresses in every session. */
const localParts = new Map<string, boolean>();

function validLocalPart(local: string): boolean {
  let valid = localParts.get(local);
  if (valid === undefined) {
    if (localParts.size >= 512) localParts.clear();
    localParts.set(local, (valid = checkLocalPart(local)));
  }
  return valid;
}

function checkLocalPart(local: string): boolean {
  if (local.startsWith('"')) return /^"(?:[^"\\\r\n]|\\[\x20-\x7e])*"$/.test(local);
  return local !== '' && local.split('.').every((atom) => ATEXT.test(atom));
}

function validDomainOrLiteral(domain: string): boolean {
  if (domain.startsWith('[')) {
    const inner = domain.endsWith(']') ? domain.slice(1, -1) : '';
    return isIpv4(inner) || (/^IPv6:/i.test(inner) && isIpv6(inner.slice(5))) || /^[A-Za-z0-9-]*[A-Za-z0-9]:[\x21-\x5a\x5e-\x7e]+$/.test(inner);
  }
  return hostNameProblem(domain) === undefined;
}

/**
 * The problems of a command's ESMTP parameters depend on the command alone, not on variables or
 * state: they are kept with the node (trees are values, so a node's answer never changes). Typing
 * into a file variable re-analyses every session that uses it, and their MAIL and RCPT parameters
 * need not be validated again.
 */
const parameterChecks = new WeakMap<CommandNode, readonly Problem[]>();

function parameterProblems(item: CommandNode, keyword: 'FROM' | 'TO'): readonly Problem[] {
  let found = parameterChecks.get(item);
  if (!found) {
    const problems: Problem[] = [];
    if (item.parameters.length > 0) checkParameters(item, keyword, problems);
    parameterChecks.set(item, (found = problems));
  }
  return found;
}

function checkParameters(item: CommandNode, keyword: 'FROM' | 'TO', problems: Problem[]): void {
  const seen = new Set<string>();
  for (const param of item.parameters) {
    const name = param.name.text.toUpperCase();
    if (seen.has(name)) problems.push(problem('smtp-param-duplicate', param.range, `${name} is given twice`));
    seen.add(name);
    if (param.name.text.includes('{{') || param.value?.text.includes('{{')) continue;
    const fact = keyword === 'FROM' ? mailParameter(name) : rcptParameter(name);
    if (!fact) {
      const other = keyword === 'FROM' ? rcptParameter(name) : mailParameter(name);
      if (other) problems.push(problem('smtp-param-value', param.name.range, `${name} is a ${keyword === 'FROM' ? 'RCPT TO' : 'MAIL FROM'} parameter`));
      else problems.push(problem('smtp-param-unknown', param.name.range, `unknown ${keyword === 'FROM' ? 'MAIL' : 'RCPT'} parameter "${param.name.text}": it is sent as written`));
      continue;
    }
    const error = fact.validate(param.value?.text);
    // The validators' messages name the parameter themselves ("SIZE must be …"); others get it in front.
    if (error) problems.push(problem('smtp-param-value', param.value?.range ?? param.range, error.toUpperCase().startsWith(name + ' ') ? error : `${name}: ${error}`));
  }
}

function checkMessage(item: MessageNode, state: SessionState, step: PairedStep, problems: Problem[]): void {
  const verb = item.verbToken.range;
  const name = item.kind === 'data' ? 'DATA' : 'BDAT';
  if (item.extra) {
    problems.push(problem('smtp-syntax-argument', item.extra.range, item.kind === 'data' ? 'DATA takes no argument but "< file"' : 'BDAT takes "< file" and "chunk=N"'));
  }
  if (item.body) checkBody(item, state, problems);
  if (state.raw) return;
  if (state.needGreetingAfterTls) {
    problems.push(problem('smtp-order-ehlo-after-starttls', verb, 'after STARTTLS the client must send EHLO again (RFC 3207 §4.2)'));
  }
  // BDAT is the CHUNKING extension (RFC 3030 §2), which HELO does not negotiate.
  if (item.kind === 'bdat' && greetedWithoutExtensions(state)) problems.push(extensionAfterHelo(verb, 'BDAT', state));
  // RFC 3030 §3: a message declared BODY=BINARYMIME is sent only with BDAT; DATA gets 503.
  if (item.kind === 'data' && declaresBinaryMime(state.mail)) {
    problems.push(
      problem(
        'smtp-order-binarymime-data',
        verb,
        'the transaction\'s MAIL FROM declares BODY=BINARYMIME: such a message is sent only with BDAT, and the server answers DATA with 503 (RFC 3030 §3)',
        // A script writes a BDAT body as a DATA body, so only the verb changes; DATA before RAW has no body to move.
        item.body || item.file ? [{ title: 'Send the message with BDAT', edits: [{ range: verb, newText: 'BDAT' }], preferred: true }] : undefined,
      ),
    );
  }
  // A DATA that the script expects to be refused (EXPECT 554 …) is a deliberate probe.
  const probing = !expectsSuccess(step);
  if (!probing) {
    if (!state.mail) problems.push(problem('smtp-order-data-before-rcpt', verb, `${name} before MAIL and RCPT: there is no transaction (RFC 5321 §4.1.4)`));
    else if (state.recipients === 0) problems.push(problem('smtp-order-data-before-rcpt', verb, `${name} before a successful RCPT: the server answers 554 (RFC 5321 §4.1.1.4)`));
  }
}

/** Checks an inline body: leading dots, line lengths, 8-bit data (RFC 5321 §4.5.2, §4.5.3.1.6; RFC 6152, 6532). */
function checkBody(item: MessageNode, state: SessionState, problems: Problem[]): void {
  const { lineProblems, eightBitHeaders, eightBitBody } = bodyLines(item);
  for (const p of lineProblems) problems.push(p);
  const mail = state.mail;
  if (!mail || state.raw) return;
  const params = new Map(mail.parameters.map((p) => [p.name.text.toUpperCase(), p.value?.text.toUpperCase() ?? '']));
  if (eightBitHeaders && !params.has('SMTPUTF8')) {
    problems.push(problem('smtp-i18n-utf8-headers', eightBitHeaders.range, 'UTF-8 in header fields needs SMTPUTF8 on MAIL FROM (RFC 6532 §3)', [appendParameter(mail, 'SMTPUTF8')]));
  }
  const body = params.get('BODY');
  if (eightBitBody && body !== '8BITMIME' && body !== 'BINARYMIME') {
    problems.push(problem('smtp-i18n-8bit-body', eightBitBody.range, '8-bit text in the body needs BODY=8BITMIME on MAIL FROM (RFC 6152 §3); without it the server may refuse or damage the message', [
      appendParameter(mail, 'BODY=8BITMIME'),
    ]));
  }
}

/** What a body's lines say on their own, whatever the session: kept with the node (see parameterProblems). */
interface BodyLineFacts {
  lineProblems: readonly Problem[];
  eightBitHeaders?: Token;
  eightBitBody?: Token;
}

const bodyLineFacts = new WeakMap<MessageNode, BodyLineFacts>();

function bodyLines(item: MessageNode): BodyLineFacts {
  let found = bodyLineFacts.get(item);
  if (!found) bodyLineFacts.set(item, (found = scanBodyLines(item)));
  return found;
}

function scanBodyLines(item: MessageNode): BodyLineFacts {
  const problems: Problem[] = [];
  let inHeaders = true;
  let eightBitHeaders: Token | undefined;
  let eightBitBody: Token | undefined;
  for (const line of item.body!.lines) {
    const text = line.text;
    if (inHeaders && text === '') inHeaders = false;
    if (text.startsWith('.') && !text.startsWith('..')) {
      problems.push(
        problem('smtp-data-single-dot', { start: line.range.start, end: line.range.start + 1 }, 'the server removes a leading "." (RFC 5321 §4.5.2): write ".." for a line that starts with a dot', [
          { title: 'Double the leading dot', edits: [{ range: { start: line.range.start, end: line.range.start }, newText: '.' }], preferred: true },
        ]),
      );
    }
    if (text.length > 300) {
      const octets = Buffer.byteLength(text, 'utf8') + 2;
      if (octets > 1000) problems.push(problem('smtp-limit-text-line', line.range, `the line is ${octets} octets with CRLF; the limit is 1000 (RFC 5321 §4.5.3.1.6)`));
    }
    if (/[^\x00-\x7f]/.test(text) && !text.includes('{{')) {
      if (inHeaders) eightBitHeaders ??= line;
      else eightBitBody ??= line;
    }
  }
  return { lineProblems: problems, ...(eightBitHeaders ? { eightBitHeaders } : {}), ...(eightBitBody ? { eightBitBody } : {}) };
}
