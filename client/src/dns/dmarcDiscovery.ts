/**
 * DMARC record reading, policy discovery and the Organizational Domain as RFC 9989 defines them:
 * the DNS Tree Walk (§4.10) instead of a public suffix list, with every name queried and why the walk
 * stopped. One home for both the Mail DNS check (`smtpwb dns`, the sidebar) and `smtpwb verify`,
 * so both give the same policy for the same domain. Pure: DNS comes from the injected TXT lookup.
 */
import { parseTagList, type Tag } from '../../../common/tagList';
import { uriSyntaxProblem } from './reportUri';

/** The outcome of one TXT query, as the walk needs it. */
export interface DmarcTxtAnswer {
  status: 'ok' | 'nxdomain' | 'nodata' | 'error';
  /** TXT records, each with its character-strings joined. */
  data: string[];
  /** What failed, for status "error". */
  detail?: string;
}

export type DmarcTxtLookup = (name: string) => Promise<DmarcTxtAnswer>;

/** Whether a domain exists: false only for NXDOMAIN on A, AAAA and MX (RFC 9989 "Non-existent Domains"). */
export type DomainExists = (domain: string) => Promise<boolean>;

export type DmarcRequest = 'none' | 'quarantine' | 'reject';

/** The values of a DMARC record that decide policy, read as RFC 9989 §4.7 and §4.8 say. */
export interface DmarcRecordValues {
  /** The record starts with a "v" tag (name in any case) whose value is exactly "DMARC1" (§4.8). */
  valid: boolean;
  tags: Tag[];
  p?: DmarcRequest;
  sp?: DmarcRequest;
  np?: DmarcRequest;
  /** Set when p, sp or np is present with a value that is not a dmarc-request. */
  invalidPolicyTag?: 'p' | 'sp' | 'np';
  psd: 'y' | 'n' | 'u';
  t: 'y' | 'n';
  adkim: 'r' | 's';
  aspf: 'r' | 's';
  /** The number of syntactically valid rua= URIs. */
  validRua: number;
  /** The names of tags that occur more than once: such a record is invalid as a whole (§4.7). */
  duplicateTags: string[];
}

const REQUESTS: readonly string[] = ['none', 'quarantine', 'reject'];

/**
 * Whether a TXT record starts with the version tag: "v" (an ABNF literal, so in any case), optional
 * white space around "=", and the case-sensitive value "DMARC1" (RFC 9989 §4.8, `%s"DMARC1"`).
 */
export function isDmarcRecord(text: string): boolean {
  return /^[vV][ \t]*=[ \t]*DMARC1[ \t]*(;|$)/.test(text);
}

/** A record that would have been DMARC but for the case of its version value ("v=dmarc1"). */
export function isMiscasedDmarcRecord(text: string): boolean {
  return !isDmarcRecord(text) && /^v[ \t]*=[ \t]*dmarc1[ \t]*(;|$)/i.test(text);
}

/**
 * Why a TXT record that is not a DMARC record was clearly meant to be one, or undefined when it was
 * not. RFC 9989 §4.8 makes a record DMARC only when it begins with the version tag, so receivers skip
 * any other TXT record at `_dmarc.<domain>` (§4.10 step 2) and the DNS Tree Walk goes on to the
 * parent; an owner who wrote "v=DMARC1 p=reject" must hear that the record is ignored. A record is
 * taken as meant for DMARC when it contains "v=DMARC1" in any case, anywhere. The miscased but
 * otherwise well-formed "v=dmarc1" has its own finding and is not reported here.
 */
export function intendedDmarcRecordProblem(text: string): string | undefined {
  if (isDmarcRecord(text) || isMiscasedDmarcRecord(text)) return undefined;
  const found = /v[ \t]*=[ \t]*dmarc1/i.exec(text);
  if (!found) return undefined;
  const reasons: string[] = [];
  if (/^[ \t]/.test(text)) reasons.push('it starts with white space, but a DMARC record must start with "v=DMARC1"');
  else if (text.slice(0, found.index).trim() !== '') reasons.push('"v=DMARC1" is not its first tag, but a DMARC record must start with it');
  const version = found[0].slice(found[0].search(/dmarc1/i));
  if (version !== 'DMARC1') reasons.push(`the version value is "${version}", but it must be exactly "DMARC1" (upper case)`);
  const after = text.slice(found.index + found[0].length);
  const next = /^[ \t]*(;|$)/.test(after) ? undefined : after.split(';')[0].trim();
  if (next !== undefined) reasons.push(`"${found[0]}" is followed by "${next}" with no ";" between them, so the version value is not "DMARC1"`);
  return reasons.length > 0 ? reasons.join('; and ') : 'it is not a valid DMARC record';
}

