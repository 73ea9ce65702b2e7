/**
 * SMTP reply codes: the basic codes of RFC 5321 §4.2.2 and §4.2.3 and those added by extensions,
 * with the meaning of the first digit (the class) and the second digit (the category) given in
 * RFC 5321 §4.2.1.
 */
import { ref, type RfcReference } from './rfc';

/** A meaning a code has in an extension, in addition to its meaning in RFC 5321. */
export interface ReplyCodeUse extends RfcReference {
  /** The command or situation the use applies to, e.g. `STARTTLS`. */
  readonly context: string;
  readonly meaning: string;
  /** The enhanced status code the extension pairs with this reply, if any. */
  readonly enhanced?: string;
}

export interface ReplyCodeFact extends RfcReference {
  readonly code: number;
  /** The text RFC 5321 (or the defining RFC) gives for the code. */
  readonly meaning: string;
  /** Meanings given by extensions; one code may be used by several. */
  readonly uses: readonly ReplyCodeUse[];
}

export type ReplyClass = 2 | 3 | 4 | 5;

export interface ReplyClassFact {
  readonly digit: ReplyClass;
  readonly name: string;
  readonly description: string;
}

/** The meaning of the first digit of a reply code (RFC 5321 §4.2.1). */
const CLASSES: Record<ReplyClass, ReplyClassFact> = {
  2: {
    digit: 2,
    name: 'Positive Completion reply',
    description: 'The requested action has been successfully completed; a new request may be initiated.',
  },
  3: {
    digit: 3,
    name: 'Positive Intermediate reply',
    description: 'The command has been accepted, but the requested action is being held in abeyance, pending receipt of further information (the data after DATA, or the next AUTH response).',
  },
  4: {
    digit: 4,
    name: 'Transient Negative Completion reply',
    description: 'The command was not accepted and the requested action did not occur, but the error condition is temporary and the action may be requested again later.',
  },
  5: {
    digit: 5,
    name: 'Permanent Negative Completion reply',
    description: 'The command was not accepted and the requested action did not occur; the client should not repeat the exact request.',
  },
};

/** The meaning of the second digit of a reply code (RFC 5321 §4.2.1). */
const REPLY_CATEGORIES: ReadonlyMap<number, { readonly name: string; readonly description: string }> = new Map([
  [0, { name: 'Syntax', description: 'Syntax errors, and syntactically correct commands that do not fit any functional category, unimplemented or superfluous commands.' }],
  [1, { name: 'Information', description: 'Replies to requests for information, such as status or help.' }],
  [2, { name: 'Connections', description: 'Replies referring to the transmission channel.' }],
  [3, { name: 'Unspecified', description: 'Not specified by RFC 5321 (used by extensions, e.g. 334 of AUTH and 354 of DATA).' }],
  [4, { name: 'Unspecified', description: 'Not specified by RFC 5321 (used by extensions, e.g. 454 of STARTTLS).' }],
  [5, { name: 'Mail system', description: 'Replies that indicate the status of the receiver mail system with respect to the requested transfer or other mail system action.' }],
]);

/** Describes the class of a reply code from its first digit (RFC 5321 §4.2.1). */
export function describeReplyClass(digit: ReplyClass): ReplyClassFact;
export function describeReplyClass(digit: number): ReplyClassFact | undefined;
export function describeReplyClass(digit: number): ReplyClassFact | undefined {
  return digit === 2 || digit === 3 || digit === 4 || digit === 5 ? CLASSES[digit] : undefined;
}

/** Describes the category of a reply code from its second digit (RFC 5321 §4.2.1). */
export function describeReplyCategory(digit: number): { readonly name: string; readonly description: string } | undefined {
  return REPLY_CATEGORIES.get(digit);
}

function use(context: string, meaning: string, rfc: number, section: string, enhanced?: string): ReplyCodeUse {
  return enhanced === undefined ? { context, meaning, ...ref(rfc, section) } : { context, meaning, enhanced, ...ref(rfc, section) };
}

function fact(code: number, meaning: string, rfc: number, section: string, uses: ReplyCodeUse[] = []): ReplyCodeFact {
  return { code, meaning, ...ref(rfc, section), uses };
}

