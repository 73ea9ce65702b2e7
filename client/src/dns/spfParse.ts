/**
 * A term-by-term parser of SPF records (RFC 7208 §4.6.1, §5, §6, §7). It keeps the range of every
 * term and reports each syntax problem with its range, so a report can give the column.
 */
import { expandIpv6 } from './resolver';
import type { TextRange } from './types';

export type SpfQualifier = '+' | '-' | '~' | '?';

export type SpfMechanismName = 'all' | 'include' | 'a' | 'mx' | 'ptr' | 'ip4' | 'ip6' | 'exists';

export interface SpfMechanism {
  kind: 'mechanism';
  qualifier: SpfQualifier;
  /** Whether the qualifier was written out. */
  explicitQualifier: boolean;
  name: SpfMechanismName;
  /** The domain-spec or network after ':', if any. */
  value?: string;
  valueRange?: TextRange;
  cidr4?: number;
  cidr6?: number;
  range: TextRange;
  /** Whether the domain-spec contains macros (RFC 7208 §7). */
  hasMacros: boolean;
}

export interface SpfModifier {
  kind: 'modifier';
  name: string;
  value: string;
  valueRange: TextRange;
  range: TextRange;
  hasMacros: boolean;
}

export type SpfTerm = SpfMechanism | SpfModifier;

export interface SpfSyntaxError {
  message: string;
  range: TextRange;
  /**
   * Set for a target name that is valid domain-spec syntax but can never be a DNS name (an empty
   * label, a label over 63 octets). The linter reports it; evaluation treats the name as one that
   * does not exist, so the mechanism does not match (RFC 7208 §4.3, §4.8, §5).
   */
  nonExistentName?: boolean;
}

export interface ParsedSpf {
  terms: SpfTerm[];
  errors: SpfSyntaxError[];
}

const MECHANISMS: readonly string[] = ['all', 'include', 'a', 'mx', 'ptr', 'ip4', 'ip6', 'exists'];

/** Whether a TXT string is an SPF record: "v=spf1" then a space or the end (RFC 7208 §4.5). */
export function isSpfRecord(text: string): boolean {
  return /^v=spf1( |$)/i.test(text);
}

/**
 * Checks a macro-string (RFC 7208 §7.1) and returns the offset (inside the string) and message of
 * its first problem, or undefined when it is valid. `explanation` allows the c, r and t letters, which
 * only an explanation string may use (§7.2).
 */
export function checkMacroString(text: string, explanation = false): { offset: number; length: number; message: string } | undefined {
  const letters = explanation ? 'slodiphcrtv' : 'slodiphv';
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '%') {
      const next = text[i + 1];
      if (next === '%' || next === '_' || next === '-') {
        i += 2;
        continue;
      }
      if (next !== '{') return { offset: i, length: 2, message: `"%" must be followed by "{", "%", "_" or "-" (RFC 7208 §7.1)` };
      const close = text.indexOf('}', i);
      if (close === -1) return { offset: i, length: text.length - i, message: 'the macro "%{" is not closed with "}"' };
      const body = text.slice(i + 2, close);
      const m = /^([a-zA-Z])(\d*)(r?)([.\-+,/_=]*)$/i.exec(body);
      if (!m) return { offset: i, length: close - i + 1, message: `"%{${body}}" is not a valid macro` };
      if (!letters.includes(m[1].toLowerCase())) {
        return {
          offset: i,
          length: close - i + 1,
          message: `the macro letter "${m[1]}" is not allowed here${'crt'.includes(m[1].toLowerCase()) ? ' (c, r and t are only for exp= explanations)' : ''}`,
        };
      }
      if (m[2] !== '' && Number(m[2]) === 0) return { offset: i, length: close - i + 1, message: 'a macro transformer digit count must not be 0' };
      i = close + 1;
      continue;
    }
    const code = ch.charCodeAt(0);
    // An explain-string may also hold spaces: explain-string = *( macro-string / SP ) (§7.1).
    if (explanation && ch === ' ') {
      i++;
      continue;
    }
    if (code < 0x21 || code > 0x7e) return { offset: i, length: 1, message: `the character ${JSON.stringify(ch)} is not allowed in a domain-spec` };
    i++;
  }
  return undefined;
}

