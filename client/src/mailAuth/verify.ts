/**
 * Verifies a message's authentication the way a receiving MTA would: DKIM (RFC 6376) per signature,
 * ARC (RFC 8617) and BIMI with mailauth; SPF (RFC 7208) and DMARC (RFC 9989) with the product's own
 * evaluators (spfResult.ts, dmarcVerify.ts), which follow the standards where mailauth does not. It
 * builds the `Authentication-Results` field (RFC 8601) in the order mailauth's `authenticate()` uses. The SMTP
 * identities SPF needs (client IP, HELO, MAIL FROM) come from the caller or, failing that, from the
 * topmost `Received` field and `Return-Path`. All DNS goes through the injected resolver.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { libmime } from './libmime';
import { mailauth, type MaArcResult, type MaDkimResult, type MaSpfResult, type MaStatus } from './mailauthApi';
import { parseHeaderFields } from './headers';
import { returnPath, topReceived } from './received';
import { trackResolver, type MailauthResolver } from './resolver';
import { verifySpf } from './spfResult';
import { authorDomain, dmarcPermerrorInfo, escapeComment, verifyDmarc, type DmarcVerifyResult } from './dmarcVerify';
import { dkimKeyRecordProblem, type DkimKeyRecordProblem, type DkimSignatureTags } from './dkimKeyCheck';
import { getTag, parseTagList } from '../../../common/tagList';
import { analyzeArcChain } from './arcChain';
import type { SpfEvaluation } from '../dns/spfEval';

export type AuthMethod = 'dkim' | 'spf' | 'dmarc' | 'arc' | 'bimi';

/** Where an SMTP identity used for SPF came from. */
export type IdentitySource = 'caller' | 'received' | 'return-path' | 'derived' | 'none';

export interface VerifyOptions {
  /** The DNS resolver; every query goes through it. */
  resolver: MailauthResolver;
  /** The SMTP client's IP address. */
  ip?: string;
  /** The EHLO/HELO name. */
  helo?: string;
  /** The MAIL FROM address ('' for the null reverse-path). */
  mailFrom?: string;
  /** The authserv-id of the `Authentication-Results` field (RFC 8601 §2.5); the host name by default. */
  authServId?: string;
  /** Read missing identities from the topmost `Received` field and `Return-Path` (default true). */
  useReceived?: boolean;
  /** Smallest RSA key accepted, in bits (default 1024, as RFC 8301 §3.2 requires). */
  minBitLength?: number;
  /** The clock for SPF's %{t} macro (RFC 7208 §7.3); the system clock by default. */
  now?: () => number;
}

/** One method's outcome. `result` is an RFC 8601 §2.7 result value. */
export interface MethodReport {
  method: AuthMethod;
  result: string;
  /** Why, in words (the comment mailauth puts in parentheses). */
  reason?: string;
  /** Whether this result counts as a failure for the exit status and the summary. */
  failed: boolean;
  /** The method's clause of the `Authentication-Results` field, e.g. `spf=pass (…) smtp.mailfrom=…`. */
  info: string;
  /** Extra facts worth showing (domain, selector, policy, DNS record…). */
  details: Record<string, string>;
}

export interface DkimSignatureReport extends MethodReport {
  method: 'dkim';
  domain?: string;
  selector?: string;
  algorithm?: string;
  canonicalization?: string;
  /** The From domain this signature aligns with (RFC 7489 §3.1.1), if any. */
  aligned?: string;
}

export interface SmtpIdentities {
  ip?: string;
  helo?: string;
  mailFrom?: string;
  sources: { ip: IdentitySource; helo: IdentitySource; mailFrom: IdentitySource };
  /** Which `Received` field the identities came from (0 = topmost), when one was used. */
  receivedIndex?: number;
}