const FACTS: ReplyCodeFact[] = [
  fact(211, 'System status, or system help reply', 5321, '4.2.2'),
  fact(214, 'Help message (information on how to use the receiver or the meaning of a particular non-standard command; useful only to the human user)', 5321, '4.2.2'),
  fact(220, '<domain> Service ready', 5321, '4.2.2', [use('STARTTLS', 'Ready to start TLS', 3207, '4')]),
  fact(221, '<domain> Service closing transmission channel', 5321, '4.2.2'),
  fact(235, 'Authentication succeeded', 4954, '6', [use('AUTH', 'Authentication Succeeded', 4954, '6', '2.7.0')]),
  fact(250, 'Requested mail action okay, completed', 5321, '4.2.2', [
    use('ETRN', 'OK, queuing for node started', 1985, ''),
    use('LMTP DATA', 'One reply per accepted recipient after the end of data', 2033, '4.2'),
  ]),
  fact(251, 'User not local; will forward to <forward-path> (see RFC 5321 §3.4)', 5321, '4.2.2', [
    use('ETRN', 'OK, no messages waiting for node', 1985, ''),
  ]),
  fact(252, 'Cannot VRFY user, but will accept message and attempt delivery (see RFC 5321 §3.5.3)', 5321, '4.2.2', [
    use('ETRN', 'OK, pending messages for node started', 1985, ''),
  ]),
  fact(253, 'OK, pending messages for node started (ETRN)', 1985, '', [
    use('ETRN', 'OK, <n> pending messages for node <x> started', 1985, ''),
  ]),
  fact(334, 'Server challenge in an AUTH exchange (base64 text follows)', 4954, '4', [
    use('AUTH', 'A server challenge, base64-encoded; the client answers with one line', 4954, '4'),
  ]),
  fact(354, 'Start mail input; end with <CRLF>.<CRLF>', 5321, '4.2.2'),
  fact(421, '<domain> Service not available, closing transmission channel (may be a reply to any command if the service knows it must shut down)', 5321, '4.2.2'),
  fact(432, 'A password transition is needed', 4954, '6', [use('AUTH', 'A password transition is needed', 4954, '6', '4.7.12')]),
  fact(450, 'Requested mail action not taken: mailbox unavailable (e.g., mailbox busy or temporarily blocked for policy reasons)', 5321, '4.2.2', [
    use('ATRN', 'ATRN request refused', 2645, ''),
  ]),
  fact(451, 'Requested action aborted: local error in processing', 5321, '4.2.2', [
    use('ATRN', 'Unable to process ATRN request now', 2645, ''),
  ]),
  fact(452, 'Requested action not taken: insufficient system storage', 5321, '4.2.2', [
    use('RCPT', 'Too many recipients', 5321, '4.5.3.1.10', '4.5.3'),
    use('MAIL SIZE', 'Insufficient system storage for a message of the declared size, for now', 1870, '', '4.3.1'),
  ]),
  fact(453, 'You have no mail (ATRN)', 2645, '', [use('ATRN', 'You have no mail', 2645, '')]),
  fact(454, 'TLS not available due to temporary reason', 3207, '4', [
    use('STARTTLS', 'TLS not available due to temporary reason', 3207, '4'),
    use('AUTH', 'Temporary authentication failure', 4954, '6', '4.7.0'),
  ]),
  fact(455, 'Server unable to accommodate parameters', 5321, '4.2.3'),
  fact(458, 'Unable to queue messages for node (ETRN)', 1985, '', [use('ETRN', 'Unable to queue messages for node <x>', 1985, '')]),
  fact(459, 'Node not allowed (ETRN)', 1985, '', [use('ETRN', 'Node <x> not allowed: <reason>', 1985, '')]),
  fact(500, 'Syntax error, command unrecognized (this may include errors such as command line too long)', 5321, '4.2.2', [
    use('AUTH', 'Authentication Exchange line is too long', 4954, '6', '5.5.6'),
  ]),
  fact(501, 'Syntax error in parameters or arguments', 5321, '4.2.2', [
    use('STARTTLS', 'Syntax error (no parameters allowed)', 3207, '4'),
    use('AUTH', 'The client cancelled the exchange with "*", or sent invalid base64', 4954, '4', '5.5.2'),
  ]),
  fact(502, 'Command not implemented (see RFC 5321 §4.2.4)', 5321, '4.2.2'),
  fact(503, 'Bad sequence of commands', 5321, '4.2.2', [use('AUTH', 'Already authenticated, or AUTH during a mail transaction', 4954, '4', '5.5.1')]),
  fact(504, 'Command parameter not implemented', 5321, '4.2.2', [use('AUTH', 'Unrecognized authentication type', 4954, '4', '5.5.4')]),
  fact(521, 'Host does not accept mail', 7504, '', [use('connection', 'The host does not accept mail at all; sent as the greeting (or to any command) and the server closes the connection', 7504, '', '5.3.2')]),
  fact(530, 'Must issue a STARTTLS command first, or authentication required', 3207, '4', [
    use('STARTTLS', 'Must issue a STARTTLS command first', 3207, '4', '5.7.0'),
    use('AUTH', 'Authentication required', 4954, '6', '5.7.0'),
  ]),
  fact(534, 'Authentication mechanism is too weak', 4954, '6', [use('AUTH', 'Authentication mechanism is too weak', 4954, '6', '5.7.9')]),
  fact(535, 'Authentication credentials invalid', 4954, '6', [use('AUTH', 'Authentication credentials invalid', 4954, '6', '5.7.8')]),
  fact(538, 'Encryption required for requested authentication mechanism', 4954, '6', [
    use('AUTH', 'Encryption required for requested authentication mechanism', 4954, '6', '5.7.11'),
  ]),
  fact(550, 'Requested action not taken: mailbox unavailable (e.g., mailbox not found, no access, or command rejected for policy reasons)', 5321, '4.2.2', [
    use('MAIL', 'Sender address has null MX', 7505, '4.2', '5.7.27'),
  ]),
  fact(551, 'User not local; please try <forward-path> (see RFC 5321 §3.4)', 5321, '4.2.2'),
  fact(552, 'Requested mail action aborted: exceeded storage allocation', 5321, '4.2.2', [
    use('MAIL SIZE', 'Message size exceeds fixed maximum message size', 1870, '', '5.3.4'),
  ]),
  fact(553, 'Requested action not taken: mailbox name not allowed (e.g., mailbox syntax incorrect)', 5321, '4.2.2', [
    use('SMTPUTF8', 'Non-ASCII addresses not permitted for that sender/recipient', 6531, '3.5', '5.6.7'),
  ]),
  fact(554, 'Transaction failed (or, in the case of a connection-opening response, "No SMTP service here")', 5321, '4.2.2', [
    use('BURL', 'The URL could not be resolved', 4468, '', '5.6.6'),
  ]),
  fact(555, 'MAIL FROM/RCPT TO parameters not recognized or not implemented', 5321, '4.2.2'),
  fact(556, 'Domain does not accept mail', 7504, '', [use('RCPT', 'Recipient address has null MX', 7505, '4.1', '5.1.10')]),
];

