/**
 * Behaviour rules for the capture server: a small JSON file (`capture-rules.json`, schema in
 * schemas/capture-rules.schema.json) kept in git next to the scripts, which makes the server answer
 * deterministically: reply with a code, close, delay, greylist, require STARTTLS or AUTH, advertise
 * or hide extensions, accept some recipients and refuse others.
 *
 * `parseCaptureRules` is pure and never throws: it returns the rules it could read and a list of
 * problems in the project's Problem shape (stable code, severity, offsets), so the language server,
 * `smtpwb lint` or the capture server itself can report them. See docs/local-capture-server.md.
 */
import { docsLink, rfcLink, type OffsetRange, type Problem, type ProblemDefinition, type Severity } from './problem';
import { parseJsonTree, type JsonNode, type JsonProperty } from './jsonTree';

/** The points of a session a rule can match. MESSAGE is the end of the message (after DATA or the last BDAT). */
export const RULE_COMMANDS = ['CONNECT', 'EHLO', 'HELO', 'STARTTLS', 'AUTH', 'MAIL', 'RCPT', 'DATA', 'BDAT', 'MESSAGE', 'RSET', 'NOOP', 'VRFY', 'QUIT'] as const;
export type RuleCommand = (typeof RULE_COMMANDS)[number];

/** The EHLO keywords a rule can hide; any keyword can be advertised. */
export const KNOWN_EXTENSIONS = ['STARTTLS', 'AUTH', 'CHUNKING', 'SMTPUTF8', '8BITMIME', 'PIPELINING', 'SIZE', 'ENHANCEDSTATUSCODES', 'DSN', 'BINARYMIME', 'REQUIRETLS'] as const;

/** When a rule applies. Every condition given must hold. */
export interface RuleMatch {
  /** The commands it applies to; undefined takes the action's default (see `defaultCommands`). */
  commands?: RuleCommand[];
  /**
   * Patterns for the reverse-path (`*` any run of characters, `?` one; case-insensitive; `""` is
   * `<>`): MAIL's own, or the open transaction's at the other commands (and MESSAGE).
   */
  sender?: string[];
  /**
   * Patterns for the recipient of RCPT, or, at the other commands (and MESSAGE), any recipient the
   * open transaction has accepted so far; see `CONDITION_KNOWN_AT`.
   */
  recipient?: string[];
  /** Patterns for the client's IP address. */
  client?: string[];
  /** The attempt numbers it applies to (1 is the first time the other conditions held). */
  attempt?: { min: number; max: number };
  /** Seconds since the rules were loaded: applies from `after` and before `before`. */
  after?: number;
  before?: number;
  /** The SIZE parameter of MAIL (RFC 1870) or the size of the message at MESSAGE, in octets. */
  size?: { min: number; max: number };
  /** Whether the session is under TLS. */
  tls?: boolean;
  /** Whether the client has authenticated. */
  authenticated?: boolean;
}

export type RuleAction =
  | { kind: 'reply'; code: number; text: string; close: boolean }
  | { kind: 'close' }
  | { kind: 'delay' }
  | { kind: 'greylist'; retryAfterMs: number }
  | { kind: 'require'; what: 'starttls' | 'auth' }
  | { kind: 'extensions'; hide: string[]; advertise: string[]; size?: number };

export interface CaptureRule {
  /** The rule's position in the file, from 0. */
  index: number;
  /** Its `name`, or `rule N` (from 1). */
  name: string;
  when: RuleMatch;
  action: RuleAction;
  /** Milliseconds to wait before the action (or, for a delay alone, before the normal reply). */
  delayMs: number;
  /** Where the rule is written, for editors. */
  range: OffsetRange;
}

export interface CaptureRules {
  version: 1;
  rules: CaptureRule[];
}

export interface CaptureRulesParse {
  /** The rules that are valid; a rule with an error is left out. */
  rules: CaptureRules;
  problems: Problem[];
}

