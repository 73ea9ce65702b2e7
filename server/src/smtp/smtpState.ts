/**
 * The one fold of a session's SMTP state (RFC 5321 §4.1.4, RFC 3207, RFC 4954, RFC 2033): what the
 * script has said, under which EXPECT, and so what may come next. The analyzer checks each step
 * against the state before it, completion offers the commands the state after the last line allows,
 * and hovers describe it; all three fold the session here, so a line completion offers is a line
 * the analyzer accepts.
 *
 * A step whose EXPECT asks for a refusal (4xx or 5xx) is a deliberate probe: the server refuses it,
 * so it does not change the state (`MAIL FROM` + `EXPECT 550` opens no transaction).
 */
import { connectTarget } from './targetCache';
import type { Problem } from '../../../common/problem';
import { allRepliesOf, commandFact, type CommandFact } from '../facts/commands';
import type { AuthNode, CommandNode, ConnectNode, ExpectNode, MessageNode, RawNode, SessionItem, SessionNode } from './smtpAst';
import { problem } from './smtpProblems';
import { staticValue, type Scope } from './smtpScopes';

export type SessionScheme = 'smtp' | 'submission' | 'smtps' | 'lmtp' | 'mx' | 'local' | 'unknown';

/** A command, AUTH, DATA, BDAT or RAW item with the EXPECT lines that follow it. */
export interface PairedStep {
  item: CommandNode | AuthNode | MessageNode | RawNode;
  expects: ExpectNode[];
}

/** Pairs each step of a list of items with its EXPECT lines, reporting orphans and duplicates. */
function pairItems(items: readonly SessionItem[], problems?: Problem[]): PairedStep[] {
  const paired = pairedItems(items);
  if (problems) for (const p of paired.problems) problems.push(p);
  return paired.steps;
}

/**
 * The steps of a list of items, with the problems of pairing them and each item's step. Items are
 * values (trees never change once built), so the answer is kept with the list: the analyser, the
 * fold and completion all ask for the same session's steps, and typing into a file variable has
 * every session that uses it analysed again, with the same items.
 */
interface Paired {
  steps: PairedStep[];
  problems: Problem[];
  stepOf: Map<SessionItem, PairedStep>;
}

const pairings = new WeakMap<readonly SessionItem[], Paired>();

function pairedItems(items: readonly SessionItem[]): Paired {
  let found = pairings.get(items);
  if (!found) {
    const problems: Problem[] = [];
    const steps = pairNew(items, problems);
    found = { steps, problems, stepOf: new Map(steps.map((s) => [s.item, s])) };
    pairings.set(items, found);
  }
  return found;
}

function pairNew(items: readonly SessionItem[], problems?: Problem[]): PairedStep[] {
  const steps: PairedStep[] = [];
  let current: PairedStep | undefined;
  for (const item of items) {
    if (item.kind === 'comment' || item.kind === 'metadata' || item.kind === 'variable') continue;
    if (item.kind === 'expect') {
      if (!current) {
        problems?.push(problem('smtp-expect-orphan', item.range, 'EXPECT must follow the command whose reply it checks'));
      } else if (current.expects.length > 0 && current.item.kind !== 'raw') {
        problems?.push(problem('smtp-expect-duplicate', item.range, 'a second EXPECT for the same command: list every accepted reply on one EXPECT line'));
      } else {
        current.expects.push(item);
      }
      continue;
    }
    if (item.kind === 'command' || item.kind === 'auth' || item.kind === 'data' || item.kind === 'bdat' || item.kind === 'raw') {
      current = { item, expects: [] };
      steps.push(current);
    } else {
      // CONNECT and TLS take no EXPECT; an EXPECT after them is an orphan.
      current = undefined;
    }
  }
  return steps;
}

/** Pairs each step of a session with its EXPECT lines, reporting orphans and duplicates. */
export function pairSteps(session: SessionNode, problems?: Problem[]): PairedStep[] {
  return pairItems(session.items, problems);
}

/** True when a step's EXPECT (or its implicit success) says the command is meant to succeed. */
export function expectsSuccess(step: PairedStep): boolean {
  if (step.expects.length === 0) return true;
  const e = step.expects[0];
  // As the engine decides (client/src/engine/expect.ts, withStepNeed): codes and classes name the
  // replies allowed; without them an enhanced status code carries its class (RFC 3463 §2, `5.1.1`
  // is a permanent failure); a text alone keeps the reply the step needs, a success.
  if (e.codes.length > 0) return e.codes.some((c) => (c.kind === 'code' ? c.code < 400 : c.kind === 'class' ? c.class < 4 : false));
  if (e.enhanced.length > 0) return e.enhanced.some((c) => c.kind === 'enhanced' && c.code.startsWith('2.'));
  return true;
}

