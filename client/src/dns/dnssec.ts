/**
 * DNSSEC status of names, learnt from a validating resolver's AD bit (RFC 4035 §3.2.3, RFC 6840 §5.8),
 * and an explanation of where the chain of trust stops, from DS and DNSKEY records fetched with CD set
 * (RFC 4035 §3.2.2) at each zone cut.
 *
 * Why the AD bit and not validation in process: a sending MTA (Postfix, Exim) trusts its validating
 * resolver's AD bit, so the question a report must answer is "what will a sender that uses this
 * resolver conclude"; the report names the resolver that vouched. Validation in process would need
 * every algorithm, NSEC/NSEC3 proofs and a root trust anchor kept current (RFC 5011), and would still
 * disagree with the resolver senders use. What the AD bit cannot say (why a zone is bogus) is
 * explained here from raw DS/DNSKEY/RRSIG data: digests are recomputed and validity times compared,
 * which needs no signature verification.
 */
import { createHash } from 'node:crypto';
import { answerRecords, type DnskeyData, type DnsMessage, type DnsOutcome, type DnsRecord, type DnssecQuery, type DsData, EDE_NAMES, encodeName, type ExtendedError, normaliseName, RCODE_NAMES, RR, rrTypeName } from './dnssecWire';

export type DnssecStatus = 'secure' | 'insecure' | 'bogus' | 'indeterminate';

export interface NameLookup {
  name: string;
  type: number;
  status: DnssecStatus;
  /** The RCODE name of the validated query (NOERROR, NXDOMAIN, SERVFAIL, ...), or undefined when none came. */
  rcode?: string;
  /** The records of the asked type at the end of the CNAME chain (from the CD query when bogus). */
  records: DnsRecord[];
  /** The owner names from the asked name through each CNAME. */
  chain: string[];
  /** Extended DNS Errors the resolver attached (RFC 8914). */
  extendedErrors: ExtendedError[];
  /** Why the status is indeterminate, or a note on bogus data. */
  note?: string;
  /** The whole validated answer, for DANE's CNAME rules. */
  message?: DnsMessage;
}

/** Asks the validating resolver and classifies the answer; never throws. */
export async function lookupWithStatus(query: DnssecQuery, name: string, type: number, timeoutMs: number): Promise<NameLookup> {
  const base = { name: normaliseName(name), type, records: [] as DnsRecord[], chain: [normaliseName(name)], extendedErrors: [] as ExtendedError[] };
  const r = await query(name, type, { timeoutMs });
  if (!r.ok) return { ...base, status: 'indeterminate', note: r.error };
  const m = r.message;
  const rcode = RCODE_NAMES[m.rcode] ?? `RCODE ${m.rcode}`;
  if (m.rcode === 0 || m.rcode === 3) {
    const { problem, ...a } = answerRecords(m, name, type);
    // A CNAME chain that cannot be followed to its end (a loop, too long) leaves the answer unknown, never "no records".
    if (problem) return { ...base, chain: a.chain, rcode, status: 'indeterminate', extendedErrors: m.extendedErrors, note: problem };
    return { ...base, ...a, rcode, status: m.ad ? 'secure' : 'insecure', extendedErrors: m.extendedErrors, message: m };
  }
  if (m.rcode === 2) {
    // A validating resolver says SERVFAIL for bogus data; with CD set it hands the data over anyway
    // (RFC 4035 §3.2.2). When the CD query works, the failure is DNSSEC; when it fails too, it is not.
    const cd = await query(name, type, { timeoutMs, cd: true });
    if (cd.ok && (cd.message.rcode === 0 || cd.message.rcode === 3)) {
      const { problem, ...a } = answerRecords(cd.message, name, type);
      if (problem) return { ...base, chain: a.chain, rcode, status: 'indeterminate', extendedErrors: m.extendedErrors, note: `SERVFAIL, and with CD set ${problem}` };
      return { ...base, ...a, rcode, status: 'bogus', extendedErrors: m.extendedErrors, message: cd.message };
    }
    const why = cd.ok ? `SERVFAIL, and ${RCODE_NAMES[cd.message.rcode] ?? cd.message.rcode} with CD set` : `SERVFAIL, and with CD set: ${cd.error}`;
    return { ...base, rcode, status: 'indeterminate', extendedErrors: m.extendedErrors, note: why };
  }
  return { ...base, rcode, status: 'indeterminate', extendedErrors: m.extendedErrors, note: `the resolver answered ${rcode}` };
}

