/**
 * The ARC chain view (RFC 8617): every instance of a message's Authenticated Received Chain checked
 * on its own, so that a failing chain (`cv=fail`) says which instance failed, which signature (the
 * ARC-Seal, AS, or the ARC-Message-Signature, AMS) and, for an AMS, whether the body or a signed
 * header changed after that instance, and which header where that can be found out.
 *
 * The chain verdict follows RFC 8617 §5.2: the structure (§5.2 step 2, §4.2.1 instances 1..N, §5.1.2
 * cv= values), the latest AMS (§5.2 step 4) and every AS from the latest down (§5.2 step 6).
 * Older AMSes do not decide the verdict; they are checked too, because they show where a message
 * was changed on its way (§5.2 step 5, "oldest-pass").
 *
 * Pure: the caller passes the message bytes and a TXT lookup; keys are read with the Mail DNS DKIM
 * key parser (dns/dkim.ts), one home for key records. Canonicalization is RFC 6376 §3.4.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_MIN_RSA_BITS, fetchKey, verifySignature, type TxtLookup } from './dkimSelfVerify';
import { canonicalBody, messageBody, rawFields, relaxedHeader, selectHeaders, signedHeaderData, valueOf, withoutB, type RawField } from './dkimCanon';

/** The TXT lookup: each record's character-strings, failing like `dns.promises.resolveTxt`. */
export type ArcTxtLookup = TxtLookup;

export interface ArcSignatureCheck {
  result: 'pass' | 'fail';
  /** Why, in one sentence. */
  reason: string;
  domain?: string;
  selector?: string;
  algorithm?: string;
  /**
   * The key-record decision's code when the key record could not verify this signature
   * (dkimKeyCheck.ts, `dkimKeyRecordsProblem`: several records, h=, s=, t=, v=, key type, revoked).
   */
  keyProblem?: string;
}

export interface ArcMessageSignatureCheck extends ArcSignatureCheck {
  /** Whether the body hash (bh=) still matches the body (RFC 6376 §3.7). */
  bodyHash: 'match' | 'mismatch' | 'unknown';
  /** Whether the signature over the signed header fields (and the AMS itself) verifies. */
  headers: 'pass' | 'fail' | 'unknown';
  /** The h= list, in order. */
  signedHeaders: string[];
  /** Header fields found to have changed after this instance, with how (when it could be found out). */
  changedHeaders: string[];
}

export interface ArcInstanceView {
  instance: number;
  /** The chain validation status this instance's sealer recorded (cv=). */
  cv?: string;
  seal: ArcSignatureCheck;
  messageSignature: ArcMessageSignatureCheck;
  /** The ARC-Authentication-Results value after `i=N;` (DNS and peer text: escape it to show it). */
  authResults?: string;
}

export interface ArcChainView {
  result: 'none' | 'pass' | 'fail';
  /** Why, in one sentence, naming the instance and signature that decided a failure. */
  reason: string;
  /** Where the chain failed, when it did. */
  failedAt?: { instance: number; signature: 'AS' | 'AMS' | 'structure' };
  /** The key-record decision's code, when the signature that decided a failure had an unusable key record. */
  keyProblem?: string;
  instances: ArcInstanceView[];
  /** The oldest instance whose AMS still verifies (RFC 8617 §5.2 step 5), when the chain passes. */
  oldestPass?: number;
  /** One line per instance and per finding, for a report's details. */
  explanation: string[];
}

const ARC_NAMES = ['arc-seal', 'arc-message-signature', 'arc-authentication-results'] as const;
type ArcName = (typeof ARC_NAMES)[number];

/** Tag=value pairs of a signature field (RFC 6376 §3.2), names lower-cased, values with folding removed. */
function tags(value: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    if (name !== '' && !map.has(name)) map.set(name, part.slice(eq + 1).replace(/\r\n/g, '').replace(/[ \t]+/g, ' ').trim());
  }
  return map;
}