/** Checks a domain-spec (RFC 7208 §7.1): a macro-string that ends in a top label or a macro. */
function checkDomainSpec(spec: string): { offset: number; length: number; message: string; nonExistentName?: boolean } | undefined {
  if (spec === '') return { offset: 0, length: 0, message: 'a domain is required here' };
  const macro = checkMacroString(spec);
  if (macro) return macro;
  if (/%\{[^}]*\}$/.test(spec)) return undefined;
  const trimmed = spec.endsWith('.') ? spec.slice(0, -1) : spec;
  const dot = trimmed.lastIndexOf('.');
  if (dot === -1) return { offset: 0, length: spec.length, message: `"${spec}" is not a fully qualified domain name` };
  const top = trimmed.slice(dot + 1);
  // toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
  if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i.test(top) || /^\d+$/.test(top)) {
    return { offset: dot + 1, length: top.length, message: `"${top}" is not a valid top-level label` };
  }
  const labels = trimmed.split('.');
  const emptyAt = labels.findIndex((l) => l === '');
  if (emptyAt !== -1) return { offset: 0, length: spec.length, message: `"${spec}" has an empty label, so no DNS name can be made of it`, nonExistentName: true };
  const long = labels.find((l) => l.length > 63 && !l.includes('%'));
  if (long) return { offset: spec.indexOf(long), length: long.length, message: 'a label is longer than 63 characters, so no DNS name can be made of it', nonExistentName: true };
  return undefined;
}

function checkIp4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && !(p.length > 1 && p.startsWith('0')));
}

function checkIp6(text: string): boolean {
  // RFC 4291 §2.2 text forms, with an optional dotted IPv4 tail; a lone leading or trailing ":" (as in
  // "ip6::CAFE::BABE", whose address is ":CAFE::BABE") is not one of them.
  return /^[0-9a-f:.]+$/i.test(text) && text.includes(':') && expandIpv6(text) !== undefined;
}

/** Parses an SPF record. The record must start with v=spf1; that is checked here too. */
export function parseSpf(text: string): ParsedSpf {
  const terms: SpfTerm[] = [];
  const errors: SpfSyntaxError[] = [];
  const version = /^v=spf1/i.exec(text);
  if (!version) {
    errors.push({ message: 'the record does not start with "v=spf1"', range: { start: 0, end: Math.min(text.length, 6) } });
    return { terms, errors };
  }
  let pos = version[0].length;
  if (pos < text.length && text[pos] !== ' ') {
    errors.push({ message: '"v=spf1" must be followed by a space', range: { start: 0, end: pos + 1 } });
  }
  while (pos < text.length) {
    if (text[pos] === ' ') {
      pos++;
      continue;
    }
    let end = pos;
    while (end < text.length && text[end] !== ' ') end++;
    const raw = text.slice(pos, end);
    const range = { start: pos, end };
    const ws = /[\t\r\n]/.exec(raw);
    if (ws) {
      errors.push({ message: 'terms must be separated by spaces; tabs and line breaks are not allowed', range: { start: pos + ws.index, end: pos + ws.index + 1 } });
    }
    parseTerm(raw, pos, range, terms, errors);
    pos = end;
  }
  return { terms, errors };
}

