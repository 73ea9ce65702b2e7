/**
 * The normal form of the names and addresses reports carry, for grouping and display: the one home
 * for "are these the same source IP / the same domain" in the report summary, its duplicate check
 * and `--domain`. The parsers keep the text as sent (the model and hovers show what the report
 * says); the summary groups and shows the normal form. Pure; never throws.
 */
import { isIP, SocketAddress } from 'node:net';

/**
 * A domain as reports compare it: without surrounding white space, in lower case (DNS names compare
 * case-insensitively, RFC 4343 §3) and without the final dot of an absolute name (`Example.COM.` is
 * `example.com`). A-labels and U-labels are not converted.
 */
export function normalDomain(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
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
