/**
 * The product's SPF evaluator: check_host() of RFC 7208 §4, on the record parser the linter uses
 * (spfParse.ts), with the processing limits of §4.6.4, macro expansion (§7), the explanation of
 * `exp=` (§6.2) and the rules for malformed and non-existent names (§4.3, §4.8, §5).
 *
 * It is pure: DNS comes from the injected resolver, which has the contract of
 * `dns.promises.resolve(name, rrtype)` (errors carry Node's codes: ENOTFOUND for NXDOMAIN, ENODATA for
 * an empty answer, anything else is a DNS failure). The clock is injected for the `t` macro.
 */
import { expandIpv6 } from './resolver';
import { checkMacroString, isSpfRecord, parseSpf, type SpfMechanism, type SpfModifier } from './spfParse';

export type SpfResult = 'none' | 'neutral' | 'pass' | 'fail' | 'softfail' | 'temperror' | 'permerror';

/** The record types the evaluator asks for. */
export type SpfRrType = 'A' | 'AAAA' | 'TXT' | 'MX' | 'PTR';

/** `dns.promises.resolve`'s contract: TXT answers are arrays of character-strings, MX answers objects. */
export type SpfResolver = (name: string, rrtype: SpfRrType) => Promise<unknown[]>;

export interface SpfEvalOptions {
  /** The SMTP client's address, IPv4 or IPv6 (an IPv4-mapped IPv6 address counts as IPv4). */
  ip: string;
  /** The MAIL FROM address without angle brackets; empty for the null reverse-path. */
  mailFrom: string;
  /** The HELO/EHLO name as the client gave it. */
  helo: string;
  resolver: SpfResolver;
  /** The receiving host's domain, for the `r` macro (RFC 7208 §7.3); "unknown" when absent. */
  receiver?: string;
  /** Milliseconds since the epoch, for the `t` macro. */
  now?: () => number;
  /** Limits of §4.6.4; the defaults are the RFC's. */
  maxLookups?: number;
  maxVoidLookups?: number;
}

export interface SpfEvaluation {
  result: SpfResult;
  /** Which identity was checked: the MAIL FROM, or the HELO name when MAIL FROM is empty (§2.4). */
  identity: 'mailfrom' | 'helo';
  /** The <sender> as check_host() saw it (postmaster@ added where §4.3 says). */
  sender: string;
  /** The <domain> check_host() started with. */
  domain: string;
  /** The SPF record of that domain, when one was found. */
  record?: string;
  /** The term that decided the result, as written in its record, with the record's domain. */
  mechanism?: { term: string; domain: string };
  /** Why the result is what it is, in one sentence. */
  reason: string;
  /** The expanded explanation string of `exp=`, for a fail whose record has a usable one (§6.2). */
  explanation?: string;
  /** The terms that counted towards the limit of 10, and the void lookups (§4.6.4). */
  lookups: number;
  voidLookups: number;
  /** Every step, in order, for a report or a test's output. */
  trace: string[];
}

/** An early end of evaluation: temperror or permerror with its reason. */
class SpfAbort extends Error {
  constructor(readonly result: 'temperror' | 'permerror', reason: string) {
    super(reason);
  }
}

interface State {
  options: SpfEvalOptions;
  ip: { version: 4 | 6; bytes: number[]; text: string };
  sender: string;
  localPart: string;
  senderDomain: string;
  lookups: number;
  voids: number;
  trace: string[];
}

interface HostResult {
  result: SpfResult;
  reason: string;
  record?: string;
  mechanism?: { term: string; domain: string };
  explanation?: string;
}

const DEFAULT_MAX_LOOKUPS = 10;
const DEFAULT_MAX_VOIDS = 2;
/** RFC 7208 §4.6.4: at most 10 MX names and 10 PTR names per mechanism. */
const MAX_MX = 10;
const MAX_PTR = 10;

/** Parses an address to bytes; an IPv4-mapped IPv6 address becomes the IPv4 address. */
export function parseSpfIp(text: string): { version: 4 | 6; bytes: number[]; text: string } | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const bytes = text.split('.').map(Number);
    if (bytes.some((b) => b > 255)) return undefined;
    return { version: 4, bytes, text: bytes.join('.') };
  }
  const groups = expandIpv6(text);
  const bytes = ipv6Bytes(text);
  if (!groups || !bytes) return undefined;
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    const v4 = bytes.slice(12);
    return { version: 4, bytes: v4, text: v4.join('.') };
  }
  return { version: 6, bytes, text: compressIpv6(groups) };
}

