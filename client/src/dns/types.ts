/**
 * The shapes shared by the mail DNS checks. The checks are pure: the DNS resolver, the HTTPS fetcher,
 * the STARTTLS prober and the clock are injected, so tests and the benchmark can run them against
 * local peers and the sidebar can leave out everything that is not a DNS query.
 */

export type FindingSeverity = 'error' | 'warning' | 'info' | 'pass';

export type CheckId = 'mx' | 'ptr' | 'spf' | 'dkim' | 'dmarc' | 'mta-sts' | 'tls-rpt' | 'bimi' | 'starttls' | 'dnssec' | 'dane' | 'transport';

export const CHECK_TITLES: Record<CheckId, string> = {
  mx: 'MX',
  ptr: 'Reverse DNS',
  spf: 'SPF',
  dkim: 'DKIM',
  dmarc: 'DMARC',
  'mta-sts': 'MTA-STS',
  'tls-rpt': 'TLS-RPT',
  bimi: 'BIMI',
  starttls: 'STARTTLS',
  dnssec: 'DNSSEC',
  dane: 'DANE',
  transport: 'Transport security (MTA-STS, DANE, TLS-RPT)',
};

/** The record types the checks query. */
export type RrType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'CNAME' | 'PTR';

/** A half-open range [start, end) of UTF-16 offsets into a record's text. */
export interface TextRange {
  start: number;
  end: number;
}

/** The record a finding concerns: its owner name, its type, its text and the part of it at fault. */
export interface RecordRef {
  name: string;
  type: RrType | 'HTTPS' | 'SMTP' | 'TLSA' | 'DS' | 'DNSKEY';
  text: string;
  range?: TextRange;
}

export interface Finding {
  severity: FindingSeverity;
  /** A stable code such as `spf-lookup-limit`; tests and JSON consumers match on it. */
  code: string;
  message: string;
  record?: RecordRef;
  /** The RFC section (or draft) that states the rule. */
  link: string;
}

/** One record as it came from DNS (or, for MTA-STS, the policy body), shown raw in reports. */
export interface RawRecord {
  name: string;
  /** HTTPS is the MTA-STS policy body; SMTP is what the STARTTLS probe saw. */
  type: RrType | 'HTTPS' | 'SMTP' | 'TLSA' | 'DS' | 'DNSKEY';
  data: string;
}

/** A node of the SPF include and redirect tree, each with the record it found. */
export interface SpfTreeNode {
  domain: string;
  /** How the record was reached: `include`, `redirect`, or `root`. */
  via: 'root' | 'include' | 'redirect';
  /** The record text, or undefined when none was found. */
  record?: string;
  /** The DNS-querying terms this record adds to the lookup count. */
  lookups: number;
  children: SpfTreeNode[];
  /** Set when the node was not followed: a loop, a macro, a DNS failure, or no record. */
  note?: string;
}

export interface DmarcWalkReport {
  steps: Array<{ name: string; outcome: 'record' | 'no-record' | 'multiple' | 'dns-error'; note: string }>;
  stop: string;
  organizationalDomain: string;
  organizationalReason: string;
  /** The domain whose record applies, the policy it gives this domain (p, sp, np or the p=none fallback), and the one applied with t=y. */
  policyDomain?: string;
  policy?: 'none' | 'quarantine' | 'reject';
  policyTag?: 'p' | 'sp' | 'np' | 'fallback';
  appliedPolicy?: 'none' | 'quarantine' | 'reject';
}

export interface CheckResult {
  id: CheckId;
  title: string;
  findings: Finding[];
  records: RawRecord[];
  /** The SPF tree, for the SPF check only. */
  spfTree?: SpfTreeNode;
  /** The DMARC policy discovery (RFC 9989 §4.10): each name queried, and why the walk stopped. */
  dmarcWalk?: DmarcWalkReport;
  /** Set when the check was not run (for example the STARTTLS probe without consent). */
  skipped?: string;
}

export interface DomainReport {
  domain: string;
  /** ISO time from the injected clock. */
  checkedAt: string;
  durationMs: number;
  /** The longest chain of DNS queries that each needed the answer of the one before. */
  depth: number;
  queries: number;
  /** True when no DNS query could reach a server at all (timeouts, refused connections). */
  dnsUnreachable: boolean;
  checks: CheckResult[];
}

export function severityRank(s: FindingSeverity): number {
  return s === 'error' ? 3 : s === 'warning' ? 2 : s === 'info' ? 1 : 0;
}

/** The worst severity among findings, or `pass` when there are none. */
export function worstSeverity(findings: readonly Finding[]): FindingSeverity {
  let worst: FindingSeverity = 'pass';
  for (const f of findings) if (severityRank(f.severity) > severityRank(worst)) worst = f.severity;
  return worst;
}

export function countErrors(report: DomainReport): number {
  return report.checks.reduce((n, c) => n + c.findings.filter((f) => f.severity === 'error').length, 0);
}

/** The clock, injected so reports are reproducible in tests. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
