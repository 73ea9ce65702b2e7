/**
 * Hovers for `.smtp` scripts (docs/smtp-language.md): what a command, directive, parameter, reply
 * code, address, variable or metadata line means, with links to the RFC sections that define it.
 * The hover is pure: it reads the analysis of the script and the RFC facts in server/src/facts/,
 * and never throws, whatever the input. Every piece of user text is escaped before it enters the
 * Markdown, and secrets never appear in it.
 */
import { parseConnectTarget, DEFAULT_PORTS } from '../../../common/connectTarget';
import type { OffsetRange } from '../../../common/problem';
import { authMechanism } from '../facts/authMechanisms';
import { allRepliesOf, commandFact, type CommandFact } from '../facts/commands';
import { ENHANCED_DETAILS, enhancedCodeFact } from '../facts/enhancedCodes';
import { ehloKeyword, mailParameter, rcptParameter, type ParameterFact } from '../facts/esmtpKeywords';
import { describeReplyClass, describeReplyCode, replyCodeFact } from '../facts/replyCodes';
import { formatReference } from '../facts/rfc';
import type {
  AuthNode,
  CommandNode,
  ConnectNode,
  ExpectNode,
  MessageNode,
  MetadataNode,
  RawNode,
  SessionItem,
  SessionNode,
  TlsNode,
  VariableNode,
  VariableReference,
} from './smtpAst';
import { ENGINE_AUTH_MECHANISMS, isTlsVersion, METADATA_KEYS, TIMEOUT_PHASES, TLS_VERSIONS } from '../facts/scriptVocabulary';
import { describeState, expectsSuccess, foldSession, nextCommands, pairSteps, stepReplies } from './smtpState';
import { decodeRawEscapes, escapeBytes, escapeMarkdown, markdownCodeSpan, markdownFence } from '../../../common/escape';
import { MASK } from '../../../common/masking';
import { BUILTINS } from './smtpParser';
import { namesSecret, rfc5322Date } from '../../../common/variables';
import { fileScope, sessionScope, staticValue, type Scope } from './smtpScopes';
import { documentCredentialSources, outsideNameSecret, variableSecrecy, type CredentialSources, type SecretReason } from './smtpSecrets';

import type { SmtpAnalysis } from './smtpService';

export interface SmtpHover {
  markdown: string;
  range: OffsetRange;
}

/** Values from outside the script that a hover may show. */
export interface HoverEnvironment {
  /** The selected environment's variables (VS Code `smtp.environments`, `--var` in the CLI). */
  environment?: Record<string, string>;
  /** The process environment, for `{{$env NAME}}`. */
  processEnv?: Record<string, string | undefined>;
  /** The clock of the `{{$date}}` example; a fixed sample date when absent. */
  now?: () => Date;
  /** The UUIDs of the `{{$uuid}}` and `{{$messageId}}` examples; a fixed sample when absent. */
  uuid?: () => string;
  /** The host name of the `{{$messageId}}` example, as the engine is given it. */
  hostname?: string;
}

/** The examples a hover shows when no clock or UUID source is passed in (RFC 9562 §A.1's UUID). */
const SAMPLE_DATE = new Date(Date.UTC(2026, 0, 5, 9, 8, 7));
const SAMPLE_UUID = 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6';

/** The IANA registry of enhanced status codes, created by RFC 5248. */
const IANA_ENHANCED_CODES = 'https://www.iana.org/assignments/smtp-enhanced-status-codes/smtp-enhanced-status-codes.xhtml';

// -------------------------------------------------------------------------------------------------
// Markdown helpers

/**
 * Markdown for the project's own fact texts (RFC summaries, notes), where `backticks` mark code:
 * those parts become code spans, the rest is escaped prose. Never used for text from a script or a
 * peer, which is always escaped whole.
 */
function factMarkdown(text: string): string {
  return text
    .split('`')
    .map((part, i, parts) => (i % 2 === 1 && i < parts.length - 1 ? markdownCodeSpan(part) : escapeMarkdown(i % 2 === 1 ? '`' + part : part)))
    .join('');
}

/** A fenced code block holding text exactly (CommonMark §4.5), with the fence of common/escape.ts. */
function codeBlock(text: string, language = ''): string {
  const fence = markdownFence(text);
  return `${fence}${language}\n${text}\n${fence}`;
}

function link(label: string, url: string): string {
  return `[${label}](${url})`;
}

function referenceLink(reference: { rfc?: number; section: string; link: string }): string {
  if (reference.rfc === undefined) return link('specification', reference.link);
  return link(formatReference({ rfc: reference.rfc, section: reference.section }), reference.link);
}

function contains(range: OffsetRange, offset: number): boolean {
  return range.start <= offset && offset < range.end;
}

/** Like {@link contains}, but also accepts the offset just after the range (a cursor after a word). */
function touches(range: OffsetRange, offset: number): boolean {
  return range.start <= offset && offset <= range.end;
}

// -------------------------------------------------------------------------------------------------
// Variables

interface ResolveContext {
  scope: Scope;
  /** What reaches the script's AUTH secrets: with the names, it decides which values are secret (smtpSecrets.ts). */
  secrets: CredentialSources;
  environment: Record<string, string>;
  processEnv: Record<string, string | undefined>;
  now: () => Date;
  uuid: () => string;
  hostname: string;
}

interface Resolved {
  /** The text with every reference replaced; references known only at run time stay as written. */
  text: string;
  /** True when a secret went into the value, so it must be masked. */
  secret: boolean;
  /** True when the value is known now (no run-time built-in, no missing variable). */
  complete: boolean;
}