/** The RFC 5952 text of an IPv6 address: lower case, the longest run of zero groups as "::". */
function compressIpv6(groups: string[]): string {
  const g = groups.map((x) => parseInt(x, 16).toString(16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best === -1) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
}

function inNetwork(ip: number[], net: number[], prefix: number): boolean {
  if (ip.length !== net.length) return false;
  for (let bit = 0; bit < prefix; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if ((ip[byte] & mask) !== (net[byte] & mask)) return false;
  }
  return true;
}

/**
 * Whether a name can be sent as a DNS query: labels of 1 to 63 octets, 253 octets in all
 * (RFC 1035 §2.3.4). A name that cannot is treated as one that does not exist (RFC 7208 §4.3, §5).
 */
export function isQueryableName(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n === '' || Buffer.byteLength(n, 'utf8') > 253) return false;
  return n.split('.').every((l) => l.length > 0 && Buffer.byteLength(l, 'utf8') <= 63);
}

/**
 * Whether <domain> passes the initial processing of RFC 7208 §4.3: a fully qualified name with a
 * valid top label (which also rules out address literals such as "[192.0.2.1]").
 */
export function isValidSpfDomain(domain: string): boolean {
  const n = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  if (!isQueryableName(n)) return false;
  const labels = n.split('.');
  if (labels.length < 2) return false;
  const top = labels[labels.length - 1];
  return /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i.test(top) && !/^\d+$/.test(top);
}

/** The DNS answer of one query, classified. */
type Answer<T> = { kind: 'ok'; data: T[] } | { kind: 'void' } | { kind: 'error'; detail: string };

async function lookup<T>(st: State, name: string, type: SpfRrType): Promise<Answer<T>> {
  if (!isQueryableName(name)) {
    st.trace.push(`${type} ${name}: not a valid DNS name, treated as non-existent`);
    return { kind: 'void' };
  }
  try {
    const data = (await st.options.resolver(name, type)) as T[];
    st.trace.push(`${type} ${name}: ${data.length} record(s)`);
    return data.length === 0 ? { kind: 'void' } : { kind: 'ok', data };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTFOUND is NXDOMAIN and ENODATA an empty answer; EBADNAME is a name the resolver refuses to
    // send, which RFC 7208 decides as a non-existent name (§4.3), not as a DNS failure.
    if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'EBADNAME') {
      st.trace.push(`${type} ${name}: ${code === 'ENODATA' ? 'no records' : code === 'EBADNAME' ? 'not a valid DNS name' : 'NXDOMAIN'}`);
      return { kind: 'void' };
    }
    const detail = `${code ?? 'error'}`;
    st.trace.push(`${type} ${name}: DNS failure ${detail}`);
    return { kind: 'error', detail };
  }
}

/** Counts a void lookup and ends with permerror past the limit (RFC 7208 §4.6.4). */
function countVoid(st: State, what: string): void {
  st.voids++;
  const max = st.options.maxVoidLookups ?? DEFAULT_MAX_VOIDS;
  if (st.voids > max) throw new SpfAbort('permerror', `more than ${max} DNS lookups returned no records (void lookup limit, RFC 7208 §4.6.4), at ${what}`);
}

/** Counts a term that queries DNS and ends with permerror past the limit (RFC 7208 §4.6.4). */
function countLookup(st: State, what: string): void {
  st.lookups++;
  const max = st.options.maxLookups ?? DEFAULT_MAX_LOOKUPS;
  if (st.lookups > max) throw new SpfAbort('permerror', `more than ${max} DNS-querying terms (RFC 7208 §4.6.4), at ${what}`);
}

/** Looks up addresses of the client's family for a name; a DNS failure is temperror. */
async function addressesOf(st: State, name: string, countVoids: boolean, what: string): Promise<number[][]> {
  const type = st.ip.version === 4 ? 'A' : 'AAAA';
  const answer = await lookup<string>(st, name, type);
  if (answer.kind === 'error') throw new SpfAbort('temperror', `the ${type} query for ${name} failed (${answer.detail}) at ${what}`);
  if (answer.kind === 'void') {
    if (countVoids) countVoid(st, what);
    return [];
  }
  const out: number[][] = [];
  for (const a of answer.data) {
    const parsed = parseSpfIp(a);
    if (parsed && parsed.version === st.ip.version) out.push(parsed.bytes);
  }
  return out;
}

