/**
 * Turns the DNSSEC, DANE and consistency results into report groups shaped like the other checks'
 * (`id`, `title`, `findings`, `records`), so the CLI, `--json`, `--markdown` and the sidebar show
 * them like any other check, and reads what the consistency check needs from the other checks.
 */
import { checkTransportSecurity, type TransportSecurityOptions, type TransportSecurityReport } from './dane';
import { parseStsPolicy } from './mtaSts';
import { checkTransportConsistency, type CertificateView } from './transportConsistency';
import { CHECK_TITLES, type CheckId, type CheckResult } from './types';

export type TransportCheckId = Extract<CheckId, 'dnssec' | 'dane' | 'transport'>;

/** A transport group is an ordinary check result. */
export type TransportCheckResult = CheckResult & { id: TransportCheckId };

/** What the consistency check reads from the MTA-STS, TLS-RPT and STARTTLS checks' results. */
export function consistencyInputsFromChecks(checks: readonly CheckResult[]): { stsRecord: boolean; stsPolicy?: ReturnType<typeof parseStsPolicy>; tlsRpt: boolean; certificates?: Record<string, CertificateView> } {
  const sts = checks.find((c) => c.id === 'mta-sts');
  const rpt = checks.find((c) => c.id === 'tls-rpt');
  const starttls = checks.find((c) => c.id === 'starttls');
  const body = sts?.records.find((r) => r.type === 'HTTPS')?.data;
  const stsRecord = sts?.records.some((r) => r.type === 'TXT') ?? false;
  const tlsRpt = rpt?.records.some((r) => r.type === 'TXT') ?? false;
  let certificates: Record<string, CertificateView> | undefined;
  if (starttls && !starttls.skipped) {
    certificates = {};
    for (const r of starttls.records) {
      // The STARTTLS check's record reads "...; SAN DNS:a, DNS:b; valid ..." (see starttls.ts).
      const san = /; SAN ([^;]*);/.exec(r.data)?.[1] ?? '';
      const names = san.split(/,\s*/).filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4).toLowerCase());
      const problems = starttls.findings
        .filter((f) => f.record?.name === r.name && ['starttls-cert-untrusted', 'starttls-cert-name', 'starttls-cert-expired'].includes(f.code))
        .map((f) => f.code.replace('starttls-cert-', ''));
      certificates[r.name.toLowerCase().replace(/\.$/, '')] = { names, problems };
    }
  }
  return body !== undefined ? { stsRecord, stsPolicy: parseStsPolicy(body), tlsRpt, certificates } : { stsRecord, tlsRpt, certificates };
}

/** Builds the three groups from a transport report and the other checks. */
export function transportCheckResults(report: TransportSecurityReport, otherChecks: readonly CheckResult[]): TransportCheckResult[] {
  const dnssecRecords = report.records.filter((r) => r.type !== 'TLSA');
  const daneRecords = report.records.filter((r) => r.type === 'TLSA');
  const consistency = checkTransportConsistency({
    domain: report.domain,
    mxHosts: report.mx.map((m) => m.host),
    transport: report,
    ...consistencyInputsFromChecks(otherChecks),
  });
  return [
    { id: 'dnssec', title: CHECK_TITLES.dnssec, findings: report.dnssecFindings, records: dnssecRecords },
    { id: 'dane', title: CHECK_TITLES.dane, findings: report.daneFindings, records: daneRecords, ...(report.mx.length === 0 ? { skipped: 'The domain has no MX hosts.' } : {}) },
    { id: 'transport', title: CHECK_TITLES.transport, findings: consistency, records: [] },
  ];
}

/** Runs the DNSSEC and DANE checks and the consistency check against the other checks' results. */
export async function runTransportChecks(options: TransportSecurityOptions, otherChecks: Promise<readonly CheckResult[]>): Promise<TransportCheckResult[]> {
  const [report, others] = await Promise.all([checkTransportSecurity(options), otherChecks]);
  return transportCheckResults(report, others);
}
