/**
 * Completion for `.smtp` scripts (docs/smtp-language.md). It follows the session's state up to the
 * cursor, as the linter does (RFC 5321 §4.1.4), so that at the start of a line it offers only the
 * commands that may come next; after a keyword it offers that keyword's arguments from the RFC
 * facts in server/src/facts/. The result is a plain list the language server converts to LSP
 * completion items. Never throws.
 */
import type { OffsetRange } from '../../../common/problem';
import { authMechanism } from '../facts/authMechanisms';
import { commandFact } from '../facts/commands';
import { ENHANCED_DETAILS, ENHANCED_SUBJECTS } from '../facts/enhancedCodes';
import { MAIL_PARAMETER_FACTS, RCPT_PARAMETER_FACTS, type ParameterFact } from '../facts/esmtpKeywords';
import { describeReplyClass, replyCodeFact } from '../facts/replyCodes';
import { ENGINE_AUTH_MECHANISMS, METADATA_KEYS, TIMEOUT_PHASES, TLS_OPTIONS, TLS_VERSIONS } from '../facts/scriptVocabulary';
import type { SessionNode } from './smtpAst';
import { MASK } from '../../../common/masking';
import { BUILTINS } from './smtpParser';
import { fileScope, sessionScope, staticValue } from './smtpScopes';
import { documentCredentialSources, variableSecrecy } from './smtpSecrets';
import { sessionAt, type SmtpAnalysis } from './smtpService';
import { authMayFollow, emptyState, foldSession, nextCommands as allowedNext, stepReplies, type SmtpState } from './smtpState';

export type CompletionKind = 'keyword' | 'command' | 'directive' | 'parameter' | 'variable' | 'builtin' | 'value' | 'snippet' | 'code';

export interface CompletionItem {
  label: string;
  kind: CompletionKind;
  detail?: string;
  /** Markdown. */
  documentation?: string;
  insertText?: string;
  /** True when insertText uses the `${1:…}` snippet syntax. */
  snippet?: boolean;
  /** The text the item replaces; the word before the cursor when absent. */
  replaceRange?: OffsetRange;
  sortText?: string;
}

/**
 * An item as it is offered, before it is fitted to the text around the cursor: `plain` is the text
 * it inserts when what its snippet would add is already written (the arguments after `AUTH LOGIN`,
 * the address after `FROM:`, the value after `SIZE`). An item with a snippet and no plain form is
 * left out then.
 */
interface Offered extends CompletionItem {
  plain?: string;
}

/** Escapes text for use inside a snippet (`$`, `}` and `\` are special there). */
function snippetText(text: string): string {
  return text.replace(/[\\$}]/g, (c) => '\\' + c);
}

/** What the script has done before the cursor, in the session that holds it: the one fold of smtpState.ts. */
interface CompletionState extends Readonly<SmtpState> {
  /** True inside a titled session (where metadata belongs). */
  inSession: boolean;
}

/** Folds the items of a session that start before `limit`, as the analyzer folds the whole session. */
function stateBefore(analysis: SmtpAnalysis, session: SessionNode | undefined, limit: number): CompletionState {
  if (!session) return { ...emptyState(), inSession: false };
  const scope = sessionScope(fileScope(analysis.document, analysis.externalVariables), session);
  return { ...foldSession(session, scope, { limit }), inSession: true };
}

// -------------------------------------------------------------------------------------------------
// Items

function commandItem(verb: string, sort: number, label = verb, insertText?: string): Offered {
  const fact = commandFact(verb);
  const item: Offered = { label, kind: 'command', sortText: `${sort}-${label}`, plain: verb };
  if (fact) {
    item.detail = fact.syntax;
    item.documentation = `${fact.summary}\n\n[${fact.rfc === 821 ? 'RFC 821' : `RFC ${fact.rfc} §${fact.section}`}](${fact.link})`;
  }
  if (insertText) {
    item.insertText = insertText;
    item.snippet = true;
  }
  return item;
}

/** The commands that may come next in the given state, as smtpState.ts decides them. */
function nextCommands(state: CompletionState): Offered[] {
  return allowedNext(state).map((next) => commandItem(next.verb, next.sort, next.label, next.insertText));
}

