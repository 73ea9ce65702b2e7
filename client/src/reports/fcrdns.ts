/**
 * Forward-confirmed reverse DNS of a sending IP (RFC 8601 §3 "iprev", RFC 1912 §2.1): the PTR
 * names of the address, and whether one of them has an A (IPv4) or AAAA (IPv6) record that is the
 * address again. The bulk-sender check asks for it (Gmail and Yahoo, 2024). The resolver is a
 * parameter with the contract of `dns.promises.resolve(name, rrtype)`; no `vscode`.
 */
import { expandIpv6, reverseName } from '../dns/resolver';
import type { MailauthResolver } from '../mailAuth/resolver';

export interface FcrdnsResult {
  /** The first PTR name that resolves back, else the first PTR name; absent when there is none. */
  ptr?: string;
  confirmed: boolean;
  /** Why it could not be decided (a DNS failure other than "no such name" or "no data"). */
  error?: string;
}

function sameAddress(x: string, y: string): boolean {
  if (x.includes(':') && y.includes(':')) return expandIpv6(x)?.map((g) => parseInt(g, 16)).join(':') === expandIpv6(y)?.map((g) => parseInt(g, 16)).join(':');
  return x === y;
}

/** NXDOMAIN and NODATA are answers ("none"); anything else is a failure to decide. */
async function lookup(resolver: MailauthResolver, name: string, type: string): Promise<{ names: string[] } | { error: string }> {
  try {
    const answer = await resolver(name, type);
    return { names: (answer as unknown[]).filter((a): a is string => typeof a === 'string').map((a) => a.replace(/\.$/, '').toLowerCase()) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'NXDOMAIN' || code === 'NODATA') return { names: [] };
    return { error: `${type} ${name}: ${code ?? (error instanceof Error ? error.message : String(error))}` };
  }
}

/** Checks an IP's forward-confirmed reverse DNS with the given resolver. Never throws. */
export async function forwardConfirmedReverseDns(ip: string, resolver: MailauthResolver): Promise<FcrdnsResult> {
  const rev = reverseName(ip);
  if (!rev) return { confirmed: false, error: `${ip} is not an IP address` };
  const ptr = await lookup(resolver, rev, 'PTR');
  if ('error' in ptr) return { confirmed: false, error: ptr.error };
  if (ptr.names.length === 0) return { confirmed: false };
  const type = ip.includes(':') ? 'AAAA' : 'A';
  // RFC 8601 §3 (iprev, after RFC 5451's wording): at most ten PTR names are followed.
  let firstError: string | undefined;
  for (const name of ptr.names.slice(0, 10)) {
    const forward = await lookup(resolver, name, type);
    if ('error' in forward) {
      firstError ??= forward.error;
      continue;
    }
    if (forward.names.some((a) => sameAddress(a, ip))) return { ptr: name, confirmed: true };
  }
  return { ptr: ptr.names[0], confirmed: false, ...(firstError ? { error: firstError } : {}) };
}
