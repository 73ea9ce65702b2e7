/**
 * The behaviour-rule engine: given the rules (captureRules.ts), a clock and one event of a session
 * (a command, or the end of a message), it decides what the capture server does. It is pure apart
 * from its own memory of attempts and greylisting, which lasts as long as the engine; it does no
 * I/O and takes the time from the clock it is given, so tests can drive it without waiting.
 */
import { defaultCommands, type CaptureRule, type RuleCommand, type RuleMatch } from '../../../common/captureRules';

/** What the server knows when a rule is checked. */
export interface RuleEvent {
  command: RuleCommand;
  /** The client's IP address. */
  client: string;
  /** The reverse-path of the transaction ('' for `<>`), once MAIL was accepted (or at MAIL). */
  sender?: string;
  /** The recipient of a RCPT command. */
  recipient?: string;
  /** The accepted recipients of the transaction (DATA, BDAT, MESSAGE). */
  recipients?: string[];
  /** MAIL's SIZE parameter, or the message's size at MESSAGE. */
  size?: number;
  /** MAIL or RCPT parameters, upper-case keys. */
  parameters?: Record<string, string | true>;
  tls: boolean;
  authenticated: boolean;
  /** What an earlier EHLO decided for this session (see `ehlo`). */
  session?: SessionExtensions;
}

/** What the rules changed about the extensions of one session. */
export interface SessionExtensions {
  /** Keywords hidden from the EHLO reply (upper case). */
  hidden: ReadonlySet<string>;
  /** The SIZE limit the rules advertised, when one did. */
  sizeLimit?: number;
}

/** One rule that fired, as stored with a message and shown in the Local Inbox and logs. */
export interface FiredRule {
  /** The rule's position in the file, from 0. */
  rule: number;
  name: string;
  command: RuleCommand;
  /** `reply`, `close`, `delay`, `greylist`, `greylist-passed`, `require`, `extensions`, `size-limit`, `hidden-extension`. */
  action: string;
  /** The reply it caused, as sent. */
  reply?: string;
  /** When it fired (ISO 8601). */
  at: string;
}

/**
 * One rule that fired, as a line of text: `rule "NAME" (ACTION) at COMMAND: REPLY`. The one home
 * for that text: the server's log, and the notes a run's transcript gets (ruleNotes.ts). The name
 * and reply come from the rules file; callers escape the line where it is shown.
 */
export function describeFiredRule(rule: FiredRule): string {
  return `rule "${rule.name}" (${rule.action}) at ${rule.command}${rule.reply ? `: ${rule.reply}` : ''}`;
}

export interface RuleDecision {
  /** Milliseconds to wait before answering (or before letting the server answer). */
  delayMs: number;
  /** The reply to send instead of the server's own; undefined lets the server answer. */
  reply?: { code: number; text: string };
  /** Close the connection (after the reply, if any). */
  close: boolean;
  fired: FiredRule[];
}

/** RFC 3463 default detail codes for a reply without its own. */
function withEnhanced(code: number, text: string): string {
  if (/^[245]\.\d{1,3}\.\d{1,3}(?: |$)/.test(text)) return text;
  return `${Math.floor(code / 100)}.0.0${text === '' ? '' : ` ${text}`}`;
}

/** `*` any run, `?` one character; case-insensitive (RFC 5321 §2.4 treats domains so; local parts mostly are). */
export function globMatches(pattern: string, value: string): boolean {
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, 'is').test(value);
}

/**
 * An address as a key of the engine's memory (attempts, greylisting): the domain lower-cased, since
 * RFC 5321 §2.4 makes domains case-insensitive, and the local part kept as it is (it may be
 * case-sensitive). `<>` ('') stays ''.
 */
export function addressKey(address: string): string {
  const at = address.lastIndexOf('@');
  return at === -1 ? address : `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase()}`;
}

const anyMatches = (patterns: string[], values: string[]): boolean => values.some((v) => patterns.some((p) => globMatches(p, v)));

