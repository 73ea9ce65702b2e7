/**
 * The TLS-RPT check (RFC 8460 §3): one record at _smtp._tls.<domain> with v=TLSRPTv1 and rua= URIs
 * that are mailto: or https:.
 */
import { type CheckContext, finding, rfc } from './context';
import { describeFailure } from './resolver';
import { getTag, parseTagList } from '../../../common/tagList';
import { uriSyntaxProblem } from './reportUri';
import { intendedRecordProblem, startsWithVersion } from './versionTag';
import { CHECK_TITLES, type CheckResult, type Finding, type RawRecord, type RecordRef, type TextRange } from './types';

export async function checkTlsRpt(ctx: CheckContext): Promise<CheckResult> {
  const findings: Finding[] = [];
  const records: RawRecord[] = [];
  const result: CheckResult = { id: 'tls-rpt', title: CHECK_TITLES['tls-rpt'], findings, records };
  const name = `_smtp._tls.${ctx.domain}`;
  const answer = await ctx.dns.query(name, 'TXT');
  if (answer.status === 'error') {
    findings.push(finding('error', 'tls-rpt-dns-error', `The TXT query for ${name} failed: ${describeFailure(answer)}.`, rfc(8460, '3')));
    return result;
  }
  // §3: records that do not begin with "v=TLSRPTv1" are discarded; exactly one must remain.
  const rpt = answer.data.filter((t) => startsWithVersion(t, 'TLSRPTv1'));
  for (const r of rpt) records.push({ name, type: 'TXT', data: r });
  for (const t of answer.data) {
    const why = intendedRecordProblem(t, 'TLSRPTv1');
    if (why === undefined) continue;
    records.push({ name, type: 'TXT', data: t });
    findings.push(
      finding('error', 'tls-rpt-not-a-record', `The TXT record at ${name} looks like a TLS-RPT record but is not one: ${why}. Senders ignore it${rpt.length === 0 ? ', so they send no TLS reports' : ''}.`, rfc(8460, '3'), {
        name, type: 'TXT', text: t, range: { start: 0, end: t.length },
      }),
    );
  }
  if (rpt.length === 0) {
    findings.push(finding('info', 'tls-rpt-none', `No TLS-RPT record at ${name}; you will get no reports of TLS failures.`, rfc(8460, '3')));
    return result;
  }
  if (rpt.length > 1) {
    findings.push(
      finding('error', 'tls-rpt-multiple', `${name} has ${rpt.length} TLS-RPT records; senders then send no reports.`, rfc(8460, '3'), {
        name, type: 'TXT', text: rpt[1], range: { start: 0, end: rpt[1].length },
      }),
    );
    return result;
  }
  const text = rpt[0];
  const at = (range: TextRange): RecordRef => ({ name, type: 'TXT', text, range });
  const list = parseTagList(text);
  for (const e of list.errors) findings.push(finding('error', 'tls-rpt-syntax', `Syntax error at column ${e.range.start + 1}: ${e.message}.`, rfc(8460, '3'), at(e.range)));
  for (const d of list.duplicates) findings.push(finding('error', 'tls-rpt-syntax', `The field "${d.name}" appears more than once.`, rfc(8460, '3'), at(d.range)));
  const rua = getTag(list, 'rua');
  if (!rua) {
    findings.push(finding('error', 'tls-rpt-no-rua', 'The required rua= field is missing.', rfc(8460, '3'), at({ start: 0, end: text.length })));
    return result;
  }
  let offset = rua.valueRange.start;
  for (const part of rua.value.split(',')) {
    const lead = part.length - part.trimStart().length;
    const uri = part.trim();
    const range = { start: offset + lead, end: offset + lead + uri.length };
    offset += part.length + 1;
    // §3: each tlsrpt-uri is an RFC 3986 URI, with "," and "!" percent-encoded; the WHATWG parser
    // alone would accept (and encode) control characters and spaces.
    const syntax = uriSyntaxProblem(uri) ?? (uri.includes('!') ? { offset: uri.indexOf('!'), message: '"!" must be percent-encoded in a TLS-RPT URI (RFC 8460 §3)' } : undefined);
    if (syntax) {
      findings.push(finding('error', 'tls-rpt-bad-uri', `rua=: "${uri}" is not a valid URI: ${syntax.message}.`, rfc(8460, '3'), at(range)));
      continue;
    }
    let ok = false;
    try {
      const url = new URL(uri);
      ok = (url.protocol === 'mailto:' && /^[^@\s]+@[^@\s]+$/.test(decodeURIComponent(url.pathname))) || (url.protocol === 'https:' && url.hostname !== '');
    } catch {
      ok = false;
    }
    if (!ok) {
      findings.push(finding('error', 'tls-rpt-bad-uri', `rua=: "${uri}" is not a mailto: or https: URI.`, rfc(8460, '3'), at(range)));
    }
  }
  if (findings.length === 0) findings.push(finding('pass', 'tls-rpt-ok', `TLS reports go to ${rua.value}.`, rfc(8460, '3')));
  return result;
}
