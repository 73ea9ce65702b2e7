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

/** Returns why a host name is not a valid domain (RFC 1035 §2.3.1 as relaxed by RFC 1123), or undefined. */
export function checkHostName(host: string): string | undefined {
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length === 0) return 'the host name is empty';
  if (name.length > 253) return 'a host name has at most 253 characters';
  for (const label of name.split('.')) {
    if (label.length === 0) return `"${host}" has an empty label`;
    if (label.length > 63) return `"${label}" is longer than 63 characters`;
    if (!/^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/i.test(label) && !/^xn--/i.test(label)) {
      if (/[^\x00-\x7f]/.test(label)) continue; // An internationalised name; the resolver encodes it.
      return `"${label}" is not a valid host name label`;
    }
  }
  return undefined;
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