/**
 * The validated domain names of the client's address (RFC 7208 §5.5): PTR names (the first 10)
 * whose forward addresses include the address. DNS failures skip a name instead of failing.
 */
async function validatedNames(st: State, target: string | undefined): Promise<string[]> {
  const reverse = reverseOf(st.ip);
  const ptr = await lookup<string>(st, reverse, 'PTR');
  if (ptr.kind !== 'ok') {
    if (ptr.kind === 'void' && target !== undefined) countVoid(st, `ptr (${reverse})`);
    return [];
  }
  const names = ptr.data.slice(0, MAX_PTR).map((n) => n.replace(/\.$/, ''));
  // Names that could match the target are validated first (§5.5).
  const ordered = target === undefined ? names : [...names.filter((n) => domainMatches(n, target)), ...names.filter((n) => !domainMatches(n, target))];
  const validated: string[] = [];
  for (const name of ordered) {
    const type = st.ip.version === 4 ? 'A' : 'AAAA';
    const answer = await lookup<string>(st, name, type);
    if (answer.kind !== 'ok') continue;
    if (answer.data.some((a) => sameIp(parseSpfIp(a)?.bytes, st.ip.bytes))) validated.push(name);
  }
  return validated;
}

function sameIp(a: number[] | undefined, b: number[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

function domainMatches(name: string, target: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  const t = target.toLowerCase().replace(/\.$/, '');
  return n === t || n.endsWith(`.${t}`);
}

function reverseOf(ip: State['ip']): string {
  if (ip.version === 4) return `${[...ip.bytes].reverse().join('.')}.in-addr.arpa`;
  return `${nibbles(ip.bytes).reverse().join('.')}.ip6.arpa`;
}

function nibbles(bytes: number[]): string[] {
  const out: string[] = [];
  for (const b of bytes) out.push((b >> 4).toString(16), (b & 15).toString(16));
  return out;
}

/** The URL escaping of upper-case macro letters: every octet outside "unreserved" (RFC 7208 §7.3). */
function urlEscape(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Expands a macro-string (RFC 7208 §7). The string was checked by the parser; `explanation` allows
 * the c, r and t letters. `domain` is the current <domain>.
 */
async function expand(st: State, text: string, domain: string, explanation: boolean): Promise<string> {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch !== '%') {
      out += ch;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '%') out += '%';
    else if (next === '_') out += ' ';
    else if (next === '-') out += '%20';
    if (next !== '{') {
      i += 2;
      continue;
    }
    const close = text.indexOf('}', i);
    const m = /^([a-zA-Z])(\d*)(r?)([.\-+,/_=]*)$/i.exec(text.slice(i + 2, close));
    i = close + 1;
    if (!m) continue;
    const letter = m[1];
    let value = await macroValue(st, letter.toLowerCase(), domain, explanation);
    const delimiters = m[4] === '' ? '.' : m[4];
    let parts = value.split(new RegExp(`[${delimiters.replace(/[\]\\^-]/g, '\\$&')}]`));
    if (m[3] !== '') parts = parts.reverse();
    if (m[2] !== '') {
      const keep = Number(m[2]);
      if (keep < parts.length) parts = parts.slice(parts.length - keep);
    }
    value = parts.join('.');
    out += letter !== letter.toLowerCase() ? urlEscape(value) : value;
  }
  return out;
}

async function macroValue(st: State, letter: string, domain: string, explanation: boolean): Promise<string> {
  switch (letter) {
    case 's':
      return st.sender;
    case 'l':
      return st.localPart;
    case 'o':
      return st.senderDomain;
    case 'd':
      return domain;
    case 'i': {
      // RFC 7208 §7.3 leaves the case of the nibbles open; they follow the address as it was given.
      const dotted = nibbles(st.ip.bytes).join('.');
      return st.ip.version === 4 ? st.ip.text : /[A-F]/.test(st.options.ip) && !/[a-f]/.test(st.options.ip) ? dotted.toUpperCase() : dotted;
    }
    case 'v':
      return st.ip.version === 4 ? 'in-addr' : 'ip6';
    case 'h':
      return st.options.helo;
    case 'p': {
      // §7.3: a validated name that is <domain> or below it, else any validated name, else "unknown".
      // The lookups do not count towards the limits; a failure gives "unknown".
      try {
        const names = await validatedNames(st, undefined);
        return names.find((n) => domainMatches(n, domain)) ?? names[0] ?? 'unknown';
      } catch {
        return 'unknown';
      }
    }
    case 'c':
      return explanation ? st.ip.text : '';
    case 'r':
      return explanation ? st.options.receiver ?? 'unknown' : '';
    case 't':
      return explanation ? String(Math.floor((st.options.now?.() ?? Date.now()) / 1000)) : '';
    default:
      return '';
  }
}

/**
 * Expands a domain-spec for a query: macros, the trailing dot removed (§7.3), and a name longer than
 * 253 octets cut from the left label by label (§7.3).
 */
async function targetName(st: State, spec: string | undefined, domain: string): Promise<string> {
  if (spec === undefined) return domain;
  let name = await expand(st, spec, domain, false);
  if (name.endsWith('.')) name = name.slice(0, -1);
  while (Buffer.byteLength(name, 'utf8') > 253 && name.includes('.')) name = name.slice(name.indexOf('.') + 1);
  return name;
}

function termText(record: string, term: SpfMechanism | SpfModifier): string {
  return record.slice(term.range.start, term.range.end);
}

/** check_host() of RFC 7208 §4 for one <domain>. `inner` is set for include and redirect. */
async function checkHost(st: State, domainIn: string): Promise<HostResult> {
  const domain = domainIn.endsWith('.') ? domainIn.slice(0, -1) : domainIn;
  // §4.3: a malformed <domain> gives "none" at once.
  if (!isValidSpfDomain(domain)) return { result: 'none', reason: `"${domain}" is not a valid fully qualified domain name (RFC 7208 §4.3)` };
  const txt = await lookup<string[]>(st, domain, 'TXT');
  if (txt.kind === 'error') throw new SpfAbort('temperror', `the TXT query for ${domain} failed (${txt.detail}) (RFC 7208 §4.4)`);
  if (txt.kind === 'void') return { result: 'none', reason: `${domain} has no TXT records (RFC 7208 §4.4)` };
  // §3.3: the character-strings of one TXT record are joined without spaces.
  const records = txt.data.map((chunks) => (Array.isArray(chunks) ? chunks.join('') : String(chunks))).filter(isSpfRecord);
  if (records.length === 0) return { result: 'none', reason: `${domain} has no SPF record (RFC 7208 §4.5)` };
  if (records.length > 1) throw new SpfAbort('permerror', `${domain} has ${records.length} SPF records (RFC 7208 §4.5)`);
  const record = records[0];
  st.trace.push(`${domain}: "${record}"`);
  // §3.1: SPF records are 7-bit ASCII; §4.6: a syntax error anywhere is a permerror before anything is evaluated.
  if (/[^\x20-\x7e]/.test(record)) throw new SpfAbort('permerror', `the SPF record of ${domain} holds a character outside printable ASCII (RFC 7208 §3.1, §4.6)`);
  const parsed = parseSpf(record);
  const fatal = parsed.errors.find((e) => !e.nonExistentName);
  if (fatal) throw new SpfAbort('permerror', `syntax error in the SPF record of ${domain} at column ${fatal.range.start + 1}: ${fatal.message} (RFC 7208 §4.6)`);
  const modifiers = parsed.terms.filter((t): t is SpfModifier => t.kind === 'modifier');
  const redirects = modifiers.filter((m) => m.name === 'redirect');
  const exps = modifiers.filter((m) => m.name === 'exp');
  // §6: redirect and exp may each appear at most once.
  if (redirects.length > 1 || exps.length > 1) {
    throw new SpfAbort('permerror', `"${redirects.length > 1 ? 'redirect' : 'exp'}=" appears more than once in the SPF record of ${domain} (RFC 7208 §6)`);
  }
  const nonExistent = new Set(parsed.errors.filter((e) => e.nonExistentName).map((e) => e.range.start));

  for (const term of parsed.terms) {
    if (term.kind !== 'mechanism') continue;
    const text = termText(record, term);
    const badName = term.valueRange !== undefined && [...nonExistent].some((s) => s >= term.range.start && s < term.range.end);
    const matched = await mechanismMatches(st, term, domain, text, badName);
    if (matched) {
      const result = ({ '+': 'pass', '-': 'fail', '~': 'softfail', '?': 'neutral' } as const)[term.qualifier];
      const out: HostResult = { result, reason: `"${text}" in the SPF record of ${domain} matched`, record, mechanism: { term: text, domain } };
      if (result === 'fail' && exps[0]) out.explanation = await explain(st, exps[0].value, domain);
      return out;
    }
  }
  // §6.1: redirect applies when no mechanism matched; its target's "none" is a permerror, and the
  // exp= of the original record is not used (§6.2).
  if (redirects[0]) {
    const term = redirects[0];
    countLookup(st, `"${termText(record, term)}" in ${domain}`);
    const target = await targetName(st, term.value, domain);
    const inner = await checkHost(st, target);
    if (inner.result === 'none') throw new SpfAbort('permerror', `redirect=${target} in the SPF record of ${domain} finds no SPF record (RFC 7208 §6.1)`);
    return inner;
  }
  return { result: 'neutral', reason: `no mechanism in the SPF record of ${domain} matched (default result, RFC 7208 §4.7)`, record };
}

/** Evaluates one mechanism (RFC 7208 §5). Throws SpfAbort for temperror and permerror. */
async function mechanismMatches(st: State, term: SpfMechanism, domain: string, text: string, badName: boolean): Promise<boolean> {
  const where = `"${text}" in ${domain}`;
  switch (term.name) {
    case 'all':
      return true;
    case 'ip4':
    case 'ip6': {
      // §5.6: ip4 matches IPv4 clients only and ip6 IPv6 clients only (an IPv4-mapped client is IPv4).
      if (st.ip.version !== (term.name === 'ip4' ? 4 : 6)) return false;
      const netBytes = term.name === 'ip4' ? parseSpfIp(term.value ?? '')?.bytes : ipv6Bytes(term.value ?? '');
      const prefix = term.name === 'ip4' ? term.cidr4 ?? 32 : term.cidr6 ?? 128;
      return netBytes !== undefined && inNetwork(st.ip.bytes, netBytes, prefix);
    }
    case 'a': {
      countLookup(st, where);
      const target = badName ? '' : await targetName(st, term.value, domain);
      const prefix = st.ip.version === 4 ? term.cidr4 ?? 32 : term.cidr6 ?? 128;
      const addresses = await addressesOf(st, target, true, where);
      return addresses.some((a) => inNetwork(st.ip.bytes, a, prefix));
    }
    case 'mx': {
      countLookup(st, where);
      const target = badName ? '' : await targetName(st, term.value, domain);
      const mx = await lookup<{ exchange: string; priority: number }>(st, target, 'MX');
      if (mx.kind === 'error') throw new SpfAbort('temperror', `the MX query for ${target} failed (${mx.detail}) at ${where}`);
      if (mx.kind === 'void') {
        countVoid(st, where);
        return false;
      }
      // §4.6.4: more than 10 MX names make the mechanism a permerror; no implicit MX (§5.4).
      const hosts = mx.data.map((m) => m.exchange).filter((h) => h !== '' && h !== '.');
      if (hosts.length > MAX_MX) throw new SpfAbort('permerror', `${target} has ${hosts.length} MX records; more than ${MAX_MX} make "mx" a permerror (RFC 7208 §4.6.4) at ${where}`);
      const prefix = st.ip.version === 4 ? term.cidr4 ?? 32 : term.cidr6 ?? 128;
      for (const host of hosts) {
        const addresses = await addressesOf(st, host, false, where);
        if (addresses.some((a) => inNetwork(st.ip.bytes, a, prefix))) return true;
      }
      return false;
    }
    case 'ptr': {
      countLookup(st, where);
      const target = badName ? '' : await targetName(st, term.value, domain);
      if (!isQueryableName(target)) return false;
      const names = await validatedNames(st, target);
      return names.some((n) => domainMatches(n, target));
    }
    case 'exists': {
      countLookup(st, where);
      const target = badName ? '' : await targetName(st, term.value, domain);
      // §5.7: exists always asks for A records, whatever the client's address family.
      const answer = await lookup<string>(st, target, 'A');
      if (answer.kind === 'error') throw new SpfAbort('temperror', `the A query for ${target} failed (${answer.detail}) at ${where}`);
      if (answer.kind === 'void') {
        countVoid(st, where);
        return false;
      }
      return true;
    }
    case 'include': {
      countLookup(st, where);
      const target = badName ? '' : await targetName(st, term.value, domain);
      const inner = await checkHostInner(st, target);
      // §5.2: pass matches; fail, softfail and neutral do not; none is a permerror.
      if (inner.result === 'pass') return true;
      if (inner.result === 'none') throw new SpfAbort('permerror', `include:${target} finds no SPF record (RFC 7208 §5.2) at ${where}`);
      return false;
    }
  }
}

/** The 16 bytes of an IPv6 address (an IPv4-mapped one stays IPv6 here). */
function ipv6Bytes(text: string): number[] | undefined {
  const groups = expandIpv6(text);
  if (!groups) return undefined;
  const bytes: number[] = [];
  for (const g of groups) {
    const n = parseInt(g, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  return bytes;
}

/** check_host() for an include: its own exp= is never used (§6.2). */
async function checkHostInner(st: State, target: string): Promise<HostResult> {
  const r = await checkHost(st, target);
  return { ...r, explanation: undefined };
}

/**
 * Fetches and expands the explanation of `exp=` (RFC 7208 §6.2). Any problem (a DNS failure, no or
 * several TXT records, a syntax error, non-ASCII text) gives no explanation, never another result.
 */
async function explain(st: State, spec: string, domain: string): Promise<string | undefined> {
  try {
    const name = await targetName(st, spec, domain);
    const answer = await lookup<string[]>(st, name, 'TXT');
    if (answer.kind !== 'ok' || answer.data.length !== 1) return undefined;
    const text = (Array.isArray(answer.data[0]) ? answer.data[0] : [String(answer.data[0])]).join('');
    if (/[^\x20-\x7e]/.test(text) || checkMacroString(text, true)) return undefined;
    return await expand(st, text, domain, true);
  } catch {
    return undefined;
  }
}

/**
 * Evaluates SPF for a message (RFC 7208): the MAIL FROM identity, or the HELO identity
 * (postmaster@HELO) when MAIL FROM is empty (§2.4). Never throws.
 */
export async function evaluateSpf(options: SpfEvalOptions): Promise<SpfEvaluation> {
  const ip = parseSpfIp(options.ip.replace(/^\[|\]$/g, ''));
  const identity: SpfEvaluation['identity'] = options.mailFrom === '' ? 'helo' : 'mailfrom';
  let sender = identity === 'helo' ? `postmaster@${options.helo}` : options.mailFrom;
  const at = sender.lastIndexOf('@');
  let localPart = at === -1 ? 'postmaster' : sender.slice(0, at);
  const senderDomain = at === -1 ? sender : sender.slice(at + 1);
  // §4.3: a sender without a local-part is checked as postmaster@domain.
  if (localPart === '') localPart = 'postmaster';
  sender = `${localPart}@${senderDomain}`;
  const base: SpfEvaluation = { result: 'none', identity, sender, domain: senderDomain, reason: '', lookups: 0, voidLookups: 0, trace: [] };
  if (!ip) return { ...base, result: 'permerror', reason: `"${options.ip}" is not an IP address` };
  const st: State = { options, ip, sender, localPart, senderDomain, lookups: 0, voids: 0, trace: base.trace };
  try {
    const r = await checkHost(st, senderDomain);
    return {
      ...base,
      result: r.result,
      reason: r.reason,
      record: r.record,
      mechanism: r.mechanism,
      explanation: r.explanation,
      lookups: st.lookups,
      voidLookups: st.voids,
    };
  } catch (err) {
    if (err instanceof SpfAbort) return { ...base, result: err.result, reason: err.message, lookups: st.lookups, voidLookups: st.voids };
    return { ...base, result: 'temperror', reason: `evaluation failed: ${(err as Error).message}`, lookups: st.lookups, voidLookups: st.voids };
  }
}