function directive(label: string, insertText: string, detail: string, sort: number): Offered {
  return { label, kind: 'directive', insertText, snippet: true, detail, sortText: `${sort}-${label}`, plain: label };
}

function lineStartItems(state: CompletionState, analysis: SmtpAnalysis): Offered[] {
  const separator: Offered = { label: '###', kind: 'keyword', insertText: '### ${1:title}', snippet: true, detail: 'starts a new session', sortText: '8-###', plain: '###' };
  if (state.quit && !state.raw) return [separator];
  const items = nextCommands(state);
  if (!state.commandSeen && !state.connected) {
    items.push(directive('CONNECT', 'CONNECT ${1|smtp://,smtps://,submission://,lmtp://,mx:,local|}$0', 'where the session connects', 2));
  }
  if (!state.starttls) items.push(directive('TLS', 'TLS ${1|verify=on,verify=off,sni=,ca=,cert=,min=TLSv1.2|}$0', 'TLS options: verify, sni, ca, cert, key, min', 6));
  if (authMayFollow(state)) {
    items.push(directive('AUTH', `AUTH \${1|${ENGINE_AUTH_MECHANISMS.join(',')}|} \${2:user} {{\\\$secret \${3:smtp-password}}}`, 'AUTH MECHANISM user secret (RFC 4954)', 1));
  }
  if (state.expectable) {
    const replies = stepReplies(state.expectable);
    const first = replies?.codes.find((c) => c < 400) ?? 250;
    items.push(directive('EXPECT', `EXPECT \${1:${first}}`, replies ? `the reply ${replies.label} must get` : 'the reply the previous command must get', 0));
  }
  items.push(directive('RAW', 'RAW ${1:text}\\\\r\\\\n', 'bytes sent exactly, with \\r \\n \\t \\\\ \\xHH escapes', 7));
  items.push(separator);
  items.push({ label: '@var = ', kind: 'snippet', insertText: '@${1:name} = ${2:value}', snippet: true, detail: 'defines a variable', sortText: '8-@' });
  if (state.inSession || !analysis.document.sessions.some((s) => s.separator)) {
    for (const key of METADATA_KEYS) {
      items.push({ label: `# @${key}`, kind: 'snippet', insertText: key === 'name' ? '# @name ${1:session-name}' : key === 'timeout' ? `# @timeout \${1|${TIMEOUT_PHASES.join(',')}|}=\${2:30}` : `# @${key}`, snippet: true, detail: 'session metadata', sortText: `9-${key}`, plain: `# @${key}` });
    }
  }
  return items;
}

function parameterItem(fact: ParameterFact): Offered {
  let insertText = fact.name;
  if (fact.value === 'required') {
    insertText += '=' + (fact.values ? `\${1|${fact.values.map((v) => v.replace(/,/g, '\\,')).join(',')}|}` : `\${1:${snippetText(placeholderFor(fact.name))}}`);
  }
  return {
    label: fact.name,
    kind: 'parameter',
    detail: `${fact.name}${fact.value === 'required' ? '=' + fact.valueSyntax : ''} (EHLO ${fact.keyword})`,
    documentation: `${fact.summary}\n\n[${fact.rfc ? `RFC ${fact.rfc} §${fact.section}` : 'specification'}](${fact.link})`,
    insertText,
    snippet: fact.value === 'required',
    plain: fact.name,
  };
}

function placeholderFor(name: string): string {
  switch (name) {
    case 'SIZE': return '12345';
    case 'ENVID': return 'QQ314159';
    case 'AUTH': return '<>';
    case 'MT-PRIORITY': return '0';
    case 'HOLDFOR': return '3600';
    case 'HOLDUNTIL': return '2030-01-01T12:00:00Z';
    case 'BY': return '120;R';
    case 'ORCPT': return 'rfc822;bob@example.test';
    case 'RRVS': return '2020-01-01T00:00:00Z';
    default: return 'value';
  }
}

function codeItem(code: number, sort: string, context?: string): CompletionItem {
  const fact = replyCodeFact(code);
  return {
    label: String(code),
    kind: 'code',
    detail: fact?.meaning,
    documentation: fact ? `${describeReplyClass(Math.floor(code / 100))?.name ?? ''}${context ? `\n\n${context}` : ''}\n\n[RFC ${fact.rfc} §${fact.section}](${fact.link})` : undefined,
    sortText: sort,
  };
}