/** Substitutes references for the preview a hover shows; never throws, stops at cycles. */
function resolveText(text: string, ctx: ResolveContext, stack: string[] = []): Resolved {
  let out = '';
  let from = 0;
  let secret = false;
  let complete = true;
  for (;;) {
    const open = text.indexOf('{{', from);
    if (open < 0) break;
    const close = text.indexOf('}}', open + 2);
    if (close < 0) {
      complete = false;
      break;
    }
    out += text.slice(from, open);
    const inner = text.slice(open + 2, close).trim();
    const written = text.slice(open, close + 2);
    if (inner.startsWith('$')) {
      const m = /^\$([A-Za-z]+)(?:\s+(\S+))?$/.exec(inner);
      const name = m?.[1] ?? '';
      const argument = m?.[2] ?? '';
      if (name === 'secret' || (name === 'prompt' && outsideNameSecret(argument, ctx.secrets))) {
        out += MASK;
        secret = true;
      } else if (name === 'env' && argument !== '' && ctx.processEnv[argument] !== undefined) {
        if (outsideNameSecret(argument, ctx.secrets)) {
          out += MASK;
          secret = true;
        } else out += ctx.processEnv[argument];
      } else {
        out += written;
        complete = false;
      }
    } else if (Object.prototype.hasOwnProperty.call(ctx.environment, inner)) {
      const masked = outsideNameSecret(inner, ctx.secrets);
      out += masked ? MASK : ctx.environment[inner];
      secret ||= masked;
    } else {
      const definition = ctx.scope.variables.get(inner);
      if (!definition?.value || stack.includes(inner) || stack.length > 16) {
        out += written;
        complete = false;
      } else {
        const nested = resolveText(definition.value.text, ctx, [...stack, inner]);
        const masked = nested.secret || variableSecrecy(inner, ctx.scope, ctx.secrets) !== undefined;
        out += masked ? MASK : nested.text;
        secret ||= masked;
        complete &&= nested.complete;
      }
    }
    from = close + 2;
  }
  return { text: out + text.slice(from), secret, complete };
}

function cliSecretVariable(name: string): string {
  return `SMTPWB_SECRET_${name.toUpperCase().replace(/-/g, '_')}`;
}

function builtinHover(ref: VariableReference, ctx: ResolveContext): string {
  const fact = BUILTINS[ref.name];
  const arg = ref.argument?.text;
  const lines: string[] = [];
  if (!fact) {
    lines.push(`**Unknown built-in** ${markdownCodeSpan('$' + ref.name)}`, '', `Built-ins: ${Object.keys(BUILTINS).map((b) => markdownCodeSpan('$' + b)).join(', ')}.`);
    return lines.join('\n');
  }
  lines.push(`**Built-in** ${markdownCodeSpan(`{{$${ref.name}${fact.argument ? ' NAME' : ''}}}`)}: ${factMarkdown(fact.summary)}.`, '');
  switch (ref.name) {
    case 'env':
      if (arg === undefined) lines.push('Needs the name of an environment variable: `{{$env NAME}}`.');
      else if (outsideNameSecret(arg, ctx.secrets)) lines.push(`Value: ${markdownCodeSpan(MASK)} (masked: ${markdownCodeSpan(arg)} ${namesSecret(arg) ? 'looks like a secret' : 'is used as an AUTH secret'}).`);
      else if (ctx.processEnv[arg] === undefined) lines.push(`${markdownCodeSpan(arg)} is not set in the environment: the run fails with an undefined-variable error.`);
      else lines.push(`Value: ${markdownCodeSpan(ctx.processEnv[arg] ?? '')}`);
      break;
    case 'secret':
      if (arg === undefined) lines.push('Needs the name of the secret: `{{$secret NAME}}`.');
      else {
        lines.push(
          `The secret ${markdownCodeSpan(arg)} is stored in VS Code's SecretStorage (asked for once when missing); in the CLI it is read from the environment variable ${markdownCodeSpan(cliSecretVariable(arg))}.`,
          '',
          `Its value is never shown, and appears as ${markdownCodeSpan(MASK)} in transcripts, logs and exports.`,
        );
      }
      break;
    case 'dotenv':
      lines.push(arg === undefined ? 'Needs a name: `{{$dotenv NAME}}`.' : `Read at run time from ${markdownCodeSpan('.env')} beside the script, or else at the workspace root: ${markdownCodeSpan(arg)}.`);
      break;
    case 'prompt':
      lines.push(
        arg === undefined
          ? 'Needs a name: `{{$prompt NAME}}`.'
          : outsideNameSecret(arg, ctx.secrets)
            ? `Asked at run time; the input is masked because ${markdownCodeSpan(arg)} ${namesSecret(arg) ? 'looks like a password' : 'is used as an AUTH secret'}, and it appears as ${markdownCodeSpan(MASK)} in transcripts.`
            : `Asked at run time as ${markdownCodeSpan(arg)}.`,
      );
      break;
    case 'uuid':
      lines.push(`A new random UUID (RFC 9562) each time, e.g. ${markdownCodeSpan(ctx.uuid())}.`);
      break;
    case 'date':
      lines.push(`The current date and time in RFC 5322 §3.3 form, e.g. ${markdownCodeSpan(rfc5322Date(ctx.now()))}.`);
      break;
    case 'messageId':
      lines.push(`A new Message-ID (RFC 5322 §3.6.4), e.g. ${markdownCodeSpan(`<${ctx.uuid()}@${ctx.hostname}>`)}.`);
      break;
  }
  return lines.join('\n');
}

/** The reason a hover gives for a masked value, in the words of smtpSecrets.ts's decision. */
function secretReasonText(reason: SecretReason): string {
  switch (reason) {
    case 'name':
      return 'the name looks like a secret';
    case 'credential':
      return 'the value is used as an AUTH secret';
    case 'holds-secret':
      return 'it holds a secret';
  }
}

