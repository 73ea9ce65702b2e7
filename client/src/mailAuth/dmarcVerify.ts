/**
 * DMARC for `verify`, as RFC 9989 defines it: policy discovery and the Organizational Domains for
 * relaxed alignment by the DNS Tree Walk (dns/dmarcDiscovery.ts, the same code as the Mail DNS check),
 * not mailauth's RFC 7489 public-suffix-list discovery. The result keeps the shape mailauth's BIMI
 * step reads.
 */
import { discoverDmarcPolicy, organizationalDomain, type DmarcDiscovery, type DmarcTxtAnswer, type DmarcTxtLookup, type DomainExists } from '../dns/dmarcDiscovery';
import type { MaDmarcResult } from './mailauthApi';
import type { MailauthResolver } from './resolver';

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

/**
 * The Author Domain of a message (RFC 9989 §5.3.1, Extract Author Domain), or why there is none.
 * `fromFields` is how many From header fields the message has; `addresses` are the addresses they
 * hold. "If zero or more than one domain is extracted from the RFC5322.From header field, then DMARC
 * validation is not possible and the process terminates." §11.5 (Denial of DMARC Processing Attacks)
 * adds that such messages are a known way around DMARC, which the receiver must recognise and handle
 * as the threats they may be; a message with more than one From field also breaks RFC 5322 §3.6,
 * which allows exactly one. So such a message never gets a quiet "none": the verdict is permerror
 * (RFC 8601 §2.7.1), a failure, with the reason.
 */
export function authorDomain(fromFields: number, addresses: readonly string[]): { domain: string } | { problem: string; domains: string[] } {
  const domains = [...new Set(addresses.filter((a) => a.includes('@')).map((a) => a.slice(a.lastIndexOf('@') + 1).toLowerCase().replace(/\.$/, '')).filter((d) => d !== ''))];
  const cannot = 'so DMARC validation is not possible (RFC 9989 §5.3.1) and the message cannot pass DMARC';
  if (fromFields > 1) return { problem: `the message has ${fromFields} From fields, where RFC 5322 §3.6 allows exactly one (${domains.length === 1 ? `all of ${domains[0]}` : `domains: ${domains.join(', ') || 'none'}`}), ${cannot}`, domains };
  if (domains.length === 0) return { problem: `the message has ${fromFields === 0 ? 'no From field' : 'no From address with a domain'}, ${cannot}`, domains };
  if (domains.length > 1) return { problem: `the From field names ${domains.length} domains (${domains.join(', ')}), ${cannot}`, domains };
  return { domain: domains[0] };
}

/** The Authentication-Results clause of a message without exactly one Author Domain (RFC 8601 §2.7.1). */
export function dmarcPermerrorInfo(problem: string): string {
  return `dmarc=permerror (${escapeComment(problem)})`;
}

export interface DmarcVerifyInput {
  /** The domain of the one From address. */
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
  const from = input.fromDomain.toLowerCase().replace(/\.$/, '');
  const discovery = await discoverDmarcPolicy(from, lookup, domainExistsFor(input.resolver));
  const base = { domain: discovery.organizationalDomain, rr: discovery.record, discovery };
  if (discovery.status !== 'found' || discovery.values === undefined) {
    const result = discovery.status === 'temperror' ? 'temperror' : 'none';
    return {
      ...base,
      status: { result, comment: discovery.reason, header: { from } },
      info: `dmarc=${result} (${escapeComment(discovery.reason)}) header.from=${from}`,
      alignmentNotes: [],
      ...(discovery.status === 'temperror' ? { error: discovery.reason } : {}),
    };
  }
  const values = discovery.values;
  // Relaxed alignment compares Organizational Domains, each found by its own tree walk (§4.10.2).
  const orgCache = new Map<string, Promise<string>>();
  const orgOf = (d: string): Promise<string> => {
    const key = d.toLowerCase().replace(/\.$/, '');
    if (key === from) return Promise.resolve(discovery.organizationalDomain);
    let p = orgCache.get(key);
    if (!p) {
      p = organizationalDomain(key, lookup).then((o) => o.domain);
      orgCache.set(key, p);
    }
    return p;
  };
  const notes: string[] = [];
  const aligned = async (d: string, mode: 'r' | 's', what: string): Promise<boolean> => {
    const id = d.toLowerCase().replace(/\.$/, '');
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