/** The replies a step can get, for EXPECT hovers and completion. */
export function stepReplies(item: SessionItem): { label: string; codes: number[]; fact?: CommandFact } | undefined {
  if (item.kind === 'auth') {
    const fact = commandFact('AUTH')!;
    return { label: 'AUTH', codes: allRepliesOf(fact).filter((c) => c !== 334), fact };
  }
  if (item.kind === 'data' || item.kind === 'bdat') {
    const fact = commandFact(item.kind === 'data' ? 'DATA' : 'BDAT')!;
    return { label: fact.verb, codes: allRepliesOf(fact).filter((c) => c !== 354), fact };
  }
  if (item.kind === 'command') {
    const fact = commandFact(item.name);
    return { label: item.name, codes: fact ? allRepliesOf(fact) : [], fact };
  }
  if (item.kind === 'raw') return { label: 'RAW', codes: [] };
  return undefined;
}

/**
 * The scheme a CONNECT line selects. A target known only at run time is guessed from what is
 * written; a malformed one is `unknown` (the analyzer reports it).
 */
export function connectScheme(item: ConnectNode, scope: Scope): SessionScheme {
  if (!item.url) return 'unknown';
  const value = staticValue(item.url.text, scope);
  if (value === undefined) {
    const scheme = /^(smtp|submission|smtps|lmtp|mx)\b/i.exec(item.url.text)?.[1]?.toLowerCase();
    return (scheme as SessionScheme | undefined) ?? 'unknown';
  }
  const parsed = connectTarget(value);
  if (!parsed.ok) return 'unknown';
  return parsed.target.kind === 'host' ? parsed.target.scheme : parsed.target.kind;
}

/** What the script has said so far in a session. */
export interface SmtpState {
  /** From the session's first CONNECT (wherever it stands: the engine connects first), else `local`. */
  scheme: SessionScheme;
  /** A CONNECT line has been passed. */
  connected: boolean;
  /** A step (command, AUTH, DATA, BDAT or RAW) has been passed. */
  commandSeen: boolean;
  greeted: boolean;
  /**
   * The greeting in force was EHLO or LHLO, so the server may offer service extensions. After HELO
   * it offers none (RFC 5321 §2.2.1, §4.1.1.1; RFC 2033 §4.1 for LHLO): no extension command
   * (STARTTLS, AUTH, BDAT, ...) and no MAIL or RCPT parameter may follow until an EHLO.
   */
  esmtp: boolean;
  /** The last greeting (EHLO, HELO or LHLO) the server accepted, kept across STARTTLS. */
  greeting?: CommandNode;
  /** TLS is in force: implicit TLS, or after STARTTLS. */
  tls: boolean;
  starttls: boolean;
  /** STARTTLS happened and no EHLO followed yet (RFC 3207 §4.2). */
  needGreetingAfterTls: boolean;
  authenticated: boolean;
  /** The MAIL command of the open transaction, if one is open. */
  mail?: CommandNode;
  /** Accepted recipients of the open transaction. */
  recipients: number;
  quit: boolean;
  /** After RAW, the state is no longer known. */
  raw: boolean;
  /** The last step, when no EXPECT (nor CONNECT or TLS) followed it yet; after RAW, RAW itself. */
  expectable?: PairedStep['item'];
}

/** One step of the fold: the item, the state before it, and whether its EXPECT asks for success. */
export interface FoldVisit {
  item: SessionItem;
  /** The step the item starts, for commands, AUTH, DATA, BDAT and RAW. */
  step?: PairedStep;
  /** The state before the item; read it, do not keep it (the fold goes on changing it). */
  state: Readonly<SmtpState>;
  /** False when the step's EXPECT asks for a refusal, so the step does not change the state. */
  ok: boolean;
}

export interface FoldOptions {
  /** Folds only the items that start before this offset (a cursor), and the EXPECTs among them. */
  limit?: number;
  /** Called for every item except comments, metadata, variables and EXPECT, before it is applied. */
  visit?: (visit: FoldVisit) => void;
}

