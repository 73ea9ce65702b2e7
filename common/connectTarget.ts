import { domainToASCII, domainToUnicode } from 'node:url';
import type { ConnectTarget } from './sessionPlan';

/** Default ports of the `CONNECT` schemes. */
export const DEFAULT_PORTS = {
  smtp: 25,
  submission: 587,
  smtps: 465,
  lmtp: 24,
} as const;

export type ConnectParseResult =
  | { ok: true; target: ConnectTarget }
  | { ok: false; message: string; /** Offsets into the URL where the problem lies. */ start: number; end: number };

/**
 * Parses a `CONNECT` target: `smtp://host[:port]`, `submission://host[:port]`,
 * `smtps://host[:port]`, `lmtp://host:port`, `mx:domain[:port]`, or `local`. Hosts may be names,
 * IPv4 addresses or IPv6 literals in brackets (`smtp://[::1]:2525`, as in RFC 3986 §3.2.2).
 * Never throws.
 */
export function parseConnectTarget(url: string): ConnectParseResult {
  const text = url.trim();
  const lead = url.length - url.trimStart().length;
  const fail = (message: string, start = 0, end = text.length): ConnectParseResult => ({
    ok: false,
    message,
    start: lead + start,
    end: lead + Math.max(end, start + 1),
  });
  if (text === '') return fail('CONNECT needs a target such as smtp://host:port or mx:domain');
  if (text.toLowerCase() === 'local') return { ok: true, target: { kind: 'local' } };

  const mx = /^mx:(.*)$/i.exec(text);
  if (mx) {
    const rest = mx[1];
    const m = /^([^:\s/]+)(?::(\d+))?$/.exec(rest);
    if (!m) return fail('expected mx:domain or mx:domain:port', 3);
    const domain = m[1].replace(/\.$/, '');
    const domainProblem = checkHostName(domain);
    if (domainProblem) return fail(domainProblem, 3, 3 + m[1].length);
    const port = m[2] === undefined ? DEFAULT_PORTS.smtp : Number(m[2]);
    if (!validPort(port)) return fail('port must be between 1 and 65535', 4 + m[1].length, text.length);
    return { ok: true, target: { kind: 'mx', domain, port } };
  }

  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (!scheme) return fail('expected a URL such as smtp://host:port, smtps://host, submission://host, lmtp://host:port or mx:domain');
  const name = scheme[1].toLowerCase();
  if (name !== 'smtp' && name !== 'submission' && name !== 'smtps' && name !== 'lmtp') {
    return fail(`unknown scheme "${scheme[1]}": use smtp, submission, smtps, lmtp or mx`, 0, scheme[1].length);
  }
  const authorityStart = scheme[0].length;
  let authority = text.slice(authorityStart);
  // A trailing slash is harmless; a path, query or user information is not part of an SMTP target.
  if (authority.endsWith('/')) authority = authority.slice(0, -1);
  if (/[/?#@\s]/.test(authority)) {
    const at = authority.search(/[/?#@\s]/);
    return fail('a CONNECT URL holds only a host and a port', authorityStart + at, text.length);
  }
  let host: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return fail('an IPv6 literal needs its closing "]"', authorityStart, text.length);
    host = authority.slice(1, close);
    if (!isIpv6(host)) return fail(`"${host}" is not an IPv6 address`, authorityStart + 1, authorityStart + close);
    const after = authority.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return fail('expected ":port" after the IPv6 literal', authorityStart + close + 1, text.length);
    portText = after === '' ? undefined : after.slice(1);
  } else {
    const colon = authority.lastIndexOf(':');
    host = colon < 0 ? authority : authority.slice(0, colon);
    portText = colon < 0 ? undefined : authority.slice(colon + 1);
    if (host.includes(':')) return fail('an IPv6 address must be written in brackets, as smtp://[::1]:25', authorityStart, text.length);
    if (host === '') return fail('the URL has no host', authorityStart, text.length);
    const problem = isIpv4(host) ? undefined : checkHostName(host);
    if (problem) return fail(problem, authorityStart, authorityStart + host.length);
  }
  let port: number = DEFAULT_PORTS[name];
  if (portText !== undefined) {
    const portStart = text.length - portText.length;
    if (!/^\d{1,5}$/.test(portText) || !validPort(Number(portText))) return fail('port must be a number between 1 and 65535', portStart, text.length);
    port = Number(portText);
  } else if (name === 'lmtp') {
    return fail('lmtp:// needs a port: LMTP has no standard TCP port (RFC 2033 §5)', 0, text.length);
  }
  return { ok: true, target: { kind: 'host', scheme: name, host, port, implicitTls: name === 'smtps' } };
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/**
 * Returns why a host name is not a valid domain name, or undefined. Each label is one of:
 * - an LDH label (RFC 1035 §2.3.1 as relaxed by RFC 1123 §2.1; `_` is allowed too, as service
 *   names use it), which, when it starts with `xn--`, must be a valid A-label: `xn--` followed by
 *   LDH characters that decode as Punycode to a U-label that encodes back to the same A-label
 *   (RFC 5890 §2.3.2.1, RFC 5891 §5.4);
 * - a U-label, holding non-ASCII characters, that converts to such an A-label (the resolver sends
 *   the A-label).
 * Lengths (63 per label, 253 in all) are counted on the A-label form, as it goes on the wire.
 * Conversions use node's `url.domainToASCII` and `url.domainToUnicode` (UTS #46), whose result is
 * checked again as LDH: they let through characters such as `*` or `!` that no host name holds.
 */
export function checkHostName(host: string): string | undefined {
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length === 0) return 'the host name is empty';
  let length = 0;
  const labels = name.split('.');
  for (const label of labels) {
    if (label.length === 0) return `"${host}" has an empty label`;
    let ascii: string;
    if (/^[\x00-\x7f]*$/.test(label)) {
      if (!LDH_LABEL.test(label)) return `"${label}" is not a valid host name label`;
      if (/^xn--/i.test(label) && !isALabel(label)) return `"${label}" is not a valid A-label: xn-- must be followed by the Punycode form of an internationalised label`;
      ascii = label;
    } else {
      const converted = domainToASCII(label);
      if (converted === '' || converted.includes('.') || !LDH_LABEL.test(converted) || (/^xn--/i.test(converted) && !isALabel(converted))) {
        return `"${label}" is not a valid internationalised host name label`;
      }
      ascii = converted;
    }
    if (ascii.length > 63) return `"${label}" is longer than 63 characters`;
    length += ascii.length;
  }
  if (length + labels.length - 1 > 253) return 'a host name has at most 253 characters';
  return undefined;
}

/** An LDH label, with `_` allowed: letters, digits and hyphens, not starting or ending with a hyphen. */
const LDH_LABEL = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/i;

/**
 * True when an `xn--` label is an A-label: it decodes to a label that holds a non-ASCII character
 * (else it is no U-label) and that encodes back to the same A-label.
 */
function isALabel(label: string): boolean {
  const unicode = domainToUnicode(label);
  if (unicode === '' || unicode.includes('.') || /^[\x00-\x7f]*$/.test(unicode)) return false;
  return domainToASCII(unicode) === label.toLowerCase();
}

export function isIpv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

export function isIpv6(text: string): boolean {
  // A compact check of RFC 4291 §2.2 text forms, including an embedded IPv4 tail and a zone.
  const zoneless = text.split('%')[0];
  if (!/^[0-9a-f:.]+$/i.test(zoneless) || !zoneless.includes(':')) return false;
  const doubles = zoneless.split('::').length - 1;
  if (doubles > 1) return false;
  let groups = zoneless.split(':').filter((g) => g !== '');
  let count = groups.length;
  const last = groups[groups.length - 1];
  if (last !== undefined && last.includes('.')) {
    if (!isIpv4(last)) return false;
    groups = groups.slice(0, -1);
    count += 1;
  }
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return false;
  return doubles === 1 ? count < 8 : count === 8;
}