export interface AuthReport {
  dkim: DkimSignatureReport[];
  spf: MethodReport;
  dmarc: MethodReport;
  arc: MethodReport;
  bimi: MethodReport;
  smtp: SmtpIdentities;
  /** The From addresses mailauth found (RFC 5322 §3.6.2). */
  headerFrom: string[];
  /** The `Authentication-Results` field, folded, with CRLF line ends and a final CRLF. */
  authenticationResults: string;
  /** The `Received-SPF` field (RFC 7208 §9.1), when SPF ran. */
  receivedSpf?: string;
  /** DNS queries that failed because the server did not answer. */
  dnsUnreachable: Array<{ name: string; rrtype: string; code: string }>;
  /** How many DNS queries the verification made. */
  dnsQueries: number;
  /** Whether any method failed (see `isFailing`). */
  failed: boolean;
}

/**
 * Decides whether a result is a failure. fail, softfail, permerror, temperror and policy are; so is
 * DKIM's neutral, which mailauth gives a signature it could not check (no key, an unusable key, an
 * expired signature). SPF's neutral is a policy statement (RFC 7208 §2.6.2), not a failure, and
 * BIMI's skipped only says that DMARC did not allow a logo.
 */
export function isFailing(method: AuthMethod, result: string): boolean {
  if (['fail', 'softfail', 'permerror', 'temperror', 'temperr', 'policy'].includes(result)) return true;
  return method === 'dkim' && result === 'neutral';
}

/** mailauth's comment for a signature whose body hash (`bh=`) does not match the body. */
const BODY_HASH_MISMATCH = 'body hash did not verify';

/** mailauth's comments for a key record it fetched and could not use (lib/dkim/dkim-verifier.js). */
const MAILAUTH_KEY_COMMENTS: ReadonlySet<string> = new Set(['unknown key version', 'unknown key type', 'invalid public key']);

/**
 * The tags of the DKIM-Signature fields, by their b= value without white space (the form mailauth
 * gives as a result's `signature`), so each result can be matched with its field's i= and a=. One
 * b= value can head several fields (a relay can put a copy of a signed field, with other tags, on
 * top of it): all of them are kept, and `tagsOfResult` picks among them.
 */
function dkimSignatureTags(message: Buffer): Map<string, DkimSignatureTags[]> {
  const out = new Map<string, DkimSignatureTags[]>();
  for (const field of parseHeaderFields(message)) {
    if (field.name.toLowerCase() !== 'dkim-signature') continue;
    const list = parseTagList(field.value);
    const value = (name: string): string | undefined => getTag(list, name)?.value.replace(/\s+/g, '');
    const b = value('b');
    if (b === undefined || b === '') continue;
    const identity = value('i');
    const tags: DkimSignatureTags = { algorithm: value('a') ?? '', domain: value('d') ?? '', selector: value('s') ?? '', ...(identity !== undefined ? { identity } : {}) };
    const same = out.get(b);
    if (same) same.push(tags);
    else out.set(b, [tags]);
  }
  return out;
}

/**
 * The fields a result can have come from: those with its b= whose a=, d= and s= are the ones
 * mailauth verified (it reports them from the field itself). The key-record decision is made for
 * each, and the first problem counts, so a copy of a field with other tags cannot stand in for the
 * one that was verified.
 */
function tagsOfResult(r: MaDkimResult, byB: Map<string, DkimSignatureTags[]>): DkimSignatureTags[] {
  if (r.signature === undefined) return [];
  const fields = byB.get(r.signature.replace(/\s+/g, '')) ?? [];
  const matching = fields.filter((t) => t.algorithm === (r.algo ?? '') && t.domain === (r.signingDomain ?? '') && t.selector === (r.selector ?? ''));
  return matching.length > 0 ? matching : fields;
}

/**
 * Turns mailauth's result for one DKIM signature into the product's: the one place that does, so
 * `smtpwb verify`, the capture server's stored authentication, ARC sealing and the editor (all
 * through `verifyMessage`) agree. mailauth reports a body hash mismatch as `neutral`; RFC 6376
 * §6.1.3 says "If the hash does not match, the Verifier SHOULD ignore the signature and return
 * PERMFAIL (body hash did not verify)", and RFC 8601 §2.7.1 gives that outcome as `fail` ("the
 * message was signed and the signature or signatures were acceptable to the ADMD, but they failed
 * the verification test(s)"). The result and the Authentication-Results clause both say `fail`;
 * mailauth's other results are kept as they are.
 */
