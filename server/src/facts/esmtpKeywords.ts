/**
 * ESMTP service extensions: the keywords a server lists in its EHLO reply (RFC 5321 §4.1.1.1) and
 * the parameters they add to MAIL FROM and RCPT TO (RFC 5321 §4.1.2 `Mail-parameters` and
 * `Rcpt-parameters`). Each parameter carries a validator for its value, so that the linter can
 * report a wrong value before the server does.
 */
import { rfcLink } from '../../../common/problem';

/** How far a specification has come: an RFC, an Internet-Draft, or a vendor's own extension. */
export type SpecStatus = 'rfc' | 'draft' | 'vendor';

/** Where a keyword or parameter is specified; `rfc` is absent for drafts and vendor extensions. */
export interface SpecReference {
  readonly rfc?: number;
  readonly section: string;
  readonly link: string;
  readonly status: SpecStatus;
}

export interface EhloKeywordFact extends SpecReference {
  /** The keyword as advertised, upper case. */
  readonly keyword: string;
  readonly summary: string;
  /** The syntax of the rest of the EHLO line after the keyword, or empty when it takes none. */
  readonly argumentSyntax: string;
  /** The commands the keyword enables. */
  readonly commands: readonly string[];
  /** The MAIL and RCPT parameters the keyword enables. */
  readonly mailParameters: readonly string[];
  readonly rcptParameters: readonly string[];
  /** Remarks for a hover, each a full sentence citing its RFC. */
  readonly notes: readonly string[];
}

/**
 * Checks the value of a parameter. `value` is undefined when the parameter was written without
 * `=`. Returns a message describing the problem, or undefined when the value is valid.
 */
export type ParameterValidator = (value: string | undefined) => string | undefined;

export interface ParameterFact extends SpecReference {
  /** The parameter name, upper case, without `=`. */
  readonly name: string;
  readonly command: 'MAIL' | 'RCPT';
  /** The EHLO keyword the server must advertise for the parameter to be used. */
  readonly keyword: string;
  /** Whether the parameter takes a value (`NAME=value`) or none (`NAME`). */
  readonly value: 'none' | 'required';
  /** The ABNF-like syntax of the value, empty when there is none. */
  readonly valueSyntax: string;
  /** The values to offer in completion, when they are a fixed list. */
  readonly values?: readonly string[];
  readonly summary: string;
  readonly validate: ParameterValidator;
}

/** The references of RFC-defined facts. */
function rfcSpec(rfc: number, section: string): SpecReference {
  return { rfc, section, link: rfcLink(rfc, section), status: 'rfc' };
}

// ---------------------------------------------------------------------------------------------
// Value syntaxes

/**
 * Whether a text is `xtext` (RFC 3461 §4): printable US-ASCII other than `+` and `=`, with any
 * other octet written as `+` and two upper-case hexadecimal digits.
 */
export function isXtext(text: string): boolean {
  return /^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$/.test(text);
}