function variableHover(name: string, ctx: ResolveContext, definitionLine: (node: VariableNode) => number): string {
  const lines: string[] = [`**Variable** ${markdownCodeSpan(name)}`, ''];
  if (Object.prototype.hasOwnProperty.call(ctx.environment, name)) {
    const secret = outsideNameSecret(name, ctx.secrets);
    lines.push(`Value: ${markdownCodeSpan(secret ? MASK : ctx.environment[name])} (from the selected environment, which overrides the script).`);
    if (secret) lines.push('', `The value is masked because ${secretReasonText(namesSecret(name) ? 'name' : 'credential')}.`);
    return lines.join('\n');
  }
  if (ctx.scope.external.has(name)) {
    lines.push('Defined outside the script (the selected environment or `--var`).');
    return lines.join('\n');
  }
  const definition = ctx.scope.variables.get(name);
  if (!definition?.value) {
    lines.push(`Not defined: add ${markdownCodeSpan(`@${name} = value`)} or define it in the selected environment.`);
    return lines.join('\n');
  }
  const resolved = resolveText(definition.value.text, ctx, [name]);
  const reason: SecretReason | undefined = variableSecrecy(name, ctx.scope, ctx.secrets) ?? (resolved.secret ? 'holds-secret' : undefined);
  const masked = reason !== undefined;
  const plain = staticValue(definition.value.text, ctx.scope);
  if (reason) {
    lines.push(`Value: ${markdownCodeSpan(MASK)} (masked: ${secretReasonText(reason)}).`);
  } else if (plain !== undefined) {
    lines.push(`Value: ${markdownCodeSpan(plain)}`);
  } else {
    lines.push(`Value: ${markdownCodeSpan(resolved.text)}${resolved.complete ? '' : ' (parts are known only at run time)'}`);
  }
  lines.push('', `Defined on line ${definitionLine(definition) + 1}${masked ? '' : ` as ${markdownCodeSpan(definition.value.text)}`}.`);
  const nested = definition.references;
  if (nested.length > 0) {
    lines.push('', 'References:');
    for (const ref of nested) {
      if (ref.builtin) {
        lines.push(`- ${markdownCodeSpan(`{{$${ref.name}${ref.argument ? ' ' + ref.argument.text : ''}}}`)}: ${factMarkdown(BUILTINS[ref.name]?.summary ?? 'an unknown built-in')}`);
        continue;
      }
      const target = ctx.scope.variables.get(ref.name);
      const value = resolveText(`{{${ref.name}}}`, ctx, [name]);
      const where = Object.prototype.hasOwnProperty.call(ctx.environment, ref.name) ? 'the selected environment' : target ? `line ${target.line + 1}` : 'not defined';
      const shown = value.secret || variableSecrecy(ref.name, ctx.scope, ctx.secrets) !== undefined ? MASK : value.text;
      lines.push(`- ${markdownCodeSpan(`{{${ref.name}}}`)} → ${markdownCodeSpan(shown)} (${where})`);
    }
  }
  return lines.join('\n');
}

// -------------------------------------------------------------------------------------------------
// Commands and replies

function replyList(codes: readonly number[]): string {
  return codes.map((code) => {
    const fact = replyCodeFact(code);
    return `${code}${fact ? ' ' + factMarkdown(shorten(fact.meaning)) : ''}`;
  }).join('; ');
}

function shorten(text: string): string {
  const cut = text.indexOf(' (');
  return cut > 0 ? text.slice(0, cut) : text;
}

function commandMarkdown(fact: CommandFact): string {
  const lines: string[] = [`**${fact.verb}** — ${referenceLink(fact)}`, '', codeBlock(fact.syntax, 'smtp'), '', factMarkdown(fact.summary)];
  if (fact.requiresKeyword) lines.push('', `The server must advertise ${markdownCodeSpan(fact.requiresKeyword)} in its EHLO reply.`);
  if (fact.lmtpOnly) lines.push('', 'LMTP only (`lmtp://`, RFC 2033).');
  if (fact.insecure) lines.push('', '**Insecure**: see the notes below.');
  lines.push('', '**Replies** (RFC 5321 §4.2.1, §4.3.2):');
  const groups: Array<[string, readonly number[]]> = [
    ['2yz success', fact.replies.success],
    ['3yz intermediate', fact.replies.intermediate],
    ['4yz transient failure', fact.replies.temporary],
    ['5yz permanent failure', fact.replies.permanent],
  ];
  for (const [label, codes] of groups) if (codes.length > 0) lines.push(`- ${label}: ${replyList(codes)}`);
  for (const note of fact.notes) lines.push('', factMarkdown(note));
  return lines.join('\n');
}

function unknownCommandMarkdown(verb: string): string {
  return `**${escapeMarkdown(verb)}**: not a known SMTP or LMTP command. It is sent as written; servers answer 500 or 502 to commands they do not implement (RFC 5321 §4.2.4).`;
}

function parameterMarkdown(fact: ParameterFact, written: string): string {
  const lines: string[] = [`**${fact.command} parameter ${fact.name}** — ${referenceLink(fact)}`, '', factMarkdown(fact.summary), ''];
  lines.push(fact.value === 'none' ? `Written ${markdownCodeSpan(fact.name)}, without a value.` : `Value: ${markdownCodeSpan(fact.valueSyntax)}${fact.values ? ` — one of ${fact.values.map(markdownCodeSpan).join(', ')}` : ''}`);
  const keyword = ehloKeyword(fact.keyword);
  lines.push('', `The server must advertise ${markdownCodeSpan(fact.keyword)} in its EHLO reply${keyword ? ` (${referenceLink(keyword)})` : ''}; otherwise it answers 555 (RFC 5321 §4.1.1.11).`);
  const eq = written.indexOf('=');
  const value = eq < 0 ? undefined : written.slice(eq + 1);
  if (!written.includes('{{')) {
    const error = fact.validate(value);
    if (error) lines.push('', `**Problem**: ${escapeMarkdown(error)}`);
  }
  return lines.join('\n');
}

// -------------------------------------------------------------------------------------------------
// Addresses

