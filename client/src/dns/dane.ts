/**
 * Transport security of a domain: the DNSSEC status of the domain, its MX hosts and their TLSA
 * names (from a validating resolver, see dnssec.ts), and DANE for each MX (RFC 7672): TLSA lookup
 * with the CNAME rules of §2.2.2, usability (§3.1.3), and matching against the chain each MX
 * address presents after STARTTLS (tlsa.ts). The I/O (the resolver query, the chain prober, the
 * clock) is injected.
 */
import { finding, rfc } from './context';
import { decideResolverValidation, describeExtendedErrors, explainBogusData, explainTrustChain, lookupWithStatus, observeValidation, probeResolver, type DnssecStatus, type NameLookup, type ResolverValidation, type TrustChain, type ValidationProbes, type ZoneLink } from './dnssec';
import { type DnsRecord, type DnssecQuery, foreignAnswers, normaliseName, RR, rrTypeName } from './dnssecWire';
import { formatTlsa, type DaneVerification, type TlsaRecordData, unusableReason, verifyDane } from './tlsa';
import type { TlsChainProber } from './tlsChain';
import type { Finding, FindingSeverity, RawRecord, RecordRef } from './types';


export type DaneVerdict = 'authenticated' | 'failed' | 'no-tlsa' | 'tlsa-insecure' | 'tlsa-bogus' | 'no-usable-tlsa' | 'host-insecure' | 'not-probed' | 'indeterminate';

export interface AddressResult {
  address: string;
  /** Set when the chain was fetched and matched. */
  verification?: DaneVerification;
  error?: string;
}

export interface MxDane {
  host: string;
  preference: number;
  /** The address lookup (A, AAAA) status and CNAME chain. */
  addressStatus: DnssecStatus;
  cnameChain: string[];
  /** The name the TLSA records were found at (`_25._tcp.<base>`), and the base domain. */
  tlsaName?: string;
  tlsaBase?: string;
  tlsaStatus?: DnssecStatus;
  tlsa: TlsaRecordData[];
  addresses: AddressResult[];
  verdict: DaneVerdict;
  /** Where the chain of trust stops for the TLSA or host name, when it is not secure. */
  trust?: TrustChain;
  /** The resolver's Extended DNS Errors for a bogus answer (RFC 8914), described. */
  resolverSays?: string;
  /** Why the verdict is indeterminate. */
  note?: string;
  /** Set when the verdict is indeterminate because the TLSA lookup itself failed (RFC 7672 §2.1.1). */
  tlsaLookupFailed?: boolean;
  /** Records of the TLSA answer that answer another question (owner or type), ignored. */
  foreign?: string[];
  /** Whether the host name has A or AAAA records. */
  hasAddress: boolean;
}

export interface TransportSecurityReport {
  domain: string;
  resolver: ResolverValidation;
  domainStatus: DnssecStatus;
  domainTrust?: TrustChain;
  mxStatus: DnssecStatus;
  mx: MxDane[];
  dnssecFindings: Finding[];
  daneFindings: Finding[];
  /** The raw records (MX, TLSA), shown in reports. */
  records: RawRecord[];
}

export interface TransportSecurityOptions {
  domain: string;
  query: DnssecQuery;
  /** The resolver's address, named in the report as the one that vouched for answers. */
  resolverAddress: string;
  /** Fetches certificate chains; absent when the STARTTLS probe was not requested. */
  prober?: TlsChainProber;
  /** The SMTP port to probe (25; tests point it at a local server). */
  smtpPort?: number;
  nowMs: number;
  timeoutMs: number;
  /** How to tell whether the resolver validates when nothing in the domain is signed. */
  probes?: ValidationProbes;
}

const DAY = 86_400_000;

