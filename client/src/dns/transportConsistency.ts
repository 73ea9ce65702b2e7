/**
 * Whether MTA-STS (RFC 8461), DANE (RFC 7672) and TLS-RPT (RFC 8460) tell the same story for a
 * domain, and whether a DNSSEC problem would let a sender fall back to unauthenticated TLS without
 * anyone noticing. Pure: it reads what the other checks found.
 */
import { finding, rfc } from './context';
import type { TransportSecurityReport } from './dane';
import type { Finding } from './types';
import { matchesMxPattern, type StsPolicy } from './mtaSts';

export interface CertificateView {
  /** The DNS names the MX host's certificate is valid for (subjectAltName). */
  names: string[];
  /** Problems a PKIX (MTA-STS) sender has with it: untrusted chain, wrong name, expired. */
  problems: string[];
}

export interface ConsistencyInput {
  domain: string;
  /** The MX host names, lower case, without the final dot. */
  mxHosts: string[];
  /** Whether `_mta-sts.<domain>` has a v=STSv1 record. */
  stsRecord: boolean;
  /** The fetched policy, parsed; undefined when none was fetched. */
  stsPolicy?: StsPolicy;
  /** Whether `_smtp._tls.<domain>` has a TLS-RPT record. */
  tlsRpt: boolean;
  transport: TransportSecurityReport;
  /** What the STARTTLS probe saw per MX host; absent without the probe. */
  certificates?: Record<string, CertificateView>;
}