interface ArcSet {
  instance: number;
  fields: Partial<Record<ArcName, RawField>>;
}

/** Checks one AMS; `fields` is the message's header as it is now. */
async function checkMessageSignature(set: ArcSet, fields: RawField[], body: Buffer, lookup: ArcTxtLookup, minBits: number): Promise<ArcMessageSignatureCheck> {
  const ams = set.fields['arc-message-signature'] as RawField;
  const t = tags(valueOf(ams));
  const signedHeaders = (t.get('h') ?? '').split(':').map((h) => h.trim().toLowerCase()).filter(Boolean);
  const base = { domain: t.get('d'), selector: t.get('s'), algorithm: t.get('a'), signedHeaders, changedHeaders: [] as string[] };
  const [headerCanon, bodyCanon = 'simple'] = (t.get('c') ?? 'relaxed/relaxed').toLowerCase().split('/');
  // Body hash (RFC 6376 §3.7): l= limits the hashed body.
  let canon = canonicalBody(body, bodyCanon === 'relaxed');
  if (t.has('l')) canon = canon.subarray(0, Number(t.get('l')));
  const bodyHash: ArcMessageSignatureCheck['bodyHash'] = t.get('bh') === undefined ? 'unknown' : createHash('sha256').update(canon).digest('base64') === t.get('bh')?.replace(/\s+/g, '') ? 'match' : 'mismatch';
  if (!t.get('d') || !t.get('s') || !t.get('b') || signedHeaders.length === 0) return { ...base, result: 'fail', reason: 'the ARC-Message-Signature lacks d=, s=, h= or b=', bodyHash, headers: 'unknown' };
  const key = await fetchKey(lookup, t.get('s') as string, t.get('d') as string, t.get('a') ?? '', undefined, minBits);
  if ('error' in key) return { ...base, result: 'fail', reason: key.error, bodyHash, headers: 'unknown', ...(key.keyProblem ? { keyProblem: key.keyProblem } : {}) };
  const hashed = (selected: RawField[], transform?: (f: RawField) => string): Buffer => signedHeaderData(selected, ams.raw, headerCanon === 'relaxed', transform);
  const others = fields.filter((f) => f !== ams);
  const sigOk = verifySignature((t.get('a') ?? '').toLowerCase(), key, hashed(selectHeaders(others, signedHeaders)), t.get('b') as string);
  const changedHeaders: string[] = [];
  if (!sigOk) {
    // Which signed header changed: a signature only covers a hash of all of them, so the view tries
    // what forwarders do: a field added after signing (dropping it makes the signature verify) and a
    // tag put before the Subject ("[list] ").
    for (const f of others) {
      if (!signedHeaders.includes(f.name.toLowerCase())) continue;
      if (verifySignature((t.get('a') ?? '').toLowerCase(), key, hashed(selectHeaders(others, signedHeaders, f)), t.get('b') as string)) {
        changedHeaders.push(`${f.name} was added after instance ${set.instance} signed`);
        break;
      }
    }
    if (changedHeaders.length === 0) {
      const subject = selectHeaders(others, ['subject'])[0];
      const untagged = (f: RawField): string => (f === subject ? f.raw.replace(/^([^:]*:[ \t]*)\[[^\]]*\][ \t]*/, '$1') : f.raw);
      if (subject && untagged(subject) !== subject.raw && verifySignature((t.get('a') ?? '').toLowerCase(), key, hashed(selectHeaders(others, signedHeaders), untagged), t.get('b') as string)) {
        changedHeaders.push(`Subject changed: the tag "${/\[[^\]]*\]/.exec(subject.raw)?.[0] ?? ''}" was put before it`);
      }
    }
  }
  const reasons: string[] = [];
  if (bodyHash === 'mismatch') reasons.push(`the body changed after instance ${set.instance} signed it (bh= no longer matches)`);
  if (!sigOk) {
    reasons.push(
      changedHeaders.length > 0
        ? changedHeaders.join('; ')
        : `a signed header field changed after instance ${set.instance} signed it (one of ${signedHeaders.join(', ')}; the signature cannot tell which)`,
    );
  }
  const ok = sigOk && bodyHash !== 'mismatch';
  return { ...base, changedHeaders, result: ok ? 'pass' : 'fail', reason: ok ? `verifies with the key at ${t.get('s')}._domainkey.${t.get('d')}` : reasons.join('; '), bodyHash, headers: sigOk ? 'pass' : 'fail' };
}

