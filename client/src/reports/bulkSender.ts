/**
 * The bulk-sender check: a message against the requirements Gmail and Yahoo set for bulk senders
 * from February 2024, each built on a standard:
 *
 * - SPF and DKIM both pass (RFC 7208, RFC 6376);
 * - a DMARC record applies, published at the organizational domain (RFC 9989);
 * - the From domain aligns with a passing DKIM d= or the SPF domain (RFC 9989 identifier alignment);
 * - `List-Unsubscribe` with an https URI, optionally a mailto one (RFC 2369 §3.2, RFC 8058 §3.1);
 * - `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058 §3.1);
 * - both fields covered by a passing DKIM signature's h= tag (RFC 8058 §4);
 * - when the transport is known (capture server, a `.smtp` run): TLS was used and the client IP has
 *   forward-confirmed reverse DNS.
 *
 * Each requirement is one result with a status (pass, fail, or unknown when the input cannot tell),
 * a stable code, the range of the header field it concerns, and a link to its source. Pure: it
 * takes the message and the verification report (mailAuth/verify.ts) and decides nothing by DNS.
 * Verifying the message as it was sent and looking up the transport facts is reports/bulkCheck.ts,
 * which every front end calls.
 */
import type { Problem, Severity } from '../../../common/problem';
import { rfcLink } from '../../../common/problem';
import type { AuthReport } from '../mailAuth/verify';
import {
  GMAIL_SENDER_GUIDELINES,
  messageHeaderFields,
  unsubscribeRequirements,
  type BulkRequirement,
  type BulkStatus,
  type HeaderField,
} from '../../../server/src/reports/bulkHeaders';

// The types, the header parsing and the unsubscribe requirements have one home, shared with the
// language server's .eml linter (server/src/reports/bulkHeaders.ts).
export { GMAIL_SENDER_GUIDELINES, YAHOO_SENDER_REQUIREMENTS, listUnsubscribeUris, type BulkRequirement, type BulkStatus } from '../../../server/src/reports/bulkHeaders';

/** What is known about how the message arrived (from the capture server or a `.smtp` run). */
export interface BulkTransport {
  tls?: boolean;
  clientIp?: string;
  /** Forward-confirmed reverse DNS of the client IP: the PTR name and whether it resolves back. */
  fcrdns?: { ptr?: string; confirmed: boolean };
}

function within(name: string, domain: string): boolean {
  return name === domain || name.endsWith('.' + domain);
}

/** The domain of the From field's single address, lower-cased. */
function fromDomainOf(report: AuthReport, fields: HeaderField[]): string | undefined {
  const address = report.headerFrom[0] ?? /<?([^<>\s]+@[^<>\s]+)>?\s*$/.exec(fields.find((f) => f.name === 'from')?.value ?? '')?.[1];
  if (!address) return undefined;
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase().replace(/>$/, '');
}