/** Describes Extended DNS Errors for a message ("DNSSEC Bogus (6): text"). */
export function describeExtendedErrors(errors: readonly ExtendedError[]): string {
  return errors.map((e) => `${EDE_NAMES[e.code] ?? 'EDE'} (${e.code})${e.text ? `: ${e.text}` : ''}`).join('; ');
}

/** The DS digest of a DNSKEY (RFC 4034 §5.1.4, RFC 4509 §2.1, RFC 6605 §3); undefined for unknown types. */
export function dsDigest(owner: string, dnskeyRdata: Buffer, digestType: number): Buffer | undefined {
  const alg = digestType === 1 ? 'sha1' : digestType === 2 ? 'sha256' : digestType === 4 ? 'sha384' : undefined;
  const wire = encodeName(owner);
  if (!alg || !wire) return undefined;
  return createHash(alg).update(wire).update(dnskeyRdata).digest();
}

/** One zone on the way up from a name, with what its parent and the zone itself publish. */
export interface ZoneLink {
  zone: string;
  /** secure: the resolver validates the zone's DNSKEY set; the walk stops there. */
  status: DnssecStatus;
  ds: DsData[];
  dnskeys: DnskeyData[];
  /** `keyTag/algorithm` of the DS records that match a DNSKEY by digest. */
  matchedDs: string[];
  /** What is wrong at this link, in one sentence, or undefined. */
  problem?: string;
  /** A stable code for the problem. */
  problemCode?: 'dnssec-no-ds' | 'dnssec-ds-unsupported' | 'dnssec-ds-mismatch' | 'dnssec-dnskey-missing' | 'dnssec-signature-expired' | 'dnssec-signature-not-yet-valid' | 'dnssec-rrsig-missing' | 'dnssec-zone-bogus' | 'dnssec-lookup-failed';
}

export interface TrustChain {
  links: ZoneLink[];
  /** The link where the chain of trust stops (insecure delegation or a failure), if any. */
  stop?: ZoneLink;
}

/**
 * The DNSKEY algorithms a validator may use (RFC 8624 §3.1: RSASHA1, RSASHA1-NSEC3-SHA1, RSASHA256,
 * RSASHA512, ECDSA P-256 and P-384, Ed25519, Ed448); RSAMD5, DSA and ECC-GOST must not be used.
 */
const VALIDATING_ALGORITHMS = new Set([5, 7, 8, 10, 13, 14, 15, 16]);

/** Why a DS record cannot be used by a validator (RFC 4035 §5.2, RFC 6840 §5.2), or undefined. */
export function dsUnsupported(d: DsData): string | undefined {
  if (!VALIDATING_ALGORITHMS.has(d.algorithm)) return `algorithm ${d.algorithm} is not one validators use`;
  if (d.digestType !== 1 && d.digestType !== 2 && d.digestType !== 4) return `digest type ${d.digestType} is not one validators support`;
  return undefined;
}

function dsLabel(d: DsData): string {
  return `DS ${d.keyTag} ${d.algorithm} ${d.digestType} ${d.digest.toString('hex').slice(0, 16)}…`;
}

/** Checks the RRSIGs that cover `type` at `owner` in a message against the clock (RFC 4035 §5.3.1). */
export function signatureTimes(message: DnsMessage, owner: string, type: number, nowSeconds: number): 'ok' | 'missing' | 'expired' | 'not-yet-valid' {
  const sigs = message.answers.filter((r) => r.type === RR.RRSIG && r.name === owner && r.rrsig?.typeCovered === type);
  if (sigs.length === 0) return 'missing';
  // RRSIG times are serial-number arithmetic on 32 bits (RFC 4034 §3.1.5); now is compared as such.
  const after = (a: number, b: number): boolean => ((a - b) | 0) > 0;
  if (sigs.some((s) => !after(s.rrsig!.inception, nowSeconds) && !after(nowSeconds, s.rrsig!.expiration))) return 'ok';
  if (sigs.every((s) => after(nowSeconds, s.rrsig!.expiration))) return 'expired';
  return 'not-yet-valid';
}

