/**
 * The SMTP and LMTP commands a `.smtp` script may send, as data for hovers, completion and the
 * linter. Reply codes follow the command-reply sequences of RFC 5321 §4.3.2 and, for extensions,
 * the RFC that defines the command.
 */
import { ref, type RfcReference } from './rfc';

/** Whether a command takes arguments. */
export type ArgsKind = 'none' | 'optional' | 'required';

/**
 * The replies a command can get, grouped as in RFC 5321 §4.3.2: success (2yz), intermediate (3yz),
 * and the failures, transient (4yz) and permanent (5yz).
 */
export interface CommandReplies {
  readonly success: readonly number[];
  readonly intermediate: readonly number[];
  readonly temporary: readonly number[];
  readonly permanent: readonly number[];
}

export interface CommandFact extends RfcReference {
  /** The verb as written on the wire, upper case. */
  readonly verb: string;
  /** An ABNF-like one-line syntax, as in docs/smtp-language.md. */
  readonly syntax: string;
  /** One or two sentences for a hover. */
  readonly summary: string;
  readonly args: ArgsKind;
  readonly replies: CommandReplies;
  /** The EHLO keyword the server must advertise before the command may be used, if any. */
  readonly requiresKeyword?: string;
  /** Set for commands that exist only in LMTP (RFC 2033). */
  readonly lmtpOnly?: boolean;
  /** Set for commands whose use is a security risk or deprecated; the linter warns about them. */
  readonly insecure?: boolean;
  /**
   * Set for commands after which the client must wait for the reply even when pipelining, because
   * RFC 2920 §3.1 says they can change the state of the session or need the reply to go on.
   */
  readonly endsPipelineGroup: boolean;
  /** Further remarks for the hover, each a full sentence citing its RFC. */
  readonly notes: readonly string[];
}

/**
 * Replies that any command can get, whatever RFC 5321 §4.3.2 lists for it: 421 when the server
 * shuts down (§3.8), 500 and 501 for syntax errors (§4.2.4) and, after STARTTLS or AUTH became
 * mandatory, 530 (RFC 3207 §4, RFC 4954 §6).
 */
const REPLIES_TO_ANY_COMMAND: readonly number[] = [421, 500, 501];

function replies(success: number[], intermediate: number[], temporary: number[], permanent: number[]): CommandReplies {
  return { success, intermediate, temporary, permanent };
}