/** Checks AS i over the sets 1..i (RFC 8617 §5.1.1: AAR, AMS, AS of each, this AS without b=). */
async function checkSeal(sets: ArcSet[], index: number, lookup: ArcTxtLookup, minBits: number): Promise<ArcSignatureCheck> {
  const as = sets[index].fields['arc-seal'] as RawField;
  const t = tags(valueOf(as));
  const base = { domain: t.get('d'), selector: t.get('s'), algorithm: t.get('a') };
  if (!t.get('d') || !t.get('s') || !t.get('b')) return { ...base, result: 'fail', reason: 'the ARC-Seal lacks d=, s= or b=' };
  const key = await fetchKey(lookup, t.get('s') as string, t.get('d') as string, t.get('a') ?? '', undefined, minBits);
  if ('error' in key) return { ...base, result: 'fail', reason: key.error, ...(key.keyProblem ? { keyProblem: key.keyProblem } : {}) };
  const lines: string[] = [];
  for (let j = 0; j <= index; j++) {
    const s = sets[j].fields;
    lines.push(`${relaxedHeader((s['arc-authentication-results'] as RawField).raw)}\r\n`);
    lines.push(`${relaxedHeader((s['arc-message-signature'] as RawField).raw)}\r\n`);
    if (j < index) lines.push(`${relaxedHeader((s['arc-seal'] as RawField).raw)}\r\n`);
  }
  lines.push(relaxedHeader(withoutB(as.raw)));
  const ok = verifySignature((t.get('a') ?? '').toLowerCase(), key, Buffer.from(lines.join(''), 'latin1'), t.get('b') as string);
  return ok
    ? { ...base, result: 'pass', reason: `verifies with the key at ${t.get('s')}._domainkey.${t.get('d')}` }
    : { ...base, result: 'fail', reason: `the seal does not verify: an ARC header field of instance 1..${sets[index].instance} changed after it was sealed, or another key signed it` };
}

