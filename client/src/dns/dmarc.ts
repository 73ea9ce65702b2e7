/**
 * The DMARC check (RFC 9989): policy discovery and the Organizational Domain by the DNS Tree Walk
 * (dmarcDiscovery.ts, shared with `verify`), every tag's value, the historic tags of RFC 7489, duplicate
 * tags, report URIs and the authorization of external ones (RFC 9990 §3). Where RFC 7489 and RFC 9989
 * disagree, the finding says so.
 */
import { type CheckContext, finding, rfc } from './context';
import { type DnsAnswer, describeFailure, normalizeName } from './resolver';
import {
  discoverDmarcPolicy,
  isDmarcRecord,
  intendedDmarcRecordProblem,
  isMiscasedDmarcRecord,
  organizationalDomain,
  readDmarcRecord,
  splitDmarcUris,
  type DmarcRequest,
  type DmarcTxtLookup,
  type DomainExists,
} from './dmarcDiscovery';
import { parseTagList, type Tag } from '../../../common/tagList';
import { CHECK_TITLES, type CheckResult, type Finding, type RawRecord, type RecordRef, type TextRange } from './types';

export interface DmarcPolicy {
  /** The domain whose _dmarc record applies. */
  policyDomain: string;
  /** The policy that applies to this domain (RFC 9989 §4.10.1): p=, or sp=/np= for a subdomain, or p=none as fallback. */
  effective?: DmarcRequest;
  p?: DmarcRequest;
  sp?: DmarcRequest;
  /** The historic pct= of RFC 7489 (100 when absent). */
  pct: number;
  /** t=y (RFC 9989 §4.7): receivers apply one level less. */
  testMode: boolean;
  source?: 'author' | 'organizational' | 'public-suffix';
  organizationalDomain: string;
}

export interface DmarcOutcome {
  result: CheckResult;
  policy?: DmarcPolicy;
}

// RFC 9989 §4.7 tags, and RFC 7489's pct, rf and ri, which are reported as historic.
const KNOWN_TAGS = new Set(['v', 'p', 'sp', 'np', 'psd', 't', 'pct', 'adkim', 'aspf', 'fo', 'rf', 'ri', 'rua', 'ruf']);
const POLICIES = ['none', 'quarantine', 'reject'];

/** One URI of rua= or ruf=, with its range in the record. */
export interface DmarcUri {
  uri: string;
  range: TextRange;
  scheme?: string;
  host?: string;
}

/**
 * Splits a rua=/ruf= value into URIs with ranges and checks each: an absolute URI (RFC 9989 §4.8
 * dmarc-uri = URI), a mail address for mailto:, and RFC 7489's size suffix, which RFC 9989 removed.
 * A malformed suffix is a finding about the record; the text after "!" is never taken as a host.
 */
export function parseDmarcUris(tag: Tag, name: string, text: string, findings: Finding[]): DmarcUri[] {
  const out: DmarcUri[] = [];
  for (const part of splitDmarcUris(tag.value, tag.valueRange.start)) {
    const { raw, range } = part;
    const ref: RecordRef = { name, type: 'TXT', text, range };
    if (raw === '') {
      findings.push(finding('error', 'dmarc-bad-uri', `${tag.name}= has an empty URI.`, rfc(9989, '4.8'), ref));
      continue;
    }
    if (part.suffix !== undefined) {
      if (!/^\d+[kmgt]?$/i.test(part.suffix)) {
        findings.push(
          finding('error', 'dmarc-bad-uri-size', `${tag.name}=: "!${part.suffix}" in "${raw}" is not a size limit (RFC 7489 §6.4 allowed digits and one of k, m, g, t), and RFC 9989 requires "!" to be percent-encoded, so receivers ignore this URI.`, rfc(9989, '4.8'), ref),
        );
        continue;
      }
      findings.push(
        finding('warning', 'dmarc-uri-size', `${tag.name}=: the size limit "!${part.suffix}" is RFC 7489 syntax (§6.4); RFC 9989 removed it and requires "!" to be percent-encoded, so receivers following RFC 9989 may ignore this URI.`, rfc(9989, '4.8'), ref),
      );
    }
    const uriText = part.uri;
    let url: URL | undefined;
    try {
      url = new URL(uriText);
    } catch {
      url = undefined;
    }
    if (!url || !/^[a-z][a-z0-9+.-]*:\S+$/i.test(uriText)) {
      findings.push(finding('error', 'dmarc-bad-uri', `${tag.name}=: "${raw}" is not a URI (for example mailto:dmarc@example.com).`, rfc(9989, '4.8'), ref));
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
        findings.push(finding('error', 'dmarc-bad-uri', `${tag.name}=: "${raw}" has no valid mail address.`, rfc(9989, '4.8'), ref));
        continue;
      }
      host = normalizeName(addr.slice(at + 1));
    } else {
      host = url.hostname ? normalizeName(url.hostname) : undefined;
      findings.push(
        finding('warning', 'dmarc-uri-scheme', `${tag.name}=: receivers are only required to support mailto: URIs, not ${scheme}:, and must ignore schemes they do not support.`, rfc(9989, '4.7'), ref),
      );
    }
    out.push({ uri: uriText, range, scheme, host });
  }
  return out;
}