const DOC = docsLink('local-capture-server.md', 'behaviour-rules');

/** Every problem code the rules checker reports. */
export const CAPTURE_RULE_PROBLEMS: ProblemDefinition[] = [
  { code: 'rules-json-syntax', severity: 'error', summary: 'The file is not valid JSON.', link: 'https://www.rfc-editor.org/rfc/rfc8259' },
  { code: 'rules-structure', severity: 'error', summary: 'The file must be an object with a "rules" array.', link: DOC },
  { code: 'rules-version', severity: 'error', summary: 'Only "version": 1 is known.', link: DOC },
  { code: 'rules-unknown-property', severity: 'warning', summary: 'A property this version does not know (a typo?); it is ignored.', link: DOC },
  { code: 'rules-type', severity: 'error', summary: 'A value of the wrong type.', link: DOC },
  { code: 'rules-no-action', severity: 'error', summary: 'A rule needs one action: reply, close, delay, greylist, require or extensions.', link: DOC },
  { code: 'rules-several-actions', severity: 'error', summary: 'A rule has one action (delay may go with reply, close or greylist).', link: DOC },
  { code: 'rules-command-missing', severity: 'error', summary: 'A reply, close or delay rule must say which command it answers ("when": {"command": ...}).', link: DOC },
  { code: 'rules-unknown-command', severity: 'error', summary: 'Not a command a rule can match.', link: DOC },
  { code: 'rules-command-action', severity: 'error', summary: 'The action cannot apply to that command.', link: DOC },
  { code: 'rules-reply-syntax', severity: 'error', summary: 'A reply is a three-digit code, a space and text, e.g. "550 5.1.1 No such user".', link: rfcLink(5321, '4.2') },
  { code: 'rules-reply-code', severity: 'error', summary: 'A rule replies with a 4xx or 5xx code whose second digit is 0 to 5 (RFC 5321 §4.2.1).', link: rfcLink(5321, '4.2.1') },
  { code: 'rules-reply-ascii', severity: 'error', summary: 'Reply text is printable US-ASCII (RFC 5321 §4.2).', link: rfcLink(5321, '4.2') },
  { code: 'rules-reply-enhanced', severity: 'warning', summary: 'The enhanced status code must have the class of the reply code (RFC 3463 §2) and a defined subject (RFC 3463 §3).', link: rfcLink(3463, '2') },
  { code: 'rules-connect-reply', severity: 'warning', summary: 'At CONNECT only 421 and 554 are meaningful (RFC 5321 §3.1, §4.3.2).', link: rfcLink(5321, '3.1') },
  { code: 'rules-range', severity: 'error', summary: 'A number out of range, or a minimum above its maximum.', link: DOC },
  { code: 'rules-condition-command', severity: 'warning', summary: 'A condition that the rule\'s commands never have, so the rule can never fire.', link: DOC },
  { code: 'rules-unknown-extension', severity: 'warning', summary: 'An EHLO keyword the capture server does not know; hiding it has no effect.', link: rfcLink(5321, '4.1.1.1') },
  { code: 'rules-duplicate-name', severity: 'warning', summary: 'Two rules have the same name, so transcripts cannot tell them apart.', link: DOC },
  {
    code: 'rules-size-over-limit',
    severity: 'error',
    summary: "A rule advertises a SIZE above the server's own limit, which the server would then refuse (RFC 1870 §4, §6).",
    link: rfcLink(1870, '4'),
  },
];

const SEVERITY = new Map<string, Severity>(CAPTURE_RULE_PROBLEMS.map((p) => [p.code, p.severity]));

/** The commands an action applies to when the rule names none, and those it may name. */
export function defaultCommands(action: RuleAction['kind']): RuleCommand[] | undefined {
  switch (action) {
    case 'greylist':
      return ['RCPT'];
    case 'require':
      return ['MAIL', 'RCPT', 'DATA', 'BDAT'];
    case 'extensions':
      return ['EHLO'];
    default:
      return undefined;
  }
}

