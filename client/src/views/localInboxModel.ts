/**
 * The pure part of the Local Inbox view: reading its settings and turning stored messages into the
 * text of tree items, tooltips and the status bar. No `vscode` import, so it is tested directly.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { escapeMarkdown, iconInertLine, visibleLine } from '../../../common/escape';
import type { CaptureAccount, CapturedAuthentication, CaptureRule, CaptureRules, FiredRule, RuleAction, RuleMatch, StoredMessage } from '../localServer';

/** The `smtp.localServer.*` settings as the extension reads them. */
export interface LocalServerSettings {
  host: string;
  port: number;
  /** `smtp.localServer.folder`; empty or undefined for the extension's global storage. */
  dir?: string;
  /** `smtp.localServer.auth`: `any` (or empty) for any credentials, or `user:pass`. */
  auth?: string;
  /** `smtp.localServer.rules`: a behaviour rules file, relative to the first workspace folder. */
  rules?: string;
  /** `smtp.localServer.verify`: verify each captured message (DKIM, SPF, DMARC, ARC). */
  verify?: boolean;
  /** `smtp.dns.server`, for the verification's lookups; empty for the system's resolver. */
  dnsServer?: string;
}

/** Reads `smtp.localServer.auth`: any credentials, or one account, or why the value is wrong. */
export function parseAuthSetting(value: string | undefined): { ok: true; auth: 'any' | CaptureAccount } | { ok: false; message: string } {
  const text = (value ?? '').trim();
  if (text === '' || text.toLowerCase() === 'any') return { ok: true, auth: 'any' };
  const colon = text.indexOf(':');
  if (colon <= 0) return { ok: false, message: `smtp.localServer.auth must be "any" or "user:pass", not "${text}"` };
  return { ok: true, auth: { user: text.slice(0, colon), pass: text.slice(colon + 1) } };
}

/**
 * The inbox folder: the setting when given (`~` is the home folder, a relative path is taken from
 * the first workspace folder, else from the home folder), otherwise the default.
 */
export function resolveInboxFolder(setting: string | undefined, context: { defaultDir: string; workspaceFolder?: string; home?: string }): string {
  const text = (setting ?? '').trim();
  if (text === '') return context.defaultDir;
  const home = context.home ?? homedir();
  if (text === '~') return home;
  if (text.startsWith('~/') || text.startsWith('~\\')) return join(home, text.slice(2));
  if (isAbsolute(text)) return resolve(text);
  return resolve(context.workspaceFolder ?? home, text);
}

/** The item's label: the subject, or a placeholder. */
export function messageLabel(message: StoredMessage): string {
  const subject = message.subject?.trim();
  return subject === undefined || subject === '' ? '(no subject)' : subject;
}

/** The sender to show: the From field's display part, else the envelope sender. */
export function senderText(message: StoredMessage): string {
  const from = message.from?.trim();
  if (from !== undefined && from !== '') {
    // `"Alice A." <alice@example.test>` shows as `Alice A.`; a bare address as itself.
    const named = /^\s*"?([^"<]*?)"?\s*<([^>]*)>/.exec(from);
    if (named) return named[1].trim() !== '' ? named[1].trim() : named[2];
    return from;
  }
  if (message.envelope) return message.envelope.mailFrom === '' ? '<>' : message.envelope.mailFrom;
  return '(unknown sender)';
}