/** Adapts the check's DNS client to the tree walk's TXT lookup. */
function txtLookup(ctx: CheckContext, after: DnsAnswer<unknown>[] = []): DmarcTxtLookup {
  return async (name) => {
    const a = await ctx.dns.query(name, 'TXT', after);
    return a.status === 'error' ? { status: 'error', data: [], detail: describeFailure(a) } : { status: a.status, data: a.data };
  };
}

/** Whether a domain exists: NXDOMAIN for A, AAAA and MX means it does not (RFC 9989, Non-existent Domains). */
function domainExists(ctx: CheckContext): DomainExists {
  return async (domain) => {
    const answers = await Promise.all([ctx.dns.query(domain, 'A'), ctx.dns.query(domain, 'AAAA'), ctx.dns.query(domain, 'MX')]);
    return !answers.every((a) => a.status === 'nxdomain');
  };
}

const LINK = (section: string): string => rfc(9989, section);

/** Runs the DMARC check: RFC 9989 policy discovery by the DNS Tree Walk, then the record's tags. */
export async function checkDmarc(ctx: CheckContext): Promise<DmarcOutcome> {
  const findings: Finding[] = [];
  const records: RawRecord[] = [];
  const result: CheckResult = { id: 'dmarc', title: CHECK_TITLES.dmarc, findings, records };
  const domain = ctx.domain;
  const lookup = txtLookup(ctx);
  const discovery = await discoverDmarcPolicy(domain, lookup, domainExists(ctx));
  result.dmarcWalk = { steps: discovery.steps.map((s) => ({ name: s.name, outcome: s.outcome, note: s.note })), stop: discovery.stop, organizationalDomain: discovery.organizationalDomain, organizationalReason: discovery.organizationalReason, policyDomain: discovery.policyDomain, policy: discovery.policy, policyTag: discovery.policyTag, appliedPolicy: discovery.appliedPolicy };
  const walkText = discovery.steps.map((s) => `${s.name} (${s.outcome === 'record' ? 'record' : s.outcome === 'no-record' ? 'none' : s.outcome === 'multiple' ? 'several, discarded' : 'DNS failure'})`).join(', ');
  findings.push(
    finding('info', 'dmarc-walk', `Policy discovery queried ${walkText}; it stopped because ${discovery.stop}.`, LINK('4.10')),
  );

  // The Author Domain's own name: several records, or TXT records that were meant to be DMARC but
  // are not (RFC 9989 §4.8: only a record that starts with "v=DMARC1" is one). Receivers skip them and
  // the walk goes on, so the owner is told which policy applies instead (§4.10.1).
  const own = await ctx.dns.query(`_dmarc.${domain}`, 'TXT');
  const ownName = `_dmarc.${domain}`;
  const instead =
    discovery.status === 'temperror'
      ? 'no policy can be stated until the walk can read every level'
      : discovery.record === undefined || discovery.policyDomain === undefined
        ? `no DMARC policy applies to ${domain}`
        : discovery.source === 'author'
          ? `the valid DMARC record at ${ownName} applies`
          : `the record of ${discovery.policyDomain}${discovery.policy ? ` (${discovery.policyTag === 'fallback' ? 'p=none by default' : `${discovery.policyTag}=${discovery.policy}`})` : ''}, found by the DNS Tree Walk, applies to ${domain} instead`;
  for (const text of own.data) {
    if (isMiscasedDmarcRecord(text)) {
      const end = text.indexOf(';') === -1 ? text.length : text.indexOf(';');
      records.push({ name: ownName, type: 'TXT', data: text });
      findings.push(
        finding('error', 'dmarc-version-case', `The record at ${ownName} starts with "${text.slice(0, end)}": the value must be exactly "DMARC1" (upper case), so receivers ignore the record and ${instead}. The tag name "v" may be in either case.`, LINK('4.8'), { name: ownName, type: 'TXT', text, range: { start: 0, end } }),
      );
      continue;
    }
    const why = intendedDmarcRecordProblem(text);
    if (why === undefined) continue;
    records.push({ name: ownName, type: 'TXT', data: text });
    findings.push(
      finding('error', 'dmarc-not-a-record', `The TXT record at ${ownName} looks like a DMARC record but is not one: ${why}. Receivers ignore it, and ${instead}.`, LINK('4.8'), { name: ownName, type: 'TXT', text, range: { start: 0, end: text.length } }),
    );
  }
  for (const step of discovery.steps.filter((s) => s.outcome === 'multiple')) {
    findings.push(finding('error', 'dmarc-multiple', `${step.name} has several DMARC records; receivers discard them all, as if there were none.`, LINK('4.10')));
  }
  if (discovery.status === 'temperror') {
    const failed = discovery.steps.find((s) => s.outcome === 'dns-error');
    findings.push(finding('error', 'dmarc-dns-error', `The TXT query for ${failed?.name ?? `_dmarc.${domain}`} failed: ${failed?.note ?? 'DNS error'}. No policy can be stated while a level of the walk cannot be read.`, LINK('4.10.1')));
    return { result };
  }
  if (discovery.record === undefined || discovery.policyDomain === undefined) {
    findings.push(
      finding('error', 'dmarc-none', `No DMARC record applies to ${domain}: none at _dmarc.${domain}, and the DNS Tree Walk found none for its Organizational Domain or Public Suffix Domain.`, LINK('4.10.1')),
    );
    return { result };
  }
  const policyDomain = discovery.policyDomain;
  const text = discovery.record;
  const name = `_dmarc.${policyDomain}`;
  records.push({ name, type: 'TXT', data: text });
  if (discovery.source !== 'author') {
    findings.push(
      finding('info', 'dmarc-org-fallback', `No DMARC record at _dmarc.${domain}; the record of the ${discovery.source === 'organizational' ? 'Organizational Domain' : 'Public Suffix Domain'} ${policyDomain} applies (found by the DNS Tree Walk; ${discovery.organizationalReason}).`, LINK('4.10.1')),
    );
  }
  // RFC 7489 §3.2 found the Organizational Domain with a public suffix list; say so when it differs.
  const pslOrg = normalizeName(ctx.orgDomain(domain));
  if (pslOrg !== discovery.organizationalDomain) {
    findings.push(
      finding('warning', 'dmarc-org-domain-differs', `The Organizational Domain of ${domain} is ${discovery.organizationalDomain} by the DNS Tree Walk of RFC 9989 (${discovery.organizationalReason}), but ${pslOrg} by the public suffix list that RFC 7489 §3.2 used; receivers still on RFC 7489 may apply another policy and judge alignment differently.`, LINK('4.10.2')),
    );
  }
  const at = (range: TextRange): RecordRef => ({ name, type: 'TXT', text, range });
  const list = parseTagList(text, { lowerCaseNames: true });
  for (const e of list.errors) {
    findings.push(finding('error', 'dmarc-syntax', `Syntax error at column ${e.range.start + 1}: ${e.message}; receivers ignore the broken part.`, LINK('4.8'), at(e.range)));
  }
  for (const d of list.duplicates) {
    findings.push(
      finding('error', 'dmarc-duplicate-tag', `The tag "${d.name}" appears more than once; a record with duplicate tags is invalid, it does not mean "the last one wins", so no policy is stated from it.`, LINK('4.7'), at(d.range)),
    );
  }
  // A record with a duplicate tag is invalid (RFC 9989 §4.7; discovery decides it, for `verify`
  // too): no policy line, no policy for BIMI and the others, and no sentence that names one.
  const invalid = (discovery.values?.duplicateTags.length ?? 0) > 0;
  if (invalid && result.dmarcWalk) result.dmarcWalk = { ...result.dmarcWalk, policy: undefined, policyTag: undefined, appliedPolicy: undefined };
  const get = (n: string): Tag | undefined => list.tags.find((t) => t.name === n);
  const bad = (tag: Tag, why: string): void => {
    findings.push(finding('error', 'dmarc-bad-value', `${tag.name}=${tag.value}: ${why}`, LINK('4.8'), at(tag.valueRange)));
  };
  for (const tag of list.tags) {
    if (!KNOWN_TAGS.has(tag.name)) {
      findings.push(finding('warning', 'dmarc-unknown-tag', `Unknown tag "${tag.name}" (ignored by receivers).`, LINK('4.7'), at(tag.range)));
    }
  }
  const values = discovery.values ?? readDmarcRecord(text);
  for (const n of ['p', 'sp', 'np']) {
    const tag = get(n);
    if (tag && !POLICIES.includes(tag.value.toLowerCase())) bad(tag, 'must be none, quarantine or reject.');
  }
  const p = get('p');
  if (!p || values.invalidPolicyTag) {
    const what = !p ? 'has no p= tag' : `has an invalid ${values.invalidPolicyTag}= tag`;
    findings.push(
      finding(
        values.validRua > 0 ? 'warning' : 'error',
        'dmarc-no-policy',
        values.validRua > 0
          ? `The record ${what}; RFC 9989 §4.10.1 treats it as p=none because rua= has a valid URI. RFC 7489 §6.6.3 also fell back to p=none, but required p= as the second tag.`
          : `The record ${what} and no valid rua= URI, so RFC 9989 §4.10.1 receivers apply no DMARC at all (RFC 7489 §6.6.3 receivers ignore the record too). Add p=none, quarantine or reject.`,
        LINK('4.10.1'),
        at(p ? p.range : { start: 0, end: text.length }),
      ),
    );
  } else if (list.tags[1] !== p) {
    findings.push(finding('info', 'dmarc-policy-position', 'p= is not the second tag. RFC 9989 allows it anywhere, but RFC 7489 §6.3 required it right after v=DMARC1, and receivers still on RFC 7489 may ignore the record.', LINK('4.7'), at(p.range)));
  }
  const psd = get('psd');
  if (psd && !['y', 'n', 'u'].includes(psd.value.toLowerCase())) bad(psd, 'must be y, n or u.');
  else if (values.psd === 'y') findings.push(finding('info', 'dmarc-psd', `psd=y: ${policyDomain} declares itself a Public Suffix Domain; its policy applies to registered domains below it that publish none.`, LINK('4.7'), at(psd!.range)));
  else if (values.psd === 'n') findings.push(finding('info', 'dmarc-psd', `psd=n: ${policyDomain} declares itself the Organizational Domain of itself and its subdomains; the tree walk stops here.`, LINK('4.7'), at(psd!.range)));
  const tTag = get('t');
  if (tTag && !['y', 'n'].includes(tTag.value.toLowerCase())) bad(tTag, 'must be y or n.');
  else if (values.t === 'y') {
    findings.push(finding('info', 'dmarc-test-mode', `t=y: test mode; receivers apply one level less than the policy (reject as quarantine, quarantine as none).`, LINK('4.7'), at(tTag!.range)));
  }
  // pct, rf and ri were removed by RFC 9989: historic, a warning that says what replaced them.
  let pct = 100;
  const pctTag = get('pct');
  if (pctTag) {
    findings.push(
      finding('warning', 'dmarc-historic-tag', `pct= is historic: RFC 9989 removed it (appendix "Removal of the pct Tag") and replaced it with t=y; receivers following RFC 9989 ignore it, while RFC 7489 §6.3 receivers apply the policy to pct% of failing mail.`, LINK('4.7'), at(pctTag.range)),
    );
    if (!/^\d{1,3}$/.test(pctTag.value) || Number(pctTag.value) > 100) {
      findings.push(finding('error', 'dmarc-bad-pct', `pct=${pctTag.value}: RFC 7489 §6.3 required an integer from 0 to 100.`, rfc(7489, '6.3'), at(pctTag.valueRange)));
    } else pct = Number(pctTag.value);
  }
  const rf = get('rf');
  if (rf) {
    findings.push(finding('warning', 'dmarc-historic-tag', `rf= is historic: RFC 9989 removed it; the failure report format is fixed by RFC 9991, so receivers ignore rf=.`, LINK('4.7'), at(rf.range)));
    if (!rf.value.split(':').every((x) => x.trim().toLowerCase() === 'afrf')) bad(rf, 'the only format RFC 7489 defined is afrf.');
  }
  const ri = get('ri');
  if (ri) {
    findings.push(finding('warning', 'dmarc-historic-tag', `ri= is historic: RFC 9989 removed it; the aggregate report interval is the receiver's choice (RFC 9990), so receivers ignore ri=.`, LINK('4.7'), at(ri.range)));
    if (!/^\d{1,10}$/.test(ri.value) || Number(ri.value) > 4294967295) bad(ri, 'RFC 7489 required a 32-bit unsigned integer (seconds).');
  }
  for (const n of ['adkim', 'aspf']) {
    const tag = get(n);
    if (tag && !['r', 's'].includes(tag.value.toLowerCase())) bad(tag, 'must be r (relaxed) or s (strict).');
  }
  const fo = get('fo');
  if (fo && !fo.value.split(':').every((x) => ['0', '1', 'd', 's'].includes(x.trim().toLowerCase()))) bad(fo, 'must be 0, 1, d, s or a colon-separated list of them.');

  const effective = discovery.policy;
  const policy: DmarcPolicy = {
    policyDomain,
    effective,
    p: values.p,
    sp: values.sp,
    pct,
    testMode: values.t === 'y',
    source: discovery.source,
    organizationalDomain: discovery.organizationalDomain,
  };
  if (effective === 'none' && !invalid) {
    const tag = discovery.policyTag === 'fallback' ? undefined : get(discovery.policyTag ?? 'p');
    findings.push(finding('info', 'dmarc-monitoring', `The policy for ${domain} is ${discovery.policyTag === 'fallback' ? 'p=none (fallback)' : `${discovery.policyTag}=none`}: monitoring only, failing mail is not quarantined or rejected.`, LINK('4.7'), at(tag?.valueRange ?? { start: 0, end: text.length })));
  }

  // Report URIs, and the authorization of destinations outside the Organizational Domain (RFC 9990 §3, RFC 9991).
  const uris: Array<{ tag: Tag; uri: DmarcUri }> = [];
  for (const n of ['rua', 'ruf']) {
    const tag = get(n);
    if (tag) for (const uri of parseDmarcUris(tag, name, text, findings)) uris.push({ tag, uri });
  }
  if (!get('rua')) findings.push(finding('info', 'dmarc-no-rua', 'No rua= tag: you will receive no aggregate reports.', LINK('4.7')));
  const policyOrg = discovery.source === 'author' ? discovery.organizationalDomain : (await organizationalDomain(policyDomain, lookup)).domain;
  const checked = new Map<string, Promise<DnsAnswer<string>>>();
  await Promise.all(
    uris.map(async ({ tag, uri }) => {
      if (!uri.host) return;
      const hostOrg = (await organizationalDomain(uri.host, lookup)).domain;
      if (hostOrg === policyOrg) return;
      const authName = `${policyDomain}._report._dmarc.${uri.host}`;
      let q = checked.get(authName);
      if (!q) {
        q = ctx.dns.query(authName, 'TXT', [own]);
        checked.set(authName, q);
      }
      const auth = await q;
      if (auth.status === 'error') {
        findings.push(finding('error', 'dmarc-dns-error', `The TXT query for ${authName} failed: ${describeFailure(auth)}.`, rfc(9990, '3'), at(uri.range)));
      } else if (auth.data.some(isDmarcRecord)) {
        records.push({ name: authName, type: 'TXT', data: auth.data.find(isDmarcRecord)! });
        findings.push(finding('pass', 'dmarc-external-authorized', `${tag.name}= destination ${uri.host} authorizes reports for ${policyDomain} (${authName}).`, rfc(9990, '3'), at(uri.range)));
      } else {
        findings.push(
          finding('error', 'dmarc-external-unauthorized', `${tag.name}= sends reports to ${uri.host}, outside ${policyOrg}, but ${authName} has no "v=DMARC1" record, so receivers will not send them.`, rfc(9990, '3'), at(uri.range)),
        );
      }
    }),
  );
  if (!findings.some((f) => f.severity === 'error' || f.severity === 'warning')) {
    findings.push(finding('pass', 'dmarc-ok', `Valid DMARC record at ${name}; the policy for ${domain} is ${discovery.policyTag}=${effective}.`, LINK('4.7')));
  }
  return invalid ? { result } : { result, policy };
}
