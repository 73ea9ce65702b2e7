/**
 * The catalogue of every problem the `.smtp` linter reports: a stable code, the default severity,
 * a one-line summary and the RFC section (or docs page) that decides it. Analysers create problems
 * through `problem()`, which takes the severity from here, so a code's severity is defined once.
 */
import { docsLink, rfcLink, type OffsetRange, type Problem, type ProblemDefinition, type QuickFix, type Severity } from '../../../common/problem';

const lang = (anchor: string) => docsLink('smtp-language.md', anchor);

function def(code: string, severity: Severity, summary: string, link: string): ProblemDefinition {
  return { code, severity, summary, link };
}

export const SMTP_PROBLEMS: readonly ProblemDefinition[] = [
  // Syntax.
  def('smtp-command-unknown', 'warning', 'An unknown SMTP verb; it is sent as written.', rfcLink(5321, '4.1')),
  def('smtp-syntax-argument', 'error', 'A command has a missing, extra or malformed argument.', rfcLink(5321, '4.1.1')),
  def('smtp-syntax-domain', 'error', 'A HELO/EHLO/LHLO argument is not a domain or an address literal.', rfcLink(5321, '4.1.1.1')),
  def('smtp-syntax-path-keyword', 'error', 'MAIL needs FROM: and RCPT needs TO: before the path.', rfcLink(5321, '4.1.1.2')),
  def('smtp-syntax-path-brackets', 'error', 'A path must be written in angle brackets: <address>.', rfcLink(5321, '4.1.2')),
  def('smtp-syntax-path-space', 'warning', 'RFC 5321 allows no blank between "FROM:" or "TO:" and the path; strict servers refuse it.', rfcLink(5321, '4.1.2')),
  def('smtp-syntax-address', 'error', 'A mailbox is not a valid local-part@domain.', rfcLink(5321, '4.1.2')),
  def('smtp-syntax-null-path', 'error', 'The null path <> is allowed only in MAIL FROM, and postmaster needs no domain only in RCPT.', rfcLink(5321, '4.1.1.3')),
  def('smtp-param-unknown', 'warning', 'An unknown MAIL or RCPT parameter; it is sent as written.', rfcLink(5321, '4.1.2')),
  def('smtp-param-value', 'error', 'A MAIL or RCPT parameter has an invalid value.', rfcLink(5321, '4.1.2')),
  def('smtp-param-duplicate', 'error', 'A parameter is given twice.', rfcLink(5321, '4.1.2')),
  def('smtp-data-unterminated', 'error', 'A DATA or BDAT body has no line holding only ".".', rfcLink(5321, '4.1.1.4')),
  def('smtp-data-file', 'error', 'DATA < or BDAT < needs a file name.', lang('data')),
  def('smtp-file-missing', 'warning', 'A file the script names (TLS ca=, cert=, key=, DATA < file) does not exist relative to the script.', lang('tls')),
  def('smtp-data-single-dot', 'warning', 'A body line starting with a single "." loses that dot on the server; double it.', rfcLink(5321, '4.5.2')),
  def('smtp-expect-syntax', 'error', 'A malformed EXPECT line.', lang('expect')),
  def('smtp-expect-orphan', 'error', 'An EXPECT line that follows no command.', lang('expect')),
  def('smtp-expect-duplicate', 'error', 'A second EXPECT for the same command; put every accepted reply on one line.', lang('expect')),
  def('smtp-variable-syntax', 'error', 'A malformed variable definition or reference.', lang('variables')),
  def('smtp-variable-undefined', 'error', 'A reference to a variable that is defined nowhere.', lang('variables')),
  def('smtp-variable-builtin-unknown', 'error', 'An unknown built-in variable.', lang('variables')),
  def('smtp-variable-builtin-argument', 'error', 'A built-in variable that needs an argument has none, or one that takes none has one.', lang('variables')),
  def('smtp-variable-cycle', 'error', 'Variables that reference each other in a cycle.', lang('variables')),
  def('smtp-variable-duplicate', 'warning', 'A variable defined twice in the same scope; the later definition wins.', lang('variables')),
  def('smtp-variable-unused', 'hint', 'A variable that nothing references.', lang('variables')),
  def('smtp-connect-url', 'error', 'A malformed CONNECT target.', lang('connect')),
  def('smtp-connect-duplicate', 'error', 'A second CONNECT in one session.', lang('connect')),
  def('smtp-connect-late', 'error', 'CONNECT after the first command.', lang('connect')),
  def('smtp-tls-option', 'error', 'An unknown or malformed TLS option.', lang('tls')),
  def('smtp-tls-late', 'warning', 'TLS options set after TLS has started have no effect on it.', lang('tls')),
  def('smtp-auth-mechanism', 'error', 'An AUTH mechanism the engine cannot perform.', rfcLink(4954, '4')),
  def('smtp-auth-arguments', 'error', 'AUTH needs a mechanism, a user and a secret.', lang('auth')),
  def('smtp-metadata-unknown', 'warning', 'An unknown # @metadata line.', lang('metadata')),
  def('smtp-metadata-value', 'error', 'A # @metadata line with an invalid value.', lang('metadata')),
  def('smtp-session-name', 'error', 'A session name that is malformed or used twice.', lang('sessions')),
  def('smtp-raw-escape', 'error', 'A RAW line with an unknown escape or no text.', lang('raw-probing-servers')),
  // Order, RFC 5321 §4.1.4 and the extensions.
  def('smtp-order-mail-before-helo', 'error', 'MAIL before EHLO or HELO.', rfcLink(5321, '4.1.4')),
  def('smtp-order-rcpt-before-mail', 'error', 'RCPT before MAIL.', rfcLink(5321, '4.1.4')),
  def('smtp-order-data-before-rcpt', 'error', 'DATA or BDAT before a successful RCPT.', rfcLink(5321, '4.1.4')),
  def('smtp-order-mail-in-transaction', 'error', 'MAIL inside a transaction that was not ended by DATA, RSET or BDAT LAST.', rfcLink(5321, '4.1.4')),
  def('smtp-order-after-quit', 'error', 'A command after QUIT.', rfcLink(5321, '4.1.1.10')),
  def('smtp-order-auth-in-transaction', 'error', 'AUTH during a mail transaction.', rfcLink(4954, '4')),
  def('smtp-order-auth-twice', 'error', 'A second AUTH after a successful one.', rfcLink(4954, '4')),
  def('smtp-order-auth-before-ehlo', 'error', 'AUTH before EHLO: AUTH is an extension, offered only in the EHLO reply.', rfcLink(4954, '4')),
  def('smtp-order-starttls-twice', 'error', 'A second STARTTLS.', rfcLink(3207, '4.2')),
  def('smtp-order-starttls-before-ehlo', 'error', 'STARTTLS before EHLO: STARTTLS is an extension, offered only in the EHLO reply.', rfcLink(3207, '4')),
  def('smtp-order-starttls-implicit-tls', 'error', 'STARTTLS on a connection that already uses TLS (smtps://).', rfcLink(8314, '3.3')),
  def('smtp-order-starttls-in-transaction', 'error', 'STARTTLS during a mail transaction.', rfcLink(3207, '4')),
  def('smtp-order-ehlo-after-starttls', 'error', 'No EHLO after STARTTLS: the client must greet again and forget what it knew.', rfcLink(3207, '4.2')),
  def('smtp-order-ehlo-on-lmtp', 'error', 'EHLO or HELO on an LMTP connection: LMTP greets with LHLO.', rfcLink(2033, '4.1')),
  def('smtp-order-lhlo-on-smtp', 'error', 'LHLO on an SMTP connection.', rfcLink(2033, '4.1')),
  def('smtp-order-extension-after-helo', 'error', 'An extension command (STARTTLS, AUTH, BDAT, ...) or a MAIL/RCPT parameter after HELO: extensions are offered only in the EHLO reply.', rfcLink(5321, '2.2.1')),
  def('smtp-order-binarymime-data', 'error', 'DATA for a message declared BODY=BINARYMIME: binary content is sent only with BDAT.', rfcLink(3030, '3')),
  // Limits, RFC 5321 §4.5.3.1.
  def('smtp-limit-command-line', 'error', 'A command line over 512 octets, CRLF included.', rfcLink(5321, '4.5.3.1.4')),
  def('smtp-limit-text-line', 'error', 'A message line over 1000 octets, CRLF included.', rfcLink(5321, '4.5.3.1.6')),
  def('smtp-limit-local-part', 'error', 'A local-part over 64 octets.', rfcLink(5321, '4.5.3.1.1')),
  def('smtp-limit-domain', 'error', 'A domain over 255 octets.', rfcLink(5321, '4.5.3.1.2')),
  def('smtp-limit-path', 'error', 'A path over 256 octets, brackets included.', rfcLink(5321, '4.5.3.1.3')),
  // Security.
  def('smtp-security-cleartext-auth', 'error', 'AUTH over a connection without TLS sends the credentials in clear.', rfcLink(4954, '4')),
  def('smtp-security-tls-verify-off', 'warning', 'Certificate verification is off: anyone on the path can read and change the session.', rfcLink(8314, '4.1')),
  def('smtp-security-literal-secret', 'warning', 'A password written literally in the script; use {{$secret NAME}}.', lang('auth')),
  def('smtp-security-turn', 'warning', 'TURN lets anyone who connects receive another host\'s mail; it is obsolete (use ATRN or ETRN).', rfcLink(2645, '1')),
  def('smtp-security-harvesting', 'info', 'VRFY and EXPN disclose which addresses exist; many servers disable them.', rfcLink(5321, '7.3')),
  // Internationalisation.
  def('smtp-i18n-smtputf8-required', 'error', 'A non-ASCII address needs the SMTPUTF8 parameter on MAIL FROM.', rfcLink(6531, '3.4')),
  def('smtp-i18n-8bit-body', 'warning', 'An 8-bit message body needs BODY=8BITMIME on MAIL FROM.', rfcLink(6152, '3')),
  def('smtp-i18n-utf8-headers', 'warning', 'UTF-8 in message headers needs SMTPUTF8 on MAIL FROM.', rfcLink(6532, '3')),
];

const BY_CODE = new Map(SMTP_PROBLEMS.map((d) => [d.code, d]));

export function smtpProblemDefinition(code: string): ProblemDefinition | undefined {
  return BY_CODE.get(code);
}

/** Creates a problem with its catalogue severity. An unknown code is a programming error, caught by the tests. */
export function problem(code: string, range: OffsetRange, message: string, fixes?: QuickFix[]): Problem {
  const severity = BY_CODE.get(code)?.severity ?? 'error';
  const p: Problem = { code, severity, message, range };
  if (fixes && fixes.length > 0) p.fixes = fixes;
  return p;
}