const ALLOWED_COMMANDS: Partial<Record<RuleAction['kind'], readonly RuleCommand[]>> = {
  greylist: ['RCPT'],
  require: ['MAIL', 'RCPT', 'DATA', 'BDAT', 'VRFY'],
  extensions: ['EHLO'],
};

/** The conditions that need data a point of the session may not have. */
export type DataCondition = 'sender' | 'recipient' | 'size';

/** How a point of the session knows a condition's data: from itself, or from the open transaction. */
export type ConditionSource = 'command' | 'transaction';

/**
 * When the capture server knows the data of the `sender`, `recipient` and `size` conditions: the
 * rule event it builds at each point (`onCommand` and the end of a message in
 * client/src/localServer/captureServer.ts). `command`: the point carries it itself (MAIL's
 * reverse-path and SIZE parameter, RFC 5321 §4.1.1.2 and RFC 1870 §6; RCPT's forward-path; the
 * message's size at MESSAGE). `transaction`: known while a mail transaction is open, from its
 * reverse-path and the recipients accepted so far; rules decide before the server acts on a
 * command, so RSET, QUIT, EHLO and the others still see the transaction they end or leave open.
 * A point missing from a condition's list never knows it: nothing at CONNECT, no recipient at MAIL
 * (it starts a new transaction), no size but at MAIL and MESSAGE. This table is the checker's one
 * source for "never known" (`rules-condition-command`); test/localServer/captureRulesKnown.test.ts
 * holds the running server to it.
 */
export const CONDITION_KNOWN_AT: Readonly<Record<DataCondition, Readonly<Partial<Record<RuleCommand, ConditionSource>>>>> = {
  sender: knownFromTransaction('MAIL'),
  recipient: knownFromTransaction('RCPT'),
  size: { MAIL: 'command', MESSAGE: 'command' },
};

/**
 * A condition that `own` carries itself and every point of an open transaction knows; MAIL starts
 * a new transaction, so it knows only what it carries (and CONNECT, before any, nothing).
 */
function knownFromTransaction(own: RuleCommand): Partial<Record<RuleCommand, ConditionSource>> {
  const known: Partial<Record<RuleCommand, ConditionSource>> = {};
  for (const command of RULE_COMMANDS) if (command !== 'CONNECT' && command !== 'MAIL') known[command] = 'transaction';
  known[own] = 'command';
  return known;
}

/** Parses a reply such as `550 5.1.1 No such user` (RFC 5321 §4.2, RFC 3463 §2). */
export function parseRuleReply(text: string): { code: number; enhanced?: string; text: string } | undefined {
  const m = /^([2-5][0-9][0-9])(?: (.*))?$/s.exec(text);
  if (!m || /[\r\n\0]/.test(text)) return undefined;
  const rest = m[2] ?? '';
  const enhanced = /^([245]\.\d{1,3}\.\d{1,3})(?: |$)/.exec(rest);
  return { code: Number(m[1]), enhanced: enhanced?.[1], text: rest };
}