const FACTS: CommandFact[] = [
  {
    verb: 'HELO',
    syntax: 'HELO domain',
    summary: 'Identifies the client to the server by its domain and starts a plain SMTP session, without service extensions.',
    ...ref(5321, '4.1.1.1'),
    args: 'required',
    replies: replies([250], [], [421], [500, 501, 502, 504, 550]),
    endsPipelineGroup: true,
    notes: ['RFC 5321 §4.1.1.1 requires servers to support HELO, but clients should prefer EHLO so that extensions can be used.'],
  },
  {
    verb: 'EHLO',
    syntax: 'EHLO domain | EHLO [address-literal]',
    summary: 'Identifies the client and asks the server to list the service extensions it supports, one EHLO keyword per reply line.',
    ...ref(5321, '4.1.1.1'),
    args: 'required',
    replies: replies([250], [], [421], [500, 501, 502, 504, 550]),
    endsPipelineGroup: true,
    notes: [
      'After STARTTLS succeeds the client must send EHLO again and forget what it learned before (RFC 3207 §4.2).',
      'The argument is the fully qualified domain name of the client or, when it has none, an address literal such as [192.0.2.1] (RFC 5321 §4.1.1.1, §4.1.3).',
    ],
  },
  {
    verb: 'LHLO',
    syntax: 'LHLO domain',
    summary: 'The LMTP greeting that replaces EHLO; the server answers with its extensions as for EHLO.',
    ...ref(2033, '4.1'),
    args: 'required',
    replies: replies([250], [], [421], [500, 501, 504, 550]),
    lmtpOnly: true,
    endsPipelineGroup: true,
    notes: ['LMTP servers must refuse HELO and EHLO, and after DATA they reply once for every accepted recipient (RFC 2033 §4.1, §4.2).'],
  },
  {
    verb: 'MAIL',
    syntax: 'MAIL FROM:<reverse-path> [SIZE=n] [BODY=7BIT|8BITMIME|BINARYMIME] [SMTPUTF8] [RET=FULL|HDRS] [ENVID=xtext] [AUTH=xtext]',
    summary: 'Starts a mail transaction and gives the reverse-path, the address bounces go to; `MAIL FROM:<>` is the null reverse-path of bounces.',
    ...ref(5321, '4.1.1.2'),
    args: 'required',
    replies: replies([250], [], [421, 451, 452, 455], [500, 501, 503, 550, 552, 553, 555]),
    endsPipelineGroup: false,
    notes: [
      'Parameters after the path are ESMTP extensions and may be used only when the server advertised their EHLO keyword (RFC 5321 §4.1.2); unknown ones get 555 (RFC 5321 §4.1.1.11).',
      'A reverse-path is at most 256 octets and a local-part at most 64 (RFC 5321 §4.5.3.1).',
    ],
  },
  {
    verb: 'RCPT',
    syntax: 'RCPT TO:<forward-path> [NOTIFY=NEVER|SUCCESS,FAILURE,DELAY] [ORCPT=addr-type;xtext]',
    summary: 'Names one recipient of the current transaction; repeat it for each recipient.',
    ...ref(5321, '4.1.1.3'),
    args: 'required',
    replies: replies([250, 251], [], [421, 450, 451, 452, 455], [500, 501, 503, 550, 551, 552, 553, 555]),
    endsPipelineGroup: false,
    notes: [
      'A server must accept at least 100 recipients per transaction; 452 for too many recipients asks the client to send the rest in a new transaction (RFC 5321 §4.5.3.1.8, §4.5.3.1.10).',
      'Replies 251 and 551 are discussed in RFC 5321 §3.4 and are rarely used.',
    ],
  },
  {
    verb: 'DATA',
    syntax: 'DATA, then the message, then a line holding only "."',
    summary: 'Asks to send the message; after the 354 reply the client sends the message, dot-stuffed, ending with a line holding only ".", and gets the final reply.',
    ...ref(5321, '4.1.1.4'),
    args: 'none',
    replies: replies([250], [354], [421, 450, 451, 452], [500, 501, 503, 550, 552, 554]),
    endsPipelineGroup: true,
    notes: [
      'A line of the message that starts with "." is sent with one more "." in front (dot-stuffing, RFC 5321 §4.5.2).',
      'Only CRLF.CRLF ends the data; a server that also accepts a bare LF before or after the dot allows SMTP smuggling (RFC 5321 §4.1.1.4).',
      'In LMTP the server sends one final reply per accepted recipient (RFC 2033 §4.2).',
    ],
  },
  {
    verb: 'BDAT',
    syntax: 'BDAT chunk-size [LAST]',
    summary: 'Sends the message in chunks of an exact number of octets, without dot-stuffing; the last chunk is marked LAST.',
    ...ref(3030, '2'),
    args: 'required',
    replies: replies([250], [], [421, 451, 452], [500, 501, 503, 552, 554]),
    requiresKeyword: 'CHUNKING',
    endsPipelineGroup: true,
    notes: [
      'The octets of a chunk follow the command line immediately, so BDAT can carry binary content when BINARYMIME is advertised (RFC 3030 §3).',
      'In a .smtp script BDAT is written like DATA and the engine computes the chunk sizes.',
    ],
  },
  {
    verb: 'RSET',
    syntax: 'RSET',
    summary: 'Aborts the current mail transaction; the server discards the sender, recipients and data it has stored.',
    ...ref(5321, '4.1.1.5'),
    args: 'none',
    replies: replies([250], [], [421], [500, 501]),
    endsPipelineGroup: false,
    notes: [],
  },
  {
    verb: 'VRFY',
    syntax: 'VRFY string',
    summary: 'Asks the server to confirm that the argument names a user or mailbox, and to return its full name and mailbox.',
    ...ref(5321, '4.1.1.6'),
    args: 'required',
    replies: replies([250, 251, 252], [], [421], [500, 501, 502, 504, 550, 551, 553]),
    endsPipelineGroup: true,
    notes: [
      'Many servers disable VRFY or answer 252 because it lets spammers harvest valid addresses (RFC 5321 §3.5.3, §7.3).',
    ],
  },
  {
    verb: 'EXPN',
    syntax: 'EXPN string',
    summary: 'Asks the server to expand a mailing list and return its members.',
    ...ref(5321, '4.1.1.7'),
    args: 'required',
    replies: replies([250, 252], [], [421], [500, 501, 502, 504, 550]),
    endsPipelineGroup: true,
    notes: ['EXPN discloses the members of lists and is usually disabled to prevent address harvesting (RFC 5321 §7.3).'],
  },
  {
    verb: 'HELP',
    syntax: 'HELP [string]',
    summary: 'Asks the server for help, in general or about the command given as argument.',
    ...ref(5321, '4.1.1.8'),
    args: 'optional',
    replies: replies([211, 214], [], [421], [500, 501, 502, 504]),
    endsPipelineGroup: true,
    notes: [],
  },
  {
    verb: 'NOOP',
    syntax: 'NOOP [string]',
    summary: 'Does nothing but get a 250 reply; useful to keep a connection alive or check that the server answers.',
    ...ref(5321, '4.1.1.9'),
    args: 'optional',
    replies: replies([250], [], [421], [500, 501]),
    endsPipelineGroup: true,
    notes: ['The argument, if any, is ignored by the server (RFC 5321 §4.1.1.9).'],
  },
  {
    verb: 'QUIT',
    syntax: 'QUIT',
    summary: 'Ends the session: the server replies 221 and closes the connection.',
    ...ref(5321, '4.1.1.10'),
    args: 'none',
    replies: replies([221], [], [], [500, 501]),
    endsPipelineGroup: true,
    notes: ['A transaction not completed before QUIT is aborted (RFC 5321 §4.1.1.10).'],
  },
  {
    verb: 'STARTTLS',
    syntax: 'STARTTLS',
    summary: 'Upgrades the connection to TLS; after the 220 reply the client starts the TLS handshake and then sends EHLO again.',
    ...ref(3207, '4'),
    args: 'none',
    replies: replies([220], [], [421, 454], [500, 501, 503]),
    requiresKeyword: 'STARTTLS',
    endsPipelineGroup: true,
    notes: [
      'After the handshake both sides forget what they learnt before STARTTLS, and the client must send EHLO again (RFC 3207 §4.2).',
      'STARTTLS must end a pipelined group: a server that kept commands sent after it would run them inside the TLS session, the STARTTLS command injection flaw (RFC 2920 §3.1, CVE-2011-0411).',
    ],
  },
  {
    verb: 'AUTH',
    syntax: 'AUTH mechanism [initial-response]',
    summary: 'Authenticates the client with a SASL mechanism; the server sends 334 challenges until it answers 235 or a failure.',
    ...ref(4954, '4'),
    args: 'required',
    replies: replies([235], [334], [421, 432, 454], [500, 501, 503, 504, 530, 534, 535, 538]),
    requiresKeyword: 'AUTH',
    endsPipelineGroup: true,
    notes: [
      'Mechanisms that send the password in the clear, such as PLAIN and LOGIN, must only be used over TLS (RFC 4954 §4, RFC 4616).',
      'A client cancels an exchange by sending "*", which gets 501 (RFC 4954 §4).',
      'In a .smtp script, AUTH is written as `AUTH MECHANISM user secret` and the engine performs the exchange.',
    ],
  },
  {
    verb: 'ETRN',
    syntax: 'ETRN node',
    summary: 'Asks the server to start delivering the mail it holds for a domain (node), over a new connection.',
    ...ref(1985, ''),
    args: 'required',
    replies: replies([250, 251, 252, 253], [], [421, 458, 459], [500, 501]),
    requiresKeyword: 'ETRN',
    endsPipelineGroup: true,
    notes: ['The argument is a domain name, or a queue name prefixed with "#", or a domain prefixed with "@" to include its subdomains (RFC 1985).'],
  },
  {
    verb: 'TURN',
    syntax: 'TURN',
    summary: 'Asks the server to swap roles and send the mail it holds for the client over this connection.',
    ...ref(821, '4.1.1'),
    args: 'none',
    replies: replies([250], [], [421], [500, 502, 503]),
    insecure: true,
    endsPipelineGroup: true,
    notes: [
      'TURN is insecure: without authentication any client can claim to be the destination and receive its mail; RFC 5321 Appendix F.1 deprecates it and RFC 2645 replaces it with the authenticated ATRN.',
    ],
  },
  {
    verb: 'ATRN',
    syntax: 'ATRN [domain[,domain]...]',
    summary: 'On-Demand Mail Relay: after AUTH, asks the server to swap roles and deliver the mail held for the given domains.',
    ...ref(2645, ''),
    args: 'optional',
    replies: replies([250], [], [421, 450, 451, 453], [500, 501, 502, 503, 530]),
    requiresKeyword: 'ATRN',
    endsPipelineGroup: true,
    notes: ['ATRN requires prior authentication with AUTH (RFC 2645).'],
  },
  {
    verb: 'BURL',
    syntax: 'BURL absolute-URI [LAST]',
    summary: 'Adds message content fetched by the server from an IMAP URL, usually in message submission.',
    ...ref(4468, ''),
    args: 'required',
    replies: replies([250], [], [421, 451, 452], [500, 501, 503, 552, 554]),
    requiresKeyword: 'BURL',
    endsPipelineGroup: true,
    notes: ['When the server cannot fetch the URL it replies 554 with enhanced code 5.6.6 (RFC 4468).'],
  },
];

/** Every known command, keyed by its upper-case verb. */
export const COMMANDS: ReadonlyMap<string, CommandFact> = new Map(FACTS.map((fact) => [fact.verb, fact]));

/** The command whose verb is given, in any case, or undefined when it is not an SMTP/LMTP command. */
export function commandFact(verb: string): CommandFact | undefined {
  return COMMANDS.get(verb.trim().toUpperCase());
}

/** Every reply code a command can get, including the replies any command can get, sorted. */
export function allRepliesOf(fact: CommandFact): number[] {
  const codes = new Set<number>([
    ...fact.replies.success,
    ...fact.replies.intermediate,
    ...fact.replies.temporary,
    ...fact.replies.permanent,
    ...REPLIES_TO_ANY_COMMAND,
  ]);
  return [...codes].sort((a, b) => a - b);
}