/** Every known reply code, keyed by its number. */
export const REPLY_CODES: ReadonlyMap<number, ReplyCodeFact> = new Map(FACTS.map((f) => [f.code, f]));

/** The fact of a reply code given as a number or a three-digit string, or undefined when unknown. */
export function replyCodeFact(code: number | string): ReplyCodeFact | undefined {
  const n = typeof code === 'number' ? code : /^\s*[2-5]\d\d\s*$/.test(code) ? Number(code) : NaN;
  return Number.isInteger(n) ? REPLY_CODES.get(n) : undefined;
}

/**
 * Describes any syntactically valid reply code, known or not, from its digits: the class of the
 * first digit and the category of the second (RFC 5321 §4.2.1). Returns undefined when the code is
 * not three digits with a first digit of 2 to 5.
 */
export function describeReplyCode(code: number | string): { readonly class: ReplyClassFact; readonly category: { readonly name: string; readonly description: string } | undefined; readonly fact: ReplyCodeFact | undefined } | undefined {
  const text = String(code).trim();
  if (!/^[2-5]\d\d$/.test(text)) return undefined;
  const cls = describeReplyClass(Number(text[0]));
  if (cls === undefined) return undefined;
  return { class: cls, category: describeReplyCategory(Number(text[1])), fact: REPLY_CODES.get(Number(text)) };
}