/** Runs the DNSSEC and DANE checks for a domain; never throws. */
export async function checkTransportSecurity(options: TransportSecurityOptions): Promise<TransportSecurityReport> {
  // Every answer asked without CD adds to the evidence of whether the resolver validates (dnssec.ts).
  const observed = observeValidation(options.query);
  const o: TransportSecurityOptions = { ...options, query: observed.query };
  const t = o.timeoutMs;
  const dnssecFindings: Finding[] = [];
  const daneFindings: Finding[] = [];
  const records: TransportSecurityReport['records'] = [];
  const mxLookup = await lookupWithStatus(o.query, o.domain, RR.MX, t);
  let hosts = mxLookup.records.filter((r) => r.mx && r.mx.exchange !== '').map((r) => r.mx!).sort((a, b) => a.priority - b.priority);
  // No MX records at all (not a null MX): the domain itself is the implicit MX (RFC 5321 §5.1), and
  // DANE applies to it as to any MX host (RFC 7672 §2.2.1).
  const implicit = mxLookup.records.length === 0 && mxLookup.rcode === 'NOERROR';
  if (implicit) hosts = [{ priority: 0, exchange: normaliseName(o.domain) }];
  for (const h of hosts) records.push({ name: mxLookup.chain[mxLookup.chain.length - 1], type: 'MX', data: `${h.priority} ${h.exchange}` });
  let mx = await Promise.all(hosts.map((h) => checkMxHost(o, h.exchange, h.priority, mxLookup.status, records)));
  if (implicit) mx = mx.filter((m) => m.hasAddress);
  // The probes the evidence leaves open go out while the domain's chain of trust is walked; whether
  // the resolver validates is decided after both, from every answer of the report (dnssec.ts).
  const probes = o.probes ?? {};
  const [probeAnswers, domainTrust] = await Promise.all([
    probeResolver(o.query, observed.evidence, probes, t),
    mxLookup.status === 'secure' ? Promise.resolve(undefined) : explainTrustChain(o.query, o.domain, o.nowMs, t),
  ]);
  const resolver = decideResolverValidation(o.resolverAddress, observed.evidence, probes, probeAnswers);
  const report: TransportSecurityReport = { domain: o.domain, resolver, domainStatus: mxLookup.status, domainTrust, mxStatus: mxLookup.status, mx, dnssecFindings, daneFindings, records };
  if (report.resolver.validates !== 'yes') {
    // Without a resolver known to validate, "no AD" means nothing (the docs promise it): insecure
    // becomes unknown, and no chain is explained, whether it does not validate or nobody can tell.
    const unknown = (s: DnssecStatus): DnssecStatus => (s === 'insecure' ? 'indeterminate' : s);
    const why = report.resolver.validates === 'no' ? `the resolver ${report.resolver.server} does not validate` : `it is not known whether the resolver ${report.resolver.server} validates`;
    report.domainStatus = unknown(report.domainStatus);
    report.mxStatus = unknown(report.mxStatus);
    report.domainTrust = undefined;
    for (const m of mx) {
      m.addressStatus = unknown(m.addressStatus);
      if (m.tlsaStatus) m.tlsaStatus = unknown(m.tlsaStatus);
      if (m.verdict === 'tlsa-insecure' || m.verdict === 'host-insecure') {
        m.verdict = 'indeterminate';
        m.trust = undefined;
        m.note = why;
      }
    }
  }
  dnssecFindingsFor(report, mxLookup);
  for (const m of mx) daneFindingsFor(m, o.nowMs, daneFindings);
  coverageFindings(report);
  return report;
}

/** What DNS says about DANE for one host: its address and TLSA lookups, with their DNSSEC status. */
export interface DaneLookup {
  host: string;
  address: NameLookup;
  tlsaLookup: NameLookup;
  /** The TLSA owner name and its base domain (the CNAME target when §2.2.2 says so). */
  tlsaName: string;
  tlsaBase: string;
  tlsa: TlsaRecordData[];
  /** The reference identifiers for DANE-TA name checks (RFC 7672 §3.2.2). */
  referenceNames: string[];
  /** Records of the TLSA answer that answer another question (owner name or type): ignored. */
  foreign: DnsRecord[];
}

/** A record of another question, in a few words: `evil.test A`. */
function describeForeign(r: DnsRecord): string {
  return `${r.name || '.'} ${rrTypeName(r.type)}`;
}

