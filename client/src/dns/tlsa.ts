/**
 * The pure DANE matcher (RFC 6698 §2.1, RFC 7671 §5, RFC 7672 §3): TLSA records against a
 * certificate chain in DER, leaf first. The domain report and the session engine's `TLS dane=on`
 * both call `verifyDane`; nothing here does I/O.
 */
import { createHash, X509Certificate } from 'node:crypto';

export interface TlsaRecordData {
  usage: number;
  selector: number;
  matchingType: number;
  data: Buffer;
  /**
   * Set when the RDATA could not be read as a TLSA record (shorter than the 3 octets of usage,
   * selector and matching type, RFC 6698 §2.1); `data` then holds the whole RDATA.
   */
  malformed?: string;
}

const USAGE = ['PKIX-TA', 'PKIX-EE', 'DANE-TA', 'DANE-EE'];
const SELECTOR = ['Cert', 'SPKI'];
const MATCHING = ['Full', 'SHA2-256', 'SHA2-512'];

/** The presentation form of a TLSA record, with the RFC 7218 mnemonics: `3 1 1 ab12… (DANE-EE SPKI SHA2-256)`. */
export function formatTlsa(r: TlsaRecordData, full = false): string {
  const hex = r.data.toString('hex');
  // A record that is not a TLSA record is shown in the generic form of RFC 3597 §5.
  if (r.malformed !== undefined) return `\\# ${r.data.length}${hex ? ` ${hex}` : ''} (malformed TLSA)`;
  const shown = full || hex.length <= 24 ? hex : `${hex.slice(0, 24)}…`;
  const names = `${USAGE[r.usage] ?? `usage ${r.usage}`} ${SELECTOR[r.selector] ?? `selector ${r.selector}`} ${MATCHING[r.matchingType] ?? `matching ${r.matchingType}`}`;
  return `${r.usage} ${r.selector} ${r.matchingType} ${shown} (${names})`;
}

/** Why a TLSA record cannot be used for SMTP, or undefined when it can. */
export function unusableReason(r: TlsaRecordData): string | undefined {
  if (r.malformed !== undefined) return `the record is malformed: ${r.malformed}`;
  // RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) are not to be used by SMTP clients.
  if (r.usage === 0 || r.usage === 1) return `${USAGE[r.usage]} (${r.usage}) is not used for SMTP (RFC 7672 §3.1.3)`;
  if (r.usage !== 2 && r.usage !== 3) return `certificate usage ${r.usage} is unknown (RFC 6698 §2.1.1)`;
  if (r.selector !== 0 && r.selector !== 1) return `selector ${r.selector} is unknown (RFC 6698 §2.1.2)`;
  if (r.matchingType !== 0 && r.matchingType !== 1 && r.matchingType !== 2) return `matching type ${r.matchingType} is unknown (RFC 6698 §2.1.3)`;
  const size = r.matchingType === 1 ? 32 : r.matchingType === 2 ? 64 : 0;
  if (size !== 0 && r.data.length !== size) return `the association data is ${r.data.length} bytes, not the ${size} of ${MATCHING[r.matchingType]} (RFC 7671 §9)`;
  if (r.data.length === 0) return 'the association data is empty';
  return undefined;
}

/** The bytes a record's selector picks from a certificate: the whole DER, or its SubjectPublicKeyInfo. */
function selected(cert: X509Certificate, der: Buffer, selector: number): Buffer {
  return selector === 0 ? der : (cert.publicKey.export({ type: 'spki', format: 'der' }) as Buffer);
}

function associate(bytes: Buffer, matchingType: number): Buffer {
  return matchingType === 1 ? createHash('sha256').update(bytes).digest() : matchingType === 2 ? createHash('sha512').update(bytes).digest() : bytes;
}

/** The association data of a certificate for a given selector and matching type (to publish a record). */
export function tlsaData(der: Buffer, selector: number, matchingType: number): Buffer {
  return associate(selected(new X509Certificate(der), der, selector), matchingType);
}

export interface ChainCert {
  depth: number;
  subject: string;
  issuer: string;
  validTo: string;
  expiresAt: number;
}

export interface TlsaOutcome {
  record: TlsaRecordData;
  /** The record in presentation form. */
  text: string;
  unusable?: string;
  /** The depth in the chain (0 is the server's certificate) of the certificate it matched. */
  matchedDepth?: number;
  /** Why a DANE-TA match does not authenticate (chain does not link, not a CA, name, expiry). */
  matchRejected?: string;
  /**
   * Set when a DANE-TA record matches the server's own certificate and nothing above it: a trust
   * anchor is an issuer in the chain (RFC 7671 §5.2.2), so this is no match (as in OpenSSL).
   */
  matchesLeafOnly?: boolean;
}

export interface DaneVerification {
  /** True when a usable record authenticates the chain. */
  authenticated: boolean;
  /** The record that authenticated it. */
  matched?: TlsaOutcome;
  usableCount: number;
  outcomes: TlsaOutcome[];
  chain: ChainCert[];
  /** One sentence for a transcript or a finding. */
  summary: string;
}

function parseChain(chainDer: readonly Buffer[]): { certs: X509Certificate[]; error?: string } {
  const certs: X509Certificate[] = [];
  for (const der of chainDer) {
    try {
      certs.push(new X509Certificate(der));
    } catch (error) {
      return { certs, error: `certificate ${certs.length} does not parse: ${(error as Error).message}` };
    }
  }
  return { certs };
}

