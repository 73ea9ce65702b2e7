/**
 * The normal form of the names and addresses reports carry, for grouping and display: the one home
 * for "are these the same source IP / the same domain" in the report summary, its duplicate check
 * and `--domain`. The parsers keep the text as sent (the model and hovers show what the report
 * says); the summary groups and shows the normal form. Pure; never throws.
 */
import { isIP, SocketAddress } from 'node:net';
import { checkHostName } from '../../../common/connectTarget';
import { aLabelDomain } from '../../../common/dnsName';

/**
 * A domain as reports compare it: without surrounding white space, in lower case (DNS names compare
 * case-insensitively, RFC 4343 §3), without the final dot of an absolute name (`Example.COM.` is
 * `example.com`), and with its U-labels converted to A-labels (IDNA2008, RFC 5890 §2.3.2.1, through
 * the UTS #46 mapping of `node:url`'s `domainToASCII`, as RFC 8616 §3 has mail software compare
 * internationalised domains): `Bücher.example`, `bücher.example` and `XN--BCHER-KVA.example` are all
 * `xn--bcher-kva.example`, so a report, its file name, its Subject and `--domain` may each write the
 * domain either way. Text that IDNA cannot convert (a disallowed code point) is kept as written, in
 * lower case: it equals no valid domain. The summary shows this form.
 */
export function normalDomain(name: string): string {
  return aLabelDomain(name) ?? name.trim().toLowerCase().replace(/\.$/, '');
}

/**
 * Why `text` cannot be a domain a report is about (`smtpwb report --domain`), or undefined: a host
 * name by the one host-name rule (common/connectTarget.ts `checkHostName`: LDH labels, `_` allowed,
 * valid A-labels, U-labels IDNA converts, 63 and 253 octets; RFC 1035 §2.3.4, RFC 5890 §2.3.2.1),
 * one final dot allowed, and not an IP address (a policy domain is a name, RFC 9989 §4.1). The
 * reason is plain text built from the caller's input: escape it where it is shown.
 */
export function reportDomainProblem(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return 'the domain is empty';
  if (isIP(trimmed.replace(/^\[(.*)\]$/s, '$1')) !== 0) return `"${trimmed}" is an IP address, not a domain`;
  return checkHostName(trimmed);
}

/** An IPv4 address already in its normal form (no leading zeros), the common case, kept as it is. */
const PLAIN_IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Normal forms already computed: a folder of reports names the same few thousand sources again and again. */
const IP_CACHE = new Map<string, string>();
const IP_CACHE_LIMIT = 100_000;

/**
 * A source IP address in its normal form: an IPv6 address in the RFC 5952 §4 text (lower case,
 * no leading zeros, the longest run of zero groups as `::`), so `2001:0db8:0:0::1` and
 * `2001:DB8::1` are both `2001:db8::1`; an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, RFC 4291
 * §2.5.5.2, as a dual-stack receiver may log an IPv4 sender) as the IPv4 address it stands for.
 * Text that is not an IP address (a `dmarc-agg-value` finding) is only trimmed.
 */
export function normalIp(text: string): string {
  if (PLAIN_IPV4.test(text)) return text;
  // No address is longer (45 characters and some white space); long text is not kept in the cache.
  if (text.length > 64) return text.trim();
  const cached = IP_CACHE.get(text);
  if (cached !== undefined) return cached;
  const trimmed = text.trim();
  let out = trimmed;
  if (isIP(trimmed) === 6) {
    try {
      // The platform's inet_ntop gives the RFC 5952 text (mixed notation for a mapped address).
      out = new SocketAddress({ address: trimmed, family: 'ipv6' }).address;
    } catch {
      out = trimmed.toLowerCase();
    }
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(out);
    if (mapped) out = mapped[1];
  }
  if (IP_CACHE.size >= IP_CACHE_LIMIT) IP_CACHE.clear();
  IP_CACHE.set(text, out);
  return out;
}