/** Finds the zone that holds `name`: the SOA owner from an answer or the authority section. */
async function zoneOf(query: DnssecQuery, name: string, timeoutMs: number): Promise<string | undefined> {
  const r = await query(name, RR.SOA, { timeoutMs, cd: true });
  if (!r.ok) return undefined;
  const n = normaliseName(name);
  const apex = r.message.answers.find((x) => x.type === RR.SOA && x.name === n);
  if (apex) return n;
  const soa = r.message.authority.find((x) => x.type === RR.SOA && (n === x.name || n.endsWith(`.${x.name}`) || x.name === ''));
  return soa?.name;
}

/**
 * Walks from the zone of `name` towards the root until a zone whose DNSKEY set validates, and says
 * where the chain of trust stops: a delegation without DS (insecure), a DS that matches no DNSKEY,
 * a DNSKEY set that is missing, or signatures out of their validity period. Each zone costs one
 * round of four parallel queries.
 */
export async function explainTrustChain(query: DnssecQuery, name: string, nowMs: number, timeoutMs: number): Promise<TrustChain> {
  const links: ZoneLink[] = [];
  let zone = await zoneOf(query, name, timeoutMs);
  const now = Math.floor(nowMs / 1000);
  for (let depth = 0; zone !== undefined && depth < 12; depth++) {
    const z: string = zone;
    const [keysValidated, keysRaw, dsRaw, dsValidated] = await Promise.all([
      query(z, RR.DNSKEY, { timeoutMs }),
      query(z, RR.DNSKEY, { timeoutMs, cd: true }),
      query(z, RR.DS, { timeoutMs, cd: true }),
      query(z, RR.DS, { timeoutMs }),
    ]);
    const dnskeyRecords = keysRaw.ok ? keysRaw.message.answers.filter((r) => r.type === RR.DNSKEY && r.name === z && r.dnskey) : [];
    const dnskeys = dnskeyRecords.map((r) => r.dnskey!);
    const ds = dsRaw.ok ? dsRaw.message.answers.filter((r) => r.type === RR.DS && r.name === z && r.ds).map((r) => r.ds!) : [];
    const matchedDs = ds
      .filter((d) => dnskeyRecords.some((k) => k.dnskey!.keyTag === d.keyTag && k.dnskey!.algorithm === d.algorithm && dsDigest(z, k.rdata, d.digestType)?.equals(d.digest) === true))
      .map((d) => `${d.keyTag}/${d.algorithm}`);
    const link: ZoneLink = { zone: z, status: 'indeterminate', ds, dnskeys, matchedDs };
    links.push(link);
    if (keysValidated.ok && keysValidated.message.rcode === 0 && keysValidated.message.ad) {
      link.status = 'secure';
      break;
    }
    const parentFailed = dsValidated.ok && dsValidated.message.rcode === 2;
    // A DS set in which no record has an algorithm and digest type a validator supports makes the
    // zone insecure, not bogus (RFC 4035 §5.2, RFC 6840 §5.2): it is not a mismatch.
    const unsupported = ds.map(dsUnsupported);
    if (ds.length > 0 && unsupported.every((why) => why !== undefined)) {
      link.status = 'insecure';
      link.problemCode = 'dnssec-ds-unsupported';
      link.problem = `The parent publishes only DS records that validators cannot use for ${z} (${ds.map((d, i) => `${dsLabel(d)}: ${unsupported[i]}`).join('; ')}): validators treat ${z} as insecure, so the chain of trust stops here.`;
      break;
    }
    if (ds.length === 0) {
      if (dsValidated.ok && dsValidated.message.ad && (dsValidated.message.rcode === 0 || dsValidated.message.rcode === 3)) {
        link.status = 'insecure';
        link.problemCode = 'dnssec-no-ds';
        link.problem = `The parent of ${z || 'the root'} proves that there is no DS record for it: the chain of trust stops here, and everything in ${z} is insecure${dnskeys.length > 0 ? ' although the zone publishes DNSKEY records' : ''}.`;
        break;
      }
      if (!dsValidated.ok || !keysRaw.ok) {
        link.problemCode = 'dnssec-lookup-failed';
        link.problem = `The DS or DNSKEY lookup for ${z} failed: ${!dsValidated.ok ? dsValidated.error : !keysRaw.ok ? keysRaw.error : ''}.`;
        break;
      }
      // No DS, and the parent's answer is not validated either: the break is further up.
      link.status = parentFailed ? 'bogus' : 'insecure';
    } else if (dnskeys.length === 0) {
      link.status = 'bogus';
      link.problemCode = 'dnssec-dnskey-missing';
      link.problem = `The parent publishes ${ds.map(dsLabel).join(', ')} for ${z}, but ${z} answers no DNSKEY records.`;
      break;
    } else if (matchedDs.length === 0) {
      link.status = 'bogus';
      link.problemCode = 'dnssec-ds-mismatch';
      const usable = ds.filter((d, i) => unsupported[i] === undefined);
      link.problem = `No DNSKEY of ${z} (key tags ${dnskeys.map((k) => `${k.keyTag}/${k.algorithm}`).join(', ')}) matches the parent's ${usable.map(dsLabel).join(', ')}.`;
      break;
    } else if (keysRaw.ok) {
      const times = signatureTimes(keysRaw.message, z, RR.DNSKEY, now);
      if (times !== 'ok') {
        link.status = 'bogus';
        link.problemCode = times === 'missing' ? 'dnssec-rrsig-missing' : times === 'expired' ? 'dnssec-signature-expired' : 'dnssec-signature-not-yet-valid';
        link.problem = times === 'missing' ? `The DNSKEY set of ${z} is not signed.` : `The signatures over the DNSKEY set of ${z} are ${times === 'expired' ? 'expired' : 'not yet valid'}.`;
        break;
      }
      if (!parentFailed) {
        link.status = 'bogus';
        link.problemCode = 'dnssec-zone-bogus';
        link.problem = `The parent's DS matches a DNSKEY of ${z} and the signatures are within their validity period, yet the resolver does not validate the DNSKEY set: a signature does not verify.`;
        break;
      }
    }
    if (z === '') break;
    // The parent zone: the signer of the DS set, or the SOA of the DS answer's authority section.
    const signer = dsRaw.ok ? dsRaw.message.answers.find((r) => r.type === RR.RRSIG && r.rrsig?.typeCovered === RR.DS)?.rrsig?.signer : undefined;
    const soa = dsRaw.ok ? dsRaw.message.authority.find((r) => r.type === RR.SOA)?.name : undefined;
    const parent = signer ?? soa;
    zone = parent !== undefined && parent !== z && (z.endsWith(`.${parent}`) || parent === '') ? parent : undefined;
  }
  const stop = links.find((l) => l.problem !== undefined);
  return stop ? { links, stop } : { links };
}