export class CaptureRuleEngine {
  readonly rules: readonly CaptureRule[];
  private readonly now: () => number;
  private readonly loadedAt: number;
  private readonly attempts = new Map<string, number>();
  /** Greylisting triplets (client, sender, recipient) and when each was first seen. */
  private readonly greylist = new Map<string, number>();

  constructor(rules: readonly CaptureRule[], now: () => number = Date.now) {
    this.rules = rules;
    this.now = now;
    this.loadedAt = now();
  }

  private stamp(): string {
    return new Date(this.now()).toISOString();
  }

  /** Whether the conditions other than `attempt` hold. */
  private holds(when: RuleMatch, event: RuleEvent): boolean {
    const elapsed = (this.now() - this.loadedAt) / 1000;
    if (when.after !== undefined && elapsed < when.after) return false;
    if (when.before !== undefined && elapsed >= when.before) return false;
    if (when.tls !== undefined && when.tls !== event.tls) return false;
    if (when.authenticated !== undefined && when.authenticated !== event.authenticated) return false;
    if (when.client && !anyMatches(when.client, [event.client])) return false;
    if (when.sender && (event.sender === undefined || !anyMatches(when.sender, [event.sender]))) return false;
    if (when.recipient) {
      const recipients = event.recipient !== undefined ? [event.recipient] : (event.recipients ?? []);
      if (!anyMatches(when.recipient, recipients)) return false;
    }
    if (when.size && (event.size === undefined || event.size < when.size.min || event.size > when.size.max)) return false;
    return true;
  }