/** Reads and checks a rules file; see the module comment. Never throws. */
export function parseCaptureRules(text: string): CaptureRulesParse {
  const problems: Problem[] = [];
  const report = (code: string, message: string, range: OffsetRange): void => {
    problems.push({ code, severity: SEVERITY.get(code) ?? 'error', message, range });
  };
  const empty: CaptureRules = { version: 1, rules: [] };
  const parsed = parseJsonTree(text);
  if (parsed.error || !parsed.root) {
    report('rules-json-syntax', parsed.error?.message ?? 'empty file', parsed.error?.range ?? { start: 0, end: 0 });
    return { rules: empty, problems };
  }
  const root = parsed.root;
  if (root.kind !== 'object') {
    report('rules-structure', 'the rules file is a JSON object with a "rules" array', root.range);
    return { rules: empty, problems };
  }
  let rulesNode: JsonProperty | undefined;
  for (const property of root.properties) {
    switch (property.key) {
      case '$schema':
      case 'note':
        break;
      case 'version':
        if (property.value?.kind !== 'number' || property.value.value !== 1) {
          report('rules-version', 'this version of SMTP Workbench reads "version": 1', property.value?.range ?? property.keyRange);
        }
        break;
      case 'rules':
        rulesNode = property;
        break;
      default:
        report('rules-unknown-property', `unknown property "${property.key}" (known: $schema, version, note, rules)`, property.keyRange);
    }
  }
  if (!rulesNode || rulesNode.value?.kind !== 'array') {
    report('rules-structure', 'the file needs a "rules" array', rulesNode?.value?.range ?? rulesNode?.keyRange ?? { start: root.range.start, end: root.range.start + 1 });
    return { rules: empty, problems };
  }
  const rules: CaptureRule[] = [];
  const names = new Map<string, OffsetRange>();
  rulesNode.value.items.forEach((item, index) => {
    const rule = readRule(item, index, report);
    if (!rule) return;
    if (names.has(rule.name)) report('rules-duplicate-name', `another rule is named "${rule.name}"`, rule.range);
    names.set(rule.name, rule.range);
    rules.push(rule);
  });
  return { rules: { version: 1, rules }, problems };
}

/**
 * The SIZE limit an extensions rule advertises: its `extensions.size`, or the number of a `SIZE N`
 * line in its `advertise` (0 for `SIZE` alone, which RFC 1870 §4 reads as "no fixed maximum").
 * Undefined when the rule leaves SIZE alone.
 */
export function advertisedSize(action: RuleAction): number | undefined {
  if (action.kind !== 'extensions') return undefined;
  if (action.size !== undefined) return action.size;
  for (const line of action.advertise) {
    const [keyword, value] = line.split(' ');
    if (keyword.toUpperCase() === 'SIZE') return value !== undefined && /^\d+$/.test(value) ? Number(value) : 0;
  }
  return undefined;
}

/**
 * Rules checked against the server's own SIZE limit, where it is known (`smtpwb serve --rules`, the
 * API's PUT /rules, a reload of the rules file). RFC 1870 §4: the advertised size is the largest
 * the server accepts, and §6: a server refuses (552) a declared size above it. A rule that
 * advertised more than the server's limit would invite a message the server then refuses, so it is
 * an error (`rules-size-over-limit`) rather than silently lowered: the rule stays a truthful test
 * double, and the author learns to raise `--size-limit`. A limit of 0 is none; nothing is refused.
 */
export function sizeLimitProblems(rules: CaptureRules, sizeLimit: number): Problem[] {
  if (sizeLimit <= 0) return [];
  const problems: Problem[] = [];
  for (const rule of rules.rules) {
    const size = advertisedSize(rule.action);
    if (size === undefined || (size > 0 && size <= sizeLimit)) continue;
    const what = size === 0 ? 'SIZE without a limit' : `SIZE ${size}`;
    problems.push({
      code: 'rules-size-over-limit',
      severity: 'error',
      message: `rule "${rule.name}" advertises ${what}, but the server refuses messages over ${sizeLimit} octets (RFC 1870 §4, §6): lower it or raise --size-limit`,
      range: rule.range,
    });
  }
  return problems;
}

type Report = (code: string, message: string, range: OffsetRange) => void;

function typeError(report: Report, name: string, expected: string, node: JsonNode): void {
  report('rules-type', `"${name}" must be ${expected}`, node.range);
}

/** A string or a list of strings. */
function readStrings(report: Report, name: string, node: JsonNode): string[] | undefined {
  if (node.kind === 'string') return [node.value];
  if (node.kind === 'array' && node.items.every((i) => i.kind === 'string')) return node.items.map((i) => (i as { value: string }).value);
  typeError(report, name, 'a string or a list of strings', node);
  return undefined;
}

