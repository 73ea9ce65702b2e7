/**
 * Enhanced mail system status codes (RFC 3463), as kept in the IANA "SMTP Enhanced Status Codes"
 * registry created by RFC 5248: the class (first number), the subject (second number) and every
 * registered detail (third number), with the RFC that defines each one.
 *
 * An enhanced code is written `class.subject.detail` (RFC 3463 §2): class is 2, 4 or 5; subject and
 * detail are 1 to 3 digits without leading zeros. RFC 2034 puts it at the start of the reply
 * text of servers that advertise ENHANCEDSTATUSCODES.
 */
import { ref, type RfcReference } from './rfc';

export type EnhancedClass = 2 | 4 | 5;

export interface EnhancedClassFact extends RfcReference {
  readonly class: EnhancedClass;
  readonly title: string;
  readonly description: string;
}

export interface EnhancedSubjectFact extends RfcReference {
  readonly subject: number;
  readonly title: string;
  readonly description: string;
}

export interface EnhancedDetailFact extends RfcReference {
  /** The code with an `X` class, e.g. `X.1.1`. */
  readonly code: string;
  readonly subject: number;
  readonly detail: number;
  readonly title: string;
  readonly description: string;
  /** Basic reply codes the registry associates with the code, when it names some. */
  readonly replyCodes?: readonly number[];
  /** Set for registrations the registry marks as deprecated. */
  readonly deprecated?: boolean;
}

/** What {@link enhancedCodeFact} knows of a code. */
export interface EnhancedCodeLookup {
  /** The code as normalised, e.g. `5.1.1` or `5.1.x`. */
  readonly code: string;
  readonly class: EnhancedClassFact;
  readonly subject: EnhancedSubjectFact | undefined;
  /** The detail, when the code names one and it is registered. */
  readonly detail: EnhancedDetailFact | undefined;
  /** True when the code ends in `x` (a whole subject, as `EXPECT 5.1.x` allows). */
  readonly partial: boolean;
}

/** The three classes (RFC 3463 §2 and the IANA Class Sub-Codes registry). */
const ENHANCED_CLASSES: ReadonlyMap<EnhancedClass, EnhancedClassFact> = new Map<EnhancedClass, EnhancedClassFact>([
  [2, { class: 2, title: 'Success', description: 'The action was completed; detail codes may report transformations that delivery required.', ...ref(3463, '2') }],
  [4, { class: 4, title: 'Persistent Transient Failure', description: 'The message as sent is valid, but a temporary condition prevented or delayed delivery; sending again later may succeed.', ...ref(3463, '2') }],
  [5, { class: 5, title: 'Permanent Failure', description: 'Resending the message as it is will not succeed; the message or the destination must change.', ...ref(3463, '2') }],
]);

function subject(n: number, title: string, description: string, section: string): [number, EnhancedSubjectFact] {
  return [n, { subject: n, title, description, ...ref(3463, section) }];
}

/** The subjects X.0 to X.7 (RFC 3463 §2 and the IANA Subject Sub-Codes registry). */
export const ENHANCED_SUBJECTS: ReadonlyMap<number, EnhancedSubjectFact> = new Map([
  subject(0, 'Other or Undefined Status', 'No further information about the subject is available.', '3.1'),
  subject(1, 'Addressing Status', 'About the originator or destination address: its syntax or validity. The sender can usually correct these and retry.', '3.2'),
  subject(2, 'Mailbox Status', 'About the destination mailbox, which is assumed to be under the control of the recipient.', '3.3'),
  subject(3, 'Mail System Status', 'About the destination mail system, which is assumed to be under the control of its administrator.', '3.4'),
  subject(4, 'Network and Routing Status', 'About the delivery infrastructure: routing, directory services and the network.', '3.5'),
  subject(5, 'Mail Delivery Protocol Status', 'About the protocol used to deliver the message, such as SMTP command and parameter errors.', '3.6'),
  subject(6, 'Message Content or Media Status', 'About the content of the message: media types, conversions and encodings.', '3.7'),
  subject(7, 'Security or Policy Status', 'About security and policy: authorization, authentication, encryption and sender checks.', '3.8'),
]);