  /** Counts this attempt and reports whether the rule's `attempt` range includes it. */
  private attemptMatches(rule: CaptureRule, event: RuleEvent): boolean {
    if (!rule.when.attempt) return true;
    const recipients = event.recipient !== undefined ? addressKey(event.recipient) : (event.recipients ?? []).map(addressKey).join(',');
    const key = [rule.index, event.command, event.client, addressKey(event.sender ?? ''), recipients].join('\u0000');
    const n = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, n);
    return n >= rule.when.attempt.min && n <= rule.when.attempt.max;
  }

  private applies(rule: CaptureRule, event: RuleEvent): boolean {
    const commands = rule.when.commands ?? defaultCommands(rule.action.kind) ?? [];
    return commands.includes(event.command) && this.holds(rule.when, event) && this.attemptMatches(rule, event);
  }

  /** Decides what happens at one command or at the end of a message. */
  decide(event: RuleEvent): RuleDecision {
    const fired: FiredRule[] = [];
    let delayMs = 0;
    const answer = (rule: { index: number; name: string } | undefined, action: string, code: number, text: string, close = false): RuleDecision => {
      // A reply the server words itself names the rule, so a transcript shows which one answered;
      // a rule's own reply text is sent exactly as written.
      // Replies are US-ASCII (RFC 5321 §4.2): a name in another script is shown with its characters as `?`.
      const named = rule !== undefined && action !== 'reply' ? `${text} (rule "${rule.name.replace(/[^\x20-\x7e]/gu, '?')}")` : text;
      const full = withEnhanced(code, named);
      fired.push({ rule: rule?.index ?? -1, name: rule?.name ?? 'extensions', command: event.command, action, reply: `${code} ${full}`, at: this.stamp() });
      return { delayMs, reply: { code, text: full }, close: close || code === 421, fired };
    };

    // Extensions that an EHLO rule hid are refused like unknown ones, and its SIZE limit holds.
    const hidden = event.session?.hidden;
    if (hidden) {
      const verbHidden: Partial<Record<RuleCommand, string>> = { STARTTLS: 'STARTTLS', AUTH: 'AUTH', BDAT: 'CHUNKING' };
      const keyword = verbHidden[event.command];
      if (keyword !== undefined && hidden.has(keyword)) {
        // RFC 5321 §4.2.4: 502 for a command the server does not offer.
        return answer(undefined, 'hidden-extension', 502, `5.5.1 ${event.command} is not offered here`);
      }
      const parameterOf: Record<string, string> = { SMTPUTF8: 'SMTPUTF8', BODY: '8BITMIME', SIZE: 'SIZE' };
      for (const parameter of Object.keys(event.parameters ?? {})) {
        const keyword2 = parameterOf[parameter];
        if (keyword2 !== undefined && hidden.has(keyword2)) {
          // RFC 5321 §4.1.1.11: a parameter of an extension that was not advertised gets 555.
          return answer(undefined, 'hidden-extension', 555, `5.5.4 ${parameter} parameter not recognized`);
        }
      }
    }
    const limit = event.session?.sizeLimit;
    if (limit !== undefined && event.size !== undefined && event.size > limit && (event.command === 'MAIL' || event.command === 'MESSAGE')) {
      // RFC 1870 §6.1 (MAIL) and §6.3 (end of data): 552 over the advertised limit.
      return answer(undefined, 'size-limit', 552, `5.3.4 Message size exceeds fixed maximum message size ${limit}`);
    }

    for (const rule of this.rules) {
      const action = rule.action;
      if (action.kind === 'extensions') continue;
      if (!this.applies(rule, event)) continue;
      switch (action.kind) {
        case 'delay':
          delayMs += rule.delayMs;
          fired.push({ rule: rule.index, name: rule.name, command: event.command, action: 'delay', at: this.stamp() });
          continue;
        case 'require':
          if (action.what === 'starttls' && !event.tls) return answer(rule, 'require', 530, '5.7.0 Must issue a STARTTLS command first');
          if (action.what === 'auth' && !event.authenticated) return answer(rule, 'require', 530, '5.7.0 Authentication required');
          continue;
        case 'greylist': {
          const key = [event.client, addressKey(event.sender ?? ''), addressKey(event.recipient ?? '')].join('\u0000');
          const first = this.greylist.get(key);
          const now = this.now();
          if (first === undefined || now - first < action.retryAfterMs) {
            if (first === undefined) this.greylist.set(key, now);
            delayMs += rule.delayMs;
            const wait = Math.ceil((action.retryAfterMs - (first === undefined ? 0 : now - first)) / 1000);
            return answer(rule, 'greylist', 451, `4.7.1 Greylisted: try again in ${wait} second${wait === 1 ? '' : 's'}`);
          }
          fired.push({ rule: rule.index, name: rule.name, command: event.command, action: 'greylist-passed', at: this.stamp() });
          continue;
        }
        case 'reply':
          delayMs += rule.delayMs;
          return answer(rule, 'reply', action.code, action.text, action.close);
        case 'close':
          delayMs += rule.delayMs;
          fired.push({ rule: rule.index, name: rule.name, command: event.command, action: 'close', at: this.stamp() });
          return { delayMs, close: true, fired };
      }
    }
    return { delayMs, close: false, fired };
  }

  /** Applies the extension rules to the keyword lines of an EHLO reply. */
  ehlo(event: Omit<RuleEvent, 'command'>, keywords: string[]): { keywords: string[]; session: SessionExtensions; fired: FiredRule[] } {
    const fired: FiredRule[] = [];
    const hidden = new Set<string>();
    let sizeLimit: number | undefined;
    let lines = [...keywords];
    const full: RuleEvent = { ...event, command: 'EHLO' };
    for (const rule of this.rules) {
      const action = rule.action;
      if (action.kind !== 'extensions' || !this.applies(rule, full)) continue;
      for (const keyword of action.hide) hidden.add(keyword);
      lines = lines.filter((line) => !action.hide.includes((line.split(' ', 1)[0] ?? '').toUpperCase()));
      for (const line of action.advertise) {
        const keyword = (line.split(' ', 1)[0] ?? '').toUpperCase();
        hidden.delete(keyword);
        lines = lines.filter((l) => (l.split(' ', 1)[0] ?? '').toUpperCase() !== keyword);
        lines.push(line);
      }
      if (action.size !== undefined) {
        sizeLimit = action.size;
        hidden.delete('SIZE');
        lines = lines.filter((l) => (l.split(' ', 1)[0] ?? '').toUpperCase() !== 'SIZE');
        lines.push(`SIZE ${action.size}`);
      }
      fired.push({ rule: rule.index, name: rule.name, command: 'EHLO', action: 'extensions', at: this.stamp() });
    }
    return { keywords: lines, session: { hidden, sizeLimit }, fired };
  }
}