function addressMarkdown(command: CommandNode, written: string, value: string | undefined): string {
  const keyword = command.name === 'MAIL' ? 'reverse-path' : 'forward-path';
  const lines: string[] = [`**${command.name === 'MAIL' ? 'Reverse-path' : 'Forward-path'}** ${markdownCodeSpan(written === '' ? '<>' : written)} — ${link('RFC 5321 §4.1.2', 'https://www.rfc-editor.org/rfc/rfc5321#section-4.1.2')}`, ''];
  if (value === undefined) {
    lines.push('The address depends on values known only at run time; its limits are checked then.');
    return lines.join('\n');
  }
  if (value !== written) lines.push(`Resolved: ${markdownCodeSpan(value)}`, '');
  if (value === '') {
    lines.push(command.name === 'MAIL' ? 'The null reverse-path: used by bounces and other notifications, to which no reply must be sent (RFC 5321 §4.5.5).' : 'The null path is not allowed in RCPT TO (RFC 5321 §4.1.1.3).');
    return lines.join('\n');
  }
  const mailbox = value.replace(/^(@[^,:]+,)*@[^,:]+:/, '');
  const at = mailbox.lastIndexOf('@');
  const local = at < 0 ? mailbox : mailbox.slice(0, at);
  const domain = at < 0 ? '' : mailbox.slice(at + 1);
  const octets = (text: string) => Buffer.byteLength(text, 'utf8');
  const row = (part: string, size: number, limit: number) => `| ${part} | ${size} | ${limit} | ${size > limit ? '**over the limit**' : 'ok'} |`;
  lines.push('Limits of RFC 5321 §4.5.3.1:', '', '| part | octets | limit | |', '|---|---|---|---|');
  lines.push(row('local-part', octets(local), 64));
  if (at >= 0) lines.push(row('domain', octets(domain), 255));
  lines.push(row(`${keyword} (with < >)`, octets(value) + 2, 256));
  if (at < 0) lines.push('', command.name === 'RCPT' && /^postmaster$/i.test(mailbox) ? 'The special recipient `<Postmaster>`, which every server must accept (RFC 5321 §4.5.1).' : 'The address has no domain: write local-part@domain.');
  if (/[^\x00-\x7f]/.test(value)) lines.push('', 'A non-ASCII address needs SMTPUTF8 on MAIL FROM (RFC 6531 §3.4).');
  if (mailbox !== value) lines.push('', 'The source route before the mailbox is obsolete; servers must accept and may ignore it (RFC 5321 §4.1.2, Appendix C).');
  return lines.join('\n');
}

// -------------------------------------------------------------------------------------------------
// Directives

function connectMarkdown(node: ConnectNode, ctx: ResolveContext): string {
  const lines: string[] = ['**CONNECT** — where the session connects', ''];
  if (!node.url) {
    lines.push('Needs a target: `smtp://host:port`, `smtps://host`, `submission://host`, `lmtp://host:port`, `mx:domain` or `local`. A session without CONNECT uses the embedded local capture server.');
    return lines.join('\n');
  }
  const resolved = resolveText(node.url.text, ctx);
  if (!resolved.complete) {
    lines.push(`Target: ${markdownCodeSpan(resolved.text)}; it is known only at run time.`);
    return lines.join('\n');
  }
  if (resolved.text !== node.url.text) lines.push(`Resolved: ${markdownCodeSpan(resolved.text)}`, '');
  const parsed = parseConnectTarget(resolved.text);
  if (!parsed.ok) {
    lines.push(`**Invalid target**: ${escapeMarkdown(parsed.message)}`);
    return lines.join('\n');
  }
  const target = parsed.target;
  if (target.kind === 'local') {
    lines.push('The embedded local capture server: messages are captured for preview and never delivered.');
  } else if (target.kind === 'mx') {
    lines.push(
      `Delivers as an MTA does (${link('RFC 5321 §5.1', 'https://www.rfc-editor.org/rfc/rfc5321#section-5.1')}): resolves the MX records of ${markdownCodeSpan(target.domain)} and tries the hosts in order of preference, on port ${target.port}${target.port === DEFAULT_PORTS.smtp ? ' (the default)' : ''}.`,
      '',
      'Without MX records the domain\'s own A/AAAA records are used; a null MX (RFC 7505) stops delivery. The connection starts in cleartext; STARTTLS is used when the script asks for it.',
    );
  } else {
    const explicitPort = /:\d+\/?$/.test(resolved.text.trim());
    const portNote = explicitPort ? '' : ` (the default of ${target.scheme}://)`;
    lines.push(`| | |`, `|---|---|`, `| scheme | ${markdownCodeSpan(target.scheme + '://')} |`, `| host | ${markdownCodeSpan(target.host)} |`, `| port | ${target.port}${portNote} |`);
    switch (target.scheme) {
      case 'smtp':
        lines.push(`| TLS | none at first; ${markdownCodeSpan('STARTTLS')} upgrades the connection when the script sends it (${link('RFC 3207', 'https://www.rfc-editor.org/rfc/rfc3207')}) |`);
        break;
      case 'submission':
        lines.push(`| TLS | none at first; use ${markdownCodeSpan('STARTTLS')} before ${markdownCodeSpan('AUTH')} (message submission, ${link('RFC 6409', 'https://www.rfc-editor.org/rfc/rfc6409')}) |`);
        break;
      case 'smtps':
        lines.push(`| TLS | implicit: TLS starts before the greeting (${link('RFC 8314 §3.3', 'https://www.rfc-editor.org/rfc/rfc8314#section-3.3')}) |`);
        break;
      case 'lmtp':
        lines.push(`| TLS | none at first; LMTP greets with ${markdownCodeSpan('LHLO')} (${link('RFC 2033', 'https://www.rfc-editor.org/rfc/rfc2033')}) |`);
        break;
    }
  }
  return lines.join('\n');
}