/** Decodes `xtext` (RFC 3461 §4); returns undefined when the text is not valid xtext. */
export function decodeXtext(text: string): string | undefined {
  if (!isXtext(text)) return undefined;
  return text.replace(/\+([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Encodes a string as `xtext` (RFC 3461 §4), escaping `+`, `=`, controls, space and non-ASCII. */
export function encodeXtext(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x21 && byte <= 0x7e && byte !== 0x2b && byte !== 0x3d ? String.fromCharCode(byte) : `+${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function noValue(name: string): ParameterValidator {
  return (value) => (value === undefined ? undefined : `${name} takes no value`);
}

function needsValue(name: string, check: (value: string) => string | undefined): ParameterValidator {
  return (value) => (value === undefined || value === '' ? `${name} needs a value (${name}=…)` : check(value));
}

function oneOf(name: string, allowed: readonly string[]): ParameterValidator {
  return needsValue(name, (value) =>
    allowed.includes(value.toUpperCase()) ? undefined : `${name} must be one of ${allowed.join(', ')}, not "${value}"`,
  );
}

/** RFC 3339 §5.6 `date-time`, as used by HOLDUNTIL (RFC 4865) and RRVS (RFC 7293). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function validateSize(value: string): string | undefined {
  // RFC 1870: size-value ::= 1*20DIGIT.
  return /^\d{1,20}$/.test(value) ? undefined : `SIZE must be 1 to 20 digits (the size in octets), not "${value}"`;
}

function validateEnvid(value: string): string | undefined {
  // RFC 3461 §4.4: ENVID is xtext of at most 100 characters.
  if (!isXtext(value)) return 'ENVID must be xtext: printable ASCII, with "+", "=", space and other octets written as +XX (RFC 3461 §4)';
  return value.length > 100 ? `ENVID is ${value.length} characters long; at most 100 are allowed (RFC 3461 §4.4)` : undefined;
}

function validateMailAuth(value: string): string | undefined {
  // RFC 4954 §5: AUTH=<> or AUTH=xtext (an addr-spec encoded as xtext).
  if (value === '<>') return undefined;
  return isXtext(value) ? undefined : 'AUTH= must be "<>" or an address as xtext, with "+" and "=" written as +2B and +3D (RFC 4954 §5)';
}

function validateMtPriority(value: string): string | undefined {
  // RFC 6710 §3: priority-value = [ "+" / "-" ] DIGIT, from -9 to 9.
  return /^[+-]?\d$/.test(value) ? undefined : `MT-PRIORITY must be a number from -9 to 9, not "${value}"`;
}

function validateHoldfor(value: string): string | undefined {
  // RFC 4865: holdfor-value = 1*9DIGIT, in seconds.
  return /^\d{1,9}$/.test(value) ? undefined : `HOLDFOR must be 1 to 9 digits (seconds), not "${value}"`;
}

function validateHolduntil(value: string): string | undefined {
  // RFC 4865: holduntil-value = date-time of RFC 3339.
  return DATE_TIME.test(value) ? undefined : `HOLDUNTIL must be an RFC 3339 date-time such as 2030-01-01T12:00:00Z, not "${value}"`;
}

function validateBy(value: string): string | undefined {
  // RFC 2852: by-value = by-time ";" by-mode [ by-trace ]; by-time = ["-" / "+"] 1*9DIGIT;
  // by-mode = "N" / "R"; by-trace = "T".
  return /^[+-]?\d{1,9};[NnRr][Tt]?$/.test(value) ? undefined : `BY must be seconds;mode with mode N or R and an optional T, e.g. BY=120;R, not "${value}"`;
}

function validateNotify(value: string): string | undefined {
  // RFC 3461 §4.1: NOTIFY=NEVER, or a comma-separated list of SUCCESS, FAILURE and DELAY.
  const items = value.split(',').map((item) => item.trim().toUpperCase());
  const known = ['NEVER', 'SUCCESS', 'FAILURE', 'DELAY'];
  const unknown = items.filter((item) => !known.includes(item));
  if (unknown.length > 0) return `NOTIFY accepts NEVER or SUCCESS, FAILURE and DELAY; "${unknown.join(',')}" is not one of them (RFC 3461 §4.1)`;
  if (items.includes('NEVER') && items.length > 1) return 'NOTIFY=NEVER must appear alone, without SUCCESS, FAILURE or DELAY (RFC 3461 §4.1)';
  if (new Set(items).size !== items.length) return 'NOTIFY names a value twice (RFC 3461 §4.1)';
  return undefined;
}

function validateOrcpt(value: string): string | undefined {
  // RFC 3461 §4.2: ORCPT=addr-type ";" xtext, at most 500 characters; addr-type is an atom such
  // as rfc822 or utf-8 (RFC 6533 §3).
  const semi = value.indexOf(';');
  if (semi <= 0) return 'ORCPT must be addr-type;address, e.g. ORCPT=rfc822;bob@example.test (RFC 3461 §4.2)';
  const type = value.slice(0, semi);
  const address = value.slice(semi + 1);
  if (!/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/.test(type)) return `ORCPT address type "${type}" is not an atom (RFC 3461 §4.2)`;
  if (address === '') return 'ORCPT has no address after ";" (RFC 3461 §4.2)';
  if (!isXtext(address)) return 'The ORCPT address must be xtext, with "+", "=", space and other octets written as +XX (RFC 3461 §4.2)';
  return value.length > 500 ? `ORCPT is ${value.length} characters long; at most 500 are allowed (RFC 3461 §4.2)` : undefined;
}

function validateRrvs(value: string): string | undefined {
  // RFC 7293: rrvs-param = date-time [ ";" ( "C" / "R" ) ].
  const [time, mode, ...rest] = value.split(';');
  if (time === undefined || !DATE_TIME.test(time)) return `RRVS must start with an RFC 3339 date-time, not "${value}" (RFC 7293)`;
  if (rest.length > 0 || (mode !== undefined && !/^[CcRr]$/.test(mode))) return 'RRVS may end only with ";C" or ";R" (RFC 7293)';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// MAIL and RCPT parameters

function parameter(
  command: 'MAIL' | 'RCPT',
  name: string,
  keyword: string,
  spec: SpecReference,
  valueSyntax: string,
  summary: string,
  validate: ParameterValidator,
  values?: readonly string[],
): ParameterFact {
  const base: ParameterFact = { command, name, keyword, ...spec, value: valueSyntax === '' ? 'none' : 'required', valueSyntax, summary, validate };
  return values === undefined ? base : { ...base, values };
}

const MAIL_PARAMETERS: ParameterFact[] = [
  parameter('MAIL', 'SIZE', 'SIZE', rfcSpec(1870, ''), '1*20DIGIT', 'Declares the size of the message in octets, so the server can refuse a message that is too big before it is sent.', needsValue('SIZE', validateSize)),
  parameter('MAIL', 'BODY', '8BITMIME', rfcSpec(6152, '2'), '7BIT / 8BITMIME / BINARYMIME', 'Declares the body type: 7BIT, 8BITMIME (RFC 6152) or BINARYMIME (RFC 3030, needs BINARYMIME and CHUNKING).', oneOf('BODY', ['7BIT', '8BITMIME', 'BINARYMIME']), ['7BIT', '8BITMIME', 'BINARYMIME']),
  parameter('MAIL', 'SMTPUTF8', 'SMTPUTF8', rfcSpec(6531, '3.4'), '', 'Declares that the envelope or the header fields contain UTF-8 (internationalized email).', noValue('SMTPUTF8')),
  parameter('MAIL', 'RET', 'DSN', rfcSpec(3461, '4.3'), 'FULL / HDRS', 'Asks that a failure notification return the full message (FULL) or only its header (HDRS).', oneOf('RET', ['FULL', 'HDRS']), ['FULL', 'HDRS']),
  parameter('MAIL', 'ENVID', 'DSN', rfcSpec(3461, '4.4'), 'xtext (at most 100 characters)', 'An envelope identifier the sender chooses; it is returned in delivery status notifications.', needsValue('ENVID', validateEnvid)),
  parameter('MAIL', 'AUTH', 'AUTH', rfcSpec(4954, '5'), '"<>" / xtext', 'The authenticated identity that submitted the message, as xtext, or <> when it is unknown.', needsValue('AUTH', validateMailAuth)),
  parameter('MAIL', 'REQUIRETLS', 'REQUIRETLS', rfcSpec(8689, ''), '', 'Asks that every hop deliver the message over TLS with a verified certificate, or else return it.', noValue('REQUIRETLS')),
  parameter('MAIL', 'MT-PRIORITY', 'MT-PRIORITY', rfcSpec(6710, '3'), '["+" / "-"] DIGIT (-9 to 9)', 'The priority of the message in transfer, from -9 (lowest) to 9 (highest).', needsValue('MT-PRIORITY', validateMtPriority)),
  parameter('MAIL', 'HOLDFOR', 'FUTURERELEASE', rfcSpec(4865, ''), '1*9DIGIT', 'Asks the server to hold the message for the given number of seconds before delivering it.', needsValue('HOLDFOR', validateHoldfor)),
  parameter('MAIL', 'HOLDUNTIL', 'FUTURERELEASE', rfcSpec(4865, ''), 'date-time (RFC 3339)', 'Asks the server to hold the message until the given time before delivering it.', needsValue('HOLDUNTIL', validateHolduntil)),
  parameter('MAIL', 'BY', 'DELIVERBY', rfcSpec(2852, ''), 'by-time ";" ("N" / "R") ["T"]', 'Asks that the message be delivered within the given number of seconds, with a notification (N) or a return (R) when it cannot be; T asks for trace information.', needsValue('BY', validateBy)),
];

const RCPT_PARAMETERS: ParameterFact[] = [
  parameter('RCPT', 'NOTIFY', 'DSN', rfcSpec(3461, '4.1'), '"NEVER" / 1#("SUCCESS" / "FAILURE" / "DELAY")', 'When to send a delivery status notification for this recipient: NEVER, or any of SUCCESS, FAILURE and DELAY.', needsValue('NOTIFY', validateNotify), ['NEVER', 'SUCCESS', 'FAILURE', 'DELAY', 'SUCCESS,FAILURE', 'SUCCESS,FAILURE,DELAY', 'FAILURE,DELAY']),
  parameter('RCPT', 'ORCPT', 'DSN', rfcSpec(3461, '4.2'), 'addr-type ";" xtext', 'The original recipient address, as given by the first sender, returned in delivery status notifications.', needsValue('ORCPT', validateOrcpt)),
  parameter('RCPT', 'RRVS', 'RRVS', rfcSpec(7293, ''), 'date-time [";" ("C" / "R")]', 'Require-Recipient-Valid-Since: deliver only if the mailbox has had the same owner since the given time; C continues and R rejects when the server cannot tell.', needsValue('RRVS', validateRrvs)),
];

/** MAIL FROM parameters, keyed by upper-case name. */
export const MAIL_PARAMETER_FACTS: ReadonlyMap<string, ParameterFact> = new Map(MAIL_PARAMETERS.map((p) => [p.name, p]));
/** RCPT TO parameters, keyed by upper-case name. */
export const RCPT_PARAMETER_FACTS: ReadonlyMap<string, ParameterFact> = new Map(RCPT_PARAMETERS.map((p) => [p.name, p]));

/** The MAIL FROM parameter of that name (case-insensitive, with or without a trailing `=`). */
export function mailParameter(name: string): ParameterFact | undefined {
  return MAIL_PARAMETER_FACTS.get(name.trim().replace(/=.*$/, '').toUpperCase());
}

/** The RCPT TO parameter of that name (case-insensitive, with or without a trailing `=`). */
export function rcptParameter(name: string): ParameterFact | undefined {
  return RCPT_PARAMETER_FACTS.get(name.trim().replace(/=.*$/, '').toUpperCase());
}

/**
 * Validates one `NAME[=value]` parameter of MAIL or RCPT as written on the command line. Returns
 * undefined when the parameter is known and valid, or a message otherwise; an unknown parameter
 * is reported as such (the server would answer 555, RFC 5321 §4.1.1.11).
 */
export function validateParameter(command: 'MAIL' | 'RCPT', text: string): string | undefined {
  const eq = text.indexOf('=');
  const name = eq < 0 ? text : text.slice(0, eq);
  const value = eq < 0 ? undefined : text.slice(eq + 1);
  const fact = command === 'MAIL' ? mailParameter(name) : rcptParameter(name);
  if (fact === undefined) return `${name.toUpperCase()} is not a known ${command} parameter`;
  return fact.validate(value);
}

// ---------------------------------------------------------------------------------------------
// EHLO keywords

function keyword(
  name: string,
  spec: SpecReference,
  argumentSyntax: string,
  summary: string,
  extras: { commands?: string[]; notes?: string[] } = {},
): EhloKeywordFact {
  return {
    keyword: name,
    ...spec,
    argumentSyntax,
    summary,
    commands: extras.commands ?? [],
    mailParameters: MAIL_PARAMETERS.filter((p) => p.keyword === name).map((p) => p.name),
    rcptParameters: RCPT_PARAMETERS.filter((p) => p.keyword === name).map((p) => p.name),
    notes: extras.notes ?? [],
  };
}

const KEYWORDS: EhloKeywordFact[] = [
  keyword('SIZE', rfcSpec(1870, ''), '[1*20DIGIT]', 'The server accepts the SIZE parameter of MAIL and, when a number is given, refuses messages larger than that many octets.', {
    notes: ['SIZE 0, or SIZE without a number, means that the server announces no fixed limit (RFC 1870).'],
  }),
  keyword('PIPELINING', rfcSpec(2920, '3'), '', 'The client may send several commands without waiting for each reply, within the groups RFC 2920 §3.1 allows.'),
  keyword('8BITMIME', rfcSpec(6152, '2'), '', 'The server accepts messages with 8-bit content, declared with BODY=8BITMIME.'),
  keyword('SMTPUTF8', rfcSpec(6531, '3.1'), '', 'The server accepts internationalized addresses and UTF-8 header fields, declared with the SMTPUTF8 parameter of MAIL.', {
    notes: ['A server that advertises SMTPUTF8 must also advertise 8BITMIME (RFC 6531 §3.1).'],
  }),
  keyword('DSN', rfcSpec(3461, ''), '', 'The server supports delivery status notification requests: RET and ENVID on MAIL, NOTIFY and ORCPT on RCPT.'),
  keyword('CHUNKING', rfcSpec(3030, '2'), '', 'The server accepts the BDAT command, which sends the message in chunks of a stated size.', { commands: ['BDAT'] }),
  keyword('BINARYMIME', rfcSpec(3030, '3'), '', 'The server accepts binary content declared with BODY=BINARYMIME, sent with BDAT.', {
    notes: ['BINARYMIME requires CHUNKING: binary content cannot be sent with DATA (RFC 3030 §3).'],
  }),
  keyword('ENHANCEDSTATUSCODES', rfcSpec(2034, '3'), '', 'The server starts the text of its replies with an enhanced status code such as 2.1.5 (RFC 3463).'),
  keyword('STARTTLS', rfcSpec(3207, '3'), '', 'The server accepts the STARTTLS command to upgrade the connection to TLS.', { commands: ['STARTTLS'] }),
  keyword('AUTH', rfcSpec(4954, '3'), 'mechanism *(SP mechanism)', 'The server accepts the AUTH command with the SASL mechanisms listed, and the AUTH parameter of MAIL.', {
    commands: ['AUTH'],
    notes: ['Servers often offer AUTH only after STARTTLS, or only mechanisms that do not send the password in clear before it (RFC 4954 §4).'],
  }),
  keyword('ETRN', rfcSpec(1985, ''), '', 'The server accepts the ETRN command to start the delivery of the mail it holds for a domain.', { commands: ['ETRN'] }),
  keyword('ATRN', rfcSpec(2645, ''), '', 'The server accepts the ATRN command of On-Demand Mail Relay, an authenticated TURN.', { commands: ['ATRN'] }),
  keyword('BURL', rfcSpec(4468, ''), '[SP "imap"]', 'The server accepts the BURL command, which adds message content fetched from a URL.', { commands: ['BURL'] }),
  keyword('DELIVERBY', rfcSpec(2852, ''), '[1*9DIGIT]', 'The server accepts the BY parameter of MAIL; the number, if given, is the shortest delivery time it accepts, in seconds.'),
  keyword('REQUIRETLS', rfcSpec(8689, ''), '', 'The server accepts the REQUIRETLS parameter of MAIL and will relay such messages only over verified TLS.'),
  keyword('MT-PRIORITY', rfcSpec(6710, '3'), '[SP policy-name]', 'The server accepts the MT-PRIORITY parameter of MAIL; the optional word names its priority assignment policy.'),
  keyword('FUTURERELEASE', rfcSpec(4865, ''), 'max-future-release-interval SP max-future-release-date-time', 'The server accepts HOLDFOR and HOLDUNTIL on MAIL to hold a message for later release.'),
  keyword('LIMITS', rfcSpec(9422, ''), 'limit-name "=" limit-value *(SP limit-name "=" limit-value)', 'The server states limits of its own, such as MAILMAX, RCPTMAX and RCPTDOMAINMAX, so the client can adapt.'),
  keyword('RRVS', rfcSpec(7293, ''), '', 'The server accepts the RRVS parameter of RCPT (Require-Recipient-Valid-Since).'),
  {
    keyword: 'PRDR',
    section: '',
    link: 'https://datatracker.ietf.org/doc/html/draft-hall-prdr-00',
    status: 'draft',
    argumentSyntax: '',
    summary: 'Per-Recipient Data Response: after the data, the server may answer for each recipient separately, as LMTP does.',
    commands: [],
    mailParameters: [],
    rcptParameters: [],
    notes: ['PRDR is an Internet-Draft (draft-hall-prdr), implemented by Exim and others, and not an RFC.'],
  },
  keyword('VRFY', rfcSpec(5321, '4.1.1.6'), '', 'The server states that it implements VRFY; RFC 5321 requires VRFY anyway, so the keyword is informative.', { commands: ['VRFY'] }),
  keyword('EXPN', rfcSpec(5321, '4.1.1.7'), '', 'The server implements EXPN to expand mailing lists.', { commands: ['EXPN'] }),
  keyword('HELP', rfcSpec(5321, '4.1.1.8'), '', 'The server implements HELP.', { commands: ['HELP'] }),
];

/** Every known EHLO keyword, keyed by its upper-case name. */
export const EHLO_KEYWORDS: ReadonlyMap<string, EhloKeywordFact> = new Map(KEYWORDS.map((k) => [k.keyword, k]));

/** The EHLO keyword of that name (case-insensitive), or undefined when it is unknown. */
export function ehloKeyword(name: string): EhloKeywordFact | undefined {
  return EHLO_KEYWORDS.get(name.trim().toUpperCase());
}
