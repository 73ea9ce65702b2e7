/**
 * `TLS dane=on|only` for sessions: the server is verified by its DNSSEC-secure TLSA records instead
 * of PKIX when it has usable ones, as posttls-finger's `dane` and `dane-only` levels do (RFC 7672
 * §2, §3). The lookups go to a validating resolver, whose AD bit decides what is secure.
 *
 * - `on`: usable TLSA (secure, DANE-TA(2) or DANE-EE(3)) → DANE decides and PKIX is not consulted;
 *   secure TLSA records none of which is usable → TLS without authentication (RFC 7672 §2.2); no
 *   TLSA or an insecure zone → PKIX as without `dane=`; a bogus or failed lookup → the host is not
 *   used (RFC 7672 §2.1.1).
 * - `only`: anything but usable TLSA fails the session (with MX targets, that host is skipped).
 */
import * as dns from 'node:dns';
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { daneApplies, lookupDane, type DaneLookup } from '../dns/dane';
import { lookupWithStatus } from '../dns/dnssec';
import { createDnssecQuery, RR, type DnssecQuery } from '../dns/dnssecWire';
import { verifyDane, type DaneVerification } from '../dns/tlsa';
import { peerChainDer } from '../dns/tlsChain';
import type { ResolverLike, RunOptions } from './types';

export type DaneMode = 'on' | 'only';

/** What DNS said about DANE for the host a session talks to. */
export interface SessionDane {
  host: string;
  port: number;
  lookup?: DaneLookup;
  applies: ReturnType<typeof daneApplies>['applies'];
  reason: string;
}

/**
 * The validating resolver for DANE lookups: `RunOptions.daneResolver`, else the first server of the
 * engine's resolver when it names one (the CLI's `--dns-server`), else the system's first resolver.
 */
export function daneResolverAddress(options: RunOptions, resolver: ResolverLike | undefined): string | undefined {
  if (options.daneResolver) return options.daneResolver;
  const named = (resolver as { getServers?: () => string[] } | undefined)?.getServers?.()[0];
  return named ?? dns.getServers()[0];
}

/** The DNSSEC query function for a session, or a reason why there is none. */
export function daneQuery(options: RunOptions, resolver: ResolverLike | undefined): { query: DnssecQuery; server: string } | { error: string } {
  if (options.daneQuery) return { query: options.daneQuery, server: options.daneResolver ?? 'the injected resolver' };
  const server = daneResolverAddress(options, resolver);
  if (!server) return { error: 'no DNS resolver is configured for the DANE lookups' };
  return { query: createDnssecQuery(server), server };
}

/**
 * The DNSSEC status of a domain's MX RRset: TLSA of the MX hosts counts only when it is secure
 * (RFC 7672 §2.2.1). Returns a reason when DANE cannot apply, or `bogus` when delivery must stop.
 */
export async function mxDaneStatus(query: DnssecQuery, domain: string, timeoutMs: number): Promise<{ status: 'secure' | 'insecure' | 'bogus' | 'indeterminate'; reason: string }> {
  const r = await lookupWithStatus(query, domain, RR.MX, timeoutMs);
  if (r.status === 'secure') return { status: 'secure', reason: `the MX records of ${domain} are DNSSEC-secure` };
  if (r.status === 'bogus') return { status: 'bogus', reason: `the MX records of ${domain} are DNSSEC-bogus` };
  if (r.status === 'insecure') return { status: 'insecure', reason: `the MX records of ${domain} are not DNSSEC-signed, so DANE does not apply to its MX hosts (RFC 7672 §2.2.1)` };
  return { status: 'indeterminate', reason: `the DNSSEC status of the MX records of ${domain} is unknown: ${r.note ?? 'the lookup failed'}` };
}

/** Looks up TLSA for `host` at `port` (RFC 7672 §2.2.2) and says whether DANE applies. Never throws. */
export async function sessionDane(query: DnssecQuery, host: string, port: number, timeoutMs: number, notApplicable?: string): Promise<SessionDane> {
  if (net.isIP(host) !== 0) return { host, port, applies: 'none', reason: `${host} is an address, and TLSA records are published for host names` };
  if (notApplicable) return { host, port, applies: 'insecure', reason: notApplicable };
  const lookup = await lookupDane(query, host, port, timeoutMs);
  const a = daneApplies(lookup);
  return { host, port, lookup, applies: a.applies, reason: a.reason };
}

/** Matches the TLSA records against the chain the server presented (RFC 7671 §5, RFC 7672 §3). */
export function verifySessionDane(d: SessionDane, socket: tls.TLSSocket, nowMs: number): DaneVerification | undefined {
  if (d.applies !== 'usable' || !d.lookup) return undefined;
  return verifyDane(d.lookup.tlsa, peerChainDer(socket.getPeerCertificate(true)), d.lookup.referenceNames, nowMs);
}
