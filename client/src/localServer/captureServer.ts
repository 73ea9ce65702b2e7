/**
 * The embedded local capture server: an SMTP server (RFC 5321) on loopback that accepts every
 * message and keeps it on disk, for `.smtp` sessions without `CONNECT` and for applications under
 * development. It is built on nodemailer's smtp-server and offers STARTTLS (RFC 3207) with a
 * generated self-signed certificate, AUTH (RFC 4954) that accepts any credentials or one configured
 * account, SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), PIPELINING (RFC 2920) and
 * ENHANCEDSTATUSCODES (RFC 2034), and CHUNKING (RFC 3030), which smtpServerExtensions.ts adds to
 * smtp-server together with an immediate greeting. Behaviour rules (captureRules.ts) make it answer
 * deterministically; each rule that fired is stored with the message and logged.
 *
 * Nothing here imports `vscode`; the Local Inbox view and `smtpwb serve` are thin layers on top.
 */
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { visibleLine } from '../../../common/escape';
import type { TLSSocket } from 'node:tls';
import { type SMTPServerAuthentication, type SMTPServerAuthenticationResponse, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { verifyMessage, type AuthReport, type MailauthResolver } from '../mailAuth';
import { authServIdProblem } from '../mailAuth/verify';
import { errorText, isStorageFull, MessageStore, type CaptureEnvelope, type CapturedAuthentication, type StoredMessage } from './messageStore';
import { loadOrCreateLocalCertificate } from './selfSignedCert';
import { CaptureRuleEngine, describeFiredRule, type FiredRule, type RuleDecision, type RuleEvent, type SessionExtensions } from './captureRuleEngine';
import { RULE_COMMANDS, type CaptureRules, type RuleCommand } from '../../../common/captureRules';
import { CaptureSmtpServer, type CommandContext } from './smtpServerExtensions';
import { cachingResolver, VerificationQueue, VERIFY_DEADLINE_MS, withDeadline } from './captureVerification';

export type { CaptureEnvelope, CapturedAuthentication, CapturedMethodResult, StoredMessage } from './messageStore';

/** The part of a verifier's report that is stored with a captured message. */
export function capturedAuthentication(report: AuthReport, verifiedAt: Date): CapturedAuthentication {
  const method = (m: { result: string; info: string }): { result: string; info: string } => ({ result: m.result, info: m.info });
  return {
    verifiedAt: verifiedAt.toISOString(),
    dkim: report.dkim.map((d) => ({ ...method(d), ...(d.domain ? { domain: d.domain } : {}), ...(d.selector ? { selector: d.selector } : {}) })),
    spf: method(report.spf),
    dmarc: method(report.dmarc),
    arc: method(report.arc),
    authenticationResults: report.authenticationResults,
    failed: report.failed,
  };
}

/** The record of a verification that could not run (a deadline, an internal error). */
function notVerified(reason: string): CapturedAuthentication {
  const none = { result: 'temperror', info: reason };
  return { verifiedAt: new Date().toISOString(), dkim: [], spf: none, dmarc: none, arc: none, authenticationResults: '', failed: true, error: reason };
}

/** One line of the server's log. */
export interface CaptureLogEntry {
  level: 'info' | 'warn' | 'error';
  message: string;
  /** The remote address, when the entry is about one client. */
  remoteAddress?: string;
}

/** The account the server checks AUTH against. */
export interface CaptureAccount {
  user: string;
  pass: string;
}

export interface CaptureServerOptions {
  /** The address to listen on: `127.0.0.1` unless given (loopback only by default). */
  host?: string;
  /** The port; 0 (the default) lets the system choose one. */
  port?: number;
  /** The folder that keeps the messages (created when missing). */
  dir: string;
  /**
   * STARTTLS: `'generate'` (the default) uses a self-signed certificate for localhost, 127.0.0.1
   * and ::1 that is generated once and kept in `dir/.smtpwb-tls/`; a `{ key, cert }` pair uses that
   * pair; `false` offers no STARTTLS.
   */
  tls?: { key: string | Buffer; cert: string | Buffer } | 'generate' | false;
  /**
   * AUTH: `'any'` (the default) accepts any user name and password; an account accepts only that
   * one (535 for others, RFC 4954 §6); `'none'` offers no AUTH.
   */
  auth?: 'any' | 'none' | CaptureAccount;
  /** Refuse MAIL, RCPT and DATA until the client authenticates (530, RFC 4954 §6). Default false. */
  requireAuth?: boolean;
  /**
   * Allow AUTH before STARTTLS. Default true: the server listens on loopback, and applications under
   * development are often configured without TLS. RFC 4954 §4 recommends against it elsewhere.
   */
  allowCleartextAuth?: boolean;
  /** The SIZE limit in octets (RFC 1870); larger messages get 552. Default 50 MiB; 0 for none. */
  sizeLimit?: number;
  /** The name in the greeting and the EHLO reply; `localhost` unless given. */
  name?: string;
  /** Receives the server's log lines (client errors, TLS failures, stored messages, rules that fired). */
  logger?: (entry: CaptureLogEntry) => void;
  /** Behaviour rules (see captureRules.ts); none by default. `setRules` replaces them while running. */
  rules?: CaptureRules;
  /**
   * Close a connection that sends nothing for this long (421 first), also in the middle of DATA or
   * BDAT; what it sent of a message is dropped. Default 5 minutes (RFC 5321 §4.5.3.2 server timeout).
   */
  idleTimeoutMs?: number;
  /** At most this many connections at once; more get 421 and are closed. Default 1000. */
  maxClients?: number;
  /** Offer CHUNKING and BDAT (RFC 3030). Default true. */
  chunking?: boolean;
  /** The clock the rules use (milliseconds since the epoch); `Date.now` unless given. */
  clock?: () => number;
  /**
   * Verify each stored message (DKIM, SPF with the connecting IP and HELO, DMARC, ARC) with this
   * resolver (its answers cached per name and type), after its reply and while the SMTP side is
   * quiet (captureVerification.ts); the result is stored with it (`authentication`). Off unless
   * given here; `smtpwb serve` and the editor turn it on by default.
   */
  verify?: { resolver: MailauthResolver; authServId?: string };
}

/** A running capture server. */
export interface CaptureServer {
  /** The address it listens on, as given (e.g. `127.0.0.1`). */
  readonly host: string;
  /** The port it listens on (the chosen one when 0 was asked for). */
  readonly port: number;
  /** `host:port`, with brackets around an IPv6 address (`[::1]:2525`). */
  readonly address: string;
  /** The folder that keeps the messages. */
  readonly dir: string;
  /** The STARTTLS certificate as PEM, so clients can pin it; undefined without STARTTLS. */
  readonly certificatePem?: string;
  /** The file that holds the certificate, when it was generated into the folder. */
  readonly certificatePath?: string;
  /** Whether AUTH accepts any credentials, one account, or is not offered. */
  readonly authMode: 'any' | 'account' | 'none';
  /** Stops listening, ends the open sessions and waits for messages being saved. */
  stop(): Promise<void>;
  /** Calls the listener with each message once it is stored. */
  onMessage(listener: (message: StoredMessage) => void): { dispose(): void };
  /** With `verify`: calls the listener with each message once its authentication is stored. */
  onAuthenticated(listener: (message: StoredMessage) => void): { dispose(): void };
  /** Calls the listener whenever the stored messages change (received, deleted, cleared). */
  onChange(listener: () => void): { dispose(): void };
  /**
   * Calls the listener with each behaviour rule that fires, before the reply it causes is sent,
   * with the client's address and port (so a client in the same process can tell its own).
   */
  onRule(listener: (event: FiredRuleEvent) => void): { dispose(): void };
  /**
   * The stored messages, newest first, with their files in the folder. `write: false` lists
   * messages whose files are not written yet without writing them (their `path` may not exist yet).
   */
  list(options?: { write?: boolean }): Promise<StoredMessage[]>;
  /** One stored message, or undefined. */
  get(id: string, options?: { write?: boolean }): Promise<StoredMessage | undefined>;
  /** The bytes of a stored message, exactly as received. */
  read(id: string): Promise<Buffer>;
  /** Deletes a stored message; reports whether it existed. */
  delete(id: string): Promise<boolean>;
  /** Deletes every stored message; returns how many there were. */
  clear(): Promise<number>;
  /** The behaviour rules in force. */
  readonly rules: CaptureRules;
  /** Replaces the behaviour rules; attempt counts and greylisting start afresh. */
  setRules(rules: CaptureRules): void;
}

/** A behaviour rule that fired for one client connection. */
export interface FiredRuleEvent {
  /** The client's address and port, as the server sees them. */
  remoteAddress: string;
  remotePort: number;
  rule: FiredRule;
}

export const DEFAULT_SIZE_LIMIT = 50 * 1024 * 1024;
/** How long stop() goes on verifying the messages that wait to be verified. */
const STOP_VERIFY_MS = 3000;
/** How long stop() lets open sessions finish before they get 421. */
const CLOSE_TIMEOUT_MS = 1000;

/** Reports whether an address is a loopback address (127.0.0.0/8, ::1, or `localhost`). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  const lower = host.toLowerCase();
  return lower === '::1' || lower === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(lower);
}

/** `host:port`, bracketing an IPv6 address (RFC 3986 §3.2.2). */
export function formatAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A set of listeners with a `dispose` per subscription. */
class Emitter<T> {
  private readonly listeners = new Set<(value: T) => void>();

  on(listener: (value: T) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  fire(value: T, log: (entry: CaptureLogEntry) => void): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(value);
      } catch (error) {
        log({ level: 'error', message: `a message listener failed: ${errorText(error)}` });
      }
    }
  }
}

