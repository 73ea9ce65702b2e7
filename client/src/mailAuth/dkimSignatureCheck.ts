/**
 * Whether a DKIM-Signature header field can be verified at all (RFC 6376 §6.1.1): the one home of
 * that decision, used by `verifyMessage` for every DKIM-Signature field of a message. mailauth
 * (lib/dkim/dkim-verifier.js, `messageHeaders`) silently skips a field whose a= or c= it does not
 * know or that lacks d= or s=, and gives no result for it; it verifies fields that lack v= or h=, or
 * whose h= does not list From. RFC 6376 §6.1.1 makes each of these a PERMFAIL: "Implementers MUST
 * meticulously validate the format and values in the DKIM-Signature header field; any inconsistency
 * or unexpected values MUST cause the header field to be completely ignored and the Verifier to
 * return PERMFAIL (signature syntax error)". RFC 8601 §2.7.1 writes PERMFAIL as `permerror` ("the
 * message could not be verified due to some error that is unrecoverable, such as a required header
 * field being absent"); it is never `pass`, so it never counts for DMARC. Pure; never throws.
 */
import { getTag, parseTagList, type TagList } from '../../../common/tagList';
import { dkimProblem, type DkimKeyRecordProblem, type DkimSignatureTags } from './dkimKeyCheck';

/** One DKIM-Signature field as the verifier reads it. */
export interface DkimSignatureField {
  /** The tags the key-record decision needs (empty strings for absent ones). */
  tags: DkimSignatureTags;
  /** The b= value without white space, as mailauth reports it; undefined when absent or empty. */
  b?: string;
  /** The c= value as written, when the field has one. */
  canonicalization?: string;
  /** Why the field cannot be verified, when it cannot (RFC 6376 §6.1.1). */
  problem?: DkimKeyRecordProblem;
  /** Whether mailauth skips the field without a result (`mailauthSkips`). */
  skippedByMailauth: boolean;
}

/**
 * Whether mailauth 4.13.3 skips the field and gives no result for it (lib/dkim/dkim-verifier.js,
 * `messageHeaders`): a= whose first part is not rsa or ed25519 or whose last part is not sha256 or
 * sha1, a header or body canonicalization other than simple or relaxed (simple when absent), no d=
 * or no s=. mailauth reads tag names in lower case, and the last of a repeated tag.
 */
function mailauthSkips(value: string): boolean {
  const list = parseTagList(value, { lowerCaseNames: true });
  const last = (name: string): string => [...list.tags].reverse().find((t) => t.name === name)?.value.replace(/\s+/g, ' ').trim() ?? '';
  const algorithm = last('a').split('-');
  const signAlgo = (algorithm[0] ?? '').toLowerCase().trim();
  const hashAlgo = (algorithm[algorithm.length - 1] ?? '').toLowerCase().trim();
  const canon = last('c').split('/');
  const headerCanon = canon[0].toLowerCase().trim() || 'simple';
  const bodyCanon = (canon[1] || 'simple').toLowerCase().trim();
  return (
    !['rsa', 'ed25519'].includes(signAlgo) ||
    !['sha256', 'sha1'].includes(hashAlgo) ||
    !CANONICALIZATIONS.has(headerCanon) ||
    !CANONICALIZATIONS.has(bodyCanon) ||
    last('d') === '' ||
    last('s') === ''
  );
}

/** RFC 6376 §3.5: the tags a DKIM-Signature field must have, in the order the section lists them. */
const REQUIRED_TAGS = ['v', 'a', 'b', 'bh', 'd', 'h', 's'] as const;

/**
 * The signing algorithms a verifier knows: RFC 6376 §3.3 (rsa-sha1, rsa-sha256) and RFC 8463 §3
 * (ed25519-sha256). rsa-sha1 is known but not accepted (RFC 8301 §3.1): the key-record decision
 * (`dkimKeyRecordProblem`, code `dkim-signature-sha1`) says so with its own reason.
 */
const KNOWN_ALGORITHMS: ReadonlySet<string> = new Set(['rsa-sha256', 'rsa-sha1', 'ed25519-sha256']);

/** RFC 6376 §3.4: the canonicalization algorithms ("simple" and "relaxed"). */
const CANONICALIZATIONS: ReadonlySet<string> = new Set(['simple', 'relaxed']);

/** A value from the field, shortened for a comment; the comment is made ASCII by `dkimProblem`. */
function shown(value: string): string {
  const one = value.replace(/\s+/g, ' ');
  return one.length > 40 ? `${one.slice(0, 40)}...` : one;
}