function detail(
  subj: number,
  det: number,
  title: string,
  description: string,
  rfc: number,
  section: string,
  replyCodes?: number[],
  deprecated?: boolean,
): EnhancedDetailFact {
  const base: EnhancedDetailFact = { code: `X.${subj}.${det}`, subject: subj, detail: det, title, description, ...ref(rfc, section) };
  return { ...base, ...(replyCodes !== undefined ? { replyCodes } : {}), ...(deprecated === true ? { deprecated } : {}) };
}

const DETAILS: EnhancedDetailFact[] = [
  detail(0, 0, 'Other undefined Status', 'No further information is available; used when no other code fits.', 3463, '3.1'),

  detail(1, 0, 'Other address status', 'Something about the address caused the report, and no other X.1 code fits.', 3463, '3.2'),
  detail(1, 1, 'Bad destination mailbox address', 'The mailbox in the address does not exist at the destination: the part left of the "@" is invalid there.', 3463, '3.2', [451, 550]),
  detail(1, 2, 'Bad destination system address', 'The destination system named in the address does not exist or cannot accept mail: the part right of the "@" is invalid.', 3463, '3.2'),
  detail(1, 3, 'Bad destination mailbox address syntax', 'The destination address is syntactically invalid.', 3463, '3.2', [501]),
  detail(1, 4, 'Destination mailbox address ambiguous', 'The address matches more than one mailbox at the destination.', 3463, '3.2'),
  detail(1, 5, 'Destination address valid', 'The destination address is valid (a success code, e.g. in reply to RCPT).', 3463, '3.2', [250]),
  detail(1, 6, 'Destination mailbox has moved, No forwarding address', 'The mailbox used to exist but no longer accepts mail, and no forwarding address is known.', 3463, '3.2'),
  detail(1, 7, "Bad sender's mailbox address syntax", 'The sender address is syntactically invalid.', 3463, '3.2', [501]),
  detail(1, 8, "Bad sender's system address", 'The domain of the sender address does not exist or cannot accept mail, so replies could not be delivered.', 3463, '3.2', [501]),
  detail(1, 9, 'Message relayed to non-compliant mailer', 'The message was relayed to a system that does not support delivery status notifications, so no further reports can be expected.', 3886, ''),
  detail(1, 10, 'Recipient address has null MX', 'The domain of the recipient publishes a null MX, meaning it accepts no mail.', 7505, '4.1', [556]),

  detail(2, 0, 'Other or undefined mailbox status', 'The mailbox exists, but something about it caused the report.', 3463, '3.3'),
  detail(2, 1, 'Mailbox disabled, not accepting messages', 'The mailbox exists but accepts no messages, temporarily or permanently.', 3463, '3.3'),
  detail(2, 2, 'Mailbox full', 'The mailbox is over its quota or otherwise full; usually transient.', 3463, '3.3', [552]),
  detail(2, 3, 'Message length exceeds administrative limit', 'The message is larger than the limit set for this recipient.', 3463, '3.3', [552]),
  detail(2, 4, 'Mailing list expansion problem', 'The recipient is a mailing list and expanding it failed.', 3463, '3.3'),

  detail(3, 0, 'Other or undefined mail system status', 'The destination system caused the report, and no other X.3 code fits.', 3463, '3.4'),
  detail(3, 1, 'Mail system full', 'The destination system has no room for the message, e.g. its disk is full.', 3463, '3.4'),
  detail(3, 2, 'System not accepting network messages', 'The host is not accepting messages, for example while shutting down, or never accepts mail (RFC 7504 reply 521).', 3463, '3.4', [453, 521]),
  detail(3, 3, 'System not capable of selected features', 'The features the message requires are not supported by the destination system.', 3463, '3.4'),
  detail(3, 4, 'Message too big for system', 'The message is larger than the destination system allows for any recipient.', 3463, '3.4', [552]),
  detail(3, 5, 'System incorrectly configured', 'The destination system is misconfigured and cannot accept the message.', 3463, '3.4'),
  detail(3, 6, 'Requested priority was changed', 'The message was accepted, but the MT-PRIORITY it asked for was changed.', 6710, '', [250]),

  detail(4, 0, 'Other or undefined network or routing status', 'Something in the network or routing caused the report, and no other X.4 code fits.', 3463, '3.5'),
  detail(4, 1, 'No answer from host', 'The outbound connection attempt was not answered, e.g. the host is down or refuses connections.', 3463, '3.5'),
  detail(4, 2, 'Bad connection', 'The connection was established but failed before the transaction completed.', 3463, '3.5', [421]),
  detail(4, 3, 'Directory server failure', 'A directory server, usually the DNS, could not be used to route the message.', 3463, '3.5', [451, 550]),
  detail(4, 4, 'Unable to route', 'No route to the destination could be found, e.g. the domain has no MX and no address records.', 3463, '3.5'),
  detail(4, 5, 'Mail system congestion', 'The mail system is too busy to accept the message now.', 3463, '3.5', [451]),
  detail(4, 6, 'Routing loop detected', 'The message is looping, e.g. it has too many Received header fields.', 3463, '3.5'),
  detail(4, 7, 'Delivery time expired', 'The message stayed in the queue too long, or its delivery-by time passed, and delivery was given up.', 3463, '3.5'),

  detail(5, 0, 'Other or undefined protocol status', 'A protocol error occurred, and no other X.5 code fits.', 3463, '3.6'),
  detail(5, 1, 'Invalid command', 'The command was out of sequence or is not supported.', 3463, '3.6', [430, 500, 503, 530, 550, 554, 555]),
  detail(5, 2, 'Syntax error', 'The command was not understood because of a syntax error.', 3463, '3.6', [500, 501, 502, 550, 555]),
  detail(5, 3, 'Too many recipients', 'More recipients were given than the server accepts in one transaction; send the rest in another transaction.', 3463, '3.6', [451]),
  detail(5, 4, 'Invalid command arguments', 'The command was valid but its arguments were not, e.g. an unknown parameter.', 3463, '3.6', [501, 502, 503, 504, 550, 555]),
  detail(5, 5, 'Wrong protocol version', 'The protocol versions of the two sides are incompatible.', 3463, '3.6'),
  detail(5, 6, 'Authentication Exchange line is too long', 'A line of the AUTH exchange was longer than the server accepts.', 4954, '6', [500]),

  detail(6, 0, 'Other or undefined media error', 'Something about the content of the message caused the report, and no other X.6 code fits.', 3463, '3.7'),
  detail(6, 1, 'Media not supported', 'The media type of the message is not supported by the delivery protocol or the destination.', 3463, '3.7'),
  detail(6, 2, 'Conversion required and prohibited', 'The content had to be converted for delivery, but conversion was not allowed.', 3463, '3.7'),
  detail(6, 3, 'Conversion required but not supported', 'The content had to be converted for delivery, but the system cannot convert it.', 3463, '3.7', [554]),
  detail(6, 4, 'Conversion with loss performed', 'The content was converted for delivery and information was lost (a success or warning code).', 3463, '3.7'),
  detail(6, 5, 'Conversion Failed', 'A conversion the delivery required failed.', 3463, '3.7'),
  detail(6, 6, 'Message content not available', 'The content referenced by a BURL URL could not be retrieved.', 4468, '', [554]),
  detail(6, 7, 'Non-ASCII addresses not permitted for that sender/recipient', 'An internationalized address was used where the server cannot accept it.', 6531, '3.5', [550, 553]),
  detail(6, 8, 'UTF-8 string reply is required, but not permitted by the SMTP client', 'The reply would need UTF-8 text but the client did not send SMTPUTF8.', 6531, '', [252, 550, 553]),
  detail(6, 9, 'UTF-8 header message cannot be transferred to one or more recipients, so the message must be rejected', 'A message with UTF-8 header fields cannot be delivered to a recipient whose server lacks SMTPUTF8.', 6531, '', [550]),
  detail(6, 10, 'UTF-8 string reply is required, but not permitted by the SMTP client (duplicate of X.6.8)', 'A duplicate registration of X.6.8, which should be used instead.', 6531, '', undefined, true),

  detail(7, 0, 'Other or undefined security status', 'A security or policy problem occurred, and no other X.7 code fits; also used after a successful AUTH (2.7.0).', 3463, '3.8', [220, 235, 450, 454, 500, 501, 503, 504, 530, 535, 550]),
  detail(7, 1, 'Delivery not authorized, message refused', 'The sender is not authorized to send to the destination, e.g. because of per-host or per-recipient filtering or relaying denied.', 3463, '3.8', [451, 454, 502, 503, 533, 550, 551]),
  detail(7, 2, 'Mailing list expansion prohibited', 'The sender may not send to the mailing list named as recipient.', 3463, '3.8', [550]),
  detail(7, 3, 'Security conversion required but not possible', 'The message needed a security conversion (e.g. re-encryption) that cannot be performed.', 3463, '3.8'),
  detail(7, 4, 'Security features not supported', 'The message requires security features the destination does not support.', 3463, '3.8', [504]),
  detail(7, 5, 'Cryptographic failure', 'A cryptographic operation on the message, such as verifying a signature, failed.', 3463, '3.8'),
  detail(7, 6, 'Cryptographic algorithm not supported', 'The message uses a cryptographic algorithm the destination does not support.', 3463, '3.8'),
  detail(7, 7, 'Message integrity failure', 'The message was found corrupted, e.g. its integrity check failed.', 3463, '3.8'),
  detail(7, 8, 'Authentication credentials invalid', 'The credentials given in AUTH are wrong, or the account cannot be used.', 4954, '6', [535, 554]),
  detail(7, 9, 'Authentication mechanism is too weak', 'The AUTH mechanism chosen is weaker than the server requires for this user or operation.', 4954, '6', [534]),
  detail(7, 10, 'Encryption Needed', 'The operation requires an encrypted connection; the client should use STARTTLS first.', 5248, '', [523]),
  detail(7, 11, 'Encryption required for requested authentication mechanism', 'The AUTH mechanism may only be used over an encrypted connection.', 4954, '6', [524, 538]),
  detail(7, 12, 'A password transition is needed', 'The user must authenticate once with a plaintext mechanism so that the server can store a new form of the password.', 4954, '6', [422, 432]),
  detail(7, 13, 'User Account Disabled', 'The account of the sender is disabled, for example by an administrator.', 5248, '', [525]),
  detail(7, 14, 'Trust relationship required', 'The two systems need an established trust relationship for this operation.', 5248, '', [535, 554]),
  detail(7, 15, 'Priority Level is too low', 'The MT-PRIORITY of the message is too low to be accepted now.', 6710, '', [450, 550]),
  detail(7, 16, 'Message is too big for the specified priority', 'The message is too big to be accepted at its MT-PRIORITY.', 6710, '', [552]),
  detail(7, 17, 'Mailbox owner has changed', 'The mailbox has changed owner since the time given in the RRVS parameter.', 7293, '', [550]),
  detail(7, 18, 'Domain owner has changed', 'The domain has changed owner since the time given in the RRVS parameter.', 7293, '', [550]),
  detail(7, 19, 'RRVS test cannot be completed', 'The server cannot check the RRVS parameter for this recipient.', 7293, '', [550]),
  detail(7, 20, 'No passing DKIM signature found', 'The message carries no DKIM signature that validates.', 7372, '3.1', [550]),
  detail(7, 21, 'No acceptable DKIM signature found', 'The message has passing DKIM signatures, but none acceptable by local policy.', 7372, '3.1', [550]),
  detail(7, 22, 'No valid author-matched DKIM signature found', 'No passing DKIM signature has a domain matching the author (From) domain.', 7372, '3.1', [550]),
  detail(7, 23, 'SPF validation failed', 'The SPF check of the sender returned "fail".', 7372, '3.2', [550]),
  detail(7, 24, 'SPF validation error', 'The SPF check of the sender could not be completed (temperror or permerror).', 7372, '3.2', [451, 550]),
  detail(7, 25, 'Reverse DNS validation failed', 'The IP address of the client has no valid reverse DNS name that maps back to it.', 7372, '3.3', [550]),
  detail(7, 26, 'Multiple authentication checks failed', 'Several authentication checks (DKIM, SPF, reverse DNS) failed together.', 7372, '3.4', [500]),
  detail(7, 27, 'Sender address has null MX', 'The domain of the sender publishes a null MX, so it cannot receive replies or bounces.', 7505, '4.2', [550]),
  detail(7, 28, 'Mail flood detected', 'The message appears to be part of a flood of similar unwanted messages.', 8098, '', [450, 550]),
  detail(7, 29, 'ARC validation failure', 'The message failed ARC (Authenticated Received Chain) validation.', 8617, '', [550]),
  detail(7, 30, 'REQUIRETLS support required', 'The message requires REQUIRETLS, which a server on the path does not support.', 8689, '', [550]),
];

