/**
 * The DMARC check (RFC 7489): one record at _dmarc.<domain> or, failing that, at the organizational
 * domain; every tag's value; duplicate tags; report URIs and the authorization of external ones.
 */
import { type CheckContext, finding, rfc } from './context';
import { type DnsAnswer, describeFailure, normalizeName } from './resolver';
import { parseTagList, type Tag } from './tagList';
import { CHECK_TITLES, type CheckResult, type Finding, type RawRecord, type RecordRef, type TextRange } from './types';

export interface DmarcPolicy {
  /** The domain whose _dmarc record applies. */
  policyDomain: string;
  /** The policy that applies to this domain: p=, or sp= (then p=) when it came from the organizational domain. */
  effective?: string;
  p?: string;
  sp?: string;
  pct: number;
}

export interface DmarcOutcome {
  result: CheckResult;
  policy?: DmarcPolicy;
}

const KNOWN_TAGS = new Set(['v', 'p', 'sp', 'np', 'pct', 'adkim', 'aspf', 'fo', 'rf', 'ri', 'rua', 'ruf']);
const POLICIES = ['none', 'quarantine', 'reject'];

function isDmarc(text: string): boolean {
  return /^v\s*=\s*DMARC1\s*(;|$)/i.test(text);
}

/** One URI of rua= or ruf=, with its range in the record. */
export interface DmarcUri {
  uri: string;
  range: TextRange;
  scheme?: string;
  host?: string;
}

/** Splits a rua=/ruf= value into URIs with ranges and checks each (RFC 7489 §6.4 dmarc-uri). */
export function parseDmarcUris(tag: Tag, name: string, text: string, findings: Finding[]): DmarcUri[] {
  const out: DmarcUri[] = [];
  let offset = tag.valueRange.start;
  for (const part of tag.value.split(',')) {
    const lead = part.length - part.trimStart().length;
    const raw = part.trim();
    const range = { start: offset + lead, end: offset + lead + raw.length };
    offset += part.length + 1;
    const ref: RecordRef = { name, type: 'TXT', text, range };
    // dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]; a "!" inside the URI must be encoded.
    const m = /^(.*?)(?:!(\d+)([kmgt])?)?$/i.exec(raw);
    const uriText = m ? m[1] : raw;
    if (raw === '' ) {
      findings.push(finding('error', 'dmarc-bad-uri', `${tag.name}= has an empty URI.`, rfc(7489, '6.4'), ref));
      continue;
    }
    let url: URL | undefined;
    try {
      url = new URL(uriText);
    } catch {
      url = undefined;
    }
    if (!url || !/^[a-z][a-z0-9+.-]*:/i.test(uriText)) {
      findings.push(finding('error', 'dmarc-bad-uri', `${tag.name}=: "${raw}" is not a URI (for example mailto:dmarc@example.com).`, rfc(7489, '6.4'), ref));
      continue;
    }
    const scheme = url.protocol.slice(0, -1).toLowerCase();
    let host: string | undefined;
    if (scheme === 'mailto') {
      let addr: string;
      try {
        addr = decodeURIComponent(url.pathname);
      } catch {
        // A malformed %-escape is the record's problem, not a reason to stop the report.
        addr = '';
      }
      const at = addr.lastIndexOf('@');
      if (at <= 0 || at === addr.length - 1) {
        findings.push(finding('error', 'dmarc-bad-uri', `${tag.name}=: "${raw}" has no valid mail address.`, rfc(7489, '6.4'), ref));
        continue;
      }
      host = normalizeName(addr.slice(at + 1));
    } else {
      host = url.hostname ? normalizeName(url.hostname) : undefined;
      findings.push(
        finding('warning', 'dmarc-uri-scheme', `${tag.name}=: receivers are only required to support mailto: URIs, not ${scheme}:.`, rfc(7489, '6.3'), ref),
      );
    }
    out.push({ uri: uriText, range, scheme, host });
  }
  return out;
}

