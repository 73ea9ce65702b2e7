/**
 * The MTA-STS check (RFC 8461): the _mta-sts TXT record, the policy fetched over HTTPS with a verified
 * certificate, and every MX host matched against the policy's patterns.
 */
import { type CheckContext, finding, rfc } from './context';
import type { MxOutcome } from './mx';
import { describeFailure } from './resolver';
import { getTag, parseTagList } from '../../../common/tagList';
import { intendedRecordProblem, startsWithVersion } from './versionTag';
import { CHECK_TITLES, type CheckResult, type Finding, type RawRecord, type RecordRef, type TextRange } from './types';

export interface StsPolicyField {
  key: string;
  value: string;
  range: TextRange;
  valueRange: TextRange;
}

export interface StsPolicy {
  fields: StsPolicyField[];
  version?: string;
  mode?: string;
  maxAge?: number;
  mx: StsPolicyField[];
  errors: Array<{ message: string; range: TextRange }>;
}

/** Parses a policy body (RFC 8461 §3.2): one "key: value" per line, lines ending in LF or CRLF. */
export function parseStsPolicy(body: string): StsPolicy {
  const policy: StsPolicy = { fields: [], mx: [], errors: [] };
  let offset = 0;
  for (const rawLine of body.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    const start = offset;
    offset += rawLine.length + 1;
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      policy.errors.push({ message: `"${line}" is not a "key: value" line`, range: { start, end: start + line.length } });
      continue;
    }
    const key = line.slice(0, colon);
    const rest = line.slice(colon + 1);
    const lead = rest.length - rest.replace(/^[ \t]+/, '').length;
    const value = rest.trim();
    const valueStart = start + colon + 1 + lead;
    const field: StsPolicyField = { key, value, range: { start, end: start + line.length }, valueRange: { start: valueStart, end: valueStart + value.length } };
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(key)) policy.errors.push({ message: `"${key}" is not a valid field name`, range: { start, end: start + colon } });
    policy.fields.push(field);
    const k = key.toLowerCase();
    if (k === 'mx') policy.mx.push(field);
    else if (policy.fields.filter((f) => f.key.toLowerCase() === k).length > 1) {
      policy.errors.push({ message: `the field "${key}" appears more than once`, range: field.range });
    } else if (k === 'version') policy.version = value;
    else if (k === 'mode') policy.mode = value;
    else if (k === 'max_age') {
      if (/^\d{1,10}$/.test(value)) policy.maxAge = Number(value);
      else policy.errors.push({ message: `max_age "${value}" is not a number of seconds`, range: field.valueRange });
    }
  }
  return policy;
}

/**
 * Whether an MX host matches a policy pattern (RFC 8461 §4.1): an exact name, or "*." and a suffix,
 * where the wildcard stands for exactly one label.
 */
export function matchesMxPattern(host: string, pattern: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  const p = pattern.toLowerCase().replace(/\.$/, '');
  if (p.startsWith('*.')) {
    const suffix = p.slice(1);
    if (!h.endsWith(suffix)) return false;
    const label = h.slice(0, h.length - suffix.length);
    return label.length > 0 && !label.includes('.');
  }
  return h === p;
}

/**
 * Why an mx: pattern is invalid, or undefined when it is valid (RFC 8461 §3.2 and §4.1): a domain
 * name, or "*." and a domain name, where the wildcard is the whole leftmost label and stands for one
 * label; a "*" anywhere else (mx.*.example.com, *mx.example.com) or an empty label is not allowed.
 */