/** Every registered detail code, keyed by its `X.subject.detail` form. */
export const ENHANCED_DETAILS: ReadonlyMap<string, EnhancedDetailFact> = new Map(DETAILS.map((d) => [d.code, d]));

/**
 * The syntax of an enhanced code (RFC 3463 §2): `class "." subject "." detail`, where class is
 * 2, 4 or 5 and subject and detail are 1 to 3 digits without leading zeros. The detail may be `x`
 * (or `X`), and the class may be `X`, to name a whole subject or a code in any class.
 */
const ENHANCED_CODE_PATTERN = /^([245xX])\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2}|[xX])$/;

/** Whether a text is a complete enhanced status code such as `5.1.1` (RFC 3463 §2). */
export function isEnhancedCode(text: string): boolean {
  return /^[245]\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.test(text);
}

/**
 * Looks up an enhanced status code such as `5.1.1`, or a partial form such as `5.1.x` that names a
 * whole subject. Returns undefined when the text is not of the form of RFC 3463 §2 or has no
 * concrete class (use {@link enhancedDetailFact} for `X.1.1`). Subjects and details that are not
 * registered give `subject` or `detail` undefined.
 */
export function enhancedCodeFact(text: string): EnhancedCodeLookup | undefined {
  const m = ENHANCED_CODE_PATTERN.exec(text.trim());
  if (m === null) return undefined;
  const [, c, s, d] = m as unknown as [string, string, string, string];
  if (c === 'x' || c === 'X') return undefined;
  const cls = ENHANCED_CLASSES.get(Number(c) as EnhancedClass);
  if (cls === undefined) return undefined;
  const partial = d === 'x' || d === 'X';
  const subjectFact = ENHANCED_SUBJECTS.get(Number(s));
  const detailFact = partial ? undefined : ENHANCED_DETAILS.get(`X.${Number(s)}.${Number(d)}`);
  return {
    code: `${c}.${s}.${partial ? 'x' : d}`,
    class: cls,
    subject: subjectFact,
    detail: detailFact,
    partial,
  };
}

/** The detail fact of a code in `X.s.d` form or any class (`5.1.1`, `X.1.1`), or undefined. */
export function enhancedDetailFact(text: string): EnhancedDetailFact | undefined {
  const m = /^[245xX]\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  return m === null ? undefined : ENHANCED_DETAILS.get(`X.${Number(m[1])}.${Number(m[2])}`);
}