/**
 * Matches TLSA records against a chain (leaf first) as RFC 7672 §3 says a sending MTA does:
 * DANE-EE(3) matches the server's certificate with no name or expiry check (§3.1.1); DANE-TA(2)
 * matches an issuer above the leaf (depth 1 or more, RFC 7671 §5.2.2); it and every certificate
 * between it and the leaf must be CA certificates and link down to the leaf, whose names must cover
 * one of `referenceNames` (the TLSA base domain and the MX host name, §3.2.2) and which must be
 * within its validity period (§3.1.2);
 * PKIX usages, unknown parameters and malformed records are unusable (§3.1.3, `unusableReason`).
 */
export function verifyDane(records: readonly TlsaRecordData[], chainDer: readonly Buffer[], referenceNames: readonly string[], nowMs: number): DaneVerification {
  const { certs, error } = parseChain(chainDer);
  const chain: ChainCert[] = certs.map((c, depth) => ({ depth, subject: c.subject.replace(/\n/g, ', '), issuer: c.issuer.replace(/\n/g, ', '), validTo: c.validTo, expiresAt: Date.parse(c.validTo) }));
  const outcomes: TlsaOutcome[] = [];
  let matched: TlsaOutcome | undefined;
  for (const record of records) {
    const outcome: TlsaOutcome = { record, text: formatTlsa(record) };
    outcomes.push(outcome);
    const why = unusableReason(record);
    if (why) {
      outcome.unusable = why;
      continue;
    }
    // DANE-EE(3) matches the server's certificate only; DANE-TA(2) matches an issuer above it, at
    // depth 1 or more (RFC 7671 §5.2.2; OpenSSL's DANE matches TA records at depth > 0 only).
    const depths = record.usage === 3 ? [0] : certs.map((_, i) => i).filter((i) => i > 0);
    const matches = (depth: number): boolean => {
      try {
        return associate(selected(certs[depth], chainDer[depth], record.selector), record.matchingType).equals(record.data);
      } catch {
        return false;
      }
    };
    for (const depth of depths) {
      if (!certs[depth] || !matches(depth)) continue;
      outcome.matchedDepth = depth;
      if (record.usage === 2) outcome.matchRejected = taProblems(certs, depth, referenceNames, nowMs);
      break;
    }
    if (record.usage === 2 && outcome.matchedDepth === undefined && certs.length > 0 && matches(0)) outcome.matchesLeafOnly = true;
    if (outcome.matchedDepth !== undefined && outcome.matchRejected === undefined && !matched) matched = outcome;
  }
  const usableCount = outcomes.filter((o) => !o.unusable).length;
  let summary: string;
  if (error) summary = `The chain could not be read: ${error}.`;
  else if (matched) summary = `TLSA ${matched.text} matched ${matched.matchedDepth === 0 ? 'the server certificate' : `the certificate at depth ${matched.matchedDepth}`} (${chain[matched.matchedDepth!]?.subject ?? ''}).`;
  else if (usableCount === 0) summary = records.length === 0 ? 'There are no TLSA records.' : 'No TLSA record is usable for SMTP.';
  else {
    const rejected = outcomes.find((o) => o.matchRejected)?.matchRejected;
    const leafOnly = outcomes.some((o) => o.matchesLeafOnly) ? 'a DANE-TA record matches the server certificate itself, which is not a trust anchor (RFC 7671 §5.2.2)' : undefined;
    const why = rejected ?? leafOnly;
    summary = `None of the ${usableCount} usable TLSA records matches the certificate chain${why ? ` (${why})` : ''}.`;
  }
  return { authenticated: matched !== undefined && !error, matched, usableCount, outcomes, chain, summary };
}

/** What stops a DANE-TA match at `depth` from authenticating the leaf, or undefined. */
function taProblems(certs: X509Certificate[], depth: number, referenceNames: readonly string[], nowMs: number): string | undefined {
  // Each certificate from the leaf up to the trust anchor must be issued and signed by the next one.
  for (let i = 0; i < depth; i++) {
    const child = certs[i];
    const parent = certs[i + 1];
    // Every issuer up to and including the trust anchor must be a CA certificate: basicConstraints
    // CA:TRUE, and keyCertSign when keyUsage is present (RFC 5280 §4.2.1.9, §4.2.1.3), as OpenSSL's
    // DANE verification (X509_check_ca) and posttls-finger require ("invalid CA certificate"). It is
    // asked first: OpenSSL's issuer check also fails for a key without keyCertSign.
    if (!parent.ca) return `the certificate at depth ${i + 1} (${parent.subject.replace(/\n/g, ', ')}) is not a CA certificate (basicConstraints CA:TRUE, and keyCertSign when keyUsage is present; RFC 5280 §4.2.1.9)`;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) return `the certificate at depth ${i} is not signed by the one at depth ${i + 1}`;
  }
  const leaf = certs[0];
  const from = Date.parse(leaf.validFrom);
  const to = Date.parse(leaf.validTo);
  if (nowMs > to) return `the server certificate expired on ${leaf.validTo} (RFC 7672 §3.1.2)`;
  if (nowMs < from) return `the server certificate is not valid before ${leaf.validFrom}`;
  // RFC 7672 §3.2.2: the reference identifiers are the TLSA base domain and the MX host name.
  if (!referenceNames.some((n) => leaf.checkHost(n, { subject: 'default', wildcards: true, partialWildcards: false }) !== undefined)) {
    return `the server certificate is not valid for ${referenceNames.join(' or ')} (RFC 7672 §3.2.2)`;
  }
  return undefined;
}