/**
 * Splits a rua=/ruf= value into its URIs (RFC 9989 §4.8 dmarc-urilist). RFC 7489 §6.4 allowed a size
 * suffix ("!10m"); it is split off here so it is never part of a host name, and reported by the check.
 */
export function splitDmarcUris(value: string, valueStart: number): Array<{ raw: string; uri: string; suffix?: string; range: { start: number; end: number } }> {
  const out: Array<{ raw: string; uri: string; suffix?: string; range: { start: number; end: number } }> = [];
  let offset = valueStart;
  for (const part of value.split(',')) {
    const lead = part.length - part.trimStart().length;
    const raw = part.trim();
    const range = { start: offset + lead, end: offset + lead + raw.length };
    offset += part.length + 1;
    const bang = raw.indexOf('!');
    out.push(bang === -1 ? { raw, uri: raw, range } : { raw, uri: raw.slice(0, bang), suffix: raw.slice(bang + 1), range });
  }
  return out;
}

/** Whether a URI is a syntactically valid absolute URI with a scheme (RFC 3986 §3), for policy decisions. */
export function isValidReportUri(uri: string): boolean {
  if (uriSyntaxProblem(uri) !== undefined) return false;
  try {
    const url = new URL(uri);
    if (url.protocol === 'mailto:') return /^[^@\s]+@[^@\s]+$/.test(decodeURIComponent(url.pathname));
    return true;
  } catch {
    return false;
  }
}

/** Reads the values of a DMARC record that decide policy (RFC 9989 §4.7). Never throws. */
export function readDmarcRecord(text: string): DmarcRecordValues {
  const list = parseTagList(text, { lowerCaseNames: true });
  const tags = list.tags;
  const first = tags[0];
  // RFC 9989 §4.7 takes the tag-value syntax of RFC 6376 §3.2: "if a tag name does occur more than
  // once, the entire tag-list is invalid". Discovery states no policy from such a record.
  const duplicateTags = [...new Set(list.duplicates.map((d) => d.name))];
  const valid = isDmarcRecord(text) && first !== undefined && first.name === 'v' && duplicateTags.length === 0;
  const get = (n: string): Tag | undefined => tags.find((t) => t.name === n);
  const out: DmarcRecordValues = { valid, tags, psd: 'u', t: 'n', adkim: 'r', aspf: 'r', validRua: 0, duplicateTags };
  for (const n of ['p', 'sp', 'np'] as const) {
    const tag = get(n);
    if (!tag) continue;
    // dmarc-request is made of ABNF literals, so matched case-insensitively (RFC 5234 §2.3).
    const v = tag.value.toLowerCase();
    if (REQUESTS.includes(v)) out[n] = v as DmarcRequest;
    else out.invalidPolicyTag ??= n;
  }
  const psd = get('psd')?.value.toLowerCase();
  if (psd === 'y' || psd === 'n' || psd === 'u') out.psd = psd;
  const t = get('t')?.value.toLowerCase();
  if (t === 'y' || t === 'n') out.t = t;
  for (const n of ['adkim', 'aspf'] as const) {
    const v = get(n)?.value.toLowerCase();
    if (v === 'r' || v === 's') out[n] = v;
  }
  const rua = get('rua');
  if (rua) out.validRua = splitDmarcUris(rua.value, rua.valueRange.start).filter((u) => u.suffix === undefined && isValidReportUri(u.uri)).length;
  return out;
}