const TLS_OPTION_DOCS: Record<string, string> = {
  verify: '`verify=on|off`: whether the server certificate is verified (on by default). `off` accepts any certificate, so the session cannot tell the real server from an impostor.',
  sni: '`sni=NAME`: the server name sent in the TLS handshake (RFC 6066 §3) and checked against the certificate; by default the host of CONNECT.',
  ca: '`ca=FILE`: trusted CA certificates (PEM), relative to the script; use it instead of `verify=off` for a private CA.',
  cert: '`cert=FILE`: a client certificate (PEM), relative to the script; needs `key=FILE`.',
  key: '`key=FILE`: the private key of the client certificate (PEM), relative to the script; needs `cert=FILE`.',
  min: `\`min=VERSION\`: the lowest TLS version accepted: ${TLS_VERSIONS.map((v) => '`' + v + '`').join(', ')}. RFC 8996 deprecates TLS 1.0 and 1.1.`,
};

function tlsMarkdown(node: TlsNode, offset: number): { markdown: string; range: OffsetRange } {
  const option = node.options.find((o) => contains(o.range, offset));
  if (option) {
    const key = option.key.text.toLowerCase();
    const doc = TLS_OPTION_DOCS[key];
    const lines: string[] = [`**TLS option** ${markdownCodeSpan(option.key.text)}`, ''];
    lines.push(doc ?? `Unknown option: use ${Object.keys(TLS_OPTION_DOCS).map((k) => markdownCodeSpan(k + '=')).join(', ')}.`);
    const value = option.value?.text;
    if (key === 'verify' && value !== undefined && /^(off|false|no)$/i.test(value)) lines.push('', '**Warning**: certificate verification is off.');
    if (key === 'min' && value !== undefined && !isTlsVersion(value)) lines.push('', `**Problem**: ${markdownCodeSpan(value)} is not one of ${TLS_VERSIONS.join(', ')}.`);
    return { markdown: lines.join('\n'), range: option.range };
  }
  const lines = ['**TLS** — options of the session\'s TLS, implicit (`smtps://`) or started by `STARTTLS` (RFC 3207)', ''];
  for (const doc of Object.values(TLS_OPTION_DOCS)) lines.push(`- ${doc}`);
  return { markdown: lines.join('\n'), range: node.keyword.range };
}

function authMarkdown(node: AuthNode, offset: number): { markdown: string; range: OffsetRange } | undefined {
  if (node.mechanism && contains(node.mechanism.range, offset)) {
    const fact = authMechanism(node.mechanism.text);
    const lines: string[] = [];
    if (!fact) {
      lines.push(`**Unknown SASL mechanism** ${markdownCodeSpan(node.mechanism.text)}`, '', `The engine performs ${ENGINE_AUTH_MECHANISMS.map(markdownCodeSpan).join(', ')}.`);
    } else {
      lines.push(`**AUTH ${fact.name}** — ${referenceLink(fact)}`, '', factMarkdown(fact.summary), '');
      lines.push(
        fact.cleartext
          ? '**Sends the password in clear** (base64 is an encoding, not encryption): use it only over TLS — after STARTTLS or with `smtps://` (RFC 4954 §4).'
          : 'Does not send the password itself over the connection.',
      );
      lines.push('', fact.performed ? 'The engine performs this exchange and masks every payload in the transcript.' : `The engine does not perform ${fact.name}; use ${ENGINE_AUTH_MECHANISMS.join(', ')}, or RAW lines for a manual exchange.`);
      if (fact.deprecated) lines.push('', '**Deprecated**.');
      for (const note of fact.notes) lines.push('', factMarkdown(note));
    }
    return { markdown: lines.join('\n'), range: node.mechanism.range };
  }
  const userArg = node.args[0];
  if (userArg && contains(userArg.range, offset)) {
    return { markdown: `**AUTH user**: the authentication identity sent to the server (RFC 4954 §4).`, range: userArg.range };
  }
  const secretArg = node.args[1];
  if (secretArg && contains(secretArg.range, offset)) {
    const literal = !secretArg.text.includes('{{');
    return {
      markdown: `**AUTH ${literal ? 'secret (written literally)' : 'secret'}**: the password or token; masked as ${markdownCodeSpan(MASK)} in transcripts.${literal ? ' A password written in the script ends up in git: move it to `{{$secret NAME}}`.' : ''}`,
      range: secretArg.range,
    };
  }
  if (contains(node.keyword.range, offset)) {
    const fact = commandFact('AUTH')!;
    const markdown = [
      `**AUTH** (directive) — ${referenceLink(fact)}`,
      '',
      codeBlock('AUTH MECHANISM user secret', 'smtp'),
      '',
      `The engine performs the SASL exchange of RFC 4954 with ${ENGINE_AUTH_MECHANISMS.map(markdownCodeSpan).join(', ')}, and masks every payload. Without EXPECT it expects 235.`,
      '',
      '**Replies**: ' + replyList(allRepliesOf(fact).filter((c) => c !== 334)),
    ].join('\n');
    return { markdown, range: node.keyword.range };
  }
  return undefined;
}

/**
 * What the session's state is at an offset, and what may come next, from the one fold that the
 * analyzer and completion share (smtpState.ts).
 */
function stateLines(session: SessionNode, scope: Scope, limit: number, heading: string): string[] {
  const state = foldSession(session, scope, { limit });
  const next = nextCommands(state).map((n) => markdownCodeSpan(n.label));
  return ['', `${heading}: ${escapeMarkdown(describeState(state))}.${next.length > 0 ? ` May come next: ${next.join(', ')}.` : ''}`];
}