function expectItems(words: string[], state: CompletionState): CompletionItem[] {
  const items: CompletionItem[] = [];
  const replies = state.expectable ? stepReplies(state.expectable) : undefined;
  const typedCodes = words.filter((w) => /^[2-5]\d\d$/.test(w)).map(Number);
  const typedEnhanced = words.some((w) => /^[245]\./.test(w));
  if (typedCodes.length === 0 || !typedEnhanced) {
    const codes = replies && replies.codes.length > 0 ? replies.codes : [250, 251, 354, 421, 450, 451, 452, 500, 501, 502, 503, 550, 551, 552, 553, 554];
    codes.forEach((code, i) => {
      if (!typedCodes.includes(code)) items.push(codeItem(code, `1-${String(i).padStart(3, '0')}`, replies?.fact ? `A reply ${replies.label} can get.` : undefined));
    });
    for (const cls of [2, 3, 4, 5] as const) {
      if (replies?.fact && replies.codes.length > 0 && !replies.codes.some((c) => Math.floor(c / 100) === cls)) continue;
      const fact = describeReplyClass(cls);
      items.push({ label: `${cls}xx`, kind: 'code', detail: fact.name, documentation: fact.description, sortText: `2-${cls}` });
    }
  }
  // Enhanced codes (RFC 3463) after a reply code: those of its class that the registry pairs with it first.
  for (const code of typedCodes.slice(-1)) {
    const cls = Math.floor(code / 100);
    if (cls !== 2 && cls !== 4 && cls !== 5) continue;
    for (const detail of ENHANCED_DETAILS.values()) {
      const paired = detail.replyCodes?.includes(code) ?? false;
      if (!paired && detail.replyCodes && detail.replyCodes.length > 0 && !detail.replyCodes.some((c) => Math.floor(c / 100) === cls)) continue;
      items.push({
        label: `${cls}.${detail.subject}.${detail.detail}`,
        kind: 'code',
        detail: detail.title,
        documentation: `${detail.description}\n\n[RFC ${detail.rfc} §${detail.section}](${detail.link})`,
        sortText: `${paired ? '0' : '3'}-${String(detail.subject).padStart(3, '0')}-${String(detail.detail).padStart(3, '0')}`,
      });
    }
    for (const subject of ENHANCED_SUBJECTS.values()) {
      items.push({ label: `${cls}.${subject.subject}.x`, kind: 'code', detail: subject.title, documentation: subject.description, sortText: `4-${subject.subject}` });
    }
  }
  items.push({ label: '"text"', kind: 'snippet', insertText: '"${1:text}"', snippet: true, detail: 'the reply must contain the text (case-insensitive)', sortText: '5-text' });
  items.push({ label: '/regex/', kind: 'snippet', insertText: '/${1:pattern}/${2:i}', snippet: true, detail: 'the reply text must match the regular expression', sortText: '5-regex' });
  return items;
}

/**
 * The variables and built-ins inside `{{`. `closing` adds the `}}` that is missing; `argumentFollows`
 * says that a built-in's argument is already written after the name, so only the name is inserted.
 */
function variableItems(analysis: SmtpAnalysis, session: SessionNode | undefined, replaceRange: OffsetRange, closing: boolean, argumentFollows: boolean): CompletionItem[] {
  const file = fileScope(analysis.document);
  const scope = session ? sessionScope(file, session) : file;
  // Which values are secret is decided once, in smtpSecrets.ts, for hover, completion and the analyzer.
  const secrets = documentCredentialSources(analysis.document, file);
  const items: CompletionItem[] = [];
  const close = closing && !argumentFollows ? '}}' : '';
  for (const [name, node] of scope.variables) {
    const value = node.value?.text ?? '';
    const secret = variableSecrecy(name, scope, secrets) !== undefined;
    items.push({
      label: name,
      kind: 'variable',
      detail: secret ? MASK : value,
      documentation: `Defined on line ${node.line + 1}.`,
      insertText: name + close,
      replaceRange,
      sortText: `0-${name}`,
    });
  }
  // Variables the selected environment (or --var) defines, unless the script defines them too.
  for (const name of analysis.externalVariables ?? []) {
    if (scope.variables.has(name)) continue;
    items.push({ label: name, kind: 'variable', detail: 'from the selected environment', insertText: name + close, replaceRange, sortText: `0-${name}` });
  }
  for (const [name, fact] of Object.entries(BUILTINS)) {
    items.push({
      label: '$' + name,
      kind: 'builtin',
      detail: fact.summary,
      insertText: argumentFollows ? `\\$${name}` : fact.argument ? `\\$${name} \${1:NAME}${close}` : `\\$${name}${close}`,
      snippet: true,
      replaceRange,
      sortText: `1-${name}`,
    });
  }
  return items;
}