/** One query of a tree walk. */
export interface DmarcWalkStep {
  /** The domain whose _dmarc name was queried. */
  domain: string;
  name: string;
  outcome: 'record' | 'no-record' | 'multiple' | 'dns-error';
  record?: string;
  psd?: 'y' | 'n' | 'u';
  /** Why this query was made or what it found, in words. */
  note: string;
}

export interface DmarcWalk {
  steps: DmarcWalkStep[];
  /** Why the walk stopped, in words. */
  stop: string;
  /** Set when a query failed: nothing above it can be stated (RFC 9989 §4.10.1 "transient DNS error"). */
  dnsError?: DmarcWalkStep;
}

function labelsOf(domain: string): string[] {
  return domain.replace(/\.$/, '').toLowerCase().split('.').filter((l) => l !== '');
}

/** The next target of a walk (RFC 9989 §4.10 step 4): one label less, or 7 labels from 8 or more. */
function shorten(labels: string[]): string[] {
  return labels.length >= 8 ? labels.slice(labels.length - 7) : labels.slice(1);
}

async function queryStep(domain: string, lookup: DmarcTxtLookup, why: string): Promise<DmarcWalkStep> {
  const name = `_dmarc.${domain}`;
  const answer = await lookup(name);
  if (answer.status === 'error') return { domain, name, outcome: 'dns-error', note: `${why}; the query failed (${answer.detail ?? 'DNS error'})` };
  const records = answer.data.filter(isDmarcRecord);
  if (records.length === 0) return { domain, name, outcome: 'no-record', note: `${why}; no DMARC record` };
  if (records.length > 1) return { domain, name, outcome: 'multiple', note: `${why}; ${records.length} DMARC records, all discarded (RFC 9989 §4.10 step 2)` };
  const values = readDmarcRecord(records[0]);
  return { domain, name, outcome: 'record', record: records[0], psd: values.psd, note: `${why}; one DMARC record${values.psd !== 'u' ? ` with psd=${values.psd}` : ''}` };
}

/**
 * The DNS Tree Walk of RFC 9989 §4.10 from `start`. With `includeStart` false the first query is
 * the next target (policy discovery has already queried the Author Domain itself). The walk stops at
 * a single record with psd=y or psd=n, at a DNS failure, or when no labels remain.
 */
export async function dmarcTreeWalk(start: string, lookup: DmarcTxtLookup, includeStart = true): Promise<DmarcWalk> {
  let labels = labelsOf(start);
  const steps: DmarcWalkStep[] = [];
  let why = 'the start of the walk';
  if (!includeStart) {
    const was = labels.length;
    labels = shorten(labels);
    why = was >= 8 ? `the Author Domain has ${was} labels, so the walk goes on at 7 labels (§4.10 step 4)` : 'the parent of the Author Domain';
  }
  while (labels.length > 0) {
    const domain = labels.join('.');
    const step = await queryStep(domain, lookup, why);
    steps.push(step);
    if (step.outcome === 'dns-error') return { steps, stop: `the query for ${step.name} failed, so nothing above it can be known`, dnsError: step };
    if (step.outcome === 'record' && (step.psd === 'y' || step.psd === 'n')) {
      return { steps, stop: `${step.name} has a record with psd=${step.psd} (§4.10 step 6)` };
    }
    const was = labels.length;
    labels = shorten(labels);
    why = was >= 8 ? `7 labels of the ${was}-label name (§4.10 step 4)` : 'one label up (§4.10 step 7)';
  }
  return { steps, stop: 'no labels remain (§4.10 step 7)' };
}

/**
 * Selects the Organizational Domain from the records of a walk (RFC 9989 §4.10.2): from the longest
 * name to the shortest, psd=n there, or one label below a psd=y record other than the start, or else
 * the record with the fewest labels; the start itself when no record decides.
 */