function dkimResultOf(r: MaDkimResult, candidates: readonly DkimSignatureTags[]): { status: MaStatus; info: string; bodyHashMismatch: boolean; keyProblem?: DkimKeyRecordProblem } {
  const bodyHashMismatch = r.status.result === 'neutral' && r.status.comment === BODY_HASH_MISMATCH;
  if (bodyHashMismatch) {
    // mailauth's clause starts with `dkim=<result>` (formatAuthHeaderRow); only the result changes.
    return { status: { ...r.status, result: 'fail' }, info: r.info.replace(/^dkim=neutral(?=[ ;]|$)/, 'dkim=fail'), bodyHashMismatch };
  }
  // mailauth reads only p=, v= (case-insensitively) and k= of the key record (lib/tools.js
  // getPublicKey), so it verifies with records RFC 6376 tells verifiers to ignore: an h= without the
  // signature's hash (§3.6.1, §6.1.2), an s= without email (§3.6.1), t=s with an i= in a subdomain
  // (§3.6.1), a v= that is not exactly DKIM1 or not first (§3.6.1). It also accepts rsa-sha1 (RFC 8301
  // §3.1) and an i= outside d= (§6.1.1). When mailauth used the record it fetched (`rr`: a pass, a
  // bad signature, or its own objection to the record), the product's key-record decision
  // (dkimKeyCheck.ts, `dkimKeyRecordProblem`) has the last word. An unusable record is a PERMFAIL in
  // RFC 6376 §6.1.2, which RFC 8601 §2.7.1 writes as `permerror` ("the message could not be verified
  // due to some error that is unrecoverable"); a result other than pass never counts for DMARC.
  const used = r.status.result === 'pass' || r.status.result === 'fail' || (r.status.result === 'neutral' && MAILAUTH_KEY_COMMENTS.has(String(r.status.comment)));
  if (!used || r.rr === undefined || candidates.length === 0) return { status: r.status, info: r.info, bodyHashMismatch };
  const rr = r.rr;
  const keyProblem = candidates.map((tags) => dkimKeyRecordProblem(rr, tags)).find((problem) => problem !== undefined);
  if (!keyProblem) return { status: r.status, info: r.info, bodyHashMismatch };
  // Only the result and its comment change: the clause keeps mailauth's header.* properties, which
  // follow `dkim=<result>`, an optional undersized note, and the comment (formatAuthHeaderRow).
  let rest = r.info.replace(/^dkim=[a-z]+/, '');
  if (typeof r.status.comment === 'string' && r.status.comment !== '') rest = rest.replace(` (${mailauthComment(r.status.comment)})`, '');
  return { status: { ...r.status, result: 'permerror', comment: keyProblem.reason }, info: `dkim=permerror (${escapeComment(keyProblem.comment)})${rest}`, bodyHashMismatch, keyProblem };
}

/** mailauth's escaping of a comment in a clause (lib/tools.js escapeCommentValue), to find it there. */
function mailauthComment(value: string): string {
  return value.replace(/[\x00-\x1F]+/g, ' ').replace(/\s+/g, ' ').trim().replace(/[\\)]/g, (c) => `\\${c}`);
}

function reasonOf(status: MaStatus | undefined): string | undefined {
  return typeof status?.comment === 'string' && status.comment !== '' ? status.comment : undefined;
}

function report(method: AuthMethod, status: MaStatus | undefined, info: string | undefined, details: Record<string, string> = {}): MethodReport {
  const result = status?.result ?? 'none';
  return { method, result, reason: reasonOf(status), failed: isFailing(method, result), info: info ?? `${method}=${result}`, details };
}

function clean(details: Record<string, string | number | boolean | undefined | null | false>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(details)) if (v !== undefined && v !== null && v !== false && v !== '') out[k] = String(v);
  return out;
}

/**
 * Lists tags that occur more than once in a DMARC record. RFC 9989 §4.7 gives no meaning to
 * duplicates; the product reads the first (as the Mail DNS check does), and the report points them out.
 */