/** The recipients to show: the envelope's (who the message was really sent to), else the To field. */
export function recipientsText(message: StoredMessage): string {
  const rcpts = message.envelope?.rcptTo ?? [];
  if (rcpts.length === 0) return message.to ?? '';
  return rcpts.length <= 2 ? rcpts.join(', ') : `${rcpts.slice(0, 2).join(', ')} +${rcpts.length - 2}`;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** A local time: `14:03:07` today, else `2026-11-22 14:03`. */
export function timeText(date: Date, now = new Date()): string {
  const sameDay = date.getFullYear() === now.getFullYear() && date.getMonth() === now.getMonth() && date.getDate() === now.getDate();
  const hms = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return sameDay ? hms : `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${hms.slice(0, 5)}`;
}

/** The item's description: sender → recipients · time, then the authentication verdicts and the rule that answered. */
export function messageDescription(message: StoredMessage, now = new Date()): string {
  const to = recipientsText(message);
  const auth = message.authentication ? ` · ${authenticationSummary(message.authentication)}` : '';
  const rule = answeringRule(message.rules);
  return `${senderText(message)}${to === '' ? '' : ` → ${to}`} · ${timeText(message.receivedAt, now)}${auth}${rule ? ` · rule "${rule.name}"` : ''}`;
}

/** How a verdict looks: passed, not applicable (none, neutral), or failed (anything else). */
export type VerdictKind = 'pass' | 'none' | 'fail';

export function verdictKind(result: string): VerdictKind {
  const r = result.toLowerCase();
  if (r === 'pass') return 'pass';
  if (r === 'none' || r === 'neutral' || r === '') return 'none';
  return 'fail';
}

/** The codicon of a verdict, for Markdown tooltips. */
function verdictIcon(result: string): string {
  const kind = verdictKind(result);
  return kind === 'pass' ? '$(pass)' : kind === 'none' ? '$(circle-slash)' : '$(error)';
}

/** The best DKIM verdict: a passing signature wins; no signature is `none` (RFC 8601 §2.7.1). */
function dkimResult(auth: CapturedAuthentication): string {
  if (auth.dkim.length === 0) return 'none';
  return auth.dkim.find((d) => verdictKind(d.result) === 'pass')?.result ?? auth.dkim[0].result;
}

/** `dkim=pass spf=pass dmarc=pass arc=none`, in the order of an Authentication-Results field (RFC 8601). */
export function authenticationSummary(auth: CapturedAuthentication): string {
  if (auth.error !== undefined) return `verification failed: ${auth.error}`;
  return `dkim=${dkimResult(auth)} spf=${auth.spf.result} dmarc=${auth.dmarc.result} arc=${auth.arc.result}`;
}

/** The item's icon: `verified` when every method passed or did not apply, `unverified` when one failed, else the plain mail icons. */
export function messageIcon(message: StoredMessage): { id: string; color?: string } {
  const auth = message.authentication;
  if (auth) {
    if (auth.failed || auth.error !== undefined) return { id: 'unverified', color: 'problemsErrorIcon.foreground' };
    return { id: 'verified', color: 'testing.iconPassed' };
  }
  return { id: message.envelope?.tls ? 'mail-read' : 'mail' };
}

/**
 * The rule that answered the client: the last one that set a reply or closed the connection, else
 * the last that fired (a delay, an extension change). Undefined when no rule fired.
 */
export function answeringRule(rules: readonly FiredRule[] | undefined): FiredRule | undefined {
  if (!rules || rules.length === 0) return undefined;
  return [...rules].reverse().find((r) => r.reply !== undefined || r.action === 'close') ?? rules[rules.length - 1];
}

/** One fired rule as a line: `"greylist" (greylist) at RCPT: 451 4.7.1 Try again later`. */
export function firedRuleText(rule: FiredRule): string {
  return `"${rule.name}" (${rule.action}) at ${rule.command}${rule.reply ? `: ${rule.reply}` : ''}`;
}

/**
 * Why the rules file's current version is not in force: its errors (the first one's 1-based line),
 * or that it could not be read. The rules in force are then the last good version's.
 */
export interface RulesFileProblem {
  errors: number;
  /** The 1-based line of the first error; undefined when the file could not be read. */
  line?: number;
}

/**
 * The description of the "Rules in force" node: `3 rules (capture-rules.json)`, or undefined for
 * none. When the file's latest version was refused it says so, because the rules shown are then
 * the last good version's, not what the editor shows: `2 rules (capture-rules.json) · the file has
 * 1 error (line 4): last good rules in force`.
 */
export function rulesDescription(rules: CaptureRules | undefined, file: string | undefined, problem?: RulesFileProblem): string | undefined {
  const count = !rules || rules.rules.length === 0 ? 'no rules' : `${rules.rules.length} rule${rules.rules.length === 1 ? '' : 's'}`;
  const stale =
    problem === undefined
      ? ''
      : problem.line === undefined
        ? ' · the file cannot be read: last good rules in force'
        : ` · the file has ${problem.errors} error${problem.errors === 1 ? '' : 's'} (line ${problem.line}): last good rules in force`;
  if (!rules || rules.rules.length === 0) return file ? `${count} (${file})${stale}` : undefined;
  return file ? `${count} (${file})${stale}` : `${count}${stale}`;
}

/** What a rule does, in a few words: `reply 550 5.1.1 No such user`, `greylist 60 s`, `require starttls`. */
export function ruleActionText(action: RuleAction): string {
  switch (action.kind) {
    case 'reply':
      return `reply ${action.code} ${action.text}${action.close ? ' and close' : ''}`;
    case 'close':
      return 'close the connection';
    case 'delay':
      return 'delay';
    case 'greylist':
      return `greylist (accept after ${Math.round(action.retryAfterMs / 1000)} s)`;
    case 'require':
      return `require ${action.what === 'starttls' ? 'STARTTLS' : 'AUTH'}`;
    case 'extensions': {
      const parts = [
        ...(action.hide.length > 0 ? [`hide ${action.hide.join(' ')}`] : []),
        ...(action.advertise.length > 0 ? [`advertise ${action.advertise.join(' ')}`] : []),
        ...(action.size !== undefined ? [`SIZE ${action.size}`] : []),
      ];
      return parts.join(', ') || 'extensions';
    }
  }
}

/** When a rule applies, in a few words: `RCPT recipient=bob@* attempt 1-2`, or `always`. */
export function ruleMatchText(when: RuleMatch): string {
  const range = (r: { min: number; max: number }): string => (r.min === r.max ? String(r.min) : r.max >= Number.MAX_SAFE_INTEGER ? `${r.min}+` : `${r.min}-${r.max}`);
  const parts = [
    ...(when.commands ? [when.commands.join('|')] : []),
    ...(when.sender ? [`sender=${when.sender.map((p) => (p === '' ? '<>' : p)).join('|')}`] : []),
    ...(when.recipient ? [`recipient=${when.recipient.join('|')}`] : []),
    ...(when.client ? [`client=${when.client.join('|')}`] : []),
    ...(when.attempt ? [`attempt ${range(when.attempt)}`] : []),
    ...(when.after !== undefined ? [`after ${when.after} s`] : []),
    ...(when.before !== undefined ? [`before ${when.before} s`] : []),
    ...(when.size ? [`size ${range(when.size)}`] : []),
    ...(when.tls !== undefined ? [when.tls ? 'under TLS' : 'without TLS'] : []),
    ...(when.authenticated !== undefined ? [when.authenticated ? 'authenticated' : 'not authenticated'] : []),
  ];
  return parts.length > 0 ? parts.join(' ') : 'always';
}

/** One rule in force as a line: `greylist partners: MAIL sender=*@partner.test → greylist (accept after 60 s)`. */
export function ruleLine(rule: CaptureRule): string {
  return `${rule.name}: ${ruleMatchText(rule.when)} → ${ruleActionText(rule.action)}${rule.delayMs > 0 ? ` after ${rule.delayMs} ms` : ''}`;
}

function sizeText(octets: number): string {
  if (octets < 1024) return `${octets} octets`;
  if (octets < 1024 * 1024) return `${(octets / 1024).toFixed(1)} KiB`;
  return `${(octets / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * The tooltip as Markdown: header fields, then the authentication verdicts and the rules that fired
 * (what a user looks for first), then the envelope, TLS and AUTH, transfer, size and file.
 */
export function messageTooltip(message: StoredMessage): string {
  const fieldRows: Array<[string, string | undefined]> = [
    ['Subject', message.subject],
    ['From', message.from],
    ['To', message.to],
    ['Date', message.date],
  ];
  const rows: Array<[string, string | undefined]> = [];
  const env = message.envelope;
  if (env) {
    rows.push(
      ['MAIL FROM', `<${env.mailFrom}>${Object.keys(env.mailParameters).length > 0 ? ` ${paramText(env.mailParameters)}` : ''}`],
      ['RCPT TO', env.rcptTo.map((r) => `<${r}>`).join(', ')],
      ['Client', `${env.helo ?? '(no EHLO)'} [${env.remoteAddress}]`],
      ['TLS', env.tls ? `${env.tls.protocol ?? 'TLS'} ${env.tls.cipher}` : 'none'],
      ['AUTH', env.auth ? `${env.auth.method} as ${env.auth.username}` : 'none'],
      ['Protocol', env.transmissionType],
    );
  }
  if (env?.transfer) rows.push(['Transfer', env.transfer === 'BDAT' ? 'BDAT chunks (RFC 3030 CHUNKING)' : 'DATA']);
  rows.push(['Received', message.receivedAt.toISOString()], ['Size', sizeText(message.size)], ['File', message.path]);
  const text = (list: Array<[string, string | undefined]>): string[] =>
    list.filter((row): row is [string, string] => row[1] !== undefined).map(([name, value]) => `**${name}:** ${escapeMarkdown(value)}`);
  const lines = text(fieldRows);
  const auth = message.authentication;
  if (auth) {
    lines.push('', '**Authentication** (as it arrived, with the client\'s IP, HELO and MAIL FROM):');
    if (auth.error !== undefined) lines.push(`$(error) verification failed: ${escapeMarkdown(auth.error)}`);
    else {
      if (auth.dkim.length === 0) lines.push(`${verdictIcon('none')} **DKIM** none: ${escapeMarkdown('no signature')}`);
      for (const d of auth.dkim) {
        const who = d.domain ? ` (d=${d.domain}${d.selector ? ` s=${d.selector}` : ''})` : '';
        lines.push(`${verdictIcon(d.result)} **DKIM** ${escapeMarkdown(d.result + who)}: ${escapeMarkdown(d.info)}`);
      }
      for (const [name, m] of [['SPF', auth.spf], ['DMARC', auth.dmarc], ['ARC', auth.arc]] as const) {
        lines.push(`${verdictIcon(m.result)} **${name}** ${escapeMarkdown(m.result)}: ${escapeMarkdown(m.info)}`);
      }
    }
  }
  if (message.rules && message.rules.length > 0) {
    lines.push('', '**Rules that fired:**');
    for (const r of message.rules) lines.push(`$(law) ${escapeMarkdown(firedRuleText(r))}`);
  }
  if (auth || (message.rules && message.rules.length > 0)) lines.push('');
  lines.push(...text(rows));
  return lines.join('  \n');
}

function paramText(params: Record<string, string | true>): string {
  return Object.entries(params)
    .map(([k, v]) => (v === true ? k : `${k}=${v}`))
    .join(' ');
}

/** The status bar text while the server runs. */
export function statusText(address: string, count: number): string {
  return `$(mail) ${address}${count > 0 ? ` (${count})` : ''}`;
}

/**
 * True when a captured message (raw, latin1) may hold a report, cheaply, before it is parsed: a
 * `message/feedback-report` part (RFC 6591, RFC 9991), the TLS-RPT media types (RFC 8460 §5.3), or
 * a part named like an aggregate or TLS-RPT report (`.xml`, `.xml.gz`, `.zip`, `.json`, `.json.gz`,
 * RFC 9990 §3.1.1) or typed as one (gzip, zip, XML). The parsers decide; this only skips the rest.
 */
export function mayHoldReport(text: string): boolean {
  return (
    /message\/feedback-report|application\/tlsrpt\+(?:gzip|json)/i.test(text) ||
    /\b(?:file)?name\*?=\s*"?[^";\r\n]*\.(?:xml|xml\.gz|zip|json|json\.gz|gz)"?/i.test(text) ||
    /^content-type:\s*(?:application\/(?:x-)?(?:gzip|zip|x-zip-compressed|xml)|text\/xml)\b/im.test(text)
  );
}

/** The report counts of one captured message, as the report summary gives them. */
export interface ReportCounts {
  aggregate: number;
  tlsRpt: number;
  failure: number;
}

/** The badge of a captured message that holds reports: `DMARC report`, `TLS-RPT report`, `failure report`, joined; undefined for none. */
export function reportBadge(counts: ReportCounts | undefined): string | undefined {
  if (!counts) return undefined;
  const parts = [
    ...(counts.aggregate > 0 ? [counts.aggregate === 1 ? 'DMARC report' : `${counts.aggregate} DMARC reports`] : []),
    ...(counts.tlsRpt > 0 ? [counts.tlsRpt === 1 ? 'TLS-RPT report' : `${counts.tlsRpt} TLS-RPT reports`] : []),
    ...(counts.failure > 0 ? [counts.failure === 1 ? 'failure report' : `${counts.failure} failure reports`] : []),
  ];
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** One bulk-sender requirement as a quick-pick row: the verdict's codicon and title, the finding (escaped, inert) and its source. */
export function bulkFindingItem(r: { status: 'pass' | 'fail' | 'unknown'; code: string; title: string; message: string; link: string }): { label: string; description: string; detail: string; link: string } {
  const icon = r.status === 'pass' ? '$(pass)' : r.status === 'fail' ? '$(error)' : '$(question)';
  // What the message and DNS said is shown as text: escaped, and never as codicons of its own.
  return { label: `${icon} ${r.title}`, description: `${r.status} · ${r.code}`, detail: `${iconInertLine(r.message)} — ${visibleLine(r.link)}`, link: r.link };
}