/** An error for an smtp-server callback, with the reply code to send. */
function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

function envelopeOf(session: SMTPServerSession, socketTls: { protocol: string | null; cipher: string } | null): Omit<CaptureEnvelope, 'receivedAt' | 'size'> {
  const { envelope } = session;
  const mailFrom = envelope.mailFrom === false ? '' : envelope.mailFrom.address;
  const mailParameters = envelope.mailFrom === false || envelope.mailFrom.args === false ? {} : { ...envelope.mailFrom.args };
  const user = session.user as { username?: string; method?: string } | undefined;
  return {
    mailFrom,
    rcptTo: envelope.rcptTo.map((r) => r.address),
    mailParameters,
    rcptParameters: envelope.rcptTo.map((r) => (r.args === false ? {} : { ...r.args })),
    remoteAddress: session.remoteAddress,
    remotePort: session.remotePort,
    helo: typeof session.hostNameAppearsAs === 'string' && session.hostNameAppearsAs !== '' ? session.hostNameAppearsAs : null,
    tls: socketTls,
    auth: user && typeof user.username === 'string' ? { method: user.method ?? 'unknown', username: user.username } : null,
    bodyType: envelope.bodyType === '8bitmime' ? '8bitmime' : '7bit',
    smtpUtf8: envelope.smtpUtf8 === true,
    transmissionType: transmissionType(session.transmissionType, envelope.smtpUtf8 === true),
  };
}