export function duplicateTags(record: string | undefined): string | undefined {
  if (!record) return undefined;
  const seen = new Map<string, number>();
  for (const part of record.split(';')) {
    const tag = part.split('=')[0].trim().toLowerCase();
    if (tag !== '') seen.set(tag, (seen.get(tag) ?? 0) + 1);
  }
  const dups = [...seen].filter(([, n]) => n > 1).map(([t]) => t);
  return dups.length > 0 ? `${dups.join(', ')} (the first value of each was used; the record is malformed)` : undefined;
}

/** Works out the SMTP identities for SPF from the options and the message's trace fields. */
export function smtpIdentities(message: Buffer, options: Pick<VerifyOptions, 'ip' | 'helo' | 'mailFrom' | 'useReceived'>): SmtpIdentities {
  const fields = parseHeaderFields(message);
  const useReceived = options.useReceived !== false;
  const rcvd = useReceived ? topReceived(fields) : undefined;
  const sources: SmtpIdentities['sources'] = { ip: 'none', helo: 'none', mailFrom: 'none' };
  let ip = options.ip;
  if (ip !== undefined) sources.ip = 'caller';
  else if (rcvd?.ip !== undefined) {
    ip = rcvd.ip;
    sources.ip = 'received';
  }
  let helo = options.helo;
  if (helo !== undefined) sources.helo = 'caller';
  else if (rcvd?.helo !== undefined && (options.ip === undefined || options.ip === rcvd.ip)) {
    // The HELO name of a Received field describes that field's connection only; it is not mixed
    // with an IP address the caller gave for a different connection.
    helo = rcvd.helo;
    sources.helo = 'received';
  } else if (ip !== undefined) {
    helo = `[${ip}]`;
    sources.helo = 'derived';
  }
  let mailFrom = options.mailFrom;
  if (mailFrom !== undefined) sources.mailFrom = 'caller';
  else if (rcvd?.envelopeFrom !== undefined) {
    mailFrom = rcvd.envelopeFrom;
    sources.mailFrom = 'received';
  } else if (useReceived) {
    const rp = returnPath(fields);
    if (rp !== undefined) {
      mailFrom = rp;
      sources.mailFrom = 'return-path';
    }
  }
  const identities: SmtpIdentities = { ip, helo, mailFrom, sources };
  if (rcvd && (sources.ip === 'received' || sources.helo === 'received' || sources.mailFrom === 'received')) identities.receivedIndex = rcvd.index;
  return identities;
}