const SYNTAX = 'RFC 6376 §3.2, §6.1.1';

/** The first reason the field cannot be verified, in RFC 6376 §6.1.1 order. */
function fieldProblem(list: TagList): DkimKeyRecordProblem | undefined {
  // RFC 6376 §3.2: the tag-list grammar; "Tags with duplicate names MUST NOT occur within a single
  // tag-list; if a tag name does occur more than once, the entire tag-list is invalid."
  const syntax = list.errors[0];
  if (syntax) return dkimProblem('dkim-signature-syntax', `signature syntax error: ${shown(syntax.message)}`, SYNTAX);
  const duplicate = list.duplicates[0];
  if (duplicate) return dkimProblem('dkim-signature-duplicate-tag', `signature syntax error: tag ${shown(duplicate.name)}= occurs more than once`, SYNTAX);
  // RFC 6376 §6.1.1: "If any tag listed as "required" in Section 3.5 is omitted from the
  // DKIM-Signature header field, the Verifier MUST ignore the DKIM-Signature header field and
  // return PERMFAIL (signature missing required tag)." An empty value leaves the tag without meaning.
  const missing = REQUIRED_TAGS.filter((name) => (getTag(list, name)?.value.trim() ?? '') === '');
  if (missing.length > 0) {
    return dkimProblem('dkim-signature-missing-tag', `signature missing required tag ${missing.map((t) => `${t}=`).join(', ')}`, 'RFC 6376 §3.5, §6.1.1');
  }
  const value = (name: string): string => (getTag(list, name)?.value ?? '').replace(/\s+/g, '');
  // RFC 6376 §3.5: v= "MUST have the value "1"", and §6.1.1: "Verifiers MUST return PERMFAIL
  // (incompatible version) when presented with a DKIM-Signature header field with a "v=" tag that
  // is inconsistent with this specification."
  if (value('v') !== '1') return dkimProblem('dkim-signature-version', `v=${shown(value('v'))} is not 1: incompatible version`, 'RFC 6376 §3.5, §6.1.1');
  // RFC 6376 §3.5 a=: sig-a-tag-k and sig-a-tag-h are ABNF literals, so case-insensitive.
  const algorithm = value('a');
  if (!KNOWN_ALGORITHMS.has(algorithm.toLowerCase())) {
    return dkimProblem('dkim-signature-algorithm', `a=${shown(algorithm)} is not a known signing algorithm: signature syntax error`, 'RFC 6376 §3.3, §3.5, §6.1.1, RFC 8463 §3');
  }
  // RFC 6376 §3.5 c=: "header/body"; a missing body algorithm is "simple", and so is a missing c=.
  const c = getTag(list, 'c');
  if (c !== undefined) {
    const parts = c.value.replace(/\s+/g, '').toLowerCase().split('/');
    const bad = parts.length > 2 ? c.value : parts.find((p) => !CANONICALIZATIONS.has(p));
    if (bad !== undefined) {
      return dkimProblem('dkim-signature-canonicalization', `c=${shown(c.value)}: ${shown(bad)} is not simple or relaxed: signature syntax error`, 'RFC 6376 §3.4, §3.5, §6.1.1');
    }
  }
  // RFC 6376 §6.1.1: "If the "h=" tag does not include the From header field, the Verifier MUST
  // ignore the DKIM-Signature header field and return PERMFAIL (From field not signed)."
  const signed = value('h').toLowerCase().split(':');
  if (!signed.includes('from')) return dkimProblem('dkim-signature-from-unsigned', 'h= does not include From: From field not signed', 'RFC 6376 §3.5, §6.1.1');
  return undefined;
}

/**
 * Reads one DKIM-Signature field's value (unfolded or not). Tag names are case-sensitive (RFC 6376
 * §3.2): `A=` is not `a=`, which mailauth, lower-casing names, reads as the same tag.
 */
export function readDkimSignatureField(value: string): DkimSignatureField {
  const list = parseTagList(value);
  const tag = (name: string): string | undefined => getTag(list, name)?.value.replace(/\s+/g, '');
  const identity = tag('i');
  const b = tag('b');
  const canonicalization = tag('c');
  const problem = fieldProblem(list);
  return {
    tags: { algorithm: tag('a') ?? '', domain: tag('d') ?? '', selector: tag('s') ?? '', ...(identity !== undefined ? { identity } : {}) },
    ...(b !== undefined && b !== '' ? { b } : {}),
    ...(canonicalization !== undefined ? { canonicalization } : {}),
    ...(problem ? { problem } : {}),
    skippedByMailauth: mailauthSkips(value),
  };
}