/**
 * Explains why a name's data is bogus although its zone's keys validate: the RRSIGs over the data
 * itself are missing or out of date (from the CD answer).
 */
export function explainBogusData(lookup: NameLookup, nowMs: number): { code: NonNullable<ZoneLink['problemCode']>; text: string } | undefined {
  if (lookup.status !== 'bogus' || !lookup.message) return undefined;
  const owner = lookup.chain[lookup.chain.length - 1];
  const has = lookup.message.answers.some((r) => r.name === owner && r.type === lookup.type);
  if (!has) return undefined;
  const times = signatureTimes(lookup.message, owner, lookup.type, Math.floor(nowMs / 1000));
  if (times === 'ok') return undefined;
  if (times === 'missing') return { code: 'dnssec-rrsig-missing', text: `The records at ${owner} carry no signature.` };
  return times === 'expired'
    ? { code: 'dnssec-signature-expired', text: `The signatures over the records at ${owner} are expired.` }
    : { code: 'dnssec-signature-not-yet-valid', text: `The signatures over the records at ${owner} are not yet valid.` };
}

/** Whether the configured resolver validates, and the evidence. */
export interface ResolverValidation {
  server: string;
  validates: 'yes' | 'no' | 'unknown';
  evidence: string;
}

export interface ValidationProbes {
  /** A name (and type) known to be signed: a validating resolver sets AD on it. */
  secure?: { name: string; type: number };
  /** A name known to be bogus: a validating resolver answers SERVFAIL. */
  bogus?: { name: string; type: number };
}

/**
 * The public probes: the root zone's DNSKEY set is signed, and dnssec-failed.org is kept bogus on
 * purpose by its operator as a test for validating resolvers.
 */
