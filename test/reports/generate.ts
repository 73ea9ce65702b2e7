/**
 * The generator of report fixtures: DMARC aggregate reports in the RFC 9990 and RFC 7489 formats,
 * TLS-RPT reports (RFC 8460 §4.4), DMARC failure reports (RFC 9991 / RFC 5965 / RFC 6591), the
 * containers they travel in (gzip, zip, a mail to a rua= address), and hostile variants. Every
 * fixture is deterministic for a seed. The aggregate fixtures are checked with `xmllint --schema`
 * against test/reports/schemas/ (generated.test.ts).
 */
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { prng } from '../support/prng';

export interface RecordSpec {
  sourceIp: string;
  count: number;
  disposition: 'none' | 'quarantine' | 'reject';
  dkim: 'pass' | 'fail';
  spf: 'pass' | 'fail';
  headerFrom: string;
  envelopeFrom: string;
  dkimDomain?: string;
  dkimSelector?: string;
  dkimResult?: string;
  spfDomain: string;
  spfResult: string;
  reason?: string;
}

export interface AggregateSpec {
  format: 'rfc9990' | 'rfc7489';
  orgName: string;
  email: string;
  reportId: string;
  begin: number;
  end: number;
  domain: string;
  p: 'none' | 'quarantine' | 'reject';
  sp?: 'none' | 'quarantine' | 'reject';
  adkim?: 'r' | 's';
  aspf?: 'r' | 's';
  testing?: 'n' | 'y';
  records: RecordSpec[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Writes an aggregate report as its format's XML. */
export function aggregateXml(spec: AggregateSpec): string {
  const v9990 = spec.format === 'rfc9990';
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(v9990 ? '<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">' : '<feedback>');
  out.push('  <version>1.0</version>');
  out.push('  <report_metadata>');
  out.push(`    <org_name>${esc(spec.orgName)}</org_name>`);
  out.push(`    <email>${esc(spec.email)}</email>`);
  out.push(`    <report_id>${esc(spec.reportId)}</report_id>`);
  out.push(`    <date_range><begin>${spec.begin}</begin><end>${spec.end}</end></date_range>`);
  if (v9990) out.push('    <generator>smtp-workbench fixture generator</generator>');
  out.push('  </report_metadata>');
  out.push('  <policy_published>');
  out.push(`    <domain>${esc(spec.domain)}</domain>`);
  if (v9990) out.push('    <discovery_method>treewalk</discovery_method>');
  out.push(`    <adkim>${spec.adkim ?? 'r'}</adkim>`);
  out.push(`    <aspf>${spec.aspf ?? 'r'}</aspf>`);
  out.push(`    <p>${spec.p}</p>`);
  out.push(`    <sp>${spec.sp ?? spec.p}</sp>`);
  if (v9990) {
    out.push(`    <np>${spec.sp ?? spec.p}</np>`);
    out.push(`    <testing>${spec.testing ?? 'n'}</testing>`);
  } else {
    out.push('    <pct>100</pct>');
  }
  out.push('    <fo>0</fo>');
  out.push('  </policy_published>');
  for (const r of spec.records) {
    out.push('  <record>');
    out.push('    <row>');
    out.push(`      <source_ip>${r.sourceIp}</source_ip>`);
    out.push(`      <count>${r.count}</count>`);
    out.push('      <policy_evaluated>');
    out.push(`        <disposition>${r.disposition}</disposition>`);
    out.push(`        <dkim>${r.dkim}</dkim>`);
    out.push(`        <spf>${r.spf}</spf>`);
    if (r.reason) out.push(`        <reason><type>${r.reason}</type><comment>generated</comment></reason>`);
    out.push('      </policy_evaluated>');
    out.push('    </row>');
    out.push('    <identifiers>');
    if (v9990) out.push(`      <envelope_to>${esc(spec.email.replace(/^.*@/, ''))}</envelope_to>`);
    out.push(`      <envelope_from>${esc(r.envelopeFrom)}</envelope_from>`);
    out.push(`      <header_from>${esc(r.headerFrom)}</header_from>`);
    out.push('    </identifiers>');
    out.push('    <auth_results>');
    if (r.dkimDomain) {
      out.push('      <dkim>');
      out.push(`        <domain>${esc(r.dkimDomain)}</domain>`);
      out.push(`        <selector>${esc(r.dkimSelector ?? 'sel1')}</selector>`);
      out.push(`        <result>${r.dkimResult ?? r.dkim}</result>`);
      out.push('      </dkim>');
    }
    out.push('      <spf>');
    out.push(`        <domain>${esc(r.spfDomain)}</domain>`);
    out.push('        <scope>mfrom</scope>');
    out.push(`        <result>${r.spfResult}</result>`);
    out.push('      </spf>');
    out.push('    </auth_results>');
    out.push('  </record>');
  }
  out.push('</feedback>');
  return out.join('\n') + '\n';
}

/** A random but plausible aggregate report for a domain. */
export function randomAggregate(seed: number, format: AggregateSpec['format'], domain = 'example.com'): AggregateSpec {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const begin = 1767225600 + Math.floor(rnd() * 30) * 86400; // from 2026-01-01
  const records: RecordSpec[] = [];
  const n = 1 + Math.floor(rnd() * 6);
  for (let i = 0; i < n; i++) {
    const dkim = rnd() < 0.8 ? 'pass' : 'fail';
    const spf = rnd() < 0.7 ? 'pass' : 'fail';
    const pass = dkim === 'pass' || spf === 'pass';
    const ip = rnd() < 0.1 ? `2001:db8:0:0:0:0:0:${(1 + Math.floor(rnd() * 200)).toString(16)}` : `192.0.2.${1 + Math.floor(rnd() * 50)}`;
    records.push({
      sourceIp: ip,
      count: 1 + Math.floor(rnd() * 200),
      disposition: pass ? 'none' : pick(['none', 'quarantine', 'reject'] as const),
      dkim,
      spf,
      headerFrom: rnd() < 0.2 ? `news.${domain}` : domain,
      envelopeFrom: spf === 'pass' ? `bounce.${domain}` : 'mailer.example.net',
      dkimDomain: rnd() < 0.9 ? (dkim === 'pass' ? domain : 'esp.example.net') : undefined,
      dkimSelector: pick(['sel1', 's2026', 'google']),
      dkimResult: dkim,
      spfDomain: spf === 'pass' ? `bounce.${domain}` : 'mailer.example.net',
      spfResult: spf === 'pass' ? 'pass' : pick(['fail', 'softfail', 'none', 'neutral']),
      reason: !pass && rnd() < 0.3 ? pick(['mailing_list', 'local_policy', 'trusted_forwarder']) : undefined,
    });
  }
  return {
    format,
    orgName: pick(['google.com', 'Yahoo', 'Mail.Ru', 'Outlook.com', 'fixture receiver']),
    email: 'noreply-dmarc-support@receiver.example',
    reportId: `${seed}.${Math.floor(rnd() * 1e9)}`,
    begin,
    end: begin + 86399,
    domain,
    p: pick(['none', 'quarantine', 'reject'] as const),
    records,
  };
}

/** The expected counts of a spec, for checking the summary. */
export function expectedCounts(specs: AggregateSpec[]): { messages: number; dmarcPass: number; dkimAligned: number; spfAligned: number } {
  const c = { messages: 0, dmarcPass: 0, dkimAligned: 0, spfAligned: 0 };
  for (const s of specs)
    for (const r of s.records) {
      c.messages += r.count;
      if (r.dkim === 'pass') c.dkimAligned += r.count;
      if (r.spf === 'pass') c.spfAligned += r.count;
      if (r.dkim === 'pass' || r.spf === 'pass') c.dmarcPass += r.count;
    }
  return c;
}

/** The RFC 7489 §7.2.1.1 file name (kept by RFC 9990), without the extension. */
export function reportFileName(receiver: string, domain: string, begin: number, end: number, id?: string): string {
  return [receiver, domain, String(begin), String(end), ...(id ? [id] : [])].join('!');
}

/** A zip archive holding files (stored with deflate), as a report archive is sent. */
export function zipFiles(files: Array<{ name: string; data: Buffer; store?: boolean }>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf8');
    const body = f.store ? f.data : deflateRawSync(f.data);
    const crc = crc32(f.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(f.store ? 0 : 8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(f.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(f.store ? 0 : 8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(f.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export const gzip = (data: string | Buffer): Buffer => gzipSync(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);

export interface TlsRptSpec {
  organizationName: string;
  reportId: string;
  policyDomain: string;
  policyType: 'sts' | 'tlsa' | 'no-policy-found';
  successful: number;
  failures: Array<{ resultType: string; mx: string; ip: string; count: number }>;
}

/** A TLS-RPT report as RFC 8460 §4.4 lays it out. */
export function tlsRptJson(spec: TlsRptSpec): string {
  const policy: Record<string, unknown> = { 'policy-type': spec.policyType, 'policy-domain': spec.policyDomain };
  if (spec.policyType === 'sts') {
    policy['policy-string'] = ['version: STSv1', 'mode: enforce', `mx: mx1.${spec.policyDomain}`, `mx: mx2.${spec.policyDomain}`, 'max_age: 86400'];
    policy['mx-host'] = [`mx1.${spec.policyDomain}`, `mx2.${spec.policyDomain}`];
  } else if (spec.policyType === 'tlsa') {
    policy['policy-string'] = ['3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'];
  }
  return (
    JSON.stringify(
      {
        'organization-name': spec.organizationName,
        'date-range': { 'start-datetime': '2026-01-01T00:00:00Z', 'end-datetime': '2026-01-01T23:59:59Z' },
        'contact-info': 'smtp-tls-reporting@receiver.example',
        'report-id': spec.reportId,
        policies: [
          {
            policy,
            summary: { 'total-successful-session-count': spec.successful, 'total-failure-session-count': spec.failures.reduce((n, f) => n + f.count, 0) },
            'failure-details': spec.failures.map((f) => ({ 'result-type': f.resultType, 'sending-mta-ip': f.ip, 'receiving-mx-hostname': f.mx, 'failed-session-count': f.count })),
          },
        ],
      },
      null,
      2,
    ) + '\n'
  );
}

export interface FailureSpec {
  reportedDomain: string;
  originalFromDomain: string;
  sourceIp: string;
  authFailure: string;
  omit?: string[];
}

/** A DMARC failure report (RFC 9991): multipart/report with an ARF part (RFC 5965, RFC 6591). */
export function failureReportEml(spec: FailureSpec): string {
  const b = 'fixture-boundary-1';
  const fields = [
    'Feedback-Type: auth-failure',
    'User-Agent: fixture-generator/1.0',
    'Version: 1',
    `Original-Mail-From: <bounce@${spec.originalFromDomain}>`,
    'Arrival-Date: Thu, 01 Jan 2026 12:00:00 +0000',
    `Source-IP: ${spec.sourceIp}`,
    `Reported-Domain: ${spec.reportedDomain}`,
    `Auth-Failure: ${spec.authFailure}`,
    'Identity-Alignment: dkim',
  ].filter((f) => !(spec.omit ?? []).includes(f.split(':')[0].toLowerCase()));
  return [
    'From: dmarc-failure@receiver.example',
    'To: ruf@example.com',
    `Subject: FW: DMARC failure report for ${spec.reportedDomain}`,
    'Date: Thu, 01 Jan 2026 12:05:00 +0000',
    'Message-ID: <failure-1@receiver.example>',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=feedback-report; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is an authentication failure report for a message from your domain.',
    '',
    `--${b}`,
    'Content-Type: message/feedback-report',
    '',
    ...fields,
    '',
    `--${b}`,
    'Content-Type: text/rfc822-headers',
    '',
    `From: Someone <someone@${spec.originalFromDomain}>`,
    'To: user@receiver.example',
    'Subject: the original message',
    'Date: Thu, 01 Jan 2026 11:59:00 +0000',
    '',
    `--${b}--`,
    '',
  ].join('\r\n');
}

/** A mail as a receiver sends an aggregate report to a rua= address (RFC 9990: gzip attachment). */
export function aggregateReportMail(spec: AggregateSpec, subjectDomain = spec.domain): string {
  const name = `${reportFileName(spec.orgName.replace(/\s+/g, '-'), spec.domain, spec.begin, spec.end)}.xml.gz`;
  const b64 = gzip(aggregateXml(spec)).toString('base64').replace(/.{76}/g, '$&\r\n');
  const b = 'agg-boundary-1';
  return [
    'From: noreply-dmarc-support@receiver.example',
    'To: rua@example.com',
    `Subject: Report Domain: ${subjectDomain} Submitter: ${spec.orgName} Report-ID: <${spec.reportId}>`,
    'Date: Thu, 01 Jan 2026 12:05:00 +0000',
    `Message-ID: <agg-${spec.reportId}@receiver.example>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain',
    '',
    `This is an aggregate report from ${spec.orgName}.`,
    `--${b}`,
    `Content-Type: application/gzip; name="${name}"`,
    `Content-Disposition: attachment; filename="${name}"`,
    'Content-Transfer-Encoding: base64',
    '',
    b64,
    `--${b}--`,
    '',
  ].join('\r\n');
}