/** The state before anything is said, on a connection of the given scheme. */
export function emptyState(scheme: SessionScheme = 'local'): SmtpState {
  return {
    scheme,
    connected: false,
    commandSeen: false,
    greeted: false,
    esmtp: false,
    tls: scheme === 'smtps',
    starttls: false,
    needGreetingAfterTls: false,
    authenticated: false,
    recipients: 0,
    quit: false,
    raw: false,
  };
}

/** Folds a session's items into its state (see the module comment). */
export function foldSession(session: SessionNode, scope: Scope, options: FoldOptions = {}): SmtpState {
  const limit = options.limit;
  const items = limit === undefined ? session.items : session.items.filter((item) => item.range.start < limit);
  const firstConnect = session.items.find((item): item is ConnectNode => item.kind === 'connect');
  const state = emptyState(firstConnect ? connectScheme(firstConnect, scope) : 'local');
  const stepOf = pairedItems(items).stepOf;
  for (const item of items) {
    switch (item.kind) {
      case 'comment':
      case 'metadata':
      case 'variable':
        continue;
      case 'expect':
        if (state.expectable?.kind !== 'raw') state.expectable = undefined;
        continue;
      case 'connect':
      case 'tls':
        options.visit?.({ item, state, ok: true });
        if (item.kind === 'connect') state.connected = true;
        state.expectable = undefined;
        continue;
    }
    const step = stepOf.get(item)!;
    const ok = expectsSuccess(step);
    options.visit?.({ item, step, state, ok });
    applyStep(state, step.item, ok);
  }
  return state;
}

/** The change one step makes to the state (RFC 5321 §4.1.4; RFC 3207 §4.2; RFC 4954 §4). */
function applyStep(state: SmtpState, item: PairedStep['item'], ok: boolean): void {
  state.commandSeen = true;
  state.expectable = item;
  switch (item.kind) {
    case 'raw':
      state.raw = true;
      return;
    case 'auth':
      if (ok) state.authenticated = true;
      return;
    case 'data':
    case 'bdat':
      // DATA ends the transaction whatever the reply; BDAT here always ends with LAST (RFC 3030 §2).
      endTransaction(state);
      return;
    case 'command':
      break;
  }
  switch (item.name) {
    case 'HELO':
    case 'EHLO':
    case 'LHLO':
      if (ok) {
        state.greeted = true;
        state.esmtp = item.name !== 'HELO';
        state.greeting = item;
        state.needGreetingAfterTls = false;
        endTransaction(state);
      }
      break;
    case 'STARTTLS':
      if (ok) {
        state.starttls = true;
        state.tls = true;
        state.greeted = false;
        state.esmtp = false;
        state.needGreetingAfterTls = true;
        endTransaction(state);
      }
      break;
    case 'MAIL':
      if (ok) {
        state.mail = item;
        state.recipients = 0;
      }
      break;
    case 'RCPT':
      if (ok && state.mail) state.recipients++;
      break;
    case 'RSET':
      endTransaction(state);
      break;
    case 'QUIT':
      state.quit = true;
      break;
  }
}

/**
 * True when the session was greeted with HELO, so the server offers no extension: a command or
 * parameter that needs an EHLO keyword is refused (RFC 5321 §2.2.1, §4.1.1.1).
 */
export function greetedWithoutExtensions(state: Readonly<SmtpState>): boolean {
  return state.greeted && !state.esmtp;
}

/**
 * True when a MAIL command declares BODY=BINARYMIME: its content must be sent with BDAT, and a
 * server answers DATA with 503 (RFC 3030 §3).
 */
export function declaresBinaryMime(mail: CommandNode | undefined): boolean {
  return mail?.parameters.some((p) => p.name.text.toUpperCase() === 'BODY' && p.value?.text.toUpperCase() === 'BINARYMIME') ?? false;
}

function endTransaction(state: SmtpState): void {
  state.mail = undefined;
  state.recipients = 0;
}

/** A command that may come next: the verb, how completion labels and inserts it, and its rank. */
export interface NextCommand {
  verb: string;
  label: string;
  /** Snippet text (`${1:…}` placeholders), when the command takes arguments. */
  insertText?: string;
  sort: number;
}

const GREETING_DOMAIN = '${1:client.example.test}';
const BODY_SNIPPET = 'From: ${1:alice@example.test}\nTo: ${2:bob@example.test}\nSubject: ${3:hello}\n\n$0\n.';