// -------------------------------------------------------------------------------------------------
// Entry point

/** The completion items at an offset of a `.smtp` script. Never throws. */
export function smtpCompletion(analysis: SmtpAnalysis, offset: number): CompletionItem[] {
  try {
    return smtpCompletionStrict(analysis, offset);
  } catch {
    return [];
  }
}

/**
 * {@link smtpCompletion} without its safety net, so that tests see an exception instead of an
 * empty list. Editors call {@link smtpCompletion}.
 */
export function smtpCompletionStrict(analysis: SmtpAnalysis, at: number): CompletionItem[] {
  const text = analysis.text;
  const offset = Math.max(0, Math.min(at, text.length));
  let lineStart = offset;
  while (lineStart > 0 && text[lineStart - 1] !== '\n' && text[lineStart - 1] !== '\r') lineStart--;
  let lineEnd = offset;
  while (lineEnd < text.length && text[lineEnd] !== '\n' && text[lineEnd] !== '\r') lineEnd++;
  const prefix = text.slice(lineStart, offset);
  const after = text.slice(offset, lineEnd);
  const session = sessionAt(analysis, offset);
  const isSeparatorLine = /^\s*###/.test(prefix);

  // Inside `{{`: variables and built-ins.
  const open = prefix.lastIndexOf('{{');
  if (open >= 0 && prefix.indexOf('}}', open) < 0 && !isSeparatorLine) {
    const partial = /^\s*\$?[\w.-]*$/.exec(prefix.slice(open + 2));
    if (partial) {
      const replaceRange = { start: lineStart + open + 2, end: offset };
      const rest = /^[\w.$-]*/.exec(after)?.[0] ?? '';
      replaceRange.end = offset + rest.length;
      const following = text.slice(replaceRange.end, lineEnd);
      return variableItems(analysis, session, replaceRange, !following.startsWith('}}'), /^[ \t]+[^\s}]/.test(following));
    }
    return [];
  }

  // Inside a DATA or BDAT body: message text up to the terminator (RFC 5321 §4.1.1.4); an
  // unterminated body runs to the end of the session, as the parser reads it.
  if (session) {
    for (const item of session.items) {
      if ((item.kind !== 'data' && item.kind !== 'bdat') || item.file || lineStart <= item.verbToken.range.end) continue;
      const inBody = item.terminator ? lineStart <= item.terminator.range.start : true;
      if (!inBody) continue;
      return prefix.trim() === '' || prefix === '.'
        ? [{ label: '.', kind: 'keyword', detail: 'ends the message (RFC 5321 §4.1.1.4)', insertText: '.', replaceRange: { start: lineStart, end: offset }, sortText: '9' }]
        : [];
    }
  }

  const wordStart = offset - (/[^\s]*$/.exec(prefix)?.[0].length ?? 0);
  const currentWord = text.slice(wordStart, offset);
  const state = stateBefore(analysis, session, lineStart);
  /**
   * The token being typed: from `start` up to the cursor, and on after it over the characters
   * `token` matches (the rest of the same word: `IL` of `MA|IL`, never the `<address>` after
   * `FROM:` nor the `=100` after `SIZE`).
   */
  const tokenRange = (token: RegExp, start = wordStart): OffsetRange => ({ start, end: offset + (token.exec(after)?.[0].length ?? 0) });
  /**
   * Fits the items to the token being typed: each replaces only that token, and when the text after
   * it already holds what an item's snippet would add (the token goes on, as `=100` after `SIZE`, or
   * the line goes on after a snippet that adds arguments), the item inserts its plain form. So
   * accepting an item never deletes nor repeats what is written after the cursor.
   */
  const fit = (items: Offered[], range: OffsetRange): CompletionItem[] => {
    const following = text.slice(range.end, lineEnd);
    const continues = /^\S/.test(following);
    const lineGoesOn = /\S/.test(following);
    const out: CompletionItem[] = [];
    for (const { plain, ...item } of items) {
      if (item.replaceRange) {
        out.push(item);
        continue;
      }
      const full = item.insertText ?? item.label;
      if (!continues && !(lineGoesOn && /\s/.test(full))) {
        out.push({ ...item, replaceRange: range });
        continue;
      }
      const alone = plain ?? (item.snippet ? undefined : full.trim());
      if (alone) out.push({ ...item, insertText: alone, snippet: false, replaceRange: range });
    }
    return out;
  };

  // The start of a line.
  if (/^\s*[A-Za-z@#/-]*$/.test(prefix) && !/^\s*#\s*@/.test(prefix)) {
    const lead = prefix.length - prefix.trimStart().length;
    return fit(lineStartItems(state, analysis), tokenRange(/^[A-Za-z@#/-]*/, lineStart + lead));
  }

  // Metadata.
  const meta = /^\s*#\s*@([\w-]*)$/.exec(prefix);
  if (meta) {
    return fit(
      METADATA_KEYS.map((key) => ({ label: key, kind: 'keyword' as const, detail: 'session metadata', insertText: key === 'name' ? 'name ${1:session-name}' : key === 'timeout' ? 'timeout ' : key, snippet: key === 'name', plain: key })),
      tokenRange(/^[\w-]*/, offset - meta[1].length),
    );
  }
  if (/^\s*#\s*@timeout\s/i.test(prefix)) {
    if (currentWord.includes('=')) return [];
    return fit(TIMEOUT_PHASES.map((phase) => ({ label: phase, kind: 'value' as const, insertText: `${phase}=\${1:${phase === 'data-end' ? 600 : 300}}`, snippet: true, detail: 'seconds', plain: phase })), tokenRange(/^[\w-]*/));
  }

  const first = /^\s*(\S+)\s/.exec(prefix)?.[1]?.toUpperCase();
  const words = prefix.trim().split(/\s+/).slice(1);
  switch (first) {
    case 'CONNECT': {
      if (words.length > 1) return [];
      const items: Offered[] = [
        { label: 'smtp://', kind: 'value', insertText: 'smtp://${1:127.0.0.1}:${2:2525}', snippet: true, detail: 'port 25 by default; STARTTLS when the script asks' },
        { label: 'submission://', kind: 'value', insertText: 'submission://${1:mail.example.test}', snippet: true, detail: 'port 587, message submission (RFC 6409)' },
        { label: 'smtps://', kind: 'value', insertText: 'smtps://${1:mail.example.test}', snippet: true, detail: 'port 465, implicit TLS (RFC 8314)' },
        { label: 'lmtp://', kind: 'value', insertText: 'lmtp://${1:127.0.0.1}:${2:2424}', snippet: true, detail: 'LMTP (RFC 2033); the port is required' },
        { label: 'mx:', kind: 'value', insertText: 'mx:${1:example.test}', snippet: true, detail: "the domain's MX hosts (RFC 5321 §5.1)" },
        { label: 'local', kind: 'value', detail: 'the embedded capture server' },
      ];
      const file = fileScope(analysis.document);
      const scope = session ? sessionScope(file, session) : file;
      for (const [name, node] of scope.variables) {
        const value = node.value ? staticValue(node.value.text, scope) : undefined;
        if (value !== undefined && /^(smtps?|submission|lmtp):\/\/|^mx:|^local$/i.test(value)) items.push({ label: `{{${name}}}`, kind: 'variable', detail: value });
      }
      return fit(items.map((item) => ({ ...item, plain: item.label })), tokenRange(/^[A-Za-z0-9+.-]*(?::\/\/|:)?/));
    }
    case 'TLS': {
      const eq = currentWord.indexOf('=');
      if (eq >= 0) {
        const key = currentWord.slice(0, eq).toLowerCase();
        const valueRange = tokenRange(/^\S*/, wordStart + eq + 1);
        if (key === 'verify') return fit([{ label: 'on', kind: 'value', detail: 'verify the certificate (default)' }, { label: 'off', kind: 'value', detail: 'accept any certificate (a warning)' }], valueRange);
        if (key === 'min') return fit(TLS_VERSIONS.map((v) => ({ label: v, kind: 'value' as const, detail: v === 'TLSv1' || v === 'TLSv1.1' ? 'deprecated by RFC 8996' : undefined })), valueRange);
        return [];
      }
      const used = new Set(words.map((w) => w.split('=')[0].toLowerCase()));
      const insert: Record<string, string> = { verify: 'verify=${1|on,off|}', sni: 'sni=${1:mail.example.test}', ca: 'ca=${1:certs/ca.pem}', cert: 'cert=${1:client.pem}', key: 'key=${1:client-key.pem}', min: 'min=${1|TLSv1.2,TLSv1.3|}' };
      return fit(TLS_OPTIONS.filter((o) => !used.has(o) || o === currentWord.toLowerCase()).map((o) => ({ label: o + '=', kind: 'parameter' as const, insertText: insert[o], snippet: true, plain: o })), tokenRange(/^[\w-]*/));
    }
    case 'AUTH': {
      if (words.length > 1) return [];
      return fit(ENGINE_AUTH_MECHANISMS.map((m, i) => {
        const fact = authMechanism(m);
        return {
          label: m,
          kind: 'value' as const,
          detail: fact ? `${fact.cleartext ? 'sends the password in clear: TLS only' : 'the password is not sent'}${fact.deprecated ? '; deprecated' : ''}` : undefined,
          documentation: fact ? `${fact.summary}\n\n[specification](${fact.link})` : undefined,
          insertText: `${m} \${1:user} {{\\$secret \${2:${m === 'XOAUTH2' ? 'oauth-token' : 'smtp-password'}}}}`,
          snippet: true,
          sortText: String(i),
          plain: m,
        };
      }), tokenRange(/^[\w-]*/));
    }
    case 'EXPECT':
      if (/["/]/.test(prefix.slice(prefix.toUpperCase().indexOf('EXPECT') + 6))) return [];
      return fit(expectItems(words.slice(0, -1).concat(currentWord === '' ? words.slice(-1) : []), state), tokenRange(/^[\w.]*/));
    case 'MAIL':
    case 'RCPT': {
      const m = first === 'MAIL' ? /^\s*MAIL\s+FROM:\s*(<[^>]*>|\S+)\s+/i.exec(prefix) : /^\s*RCPT\s+TO:\s*(<[^>]*>|\S+)\s+/i.exec(prefix);
      if (!m) {
        if (words.length === 0 || (words.length === 1 && currentWord !== '')) {
          const keyword = first === 'MAIL' ? 'FROM:' : 'TO:';
          return fit([{ label: keyword + '<>', kind: 'keyword', insertText: `${keyword}<\${1}>`, snippet: true, plain: keyword }], tokenRange(/^[A-Za-z]*:?/));
        }
        return [];
      }
      const facts = first === 'MAIL' ? MAIL_PARAMETER_FACTS : RCPT_PARAMETER_FACTS;
      const eq = currentWord.indexOf('=');
      if (eq >= 0) {
        const fact = facts.get(currentWord.slice(0, eq).toUpperCase());
        if (!fact?.values) return [];
        return fit(fact.values.map((v) => ({ label: v, kind: 'value' as const, detail: fact.name })), tokenRange(/^\S*/, wordStart + eq + 1));
      }
      const used = new Set(prefix.slice(m[0].length).trim().split(/\s+/).filter(Boolean).map((w) => w.split('=')[0].toUpperCase()));
      return fit([...facts.values()].filter((f) => !used.has(f.name) || f.name === currentWord.toUpperCase()).map(parameterItem), tokenRange(/^[\w-]*/));
    }
    case 'BDAT':
    case 'DATA': {
      const items: Offered[] = [{ label: '< file', kind: 'snippet', insertText: '< ${1:message.eml}', snippet: true, detail: 'sends a file instead of an inline body' }];
      if (first === 'BDAT' && !/chunk=/i.test(prefix)) items.push({ label: 'chunk=', kind: 'parameter', insertText: 'chunk=${1:65536}', snippet: true, detail: 'octets per BDAT chunk (RFC 3030 §2)', plain: 'chunk' });
      return fit(items, tokenRange(/^\w*/));
    }
    default:
      return [];
  }
}