export const PUBLIC_VALIDATION_PROBES: ValidationProbes = { secure: { name: '', type: RR.DNSKEY }, bogus: { name: 'dnssec-failed.org', type: RR.A } };

/**
 * What the report's own answers said about the resolver. An answer that carries RRSIGs over its data
 * but no AD bit came from a signed zone that the resolver did not vouch for: either the resolver does
 * not validate, or the zone hangs below an insecure delegation. Which one is decided in
 * `decideResolverValidation`; until then such answers prove nothing about the zone being unsigned.
 */
export interface ValidationEvidence {
  /** Some answer (asked without CD) carried the AD bit. */
  ad: boolean;
  /** The first answer that carried it. */
  adOn?: { name: string; type: number };
  /** Answers (asked without CD, NOERROR) that carried RRSIGs but no AD. */
  signedWithoutAd: Array<{ name: string; type: number; signer: string; authoritative: boolean }>;
  /**
   * Questions the resolver answered SERVFAIL without CD and with data (NOERROR or NXDOMAIN) with CD
   * set: it refused bogus data it holds, which only a validating resolver does (RFC 4035 §3.2.2).
   */
  refused?: Array<{ name: string; type: number }>;
}

/**
 * Wraps a resolver's query function so that every answer adds to the evidence of whether the
 * resolver validates: the AD bit and signed data without it (answers asked without CD, RFC 4035
 * §3.2.3), and a question refused without CD yet answered with it (§3.2.2), in whichever order the
 * two answers come. Every query of a report goes through it (the lookups, the chain-of-trust walk),
 * so the decision sees all of them. Pass `query` to the lookups and `evidence` to
 * `checkResolverValidates` or `decideResolverValidation`.
 */
export function observeValidation(inner: DnssecQuery): { query: DnssecQuery; evidence: ValidationEvidence } {
  const evidence: ValidationEvidence = { ad: false, signedWithoutAd: [], refused: [] };
  const servfail = new Set<string>();
  const dataWithCd = new Set<string>();
  const query: DnssecQuery = async (name, type, options) => {
    const r = await inner(name, type, options);
    if (!r.ok) return r;
    const key = `${type} ${normaliseName(name)}`;
    const data = r.message.rcode === 0 || r.message.rcode === 3;
    if (options.cd === true) {
      if (data) dataWithCd.add(key);
    } else if (r.message.rcode === 2) {
      servfail.add(key);
    } else if (data) {
      if (r.message.ad) {
        evidence.ad = true;
        evidence.adOn ??= { name: normaliseName(name), type };
      } else {
        const sig = [...r.message.answers, ...r.message.authority].find((x) => x.type === RR.RRSIG && x.rrsig);
        if (sig) evidence.signedWithoutAd.push({ name: normaliseName(name), type, signer: sig.rrsig!.signer, authoritative: r.message.aa });
      }
    }
    if (servfail.has(key) && dataWithCd.has(key) && !evidence.refused!.some((x) => x.type === type && x.name === normaliseName(name))) {
      evidence.refused!.push({ name: normaliseName(name), type });
    }
    return r;
  };
  return { query, evidence };
}

/** What the probes of `probeResolver` answered; each absent when it was not sent. */
export interface ValidationProbeAnswers {
  secure?: DnsOutcome;
  bogus?: DnsOutcome;
  /** The DS of the zone that signed data answered without AD. */
  signerDs?: DnsOutcome;
}

/** The first thing the evidence alone decides, or undefined when it decides nothing. */
function decidedByEvidence(server: string, evidence: ValidationEvidence): ResolverValidation | undefined {
  const label = (n: string): string => (n === '' ? 'the root zone' : n);
  if (evidence.ad) return { server, validates: 'yes', evidence: evidence.adOn ? `it set the AD bit on the ${rrTypeName(evidence.adOn.type)} answer for ${label(evidence.adOn.name)}` : 'it set the AD bit on answers for this domain' };
  const authoritative = evidence.signedWithoutAd.find((e) => e.authoritative);
  if (authoritative) {
    return {
      server,
      validates: 'no',
      evidence: `it answered ${label(authoritative.name)} as an authoritative server (AA), with DNSSEC signatures but without the AD bit: it serves zones, it does not validate them`,
    };
  }
  const refused = evidence.refused?.[0];
  if (refused) return { server, validates: 'yes', evidence: `it refused the bogus answer for ${label(refused.name)} (SERVFAIL) and handed it over with the CD bit set` };
  return undefined;
}