function expectMarkdown(node: ExpectNode, offset: number, session: SessionNode | undefined, scope: Scope): { markdown: string; range: OffsetRange } {
  const step = session ? pairSteps(session).find((s) => s.expects.includes(node)) : undefined;
  const replies = step ? stepReplies(step.item) : undefined;
  const context = (code: number): string => {
    if (!replies || !replies.fact) return '';
    return replies.codes.includes(code) ? `\n\n${markdownCodeSpan(replies.label)} can get this reply.` : `\n\n${markdownCodeSpan(replies.label)} does not normally get this reply (RFC 5321 §4.3.2).`;
  };
  for (const pattern of [...node.codes, ...node.enhanced]) {
    if (!contains(pattern.range, offset)) continue;
    if (pattern.kind === 'code') {
      const info = describeReplyCode(pattern.code);
      const lines: string[] = [`**Reply ${pattern.code}**${info?.fact ? ' — ' + referenceLink(info.fact) : ''}`, ''];
      if (info?.fact) lines.push(factMarkdown(info.fact.meaning), '');
      if (info) {
        lines.push(`Class ${pattern.code.toString()[0]}yz: **${factMarkdown(info.class.name)}**. ${factMarkdown(info.class.description)}`);
        if (info.category) lines.push('', `Category x${pattern.code.toString()[1]}z: ${factMarkdown(info.category.name)}. ${factMarkdown(info.category.description)}`);
        for (const use of info.fact?.uses ?? []) {
          lines.push('', `- ${factMarkdown(use.context)}: ${factMarkdown(use.meaning)}${use.enhanced ? ` (${markdownCodeSpan(use.enhanced)})` : ''} — ${referenceLink(use)}`);
        }
      }
      return { markdown: lines.join('\n') + context(pattern.code), range: pattern.range };
    }
    if (pattern.kind === 'class') {
      const cls = describeReplyClass(pattern.class);
      const matching = replies?.codes.filter((c) => Math.floor(c / 100) === pattern.class) ?? [];
      const lines = [`**Reply class ${pattern.class}xx** — ${link('RFC 5321 §4.2.1', 'https://www.rfc-editor.org/rfc/rfc5321#section-4.2.1')}`, '', `**${factMarkdown(cls.name)}**. ${factMarkdown(cls.description)}`];
      if (replies?.fact) lines.push('', matching.length > 0 ? `Matches the replies of ${markdownCodeSpan(replies.label)}: ${replyList(matching)}.` : `${markdownCodeSpan(replies.label)} normally gets no ${pattern.class}xx reply.`);
      return { markdown: lines.join('\n'), range: pattern.range };
    }
    const lookup = enhancedCodeFact(pattern.code);
    const lines: string[] = [`**Enhanced status code ${escapeMarkdown(pattern.code)}** — ${link('RFC 3463', 'https://www.rfc-editor.org/rfc/rfc3463')}, ${link('IANA registry', IANA_ENHANCED_CODES)}`, ''];
    if (!lookup) {
      lines.push('A code of the form class.subject.detail (RFC 3463 §2); `x` stands for any detail.');
    } else {
      lines.push(`- class ${lookup.code.split('.')[0]}: **${factMarkdown(lookup.class.title)}**. ${factMarkdown(lookup.class.description)}`);
      if (lookup.subject) lines.push(`- subject X.${lookup.subject.subject}: **${factMarkdown(lookup.subject.title)}**. ${factMarkdown(lookup.subject.description)} (${referenceLink(lookup.subject)})`);
      if (lookup.detail) {
        lines.push(`- detail X.${lookup.detail.subject}.${lookup.detail.detail}: **${factMarkdown(lookup.detail.title)}**. ${factMarkdown(lookup.detail.description)} (${referenceLink(lookup.detail)})`);
        if (lookup.detail.replyCodes) lines.push('', `Usually sent with ${lookup.detail.replyCodes.join(', ')}.`);
        if (lookup.detail.deprecated) lines.push('', '**Deprecated** in the registry.');
      } else if (lookup.partial) {
        const count = [...ENHANCED_DETAILS.values()].filter((d) => d.subject === lookup.subject?.subject).length;
        lines.push('', `Matches any detail of the subject (${count} registered).`);
      } else {
        lines.push('', 'This detail is not in the registry.');
      }
    }
    return { markdown: lines.join('\n'), range: pattern.range };
  }
  // The engine decides the classes (client/src/engine/expect.ts, `withStepNeed`); this only says so.
  const textOnly = node.codes.length === 0 && node.enhanced.length === 0;
  const keepsNeed = 'With no reply code on the line, the reply must also be the one the command gets without EXPECT (2xx for most commands, 354 for DATA before RAW, 220 for STARTTLS, 235 for AUTH): a text does not allow other replies.';
  if (node.text && contains(node.text.range, offset)) {
    const markdown = node.text.kind === 'substring'
      ? `**Expected text**: the reply must contain ${markdownCodeSpan(node.text.value)} (case-insensitive).`
      : `**Expected text**: the reply text must match the regular expression ${markdownCodeSpan(`/${node.text.source}/${node.text.flags}`)}.`;
    return { markdown: textOnly ? `${markdown}\n\n${keepsNeed}` : markdown, range: node.text.range };
  }
  const lines = ['**EXPECT** — the reply the previous command must get', ''];
  lines.push('Reply codes (`250`), classes (`2xx`), enhanced status codes (`5.1.1`, RFC 3463) and optionally `"text"` or `/regex/flags`. Only codes, classes and enhanced codes change the replies the command may get; a text alone is checked on top of the reply it needs without EXPECT.');
  if (textOnly && node.text) lines.push('', keepsNeed);
  if (step && replies) {
    lines.push('', `Checks the reply to ${markdownCodeSpan(replies.label)} on line ${step.item.line + 1}.`);
    if (replies.codes.length > 0) lines.push('', `${markdownCodeSpan(replies.label)} can get: ${replyList(replies.codes)}.`);
    if (!expectsSuccess(step)) lines.push('', `A refusal: the server does not carry out ${markdownCodeSpan(replies.label)}, so the session goes on as if it had not been sent.`);
    if (session) lines.push(...stateLines(session, scope, node.range.end, 'After this reply'));
  } else {
    lines.push('', '**No command before it**: EXPECT must follow the command whose reply it checks.');
  }
  return { markdown: lines.join('\n'), range: node.keyword.range };
}