/**
 * The protocol name of a Received field's `with` clause (RFC 3848) for a transaction: smtp-server's
 * (`ESMTPSA`, ...), or with SMTPUTF8 the names of RFC 6531 §3.7.3 (`UTF8SMTP`, `UTF8SMTPA`,
 * `UTF8SMTPS`, `UTF8SMTPSA`; `UTF8LMTP...` for LMTP).
 */
function transmissionType(type: string, smtpUtf8: boolean): string {
  if (!smtpUtf8) return type;
  const m = /^E?(SMTP|LMTP)(S?A?)$/.exec(type);
  return m ? `UTF8${m[1]}${m[2]}` : type;
}

/** Starts a capture server; rejects when the port cannot be bound or the folder cannot be made. */
export async function startCaptureServer(options: CaptureServerOptions): Promise<CaptureServer> {
  // The name goes into every stored message's Authentication-Results field as its authserv-id: one
  // that is not an RFC 8601 §2.2 value is refused here, once, rather than failing every verification.
  const authServId = options.verify?.authServId ?? options.name ?? 'localhost';
  const nameProblem = authServIdProblem(authServId);
  if (nameProblem !== undefined) throw new RangeError(`the server name "${visibleLine(authServId)}" cannot be an authserv-id: ${nameProblem}`);
  const host = options.host ?? '127.0.0.1';
  const dir = resolve(options.dir);
  const log = options.logger ?? ((): void => undefined);
  // The port is bound before anything is created, so a port in use leaves no folder and no key.
  const listener = await bindListener(options.port ?? 0, host);
  try {
    return await startOnListener(listener, host, dir, log, options);
  } catch (error) {
    await new Promise<void>((done) => listener.close(() => done()));
    throw error;
  }
}

/** Listens on host:port; rejects (with EADDRINUSE, say) without having created anything else. */
function bindListener(port: number, host: string): Promise<Server> {
  return new Promise((resolveListen, rejectListen) => {
    // A client may half-close after pipelining its last commands (Exim does, after QUIT): it still
    // gets its replies, so the socket must not end its side at once (Node's default).
    const listener = createServer({ allowHalfOpen: true });
    const onError = (error: Error): void => {
      listener.removeListener('listening', onListening);
      rejectListen(error);
    };
    const onListening = (): void => {
      listener.removeListener('error', onError);
      resolveListen(listener);
    };
    listener.once('error', onError);
    listener.once('listening', onListening);
    listener.listen(port, host);
  });
}

/** What the server keeps about one connection for the rules. */
interface SessionRules {
  /** Rules that fired at CONNECT and EHLO. */
  connection: FiredRule[];
  /** Rules that fired in the current transaction (since MAIL). */
  transaction: FiredRule[];
  extensions?: SessionExtensions;
}

/** What the rules decide when there are none. */
const NO_DECISION: RuleDecision = { fired: [], delayMs: 0, close: false };

