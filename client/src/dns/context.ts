/**
 * What every check receives: the domain, the shared DNS client and the injected parts. Nothing here
 * reaches the network except through the injected resolver, fetcher and prober.
 */
import type * as Tldts from 'tldts';

let tldtsModule: typeof Tldts | undefined;
/** tldts, loaded on the first lookup: its load builds the public suffix data, which a run without DANE never needs. */
function tldts(): typeof Tldts {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  tldtsModule ??= require('tldts') as typeof Tldts;
  return tldtsModule;
}
import { rfcLink } from '../../../common/problem';
import type { DnsClient } from './resolver';
import type { Clock, Finding, FindingSeverity, RecordRef } from './types';

/** Finds the organizational domain of a name (RFC 7489 §3.2). */
export type OrgDomainLookup = (name: string) => string;

/**
 * The default lookup uses the public suffix list through tldts. tldts applies the list's default rule
 * "*" to unknown top-level domains, so `sub.example.test` gives `example.test`, which is what
 * RFC 7489 §3.2 step 3 asks for when no rule matches.
 */
export const pslOrgDomain: OrgDomainLookup = (name) => {
  // Private suffixes count (as in mailauth, which `smtpwb verify` uses), so both commands agree.
  const org = tldts().getDomain(name, { allowPrivateDomains: true });
  return org ?? name;
};

/** The result of fetching one HTTPS resource (only the MTA-STS policy is fetched). */
export type HttpsFetchResult =
  | { ok: true; status: number; contentType: string | undefined; body: string; redirectedTo?: string }
  | { ok: false; error: string; certificateError?: boolean };

export interface HttpsFetchRequest {
  /** The URL, e.g. https://mta-sts.example.com/.well-known/mta-sts.txt */
  url: string;
  /** Addresses the host name resolved to through the report's resolver, tried in order. */
  addresses: string[];
  timeoutMs: number;
  /** The largest body to read, in bytes. */
  maxBytes: number;
}

/** Fetches over HTTPS with a verified certificate; redirects are returned, not followed. */
export interface HttpsFetcher {
  fetch(request: HttpsFetchRequest): Promise<HttpsFetchResult>;
}

export interface StartTlsProbeRequest {
  /** The MX host name, for SNI and to check the certificate against. */
  host: string;
  address: string;
  timeoutMs: number;
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  subjectAltNames: string[];
  validFrom: string;
  validTo: string;
  /** Milliseconds since the epoch of validTo. */
  expiresAt: number;
  fingerprint256: string;
  /** The chain from the leaf upwards, by subject. */
  chain: string[];
}

export type StartTlsProbeResult =
  | {
      connected: false;
      error: string;
      /** Set when the probe's own timeout ran out (not a refusal, a disconnect or a bad reply). */
      timedOut?: true;
    }
  | {
      connected: true;
      banner: string;
      ehloLines: string[];
      starttlsOffered: boolean;
      /** Set when STARTTLS was offered but the upgrade failed. */
      tlsError?: string;
      tlsVersion?: string;
      cipher?: string;
      certificate?: CertificateInfo;
      /** Whether the chain verifies against the trusted CAs (name not included). */
      chainTrusted?: boolean;
      chainError?: string;
      /** Whether the certificate is valid for the MX host name (RFC 6125). */
      nameMatches?: boolean;
      nameError?: string;
    };

/** Connects to an MX host, says EHLO, and upgrades with STARTTLS to look at the TLS session. */
export interface StartTlsProber {
  probe(request: StartTlsProbeRequest): Promise<StartTlsProbeResult>;
}

export interface CheckContext {
  domain: string;
  dns: DnsClient;
  clock: Clock;
  orgDomain: OrgDomainLookup;
  /** Absent where only DNS queries may be sent (an untrusted workspace): MTA-STS policies are not fetched. */
  fetcher?: HttpsFetcher;
  /** Absent unless the user asked for the STARTTLS probe. */
  prober?: StartTlsProber;
  /** DKIM selectors given by the user. */
  selectors: string[];
  /** Whether to probe common DKIM selector names too. */
  probeSelectors: boolean;
  timeoutMs: number;
}

/** The link to an RFC section. */
export function rfc(n: number, section?: string): string {
  return rfcLink(n, section);
}

export const BIMI_LINK = 'https://datatracker.ietf.org/doc/draft-brand-indicators-for-message-identification/';

/** Builds a finding. */
export function finding(severity: FindingSeverity, code: string, message: string, link: string, record?: RecordRef): Finding {
  return record ? { severity, code, message, record, link } : { severity, code, message, link };
}