function rawMarkdown(node: RawNode, offset: number): { markdown: string; range: OffsetRange } {
  const bytes = decodeRawEscapes(node.payload.text);
  const lines = ['**RAW** — bytes sent exactly as written; nothing is appended', ''];
  lines.push(`${bytes.length} octets:`, '', codeBlock(escapeBytes(bytes)));
  // Show the wire lines, split after each LF, so that bare CR or LF stand out (RFC 5321 §2.3.8).
  const text = bytes.toString('latin1');
  const warnings: string[] = [];
  if (/(^|[^\r])\n/.test(text)) warnings.push('a bare LF (without CR before it)');
  if (/\r(?!\n)/.test(text)) warnings.push('a bare CR (without LF after it)');
  if (/(^|[^\r])\n\.\r?\n|\r\n\.\n|\r\.\r/.test(text)) warnings.push('an end-of-data sequence other than CRLF.CRLF (an SMTP smuggling probe)');
  if (warnings.length > 0) lines.push('', `Contains ${warnings.join(', ')}: RFC 5321 §2.3.8 allows CR and LF only together, as CRLF.`);
  lines.push('', 'RAW does not wait for a reply; each EXPECT after it reads one reply. After RAW the linter no longer follows the session\'s state.');
  const range = contains(node.payload.range, offset) ? node.payload.range : node.keyword.range;
  return { markdown: lines.join('\n'), range };
}

const METADATA_DOCS: Record<string, string> = {
  name: '`# @name NAME`: names the session, so that `smtpwb run --session NAME` and other tools can refer to it. Letters, digits, `-`, `_` and `.`, unique within the file.',
  'allow-cleartext-auth': '`# @allow-cleartext-auth`: allows AUTH on a connection without TLS, which is otherwise an error and refused at run time (RFC 4954 §4).',
  pipelining: '`# @pipelining`: sends the commands RFC 2920 §3.1 allows together in one write, when the server advertises PIPELINING.',
  timeout: `\`# @timeout phase=seconds …\`: overrides timeouts; phases ${TIMEOUT_PHASES.map((p) => '`' + p + '`').join(', ')}. Defaults follow RFC 5321 §4.5.3.2: greeting 5 min, MAIL 5 min, RCPT 5 min, DATA initiation 2 min, each data block 3 min, end of data 10 min; connect 30 s and TLS 60 s.`,
};

function metadataMarkdown(node: MetadataNode): string {
  const key = node.key.text.toLowerCase();
  const doc = METADATA_DOCS[key];
  if (!doc) return `**Unknown metadata** ${markdownCodeSpan('@' + node.key.text)}: use ${METADATA_KEYS.map((k) => markdownCodeSpan('@' + k)).join(', ')}.`;
  return `**Session metadata** ${markdownCodeSpan('@' + key)}\n\n${doc}`;
}

function sessionMarkdown(session: SessionNode, ctx: ResolveContext): string {
  const steps = pairSteps(session);
  const connect = session.items.find((i): i is ConnectNode => i.kind === 'connect');
  const name = session.items.find((i): i is MetadataNode => i.kind === 'metadata' && i.key.text.toLowerCase() === 'name');
  const lines = [`**Session ${session.index + 1}**: ${escapeMarkdown(session.title)}`, ''];
  if (name?.value) lines.push(`Name: ${markdownCodeSpan(name.value.text)}`, '');
  lines.push(`Lines ${session.line + 1}–${session.endLine + 1}; ${steps.length} step${steps.length === 1 ? '' : 's'}, ${steps.filter((s) => s.expects.length > 0).length} with EXPECT.`, '');
  if (connect?.url) {
    const resolved = resolveText(connect.url.text, ctx);
    lines.push(`Target: ${markdownCodeSpan(resolved.text)}`);
  } else {
    lines.push('Target: the embedded local capture server (no CONNECT).');
  }
  const verbs = steps.map((s) => (s.item.kind === 'command' ? s.item.name : s.item.kind === 'auth' ? 'AUTH' : s.item.kind === 'raw' ? 'RAW' : s.item.kind.toUpperCase()));
  if (verbs.length > 0) lines.push('', markdownCodeSpan(verbs.join(' → ')));
  return lines.join('\n');
}

// -------------------------------------------------------------------------------------------------
// Entry point

/** The hover at an offset of a `.smtp` script, or undefined when there is nothing to say. Never throws. */
export function smtpHover(analysis: SmtpAnalysis, offset: number, env: HoverEnvironment = {}): SmtpHover | undefined {
  try {
    return smtpHoverStrict(analysis, offset, env);
  } catch {
    return undefined;
  }
}

/**
 * {@link smtpHover} without its safety net, so that tests see an exception instead of a missing
 * hover. Editors call {@link smtpHover}.
 */
export function smtpHoverStrict(analysis: SmtpAnalysis, offset: number, env: HoverEnvironment): SmtpHover | undefined {
  return hoverAt(analysis, offset, env);
}