function readNumber(report: Report, name: string, node: JsonNode, min: number, max: number, integer = false): number | undefined {
  if (node.kind !== 'number') {
    typeError(report, name, 'a number', node);
    return undefined;
  }
  if (node.value < min || node.value > max || (integer && !Number.isInteger(node.value))) {
    report('rules-range', `"${name}" must be ${integer ? 'a whole number ' : ''}from ${min} to ${max}`, node.range);
    return undefined;
  }
  return node.value;
}

/** `N` or `{"min": N, "max": M}` (either bound optional). */
function readRange(report: Report, name: string, node: JsonNode, min: number, max: number): { min: number; max: number } | undefined {
  if (node.kind === 'number') {
    const value = readNumber(report, name, node, min, max, true);
    return value === undefined ? undefined : { min: value, max: value };
  }
  if (node.kind !== 'object') {
    typeError(report, name, 'a number or {"min": N, "max": N}', node);
    return undefined;
  }
  const out = { min, max };
  for (const p of node.properties) {
    if ((p.key === 'min' || p.key === 'max') && p.value) {
      const value = readNumber(report, `${name}.${p.key}`, p.value, min, max, true);
      if (value === undefined) return undefined;
      out[p.key] = value;
    } else report('rules-unknown-property', `unknown property "${p.key}" in "${name}" (known: min, max)`, p.keyRange);
  }
  if (out.min > out.max) {
    report('rules-range', `"${name}": min is above max`, node.range);
    return undefined;
  }
  return out;
}

const MAX_SECONDS = 86_400;
const MAX_SIZE = 2 ** 40;

function readMatch(node: JsonNode, report: Report): { match: RuleMatch; commandRange?: OffsetRange } | undefined {
  if (node.kind !== 'object') {
    typeError(report, 'when', 'an object of conditions', node);
    return undefined;
  }
  const match: RuleMatch = {};
  let ok = true;
  let commandRange: OffsetRange | undefined;
  for (const p of node.properties) {
    const v = p.value;
    if (!v) continue;
    switch (p.key) {
      case 'command': {
        const list = readStrings(report, 'command', v);
        if (!list) {
          ok = false;
          break;
        }
        commandRange = v.range;
        const commands: RuleCommand[] = [];
        for (const name of list) {
          const upper = name.toUpperCase() as RuleCommand;
          if (!RULE_COMMANDS.includes(upper)) {
            report('rules-unknown-command', `"${name}" is not a command a rule can match (${RULE_COMMANDS.join(', ')})`, v.range);
            ok = false;
          } else commands.push(upper);
        }
        match.commands = commands;
        break;
      }
      case 'sender':
      case 'recipient':
      case 'client': {
        const list = readStrings(report, p.key, v);
        if (list) match[p.key] = list;
        else ok = false;
        break;
      }
      case 'attempt': {
        const range = readRange(report, 'attempt', v, 1, 1_000_000);
        if (range) match.attempt = range;
        else ok = false;
        break;
      }
      case 'after':
      case 'before': {
        const value = readNumber(report, p.key, v, 0, MAX_SECONDS);
        if (value === undefined) ok = false;
        else match[p.key] = value;
        break;
      }
      case 'size': {
        const range = readRange(report, 'size', v, 0, MAX_SIZE);
        if (range) match.size = range;
        else ok = false;
        break;
      }
      case 'tls':
      case 'authenticated':
        if (v.kind !== 'boolean') {
          typeError(report, p.key, 'true or false', v);
          ok = false;
        } else match[p.key] = v.value;
        break;
      default:
        report('rules-unknown-property', `unknown condition "${p.key}" (known: command, sender, recipient, client, attempt, after, before, size, tls, authenticated)`, p.keyRange);
    }
  }
  if (match.after !== undefined && match.before !== undefined && match.after >= match.before) {
    report('rules-range', '"after" must be below "before"', node.range);
    ok = false;
  }
  return ok ? { match, commandRange } : undefined;
}