export function selectOrganizationalDomain(start: string, steps: readonly DmarcWalkStep[]): { domain: string; reason: string } {
  const startName = labelsOf(start).join('.');
  const found = steps.filter((s) => s.outcome === 'record').sort((a, b) => labelsOf(b.domain).length - labelsOf(a.domain).length);
  for (const s of found) {
    if (s.psd === 'n') return { domain: s.domain, reason: `_dmarc.${s.domain} has psd=n` };
    if (s.psd === 'y' && s.domain !== startName) {
      const below = labelsOf(startName);
      const level = labelsOf(s.domain).length + 1;
      const domain = below.slice(below.length - level).join('.');
      return { domain, reason: `_dmarc.${s.domain} has psd=y, so the domain one label below it is the Organizational Domain` };
    }
  }
  if (found.length > 0) {
    const shortest = found[found.length - 1];
    return { domain: shortest.domain, reason: `_dmarc.${shortest.domain} is the record with the fewest labels` };
  }
  return { domain: startName, reason: 'no DMARC record was found, so the domain itself is its Organizational Domain' };
}

/** The Organizational Domain of a domain by its own tree walk (RFC 9989 §4.10.2). */
export async function organizationalDomain(domain: string, lookup: DmarcTxtLookup): Promise<{ domain: string; reason: string; walk: DmarcWalk }> {
  const walk = await dmarcTreeWalk(domain, lookup, true);
  const selected = selectOrganizationalDomain(domain, walk.steps);
  return { ...selected, walk };
}

export interface DmarcDiscovery {
  /** 'found': a policy applies; 'none': DMARC does not apply; 'temperror': a query failed. */
  status: 'found' | 'none' | 'temperror';
  authorDomain: string;
  /** Every query, in order: the Author Domain, then the walk. */
  steps: DmarcWalkStep[];
  stop: string;
  /** The domain whose record applies and that record. */
  policyDomain?: string;
  record?: string;
  values?: DmarcRecordValues;
  /** Where the record was found (RFC 9989 §4.10.1 order of preference). */
  source?: 'author' | 'organizational' | 'public-suffix';
  organizationalDomain: string;
  organizationalReason: string;
  /** The policy to apply, after sp/np/p and the p=none fallback, before t=y. */
  policy?: DmarcRequest;
  /** Which tag gave the policy, or "fallback" for the p=none of a record without a valid p (§4.10.1). */
  policyTag?: 'p' | 'sp' | 'np' | 'fallback';
  /** The policy as a receiver applies it with t=y (one level lower, §4.7 "t"). */
  appliedPolicy?: DmarcRequest;
  /** Whether the Author Domain exists, when it mattered (sp versus np). */
  authorExists?: boolean;
  /** Why, in one sentence. */
  reason: string;
}

const LOWER: Record<DmarcRequest, DmarcRequest> = { reject: 'quarantine', quarantine: 'none', none: 'none' };

/**
 * DMARC Policy Discovery (RFC 9989 §4.10.1): the Author Domain's record, else the Organizational
 * Domain's, else the Public Suffix Domain's, found by the tree walk; sp= for an existing subdomain,
 * np= for a non-existent one (then sp=, then p=); a record without a valid p= (or with an invalid sp=
 * or np=) counts as p=none when rua= has a valid URI, and as no DMARC otherwise.
 */
