/**
 * The one grammar of a DNS server the user names (`smtpwb … --dns-server`, the `smtp.dns.server`
 * setting, `smtpwb serve --verify --dns-server`): `HOST[:PORT]`, where HOST is an IPv4 address or a
 * host name, and an IPv6 address is always in brackets (`[::1]:53`), as in URLs (RFC 3986 §3.2.2),
 * so `::1:53` cannot be misread. A host name is resolved once, before the first query, by a lookup
 * the caller passes in (this module does no I/O).
 *
 * Internally, a resolved server travels in the form `dns.Resolver#setServers` takes and
 * `dns.getServers()` returns: `IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address;
 * `splitServerAddress` reads that form.
 */
import { isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/** A host name as RFC 1123 §2.1 allows it (letters, digits, hyphens; labels of 1–63 octets). */
const HOST_NAME = /^(?=.{1,253}\.?$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** The wording of a bad DNS server, shared by every command and the editor. */
export const DNS_SERVER_FORMAT = 'HOST[:PORT] (an IPv4 address or a host name; IPv6 in brackets, as [::1]:53)';

/**
 * Parses `HOST`, `HOST:PORT`, `[IPv6]` or `[IPv6]:PORT`: HOST is an IPv4 address or a host name,
 * and an IPv6 address is always in brackets. Without a port, `defaultPort` applies (none: the port
 * is required). Returns undefined for anything else.
 */
export function parseHostPort(text: string, defaultPort?: number): HostPort | undefined {
  const t = text.trim();
  const port = (p: string | undefined): number | undefined => {
    if (p === undefined) return defaultPort;
    if (!/^\d{1,5}$/.test(p)) return undefined;
    const n = Number(p);
    return n >= 1 && n <= 65535 ? n : undefined;
  };
  const bracket = /^\[([^\]]+)\](?::([^:]*))?$/.exec(t);
  if (bracket) {
    const p = port(bracket[2]);
    return isIP(bracket[1]) === 6 && p !== undefined ? { host: bracket[1], port: p } : undefined;
  }
  // A bare IPv6 address is refused: "::1:53" is itself an address, not ::1 port 53.
  if (isIP(t) === 6) return undefined;
  const m = /^([^:]+)(?::([^:]*))?$/.exec(t);
  if (!m) return undefined;
  const p = port(m[2]);
  if (p === undefined) return undefined;
  if (isIP(m[1]) === 4 || (!/^[\d.]+$/.test(m[1]) && HOST_NAME.test(m[1]))) return { host: m[1].replace(/\.$/, ''), port: p };
  return undefined;
}

/** An address and port in the form `dns.Resolver#setServers` takes (`IP:PORT`, `[IPv6]:PORT`). */
export function serverString(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A DNS server the user named, checked against the one grammar (port 53 by default). */
export type DnsServerSpec =
  | { ok: true; host: string; port: number; /** The setServers form when HOST is an address; undefined for a name. */ address?: string }
  | { ok: false; error: string };

/** Checks a DNS server the user named; `what` names the option or setting in the error. */
export function parseDnsServerSpec(text: string, what = '--dns-server'): DnsServerSpec {
  const parsed = parseHostPort(text, 53);
  if (!parsed) return { ok: false, error: `${what} needs ${DNS_SERVER_FORMAT}, not "${text}"` };
  return { ok: true, host: parsed.host, port: parsed.port, address: isIP(parsed.host) === 0 ? undefined : serverString(parsed.host, parsed.port) };
}

/** Resolves a host name to its addresses (the system's lookup in the glue, a table in tests). */
export type HostLookup = (host: string) => Promise<string[]>;

/**
 * Validates a DNS server the user named and resolves a host name once, with `lookup`, to the
 * address the DNS queries then go to (an IPv4 address is preferred). Returns the server in the
 * setServers form, or an error message.
 */
export async function resolveDnsServer(text: string, lookup: HostLookup, what = '--dns-server'): Promise<{ server: string; address: string; port: number } | { error: string }> {
  const spec = parseDnsServerSpec(text, what);
  if (!spec.ok) return { error: spec.error };
  let address = spec.host;
  if (isIP(address) === 0) {
    let addresses: string[];
    try {
      addresses = await lookup(spec.host);
    } catch (error) {
      return { error: `${what}: the host name ${spec.host} could not be resolved (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
    }
    if (addresses.length === 0) return { error: `${what}: the host name ${spec.host} has no address` };
    address = addresses.find((a) => isIP(a) === 4) ?? addresses[0];
  }
  return { server: serverString(address, spec.port), address, port: spec.port };
}

/**
 * Splits a resolved server in the setServers form (`IP`, `IP:PORT`, `[IPv6]:PORT`, or a bare IPv6
 * address as `dns.getServers()` writes it) into address and port (53 by default).
 */
export function splitServerAddress(text: string): HostPort | undefined {
  if (isIP(text) === 6) return { host: text, port: 53 };
  const parsed = parseHostPort(text, 53);
  return parsed && isIP(parsed.host) !== 0 ? parsed : undefined;
}

/**
 * The server of a resolver that is created before its host name is known to resolve: the name is
 * looked up once, at the first call; a failed lookup rejects with code ECONNREFUSED, so every query
 * reports "DNS unreachable" with the reason.
 */
export function resolvedOnce(text: string, lookup: HostLookup, what = 'the DNS server'): () => Promise<string> {
  let ready: Promise<string> | undefined;
  return () =>
    (ready ??= resolveDnsServer(text, lookup, what).then((r) => {
      if ('error' in r) throw Object.assign(new Error(r.error), { code: 'ECONNREFUSED' });
      return r.server;
    }));
}
