/**
 * DMARC for `verify`, as RFC 9989 defines it: policy discovery and the Organizational Domains for
 * relaxed alignment by the DNS Tree Walk (dns/dmarcDiscovery.ts, the same code as the Mail DNS check),
 * not mailauth's RFC 7489 public-suffix-list discovery. The result keeps the shape mailauth's BIMI
 * step reads.
 */
import { isIP } from 'node:net';
import { domainToUnicode } from 'node:url';
import { checkHostName } from '../../../common/connectTarget';
import { discoverDmarcPolicy, organizationalDomain, type DmarcDiscovery, type DmarcTxtAnswer, type DmarcTxtLookup, type DomainExists } from '../dns/dmarcDiscovery';
import type { MaDmarcResult } from './mailauthApi';
import type { MailauthResolver } from './resolver';
import { aLabelDomain } from '../../../common/dnsName';
import { asciiComment } from './dkimKeyCheck';

/** Adapts a mailauth resolver to the tree walk's TXT lookup; DNS failures stay failures. */
export function dmarcLookupFor(resolver: MailauthResolver): DmarcTxtLookup {
  return async (name): Promise<DmarcTxtAnswer> => {
    try {
      const data = (await resolver(name, 'TXT')) as unknown[];
      return { status: data.length === 0 ? 'nodata' : 'ok', data: data.map((r) => (Array.isArray(r) ? r.join('') : String(r))) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND') return { status: 'nxdomain', data: [] };
      if (code === 'ENODATA') return { status: 'nodata', data: [] };
      return { status: 'error', data: [], detail: code ?? 'error' };
    }
  };
}

/** Whether a domain exists: NXDOMAIN for A, AAAA and MX means it does not (RFC 9989, Non-existent Domains). */
export function domainExistsFor(resolver: MailauthResolver): DomainExists {
  return async (domain) => {
    const codes = await Promise.all(
      (['A', 'AAAA', 'MX'] as const).map((type) =>
        resolver(domain, type).then(
          () => 'ok',
          (err: unknown) => String((err as NodeJS.ErrnoException).code),
        ),
      ),
    );
    return !codes.every((c) => c === 'ENOTFOUND');
  };
}

/** How a problem with the Author Domain ends: the consequence, the same for every problem. */
const CANNOT = 'so DMARC validation is not possible (RFC 9989 §5.3.1) and the message cannot pass DMARC';

/**
 * A domain in the form DNS and alignment use: lower case, no final dot, U-labels converted to
 * A-labels (IDNA2008, RFC 5890 §2.3.2.1, through the UTS #46 mapping of `node:url`'s
 * `domainToASCII`). RFC 8616 (§3, and §6 for DMARC) requires U-labels of the From domain to be
 * converted to A-labels: the d= of DKIM and the SPF domains are A-labels, and so are the names the
 * policy discovery queries. Returns the A-label form, or why the text is not a domain:
 * - an address literal (`a@[192.0.2.1]`, RFC 5322 §3.4.1 domain-literal) names a host, not a domain;
 * - a name that IDNA cannot convert (an invalid U-label or a disallowed code point);
 * - a name that is an IPv4 address (`a@192.0.2.1`, or what the UTS #46 mapping turns into one);
 * - a name that is no host name (`checkHostName`: a label that is not LDH, an `xn--` label that is
 *   not an A-label, an empty label, a label over 63 octets or more than 253 octets).
 * Never throws.
 */
export function asciiDomain(text: string): { domain: string } | { problem: string } {
  const written = text.trim().replace(/\.$/, '');
  if (/^\[.*\]$/s.test(written)) return { problem: `the From address has the address literal ${written}, which names a host, not a domain (RFC 5322 §3.4.1)` };
  const domain = aLabelDomain(written);
  if (domain === undefined) return { problem: `the From domain ${written} cannot be converted to A-labels (IDNA2008, RFC 5891 §4: an invalid U-label or a code point IDNA does not allow)` };
  if (isIP(domain) !== 0) return { problem: `the From domain ${written} is an IP address${domain !== written ? ` (${domain})` : ''}, not a domain` };
  // The one host-name check (LDH labels, valid A-labels, 63 and 253 octets: RFC 1035 §2.3.4, RFC 5890 §2.3.2.1).
  const invalid = checkHostName(domain);
  if (invalid !== undefined) return { problem: `the From domain ${written} is not a valid domain name (${invalid})` };
  return { domain };
}

/**
 * The Author Domain of a message (RFC 9989 §5.3.1, Extract Author Domain), in A-labels, or why there
 * is none. `fromFields` is how many From header fields the message has; `addresses` are the
 * addresses they hold. "If zero or more than one domain is extracted from the RFC5322.From header
 * field, then DMARC validation is not possible and the process terminates." §11.5 (Denial of DMARC
 * Processing Attacks) adds that such messages are a known way around DMARC, which the receiver must
 * recognise and handle as the threats they may be; a message with more than one From field also
 * breaks RFC 5322 §3.6, which allows exactly one. So such a message never gets a quiet "none": the
 * verdict is permerror (RFC 8601 §2.7.1), a failure, with the reason. So is a From address whose
 * domain is not a domain (an address literal, a name IDNA cannot convert: `asciiDomain`). Domains
 * are compared in A-labels, so `a@bücher.test` and `b@xn--bcher-kva.test` are one Author Domain.
 * `written` is the domain as the From field wrote it, when that differs (U-labels).
 */
export function authorDomain(fromFields: number, addresses: readonly string[]): { domain: string; written?: string } | { problem: string; domains: string[] } {
  const writtenDomains = [...new Set(addresses.filter((a) => a.includes('@')).map((a) => a.slice(a.lastIndexOf('@') + 1).toLowerCase().replace(/\.$/, '')).filter((d) => d !== ''))];
  // One entry per distinct domain: its A-label form, or its written form when it has no A-label form.
  const byKey = new Map<string, { written: string; ascii: ReturnType<typeof asciiDomain> }>();
  for (const written of writtenDomains) {
    const ascii = asciiDomain(written);
    const key = 'domain' in ascii ? ascii.domain : written;
    if (!byKey.has(key)) byKey.set(key, { written, ascii });
  }
  const domains = [...byKey.values()].map((d) => d.written);
  if (fromFields > 1) return { problem: `the message has ${fromFields} From fields, where RFC 5322 §3.6 allows exactly one (${domains.length === 1 ? `all of ${domains[0]}` : `domains: ${domains.join(', ') || 'none'}`}), ${CANNOT}`, domains };
  if (domains.length === 0) return { problem: `the message has ${fromFields === 0 ? 'no From field' : 'no From address with a domain'}, ${CANNOT}`, domains };
  if (domains.length > 1) return { problem: `the From field names ${domains.length} domains (${domains.join(', ')}), ${CANNOT}`, domains };
  const only = [...byKey.values()][0];
  if ('problem' in only.ascii) return { problem: `${only.ascii.problem}, ${CANNOT}`, domains };
  return only.ascii.domain === only.written ? { domain: only.ascii.domain } : { domain: only.ascii.domain, written: only.written };
}

/** The Authentication-Results clause of a message without exactly one Author Domain (RFC 8601 §2.7.1). */
export function dmarcPermerrorInfo(problem: string): string {
  // The comment stays ASCII (RFC 5322 §2.2): "§" is spelt out, anything else non-ASCII replaced.
  return `dmarc=permerror (${escapeComment(asciiComment(problem))})`;
}

export interface DmarcVerifyInput {
  /** The domain of the one From address (`authorDomain`); U-labels are converted to A-labels here too. */
  fromDomain: string;
  /** The SPF-authenticated domain, when SPF passed. */
  spfDomain?: string;
  /** The d= domains of DKIM signatures that passed. */
  dkimDomains: string[];
  resolver: MailauthResolver;
}

export interface DmarcVerifyResult extends MaDmarcResult {
  discovery: DmarcDiscovery;
  /** Each aligned or unaligned identifier, with the Organizational Domains compared. */
  alignmentNotes: string[];
}

/** Escapes text for a comment in an Authentication-Results clause (RFC 8601 §2.2, RFC 5322 §3.2.2). */
export function escapeComment(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/[\\()]/g, (c) => `\\${c}`);
}