/**
 * Looks up TLSA for a host as RFC 7672 §2.2.2 and RFC 7671 §7 say: the address records first, with
 * their CNAME chain. When that chain is secure and goes through a CNAME, the fully expanded name is
 * the first candidate TLSA base domain; the initial (MX) name is the base domain only when the
 * expanded name has no TLSA records (securely denied, or not signed). A bogus or failed lookup at
 * the expanded name ends the search, as it does for Postfix: senders do not go on to the initial
 * name. `port` is 25 for MX delivery; a session to another port asks `_PORT._tcp`. The address and
 * the initial name's TLSA queries go out together to save a round trip. Never throws.
 */
export async function lookupDane(query: DnssecQuery, host: string, port: number, timeoutMs: number): Promise<DaneLookup> {
  const [a4, a6, tlsaInitial] = await Promise.all([
    lookupWithStatus(query, host, RR.A, timeoutMs),
    lookupWithStatus(query, host, RR.AAAA, timeoutMs),
    lookupWithStatus(query, `_${port}._tcp.${host}`, RR.TLSA, timeoutMs),
  ]);
  // The address status is the worse of A and AAAA; the records are both.
  const rank: Record<DnssecStatus, number> = { secure: 0, insecure: 1, indeterminate: 2, bogus: 3 };
  const worse = rank[a6.status] > rank[a4.status] ? a6 : a4;
  const a: NameLookup = { ...worse, records: [...a4.records, ...a6.records], chain: a4.chain.length >= a6.chain.length ? a4.chain : a6.chain };
  let tlsa: NameLookup = tlsaInitial;
  let base = a.chain[0];
  const expanded = a.chain[a.chain.length - 1];
  if (a.status === 'secure' && a.chain.length > 1) {
    const atExpanded = await lookupWithStatus(query, `_${port}._tcp.${expanded}`, RR.TLSA, timeoutMs);
    // "No TLSA" is an answer (not a failure) without records, or with unsigned ones senders ignore.
    const hasNone = (l: NameLookup): boolean => (l.status === 'secure' && l.records.length === 0) || l.status === 'insecure';
    // The expanded name decides unless it has none; then the initial name does. When neither has
    // any, the expanded name's unsigned records (if any) are the ones to report.
    if (!hasNone(atExpanded) || (atExpanded.records.length > 0 && hasNone(tlsaInitial) && tlsaInitial.records.length === 0)) {
      tlsa = atExpanded;
      base = expanded;
    }
  }
  const foreign = tlsa.message ? foreignAnswers(tlsa.message.answers, tlsa.chain, RR.TLSA) : [];
  return {
    host: a.chain[0],
    address: a,
    tlsaLookup: tlsa,
    tlsaName: `_${port}._tcp.${base}`,
    tlsaBase: base,
    tlsa: tlsa.records.filter((r) => r.tlsa).map((r) => r.tlsa!),
    referenceNames: [...new Set([base, a.chain[0]])],
    foreign,
  };
}

/**
 * Whether DANE applies to a host, for `TLS dane=on|only` in sessions: `usable` when secure TLSA
 * records with a DANE usage exist (verify with them instead of PKIX), else why not.
 */
export function daneApplies(d: DaneLookup): { applies: 'usable' | 'none' | 'unusable' | 'bogus' | 'insecure' | 'indeterminate'; reason: string } {
  if (d.address.status === 'bogus' || d.tlsaLookup.status === 'bogus') return { applies: 'bogus', reason: `the ${d.address.status === 'bogus' ? 'address' : 'TLSA'} lookup for ${d.host} is DNSSEC-bogus` };
  if (d.address.status === 'indeterminate' || d.tlsaLookup.status === 'indeterminate') return { applies: 'indeterminate', reason: d.address.note ?? d.tlsaLookup.note ?? 'the lookup failed' };
  if (d.address.status === 'insecure' || d.tlsaLookup.status === 'insecure') return { applies: 'insecure', reason: `${d.address.status === 'insecure' ? d.host : d.tlsaName} is not DNSSEC-signed, so DANE does not apply` };
  if (d.tlsa.length === 0 && d.foreign.length > 0) return { applies: 'indeterminate', reason: foreignOnlyNote(d.tlsaName, d.foreign) };
  if (d.tlsa.length === 0) return { applies: 'none', reason: `no TLSA records at ${d.tlsaName}` };
  const usable = d.tlsa.filter((r) => unusableReason(r) === undefined).length;
  if (usable === 0) return { applies: 'unusable', reason: `no TLSA record at ${d.tlsaName} is usable for SMTP: ${d.tlsa.map((r) => `${formatTlsa(r)}: ${unusableReason(r)}`).join('; ')}` };
  return { applies: 'usable', reason: `${usable} usable secure TLSA record(s) at ${d.tlsaName}` };
}