/**
 * The commands that may come next in a state, best first. After QUIT nothing may; after RAW the
 * state is unknown (docs/smtp-language.md#raw-probing-servers), so everything may.
 */
export function nextCommands(state: Readonly<SmtpState>): NextCommand[] {
  const out: NextCommand[] = [];
  const add = (verb: string, sort: number, label = verb, insertText?: string) => out.push({ verb, label, sort, ...(insertText ? { insertText } : {}) });
  const lmtp = state.scheme === 'lmtp';
  const greeting = (sort: number) => {
    if (lmtp || state.scheme === 'unknown') add('LHLO', sort, 'LHLO', `LHLO ${GREETING_DOMAIN}`);
    if (!lmtp) {
      add('EHLO', sort, 'EHLO', `EHLO ${GREETING_DOMAIN}`);
      add('HELO', sort + 1, 'HELO', `HELO ${GREETING_DOMAIN}`);
    }
  };
  const mailFrom = (sort: number) => add('MAIL', sort, 'MAIL FROM', 'MAIL FROM:<${1:alice@example.test}>');
  const rcptTo = (sort: number) => add('RCPT', sort, 'RCPT TO', 'RCPT TO:<${1:bob@example.test}>');
  const always = (sort: number) => {
    add('RSET', sort);
    add('NOOP', sort);
    add('QUIT', sort + 1);
  };
  if (state.raw) {
    greeting(1);
    mailFrom(1);
    rcptTo(1);
    add('DATA', 1, 'DATA', 'DATA\n$0\n.');
    add('BDAT', 2, 'BDAT', 'BDAT\n$0\n.');
    add('STARTTLS', 2);
    always(3);
    return out;
  }
  if (state.quit) return out;
  if (!state.greeted) {
    greeting(0);
    add('NOOP', 5);
    add('HELP', 5);
    add('QUIT', 6);
    return out;
  }
  // After HELO the server offers no extension (RFC 5321 §2.2.1): STARTTLS, AUTH, ETRN and BDAT wait for an EHLO.
  const esmtp = state.esmtp;
  if (!state.mail) {
    if (!state.tls && !state.starttls && esmtp) add('STARTTLS', 0);
    mailFrom(1);
    greeting(4);
    add('VRFY', 5, 'VRFY', 'VRFY ${1:bob}');
    add('EXPN', 5, 'EXPN', 'EXPN ${1:list}');
    add('HELP', 5);
    if (esmtp) add('ETRN', 5, 'ETRN', 'ETRN ${1:example.test}');
    always(3);
    return out;
  }
  rcptTo(0);
  if (state.recipients > 0) {
    // BODY=BINARYMIME content goes only with BDAT (RFC 3030 §3).
    if (!declaresBinaryMime(state.mail)) add('DATA', 0, 'DATA', `DATA\n${BODY_SNIPPET}`);
    if (esmtp) add('BDAT', 1, 'BDAT', `BDAT\n${BODY_SNIPPET}`);
  }
  always(3);
  return out;
}

/**
 * True when AUTH may come next: greeted with EHLO or LHLO (AUTH is an extension, RFC 4954 §3),
 * outside a transaction, not yet authenticated (RFC 4954 §4).
 */
export function authMayFollow(state: Readonly<SmtpState>): boolean {
  return !state.raw && !state.quit && state.greeted && state.esmtp && !state.mail && !state.authenticated;
}

/** A one-line description of a state, for hovers. */
export function describeState(state: Readonly<SmtpState>): string {
  if (state.raw) return 'unknown (RAW lines came before)';
  if (state.quit) return 'closed (QUIT was sent)';
  const parts: string[] = [];
  if (state.needGreetingAfterTls) parts.push('TLS started, EHLO needed again');
  else parts.push(state.greeted ? (state.esmtp ? 'greeted' : 'greeted with HELO (no extensions)') : 'not greeted yet');
  if (state.tls && !state.needGreetingAfterTls) parts.push('TLS');
  if (state.authenticated) parts.push('authenticated');
  if (state.mail) parts.push(`transaction open (MAIL FROM on line ${state.mail.line + 1}, ${state.recipients} recipient${state.recipients === 1 ? '' : 's'})`);
  else parts.push('no transaction');
  return parts.join(', ');
}