/** Runs the DMARC check. */
export async function checkDmarc(ctx: CheckContext): Promise<DmarcOutcome> {
  const findings: Finding[] = [];
  const records: RawRecord[] = [];
  const result: CheckResult = { id: 'dmarc', title: CHECK_TITLES.dmarc, findings, records };
  const domain = ctx.domain;
  const org = normalizeName(ctx.orgDomain(domain));
  // Both names are known up front, so both queries go out at once (RFC 7489 §6.6.3 steps 1-3).
  const direct = ctx.dns.query(`_dmarc.${domain}`, 'TXT');
  const fallback = org !== domain ? ctx.dns.query(`_dmarc.${org}`, 'TXT') : undefined;
  let answer: DnsAnswer<string> = await direct;
  let policyDomain = domain;
  if (answer.status === 'error') {
    findings.push(finding('error', 'dmarc-dns-error', `The TXT query for _dmarc.${domain} failed: ${describeFailure(answer)}.`, rfc(7489, '6.6.3')));
    return { result };
  }
  let fromOrg = false;
  if (!answer.data.some(isDmarc) && fallback) {
    const orgAnswer = await fallback;
    if (orgAnswer.status === 'error') {
      findings.push(finding('error', 'dmarc-dns-error', `The TXT query for _dmarc.${org} failed: ${describeFailure(orgAnswer)}.`, rfc(7489, '6.6.3')));
      return { result };
    }
    if (orgAnswer.data.some(isDmarc)) {
      answer = orgAnswer;
      policyDomain = org;
      fromOrg = true;
      findings.push(
        finding('info', 'dmarc-org-fallback', `No DMARC record at _dmarc.${domain}; the record of the organizational domain ${org} applies (its sp= if present).`, rfc(7489, '6.6.3')),
      );
    }
  }
  const dmarcRecords = answer.data.filter(isDmarc);
  const name = `_dmarc.${policyDomain}`;
  for (const r of dmarcRecords) records.push({ name, type: 'TXT', data: r });
  if (dmarcRecords.length === 0) {
    findings.push(
      finding('error', 'dmarc-none', `No DMARC record at _dmarc.${domain}${org !== domain ? ` or _dmarc.${org}` : ''}.`, rfc(7489, '6.1')),
    );
    return { result };
  }
  if (dmarcRecords.length > 1) {
    findings.push(
      finding('error', 'dmarc-multiple', `${name} has ${dmarcRecords.length} DMARC records; receivers then apply no DMARC policy at all.`, rfc(7489, '6.6.3'), {
        name, type: 'TXT', text: dmarcRecords[1], range: { start: 0, end: dmarcRecords[1].length },
      }),
    );
    return { result };
  }
  const text = dmarcRecords[0];
  const at = (range: TextRange): RecordRef => ({ name, type: 'TXT', text, range });
  const list = parseTagList(text);
  for (const e of list.errors) {
    findings.push(finding('error', 'dmarc-syntax', `Syntax error at column ${e.range.start + 1}: ${e.message}.`, rfc(7489, '6.4'), at(e.range)));
  }
  for (const d of list.duplicates) {
    findings.push(
      finding('error', 'dmarc-duplicate-tag', `The tag "${d.name}" appears more than once; a record with duplicate tags is invalid, it does not mean "the last one wins".`, rfc(7489, '6.3'), at(d.range)),
    );
  }
  const first = list.tags[0];
  if (!first || first.name !== 'v' || first.value !== 'DMARC1') {
    findings.push(finding('error', 'dmarc-version', 'The record must begin with "v=DMARC1".', rfc(7489, '6.3'), at(first ? first.range : { start: 0, end: text.length })));
  }
  const get = (n: string): Tag | undefined => list.tags.find((t) => t.name === n);
  const bad = (tag: Tag, why: string): void => {
    findings.push(finding('error', 'dmarc-bad-value', `${tag.name}=${tag.value}: ${why}`, rfc(7489, '6.3'), at(tag.valueRange)));
  };
  for (const tag of list.tags) {
    if (!KNOWN_TAGS.has(tag.name)) {
      findings.push(finding('warning', 'dmarc-unknown-tag', `Unknown tag "${tag.name}" (ignored by receivers).`, rfc(7489, '6.3'), at(tag.range)));
    }
  }
  for (const n of ['p', 'sp', 'np']) {
    const tag = get(n);
    if (tag && !POLICIES.includes(tag.value.toLowerCase())) bad(tag, 'must be none, quarantine or reject.');
  }
  const p = get('p');
  if (!p) findings.push(finding('error', 'dmarc-no-policy', 'The required p= tag is missing.', rfc(7489, '6.3'), at({ start: 0, end: text.length })));
  else if (p !== list.tags[1] && first?.name === 'v') {
    findings.push(finding('warning', 'dmarc-policy-position', 'p= should directly follow v=DMARC1.', rfc(7489, '6.3'), at(p.range)));
  }
  let pct = 100;
  const pctTag = get('pct');
  if (pctTag) {
    if (!/^\d{1,3}$/.test(pctTag.value) || Number(pctTag.value) > 100) {
      findings.push(finding('error', 'dmarc-bad-pct', `pct=${pctTag.value}: must be an integer from 0 to 100.`, rfc(7489, '6.3'), at(pctTag.valueRange)));
    } else {
      pct = Number(pctTag.value);
      if (pct < 100) findings.push(finding('info', 'dmarc-pct-partial', `pct=${pct}: the policy applies to ${pct}% of failing mail only.`, rfc(7489, '6.3'), at(pctTag.valueRange)));
    }
  }
  for (const n of ['adkim', 'aspf']) {
    const tag = get(n);
    if (tag && !['r', 's'].includes(tag.value.toLowerCase())) bad(tag, 'must be r (relaxed) or s (strict).');
  }
  const fo = get('fo');
  if (fo && !fo.value.split(':').every((x) => ['0', '1', 'd', 's'].includes(x.trim().toLowerCase()))) bad(fo, 'must be a colon-separated list of 0, 1, d and s.');
  const rf = get('rf');
  if (rf && !rf.value.split(':').every((x) => x.trim().toLowerCase() === 'afrf')) bad(rf, 'the only defined report format is afrf.');
  const ri = get('ri');
  if (ri && (!/^\d{1,10}$/.test(ri.value) || Number(ri.value) > 4294967295)) bad(ri, 'must be a 32-bit unsigned integer (seconds).');

  const effective = fromOrg ? (get('sp')?.value ?? p?.value) : p?.value;
  const policy: DmarcPolicy = { policyDomain, effective: effective?.toLowerCase(), p: p?.value.toLowerCase(), sp: get('sp')?.value.toLowerCase(), pct };
  if (policy.effective === 'none') {
    findings.push(finding('info', 'dmarc-monitoring', 'The policy is p=none: monitoring only, failing mail is not quarantined or rejected.', rfc(7489, '6.3'), at((fromOrg ? get('sp') : undefined)?.valueRange ?? p!.valueRange)));
  }

  // Report URIs, and the authorization of destinations outside the organizational domain (§7.1).
  const uris: Array<{ tag: Tag; uri: DmarcUri }> = [];
  for (const n of ['rua', 'ruf']) {
    const tag = get(n);
    if (tag) for (const uri of parseDmarcUris(tag, name, text, findings)) uris.push({ tag, uri });
  }
  if (!get('rua')) findings.push(finding('info', 'dmarc-no-rua', 'No rua= tag: you will receive no aggregate reports.', rfc(7489, '6.3')));
  const policyOrg = normalizeName(ctx.orgDomain(policyDomain));
  const checked = new Map<string, Promise<DnsAnswer<string>>>();
  await Promise.all(
    uris.map(async ({ tag, uri }) => {
      if (!uri.host) return;
      if (normalizeName(ctx.orgDomain(uri.host)) === policyOrg) return;
      const authName = `${policyDomain}._report._dmarc.${uri.host}`;
      let q = checked.get(authName);
      if (!q) {
        q = ctx.dns.query(authName, 'TXT', [answer]);
        checked.set(authName, q);
      }
      const auth = await q;
      if (auth.status === 'error') {
        findings.push(finding('error', 'dmarc-dns-error', `The TXT query for ${authName} failed: ${describeFailure(auth)}.`, rfc(7489, '7.1'), at(uri.range)));
      } else if (auth.data.some(isDmarc)) {
        records.push({ name: authName, type: 'TXT', data: auth.data.find(isDmarc)! });
        findings.push(finding('pass', 'dmarc-external-authorized', `${tag.name}= destination ${uri.host} authorizes reports for ${policyDomain} (${authName}).`, rfc(7489, '7.1'), at(uri.range)));
      } else {
        findings.push(
          finding('error', 'dmarc-external-unauthorized', `${tag.name}= sends reports to ${uri.host}, outside ${policyOrg}, but ${authName} has no "v=DMARC1" record, so receivers will not send them.`, rfc(7489, '7.1'), at(uri.range)),
        );
      }
    }),
  );
  if (!findings.some((f) => f.severity === 'error' || f.severity === 'warning')) {
    findings.push(finding('pass', 'dmarc-ok', `Valid DMARC record at ${name} with p=${policy.p}.`, rfc(7489, '6.3')));
  }
  return { result, policy };
}