/** Why an answer with no TLSA records but records for another question proves nothing. */
function foreignOnlyNote(tlsaName: string, foreign: readonly DnsRecord[]): string {
  return `the answer for ${tlsaName} holds no TLSA records there, only records for another question (${foreign.map(describeForeign).join(', ')}), which are ignored; it does not prove that there are no TLSA records`;
}

async function checkMxHost(o: TransportSecurityOptions, host: string, preference: number, mxStatus: DnssecStatus, records: TransportSecurityReport['records']): Promise<MxDane> {
  const t = o.timeoutMs;
  const d = await lookupDane(o.query, host, 25, t);
  const a = d.address;
  const tlsa = d.tlsaLookup;
  const base = d.tlsaBase;
  const m: MxDane = { host, preference, addressStatus: a.status, cnameChain: a.chain, tlsaName: d.tlsaName, tlsaBase: base, tlsaStatus: tlsa.status, tlsa: d.tlsa, addresses: [], verdict: 'indeterminate', hasAddress: a.records.some((r) => r.a !== undefined) };
  if (d.foreign.length > 0) m.foreign = d.foreign.map(describeForeign);
  for (const r of m.tlsa) records.push({ name: d.tlsaName, type: 'TLSA', data: formatTlsa(r, true) });
  const addresses = a.records.filter((r) => r.a).map((r) => r.a!);
  if (a.status === 'bogus' || tlsa.status === 'bogus') {
    m.verdict = 'tlsa-bogus';
    m.trust = await explainTrustChain(o.query, a.status === 'bogus' ? host : d.tlsaName, o.nowMs, t);
    const dataNote = explainBogusData(a.status === 'bogus' ? a : tlsa, o.nowMs);
    if (dataNote && !m.trust.stop) {
      const link: ZoneLink = { zone: base, status: 'bogus', ds: [], dnskeys: [], matchedDs: [], problem: dataNote.text, problemCode: dataNote.code };
      m.trust.links.push(link);
      m.trust.stop = link;
    }
    const ede = [...a.extendedErrors, ...tlsa.extendedErrors];
    if (ede.length > 0) m.resolverSays = describeExtendedErrors(ede);
    return m;
  }
  if (a.status === 'indeterminate' || tlsa.status === 'indeterminate') {
    m.verdict = 'indeterminate';
    m.note = a.status === 'indeterminate' ? a.note : tlsa.note;
    // RFC 7672 §2.1.1: a TLSA lookup that fails (not a secure denial) makes DANE senders skip the host.
    if (a.status !== 'indeterminate') m.tlsaLookupFailed = true;
    return m;
  }
  if (a.status === 'insecure') {
    m.verdict = m.tlsa.length > 0 ? 'tlsa-insecure' : 'host-insecure';
    if (m.tlsa.length > 0 || mxStatus === 'secure') m.trust = await explainTrustChain(o.query, host, o.nowMs, t);
    return m;
  }
  if (m.tlsa.length === 0 && d.foreign.length > 0) {
    m.verdict = 'indeterminate';
    m.note = foreignOnlyNote(d.tlsaName, d.foreign);
    return m;
  }
  if (m.tlsa.length === 0) {
    m.verdict = 'no-tlsa';
    return m;
  }
  if (addresses.length === 0) {
    m.verdict = 'indeterminate';
    m.note = `${host} has no A or AAAA records`;
    return m;
  }
  if (tlsa.status === 'insecure') {
    m.verdict = 'tlsa-insecure';
    m.trust = await explainTrustChain(o.query, d.tlsaName, o.nowMs, t);
    return m;
  }
  // One decision for what is usable (tlsa.ts): usage, selector, matching type, digest length, data.
  if (m.tlsa.every((r) => unusableReason(r) !== undefined)) {
    m.verdict = 'no-usable-tlsa';
  }
  if (!o.prober) {
    if (m.verdict !== 'no-usable-tlsa') m.verdict = 'not-probed';
    return m;
  }
  const referenceNames = d.referenceNames;
  m.addresses = await Promise.all(
    addresses.map(async (address): Promise<AddressResult> => {
      const chain = await o.prober!.fetch({ host: base, address, port: o.smtpPort ?? 25, timeoutMs: t });
      if (!chain.ok) return { address, error: chain.error };
      return { address, verification: verifyDane(m.tlsa, chain.chainDer, referenceNames, o.nowMs) };
    }),
  );
  if (m.verdict !== 'no-usable-tlsa') {
    m.verdict = m.addresses.length > 0 && m.addresses.every((x) => x.verification?.authenticated === true) ? 'authenticated' : 'failed';
  }
  return m;
}