export function mxPatternProblem(pattern: string): string | undefined {
  const name = pattern.startsWith('*.') ? pattern.slice(2) : pattern;
  if (name.includes('*')) return 'a wildcard is allowed only as the whole leftmost label, "*." followed by a domain name';
  const labels = name.replace(/\.$/, '').split('.');
  if (name === '' || labels.some((l) => l === '')) return 'it has an empty label';
  const bad = labels.find((l) => !/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
  if (bad !== undefined) return `"${bad}" is not a valid host name label`;
  return undefined;
}

/** Runs the MTA-STS check. */
export async function checkMtaSts(ctx: CheckContext, mxPromise: Promise<MxOutcome>): Promise<CheckResult> {
  const findings: Finding[] = [];
  const records: RawRecord[] = [];
  const result: CheckResult = { id: 'mta-sts', title: CHECK_TITLES['mta-sts'], findings, records };
  const txtName = `_mta-sts.${ctx.domain}`;
  const policyHost = `mta-sts.${ctx.domain}`;
  // The TXT record and the policy host's addresses are independent, so they are asked for together.
  const txtP = ctx.dns.query(txtName, 'TXT');
  const aP = ctx.fetcher ? ctx.dns.query(policyHost, 'A') : undefined;
  const aaaaP = ctx.fetcher ? ctx.dns.query(policyHost, 'AAAA') : undefined;
  const txt = await txtP;
  if (txt.status === 'error') {
    findings.push(finding('error', 'mta-sts-dns-error', `The TXT query for ${txtName} failed: ${describeFailure(txt)}.`, rfc(8461, '3.1')));
    return result;
  }
  const sts = txt.data.filter((t) => startsWithVersion(t, 'STSv1'));
  for (const r of sts) records.push({ name: txtName, type: 'TXT', data: r });
  // RFC 8461 §3.1: a record meant for MTA-STS that does not begin with "v=STSv1;" is discarded.
  for (const t of txt.data) {
    const why = intendedRecordProblem(t, 'STSv1');
    if (why === undefined) continue;
    records.push({ name: txtName, type: 'TXT', data: t });
    findings.push(
      finding('error', 'mta-sts-not-a-record', `The TXT record at ${txtName} looks like an MTA-STS record but is not one: ${why}. Senders ignore it${sts.length === 0 ? ', so the domain has no MTA-STS policy' : ''}.`, rfc(8461, '3.1'), {
        name: txtName, type: 'TXT', text: t, range: { start: 0, end: t.length },
      }),
    );
  }
  if (sts.length === 0) {
    findings.push(finding('info', 'mta-sts-none', `No MTA-STS record at ${txtName}; senders cannot require TLS for this domain.`, rfc(8461, '3.1')));
    return result;
  }
  if (sts.length > 1) {
    findings.push(
      finding('error', 'mta-sts-multiple', `${txtName} has ${sts.length} records starting with v=STSv1; senders then treat the domain as having no policy.`, rfc(8461, '3.1'), {
        name: txtName, type: 'TXT', text: sts[1], range: { start: 0, end: sts[1].length },
      }),
    );
    return result;
  }
  const text = sts[0];
  const at = (range: TextRange): RecordRef => ({ name: txtName, type: 'TXT', text, range });
  const list = parseTagList(text);
  for (const e of list.errors) findings.push(finding('error', 'mta-sts-syntax', `Syntax error at column ${e.range.start + 1}: ${e.message}.`, rfc(8461, '3.1'), at(e.range)));
  // RFC 8461 §3.1: the record has one id= field; with two, senders cannot tell whether the policy
  // changed (each may read another one), so a policy update can go unnoticed.
  for (const d of list.duplicates) {
    findings.push(
      d.name === 'id'
        ? finding('error', 'mta-sts-duplicate-id', `id= appears more than once (the other value is ${getTag(list, 'id')?.value ?? ''}); the record must have exactly one id, or senders cannot tell when the policy changes.`, rfc(8461, '3.1'), at(d.range))
        : finding('error', 'mta-sts-duplicate-tag', `The field "${d.name}" appears more than once.`, rfc(8461, '3.1'), at(d.range)),
    );
  }
  const id = getTag(list, 'id');
  if (!id) findings.push(finding('error', 'mta-sts-no-id', 'The required id= field is missing.', rfc(8461, '3.1'), at({ start: 0, end: text.length })));
  else if (!/^[A-Za-z0-9]{1,32}$/.test(id.value)) {
    findings.push(finding('error', 'mta-sts-bad-id', `id=${id.value} must be 1 to 32 letters and digits.`, rfc(8461, '3.1'), at(id.valueRange)));
  }

  if (!ctx.fetcher || !aP || !aaaaP) {
    findings.push(finding('info', 'mta-sts-not-fetched', 'The policy was not fetched (only DNS queries are allowed here).', rfc(8461, '3.3')));
    return result;
  }
  const [a, aaaa] = await Promise.all([aP, aaaaP]);
  const addresses = [...a.data, ...aaaa.data];
  const url = `https://${policyHost}/.well-known/mta-sts.txt`;
  if (addresses.length === 0) {
    const failed = [a, aaaa].find((x) => x.status === 'error');
    findings.push(
      failed
        ? finding('error', 'mta-sts-dns-error', `The ${failed.type} query for ${policyHost} failed: ${describeFailure(failed)}.`, rfc(8461, '3.3'))
        : finding('error', 'mta-sts-policy-host', `${policyHost} has no A or AAAA record, so the policy cannot be fetched.`, rfc(8461, '3.3')),
    );
    return result;
  }
  const [fetched, mx] = await Promise.all([ctx.fetcher.fetch({ url, addresses, timeoutMs: ctx.timeoutMs, maxBytes: 64 * 1024 }), mxPromise]);
  if (!fetched.ok) {
    findings.push(
      fetched.certificateError
        ? finding('error', 'mta-sts-certificate', `The certificate of ${policyHost} is not valid: ${fetched.error}.`, rfc(8461, '3.3'))
        : finding('error', 'mta-sts-fetch-failed', `Fetching ${url} failed: ${fetched.error}.`, rfc(8461, '3.3')),
    );
    return result;
  }
  if (fetched.status >= 300 && fetched.status < 400) {
    findings.push(finding('error', 'mta-sts-redirect', `${url} answered ${fetched.status} (a redirect); senders must not follow redirects.`, rfc(8461, '3.3')));
    return result;
  }
  if (fetched.status !== 200) {
    findings.push(finding('error', 'mta-sts-http-status', `${url} answered HTTP ${fetched.status}, not 200.`, rfc(8461, '3.3')));
    return result;
  }
  records.push({ name: url, type: 'HTTPS', data: fetched.body });
  const ctype = (fetched.contentType ?? '').split(';')[0].trim().toLowerCase();
  if (ctype !== 'text/plain') {
    findings.push(finding('warning', 'mta-sts-content-type', `The policy is served as "${fetched.contentType ?? 'no type'}", not text/plain.`, rfc(8461, '3.3')));
  }
  const body = fetched.body;
  const pat = (range: TextRange): RecordRef => ({ name: url, type: 'HTTPS', text: body, range });
  const policy = parseStsPolicy(body);
  for (const e of policy.errors) findings.push(finding('error', 'mta-sts-policy-syntax', `Policy: ${e.message}.`, rfc(8461, '3.2'), pat(e.range)));
  const field = (k: string): StsPolicyField | undefined => policy.fields.find((f) => f.key.toLowerCase() === k);
  if (policy.version !== 'STSv1') {
    const f = field('version');
    findings.push(finding('error', 'mta-sts-policy-version', f ? `version: ${f.value} must be STSv1.` : 'The policy has no "version: STSv1" line.', rfc(8461, '3.2'), f ? pat(f.valueRange) : undefined));
  }
  const modeField = field('mode');
  if (!policy.mode || !['enforce', 'testing', 'none'].includes(policy.mode)) {
    findings.push(finding('error', 'mta-sts-policy-mode', modeField ? `mode: ${modeField.value} must be enforce, testing or none.` : 'The policy has no "mode:" line.', rfc(8461, '3.2'), modeField ? pat(modeField.valueRange) : undefined));
  } else if (policy.mode === 'testing') {
    findings.push(finding('info', 'mta-sts-testing', 'mode: testing — senders report TLS failures but still deliver.', rfc(8461, '5'), pat(modeField!.valueRange)));
  } else if (policy.mode === 'none') {
    findings.push(finding('info', 'mta-sts-mode-none', 'mode: none — the domain is withdrawing its policy.', rfc(8461, '5'), pat(modeField!.valueRange)));
  }
  const maxAgeField = field('max_age');
  if (policy.maxAge === undefined) {
    if (!maxAgeField) findings.push(finding('error', 'mta-sts-policy-max-age', 'The policy has no "max_age:" line.', rfc(8461, '3.2')));
  } else if (policy.maxAge > 31557600) {
    findings.push(finding('error', 'mta-sts-policy-max-age', `max_age ${policy.maxAge} is over the maximum of 31557600 seconds.`, rfc(8461, '3.2'), pat(maxAgeField!.valueRange)));
  } else if (policy.maxAge < 86400) {
    findings.push(finding('info', 'mta-sts-short-max-age', `max_age ${policy.maxAge} is under a day; weeks or more are recommended.`, rfc(8461, '3.2'), pat(maxAgeField!.valueRange)));
  }
  if (policy.mx.length === 0 && policy.mode !== 'none') {
    findings.push(finding('error', 'mta-sts-policy-no-mx', 'The policy has no "mx:" lines.', rfc(8461, '3.2')));
  }
  // §3.2, §4.1: every mx: value must be a host name, or "*." and a host name; a broken pattern matches no MX.
  const invalidPatterns = new Set<StsPolicyField>();
  for (const f of policy.mx) {
    const why = mxPatternProblem(f.value);
    if (why === undefined) continue;
    invalidPatterns.add(f);
    findings.push(finding('error', 'mta-sts-policy-mx', `Policy: "mx: ${f.value}" is not a valid MX pattern: ${why}; it matches no MX host.`, rfc(8461, '4.1'), pat(f.valueRange)));
  }
  // Match every MX host against the patterns (§4.1); a wildcard covers exactly one label.
  if (mx.explicit && policy.mode !== 'none') {
    for (const host of mx.mxAnswer.data.filter((m) => m.exchange !== '')) {
      const matched = policy.mx.some((f) => matchesMxPattern(host.exchange, f.value));
      if (!matched) {
        findings.push(
          finding(
            policy.mode === 'enforce' ? 'error' : 'warning',
            'mta-sts-mx-mismatch',
            `The MX ${host.exchange} matches no mx: pattern of the policy (${policy.mx.map((f) => f.value).join(', ')}); ${policy.mode === 'enforce' ? 'senders will not deliver to it' : 'senders will report failures for it'}.`,
            rfc(8461, '4.1'),
            { name: ctx.domain, type: 'MX', text: `${host.priority} ${host.exchange}.`, range: { start: String(host.priority).length + 1, end: String(host.priority).length + 1 + host.exchange.length } },
          ),
        );
      }
    }
    for (const f of policy.mx.filter((p) => !invalidPatterns.has(p))) {
      if (!mx.mxAnswer.data.some((m) => m.exchange !== '' && matchesMxPattern(m.exchange, f.value))) {
        findings.push(finding('info', 'mta-sts-pattern-unused', `The policy pattern "mx: ${f.value}" matches no MX host.`, rfc(8461, '4.1'), pat(f.valueRange)));
      }
    }
  }
  if (!findings.some((f) => f.severity === 'error' || f.severity === 'warning')) {
    findings.push(finding('pass', 'mta-sts-ok', `MTA-STS policy id ${id?.value ?? '?'} in mode ${policy.mode}; every MX host matches.`, rfc(8461, '4.1')));
  }
  return result;
}