/** Checks a message (raw bytes) and its verification report against the bulk-sender requirements. */
export function checkBulkSender(message: Buffer, report: AuthReport, transport: BulkTransport = {}): BulkRequirement[] {
  const text = message.toString('latin1');
  const fields = messageHeaderFields(text);
  const field = (name: string): HeaderField | undefined => fields.find((f) => f.name === name);
  const whole = { start: 0, end: Math.min(text.length, 1) };
  const at = (f: HeaderField | undefined): { start: number; end: number } => (f ? { start: f.start, end: f.end } : whole);
  const out: BulkRequirement[] = [];
  const add = (r: Omit<BulkRequirement, 'severity'> & { severity?: Severity }): void => {
    out.push({ ...r, severity: r.severity ?? (r.status === 'fail' ? 'error' : r.status === 'unknown' ? 'info' : 'info') });
  };
  const from = field('from');
  const fromDomain = fromDomainOf(report, fields);
  const orgDomain = (report.dmarc.details['organizational domain'] ?? '').split(' ')[0].toLowerCase() || undefined;

  // SPF and DKIM.
  add({
    code: 'bulk-spf',
    status: report.spf.result === 'pass' ? 'pass' : report.smtp.ip === undefined ? 'unknown' : 'fail',
    title: 'SPF passes',
    message: report.spf.result === 'pass' ? `SPF passes for ${report.spf.details.domain ?? 'the MAIL FROM domain'}` : `SPF is ${report.spf.result}${report.spf.reason ? ` (${report.spf.reason})` : ''}; bulk senders must pass SPF`,
    link: GMAIL_SENDER_GUIDELINES,
    range: at(field('return-path') ?? field('received')),
  });
  const passing = report.dkim.filter((d) => d.result === 'pass');
  add({
    code: 'bulk-dkim',
    status: passing.length > 0 ? 'pass' : 'fail',
    title: 'DKIM passes',
    message: passing.length > 0 ? `DKIM passes for ${passing.map((d) => `d=${d.domain ?? '?'}`).join(', ')}` : report.dkim.length === 0 ? 'the message has no DKIM signature; bulk senders must sign' : 'no DKIM signature passes',
    link: GMAIL_SENDER_GUIDELINES,
    range: at(field('dkim-signature')),
  });

  // DMARC at the organizational domain.
  const record = report.dmarc.details['DMARC record'];
  const policyDomain = report.dmarc.details['policy domain']?.toLowerCase();
  let dmarcStatus: BulkStatus;
  let dmarcMessage: string;
  if (!record) {
    dmarcStatus = 'fail';
    dmarcMessage = `no DMARC record applies to ${fromDomain ?? 'the From domain'}; publish one (p=none at least) at ${orgDomain ?? 'the organizational domain'}`;
  } else if (orgDomain && policyDomain && policyDomain !== orgDomain) {
    dmarcStatus = 'unknown';
    dmarcMessage = `the DMARC record that applies is at ${policyDomain}, not at the organizational domain ${orgDomain}; Gmail and Yahoo ask for one at the organizational domain`;
  } else {
    dmarcStatus = 'pass';
    dmarcMessage = `a DMARC record is published at ${policyDomain ?? orgDomain ?? fromDomain}: ${record}`;
  }
  add({ code: 'bulk-dmarc-record', status: dmarcStatus, severity: dmarcStatus === 'unknown' ? 'warning' : undefined, title: 'DMARC is published', message: dmarcMessage, link: rfcLink(9989), range: at(from) });

  // From alignment (relaxed: the same organizational domain, RFC 9989).
  const aligns = (d: string | undefined): boolean => {
    if (!d || !fromDomain) return false;
    const x = d.toLowerCase();
    if (x === fromDomain) return true;
    return orgDomain !== undefined && within(x, orgDomain) && within(fromDomain, orgDomain);
  };
  const dkimAligned = passing.find((d) => aligns(d.domain));
  const spfDomain = report.spf.result === 'pass' ? report.spf.details.domain : undefined;
  const spfAligned = aligns(spfDomain);
  // With a DMARC record, DMARC's own verdict decides (an aligned identifier passed under the
  // published adkim/aspf modes); without one, the relaxed comparison above decides.
  const dmarcPass = report.dmarc.result === 'pass';
  add({
    code: 'bulk-from-alignment',
    status: !fromDomain ? 'fail' : (record ? dmarcPass : Boolean(dkimAligned) || spfAligned) ? 'pass' : 'fail',
    title: 'The From domain is aligned',
    message: !fromDomain
      ? 'the message has no single From domain'
      : record && dmarcPass
        ? `DMARC passes for the From domain ${fromDomain}: an identifier is aligned (${report.dmarc.info})`
        : record
        ? `DMARC fails for the From domain ${fromDomain}: no passing identifier is aligned under the published adkim/aspf (${report.dmarc.info})`
        : dkimAligned
        ? `the From domain ${fromDomain} aligns with the passing DKIM d=${dkimAligned.domain}`
        : spfAligned
          ? `the From domain ${fromDomain} aligns with the SPF domain ${spfDomain}`
          : `the From domain ${fromDomain} aligns with neither a passing DKIM d= (${passing.map((d) => d.domain).join(', ') || 'none'}) nor the SPF domain (${spfDomain ?? 'none passing'})`,
    link: rfcLink(9989),
    range: at(from),
  });

  // One-click unsubscribe (RFC 8058): a signature counts as covering when it verified.
  out.push(
    ...unsubscribeRequirements(text, fields, (d, sel) => passing.some((p) => (p.domain ?? '').toLowerCase() === d && (p.selector === undefined || p.selector.toLowerCase() === sel))),
  );

  // Transport: TLS and forward-confirmed reverse DNS, when known.
  add({
    code: 'bulk-tls',
    status: transport.tls === undefined ? 'unknown' : transport.tls ? 'pass' : 'fail',
    title: 'TLS was used',
    message: transport.tls === undefined ? 'how the message was sent is not known (check it through the capture server or a .smtp run)' : transport.tls ? 'the message was sent over TLS' : 'the message was sent without TLS',
    link: GMAIL_SENDER_GUIDELINES,
    range: at(field('received')),
  });
  const fc = transport.fcrdns;
  add({
    code: 'bulk-fcrdns',
    status: fc === undefined ? 'unknown' : fc.confirmed ? 'pass' : 'fail',
    title: 'The sending IP has forward-confirmed reverse DNS',
    message:
      fc === undefined
        ? 'the sending IP and its reverse DNS are not known'
        : fc.confirmed
          ? `${transport.clientIp ?? 'the sending IP'} has reverse DNS ${fc.ptr ?? ''} that resolves back to it`
          : `${transport.clientIp ?? 'the sending IP'} has ${fc.ptr ? `reverse DNS ${fc.ptr}, which does not resolve back to it` : 'no reverse DNS'}`,
    link: GMAIL_SENDER_GUIDELINES,
    range: at(field('received')),
  });
  return out;
}

/** The requirements that do not pass, as problems (for the .eml linter). */
export function bulkProblems(results: readonly BulkRequirement[]): Problem[] {
  return results.filter((r) => r.status !== 'pass').map((r) => ({ code: r.code, severity: r.severity, message: r.message, range: r.range }));
}