function readRule(node: JsonNode, index: number, report: Report): CaptureRule | undefined {
  if (node.kind !== 'object') {
    typeError(report, `rules[${index}]`, 'an object', node);
    return undefined;
  }
  let name = `rule ${index + 1}`;
  let match: RuleMatch = {};
  let commandRange: OffsetRange | undefined;
  let delayMs = 0;
  let hasDelay = false;
  let close: JsonProperty | undefined;
  const actions: Array<{ property: JsonProperty; action: RuleAction }> = [];
  let ok = true;
  for (const p of node.properties) {
    const v = p.value;
    if (!v) continue;
    switch (p.key) {
      case 'name':
        if (v.kind === 'string' && v.value.trim() !== '' && !/[\0-\x1f\x7f]/.test(v.value)) name = v.value;
        else {
          typeError(report, 'name', 'a non-empty string without control characters', v);
        }
        break;
      case 'note':
        break;
      case 'when': {
        const read = readMatch(v, report);
        if (!read) ok = false;
        else {
          match = read.match;
          commandRange = read.commandRange;
        }
        break;
      }
      case 'delay': {
        const seconds = readNumber(report, 'delay', v, 0, 600);
        if (seconds === undefined) ok = false;
        else {
          delayMs = Math.round(seconds * 1000);
          hasDelay = true;
        }
        break;
      }
      case 'close':
        if (v.kind !== 'boolean') {
          typeError(report, 'close', 'true or false', v);
          ok = false;
        } else if (v.value) close = p;
        break;
      case 'reply': {
        if (v.kind !== 'string') {
          typeError(report, 'reply', 'a string such as "550 5.1.1 No such user"', v);
          ok = false;
          break;
        }
        const reply = parseRuleReply(v.value);
        if (!reply) {
          report('rules-reply-syntax', 'a reply is a three-digit code, a space and text on one line, e.g. "550 5.1.1 No such user"', v.range);
          ok = false;
          break;
        }
        if (reply.code < 400) {
          report('rules-reply-code', `a rule refuses or defers: use a 4xx or 5xx code, not ${reply.code}`, v.range);
          ok = false;
          break;
        }
        // RFC 5321 §4.2.1: the second digit is a category from 0 to 5.
        if (Number(String(reply.code)[1]) > 5) {
          report('rules-reply-code', `${reply.code} is not a reply code: its second digit is a category from 0 to 5 (RFC 5321 §4.2.1)`, v.range);
          ok = false;
          break;
        }
        // RFC 5321 §4.2: textstring = 1*(%d09 / %d32-126); anything else would be re-encoded on the wire.
        const foreign = /[^\t\x20-\x7e]/u.exec(reply.text);
        if (foreign) {
          const codePoint = `U+${(foreign[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
          report('rules-reply-ascii', `reply text is printable US-ASCII (RFC 5321 §4.2); "${foreign[0]}" (${codePoint}) at character ${foreign.index + 1} of the text is not`, v.range);
          ok = false;
          break;
        }
        if (reply.enhanced !== undefined && reply.enhanced[0] !== String(reply.code)[0]) {
          report('rules-reply-enhanced', `the enhanced code ${reply.enhanced} has another class than ${reply.code}`, v.range);
        } else if (reply.enhanced !== undefined && Number(reply.enhanced.split('.')[1]) > 7) {
          // RFC 3463 §3 (and the registry of RFC 5248) define subjects 0 to 7 only.
          report('rules-reply-enhanced', `the enhanced code ${reply.enhanced} has subject ${reply.enhanced.split('.')[1]}, which RFC 3463 §3 does not define (0 to 7)`, v.range);
        }
        actions.push({ property: p, action: { kind: 'reply', code: reply.code, text: reply.text, close: false } });
        break;
      }
      case 'greylist': {
        let seconds: number | undefined = 60;
        if (v.kind === 'object') {
          for (const q of v.properties) {
            if (q.key === 'retryAfter' && q.value) seconds = readNumber(report, 'greylist.retryAfter', q.value, 0, MAX_SECONDS);
            else report('rules-unknown-property', `unknown property "${q.key}" in "greylist" (known: retryAfter)`, q.keyRange);
          }
        } else if (!(v.kind === 'boolean' && v.value)) {
          typeError(report, 'greylist', 'true or {"retryAfter": SECONDS}', v);
          seconds = undefined;
        }
        if (seconds === undefined) ok = false;
        else actions.push({ property: p, action: { kind: 'greylist', retryAfterMs: Math.round(seconds * 1000) } });
        break;
      }
      case 'require':
        if (v.kind === 'string' && (v.value === 'starttls' || v.value === 'auth')) actions.push({ property: p, action: { kind: 'require', what: v.value } });
        else {
          typeError(report, 'require', '"starttls" or "auth"', v);
          ok = false;
        }
        break;
      case 'extensions': {
        const action = readExtensions(v, report);
        if (action) actions.push({ property: p, action });
        else ok = false;
        break;
      }
      default:
        report(
          'rules-unknown-property',
          `unknown property "${p.key}" (known: name, note, when, reply, close, delay, greylist, require, extensions)`,
          p.keyRange,
        );
    }
  }
  if (!ok) return undefined;
  if (actions.length > 1) {
    report('rules-several-actions', `one action per rule: this one has ${actions.map((a) => a.property.key).join(', ')}`, actions[1].property.keyRange);
    return undefined;
  }
  let action: RuleAction;
  if (actions.length === 1) {
    action = actions[0].action;
    if (close) {
      if (action.kind === 'reply') action = { ...action, close: true };
      else {
        report('rules-several-actions', '"close" goes with "reply" or alone', close.keyRange);
        return undefined;
      }
    }
    if (hasDelay && (action.kind === 'require' || action.kind === 'extensions')) {
      report('rules-several-actions', `"delay" goes with reply, close or greylist, not with ${actions[0].property.key}`, actions[0].property.keyRange);
      return undefined;
    }
  } else if (close) action = { kind: 'close' };
  else if (hasDelay) action = { kind: 'delay' };
  else {
    report('rules-no-action', 'this rule does nothing: give it reply, close, delay, greylist, require or extensions', node.range);
    return undefined;
  }
  const allowed = ALLOWED_COMMANDS[action.kind];
  if (match.commands === undefined && allowed === undefined) {
    report('rules-command-missing', `say which command this rule answers: "when": {"command": "RCPT"} (one of ${RULE_COMMANDS.join(', ')})`, node.range);
    return undefined;
  }
  const commands = match.commands ?? defaultCommands(action.kind) ?? [];
  if (allowed !== undefined && match.commands !== undefined) {
    const wrong = match.commands.filter((c) => !allowed.includes(c));
    if (wrong.length > 0) {
      report('rules-command-action', `${action.kind} applies to ${allowed.join(', ')}, not ${wrong.join(', ')}`, commandRange ?? node.range);
      return undefined;
    }
  }
  if (action.kind === 'reply' && commands.includes('CONNECT') && action.code !== 421 && action.code !== 554) {
    report('rules-connect-reply', `at CONNECT a server refuses with 554 or 421 (RFC 5321 §3.1), not ${action.code}`, actions[0].property.value?.range ?? node.range);
  }
  // Only a condition that none of the rule's commands can ever know is reported; one known while a
  // transaction is open (a sender at QUIT) can fire, so it is not.
  for (const condition of ['sender', 'recipient', 'size'] as const) {
    if (match[condition] === undefined) continue;
    const known = CONDITION_KNOWN_AT[condition];
    if (!commands.some((c) => known[c] !== undefined)) {
      const where = RULE_COMMANDS.filter((c) => known[c] !== undefined).join(', ');
      report('rules-condition-command', `"${condition}" is never known at ${commands.join(', ')}, so this rule never fires (it is known at ${where})`, commandRange ?? node.range);
    }
  }
  return { index, name, when: match, action, delayMs, range: node.range };
}

function readExtensions(node: JsonNode, report: Report): RuleAction | undefined {
  if (node.kind !== 'object') {
    typeError(report, 'extensions', 'an object such as {"hide": ["CHUNKING"]}', node);
    return undefined;
  }
  const action: { kind: 'extensions'; hide: string[]; advertise: string[]; size?: number } = { kind: 'extensions', hide: [], advertise: [] };
  for (const p of node.properties) {
    const v = p.value;
    if (!v) continue;
    if (p.key === 'hide' || p.key === 'advertise') {
      const list = readStrings(report, `extensions.${p.key}`, v);
      if (!list) return undefined;
      for (const keyword of list) {
        // RFC 5321 §4.1.1.1: an ehlo-keyword is letters, digits and hyphens; parameters follow a space.
        if (!/^[A-Za-z0-9][A-Za-z0-9-]*(?: [\x21-\x7e]+)*$/.test(keyword)) {
          report('rules-type', `"${keyword}" is not an EHLO keyword line (RFC 5321 §4.1.1.1)`, v.range);
          return undefined;
        }
        if (p.key === 'hide' && !(KNOWN_EXTENSIONS as readonly string[]).includes(keyword.toUpperCase())) {
          report('rules-unknown-extension', `the capture server never advertises "${keyword}" (it knows ${KNOWN_EXTENSIONS.join(', ')})`, v.range);
        }
      }
      action[p.key] = list.map((k) => (p.key === 'hide' ? k.toUpperCase() : k));
    } else if (p.key === 'size') {
      const size = readNumber(report, 'extensions.size', v, 1, MAX_SIZE, true);
      if (size === undefined) return undefined;
      action.size = size;
    } else report('rules-unknown-property', `unknown property "${p.key}" in "extensions" (known: hide, advertise, size)`, p.keyRange);
  }
  return action;
}

/** A rule in the rules-file format (what `parseCaptureRules` reads), from its parsed form. */
function ruleFileJson(rule: CaptureRule): Record<string, unknown> {
  const out: Record<string, unknown> = { name: rule.name };
  const w = rule.when;
  const when: Record<string, unknown> = {};
  if (w.commands !== undefined) when.command = w.commands.length === 1 ? w.commands[0] : w.commands;
  if (w.sender !== undefined) when.sender = w.sender;
  if (w.recipient !== undefined) when.recipient = w.recipient;
  if (w.client !== undefined) when.client = w.client;
  if (w.attempt !== undefined) when.attempt = w.attempt;
  if (w.after !== undefined) when.after = w.after;
  if (w.before !== undefined) when.before = w.before;
  if (w.size !== undefined) when.size = w.size;
  if (w.tls !== undefined) when.tls = w.tls;
  if (w.authenticated !== undefined) when.authenticated = w.authenticated;
  if (Object.keys(when).length > 0) out.when = when;
  const action = rule.action;
  switch (action.kind) {
    case 'reply':
      out.reply = action.text === '' ? String(action.code) : `${action.code} ${action.text}`;
      if (action.close) out.close = true;
      break;
    case 'close':
      out.close = true;
      break;
    case 'delay':
      break;
    case 'greylist':
      out.greylist = { retryAfter: action.retryAfterMs / 1000 };
      break;
    case 'require':
      out.require = action.what;
      break;
    case 'extensions':
      out.extensions = { hide: action.hide, advertise: action.advertise, ...(action.size !== undefined ? { size: action.size } : {}) };
      break;
  }
  if (action.kind === 'delay' || rule.delayMs > 0) out.delay = rule.delayMs / 1000;
  return out;
}

/**
 * Rules as a rules file, the inverse of `parseCaptureRules`: what the capture API's GET /rules
 * answers, so that it can be PUT back.
 */
export function rulesFileJson(rules: CaptureRules): { version: 1; rules: Array<Record<string, unknown>> } {
  return { version: 1, rules: rules.rules.map(ruleFileJson) };
}