function parseTerm(raw: string, offset: number, range: TextRange, terms: SpfTerm[], errors: SpfSyntaxError[]): void {
  const modifier = /^([a-zA-Z][a-zA-Z0-9\-_.]*)=(.*)$/.exec(raw);
  if (modifier) {
    const name = modifier[1].toLowerCase();
    const value = modifier[2];
    const valueStart = offset + modifier[1].length + 1;
    const valueRange = { start: valueStart, end: valueStart + value.length };
    const hasMacros = value.includes('%');
    if (name === 'redirect' || name === 'exp') {
      const bad = checkDomainSpec(value);
      if (bad) errors.push({ message: `${name}=: ${bad.message}`, range: { start: valueStart + bad.offset, end: valueStart + bad.offset + Math.max(bad.length, 1) } });
    } else {
      const bad = checkMacroString(value);
      if (bad) errors.push({ message: `${name}=: ${bad.message}`, range: { start: valueStart + bad.offset, end: valueStart + bad.offset + Math.max(bad.length, 1) } });
    }
    terms.push({ kind: 'modifier', name, value, valueRange, range, hasMacros });
    return;
  }
  let q: SpfQualifier = '+';
  let explicitQualifier = false;
  let body = raw;
  let bodyOffset = offset;
  if ('+-~?'.includes(raw[0])) {
    q = raw[0] as SpfQualifier;
    explicitQualifier = true;
    body = raw.slice(1);
    bodyOffset++;
  }
  const m = /^([a-zA-Z0-9]+)(.*)$/.exec(body);
  const name = m ? m[1].toLowerCase() : '';
  if (!m || !MECHANISMS.includes(name)) {
    const nameText = m ? m[1] : body;
    errors.push({
      message: body.includes('=') && explicitQualifier ? `a modifier cannot have a qualifier: "${raw}"` : `"${nameText || raw}" is not an SPF mechanism or modifier`,
      range: { start: bodyOffset, end: bodyOffset + Math.max(nameText.length, 1) },
    });
    return;
  }
  const rest = m[2];
  const restOffset = bodyOffset + m[1].length;
  const mech: SpfMechanism = { kind: 'mechanism', qualifier: q, explicitQualifier, name: name as SpfMechanismName, range, hasMacros: false };
  const err = (message: string, start: number, length: number, nonExistentName?: boolean): void => {
    errors.push({ message, range: { start, end: start + Math.max(length, 1) }, ...(nonExistentName ? { nonExistentName } : {}) });
  };
  switch (mech.name) {
    case 'all':
      if (rest !== '') err(`"all" takes no argument`, restOffset, rest.length);
      break;
    case 'include':
    case 'exists':
    case 'ptr': {
      if (rest === '') {
        if (mech.name !== 'ptr') err(`"${mech.name}" needs ":domain"`, bodyOffset, m[1].length);
        break;
      }
      if (rest[0] !== ':') {
        err(`expected ":" after "${mech.name}"`, restOffset, 1);
        break;
      }
      mech.value = rest.slice(1);
      mech.valueRange = { start: restOffset + 1, end: restOffset + rest.length };
      mech.hasMacros = mech.value.includes('%');
      const bad = checkDomainSpec(mech.value);
      if (bad) err(`${mech.name}: ${bad.message}`, restOffset + 1 + bad.offset, bad.length, bad.nonExistentName);
      break;
    }
    case 'a':
    case 'mx': {
      const cidr = /(?:\/(\d+))?(?:\/\/(\d+))?$/.exec(rest);
      const cidrText = cidr ? cidr[0] : '';
      const spec = rest.slice(0, rest.length - cidrText.length);
      if (cidr && cidr[1] !== undefined) {
        mech.cidr4 = Number(cidr[1]);
        if (mech.cidr4 > 32 || /^0\d/.test(cidr[1])) err(`the IPv4 prefix length /${cidr[1]} is out of range (0-32)`, restOffset + spec.length, cidr[1].length + 1);
      }
      if (cidr && cidr[2] !== undefined) {
        mech.cidr6 = Number(cidr[2]);
        if (mech.cidr6 > 128 || /^0\d/.test(cidr[2])) err(`the IPv6 prefix length //${cidr[2]} is out of range (0-128)`, restOffset + rest.length - cidr[2].length - 2, cidr[2].length + 2);
      }
      if (spec === '') break;
      if (spec[0] !== ':') {
        err(`unexpected "${spec}" after "${mech.name}"`, restOffset, spec.length);
        break;
      }
      mech.value = spec.slice(1);
      mech.valueRange = { start: restOffset + 1, end: restOffset + spec.length };
      mech.hasMacros = mech.value.includes('%');
      const bad = checkDomainSpec(mech.value);
      if (bad) err(`${mech.name}: ${bad.message}`, restOffset + 1 + bad.offset, bad.length, bad.nonExistentName);
      break;
    }
    case 'ip4':
    case 'ip6': {
      if (rest[0] !== ':') {
        err(`"${mech.name}" needs ":" and a network`, bodyOffset, m[1].length);
        break;
      }
      const slash = rest.indexOf('/');
      const net = slash === -1 ? rest.slice(1) : rest.slice(1, slash);
      mech.value = net;
      mech.valueRange = { start: restOffset + 1, end: restOffset + 1 + net.length };
      const valid = mech.name === 'ip4' ? checkIp4(net) : checkIp6(net);
      if (!valid) err(`"${net}" is not a valid ${mech.name === 'ip4' ? 'IPv4' : 'IPv6'} address`, restOffset + 1, net.length);
      if (slash !== -1) {
        const len = rest.slice(slash + 1);
        const max = mech.name === 'ip4' ? 32 : 128;
        if (!/^\d+$/.test(len) || Number(len) > max || /^0\d/.test(len)) {
          err(`"/${len}" is not a valid prefix length (0-${max})`, restOffset + slash, len.length + 1);
        } else if (mech.name === 'ip4') mech.cidr4 = Number(len);
        else mech.cidr6 = Number(len);
      }
      break;
    }
  }
  terms.push(mech);
}