/**
 * Sends the probes that the evidence so far leaves open: the known-signed and known-bogus names, and
 * the DS of the zone that signed data answered without AD. Sends nothing when the evidence already
 * decides. Never throws.
 */
export async function probeResolver(query: DnssecQuery, evidence: ValidationEvidence, probes: ValidationProbes, timeoutMs: number): Promise<ValidationProbeAnswers> {
  if (decidedByEvidence('', evidence)) return {};
  const signed = evidence.signedWithoutAd[0];
  const [secure, bogus, signerDs] = await Promise.all([
    probes.secure ? query(probes.secure.name, probes.secure.type, { timeoutMs }) : Promise.resolve(undefined),
    probes.bogus ? query(probes.bogus.name, probes.bogus.type, { timeoutMs }) : Promise.resolve(undefined),
    signed && signed.signer !== '' ? query(signed.signer, RR.DS, { timeoutMs }) : Promise.resolve(undefined),
  ]);
  return { ...(secure ? { secure } : {}), ...(bogus ? { bogus } : {}), ...(signerDs ? { signerDs } : {}) };
}

/**
 * Whether the resolver validates: the one decision, for `checkResolverValidates` and the DNSSEC and
 * DANE report (dane.ts), made from all the evidence gathered (read it after every query of the report
 * has been answered) and the probes' answers. The report's own answers come first: an AD bit means it
 * validates; signed data answered authoritatively (AA) without AD means the server is an
 * authoritative server, which vouches for nothing (RFC 4035 §3.1.6, §3.2.3); a bogus answer refused
 * and handed over with CD means it validates (§3.2.2). Then the probes: the known-bogus name answered
 * NOERROR, the AD bit (or none) on the known-signed name, and an AD bit on the DS of the zone that
 * signed data answered without AD (that zone then sits below an insecure delegation). When nothing
 * decides, the answer is "unknown", never "no AD, so insecure": callers treat every "insecure" as
 * unknown then.
 */
export function decideResolverValidation(server: string, evidence: ValidationEvidence, probes: ValidationProbes, answers: ValidationProbeAnswers): ResolverValidation {
  const decided = decidedByEvidence(server, evidence);
  if (decided) return decided;
  const label = (n: string): string => (n === '' ? 'the root zone' : n);
  const { secure: sec, bogus: bog, signerDs } = answers;
  if (bog?.ok && bog.message.rcode === 0 && probes.bogus) return { server, validates: 'no', evidence: `it answered the known-bogus ${label(probes.bogus.name)} with NOERROR` };
  if (sec?.ok && probes.secure) {
    if (sec.message.ad) return { server, validates: 'yes', evidence: `it set the AD bit for the signed ${label(probes.secure.name)}` };
    if (sec.message.rcode === 0) return { server, validates: 'no', evidence: `it did not set the AD bit for the signed ${label(probes.secure.name)}` };
  }
  const signed = evidence.signedWithoutAd[0];
  if (signed && signerDs?.ok && signerDs.message.ad) {
    return { server, validates: 'yes', evidence: `it set the AD bit on the DS answer for ${label(signed.signer)}` };
  }
  if (signed) {
    return {
      server,
      validates: 'unknown',
      evidence: `its answer for ${label(signed.name)} carried DNSSEC signatures (by ${label(signed.signer)}) but no AD bit, and no probe showed whether it validates; signed data is not called insecure on that ground`,
    };
  }
  return { server, validates: 'unknown', evidence: 'no probe gave a usable answer' };
}

/**
 * Finds out whether the resolver validates: the probes the evidence leaves open, then the one
 * decision (`decideResolverValidation`). `seen` may still be a plain "some answer had AD".
 */
export async function checkResolverValidates(query: DnssecQuery, server: string, seen: boolean | ValidationEvidence, probes: ValidationProbes, timeoutMs: number): Promise<ResolverValidation> {
  const evidence: ValidationEvidence = typeof seen === 'boolean' ? { ad: seen, signedWithoutAd: [] } : seen;
  return decideResolverValidation(server, evidence, probes, await probeResolver(query, evidence, probes, timeoutMs));
}
