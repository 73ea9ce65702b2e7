/**
 * The rule for the names the DKIM checks query (`<selector>._domainkey.<domain>`): the one home for
 * "is this a DNS name we may ask", used by `smtpwb dns`, `smtpwb dkim`, the Mail DNS sidebar and the
 * DKIM key check; and how a domain is written in A-labels. It imports only Node's `url` module, so
 * the extension's eager bundle can validate what a user types without pulling any DNS code in.
 */
import { domainToASCII } from 'node:url';

/** The rule in words, for messages. */
export const DNS_NAME_RULE = 'dot-separated labels of 1 to 63 letters, digits, "-" or "_"';

/**
 * A domain name or selector: dot-separated labels of 1 to 63 letters, digits, "-" and "_", not
 * starting or ending with "-", 253 characters at most, one trailing dot allowed (RFC 6376 §3.1,
 * §3.6.2.1; RFC 1035 §2.3.4 for the lengths; "_" as DKIM and SRV-style names use it, RFC 8552).
 */
export function isDkimName(text: string): boolean {
  const t = text.endsWith('.') ? text.slice(0, -1) : text;
  return t.length > 0 && t.length <= 253 && t.split('.').every((l) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l));
}

/**
 * Why `selector` cannot be a DKIM selector (RFC 6376 §3.1: a selector is a sub-domain, so no trailing
 * dot), or why `<selector>._domainkey.<domain>` cannot be queried (longer than 253 characters), or
 * undefined when it can. The reason is plain text built from the caller's input: escape it where it
 * is shown.
 */
export function dkimSelectorProblem(selector: string, domain?: string): string | undefined {
  if (!isDkimName(selector) || selector.endsWith('.')) return `${selector === '' ? 'an empty selector' : `"${selector}"`} is not a selector name (${DNS_NAME_RULE})`;
  if (domain !== undefined && !isDkimName(`${selector}._domainkey.${domain}`)) return `${selector}._domainkey.${domain} is longer than a DNS name may be (253 characters)`;
  return undefined;
}

/**
 * A domain in A-labels, lower case, without the final dot of an absolute name (IDNA2008, RFC 5890
 * §2.3.2.1: `Bücher.example.` is `xn--bcher-kva.example`), or undefined when IDNA refuses it (an
 * invalid U-label, a code point IDNA does not allow). ASCII text is only lower-cased: it is not
 * checked here (see isDkimName and common/connectTarget.ts `checkHostName`). The one IDNA step of
 * the reports' domain comparisons and the DMARC Author Domain.
 */
export function aLabelDomain(name: string): string | undefined {
  const lower = name.trim().toLowerCase().replace(/\.$/, '');
  if (!/[^\x00-\x7f]/.test(lower)) return lower;
  let ascii = '';
  try {
    ascii = domainToASCII(lower);
  } catch {
    ascii = '';
  }
  return ascii === '' ? undefined : ascii.replace(/\.$/, '');
}
