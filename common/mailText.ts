/**
 * How a raw header field value becomes text: the one rule for the mail-authentication code and the
 * report parsers. Message parsers here read header octets as latin1 (one character per octet), so
 * that positions are byte offsets; a value is then read as UTF-8 when its bytes are valid UTF-8.
 */

/** Strict UTF-8: invalid sequences throw instead of becoming U+FFFD. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A header value read as latin1, decoded as UTF-8 when its bytes are valid UTF-8 (RFC 6532 §3.2:
 * SMTPUTF8 messages carry UTF-8 in field values, such as `Received: … (envelope-from
 * <anna@bücher.test>)`, a DKIM-Signature's d=, or a report mail's `Report Domain: bücher.example`),
 * else unchanged. Text that is already decoded (a character past U+00FF) is returned as it is.
 */
export function utf8FieldValue(latin1: string): string {
  if (!/[\x80-\xff]/.test(latin1) || /[^\x00-\xff]/.test(latin1)) return latin1;
  try {
    return STRICT_UTF8.decode(Buffer.from(latin1, 'latin1'));
  } catch {
    return latin1;
  }
}