function trustFindings(trust: TrustChain | undefined, out: Finding[], severity: FindingSeverity): void {
  const stop = trust?.stop;
  if (!stop) return;
  const code = stop.problemCode ?? 'dnssec-chain';
  const link = code === 'dnssec-no-ds' || code === 'dnssec-ds-unsupported' || code === 'dnssec-ds-mismatch' || code === 'dnssec-dnskey-missing' ? rfc(4035, '5.2') : rfc(4035, '5.3.1');
  const ds = stop.ds.map((d) => `${stop.zone}. DS ${d.keyTag} ${d.algorithm} ${d.digestType} ${d.digest.toString('hex')}`).join('\n');
  // An insecure delegation (no DS, or only DS records validators cannot use: RFC 4035 §5.2, RFC 6840 §5.2) is not an error of the zone's own signing.
  out.push(finding(code === 'dnssec-no-ds' || code === 'dnssec-ds-unsupported' ? 'info' : severity, code, `${stop.zone}: ${stop.problem}`, link, ds ? { name: stop.zone, type: 'DS', text: ds } : undefined));
}

function dnssecFindingsFor(r: TransportSecurityReport, mxLookup: NameLookup): void {
  // The domain's chain of trust and each host's often stop at the same link: each finding once.
  const out: Finding[] = [];
  const v = r.resolver;
  if (v.validates === 'no') {
    out.push(finding('warning', 'dnssec-resolver-not-validating', `The resolver ${v.server} does not validate DNSSEC (${v.evidence}); every status below that would read insecure reads unknown. Use a validating resolver, as sending MTAs with DANE do.`, rfc(4035, '4.9.3')));
  } else if (v.validates === 'yes') {
    out.push(finding('pass', 'dnssec-resolver-validates', `The resolver ${v.server} validates DNSSEC (${v.evidence}); the statuses below are what it vouched for.`, rfc(4035, '3.2.3')));
  } else {
    out.push(finding('info', 'dnssec-resolver-unknown', `Could not tell whether the resolver ${v.server} validates DNSSEC (${v.evidence}).`, rfc(4035, '3.2.3')));
  }
  const d = r.domain;
  if (r.mxStatus === 'secure') out.push(finding('pass', 'dnssec-domain-secure', `The MX records of ${d} are signed and validate (secure).`, rfc(4035, '5')));
  else if (r.mxStatus === 'insecure') {
    out.push(finding('info', 'dnssec-domain-insecure', `The MX records of ${d} are not signed (insecure); an active attacker can change them, and DANE for its MX hosts protects only against passive attackers (RFC 7672 §2.2.1).`, rfc(7672, '2.2.1')));
    trustFindings(r.domainTrust, out, 'info');
  } else if (r.mxStatus === 'bogus') {
    out.push(finding('error', 'dnssec-domain-bogus', `The MX records of ${d} fail DNSSEC validation (bogus): validating senders cannot find the domain's mail servers and will defer mail.${mxLookup.extendedErrors.length ? ` The resolver says: ${describeExtendedErrors(mxLookup.extendedErrors)}.` : ''}`, rfc(4035, '5.5')));
    trustFindings(r.domainTrust, out, 'error');
  } else {
    const why = v.validates === 'no' ? `the resolver ${v.server} does not validate` : v.validates === 'unknown' && mxLookup.status === 'insecure' ? `it is not known whether the resolver ${v.server} validates` : (mxLookup.note ?? 'no answer');
    out.push(finding('warning', 'dnssec-indeterminate', `The DNSSEC status of ${d}'s MX records is unknown: ${why}.`, rfc(4035, '5')));
  }
  for (const m of r.mx) {
    if (m.addressStatus === 'bogus') out.push(finding('error', 'dnssec-host-bogus', `The address records of ${m.host} are bogus; validating senders cannot reach it.`, rfc(4035, '5.5')));
    if (m.tlsaStatus === 'bogus' && m.addressStatus !== 'bogus') out.push(finding('error', 'dnssec-tlsa-bogus', `The TLSA records at ${m.tlsaName} are bogus.`, rfc(7672, '2.2')));
    if (m.verdict === 'tlsa-bogus') trustFindings(m.trust, out, 'error');
  }
  const seen = new Set<string>();
  for (const f of out) {
    const key = `${f.code}\n${f.message}\n${f.record?.text ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    r.dnssecFindings.push(f);
  }
}

function daneFindingsFor(m: MxDane, nowMs: number, out: Finding[]): void {
  const tlsaName = m.tlsaName ?? m.host;
  const tlsaText = m.tlsa.map((r) => formatTlsa(r, true)).join('\n');
  // The whole RRset, for findings about the set; findings about one record show that record.
  const ref: RecordRef | undefined = tlsaText ? { name: tlsaName, type: 'TLSA', text: tlsaText } : undefined;
  const one = (r: TlsaRecordData): RecordRef => ({ name: tlsaName, type: 'TLSA', text: formatTlsa(r, true) });
  const via = m.cnameChain.length > 1 ? ` (${m.cnameChain.join(' → ')})` : '';
  if (m.foreign && m.foreign.length > 0 && m.tlsa.length > 0) {
    out.push(finding('info', 'dane-tlsa-foreign-records', `${tlsaName}: the answer also holds records for another question (${m.foreign.join(', ')}); they are ignored.`, rfc(1034, '4.3.2')));
  }
  switch (m.verdict) {
    case 'tlsa-bogus':
      out.push(finding('error', 'dane-tlsa-bogus', `${m.host}${via}: the ${m.addressStatus === 'bogus' ? 'address' : 'TLSA'} lookup is bogus${m.resolverSays ? ` (the resolver says: ${m.resolverSays})` : ''}; DANE senders must not deliver to this host and will defer mail (RFC 7672 §2.1.1).`, rfc(7672, '2.1.1')));
      return;
    case 'tlsa-insecure':
      out.push(finding('warning', 'dane-tlsa-insecure', `${m.host}${via}: TLSA records are published at ${m.tlsaName}, but ${m.addressStatus === 'insecure' ? 'the host name is' : 'they are'} not DNSSEC-signed (insecure). DANE does not apply: senders ignore these records.`, rfc(7672, '2.2'), ref));
      return;
    case 'host-insecure':
      out.push(finding('info', 'dane-host-insecure', `${m.host}${via}: the host name is in an unsigned zone, so senders do not look for TLSA records (RFC 7672 §2.2.2).`, rfc(7672, '2.2.2')));
      return;
    case 'no-tlsa':
      out.push(finding('info', 'dane-no-tlsa', `${m.host}${via}: no TLSA records at ${m.tlsaName} (${m.tlsaStatus === 'secure' ? 'securely denied' : 'in an unsigned zone'}); DANE is not used for this host.`, rfc(7672, '2.2')));
      return;
    case 'indeterminate':
      if (m.tlsaLookupFailed) {
        // RFC 7672 §2.1.1: a failed TLSA lookup is not a denial; DANE senders skip the host (and defer
        // when no other MX host is usable) rather than fall back to unauthenticated TLS.
        out.push(finding('error', 'dane-tlsa-lookup-failed', `${m.host}${via}: the TLSA lookup at ${m.tlsaName} failed (${m.note ?? 'no answer'}); DANE senders cannot tell whether DANE applies, so they skip this host and defer mail when no other MX host is usable (RFC 7672 §2.1.1).`, rfc(7672, '2.1.1')));
      } else {
        out.push(finding('warning', 'dane-indeterminate', `${m.host}: ${m.note ?? 'the TLSA or address lookup failed'}, so the DANE status is unknown.`, rfc(7672, '2.2')));
      }
      return;
    default:
      break;
  }
  // Each record senders ignore, with the reason of the one decision in tlsa.ts.
  for (const r of m.tlsa) {
    const why = unusableReason(r);
    if (why === undefined) continue;
    if (r.usage === 0 || r.usage === 1) {
      out.push(finding('warning', 'dane-tlsa-pkix-usage', `${tlsaName}: TLSA ${formatTlsa(r)} is ignored by SMTP senders: ${why}.`, rfc(7672, '3.1.3'), one(r)));
    } else {
      out.push(finding('warning', 'dane-tlsa-unusable', `${tlsaName}: TLSA ${formatTlsa(r)} is ignored by senders: ${why}.`, rfc(6698, '2.1'), one(r)));
    }
  }
  const usable = m.tlsa.filter((r) => unusableReason(r) === undefined);
  if (usable.some((r) => r.usage === 3 && r.selector === 0)) {
    // RFC 7671 §5.1 and RFC 7672 §3.1.1 recommend "3 1 1": a key digest survives certificate renewals.
    out.push(finding('info', 'dane-ee-cert-selector', `${tlsaName}: a DANE-EE record with selector 0 (the whole certificate) must change at every renewal; "3 1 1" (the public key) survives renewals with the same key.`, rfc(7671, '5.1'), ref));
  }
  if (m.verdict === 'no-usable-tlsa') {
    // RFC 7672 §2.2: secure TLSA records that are all unusable still make TLS mandatory, without
    // authentication: senders deliver over any TLS, and an active attacker with a certificate of
    // his own is not stopped.
    out.push(finding('warning', 'dane-no-usable-tlsa', `${m.host}: TLSA records exist at ${tlsaName} but none is usable for SMTP; DANE senders then require STARTTLS without authenticating the server (RFC 7672 §2.2), so the records give no protection against an active attacker.`, rfc(7672, '2.2'), ref));
    for (const addr of m.addresses) {
      if (addr.verification) continue;
      out.push(finding('error', 'dane-starttls-failed', `${m.host} (${addr.address}): ${addr.error ?? 'no TLS'}; with secure TLSA records DANE senders require STARTTLS, even when no record is usable, and will defer mail.`, rfc(7672, '2.2')));
    }
    return;
  }
  if (m.verdict === 'not-probed') {
    out.push(finding('info', 'dane-not-probed', `${m.host}: ${m.tlsa.length} TLSA record(s) at ${tlsaName}, secure; run with the STARTTLS probe to match them against the certificates.`, rfc(7672, '3'), ref));
    return;
  }
  for (const addr of m.addresses) {
    const where = `${m.host} (${addr.address})`;
    if (!addr.verification) {
      out.push(finding('error', 'dane-starttls-failed', `${where}: ${addr.error ?? 'no TLS'}; with secure TLSA records DANE senders require STARTTLS and will defer mail.`, rfc(7672, '2.2')));
      continue;
    }
    const v = addr.verification;
    for (const o of v.outcomes) {
      if (o.unusable) continue;
      if (o.matchedDepth !== undefined && !o.matchRejected) {
        const c = v.chain[o.matchedDepth];
        out.push(finding('pass', 'dane-tlsa-match', `${where}: TLSA ${o.text} matches ${o.matchedDepth === 0 ? 'the server certificate' : `the issuer at depth ${o.matchedDepth}`} (${c?.subject ?? ''}).`, rfc(7672, '3'), one(o.record)));
      } else if (o.matchedDepth !== undefined) {
        out.push(finding('error', 'dane-ta-rejected', `${where}: TLSA ${o.text} matches the certificate at depth ${o.matchedDepth}, but ${o.matchRejected}.`, rfc(7672, '3.2'), one(o.record)));
      } else if (v.authenticated) {
        out.push(finding('info', 'dane-tlsa-unmatched', `${where}: TLSA ${o.text} matches no certificate in the chain; beside a matching record this is usually the next key or issuer of a rollover.`, rfc(7671, '8.1'), one(o.record)));
      } else {
        // RFC 7671 §5.2.2: a server with DANE-TA records must send the trust anchor in its chain,
        // and the trust anchor is an issuer: a DANE-TA record that matches the leaf matches nothing.
        const hint = o.matchesLeafOnly
          ? ' It matches the server certificate itself, but a DANE-TA record names an issuer above it (RFC 7671 §5.2.2): publish the server certificate as DANE-EE ("3 1 1") or name its issuer.'
          : o.record.usage === 2 && v.chain.length === 1 ? ' The server sends only its own certificate; a DANE-TA record needs the issuer certificate in the chain it sends (RFC 7671 §5.2.2).' : '';
        out.push(finding('error', 'dane-tlsa-mismatch', `${where}: TLSA ${o.text} matches no certificate in the chain.${hint}`, rfc(7672, '3'), one(o.record)));
      }
    }
    if (!v.authenticated) {
      out.push(finding('error', 'dane-authentication-failed', `${where}: no usable TLSA record matches the certificate chain; DANE senders will not deliver to this host (RFC 7672 §2.2). ${v.summary}`, rfc(7672, '2.2'), ref));
      continue;
    }
    const leaf = v.chain[0];
    if (leaf && leaf.expiresAt < nowMs) {
      const severity: FindingSeverity = v.matched?.record.usage === 2 ? 'error' : 'warning';
      out.push(finding(severity, 'dane-cert-expired', `${where}: the server certificate expired on ${leaf.validTo}${severity === 'warning' ? '; DANE-EE senders ignore expiry (RFC 7672 §3.1.1), but MTA-STS and PKIX senders do not' : ''}.`, rfc(7672, '3.1.1')));
    } else if (leaf && leaf.expiresAt - nowMs < 14 * DAY) {
      out.push(finding('warning', 'dane-cert-expiring', `${where}: the server certificate expires on ${leaf.validTo}; publish the TLSA record for its successor before replacing it.`, rfc(7671, '8.1')));
    }
    // Rollover readiness (RFC 7671 §8.1, §8.4): a second usable record beside the matching one.
    const matchingRecords = v.outcomes.filter((o) => !o.unusable && o.matchedDepth !== undefined && !o.matchRejected).length;
    const spare = v.usableCount - matchingRecords;
    const hasTa = v.outcomes.some((o) => !o.unusable && o.record.usage === 2 && o.matchedDepth !== undefined && !o.matchRejected);
    if (spare > 0 || hasTa) {
      out.push(finding('pass', 'dane-rollover-ready', `${where}: ready for a key or certificate change: ${spare > 0 ? `${spare} more usable record(s) are published beside the one that matches` : 'a DANE-TA record survives a change of the server key within the same issuer'}.`, rfc(7671, '8.1')));
    } else {
      out.push(finding('warning', 'dane-rollover-not-ready', `${where}: only one record matches and no other is published; a new key or certificate breaks delivery from DANE senders until DNS catches up. Publish the next key's "3 1 1" (or the issuer's "2 1 1") beside the current one.`, rfc(7671, '8.1')));
    }
  }
}

function coverageFindings(r: TransportSecurityReport): void {
  const withDane = r.mx.filter((m) => m.verdict === 'authenticated' || m.verdict === 'failed' || m.verdict === 'not-probed' || m.verdict === 'no-usable-tlsa');
  const without = r.mx.filter((m) => m.verdict === 'no-tlsa' || m.verdict === 'tlsa-insecure' || m.verdict === 'host-insecure');
  if (withDane.length > 0 && without.length > 0) {
    r.daneFindings.push(finding('warning', 'dane-partial', `DANE is published for ${withDane.map((m) => m.host).join(', ')} but not for ${without.map((m) => m.host).join(', ')}; an attacker can steer senders to the hosts without it.`, rfc(7672, '2.2.1')));
  }
  if (r.mx.length > 0 && withDane.length === r.mx.length && r.mx.every((m) => m.verdict === 'authenticated')) {
    r.daneFindings.push(finding('pass', 'dane-ok', `Every MX host of ${r.domain} authenticates with DANE.`, rfc(7672, '2')));
  }
}

/** Whether the report shows DANE in use for any MX (for the consistency checks). */
export function daneInUse(r: TransportSecurityReport): boolean {
  return r.mx.some((m) => m.tlsa.length > 0 && m.tlsaStatus === 'secure');
}
