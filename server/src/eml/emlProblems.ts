/**
 * The catalogue of every problem the `.eml` language service reports. Each code is stable: editors,
 * suppressions and tests refer to it. The diagnostics layer attaches the link of the catalogue entry
 * to each diagnostic, so analysers only need to use the codes listed here.
 */
import { ProblemDefinition, rfcLink, Severity } from '../../../common/problem';

function def(code: string, severity: Severity, summary: string, rfc: number, section?: string): ProblemDefinition {
  return { code, severity, summary, link: rfcLink(rfc, section) };
}

export const EML_PROBLEMS: ProblemDefinition[] = [
  // Lines and characters (RFC 5322 §2.1, §2.1.1, §2.3).
  def('eml-bare-lf', 'warning', 'A line ends with a bare LF in a message that otherwise uses CRLF.', 5322, '2.3'),
  def('eml-mixed-line-endings', 'warning', 'A line ends with CRLF in a file that otherwise uses LF line endings.', 5322, '2.3'),
  def('eml-bare-cr', 'error', 'A CR that is not followed by LF.', 5322, '2.3'),
  def('eml-nul', 'error', 'A NUL character, which must not appear in a message.', 5322, '2.3'),
  def('eml-line-too-long', 'error', 'A line longer than 998 octets (excluding CRLF).', 5322, '2.1.1'),
  def('eml-line-over-78', 'hint', 'A line longer than the recommended 78 characters.', 5322, '2.1.1'),
  def('eml-replacement-char', 'warning', 'A U+FFFD replacement character: the file was probably decoded with the wrong charset.', 6532, '3.1'),
  // Header section syntax (RFC 5322 §2.2, §3.6, §4).
  def('eml-header-syntax', 'error', 'A line in the header section that is not a header field.', 5322, '2.2'),
  def('eml-header-name-invalid', 'error', 'A header field name with characters outside printable US-ASCII or with spaces.', 5322, '3.6.8'),
  def('eml-header-space-before-colon', 'warning', 'White space between a field name and its colon (obsolete syntax).', 5322, '4.5'),
  def('eml-header-empty-continuation', 'warning', 'A folded line that contains only white space (obsolete syntax).', 5322, '4.2'),
  def('eml-header-leading-whitespace', 'error', 'The header section starts with a folded (indented) line.', 5322, '2.2.3'),
  def('eml-missing-separator', 'error', 'The body starts without the empty line that separates it from the header section.', 5322, '2.1'),
  def('eml-header-missing', 'error', 'A required header field (Date or From) is missing.', 5322, '3.6'),
  def('eml-header-duplicate', 'error', 'A header field that may occur at most once occurs again.', 5322, '3.6'),
  def('eml-header-empty', 'warning', 'A header field that requires a value is empty.', 5322, '3.6'),
  def('eml-sender-required', 'error', 'From holds several mailboxes but there is no Sender field.', 5322, '3.6.2'),
  def('eml-message-id-missing', 'warning', 'The message has no Message-ID field.', 5322, '3.6.4'),
  def('eml-utf8-header', 'warning', 'A header field holds raw UTF-8 but the message declares no internationalised context; transport requires SMTPUTF8 (info inside message/global or after an SMTPUTF8 hop).', 6532, '3'),
  def('eml-utf8-invalid', 'error', 'A header field holds bytes that are not valid UTF-8 (read as U+FFFD).', 6532, '3.1'),
  def('eml-bom', 'error', 'The message starts with a UTF-8 byte-order mark, which becomes part of the first field name.', 5322, '2.2'),
  // Addresses (RFC 5322 §3.4).
  def('eml-address-syntax', 'error', 'An address that does not follow the mailbox or group syntax.', 5322, '3.4'),
  def('eml-address-obsolete', 'warning', 'An address written with obsolete syntax (empty list elements, route, unquoted dots).', 5322, '4.4'),
  def('eml-address-group-not-allowed', 'error', 'A group in a field that takes mailboxes only.', 5322, '3.6.2'),
  def('eml-address-single', 'error', 'A field that takes a single mailbox holds several.', 5322, '3.6.2'),
  // Date and time (RFC 5322 §3.3).
  def('eml-date-syntax', 'error', 'A date-time that does not follow the RFC 5322 syntax.', 5322, '3.3'),
  def('eml-date-invalid', 'error', 'A date-time with an impossible value (day of month, hour, minute, second).', 5322, '3.3'),
  def('eml-date-weekday', 'warning', 'The day of the week does not match the date.', 5322, '3.3'),
  def('eml-date-zone', 'warning', 'A zone offset outside the range used on Earth or with minutes over 59.', 5322, '3.3'),
  def('eml-date-obsolete', 'info', 'A date-time with obsolete syntax (two-digit year, named zone).', 5322, '4.3'),
  // Identification fields (RFC 5322 §3.6.4).
  def('eml-message-id-syntax', 'error', 'A message identifier that is not `<left@right>`.', 5322, '3.6.4'),
  // MIME (RFC 2045, 2046, 2049, 2231).
  def('eml-mime-version-missing', 'warning', 'MIME fields are present but MIME-Version is not.', 2045, '4'),
  def('eml-mime-version-value', 'error', 'MIME-Version is not 1.0.', 2045, '4'),
  def('eml-content-type-syntax', 'error', 'A Content-Type that is not `type/subtype *(; parameter)`.', 2045, '5.1'),
  def('eml-param-syntax', 'error', 'A MIME parameter that is not `attribute=value`.', 2045, '5.1'),
  def('eml-param-duplicate', 'error', 'A MIME parameter given twice.', 2231, '7'),
  def('eml-rfc2231-syntax', 'error', 'An RFC 2231 extended parameter value that is malformed.', 2231, '7'),
  def('eml-rfc2231-continuation', 'error', 'RFC 2231 parameter continuations that do not run 0, 1, 2, … without gaps.', 2231, '3'),
  def('eml-charset-unknown', 'warning', 'A charset name that is not registered with IANA.', 2046, '4.1.2'),
  def('eml-multipart-no-boundary', 'error', 'A multipart Content-Type without a boundary parameter.', 2046, '5.1.1'),
  def('eml-boundary-syntax', 'error', 'A boundary longer than 70 characters, ending in a space, or with characters outside bchars.', 2046, '5.1.1'),
  def('eml-boundary-missing', 'error', 'The boundary of a multipart never appears in its body.', 2046, '5.1.1'),
  def('eml-boundary-unclosed', 'error', 'A multipart whose close delimiter (`--boundary--`) never appears.', 2046, '5.1.1'),
  def('eml-part-after-close', 'warning', 'A boundary delimiter after the close delimiter: that part is in the epilogue and is ignored.', 2046, '5.1.1'),
  def('eml-multipart-empty', 'error', 'A multipart with no body parts.', 2046, '5.1.1'),
  def('eml-mime-depth', 'warning', 'MIME parts nested deeper than most readers accept.', 2046, '5.1'),
  def('eml-cte-unknown', 'error', 'A Content-Transfer-Encoding that is not 7bit, 8bit, binary, quoted-printable or base64.', 2045, '6.1'),
  def('eml-cte-composite', 'error', 'A multipart or message part with an encoding other than 7bit, 8bit or binary.', 2045, '6.4'),
  def('eml-8bit-in-7bit', 'error', '8-bit data in a part whose encoding is 7bit, quoted-printable or base64.', 2045, '2.7'),
  def('eml-base64-char', 'error', 'A character outside the base64 alphabet in a base64 body.', 2045, '6.8'),
  def('eml-base64-padding', 'error', 'Base64 data whose length or padding is wrong.', 2045, '6.8'),
  def('eml-qp-escape', 'error', 'An `=` in quoted-printable data that is not followed by two hex digits or a line break.', 2045, '6.7'),
  def('eml-qp-line-length', 'error', 'A quoted-printable line longer than 76 characters.', 2045, '6.7'),
  // Encoded words (RFC 2047).
  def('eml-ew-syntax', 'error', 'An encoded word that does not follow `=?charset?B|Q?text?=`.', 2047, '2'),
  def('eml-ew-too-long', 'warning', 'An encoded word longer than 75 characters.', 2047, '2'),
  def('eml-ew-charset', 'warning', 'An encoded word in a charset that is not registered.', 2047, '2'),
  def('eml-ew-in-quoted', 'warning', 'An encoded word inside a quoted string, where readers must not decode it.', 2047, '5'),
  def('eml-ew-in-addr-spec', 'error', 'An encoded word inside an address (addr-spec) or message identifier.', 2047, '5'),
  def('eml-ew-in-parameter', 'info', 'An encoded word in a MIME parameter value; RFC 2231 is the standard form.', 2047, '5'),
  // Authentication (RFC 6376, 8601, 8617).
  def('eml-dkim-syntax', 'error', 'A DKIM-Signature tag list that does not parse.', 6376, '3.2'),
  def('eml-dkim-tag-missing', 'error', 'A DKIM-Signature without a required tag (v, a, b, bh, d, h, s).', 6376, '3.5'),
  def('eml-dkim-tag-duplicate', 'error', 'A DKIM-Signature tag given twice.', 6376, '3.2'),
  def('eml-dkim-tag-value', 'error', 'A DKIM-Signature tag with an invalid value.', 6376, '3.5'),
  def('eml-dkim-h-from', 'error', 'The h= tag of a DKIM-Signature does not include From.', 6376, '5.4'),
  def('eml-dkim-base64', 'error', 'A DKIM-Signature b= or bh= value that is not base64.', 6376, '3.5'),
  def('eml-dkim-length', 'warning', 'A DKIM-Signature with l=: content appended after the signed length passes verification.', 6376, '8.2'),
  def('eml-dkim-sha1', 'warning', 'A DKIM-Signature using rsa-sha1, which verifiers must not consider valid.', 8301, '3.1'),
  def('eml-ar-syntax', 'warning', 'An Authentication-Results field that does not follow the RFC 8601 syntax.', 8601, '2.2'),
  def('eml-ar-method-unknown', 'info', 'An Authentication-Results method that is not registered.', 8601, '2.7'),
  def('eml-ar-result-invalid', 'warning', 'An Authentication-Results result that is not defined for its method.', 8601, '2.7'),
  def('eml-arc-incomplete', 'error', 'An ARC set without all three fields (ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results).', 8617, '4.1'),
  def('eml-arc-instance', 'error', 'ARC instance numbers that are missing, duplicated, out of 1–50 or not contiguous.', 8617, '4.2.1'),
  def('eml-arc-cv', 'error', 'An ARC-Seal cv= value that does not fit its instance.', 8617, '4.1.3'),
];

const BY_CODE = new Map(EML_PROBLEMS.map((d) => [d.code, d]));

/** Returns the catalogue entry of a code, or undefined. */
export function findEmlProblem(code: string): ProblemDefinition | undefined {
  return BY_CODE.get(code);
}