function hoverAt(analysis: SmtpAnalysis, offset: number, env: HoverEnvironment): SmtpHover | undefined {
  const document = analysis.document;
  const environment = env.environment ?? {};
  const external = new Set(Object.keys(environment));
  const file = fileScope(document, external);
  const sources = {
    secrets: documentCredentialSources(document, file),
    environment,
    processEnv: env.processEnv ?? {},
    now: env.now ?? (() => SAMPLE_DATE),
    uuid: env.uuid ?? (() => SAMPLE_UUID),
    hostname: env.hostname ?? 'smtp-workbench.invalid',
  };

  // The `###` line of a session.
  for (const session of document.sessions) {
    if (session.separator && touches(session.separator.range, offset) && offset < session.separator.range.end + 1) {
      const ctx: ResolveContext = { ...sources, scope: sessionScope(file, session) };
      return { markdown: sessionMarkdown(session, ctx), range: session.separator.range };
    }
  }

  let found: { item: SessionItem; session?: SessionNode } | undefined;
  for (const item of document.preamble) if (contains(item.range, offset)) found = { item };
  if (!found) {
    for (const session of document.sessions) {
      for (const item of session.items) {
        if (contains(item.range, offset)) {
          found = { item, session };
          break;
        }
      }
      if (found) break;
    }
  }
  if (!found) return undefined;
  const { item, session } = found;
  const scope = session ? sessionScope(file, session) : file;
  const ctx: ResolveContext = { ...sources, scope };
  const lineOf = (node: VariableNode) => node.line;

  // A `{{…}}` reference anywhere in the item.
  for (const ref of item.references) {
    if (!contains(ref.range, offset)) continue;
    if (ref.builtin) return { markdown: builtinHover(ref, ctx), range: ref.range };
    return { markdown: variableHover(ref.name, ctx, lineOf), range: ref.range };
  }

  switch (item.kind) {
    case 'comment':
      return undefined;
    case 'variable':
      if (contains(item.name.range, offset) || offset === item.range.start) {
        return { markdown: variableHover(item.name.text, ctx, lineOf), range: { start: item.range.start, end: item.name.range.end } };
      }
      // The value shows what the definition resolves to; another definition may win (the session's).
      if (item.value && contains(item.value.range, offset) && ctx.scope.variables.get(item.name.text) === item) {
        return { markdown: variableHover(item.name.text, ctx, lineOf), range: item.value.range };
      }
      return undefined;
    case 'metadata':
      return { markdown: metadataMarkdown(item), range: item.range };
    case 'connect':
      return { markdown: connectMarkdown(item, ctx), range: item.url && contains(item.url.range, offset) ? item.url.range : item.keyword.range };
    case 'tls':
      return tlsMarkdown(item, offset);
    case 'auth':
      return authMarkdown(item, offset);
    case 'expect':
      return expectMarkdown(item, offset, session, scope);
    case 'raw':
      return rawMarkdown(item, offset);
    case 'data':
    case 'bdat':
      return messageHover(item, offset);
    case 'command':
      return commandHover(item, offset, scope, ctx, session);
  }
}

function messageHover(item: MessageNode, offset: number): SmtpHover | undefined {
  if (contains(item.verbToken.range, offset)) {
    const fact = commandFact(item.kind === 'data' ? 'DATA' : 'BDAT')!;
    let markdown = commandMarkdown(fact);
    if (item.kind === 'bdat') markdown += '\n\nIn a script the body is written as for DATA; the engine removes the dot-stuffing and sends `BDAT <size>` chunks, the last with `LAST` (RFC 3030 §2).';
    return { markdown, range: item.verbToken.range };
  }
  if (item.file && contains(item.file.range, offset)) {
    return { markdown: `**Message file** ${markdownCodeSpan(item.file.text)}: read relative to the script; the engine converts line endings to CRLF${item.kind === 'data' ? ' and dot-stuffs it (RFC 5321 §4.5.2)' : ''}.`, range: item.file.range };
  }
  if (item.chunkOption && (contains(item.chunkOption.key.range, offset) || (item.chunkOption.value && contains(item.chunkOption.value.range, offset)))) {
    const size = item.chunkOption.size;
    return {
      markdown: `**chunk=N**: the size of each BDAT chunk in octets${size ? ` (${size})` : ''}; the message is sent in one chunk when absent (RFC 3030 §2).`,
      range: { start: item.chunkOption.key.range.start, end: item.chunkOption.value?.range.end ?? item.chunkOption.key.range.end },
    };
  }
  if (item.terminator && contains(item.terminator.range, offset)) {
    return { markdown: '**End of data**: a line holding only `.`; on the wire `<CRLF>.<CRLF>` (RFC 5321 §4.1.1.4).', range: item.terminator.range };
  }
  return undefined;
}

function commandHover(item: CommandNode, offset: number, scope: Scope, ctx: ResolveContext, session: SessionNode | undefined): SmtpHover | undefined {
  const fact = commandFact(item.name);
  if (contains(item.verbToken.range, offset)) {
    const markdown = !fact ? unknownCommandMarkdown(item.verbToken.text) : commandMarkdown(fact);
    const state = session ? stateLines(session, scope, item.range.start, 'Before this line').join('\n') : '';
    return { markdown: markdown + state, range: item.verbToken.range };
  }
  if (item.path && touches(item.path.range, offset) && offset < item.path.range.end) {
    const written = item.path.address.text;
    const value = written.includes('{{') ? (resolveText(written, ctx).secret ? undefined : staticValue(written, scope) ?? resolveEnvOnly(written, ctx)) : written;
    return { markdown: addressMarkdown(item, written, value), range: item.path.range };
  }
  for (const param of item.parameters) {
    if (!contains(param.range, offset)) continue;
    const lookup = item.name === 'MAIL' ? mailParameter(param.name.text) : rcptParameter(param.name.text);
    if (lookup) return { markdown: parameterMarkdown(lookup, param.name.text + (param.value ? '=' + param.value.text : '')), range: param.range };
    const other = item.name === 'MAIL' ? rcptParameter(param.name.text) : mailParameter(param.name.text);
    return {
      markdown: other
        ? `**${escapeMarkdown(param.name.text)}** is a ${other.command} parameter, not a ${item.name} one.\n\n${parameterMarkdown(other, param.name.text)}`
        : `**Unknown ${item.name} parameter** ${markdownCodeSpan(param.name.text)}: it is sent as written; a server that does not know it answers 555 (RFC 5321 §4.1.1.11).`,
      range: param.range,
    };
  }
  if (item.pathKeyword && contains(item.pathKeyword.range, offset) && fact) return { markdown: commandMarkdown(fact), range: item.pathKeyword.range };
  if (fact && item.argument && contains(item.argument.range, offset) && (item.name === 'EHLO' || item.name === 'HELO' || item.name === 'LHLO')) {
    return { markdown: `**${item.name} argument**: the client's fully qualified domain name, or an address literal such as \`[192.0.2.1]\` when it has none (RFC 5321 §4.1.4).`, range: item.argument.range };
  }
  return undefined;
}

/** Resolves a text through the environment and variables when nothing in it is secret. */
function resolveEnvOnly(text: string, ctx: ResolveContext): string | undefined {
  const resolved = resolveText(text, ctx);
  return resolved.complete && !resolved.secret ? resolved.text : undefined;
}