/** Builds the chain view of a message; `minBits` is the smallest RSA key accepted (RFC 8301 §3.2), as for DKIM. */
export async function analyzeArcChain(message: Buffer, lookup: ArcTxtLookup, minBits = DEFAULT_MIN_RSA_BITS): Promise<ArcChainView> {
  const fields = rawFields(message);
  const body = messageBody(message);
  const byInstance = new Map<number, ArcSet>();
  const structure: string[] = [];
  for (const f of fields) {
    const name = f.name.toLowerCase() as ArcName;
    if (!ARC_NAMES.includes(name)) continue;
    const i = Number(/^\s*i\s*=\s*(\d+)/.exec(valueOf(f).replace(/\r\n/g, ''))?.[1] ?? tags(valueOf(f)).get('i'));
    if (!Number.isInteger(i) || i < 1) {
      structure.push(`an ${f.name} field has no valid i= tag`);
      continue;
    }
    const set = byInstance.get(i) ?? { instance: i, fields: {} };
    if (set.fields[name]) structure.push(`instance ${i} has more than one ${f.name} field`);
    set.fields[name] = f;
    byInstance.set(i, set);
  }
  if (byInstance.size === 0 && structure.length === 0) return { result: 'none', reason: 'the message has no ARC header fields', instances: [], explanation: ['no ARC chain'] };
  const sets = [...byInstance.values()].sort((a, b) => a.instance - b.instance);
  // RFC 8617 §4.2.1: instances 1..N without gaps, at most 50, each with all three fields.
  if (sets.length > 50) structure.push(`the chain has ${sets.length} instances (at most 50)`);
  sets.forEach((s, k) => {
    if (s.instance !== k + 1) structure.push(`instance ${k + 1} is missing (found i=${s.instance})`);
    for (const n of ARC_NAMES) if (!s.fields[n]) structure.push(`instance ${s.instance} has no ${n} field`);
  });
  const instances: ArcInstanceView[] = [];
  const complete = structure.length === 0;
  for (let k = 0; k < sets.length && complete; k++) {
    const s = sets[k];
    const aar = valueOf(s.fields['arc-authentication-results'] as RawField).replace(/\r\n/g, '').trim();
    instances.push({
      instance: s.instance,
      cv: tags(valueOf(s.fields['arc-seal'] as RawField)).get('cv')?.toLowerCase(),
      seal: await checkSeal(sets, k, lookup, minBits),
      messageSignature: await checkMessageSignature(s, fields, body, lookup, minBits),
      authResults: aar.replace(/^i\s*=\s*\d+\s*;\s*/, ''),
    });
  }
  const explanation: string[] = [];
  const finish = (view: Omit<ArcChainView, 'explanation' | 'instances'>): ArcChainView => {
    for (const v of instances) {
      explanation.push(`i=${v.instance} cv=${v.cv ?? '?'}: AS ${v.seal.result} (${v.seal.domain ?? '?'}, ${v.seal.reason}); AMS ${v.messageSignature.result} (${v.messageSignature.domain ?? '?'}, ${v.messageSignature.reason})`);
    }
    return { ...view, instances, explanation: [view.reason, ...explanation] };
  };
  if (!complete) return finish({ result: 'fail', reason: `the chain is malformed: ${structure.join('; ')}`, failedAt: { instance: sets[0]?.instance ?? 0, signature: 'structure' } });
  // RFC 8617 §5.1.2: cv=none at i=1, cv=pass after; a sealer that recorded fail ended the chain.
  for (const v of instances) {
    const want = v.instance === 1 ? 'none' : 'pass';
    if (v.cv !== want) {
      return finish({
        result: 'fail',
        reason: v.cv === 'fail' ? `instance ${v.instance} recorded cv=fail: the chain was already broken when it arrived there` : `instance ${v.instance} has cv=${v.cv ?? '(none)'}, where ${want} is required`,
        failedAt: { instance: v.instance, signature: 'structure' },
      });
    }
  }
  const latest = instances[instances.length - 1];
  if (latest.messageSignature.result !== 'pass') {
    return finish({ result: 'fail', reason: `the ARC-Message-Signature of instance ${latest.instance} (the latest) fails: ${latest.messageSignature.reason}`, failedAt: { instance: latest.instance, signature: 'AMS' }, ...(latest.messageSignature.keyProblem ? { keyProblem: latest.messageSignature.keyProblem } : {}) });
  }
  for (let k = instances.length - 1; k >= 0; k--) {
    if (instances[k].seal.result !== 'pass') {
      return finish({ result: 'fail', reason: `the ARC-Seal of instance ${instances[k].instance} fails: ${instances[k].seal.reason}`, failedAt: { instance: instances[k].instance, signature: 'AS' }, ...(instances[k].seal.keyProblem ? { keyProblem: instances[k].seal.keyProblem } : {}) });
    }
  }
  let oldestPass = latest.instance;
  for (let k = instances.length - 1; k >= 0 && instances[k].messageSignature.result === 'pass'; k--) oldestPass = instances[k].instance;
  const note = oldestPass > 1 ? `; the message was changed before instance ${oldestPass} (instance ${oldestPass - 1}'s AMS: ${instances[oldestPass - 2].messageSignature.reason})` : '';
  return finish({ result: 'pass', reason: `all ${instances.length} seals and the latest message signature verify${note}`, oldestPass });
}