/** Cross-checks MTA-STS, DANE, TLS-RPT and DNSSEC for a domain. */
export function checkTransportConsistency(input: ConsistencyInput): Finding[] {
  const out: Finding[] = [];
  const t = input.transport;
  const mode = input.stsPolicy?.mode?.toLowerCase();
  const patterns = input.stsPolicy?.mx.map((m) => m.value) ?? [];
  const daneHosts = t.mx.filter((m) => m.tlsa.length > 0 && m.tlsaStatus === 'secure').map((m) => m.host);
  const daneUsed = daneHosts.length > 0;
  const stsUsed = input.stsRecord || input.stsPolicy !== undefined;

  if (input.stsPolicy) {
    // The MX set against the patterns is the MTA-STS check's (mta-sts-mx-*, mta-sts-pattern-unused);
    // here the patterns meet the certificates and DANE.
    if (input.certificates) {
      for (const host of input.mxHosts) {
        const cert = input.certificates[host];
        if (!cert) continue;
        // RFC 8461 §4.2: the certificate must be valid for the MX host name and chain to a trusted root.
        const coveredByPattern = cert.names.some((n) => patterns.some((p) => matchesMxPattern(n.replace(/^\*\./, 'x.'), p) || n.toLowerCase() === p.toLowerCase()));
        if (!coveredByPattern && patterns.length > 0) {
          out.push(finding('warning', 'consistency-sts-cert-names', `No name in the certificate of ${host} (${cert.names.join(', ') || 'none'}) matches the MTA-STS mx: patterns (${patterns.join(', ')}).`, rfc(8461, '4.1')));
        }
        if (cert.problems.length > 0) {
          const dane = t.mx.find((m) => m.host === host)?.verdict === 'authenticated';
          out.push(
            finding(
              mode === 'enforce' ? 'error' : 'warning',
              'consistency-sts-cert-fails',
              `The MTA-STS policy is in ${mode ?? 'no'} mode but the certificate of ${host} fails PKIX validation (${cert.problems.join('; ')})${mode === 'enforce' ? `: MTA-STS senders will not deliver to it${dane ? ', although DANE senders will' : ''}` : ''}.`,
              rfc(8461, '4.2'),
            ),
          );
        }
      }
    }
  }

  // DANE on some MX hosts but not others: an attacker who can block the DANE hosts moves mail to the rest.
  const secureNoTlsa = t.mx.filter((m) => m.verdict === 'no-tlsa').map((m) => m.host);
  if (daneUsed && secureNoTlsa.length > 0) {
    out.push(finding('warning', 'consistency-dane-partial', `DANE covers ${daneHosts.join(', ')} but not ${secureNoTlsa.join(', ')}.`, rfc(7672, '2.2')));
  }

  // TLS-RPT tells the domain when senders fail MTA-STS or DANE (RFC 8460 §1).
  if ((stsUsed || daneUsed) && !input.tlsRpt) {
    out.push(finding('warning', 'consistency-tlsrpt-missing', `${[stsUsed ? 'MTA-STS' : '', daneUsed ? 'DANE' : ''].filter(Boolean).join(' and ')} ${stsUsed && daneUsed ? 'are' : 'is'} in use but there is no TLS-RPT record at _smtp._tls.${input.domain}; failures of senders stay unseen.`, rfc(8460, '3')));
  }

  // DNSSEC failures that silently downgrade a sender.
  const insecureTlsa = t.mx.filter((m) => m.verdict === 'tlsa-insecure').map((m) => m.host);
  if (insecureTlsa.length > 0) {
    out.push(finding(mode === 'enforce' ? 'info' : 'warning', 'consistency-dane-silently-off', `TLSA records exist for ${insecureTlsa.join(', ')}, but their zone is not signed, so senders skip DANE without notice and fall back to ${mode === 'enforce' ? 'MTA-STS' : 'unauthenticated TLS'}.`, rfc(7672, '2.2')));
  }
  if (daneUsed && t.mxStatus === 'insecure') {
    out.push(finding('warning', 'consistency-mx-insecure', `The MX records of ${input.domain} are not signed while its MX hosts publish TLSA records: an active attacker can replace the MX set with hosts without DANE (RFC 7672 §2.2.1).`, rfc(7672, '2.2.1')));
  }
  if (t.mxStatus === 'bogus' || t.mx.some((m) => m.verdict === 'tlsa-bogus')) {
    out.push(finding('error', 'consistency-dnssec-bogus', `DNSSEC validation fails for ${t.mxStatus === 'bogus' ? `the MX records of ${input.domain}` : t.mx.filter((m) => m.verdict === 'tlsa-bogus').map((m) => m.host).join(', ')}: validating senders defer mail, while senders that do not validate deliver without any DANE protection.`, rfc(7672, '2.1.1')));
  }
  if (t.resolver.validates === 'no') {
    out.push(finding('warning', 'consistency-resolver-not-validating', `The resolver used for this report (${t.resolver.server}) does not validate, so DANE results are not what validating senders see.`, rfc(7672, '2.1')));
  }
  if (daneUsed && mode === 'enforce') {
    out.push(finding('info', 'consistency-dane-and-sts', 'DANE and MTA-STS (enforce) are both published; senders that support DANE use it and ignore MTA-STS (RFC 8461 §2), so both must stay valid.', rfc(8461, '2')));
  }
  // "Opportunistic only" is a claim about what senders see, so it is made only when it is known: the
  // resolver validates, the MX set is not bogus or unknown, and every MX host is known to have no
  // DANE (no TLSA, or TLSA senders ignore). A bogus or failed TLSA lookup makes DANE senders skip or
  // defer the host (RFC 7672 §2.1.1), and TLSA behind a resolver of unknown validation may protect
  // it: neither is opportunistic TLS.
  const knownWithoutDane =
    t.resolver.validates === 'yes' && (t.mxStatus === 'secure' || t.mxStatus === 'insecure') && t.mx.every((m) => m.verdict === 'no-tlsa' || m.verdict === 'tlsa-insecure' || m.verdict === 'host-insecure');
  if (!daneUsed && knownWithoutDane && mode !== 'enforce' && input.mxHosts.length > 0) {
    out.push(finding('info', 'consistency-opportunistic-only', `Neither DANE nor an enforcing MTA-STS policy protects mail to ${input.domain}: senders use TLS opportunistically, and an active attacker can strip it.`, rfc(8461, '1')));
  }
  return out;
}