/** The commands rules can match, apart from CONNECT and MESSAGE, which are not commands. */
const COMMAND_VERBS: ReadonlySet<string> = new Set(RULE_COMMANDS.filter((c) => c !== 'CONNECT' && c !== 'MESSAGE'));

/** The address and parameters of `MAIL FROM:<a> P=V` or `RCPT TO:<a> P=V` (RFC 5321 §4.1.2). */
function parsePathCommand(line: string, verb: 'MAIL' | 'RCPT'): { address: string; parameters: Record<string, string | true> } | undefined {
  const m = (verb === 'MAIL' ? /^MAIL FROM:\s*<([^>]*)>\s*(.*)$/i : /^RCPT TO:\s*<([^>]*)>\s*(.*)$/i).exec(line.trim());
  if (!m) return undefined;
  const parameters: Record<string, string | true> = {};
  for (const part of m[2].split(/\s+/).filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq < 0) parameters[part.toUpperCase()] = true;
    else parameters[part.slice(0, eq).toUpperCase()] = part.slice(eq + 1);
  }
  return { address: m[1], parameters };
}

/** An octet over 127 in a command line read as latin1. */
const NON_ASCII = /[\x80-\xff]/;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * An address from a command line read as latin1, as the text it is: SMTPUTF8 addresses are UTF-8
 * (RFC 6531 §3.3), so a rule written with `jörg@*` matches what a client sent. Octets that are
 * not UTF-8 stay as they were read.
 */
function addressText(latin1: string): string {
  if (!NON_ASCII.test(latin1)) return latin1;
  try {
    return strictUtf8.decode(Buffer.from(latin1, 'latin1'));
  } catch {
    return latin1;
  }
}

/**
 * The refusal of a MAIL or RCPT whose address is not ASCII in a transaction without the SMTPUTF8
 * parameter, or undefined when smtp-server should answer (the address is ASCII, or the command is
 * out of sequence or malformed, which smtp-server refuses with 503 or 501).
 *
 * RFC 6531 §3.4: a client sends a non-ASCII address only with SMTPUTF8 on MAIL, which covers the
 * RCPTs of the transaction. §3.7.4.1: a server refuses such an address with 553 and, with enhanced
 * status codes, X.6.7 "Non-ASCII addresses not permitted for that sender/recipient" (registered by
 * §4). When a rule hides SMTPUTF8, the parameter itself is refused first (555,
 * captureRuleEngine.ts), so such an address is refused either way. The address is read from the
 * line as sent, because smtp-server shows an A-label domain as a U-label.
 */
function undeclaredUtf8(line: string, verb: 'MAIL' | 'RCPT', session: SMTPServerSession): string | undefined {
  const path = parsePathCommand(line, verb);
  if (!path || !NON_ASCII.test(path.address) || !session.hostNameAppearsAs) return undefined;
  const envelope = session.envelope;
  if (verb === 'MAIL') {
    if (envelope.mailFrom !== false || path.parameters.SMTPUTF8 !== undefined) return undefined;
    return '5.6.7 Non-ASCII sender address without the SMTPUTF8 parameter (RFC 6531)';
  }
  if (envelope.mailFrom === false || envelope.smtpUtf8 === true) return undefined;
  return '5.6.7 Non-ASCII recipient address, but MAIL had no SMTPUTF8 parameter (RFC 6531)';
}