export async function discoverDmarcPolicy(author: string, lookup: DmarcTxtLookup, exists: DomainExists): Promise<DmarcDiscovery> {
  const authorDomain = labelsOf(author).join('.');
  const first = await queryStep(authorDomain, lookup, 'the Author Domain');
  const steps: DmarcWalkStep[] = [first];
  const base = { authorDomain, steps };
  if (first.outcome === 'dns-error') {
    return { ...base, status: 'temperror', stop: `the query for ${first.name} failed`, organizationalDomain: authorDomain, organizationalReason: 'unknown: a query failed', reason: `the query for ${first.name} failed, so the policy cannot be known` };
  }
  let record: string | undefined;
  let policyDomain: string | undefined;
  let source: DmarcDiscovery['source'];
  let stop: string;
  let org: { domain: string; reason: string };
  if (first.outcome === 'record' && first.record !== undefined) {
    record = first.record;
    policyDomain = authorDomain;
    source = 'author';
    stop = `${first.name} has a DMARC record, so no walk is needed (§4.10.1)`;
    // The Organizational Domain is still needed for alignment; it comes from the same kind of walk.
    const walk = first.psd === 'y' || first.psd === 'n' ? { steps: [] as DmarcWalkStep[], stop: '' } : await dmarcTreeWalk(authorDomain, lookup, false);
    steps.push(...walk.steps);
    org = selectOrganizationalDomain(authorDomain, [first, ...walk.steps]);
    // The policy is known; the Organizational Domain is chosen from the levels that could be read.
    if ('dnsError' in walk && walk.dnsError) org = { ...org, reason: `${org.reason}; the query for ${walk.dnsError.name} failed, so levels above it were not read` };
  } else {
    const walk = await dmarcTreeWalk(authorDomain, lookup, false);
    steps.push(...walk.steps);
    stop = walk.stop;
    if (walk.dnsError) {
      return { ...base, status: 'temperror', stop, organizationalDomain: authorDomain, organizationalReason: 'unknown: a query failed', reason: `the query for ${walk.dnsError.name} failed, so the policy cannot be known (RFC 9989 §4.10.1)` };
    }
    org = selectOrganizationalDomain(authorDomain, steps);
    const orgStep = steps.find((s) => s.outcome === 'record' && s.domain === org.domain);
    const psdStep = steps.find((s) => s.outcome === 'record' && s.psd === 'y');
    const chosen = orgStep ?? psdStep;
    if (chosen?.record !== undefined) {
      record = chosen.record;
      policyDomain = chosen.domain;
      source = chosen === orgStep && chosen.psd !== 'y' ? 'organizational' : 'public-suffix';
    }
  }
  if (record === undefined || policyDomain === undefined) {
    return { ...base, status: 'none', stop, organizationalDomain: org.domain, organizationalReason: org.reason, reason: 'no DMARC record applies to the Author Domain, so DMARC does not apply (RFC 9989 §4.10.1)' };
  }
  const values = readDmarcRecord(record);
  const found = { ...base, stop, policyDomain, record, values, source, organizationalDomain: org.domain, organizationalReason: org.reason };
  if (values.duplicateTags.length > 0) {
    return { ...found, status: 'none', reason: `the record at _dmarc.${policyDomain} has ${values.duplicateTags.map((n) => `${n}=`).join(', ')} more than once, which makes it invalid (RFC 9989 §4.7), so it states no policy and DMARC does not apply` };
  }
  if (values.p === undefined || values.invalidPolicyTag !== undefined) {
    if (values.validRua === 0) {
      return { ...found, status: 'none', reason: `the record at _dmarc.${policyDomain} has ${values.invalidPolicyTag ? `an invalid ${values.invalidPolicyTag}=` : 'no p='} and no valid rua= URI, so DMARC does not apply (RFC 9989 §4.10.1)` };
    }
    const applied: DmarcRequest = 'none';
    return { ...found, status: 'found', policy: 'none', policyTag: 'fallback', appliedPolicy: applied, reason: `the record at _dmarc.${policyDomain} has ${values.invalidPolicyTag ? `an invalid ${values.invalidPolicyTag}=` : 'no p='} but a valid rua=, so it counts as p=none (RFC 9989 §4.10.1)` };
  }
  let policy: DmarcRequest = values.p;
  let policyTag: DmarcDiscovery['policyTag'] = 'p';
  let authorExists: boolean | undefined;
  if (source !== 'author') {
    authorExists = await exists(authorDomain);
    if (authorExists && values.sp) {
      policy = values.sp;
      policyTag = 'sp';
    } else if (!authorExists && (values.np ?? values.sp)) {
      policy = (values.np ?? values.sp) as DmarcRequest;
      policyTag = values.np ? 'np' : 'sp';
    }
  }
  const appliedPolicy = values.t === 'y' ? LOWER[policy] : policy;
  const where = source === 'author' ? 'the Author Domain' : source === 'organizational' ? 'the Organizational Domain' : 'the Public Suffix Domain';
  return {
    ...found,
    status: 'found',
    policy,
    policyTag,
    appliedPolicy,
    authorExists,
    reason: `${policyTag}=${policy} of ${where}'s record at _dmarc.${policyDomain}${authorExists === false ? ` (${authorDomain} does not exist)` : ''}${values.t === 'y' && appliedPolicy !== policy ? `; t=y asks receivers to apply ${appliedPolicy}` : ''}`,
  };
}