/** Verifies the message. Never throws for DNS problems: they become temperror results. */
export async function verifyMessage(message: Buffer, options: VerifyOptions): Promise<AuthReport> {
  const tracked = trackResolver(options.resolver);
  const resolver = tracked.resolve;
  const mta = options.authServId ?? hostname();
  const smtp = smtpIdentities(message, options);

  const dkimResult = await mailauth.dkimVerify(message, {
    resolver,
    // mailauth reads Return-Path itself when no sender is given; pass ours so both agree.
    sender: smtp.mailFrom === '' ? undefined : smtp.mailFrom,
    minBitLength: options.minBitLength,
  });
  const signatureTags = dkimSignatureTags(message);
  const dkimResults = dkimResult.results.map((r) => ({ raw: r, ...dkimResultOf(r, tagsOfResult(r, signatureTags)) }));

  // SPF (RFC 7208 §4) needs the client IP; without one there is nothing to check. The product's own
  // evaluator decides it (RFC 7208 exactly); mailauth's SPF is not used.
  let spfResult: MaSpfResult | undefined;
  let spfEvaluation: SpfEvaluation | undefined;
  if (smtp.ip !== undefined && isIP(smtp.ip) !== 0) {
    // A HELO that is an address is an address literal (RFC 5321 §4.1.3); an absent one is empty.
    const helo = smtp.helo === undefined ? '' : isIP(smtp.helo) !== 0 ? `[${smtp.helo}]` : smtp.helo;
    const spf = await verifySpf({ ip: smtp.ip, mailFrom: smtp.mailFrom ?? '', helo, mta, resolver, now: options.now });
    spfResult = spf;
    spfEvaluation = spf.evaluation;
  }

  const arcResult: MaArcResult = await mailauth.arc(dkimResult.arc, { resolver, minBitLength: options.minBitLength });

  // DMARC is RFC 9989: the product's own tree-walk discovery and alignment (dmarcVerify.ts), the
  // same code as the Mail DNS check; mailauth's RFC 7489 discovery uses the public suffix list.
  // The Author Domain (RFC 9989 §5.3.1): exactly one From field naming exactly one domain, or a
  // permerror that says why (dmarcVerify.ts, `authorDomain`).
  let dmarcResult: DmarcVerifyResult | false = false;
  const fromFields = parseHeaderFields(message).filter((f) => f.name.toLowerCase() === 'from').length;
  const author = authorDomain(fromFields, dkimResult.headerFrom ?? []);
  if ('domain' in author) {
    dmarcResult = await verifyDmarc({
      fromDomain: author.domain,
      spfDomain: spfResult && spfResult.status.result === 'pass' && spfResult.domain ? spfResult.domain : undefined,
      dkimDomains: dkimResults.filter((r) => r.status.result === 'pass' && r.raw.signingDomain).map((r) => r.raw.signingDomain as string),
      resolver,
    });
  }
  const bimiResult = await mailauth.bimi({ dmarc: dmarcResult, headers: dkimResult.headers, resolver });

  // Assemble the Authentication-Results field in mailauth's order: DKIM, SPF, ARC, DMARC, BIMI.
  const clauses: string[] = [];
  for (const r of dkimResults) clauses.push(libmime.foldLines(r.info, 160));
  const spfInfo = spfResult ? spfResult.info : 'spf=none (no SMTP client IP address known)';
  clauses.push(libmime.foldLines(spfInfo, 160));
  if (arcResult.info) clauses.push(libmime.foldLines(arcResult.info, 160));
  if (dmarcResult && dmarcResult.info) clauses.push(libmime.foldLines(dmarcResult.info, 160));
  else if ('problem' in author) clauses.push(libmime.foldLines(dmarcPermerrorInfo(author.problem), 160));
  if (bimiResult && bimiResult.info) clauses.push(libmime.foldLines(bimiResult.info, 160));
  const authenticationResults = `Authentication-Results: ${mta};\r\n ${clauses.join(';\r\n ')}\r\n`;

  const dkim: DkimSignatureReport[] = dkimResults.map(({ raw: r, status, info, bodyHashMismatch, keyProblem }) => {
    const base = report('dkim', status, info, clean({
      domain: r.signingDomain,
      selector: r.selector,
      algorithm: r.algo,
      canonicalization: r.format,
      aligned: r.status.aligned,
      'key bits': r.modulusLength,
      'signed at': r.signTime,
      'expires at': r.expiresAfter,
      'body hash (computed)': bodyHashMismatch ? r.bodyHash : undefined,
      'body hash (signed)': bodyHashMismatch ? r.bodyHashExpecting : undefined,
      'DNS record': r.rr,
      'key record problem': keyProblem?.code,
      'mailauth result': keyProblem ? `${r.status.result ?? 'none'}${typeof r.status.comment === 'string' && r.status.comment !== '' ? ` (${r.status.comment})` : ''}` : undefined,
    }));
    const sig: DkimSignatureReport = { ...base, method: 'dkim' };
    if (r.signingDomain) sig.domain = r.signingDomain;
    if (r.selector) sig.selector = r.selector;
    if (r.algo) sig.algorithm = r.algo;
    if (r.format) sig.canonicalization = r.format;
    if (typeof status.aligned === 'string') sig.aligned = status.aligned;
    return sig;
  });

  const spf: MethodReport = spfResult
    ? report('spf', spfResult.status, spfResult.info, clean({
        domain: spfResult.domain,
        'client IP': spfResult['client-ip'],
        HELO: spfResult.helo,
        'MAIL FROM': spfResult['envelope-from'],
        'SPF record': spfResult.rr,
        'DNS lookups': spfResult.lookups ? `${spfResult.lookups.count} of ${spfResult.lookups.limit}` : undefined,
        'void lookups': spfResult.lookups ? `${spfResult.lookups.void} of 2` : undefined,
        identity: spfEvaluation?.identity,
        'matched term': spfEvaluation?.mechanism ? `${spfEvaluation.mechanism.term} (in ${spfEvaluation.mechanism.domain})` : undefined,
        explanation: spfEvaluation?.explanation,
        evaluation: spfEvaluation?.reason,
      }))
    : { method: 'spf', result: 'none', reason: 'no SMTP client IP address: give one, or verify a message with a Received field', failed: false, info: spfInfo, details: {} };

  const dmarc: MethodReport = dmarcResult
    ? report('dmarc', dmarcResult.status, dmarcResult.info, clean({
        domain: dmarcResult.domain,
        policy: dmarcResult.policy,
        p: dmarcResult.p,
        sp: dmarcResult.sp,
        pct: dmarcResult.pct,
        'DMARC record': dmarcResult.rr,
        'SPF alignment': dmarcResult.alignment?.spf?.result,
        'DKIM alignment': dmarcResult.alignment?.dkim?.result,
        'duplicate tags': duplicateTags(dmarcResult.rr),
        'policy domain': dmarcResult.discovery.policyDomain,
        'requested policy': dmarcResult.discovery.policy ? `${dmarcResult.discovery.policyTag}=${dmarcResult.discovery.policy}` : undefined,
        'policy discovery': dmarcResult.discovery.steps.map((st) => `${st.name}: ${st.outcome}`).join('; '),
        'walk stopped': dmarcResult.discovery.stop,
        'organizational domain': `${dmarcResult.discovery.organizationalDomain} (${dmarcResult.discovery.organizationalReason})`,
        'test mode': dmarcResult.discovery.values?.t === 'y' ? 't=y: one level less is applied' : undefined,
        alignment: dmarcResult.alignmentNotes.join('; '),
        error: dmarcResult.error,
      }))
    : {
        // Without exactly one Author Domain DMARC cannot be evaluated, which is a failure, never "none".
        method: 'dmarc',
        result: 'permerror',
        reason: 'problem' in author ? author.problem : 'the message has no Author Domain',
        failed: true,
        info: dmarcPermerrorInfo('problem' in author ? author.problem : 'the message has no Author Domain'),
        details: clean({ 'From fields': String(fromFields), 'From domains': 'problem' in author ? author.domains.join(', ') : undefined }),
      };

  // The chain view (arcChain.ts) explains the verdict per instance: which signature failed and what changed.
  const arcView = arcResult.status.result === 'none' ? undefined : await analyzeArcChain(message, async (name) => (await resolver(name, 'TXT')) as string[][]);
  const arcDetails: Record<string, string | number | false | undefined> = { instance: arcResult.i, chain: arcView?.reason };
  for (const v of arcView?.instances ?? []) {
    arcDetails[`i=${v.instance}`] = `cv=${v.cv ?? '?'}: AS ${v.seal.result} (d=${v.seal.domain ?? '?'}: ${v.seal.reason}); AMS ${v.messageSignature.result} (d=${v.messageSignature.domain ?? '?'}: ${v.messageSignature.reason})`;
  }
  if (arcView && arcView.result !== arcResult.status.result) arcDetails['chain view'] = `the chain view says ${arcView.result}, mailauth ${arcResult.status.result ?? 'none'}`;
  const arc = report('arc', arcResult.status, arcResult.info, clean(arcDetails));
  const bimi: MethodReport = bimiResult
    ? report('bimi', bimiResult.status, bimiResult.info, clean({ location: bimiResult.location, authority: bimiResult.authority, 'BIMI record': bimiResult.rr }))
    : { method: 'bimi', result: 'none', reason: 'DMARC was not evaluated', failed: false, info: 'bimi=none', details: {} };

  const all = [...dkim, spf, dmarc, arc, bimi];
  return {
    dkim,
    spf,
    dmarc,
    arc,
    bimi,
    smtp,
    headerFrom: dkimResult.headerFrom ?? [],
    authenticationResults,
    receivedSpf: spfResult?.header,
    dnsUnreachable: [...tracked.unreachable],
    dnsQueries: tracked.queries(),
    failed: all.some((m) => m.failed),
  };
}
