/**
 * MX resolution as an MTA delivers (RFC 5321 §5.1): hosts in order of preference, hosts of equal
 * preference in random order, the domain's own address records when it has no MX (the implicit
 * MX), and a clear stop on a null MX (RFC 7505).
 */
import { EngineError } from './wire';
import type { MxCandidate, ResolverLike } from './types';

function dnsCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** `ENODATA` and `ENOTFOUND` mean "no such records"; anything else is a DNS failure. */
function isNoRecords(err: unknown): boolean {
  const code = dnsCode(err);
  return code === 'ENODATA' || code === 'ENOTFOUND';
}

export type MxLookup = { kind: 'hosts'; candidates: MxCandidate[] } | { kind: 'null' };

/** Looks up the MX hosts of a domain and orders them; throws `EngineError('dns')` on failure. */
export async function lookupMx(resolver: ResolverLike, domain: string, random: () => number): Promise<MxLookup> {
  let records: Array<{ exchange: string; priority: number }>;
  try {
    records = await resolver.resolveMx(domain);
  } catch (err) {
    if (dnsCode(err) === 'ENOTFOUND') {
      throw new EngineError('dns', `the domain ${domain} does not exist (NXDOMAIN)`);
    }
    if (!isNoRecords(err)) throw new EngineError('dns', `the MX lookup of ${domain} failed: ${dnsCode(err) ?? String(err)}`);
    records = [];
  }
  // RFC 7505 §3: a single MX of preference 0 whose exchange is the root "." means "no mail".
  const isRoot = (name: string): boolean => name === '' || name === '.';
  if (records.length === 1 && isRoot(records[0].exchange)) return { kind: 'null' };
  const usable = records.filter((r) => !isRoot(r.exchange));
  if (usable.length === 0) {
    // RFC 5321 §5.1: with no MX records, the domain itself is the implicit MX, with preference 0.
    return { kind: 'hosts', candidates: [{ host: domain, preference: 0, implicit: true }] };
  }
  const sorted = [...usable].sort((a, b) => a.priority - b.priority);
  const out: MxCandidate[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j < sorted.length && sorted[j].priority === sorted[i].priority) j++;
    const group = sorted.slice(i, j);
    // RFC 5321 §5.1: hosts of equal preference are tried in random order (Fisher-Yates with the injected random).
    for (let k = group.length - 1; k > 0; k--) {
      const r = Math.floor(random() * (k + 1));
      [group[k], group[r]] = [group[r], group[k]];
    }
    for (const g of group) out.push({ host: g.exchange.replace(/\.$/, ''), preference: g.priority, implicit: false });
    i = j;
  }
  return { kind: 'hosts', candidates: out };
}

/** The IPv4 then IPv6 addresses of a host; an empty list when it has none. */
export async function hostAddresses(resolver: ResolverLike, host: string): Promise<{ addresses: string[]; error?: string }> {
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const addresses: string[] = [];
  let error: string | undefined;
  for (const r of [v4, v6]) {
    if (r.status === 'fulfilled') addresses.push(...r.value);
    else if (!isNoRecords(r.reason)) error = dnsCode(r.reason) ?? String(r.reason);
  }
  return { addresses, error };
}