/** Evaluates DMARC for a message (RFC 9989 §4.10, §5). Never throws for DNS problems. */
export async function verifyDmarc(input: DmarcVerifyInput): Promise<DmarcVerifyResult> {
  const lookup = dmarcLookupFor(input.resolver);
  const author = asciiDomain(input.fromDomain);
  if ('problem' in author) {
    // Not a domain: nothing is queried (an address literal would become "_dmarc.[192.0.2.1]").
    const written = input.fromDomain.trim().toLowerCase();
    const reason = `${author.problem}, ${CANNOT}`;
    const discovery: DmarcDiscovery = { status: 'none', authorDomain: written, steps: [], stop: 'nothing was queried: the From domain is not a domain', organizationalDomain: written, organizationalReason: 'none: the From domain is not a domain', reason };
    return { domain: written, discovery, status: { result: 'permerror', comment: reason, header: { from: written } }, info: `dmarc=permerror (${escapeComment(reason)})`, alignmentNotes: [] };
  }
  // The Author Domain in A-labels (RFC 8616 §6): the queries and the comparisons use it.
  const from = author.domain;
  const unicode = domainToUnicode(from);
  const idnNote = unicode !== '' && unicode !== from ? [`the From domain ${unicode} is ${from} in A-labels, the form alignment and the DNS queries use`] : [];
  const discovery = await discoverDmarcPolicy(from, lookup, domainExistsFor(input.resolver));
  const base = { domain: discovery.organizationalDomain, rr: discovery.record, discovery };
  if (discovery.status !== 'found' || discovery.values === undefined) {
    const result = discovery.status === 'temperror' ? 'temperror' : 'none';
    return {
      ...base,
      status: { result, comment: discovery.reason, header: { from } },
      info: `dmarc=${result} (${escapeComment(discovery.reason)}) header.from=${from}`,
      alignmentNotes: idnNote,
      ...(discovery.status === 'temperror' ? { error: discovery.reason } : {}),
    };
  }
  const values = discovery.values;
  // Relaxed alignment compares Organizational Domains, each found by its own tree walk (§4.10.2).
  const orgCache = new Map<string, Promise<string>>();
  const orgOf = (key: string): Promise<string> => {
    if (key === from) return Promise.resolve(discovery.organizationalDomain);
    let p = orgCache.get(key);
    if (!p) {
      p = organizationalDomain(key, lookup).then((o) => o.domain);
      orgCache.set(key, p);
    }
    return p;
  };
  const notes: string[] = [...idnNote];
  const aligned = async (d: string, mode: 'r' | 's', what: string): Promise<boolean> => {
    // d= and the SPF domain are compared in A-labels as well; one that is not a domain is compared as written.
    const asAscii = asciiDomain(d);
    const id = 'domain' in asAscii ? asAscii.domain : d.toLowerCase().replace(/\.$/, '');
    if (id === from) {
      notes.push(`${what} ${id} is the From domain`);
      return true;
    }
    if (mode === 's') {
      notes.push(`${what} ${id} is not ${from} (strict alignment)`);
      return false;
    }
    const org = await orgOf(id);
    const ok = org === discovery.organizationalDomain;
    notes.push(`${what} ${id} has the Organizational Domain ${org}, ${ok ? 'the same as' : 'not'} ${discovery.organizationalDomain} of ${from}`);
    return ok;
  };
  let spfAligned: string | false = false;
  if (input.spfDomain && (await aligned(input.spfDomain, values.aspf, 'SPF'))) spfAligned = input.spfDomain;
  let dkimAligned: string | false = false;
  for (const d of input.dkimDomains) {
    if (await aligned(d, values.adkim, 'DKIM')) {
      dkimAligned = d;
      break;
    }
  }
  const pass = spfAligned !== false || dkimAligned !== false;
  const result = pass ? 'pass' : 'fail';
  const policy = discovery.appliedPolicy ?? 'none';
  const comment = `p=${(discovery.policy ?? 'none').toUpperCase()}${values.sp ? ` sp=${values.sp.toUpperCase()}` : ''}${values.t === 'y' ? ' t=y' : ''} dis=${pass ? 'NONE' : policy.toUpperCase()} policy.dmarc=${discovery.policyDomain}`;
  return {
    ...base,
    policy,
    p: values.p,
    sp: values.sp,
    status: { result, comment, header: { from } },
    info: `dmarc=${result} (${escapeComment(comment)}) header.from=${from}`,
    alignment: { spf: { result: spfAligned, strict: values.aspf === 's' }, dkim: { result: dkimAligned, strict: values.adkim === 's' } },
    alignmentNotes: notes,
  };
}