async function startOnListener(
  listener: Server,
  host: string,
  dir: string,
  log: (entry: CaptureLogEntry) => void,
  options: CaptureServerOptions,
): Promise<CaptureServer> {
  // A journal a crashed server left behind that cannot be replayed now is kept and logged, never fatal.
  const store = new MessageStore(dir, { log: (level, message) => log({ level, message }) });
  await store.init();

  let key: string | Buffer | undefined;
  let cert: string | Buffer | undefined;
  let certificatePath: string | undefined;
  const tlsOption = options.tls ?? 'generate';
  if (tlsOption === 'generate') {
    const generated = await loadOrCreateLocalCertificate(dir);
    key = generated.keyPem;
    cert = generated.certPem;
    certificatePath = generated.certPath;
  } else if (tlsOption !== false) {
    key = tlsOption.key;
    cert = tlsOption.cert;
  }

  const authOption = options.auth ?? 'any';
  const account = typeof authOption === 'object' ? authOption : undefined;
  const authMode: CaptureServer['authMode'] = account ? 'account' : authOption === 'none' ? 'none' : 'any';
  const sizeLimit = options.sizeLimit ?? DEFAULT_SIZE_LIMIT;
  const disabledCommands = [...(key === undefined ? ['STARTTLS'] : []), ...(authMode === 'none' ? ['AUTH'] : [])];

  const messages = new Emitter<StoredMessage>();
  const firedRules = new Emitter<FiredRuleEvent>();
  const authenticated = new Emitter<StoredMessage>();
  const changes = new Emitter<undefined>();
  const saving = new Set<Promise<unknown>>();

  /** The TLS parameters of each secured session, noted in onSecure (session id to details). */
  const tlsOfSession = new Map<string, { protocol: string | null; cipher: string }>();

  const onAuth = (
    auth: SMTPServerAuthentication,
    session: SMTPServerSession,
    callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
  ): void => {
    const username = auth.username ?? '';
    let ok: boolean;
    if (!account) {
      // Any credentials: CRAM-MD5 (RFC 2195) cannot be checked without a password, so it passes too.
      ok = true;
    } else if (auth.method === 'CRAM-MD5') {
      ok = username === account.user && auth.validatePassword(account.pass);
    } else if (auth.method === 'XOAUTH2') {
      ok = username === account.user && auth.accessToken === account.pass;
    } else {
      ok = username === account.user && auth.password === account.pass;
    }
    if (!ok) {
      // RFC 4954 §6: 535 5.7.8 Authentication credentials invalid.
      log({ level: 'info', message: `AUTH ${auth.method} refused for "${username}"`, remoteAddress: session.remoteAddress });
      callback(smtpError(535, 'Authentication credentials invalid'));
      return;
    }
    callback(null, { user: { username, method: auth.method } });
  };

  const clock = options.clock ?? Date.now;
  let rules: CaptureRules = options.rules ?? { version: 1, rules: [] };
  let engine = new CaptureRuleEngine(rules.rules, clock);
  const sessionRules = new Map<string, SessionRules>();
  const rulesOf = (session: SMTPServerSession): SessionRules => {
    let state = sessionRules.get(session.id);
    if (!state) {
      state = { connection: [], transaction: [] };
      sessionRules.set(session.id, state);
    }
    return state;
  };
  const record = (fired: FiredRule[], client: { remoteAddress: string; remotePort: number }, into: FiredRule[]): void => {
    for (const rule of fired) {
      into.push(rule);
      log({ level: 'info', message: describeFiredRule(rule), remoteAddress: client.remoteAddress });
      firedRules.fire({ remoteAddress: client.remoteAddress, remotePort: client.remotePort, rule }, log);
    }
  };
  /** Runs a decision: waits its delay, then answers, closes or lets the server go on. */
  const apply = (decision: RuleDecision, act: { reply(code: number, text: string): void; close(): void; proceed(): void }): void => {
    const run = (): void => {
      if (decision.reply) {
        act.reply(decision.reply.code, decision.reply.text);
        if (decision.close) act.close();
      } else if (decision.close) act.close();
      else act.proceed();
    };
    if (decision.delayMs > 0) setTimeout(run, decision.delayMs);
    else run();
  };

  /**
   * Lets smtp-server handle a command the rules let through, unless it is a MAIL or RCPT with a
   * non-ASCII address that its transaction did not announce: on the hot path, one test of the line
   * for an octet over 127.
   */
  const forward = (context: CommandContext, verb: string, proceed: () => void, done: () => void): void => {
    const refusal = (verb === 'MAIL' || verb === 'RCPT') && NON_ASCII.test(context.line) ? undeclaredUtf8(context.line, verb, context.session) : undefined;
    if (refusal === undefined) {
      proceed();
      return;
    }
    log({ level: 'info', message: `refused ${verb}: ${refusal}`, remoteAddress: context.session.remoteAddress });
    context.reply(553, refusal);
    done();
  };

  const onCommand = (context: CommandContext, proceed: () => void, done: () => void): void => {
    const verb = context.verb === 'LHLO' ? 'EHLO' : context.verb;
    // A parameter of an extension the EHLO reply did not advertise (RFC 5321 §4.1.1.11) is refused
    // before any rule answers, as smtpServerExtensions.ts refuses commands out of sequence.
    if (context.parameterRefusal) {
      const { code, text } = context.parameterRefusal;
      log({ level: 'info', message: `refused ${verb}: ${code} ${text}`, remoteAddress: context.session.remoteAddress });
      context.reply(code, text);
      done();
      return;
    }
    // Without rules nothing can fire: the command goes to smtp-server at once (the common case, and
    // the hot path of a load test).
    if (rules.rules.length === 0 || !COMMAND_VERBS.has(verb)) {
      // Commands no rule can name (HELP, EXPN, unknown ones) go to smtp-server as they are.
      forward(context, verb, proceed, done);
      return;
    }
    const session = context.session;
    const state = rulesOf(session);
    const envelope = session.envelope;
    const event: RuleEvent = {
      command: verb as RuleCommand,
      client: session.remoteAddress,
      tls: context.secure,
      authenticated: session.user !== undefined && session.user !== null && session.user !== false,
      sender: envelope && envelope.mailFrom !== false ? envelope.mailFrom.address : undefined,
      recipients: envelope ? envelope.rcptTo.map((r) => r.address) : [],
      session: state.extensions,
    };
    if (verb === 'MAIL' || verb === 'RCPT') {
      const path = parsePathCommand(context.line, verb);
      if (!path) {
        // smtp-server answers the syntax error.
        proceed();
        return;
      }
      event.parameters = path.parameters;
      const address = addressText(path.address);
      if (verb === 'MAIL') {
        event.sender = address;
        event.recipients = [];
        const size = path.parameters.SIZE;
        if (typeof size === 'string' && /^\d+$/.test(size)) event.size = Number(size);
        state.transaction = [];
      } else event.recipient = address;
    }
    if (verb === 'EHLO' || verb === 'HELO' || verb === 'RSET') state.transaction = [];
    const decision = engine.decide(event);
    record(decision.fired, session, verb === 'EHLO' || verb === 'HELO' ? state.connection : state.transaction);
    apply(decision, {
      reply: (code, text) => {
        if (verb === 'BDAT') context.refuseChunk(code, text);
        else {
          context.reply(code, text);
          done();
        }
      },
      close: () => {
        context.close();
        if (!decision.reply) done();
      },
      proceed: () => forward(context, verb, proceed, done),
    });
  };

  /**
   * Answers a message that could not be stored, with a transient reply so that the client keeps it
   * and tries again (RFC 5321 §4.2.1, 4yz): `452 4.3.1` when the disk (or quota) is full, RFC 5321
   * §4.2.2 "insufficient system storage" with RFC 3463 §3.4 X.3.1 "mail system full"; otherwise
   * `451 4.3.0`, §4.2.2 "local error in processing". The log says why in one line, no stack trace.
   */
  const notStored = (error: unknown, remoteAddress: string, callback: (err?: Error | null) => void): void => {
    if (isStorageFull(error)) {
      log({ level: 'error', message: `message not stored: the disk is full (${(error as NodeJS.ErrnoException).code}); answered 452 4.3.1`, remoteAddress });
      callback(smtpError(452, '4.3.1 Insufficient system storage: the capture server\'s disk is full, try again later'));
      return;
    }
    log({ level: 'warn', message: `message not stored: ${errorText(error)}`, remoteAddress });
    callback(smtpError(451, '4.3.0 Local error in processing: the message could not be stored'));
  };

  /**
   * Verifies a stored message (never on the reply path: the queue runs while the SMTP side is quiet)
   * and stores the results with it.
   */
  const verifyStored = async (stored: StoredMessage, verify: NonNullable<CaptureServerOptions['verify']>): Promise<void> => {
    const envelope = stored.envelope;
    let bytes: Buffer;
    try {
      bytes = await store.read(stored.id);
    } catch {
      // Deleted before its turn came.
      return;
    }
    let authentication: CapturedAuthentication;
    try {
      const report = await withDeadline(
        Promise.race([verificationStopped, verifyMessage(bytes, {
          resolver: verify.resolver,
          ip: envelope?.remoteAddress,
          helo: envelope?.helo ?? undefined,
          mailFrom: envelope?.mailFrom,
          authServId: verify.authServId ?? options.name ?? 'localhost',
          useReceived: false,
        })]),
        VERIFY_DEADLINE_MS,
        'the verification',
      );
      authentication = capturedAuthentication(report, new Date());
    } catch (error) {
      authentication = notVerified(errorText(error));
    }
    try {
      if (await store.annotate(stored.id, authentication)) {
        log({ level: 'info', message: `verified ${stored.id}: ${authentication.authenticationResults || authentication.error || ''}`, remoteAddress: envelope?.remoteAddress });
        authenticated.fire({ ...stored, authentication }, log);
        changes.fire(undefined, log);
      }
    } catch (error) {
      log({ level: 'warn', message: `could not store the verification of ${stored.id}: ${errorText(error)}`, remoteAddress: envelope?.remoteAddress });
    }
  };
  // A stop ends the verification under way at once (it is stored as not verified, with the reason).
  let stopVerification: () => void = () => undefined;
  const verificationStopped = new Promise<never>((_, reject) => (stopVerification = () => reject(new Error('the server stopped before the verification finished'))));
  verificationStopped.catch(() => undefined);
  const verifyOption = options.verify;
  const cachedResolver = verifyOption ? cachingResolver(verifyOption.resolver) : undefined;
  const verification = verifyOption
    ? new VerificationQueue<StoredMessage>(
        (stored) => verifyStored(stored, { ...verifyOption, resolver: cachedResolver ?? verifyOption.resolver }),
        (stored) => {
          log({ level: 'warn', message: `not verifying ${stored.id}: too many messages wait to be verified` });
          void store.annotate(stored.id, notVerified('not verified: too many messages waited to be verified')).catch(() => undefined);
        },
      )
    : undefined;

  const onData = (stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void => {
    const incoming = store.begin();
    const work = (async (): Promise<void> => {
      try {
        await incoming.receive(stream, () => stream.sizeExceeded);
      } catch (error) {
        await incoming.abort().catch(() => undefined);
        // The client went away in the middle of the message, or the disk failed.
        notStored(error, session.remoteAddress, callback);
        return;
      }
      if (stream.sizeExceeded) {
        // RFC 1870 §6.3: the server refuses a message over its declared limit with 552.
        await incoming.abort().catch(() => undefined);
        log({ level: 'info', message: `refused a message of ${stream.byteLength} octets over the limit of ${sizeLimit}`, remoteAddress: session.remoteAddress });
        callback(smtpError(552, `Message size exceeds fixed maximum message size ${sizeLimit}`));
        return;
      }
      // The end of the message: rules can refuse it now, by its size or its envelope.
      const state = rulesOf(session);
      const envelope = {
        ...envelopeOf(session, tlsOfSession.get(session.id) ?? null),
        transfer: (stream as SMTPServerDataStream & { chunked?: boolean }).chunked === true ? ('BDAT' as const) : ('DATA' as const),
      };
      const decision: RuleDecision = rules.rules.length === 0 ? NO_DECISION : engine.decide({
        command: 'MESSAGE',
        client: session.remoteAddress,
        sender: envelope.mailFrom,
        recipients: envelope.rcptTo,
        size: stream.byteLength,
        tls: envelope.tls !== null,
        authenticated: envelope.auth !== null,
        session: state.extensions,
      });
      record(decision.fired, session, state.transaction);
      if (decision.reply || decision.close) {
        await incoming.abort().catch(() => undefined);
        const reply = decision.reply ?? { code: 421, text: '4.3.0 Closing the connection' };
        await new Promise((done) => setTimeout(done, decision.delayMs));
        callback(smtpError(reply.code, reply.text));
        return;
      }
      if (decision.delayMs > 0) await new Promise((done) => setTimeout(done, decision.delayMs));
      const firedRules = [...state.connection, ...state.transaction];
      let stored: StoredMessage;
      try {
        stored = await incoming.commit(envelope, firedRules.length > 0 ? firedRules : undefined);
      } catch (error) {
        await incoming.abort().catch(() => undefined);
        notStored(error, session.remoteAddress, callback);
        return;
      }
      // The message is stored (journaled): the client hears so at once, and so do listeners.
      callback(null, `OK: captured as ${stored.id}`);
      log({ level: 'info', message: `stored ${stored.id}`, remoteAddress: session.remoteAddress });
      messages.fire(stored, log);
      changes.fire(undefined, log);
      verification?.add(stored);
    })();
    saving.add(work);
    void work.finally(() => saving.delete(work));
  };

  const server = new CaptureSmtpServer({
    chunking: options.chunking ?? true,
    name: options.name ?? 'localhost',
    banner: 'SMTP Workbench local capture server',
    logger: false,
    secure: false,
    ...(key !== undefined && cert !== undefined ? { key, cert } : {}),
    disabledCommands,
    authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'],
    authOptional: !(options.requireAuth ?? false),
    allowInsecureAuth: options.allowCleartextAuth ?? true,
    size: sizeLimit > 0 ? sizeLimit : undefined,
    rejectOversized: sizeLimit > 0,
    hideENHANCEDSTATUSCODES: false,
    disableReverseLookup: true,
    // Many scripted transactions on one connection are normal here, and none is authenticated.
    maxAllowedUnauthenticatedCommands: false,
    closeTimeout: CLOSE_TIMEOUT_MS,
    socketTimeout: options.idleTimeoutMs ?? 5 * 60 * 1000,
    maxClients: options.maxClients ?? 1000,
    // Ready at once, and MAIL and RCPT accepted at once: smtp-server's default handlers defer each
    // to the next turn of the event loop, which a client that waits for every reply pays for.
    onConnect(_session, callback) {
      callback();
    },
    onMailFrom(_address, _session, callback) {
      callback();
    },
    onRcptTo(_address, _session, callback) {
      callback();
    },
    onAuth,
    onData,
    onSecure(socket, session, callback) {
      const tlsSocket = socket as TLSSocket;
      const cipher = typeof tlsSocket.getCipher === 'function' ? tlsSocket.getCipher() : undefined;
      tlsOfSession.set(session.id, {
        protocol: typeof tlsSocket.getProtocol === 'function' ? tlsSocket.getProtocol() : null,
        cipher: cipher?.name ?? 'unknown',
      });
      callback();
    },
    onClose(session) {
      tlsOfSession.delete(session.id);
      sessionRules.delete(session.id);
    },
  });
  server.hooks = {
    connect(context, proceed) {
      const decision = engine.decide({ command: 'CONNECT', client: context.remoteAddress, tls: false, authenticated: false });
      const state: SessionRules = { connection: [], transaction: [] };
      sessionRules.set(context.sessionId, state);
      record(decision.fired, context, state.connection);
      // A 421 closes the connection; after a 554 the server waits for QUIT (RFC 5321 §3.1), unless
      // the rule also says `close`.
      apply(decision, {
        reply: (code, text) => context.refuse(code, text),
        close: () => context.close(),
        proceed,
      });
    },
    command: onCommand,
    ehlo(session, secure, keywords) {
      const state = rulesOf(session);
      const result = engine.ehlo(
        { client: session.remoteAddress, tls: secure, authenticated: session.user !== undefined && session.user !== null && session.user !== false },
        keywords,
      );
      state.extensions = result.session;
      state.connection = state.connection.filter((r) => r.action !== 'extensions');
      record(result.fired, session, state.connection);
      return result.keywords;
    },
  };

  // smtp-server reports a failed TLS handshake, a client's socket error and a misbehaving client as
  // 'error' on the server; without a listener that would crash the process. They concern one client
  // only, so they are logged and the server goes on.
  const onClientError = (error: Error & { remoteAddress?: string; code?: string }): void => {
    log({ level: 'warn', message: `client error: ${error.message.trim()}${error.code ? ` (${error.code})` : ''}`, remoteAddress: error.remoteAddress });
  };
  server.on('error', onClientError);

  server.adoptListener(listener);
  const sockets = new Set<Socket>();
  listener.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const bound = listener.address();
  const port = bound !== null && typeof bound === 'object' ? bound.port : (options.port ?? 0);
  log({ level: 'info', message: `listening on ${formatAddress(host, port)}, storing messages in ${dir}` });

  let stopping: Promise<void> | undefined;
  const capture: CaptureServer = {
    host,
    port,
    address: formatAddress(host, port),
    dir,
    certificatePem: cert === undefined ? undefined : cert.toString(),
    certificatePath,
    authMode,
    stop(): Promise<void> {
      stopping ??= (async (): Promise<void> => {
        await new Promise<void>((done) => {
          server.close(() => done());
          // smtp-server ends its sessions after closeTimeout, with a timer that does not keep the
          // process alive; sockets it no longer tracks (a client that half-closed) are destroyed
          // a little later, so stop() always finishes.
          const timer = setTimeout(() => {
            for (const socket of sockets) socket.destroy();
          }, CLOSE_TIMEOUT_MS + 500);
          listener.once('close', () => clearTimeout(timer));
        });
        await Promise.allSettled([...saving]);
        // What waits to be verified is verified now, for a few seconds at most (an unreachable DNS
        // server must not hold the stop); what is left stays unverified.
        if (verification) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([verification.drain(), new Promise<void>((done) => (timer = setTimeout(done, STOP_VERIFY_MS)))]);
          clearTimeout(timer);
          const left = verification.size;
          stopVerification();
          await verification.stop();
          if (left > 0) log({ level: 'warn', message: `${left} message${left === 1 ? ' was' : 's were'} not verified before the server stopped` });
        }
        await store.close().catch((error: unknown) => log({ level: 'error', message: `could not close the journal: ${errorText(error)}` }));
        log({ level: 'info', message: 'stopped' });
      })();
      return stopping;
    },
    onMessage: (listener) => messages.on(listener),
    onAuthenticated: (listener) => authenticated.on(listener),
    onChange: (listener) => changes.on(listener),
    onRule: (listener) => firedRules.on(listener),
    list: (listOptions) => store.list(listOptions),
    get: (id, getOptions) => store.get(id, getOptions),
    read: (id) => store.read(id),
    async delete(id) {
      const existed = await store.delete(id);
      if (existed) changes.fire(undefined, log);
      return existed;
    },
    async clear() {
      const count = await store.clear();
      changes.fire(undefined, log);
      return count;
    },
    get rules() {
      return rules;
    },
    setRules(next) {
      rules = next;
      engine = new CaptureRuleEngine(next.rules, clock);
      log({ level: 'info', message: `${next.rules.length} behaviour rule${next.rules.length === 1 ? '' : 's'} in force` });
      changes.fire(undefined, log);
    },
  };
  return capture;
}
