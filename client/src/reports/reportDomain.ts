/**
 * The domain a report is about, and whether it concerns a domain the user is looking at (the Mail
 * DNS view's "Show Reports for This Domain"). Pure: no I/O, no `vscode`.
 */
import type { ParsedReport } from '../../../server/src/reports/open';

/** The domain a report is about, lower case without a final dot: an aggregate report's policy domain (RFC 9990 `policy_published/domain`), a TLS-RPT report's first policy domain (RFC 8460 §4.4 `policy-domain`), a failure report's Reported-Domain (RFC 6591 §3.1). */
export function reportDomain(r: ParsedReport): string {
  const raw = r.kind === 'dmarc-aggregate' ? r.policy.domain : r.kind === 'tls-rpt' ? (r.policies[0]?.policyDomain ?? '') : (r.reportedDomain ?? '');
  return raw.trim().toLowerCase().replace(/\.$/, '');
}

/**
 * True when the report concerns the domain: its domain is the domain or under it (reports on
 * `news.example.com` concern `example.com`), or the domain is under the report's domain (an
 * aggregate report on `example.com` covers mail from `news.example.com` through `sp=`, RFC 9989 §4.7).
 * A TLS-RPT report concerns every policy domain it lists.
 */
export function reportConcernsDomain(r: ParsedReport, domain: string): boolean {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  if (d === '') return false;
  const related = (x: string): boolean => x !== '' && (x === d || x.endsWith(`.${d}`) || d.endsWith(`.${x}`));
  if (r.kind === 'tls-rpt') return r.policies.some((p) => related((p.policyDomain ?? '').toLowerCase().replace(/\.$/, '')));
  return related(reportDomain(r));
}
