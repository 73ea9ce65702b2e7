/**
 * The domain a report is about, and whether it concerns a domain the user is looking at (the Mail
 * DNS view's "Show Reports for This Domain"). Pure: no I/O, no `vscode`.
 */
import type { ParsedReport } from '../../../server/src/reports/open';
import { normalDomain } from '../../../server/src/reports/normalForm';
import { reportForDomains } from './summary';

/** A domain as reports compare it: trimmed, lower case, without a final dot, in A-labels (the one rule, normalForm.ts). */
export const domainKey: (domain: string) => string = normalDomain;

/** The domain a report is about, in the normal form (lower case, no final dot, A-labels): an aggregate report's policy domain (RFC 9990 `policy_published/domain`), a TLS-RPT report's first policy domain (RFC 8460 §4.4 `policy-domain`), a failure report's Reported-Domain (RFC 6591 §3.1). */
export function reportDomain(r: ParsedReport): string {
  const raw = r.kind === 'dmarc-aggregate' ? r.policy.domain : r.kind === 'tls-rpt' ? (r.policies[0]?.policyDomain ?? '') : (r.reportedDomain ?? '');
  return domainKey(raw);
}

/**
 * What of a report concerns a domain the user is looking at, or undefined when nothing does. A
 * report's domain concerns it when it is the domain or under it (reports on `news.example.com`
 * concern `example.com`), or when the domain is under it (an aggregate report on `example.com`
 * covers mail from `news.example.com` through `sp=`, RFC 9989 §4.7). A TLS-RPT report keeps only
 * the policies whose policy domain concerns it (RFC 8460 §4.4; summary.ts `reportForDomains`).
 */
export function reportAboutDomain(r: ParsedReport, domain: string): ParsedReport | undefined {
  const d = domainKey(domain);
  if (d === '') return undefined;
  return reportForDomains(r, (x) => x !== '' && (x === d || x.endsWith(`.${d}`) || d.endsWith(`.${x}`)));
}
