/**
 * Runs one session plan against a server: connection (plain, STARTTLS, implicit TLS, MX), the
 * steps with their expectations, AUTH, DATA/BDAT, RAW, pipelining and repeats. The runner is pure:
 * every socket, DNS query, clock, random number and file read comes through `RunOptions`.
 *
 * Verdicts are earned: without an `EXPECT`, each step needs the reply that lets the session go on
 * (2xx greeting, 220 to STARTTLS, 334 inside an AUTH exchange and 235 at its end, 354 to DATA, 250
 * to every BDAT chunk but the last, 2xx to the end of data, to the last chunk and to every other
 * command, one 2xx per accepted recipient with LMTP). Any other reply fails the session at that
 * line, unless an `EXPECT` on the line allows it. A reply to DATA that is neither 354 nor a 4xx/5xx
 * refusal, and a 2xx inside an AUTH exchange before the credentials went out, always fail.
 *
 * Files the script names (`TLS ca=`, `cert=`, `key=`, `DATA < file`, `BDAT < file`) are read before
 * connecting; a missing one is a `script` failure and nothing is sent. After a failed TLS
 * handshake no cleartext byte is written: the connection is closed (RFC 3207 §4.1).
 *
 * Cancellation: pass `RunOptions.signal` (an `AbortSignal`) and abort it, e.g. on Ctrl+C or a
 * Cancel button. `runSession` then resolves (it never rejects) with `ok: false` and
 * `failure.kind === 'cancelled'`. When the protocol state allows it (the greeting was read, and no
 * message data, STARTTLS negotiation, DATA awaiting 354, AUTH exchange or RAW bytes are in flight),
 * the engine sends QUIT, waits up to 2 s for the 221 (skipping replies still owed to earlier
 * commands) and closes; otherwise it closes the connection at once. A signal that is already
 * aborted sends nothing and opens no connection. The transcript shows `cancelled` as an error event.
 *
 * ```ts
 * const controller = new AbortController();
 * process.once('SIGINT', () => controller.abort());
 * const result = await runSession(plan, { signal: controller.signal });
 * if (result.failure?.kind === 'cancelled') process.exitCode = 130;
 * ```
 */
import * as dns from 'node:dns';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { parseConnectTarget } from '../../../common/connectTarget';
import { DEFAULT_TIMEOUTS, filesNamedBy, type Expectation, type PlanStep, type SessionPlan, type Timeouts } from '../../../common/sessionPlan';
import { cramMd5Response, loginPayload, plainPayload, xoauth2Payload } from './auth';
import { decodeRawEscapes, escapeBytes } from '../../../common/escape';
import { canonicalMessage, inlineBdatMessage, inlineDataBytes } from './data';
import { checkExpectation, classExpectation, describeExpectation, keepsStepNeed, withStepNeed } from './expect';
import { MASK, Masker, eventRole, maskResult } from './mask';
import { hostAddresses, lookupMx } from './mx';
import type { SessionDane } from './dane';
import { monotonicMs } from './clock';
import { parseCapabilities, type Reply } from './replies';
import type {
  Capabilities,
  EngineIo,
  EventDirection,
  FailureKind,
  MxDetails,
  ReplyInfo,
  RunOptions,
  SessionResult,
  StepResult,
  TlsDetails,
  TranscriptEvent,
} from './types';
import { formatMs } from '../../../common/duration';
import { EngineError, ReadTap, Wire, waitConnect, waitSecure } from './wire';

/**
 * `node:tls` is loaded at the first TLS connection: loading it initialises OpenSSL, 10–18 ms of CPU
 * that a cleartext session (a lock-step or pipelined throughput run, say) never needs.
 */
function tlsModule(): typeof tls {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('node:tls') as typeof tls;
}

/** The DANE checks (and the DNSSEC, TLSA and certificate-chain code under them) are loaded only for `TLS dane=`. */
function daneTools(): typeof import('./dane') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./dane') as typeof import('./dane');
}

/**
 * The system's resolver, created at its first query: a session to a named host or an address never
 * asks the DNS, and creating a resolver reads the system's configuration. Each query gives up after
 * 5 s and one retry, so mx: targets cannot hang a run.
 */
class LazyResolver {
  private resolver: dns.promises.Resolver | undefined;

  private get real(): dns.promises.Resolver {
    return (this.resolver ??= new dns.promises.Resolver({ timeout: 5000, tries: 2 }));
  }

  resolveMx(domain: string): Promise<dns.MxRecord[]> {
    return this.real.resolveMx(domain);
  }

  resolve4(host: string): Promise<string[]> {
    return this.real.resolve4(host);
  }

  resolve6(host: string): Promise<string[]> {
    return this.real.resolve6(host);
  }

  /** The servers queried (the DANE lookups use the first, see dane.ts). */
  getServers(): string[] {
    return this.real.getServers();
  }
}

/** The I/O of a real run: Node's sockets and resolver, a monotonic clock and `Math.random()`. */
export function nodeIo(): EngineIo {
  return {
    connect: (o) => net.connect(o),
    tlsConnect: (o) => tlsModule().connect(o),
    resolver: new LazyResolver(),
    now: monotonicMs,
    random: () => Math.random(),
  };
}

/** How long the polite QUIT after a failure may take. */
const QUIT_GRACE_MS = 2000;
/** The most octets of a message body shown in one transcript event. */
const MAX_BODY_SHOWN = 64 * 1024;
/** Verbs that RFC 2920 §3.1 lets a client send without waiting, as long as a waiting command ends the group. */
const PIPELINABLE = new Set(['RSET', 'MAIL', 'RCPT', 'SEND', 'SOML', 'SAML']);

type CommandStep = Extract<PlanStep, { kind: 'command' }>;
type DataStep = Extract<PlanStep, { kind: 'data' }>;
type BdatStep = Extract<PlanStep, { kind: 'bdat' }>;
type AuthStep = Extract<PlanStep, { kind: 'auth' }>;
type RawStep = Extract<PlanStep, { kind: 'raw' }>;

/** A DATA body accepted with 354 but not yet sent, to open the next pipelined group. */
interface Carry {
  step: DataStep;
  body: Buffer;
  reply: Reply;
  started: number;
  record: boolean;
  /** The envelope the body was accepted with, for `onMessage` (the next group may change it before the body's reply). */
  envelope: Envelope;
}

/** The greeting name and reverse-path a message goes with, as sent and unmasked (`SentMessage.helo`, `mailFrom`). */
interface Envelope {
  helo?: string;
  mailFrom?: string;
}

/** The first argument of a command line as sent (`EHLO name` gives `name`), or undefined. */
function firstArgument(command: string): string | undefined {
  return /^\S+[ \t]+(\S+)/.exec(command)?.[1];
}

/**
 * The reverse-path of a MAIL command as sent, without its angle brackets ('' for the null path):
 * RFC 5321 §4.1.1.2 `MAIL FROM:<reverse-path> [SP mail-parameters]`. A quoted local part may hold
 * `>` (§4.1.2 Quoted-string); a source route (`<@a,@b:user@host>`, §4.1.2 A-d-l) is dropped, as
 * receivers ignore it (Appendix C). Undefined when the command has no bracketed path.
 */
function reversePath(command: string): string | undefined {
  const head = /^MAIL[ \t]+FROM:[ \t]*</i.exec(command);
  if (!head) return undefined;
  let path = '';
  let quoted = false;
  for (let i = head[0].length; i < command.length; i++) {
    const c = command[i];
    if (quoted) {
      path += c;
      if (c === '\\' && i + 1 < command.length) path += command[++i];
      else if (c === '"') quoted = false;
    } else if (c === '>') {
      return path.replace(/^@[^:]*:/, '');
    } else {
      if (c === '"') quoted = true;
      path += c;
    }
  }
  return undefined;
}

/** Why a session stopped; thrown inside the runner and turned into `SessionResult.failure`. */
class StepFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

function info(reply: Reply): ReplyInfo {
  return reply.enhanced === undefined ? { code: reply.code, lines: reply.lines } : { code: reply.code, enhanced: reply.enhanced, lines: reply.lines };
}

function certName(name: tls.PeerCertificate['subject'] | undefined): string | undefined {
  if (!name) return undefined;
  return Object.entries(name)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(', ');
}

/** Runs one session plan. Never throws: every failure is reported in the result. */
export async function runSession(plan: SessionPlan, options: RunOptions = {}): Promise<SessionResult> {
  const runner = new SessionRunner(plan, options);
  // Reply lines and notes are masked too: a server may echo a secret the client sent.
  return maskResult(await runner.run(), runner.secretMasker);
}

class SessionRunner {
  private readonly io: EngineIo;
  private readonly masker: Masker;

  get secretMasker(): Masker {
    return this.masker;
  }
  private readonly timeouts: Timeouts;
  private readonly events: TranscriptEvent[] = [];
  private readonly keep: boolean;
  private readonly onEvent: ((e: TranscriptEvent) => void) | undefined;
  /** False while later repeats run, so their events do not flood the transcript. */
  private recording = true;
  private readonly start: number;
  private wire: Wire | undefined;
  /** A socket being connected, so cancellation can destroy it. */
  private connecting: net.Socket | undefined;
  private caps: Capabilities | undefined;
  private tlsDetails: TlsDetails | undefined;
  private readonly steps: StepResult[] = [];
  private lmtp = false;
  /** Recipients accepted in the current transaction; LMTP gives one reply per each after DATA (RFC 2033 §4.2). */
  private accepted = 0;
  /**
   * The envelope of the transaction in progress, for `onMessage`: followed only when a caller asked
   * for the messages, and only from recorded steps (the transaction a `repeat` reports). Replaced,
   * never changed in place, so a carried body keeps the envelope it was sent with.
   */
  private envelope: Envelope = {};
  /** This connection's local end, as the server sees its client (for `RunOptions.serverNotes`). */
  private localEnd: { address?: string; port?: number; serverPort?: number } | undefined;
  /** While an RFC 2920 group is read: the server's notes, shown after the group's replies. */
  private heldNotes: string[] | undefined;
  /** Set after RAW: the engine no longer knows the session's state. */
  private stateUnknown = false;
  /** Set between a 354 and the end of the data, when a QUIT would be read as message text. */
  private inData = false;
  /**
   * Set while a QUIT would be misread: before the greeting, between STARTTLS and a finished
   * handshake (forever after a failed one: RFC 3207 §4.1 allows no cleartext then), while DATA
   * awaits its 354, and inside an AUTH exchange. Cancellation then just closes the connection.
   */
  private quitUnsafe: string | undefined;
  /** Set when TLS verification failed after a complete STARTTLS handshake, so QUIT goes over TLS. */
  private quitOverTls = false;
  private quitDone = false;
  /** The greeting, when the MX loop already read it. */
  private greeting: Reply | undefined;
  /** Transactions whose final reply met the expectation, for repeat statistics. */
  private transactionsOk = 0;
  private host = '';
  /** With `TLS dane=on|only`: the DANE status of the host this session talks to. */
  private dane: SessionDane | undefined;
  private readonly fileCache = new Map<string, Promise<Buffer>>();
  private readonly result: SessionResult;
  private cancelled = false;
  private abortReject: ((e: EngineError) => void) | undefined;
  private readonly abortPromise: Promise<never>;

  constructor(
    private readonly plan: SessionPlan,
    private readonly options: RunOptions,
  ) {
    this.io = { ...nodeIo(), ...options.io };
    this.masker = new Masker(options.secrets ?? []);
    for (const step of plan.steps) if (step.kind === 'auth') this.masker.add(step.secret);
    const merged: Timeouts = { ...DEFAULT_TIMEOUTS, ...plan.options.timeouts, ...options.timeouts };
    // Node's timers hold 1 to 2^31-1 ms; anything outside would fire at once.
    for (const key of Object.keys(merged) as Array<keyof Timeouts>) merged[key] = Math.min(Math.max(Math.round(merged[key]), 1), 2_147_483_647);
    this.timeouts = merged;
    this.keep = options.keepTranscript !== false;
    this.onEvent = options.onEvent;
    this.start = this.io.now();
    this.result = {
      file: plan.file,
      title: plan.title,
      name: plan.name,
      line: plan.line,
      ok: false,
      steps: this.steps,
      transcript: this.events,
      timings: { totalMs: 0 },
    };
    this.abortPromise = new Promise<never>((_, reject) => {
      this.abortReject = reject;
    });
    this.abortPromise.catch(() => undefined);
  }

  private emit(dir: EventDirection, text: string, bytes = 0): void {
    if ((!this.keep && !this.onEvent) || (!this.recording && dir !== 'error')) return;
    const event: TranscriptEvent = { t: Math.round((this.io.now() - this.start) * 1000) / 1000, dir, text: this.masker.mask(text, eventRole(dir)), bytes };
    if (this.keep) this.events.push(event);
    this.onEvent?.(event);
  }

  async run(): Promise<SessionResult> {
    const signal = this.options.signal;
    const onAbort = (): void => this.cancel();
    if (signal) {
      if (signal.aborted) this.cancel();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    try {
      if (this.cancelled) throw new EngineError('cancelled', 'the run was cancelled');
      // Every file the script names is read before connecting, so a missing one sends nothing.
      await this.readNamedFiles();
      if (this.cancelled) throw new EngineError('cancelled', 'the run was cancelled');
      await this.connectAndGreet();
      await this.runSteps();
      if (!this.quitDone && !this.stateUnknown) await this.quitAtEnd();
      this.result.ok = true;
    } catch (e) {
      const failure = this.toFailure(e);
      this.result.failure = failure;
      // Failures of the connection itself were already reported by the wire's hook.
      if (!(e instanceof EngineError && e === this.wire?.failed)) this.emit('error', failure.message);
      if (failure.kind === 'expectation' || failure.kind === 'script') {
        await this.politeQuit('sending QUIT after the failure').catch(() => undefined);
      } else if (failure.kind === 'cancelled') {
        await this.politeQuit('cancelled; sending QUIT').catch(() => undefined);
      } else if (failure.kind === 'tls' && this.quitOverTls) {
        // RFC 3207 §4.1: a client that finds the negotiated TLS not good enough sends QUIT over it.
        await this.politeQuit('sending QUIT over TLS after the verification failure (RFC 3207 §4.1)').catch(() => undefined);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.wire?.destroy();
      this.connecting?.destroy();
    }
    if (this.caps) {
      this.result.capabilities = {
        keywords: Object.fromEntries(this.caps.keywords),
        size: this.caps.size,
        authMechanisms: this.caps.authMechanisms,
      };
    }
    this.result.tls = this.tlsDetails;
    this.result.timings.totalMs = Math.round((this.io.now() - this.start) * 1000) / 1000;
    return this.result;
  }

  private toFailure(e: unknown): { kind: FailureKind; message: string; line?: number } {
    if (this.cancelled) return { kind: 'cancelled', message: 'the run was cancelled' };
    if (e instanceof StepFailure) return { kind: e.kind, message: this.masker.mask(e.message, 'note'), line: e.line };
    if (e instanceof EngineError) return { kind: e.kind, message: this.masker.mask(e.message, 'note'), line: this.currentLine };
    const message = e instanceof Error ? e.message : String(e);
    return { kind: 'script', message: this.masker.mask(`internal error: ${message}`, 'note'), line: this.currentLine };
  }

  private currentLine: number | undefined;

  /**
   * Polite cancellation: when the protocol state allows a QUIT (the greeting was read, no message
   * data, TLS negotiation, DATA or AUTH exchange or RAW bytes are in flight), the pending read is
   * interrupted without closing the socket and `run()` sends QUIT, waits briefly for 221 and
   * closes. Otherwise the connection is closed at once.
   */
  private cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const err = new EngineError('cancelled', 'the run was cancelled');
    this.emit('error', 'cancelled');
    this.abortReject?.(err);
    this.connecting?.destroy(new Error('the run was cancelled'));
    if (this.wire && this.quitAllowed()) this.wire.interrupt(err);
    else this.wire?.fail(err);
  }

  /** True when a QUIT written now would be read by the server as a command. */
  private quitAllowed(): boolean {
    const wire = this.wire;
    return !!wire && !wire.failed && !wire.closed && !this.quitDone && !this.inData && !this.stateUnknown && this.quitUnsafe === undefined;
  }

  /** Races an operation against cancellation. */
  private guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.abortPromise]);
  }

  private readFile(file: string, line?: number): Promise<Buffer> {
    const full = path.resolve(this.options.scriptDir ?? process.cwd(), file);
    let p = this.fileCache.get(full);
    if (!p) {
      p = (this.options.readFile ?? ((f: string) => fs.promises.readFile(f)))(full);
      this.fileCache.set(full, p);
    }
    return this.guard(p).catch((e: unknown) => {
      if (e instanceof EngineError) throw e;
      const where = line === undefined ? '' : `line ${line + 1}: `;
      throw new StepFailure('script', `${where}cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`, line);
    });
  }

  /**
   * Reads `TLS ca=`, `cert=`, `key=` and every `DATA < file` / `BDAT < file` before the connection
   * is opened: a missing or unreadable file is a script error and nothing is sent (not even a
   * connection). The contents stay cached for the steps that use them.
   */
  private async readNamedFiles(): Promise<void> {
    for (const file of filesNamedBy(this.plan)) await this.readFile(file.path, file.line);
  }

  // ---- Connection ----------------------------------------------------------------------------

  private async connectAndGreet(): Promise<void> {
    const connect = this.plan.connect;
    let targetText = connect ? connect.template.trim() : 'local';
    this.currentLine = connect?.line;
    const parsed = parseConnectTarget(targetText);
    if (!parsed.ok) throw new StepFailure('script', `CONNECT ${targetText}: ${parsed.message}`, connect?.line);
    const target = parsed.target;
    if (target.kind === 'local') {
      const local = this.options.localTarget;
      if (!local) {
        throw new StepFailure(
          'script',
          connect
            ? 'CONNECT local needs the embedded capture server, and none is running (the CLI takes --local HOST:PORT)'
            : 'this session has no CONNECT, so it targets the embedded capture server, and none is running (the CLI takes --local HOST:PORT)',
          connect?.line ?? this.plan.line,
        );
      }
      targetText = `local (${local.host}:${local.port})`;
      if (this.plan.tls.dane) this.dane = await this.requireDane(local.host, local.port);
      await this.connectHost(local.host, local.port, false, 'smtp');
    } else if (target.kind === 'host') {
      this.lmtp = target.scheme === 'lmtp';
      // TLSA for a named service is at _PORT._tcp.HOST (RFC 7671 §3, RFC 6698 §3).
      if (this.plan.tls.dane) this.dane = await this.requireDane(target.host, target.port);
      await this.connectHost(target.host, target.port, target.implicitTls, target.scheme);
    } else {
      await this.connectMx(target.domain, target.port);
    }
    const greeting = this.greeting ?? (await this.readGreeting());
    if (Math.floor(greeting.code / 100) !== 2) {
      // RFC 5321 §3.1: a 554 greeting refuses the session; the client should send QUIT and close.
      const text = `the server refused the session in its greeting: ${greeting.lines.join(' / ')}`;
      await this.politeQuit('sending QUIT after the refusal (RFC 5321 §3.1)').catch(() => undefined);
      throw new StepFailure('connection', text, connect?.line ?? this.plan.line);
    }
  }

  /** The DNSSEC resolver for `TLS dane=`, created at the first lookup. */
  private daneDns: ReturnType<ReturnType<typeof daneTools>['daneQuery']> | undefined;

  /** Looks up DANE for a host (never throws) and notes the outcome in the transcript. */
  private async lookupDaneFor(host: string, port: number, notApplicable?: string): Promise<SessionDane> {
    this.daneDns ??= daneTools().daneQuery(this.options, this.io.resolver);
    if ('error' in this.daneDns) return { host, port, applies: 'indeterminate', reason: this.daneDns.error };
    const d = await this.guard(daneTools().sessionDane(this.daneDns.query, host, port, this.timeouts.connect, notApplicable));
    const where = d.lookup ? d.lookup.tlsaName : `${host} port ${port}`;
    this.emit('tls', `DANE (${this.plan.tls.dane}): ${where} via ${this.daneDns.server}: ${d.applies === 'usable' ? d.reason : `DANE does not apply: ${d.reason}`}`);
    return d;
  }

  /**
   * Why a host must not be used under `TLS dane=`: a DNSSEC-bogus or failed lookup (RFC 7672
   * §2.1.1), or no usable TLSA with `dane=only`.
   */
  private daneRefusal(d: SessionDane): string | undefined {
    if (d.applies === 'bogus') return `DANE: ${d.reason}; the server is not used (RFC 7672 §2.1.1)`;
    if (d.applies === 'indeterminate') return `DANE: the TLSA lookup failed (${d.reason}); the server is not used (RFC 7672 §2.1.1)`;
    if (this.plan.tls.dane === 'only' && d.applies !== 'usable') return `dane=only: ${d.reason}`;
    return undefined;
  }

  /** DANE for a host target: a refusal fails the session before anything is sent. */
  private async requireDane(host: string, port: number): Promise<SessionDane> {
    const d = await this.lookupDaneFor(host, port);
    const refusal = this.daneRefusal(d);
    if (refusal) throw new StepFailure('tls', refusal, this.plan.tls.line ?? this.currentLine);
    return d;
  }

  private async readGreeting(): Promise<Reply> {
    const greetStart = this.io.now();
    // RFC 5321 §3.1: the client waits for the greeting; a QUIT written before it may be refused as a synchronisation error.
    this.quitUnsafe = 'before the greeting';
    const greeting = await this.wire!.read(this.timeouts.greeting, 'greeting');
    this.quitUnsafe = undefined;
    this.result.timings.greetingMs = Math.round((this.io.now() - greetStart) * 1000) / 1000;
    return greeting;
  }

  private tlsOptions(host: string): Promise<tls.ConnectionOptions> {
    return this.buildTlsOptions(host);
  }

  private async buildTlsOptions(host: string): Promise<tls.ConnectionOptions> {
    const t = this.plan.tls;
    // With usable TLSA, SNI carries the TLSA base domain (RFC 7672 §8.1): the CNAME target's name.
    const name = t.sni ?? (this.dane?.applies === 'usable' && this.dane.lookup ? this.dane.lookup.tlsaBase : host);
    const o: tls.ConnectionOptions = {
      // Verification is done below from `authorized`, so the certificate can be reported even when it fails.
      rejectUnauthorized: false,
      host: name,
      minVersion: t.minVersion,
    };
    // RFC 6066 §3: SNI carries host names only, never address literals.
    if (net.isIP(name) === 0) o.servername = name;
    if (t.ca) o.ca = await this.readFile(t.ca);
    if (t.cert) o.cert = await this.readFile(t.cert);
    if (t.key) o.key = await this.readFile(t.key);
    return o;
  }

  /** Records the TLS details and enforces verification unless `TLS verify=off`. */
  private afterHandshake(socket: tls.TLSSocket, mode: 'implicit' | 'starttls', host: string): void {
    const cert = socket.getPeerCertificate(false);
    const cipher = socket.getCipher();
    const verifyDisabled = !this.plan.tls.verify;
    const details: TlsDetails = {
      protocol: socket.getProtocol(),
      cipher: cipher?.standardName ?? cipher?.name ?? 'unknown',
      mode,
      servername: this.plan.tls.sni ?? host,
      verified: socket.authorized,
      verifyDisabled,
    };
    if (cert && Object.keys(cert).length > 0) {
      details.subject = certName(cert.subject);
      details.issuer = certName(cert.issuer);
      details.subjectAltNames = cert.subjectaltname ? cert.subjectaltname.split(/,\s*/) : [];
      details.validFrom = cert.valid_from;
      details.validTo = cert.valid_to;
      details.fingerprint256 = cert.fingerprint256;
    }
    if (!socket.authorized) details.verifyError = String(socket.authorizationError ?? 'unknown');
    // Node reports a name error only after the chain was trusted. Some releases (22.23 seen) then
    // compare an IPv6 literal with the certificate's addresses without normalising the certificate's
    // full form (0:0:0:0:0:0:0:1), so `::1` fails against a certificate that names it; addresses are
    // compared as octets (RFC 6125 §6.2.1, RFC 5280 §4.2.1.6), which `ipNamedByCertificate` does.
    if (!socket.authorized && details.verifyError === 'ERR_TLS_CERT_ALTNAME_INVALID' && ipNamedByCertificate(details.servername, details.subjectAltNames)) {
      details.verified = true;
      delete details.verifyError;
    }
    this.tlsDetails = details;
    this.emit('tls', `TLS started (${mode === 'implicit' ? 'implicit, RFC 8314' : 'STARTTLS, RFC 3207'}): ${details.protocol} ${details.cipher}`);
    if (details.subject) this.emit('tls', `peer certificate: subject ${details.subject}; issuer ${details.issuer}`);
    if (details.subjectAltNames) this.emit('tls', `names: ${details.subjectAltNames.join(', ') || '(none)'}; valid ${details.validFrom} to ${details.validTo}`);
    const d = this.plan.tls.dane ? this.dane : undefined;
    if (d) {
      details.dane = { tlsaName: d.lookup?.tlsaName, applies: d.applies, reason: d.reason };
      // Usable TLSA replaces PKIX (RFC 7672 §3): DANE-EE checks no name and no expiry, DANE-TA the names.
      const v = daneTools().verifySessionDane(d, socket, Date.now());
      if (v) {
        Object.assign(details.dane, { authenticated: v.authenticated, summary: v.summary, ...(v.matched ? { matched: v.matched.text } : {}) });
        this.emit('tls', `DANE: ${v.summary}`);
        if (v.authenticated) {
          details.verified = true;
          delete details.verifyError;
          this.emit('tls', `certificate verified by DANE for ${d.lookup?.tlsaBase ?? host} (PKIX not consulted, RFC 7672 §3)`);
          return;
        }
        details.verified = false;
        details.verifyError = `DANE: ${v.summary}`;
        if (verifyDisabled) {
          this.emit('tls', `DANE verification failed; continuing because verify=off`);
          return;
        }
        const records = v.outcomes.map((o) => `TLSA ${o.text}${o.unusable ? ` (${o.unusable})` : ''}`).join('; ');
        throw new StepFailure('tls', `DANE verification failed for ${d.lookup?.tlsaBase ?? host}: ${v.summary} Records at ${d.lookup?.tlsaName}: ${records}`, this.currentLine);
      }
      if (d.applies === 'unusable') {
        // RFC 7672 §2.2: secure TLSA records none of which is usable still make TLS mandatory, but
        // the server is not authenticated, by DANE or by PKIX (posttls-finger: "all TLSA records
        // unusable, fallback to unauthenticated TLS"). The session reached TLS, so it goes on.
        details.dane.authenticated = false;
        this.emit('tls', `DANE: ${d.reason}; TLS is required and the server is not authenticated (RFC 7672 §2.2)`);
        return;
      }
      this.emit('tls', `DANE not used (${d.reason}); verifying with PKIX`);
    }
    if (details.verified) this.emit('tls', `certificate verified for ${details.servername}`);
    else if (verifyDisabled) this.emit('tls', `certificate NOT verified (${details.verifyError}); continuing because verify=off`);
    else {
      throw new StepFailure('tls', `certificate verification failed for ${details.servername}: ${describeVerifyError(details.verifyError, details)}`, this.currentLine);
    }
  }

  private async connectHost(host: string, port: number, implicitTls: boolean, scheme: string): Promise<void> {
    this.host = host;
    const started = this.io.now();
    // Only an IPv6 literal holds a colon; this avoids compiling Node's IPv6 pattern on the first run.
    const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.emit('info', `connecting to ${where}${implicitTls ? ' (implicit TLS)' : ''}`);
    // Commands are small writes that wait for replies; Nagle's algorithm would only delay them.
    // A session that stays in cleartext reads through one reused buffer (see ReadTap); a socket
    // that TLS will take over reads through the stream, as TLS expects.
    const tap = implicitTls || this.plan.steps.some((s) => s.kind === 'starttls') ? undefined : new ReadTap();
    const plain = this.io.connect(tap ? { host, port, noDelay: true, onread: tap.onread } : { host, port, noDelay: true });
    this.connecting = plain;
    await this.guard(waitConnect(plain, this.timeouts.connect, where));
    let socket: net.Socket = plain;
    if (implicitTls) {
      const opts = await this.tlsOptions(host);
      const secure = this.io.tlsConnect({ ...opts, socket: plain });
      this.connecting = secure;
      await this.guard(waitSecure(secure, this.timeouts.tls));
      socket = secure;
    }
    this.connecting = undefined;
    this.result.timings.connectMs = Math.round((this.io.now() - started) * 1000) / 1000;
    this.result.target = { scheme, host, address: plain.remoteAddress, port, lmtp: this.lmtp, localAddress: plain.localAddress };
    this.localEnd = { address: plain.localAddress, port: plain.localPort, serverPort: port };
    this.emit('info', `connected to ${plain.remoteAddress ?? host} port ${port} in ${this.result.timings.connectMs.toFixed(1)} ms`);
    this.wire = this.makeWire(socket, tap);
    if (implicitTls) {
      this.wire.tlsActive = true;
      this.afterHandshake(socket as tls.TLSSocket, 'implicit', host);
    }
  }

  /** The notes the server under test has about this connection's latest exchange (`RunOptions.serverNotes`). */
  private serverNotes(): readonly string[] {
    const ask = this.options.serverNotes;
    if (!ask || !this.localEnd) return [];
    return ask(this.localEnd);
  }

  private makeWire(socket: net.Socket, tap?: ReadTap): Wire {
    return new Wire(socket, {
      onReply: (reply) => {
        // Taken even when nothing is recorded, so notes of a repeat never show beside a later reply.
        const notes = this.serverNotes();
        if (!this.keep && !this.onEvent) return;
        if (!this.recording) return;
        for (let i = 0; i < reply.lines.length; i++) {
          const line = reply.lines[i];
          this.emit('server', line, i === reply.lines.length - 1 ? reply.bytes - sumBefore(reply.lines, i) : Buffer.byteLength(line) + 2);
        }
        if (this.heldNotes) this.heldNotes.push(...notes);
        else for (const note of notes) this.emit('info', note);
      },
      onFailure: (error) => {
        // A rule that closed the connection without a reply says so before the failure.
        const notes = [...(this.heldNotes ?? []), ...this.serverNotes()];
        if (this.heldNotes) this.heldNotes = [];
        if (this.recording && (this.keep || this.onEvent)) for (const note of notes) this.emit('info', note);
        if (this.quitDone && error.kind === 'connection') return;
        this.emit('error', error.message);
      },
    }, tap);
  }

  /** Connects to the MX hosts of a domain in order (RFC 5321 §5.1), moving on when one cannot be reached. */
  private async connectMx(domain: string, port: number): Promise<void> {
    const mx: MxDetails = { domain, candidates: [], attempts: [] };
    this.result.mx = mx;
    this.emit('info', `looking up the MX records of ${domain}`);
    // With TLS dane=, the MX RRset's DNSSEC status decides whether TLSA counts (RFC 7672 §2.2.1).
    this.daneDns ??= this.plan.tls.dane ? daneTools().daneQuery(this.options, this.io.resolver) : undefined;
    const daneDns = this.daneDns && !('error' in this.daneDns) ? this.daneDns : undefined;
    const statusPromise = daneDns ? daneTools().mxDaneStatus(daneDns.query, domain, this.timeouts.connect) : Promise.resolve(undefined);
    const lookup = await this.guard(lookupMx(this.io.resolver, domain, this.io.random)).catch(async (e: unknown) => {
      // A validating resolver answers a DNSSEC-bogus MX RRset with SERVFAIL; the DNSSEC lookup says why.
      const status = await this.guard(statusPromise);
      if (status?.status === 'bogus' && e instanceof Error && !(e instanceof StepFailure)) throw new StepFailure('dns', `${e.message}: ${status.reason}, so no MX host is used (RFC 7672 §2.1.1)`, this.currentLine);
      throw e;
    });
    const mxStatus = await this.guard(statusPromise);
    if (mxStatus) this.emit('tls', `DANE (${this.plan.tls.dane}): ${mxStatus.reason} (via ${daneDns!.server})`);
    if (mxStatus?.status === 'bogus') throw new StepFailure('tls', `DANE: ${mxStatus.reason}; no MX host is used (RFC 7672 §2.1.1)`, this.plan.tls.line ?? this.currentLine);
    // Without a DNSSEC answer for the MX RRset nothing tells whether DANE applies: no host is used.
    if (mxStatus?.status === 'indeterminate') throw new StepFailure('tls', `DANE: ${mxStatus.reason}; no MX host is used (RFC 7672 §2.1.1)`, this.plan.tls.line ?? this.currentLine);
    const daneNotApplicable = mxStatus?.status === 'insecure' ? mxStatus.reason : undefined;
    if (lookup.kind === 'null') {
      mx.nullMx = true;
      throw new StepFailure('dns', `${domain} accepts no mail: it publishes a null MX (RFC 7505)`, this.currentLine);
    }
    mx.candidates = lookup.candidates;
    if (lookup.candidates[0].implicit) this.emit('info', `${domain} has no MX records; using its own address records (implicit MX, RFC 5321 §5.1)`);
    else this.emit('info', `MX hosts in order: ${lookup.candidates.map((c) => `${c.host} (${c.preference})`).join(', ')}`);
    const errors: string[] = [];
    let daneRefused = 0;
    for (const candidate of lookup.candidates) {
      const { addresses, error } = await this.guard(hostAddresses(this.io.resolver, candidate.host));
      if (addresses.length === 0) {
        const why = error ? `its address lookup failed (${error})` : 'it has no A or AAAA records';
        this.emit('info', `skipping ${candidate.host}: ${why}`);
        mx.attempts.push({ host: candidate.host, address: '', port, error: why });
        errors.push(`${candidate.host}: ${why}`);
        continue;
      }
      if (this.plan.tls.dane) {
        // RFC 7672 §2.2: TLSA for each MX host at _25._tcp, the SMTP port MX delivery uses.
        const d = await this.lookupDaneFor(candidate.host, 25, daneNotApplicable);
        const refusal = this.daneRefusal(d);
        if (refusal) {
          this.emit('info', `skipping ${candidate.host}: ${refusal}`);
          mx.attempts.push({ host: candidate.host, address: '', port, error: refusal });
          errors.push(`${candidate.host}: ${refusal}`);
          daneRefused++;
          continue;
        }
        this.dane = d;
      }
      for (const address of addresses) {
        try {
          await this.connectHost(address, port, false, 'smtp');
          const greeting = await this.readGreeting();
          if (Math.floor(greeting.code / 100) === 4) {
            // RFC 5321 §4.5.4.1 and §5.1: a temporary refusal sends the mail to the next MX host.
            await this.politeQuit('sending QUIT after the temporary refusal').catch(() => undefined);
            this.wire?.destroy();
            this.wire = undefined;
            this.quitDone = false;
            throw new EngineError('connection', `it refused the session for now: ${greeting.lines.join(' / ')}`);
          }
          this.greeting = greeting;
          this.host = candidate.host;
          mx.attempts.push({ host: candidate.host, address, port });
          mx.chosen = { host: candidate.host, address, port };
          this.emit('info', `using MX ${candidate.host} (preference ${candidate.preference}) at ${address}`);
          return;
        } catch (e) {
          if (this.cancelled) throw e;
          const why = e instanceof Error ? e.message : String(e);
          mx.attempts.push({ host: candidate.host, address, port, error: why });
          errors.push(`${candidate.host} (${address}): ${why}`);
          this.emit('info', `${candidate.host} (${address}) cannot be reached: ${why}; trying the next host`);
        }
      }
    }
    const dnsOnly = mx.attempts.every((a) => a.address === '');
    if (daneRefused > 0 && daneRefused === lookup.candidates.length) throw new StepFailure('tls', `no MX host of ${domain} may be used under TLS dane=${this.plan.tls.dane}: ${errors.join('; ')}`, this.plan.tls.line ?? this.currentLine);
    throw new StepFailure(dnsOnly ? 'dns' : 'connection', `no MX host of ${domain} could be reached: ${errors.join('; ')}`, this.currentLine);
  }

  // ---- Steps ---------------------------------------------------------------------------------

  private async runSteps(): Promise<void> {
    const steps = this.plan.steps;
    const repeat = Math.max(1, Math.floor(this.options.repeat ?? 1));
    let first = -1;
    let last = -1;
    if (repeat > 1) {
      first = steps.findIndex((s) => s.kind === 'command' && (s.verb.toUpperCase() === 'MAIL' || s.verb.toUpperCase() === 'RSET'));
      for (let i = steps.length - 1; i >= 0; i--) {
        if (steps[i].kind === 'data' || steps[i].kind === 'bdat') {
          last = i;
          break;
        }
      }
      if (first < 0 || last < first) {
        this.emit('info', 'repeat ignored: the session has no mail transaction (MAIL … DATA/BDAT)');
        first = -1;
      }
    }
    if (first < 0) {
      await this.runRange(0, steps.length, true);
      return;
    }
    await this.runRange(0, first, true);
    const started = this.io.now();
    const okBefore = this.transactionsOk;
    let iterations = 0;
    // When the whole transaction is one RFC 2920 group ending in DATA, each body is sent in the same
    // write as the next transaction's commands (RFC 2920 §3.1), so a transaction costs one round trip.
    const oneGroup = steps[last].kind === 'data' && this.pipelineGroup(first, last + 1) === last + 1 - first;
    let carry: Carry | undefined;
    const group = oneGroup ? steps.slice(first, last + 1) : [];
    try {
      for (let n = 0; n < repeat; n++) {
        iterations++;
        if (n === 1 && this.keep) {
          this.emit('info', `repeating the mail transaction ${repeat - 1} more times; their transcript is omitted`);
          this.recording = false;
        }
        if (oneGroup) carry = await this.runPipelined(group, n === 0, carry, true);
        else await this.runRange(first, last + 1, n === 0);
      }
      if (carry) {
        const c = carry;
        carry = undefined;
        await this.flushCarry(c);
      }
    } finally {
      this.recording = true;
      const delivered = this.transactionsOk - okBefore;
      const elapsedMs = this.io.now() - started;
      this.result.repeat = {
        transactions: iterations,
        delivered,
        elapsedMs: Math.round(elapsedMs * 1000) / 1000,
        perSecond: elapsedMs > 0 ? Math.round((delivered * 1000 * 1000) / elapsedMs) / 1000 : 0,
      };
      this.emit('info', `${delivered} of ${repeat} transactions accepted in ${formatMs(Math.round(elapsedMs))} (${this.result.repeat.perSecond} per second)`);
    }
    await this.runRange(last + 1, steps.length, true);
  }

  /** Runs steps[from, to); `record` keeps each step's result (later repeats keep only failures). */
  private async runRange(from: number, to: number, record: boolean): Promise<void> {
    const steps = this.plan.steps;
    for (let i = from; i < to; ) {
      if (this.cancelled) throw new EngineError('cancelled', 'the run was cancelled');
      const group = this.pipelineGroup(i, to);
      if (group > 1) {
        await this.runPipelined(steps.slice(i, i + group), record);
        i += group;
      } else {
        await this.runStep(steps[i], record);
        i++;
      }
    }
  }

  /** The size of the RFC 2920 group starting at `i` (1 when pipelining does not apply). */
  private pipelineGroup(i: number, to: number): number {
    if (!this.plan.options.pipelining || this.stateUnknown || !this.caps?.keywords.has('PIPELINING')) return 1;
    const steps = this.plan.steps;
    let n = 0;
    while (i + n < to) {
      const s = steps[i + n];
      if (s.kind === 'command' && PIPELINABLE.has(s.verb.toUpperCase())) {
        n++;
        continue;
      }
      // RFC 2920 §3.1: DATA (and BDAT, RFC 3030 §4.2) may end a group.
      if (s.kind === 'data' || s.kind === 'bdat') n++;
      break;
    }
    return n;
  }

  private record(result: StepResult, record: boolean): void {
    if (record || !result.ok) this.steps.push(result);
  }

  private fail(step: PlanStep, result: StepResult, record: boolean, kind: FailureKind = 'expectation'): never {
    this.record(result, true);
    void record;
    throw new StepFailure(kind, `line ${step.line + 1}: ${result.command}: ${result.message}`, step.line);
  }

  /** Not `async`: the step's own promise is returned as it is, which saves a promise per step of every repeat. */
  private runStep(step: PlanStep, record: boolean): Promise<void> {
    this.currentLine = step.line;
    this.checkUnsolicited(step);
    switch (step.kind) {
      case 'command':
        return this.runCommand(step, record);
      case 'starttls':
        return this.runStartTls(step, record);
      case 'auth':
        return this.runAuth(step, record);
      case 'data':
        return this.runData(step, record);
      case 'bdat':
        return this.runBdat(step, record);
      case 'raw':
        return this.runRaw(step, record);
    }
  }

  /** The timeout of each verb's reply, made once per verb (every command of every repeat asks). */
  private readonly replyTimeouts = new Map<string, { ms: number; what: string }>();

  private commandTimeout(verb: string): { ms: number; what: string } {
    let t = this.replyTimeouts.get(verb);
    if (t === undefined) {
      t = this.replyTimeoutOf(verb);
      this.replyTimeouts.set(verb, t);
    }
    return t;
  }

  private replyTimeoutOf(verb: string): { ms: number; what: string } {
    switch (verb) {
      case 'DATA':
        return { ms: this.timeouts.dataInit, what: 'reply to DATA' };
      case 'MAIL':
        return { ms: this.timeouts.mail, what: 'reply to MAIL' };
      case 'RCPT':
        return { ms: this.timeouts.rcpt, what: 'reply to RCPT' };
      default:
        return { ms: this.timeouts.command, what: `reply to ${verb}` };
    }
  }

  private readonly verbs = new Map<CommandStep, string>();

  /** The upper-cased verb of a command step, computed once per step (repeats run the same steps). */
  private verbOf(step: CommandStep): string {
    let verb = this.verbs.get(step);
    if (verb === undefined) {
      verb = step.verb.toUpperCase();
      this.verbs.set(step, verb);
    }
    return verb;
  }

  private readonly wireLines = new Map<CommandStep, string>();

  /** The wire text of a command step, checked and made once per step (repeats send the same steps). */
  private wireLine(step: CommandStep): string {
    let line = this.wireLines.get(step);
    if (line === undefined) {
      line = this.commandLine(step, step.template);
      this.wireLines.set(step, line);
    }
    return line;
  }

  /** The wire bytes of a command line; a CR or LF inside would smuggle a second command, so it is refused. */
  private commandLine(step: { line: number; source: string }, text: string): string {
    if (text.includes('\r') || text.includes('\n')) {
      throw new StepFailure('script', `line ${step.line + 1}: a command cannot contain CR or LF (use RAW to send such bytes)`, step.line);
    }
    return `${text}\r\n`;
  }

  private sendLine(wireText: string, shown: string): void {
    if (this.recording && (this.keep || this.onEvent)) this.emit('client', shown, Buffer.byteLength(wireText));
    this.wire!.send(wireText);
  }

  /** Updates the session state after a command's reply (capabilities, transaction, QUIT). */
  private afterCommand(verb: string, reply: Reply): void {
    const ok = reply.code >= 200 && reply.code < 300;
    if ((verb === 'EHLO' || verb === 'LHLO') && ok) {
      this.caps = parseCapabilities(reply);
      if (this.recording) {
        const k = [...this.caps.keywords.keys()];
        this.emit('info', `capabilities: ${k.join(', ') || '(none)'}`);
      }
    } else if (verb === 'HELO' && ok) {
      this.caps = { keywords: new Map(), authMechanisms: [] };
    } else if (verb === 'MAIL' || verb === 'RSET') {
      this.accepted = 0;
    } else if (verb === 'RCPT' && ok) {
      this.accepted++;
    }
  }

  /**
   * The expectation a command's reply is checked against: 354 for DATA (the plan's implicit 3xx
   * would let a 334 pass), the plan's implicit class for the rest, with what an `EXPECT` says
   * (see `required`).
   */
  private implicitFor(verb: string, expect: Expectation): Expectation {
    return verb === 'DATA' ? required(expect, 354) : required(expect);
  }

  private stepResult(step: PlanStep, command: string, reply: Reply | undefined, started: number, expectation: Expectation | undefined, record = true): StepResult {
    // A later repeat keeps a step only when it fails (see `record`): a reply that meets the
    // expectation needs no masked command or description, which would be thrown away.
    if (!record && reply && expectation && checkExpectation(expectation, reply) === undefined) {
      return { line: step.line, command, ok: true, durationMs: 0 };
    }
    const result: StepResult = {
      line: step.line,
      command: this.masker.mask(command),
      ok: true,
      durationMs: Math.round((this.io.now() - started) * 1000) / 1000,
    };
    if (reply) result.reply = info(reply);
    if (expectation) {
      result.expected = expectation.implicit ? `${describeExpectation(expectation)} (implicit)` : expectation.source;
      if (reply) {
        const why = checkExpectation(expectation, reply);
        if (why) {
          result.ok = false;
          result.message = this.masker.mask(`${why}: ${reply.lines.join(' / ')}`, 'note');
        }
      }
    }
    return result;
  }

  private async runCommand(step: CommandStep, record: boolean): Promise<void> {
    const started = this.io.now();
    const verb = this.verbOf(step);
    const wireText = this.wireLine(step);
    this.sendLine(wireText, step.template);
    if (verb === 'QUIT') {
      this.quitDone = true;
      // Exim answers QUIT at once when the client half-closes after sending it.
      this.wire!.end();
    }
    if (verb === 'BDAT') {
      // RFC 3030 §2: the server answers BDAT only after the chunk's octets, which the RAW lines that
      // follow send; their EXPECT lines read the reply, so nothing is read here.
      this.stateUnknown = true;
      this.record({ line: step.line, command: this.masker.mask(step.template), ok: true, message: 'the reply is read by the RAW lines that send the chunk', durationMs: 0 }, record);
      return;
    }
    const t = this.commandTimeout(verb);
    if (verb === 'DATA') this.quitUnsafe = 'DATA';
    const reply = await this.wire!.read(t.ms, t.what);
    this.quitUnsafe = undefined;
    this.afterCommand(verb, reply);
    if (record && this.options.onMessage) this.noteEnvelope(verb, step.template, reply.code >= 200 && reply.code < 300);
    // After 354 the connection is in the data phase (RAW lines send the message), where QUIT would be message text.
    if (verb === 'DATA' && reply.code === 354) this.inData = true;
    const result = this.stepResult(step, step.template, reply, started, this.implicitFor(verb, step.expect), record);
    if (!result.ok) this.fail(step, result, record);
    this.record(result, record);
  }

  /**
   * Outside RAW, a reply can only answer a command (RFC 5321 §4.2); one that is waiting before the
   * next command was sent answers nothing, and every later reply would be matched to the wrong command.
   */
  private checkUnsolicited(step: PlanStep): void {
    if (this.stateUnknown || !this.wire) return;
    const extra = this.wire.peekUnread();
    if (extra) throw unsolicited(extra, step.line, `line ${step.line + 1}`);
  }

  /**
   * The commands of an RFC 2920 group as one wire text (ending in DATA when the group does), made
   * once per group: every repeat of a pipelined transaction sends the same text. A CR or LF inside
   * a command is refused when it is first made, before anything of the group is written.
   */
  private readonly groupTexts = new WeakMap<PlanStep, { last: PlanStep; text: string }>();
  /** For each group (by its first step): the last carried body and that body followed by the group, in one buffer. */
  private readonly carriedGroups = new WeakMap<PlanStep, { last: PlanStep; body: Buffer; bytes: Buffer }>();

  private groupText(group: PlanStep[]): string {
    const last = group[group.length - 1];
    const kept = this.groupTexts.get(group[0]);
    if (kept && kept.last === last) return kept.text;
    const parts: string[] = [];
    for (const s of group) if (s.kind === 'command') parts.push(this.wireLine(s));
    if (last.kind === 'data') parts.push('DATA\r\n');
    const text = parts.join('');
    this.groupTexts.set(group[0], { last, text });
    return text;
  }

  /**
   * Sends an RFC 2920 group in one write and matches the replies in order. With `carry`, the body
   * of the previous transaction goes first in the same write (RFC 2920 §3.1 lets message content
   * open a group), and its final reply is read before the group's. With `deferBody`, a group that
   * ends in an accepted DATA returns its body as the next carry instead of sending it.
   */
  private async runPipelined(group: PlanStep[], record: boolean, carry?: Carry, deferBody = false): Promise<Carry | undefined> {
    // The server decides every command of the group before the client reads the first reply, so
    // the notes of the group (each names its command) are shown after the group's replies.
    const outer = this.heldNotes;
    this.heldNotes = [];
    try {
      return await this.runPipelinedGroup(group, record, carry, deferBody);
    } finally {
      const held = this.heldNotes;
      this.heldNotes = outer;
      for (const note of held) this.emit('info', note);
    }
  }

  private async runPipelinedGroup(group: PlanStep[], record: boolean, carry: Carry | undefined, deferBody: boolean): Promise<Carry | undefined> {
    const started = this.io.now();
    this.currentLine = group[0].line;
    if (!carry) this.checkUnsolicited(group[0]);
    const last = group[group.length - 1];
    const text = this.groupText(group);
    if (this.recording && (this.keep || this.onEvent)) {
      for (const s of group) if (s.kind === 'command') this.emit('client', s.template, Buffer.byteLength(s.template) + 2);
      if (last.kind === 'data') this.emit('client', 'DATA', 6);
    }
    let bdatChunks: Buffer[] | undefined;
    let payload: Buffer | string = text;
    if (last.kind === 'bdat') {
      const message = await this.bdatMessage(last);
      const cut = this.bdatFrames(last, message);
      bdatChunks = cut.frames;
      for (let i = 0; i < cut.chunks; i++) cut.announce(i);
      payload = Buffer.concat([Buffer.from(payload, 'utf8'), ...bdatChunks]);
    }
    this.emit('info', `pipelining ${group.length} commands in one write (RFC 2920)`);
    // Until the reply to a pipelined DATA is known, a QUIT could become the first line of the message.
    if (last.kind === 'data') this.quitUnsafe = 'DATA';
    if (carry) {
      this.inData = true;
      await this.wire!.write(this.carriedWithGroup(group, carry.body, payload), this.timeouts.dataBlock, 'message data');
      this.inData = false;
      await this.finishCarry(carry);
    } else await this.wire!.write(payload);
    let failed: { step: PlanStep; result: StepResult } | undefined;
    for (const s of group) {
      if (s.kind !== 'command') continue;
      this.currentLine = s.line;
      const verb = this.verbOf(s);
      const t = this.commandTimeout(verb);
      const reply = await this.wire!.read(t.ms, t.what);
      this.afterCommand(verb, reply);
      if (record && this.options.onMessage) this.noteEnvelope(verb, s.template, reply.code >= 200 && reply.code < 300);
      const result = this.stepResult(s, s.template, reply, started, this.implicitFor(verb, s.expect), record);
      if (!result.ok && !failed) failed = { step: s, result };
      else this.record(result, record);
    }
    if (last.kind === 'data') {
      this.currentLine = last.line;
      const reply = await this.wire!.read(this.timeouts.dataInit, 'reply to DATA');
      this.quitUnsafe = undefined;
      if (failed) {
        if (reply.code === 354) await this.leaveFailedData();
        this.fail(failed.step, failed.result, record);
      }
      if (deferBody && reply.code === 354) {
        const intermediate = this.stepResult(last, 'DATA', reply, started, last.intermediate, record);
        if (intermediate.ok) {
          // The server is in the data phase until the carried body ends it.
          this.inData = true;
          return { step: last, body: await this.dataBody(last), reply, started, record, envelope: this.envelope };
        }
      }
      await this.finishData(last, reply, started, record);
      return undefined;
    }
    if (last.kind === 'bdat' && bdatChunks) {
      this.currentLine = last.line;
      if (failed) {
        // The chunks were already sent; read their replies so the failure report is complete.
        for (let i = 0; i < bdatChunks.length; i++) await this.wire!.read(this.timeouts.dataTermination, 'reply to BDAT');
        this.fail(failed.step, failed.result, record);
      }
      await this.readBdatReplies(last, bdatChunks.length, started, record);
      return undefined;
    }
    if (failed) this.fail(failed.step, failed.result, record);
    return undefined;
  }

  /**
   * Leaves the data phase that a server opened (354) for a pipelined transaction that has already
   * failed, without delivering anything. RFC 5321 §3.3 and §4.1.1.4: only the end-of-data
   * indication confirms the transaction and tells the server to process the stored recipients, so
   * a transaction whose data never ends is not completed. When the server accepted a recipient, a
   * lone "." would deliver an empty message to it; the connection is closed instead, and the
   * transcript says so. RFC 2920 §3.1 has the client send a single dot when DATA was accepted in
   * spite of failed commands; that is done only when no recipient was accepted, where the server
   * has no one to deliver to, and the dot is shown like every line the engine sends.
   */
  private async leaveFailedData(): Promise<void> {
    this.inData = true;
    if (this.accepted > 0) {
      const was = this.recording;
      this.recording = true;
      this.emit(
        'info',
        `the server opened the data phase (354) for a failed transaction with ${this.accepted} accepted recipient${this.accepted === 1 ? '' : 's'}; closing the connection without the end-of-data dot, so the transaction is not completed and nothing is delivered (RFC 5321 §4.1.1.4)`,
      );
      this.recording = was;
      this.wire!.destroy();
      return;
    }
    try {
      this.sendLine('.\r\n', '.');
      this.inData = false;
      await this.wire!.read(this.timeouts.dataTermination, 'reply to the end of data');
    } catch {
      // The failure reported after this is the one that matters; no QUIT follows an unknown state.
      this.inData = true;
    }
  }

  /** Sends nothing; reads and checks the final reply(ies) of a body that was written as a carry. */
  private async finishCarry(carry: Carry): Promise<void> {
    this.currentLine = carry.step.line;
    if (carry.record && (this.keep || this.onEvent)) {
      const was = this.recording;
      this.recording = true;
      this.emit('client', bodyText(carry.body, true), carry.body.length);
      this.recording = was;
    }
    const replies = await this.readFinalReplies('end of data', this.timeouts.dataTermination);
    if (carry.record && this.options.onMessage) await this.reportSent(carry.step, replies, undefined, carry.envelope);
    this.finishTransaction(carry.step, 'DATA', replies, [carry.reply], carry.started, carry.record);
  }

  /**
   * A carried body followed by the group's commands, in one buffer. Every repeat carries the same
   * body before the same group, so the buffer is kept and made again only when the body changes.
   */
  private carriedWithGroup(group: PlanStep[], body: Buffer, payload: Buffer | string): Buffer {
    const last = group[group.length - 1];
    const kept = this.carriedGroups.get(group[0]);
    if (kept && kept.body === body && kept.last === last && typeof payload === 'string') return kept.bytes;
    const bytes = Buffer.concat([body, typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload]);
    if (typeof payload === 'string') this.carriedGroups.set(group[0], { last, body, bytes });
    return bytes;
  }

  /** Sends a carried body on its own and checks its final reply. */
  private async flushCarry(carry: Carry): Promise<void> {
    this.inData = true;
    await this.wire!.write(carry.body, this.timeouts.dataBlock, 'message data');
    this.inData = false;
    await this.finishCarry(carry);
  }

  private async runStartTls(step: Extract<PlanStep, { kind: 'starttls' }>, record: boolean): Promise<void> {
    const started = this.io.now();
    this.sendLine('STARTTLS\r\n', 'STARTTLS');
    // Until the reply is known, a QUIT could land where the server expects a TLS ClientHello.
    this.quitUnsafe = 'STARTTLS';
    const reply = await this.wire!.read(this.timeouts.command, 'reply to STARTTLS');
    if (reply.code !== 220) this.quitUnsafe = undefined;
    // RFC 3207 §4: only 220 starts TLS. Without an EXPECT, any other reply (a 250 included) fails the
    // step, so a session never goes on in cleartext believing it is encrypted.
    const result = this.stepResult(step, 'STARTTLS', reply, started, required(step.expect, 220));
    if (!result.ok) this.fail(step, result, record);
    if (reply.code !== 220) this.emit('info', `TLS was not started (the reply was ${reply.code}, not 220); the session goes on in cleartext because an EXPECT allows it`);
    if (reply.code === 220) {
      if (this.wire!.unread > 0 || this.wire!.midReply) {
        // RFC 3207 §5 and CVE-2011-0411: bytes after the 220 and before the handshake would be read as if they came over TLS.
        result.ok = false;
        result.message = 'the server sent more data after its 220 reply to STARTTLS, before TLS started (a response injection); refusing to continue';
        this.fail(step, result, record, 'protocol');
      }
      const wire = this.wire!;
      const opts = await this.tlsOptions(this.host);
      const secure = await this.guard(wire.startTls((socket) => this.io.tlsConnect({ ...opts, socket }), this.timeouts.tls));
      this.quitUnsafe = undefined;
      // A verification failure below ends the session; RFC 3207 §4.1 then wants QUIT over the new TLS channel.
      this.quitOverTls = true;
      // RFC 3207 §4.2: the client must discard what it knew from the server before TLS and send EHLO again.
      this.caps = undefined;
      // The server forgets the greeting too (RFC 3207 §4.2), so a message is reported with the next one.
      this.envelope = {};
      this.afterHandshake(secure, 'starttls', this.host);
      this.quitOverTls = false;
      this.emit('info', 'capabilities from before TLS are forgotten; EHLO again (RFC 3207 §4.2)');
    }
    this.record(result, record);
  }

  private async runAuth(step: AuthStep, record: boolean): Promise<void> {
    const started = this.io.now();
    const mech = step.mechanism;
    if (!this.wire!.tlsActive && !this.plan.options.allowCleartextAuth) {
      // RFC 4954 §4 and RFC 8314 §3: credentials must not cross a cleartext connection unless the script opts in.
      const result: StepResult = {
        line: step.line,
        command: `AUTH ${mech} ${MASK}`,
        ok: false,
        message: 'AUTH on a connection without TLS is refused (STARTTLS first, use smtps://, or add "# @allow-cleartext-auth")',
        durationMs: 0,
      };
      this.fail(step, result, record, 'script');
    }
    if (this.caps && !this.caps.authMechanisms.includes(mech)) {
      this.emit('info', `the server does not advertise AUTH ${mech} (it offers ${this.caps.authMechanisms.join(' ') || 'no AUTH'}); trying anyway`);
    }
    const wire = this.wire!;
    const t = this.timeouts.command;
    const replies: Reply[] = [];
    const send = (line: string, shown: string): void => {
      this.emit('client', shown, Buffer.byteLength(line) + 2);
      wire.send(`${line}\r\n`);
    };
    let reply: Reply;
    /** Set when the server answered 2xx before the credentials were sent (RFC 4954 §4 needs 334 there). */
    let premature: string | undefined;
    const success = (r: Reply): boolean => Math.floor(r.code / 100) === 2;
    // Inside the exchange a QUIT would be read as a base64 response.
    this.quitUnsafe = 'AUTH';
    if (mech === 'PLAIN') {
      // RFC 4954 §4: the initial response rides on the AUTH command.
      const payload = plainPayload(step.user, step.secret);
      this.masker.add(payload);
      send(`AUTH PLAIN ${payload}`, `AUTH PLAIN ${MASK}`);
      reply = await wire.read(t, 'reply to AUTH');
    } else if (mech === 'XOAUTH2') {
      const payload = xoauth2Payload(step.user, step.secret);
      this.masker.add(payload);
      send(`AUTH XOAUTH2 ${payload}`, `AUTH XOAUTH2 ${MASK}`);
      reply = await wire.read(t, 'reply to AUTH');
      if (reply.code === 334) {
        // The server sends an error description as a challenge; an empty response ends the exchange.
        replies.push(reply);
        send('', '');
        reply = await wire.read(t, 'reply to AUTH');
      }
    } else if (mech === 'LOGIN') {
      send('AUTH LOGIN', 'AUTH LOGIN');
      reply = await wire.read(t, 'reply to AUTH');
      if (reply.code === 334) {
        replies.push(reply);
        const user = loginPayload(step.user);
        send(user, MASK);
        reply = await wire.read(t, 'reply to AUTH');
        if (reply.code === 334) {
          replies.push(reply);
          const pass = loginPayload(step.secret);
          this.masker.add(pass);
          send(pass, MASK);
          reply = await wire.read(t, 'reply to AUTH');
        } else if (success(reply)) premature = 'before the password was sent';
      } else if (success(reply)) premature = 'before the user name was sent';
    } else {
      send('AUTH CRAM-MD5', 'AUTH CRAM-MD5');
      reply = await wire.read(t, 'reply to AUTH');
      if (reply.code === 334) {
        replies.push(reply);
        const response = cramMd5Response(step.user, step.secret, reply.text);
        this.masker.add(response);
        send(response, MASK);
        reply = await wire.read(t, 'reply to AUTH');
      } else if (success(reply)) premature = 'before the challenge was answered';
    }
    // Without an EXPECT, only 235 (RFC 4954 §6) means the client is authenticated.
    const result = this.stepResult(step, `AUTH ${mech} ${MASK}`, reply, started, required(step.expect, 235));
    if (premature) {
      // No EXPECT can make this pass: the server claims an authentication it never checked.
      result.ok = false;
      result.message = this.masker.mask(`the server answered ${reply.code} ${premature}; AUTH ${mech} needs 334 to go on (RFC 4954 §4): ${reply.lines.join(' / ')}`, 'note');
    }
    if (reply.code === 334) {
      // The server wants more than the mechanism has to give: cancel the exchange with "*" (RFC 4954 §4).
      send('*', '*');
      const end = await wire.read(t, 'reply to the AUTH cancellation');
      replies.push(end);
    }
    this.quitUnsafe = undefined;
    if (replies.length > 0) result.replies = replies.map(info);
    if (!result.ok) {
      if (reply.code === 535 && keepsStepNeed(step.expect)) result.message = `authentication failed (wrong user name or secret?): ${reply.lines.join(' / ')}`;
      this.fail(step, result, record);
    }
    this.record(result, record);
  }

  private readonly bodyCache = new WeakMap<DataStep, Buffer>();

  /** The wire bytes of a DATA body, made once per step: every repeat sends the same bytes. */
  private async dataBody(step: DataStep): Promise<Buffer> {
    let body = this.bodyCache.get(step);
    if (!body) {
      // RFC 5321 §4.5.2: a file is converted to CRLF and dot-stuffed by the engine.
      body = step.body.kind === 'inline' ? inlineDataBytes(step.body.lines) : canonicalMessage(await this.readFile(step.body.path), true);
      this.bodyCache.set(step, body);
    }
    return body;
  }

  private async runData(step: DataStep, record: boolean): Promise<void> {
    const started = this.io.now();
    // Read the file first, so that a missing file stops the session before DATA is sent.
    const body = this.bodyCache.get(step) ?? (await this.dataBody(step));
    this.sendLine('DATA\r\n', 'DATA');
    // Until the reply is known, a QUIT could become the first line of the message.
    this.quitUnsafe = 'DATA';
    const reply = await this.wire!.read(this.timeouts.dataInit, 'reply to DATA');
    this.quitUnsafe = undefined;
    await this.finishData(step, reply, started, record, body);
  }

  /** Handles the reply to DATA: the refusal, or the body and its final reply(ies). */
  private async finishData(step: DataStep, reply: Reply, started: number, record: boolean, preparedBody?: Buffer): Promise<void> {
    if (reply.code !== 354) {
      // RFC 5321 §4.1.1.4: DATA refused; the body is not sent and the refusal is checked against EXPECT.
      const result = this.stepResult(step, 'DATA', reply, started, required(step.expect));
      const refusal = reply.code >= 400;
      if (!refusal) {
        // RFC 5321 §4.3.2: DATA is answered by 354 or refused with 4xx/5xx. Any other reply (a 250
        // included) delivered nothing, so no EXPECT on the final reply can make the step pass.
        result.ok = false;
        result.expected = '354 (implicit)';
        result.message = this.masker.mask(`DATA needs 354 to send the message, got ${reply.code}; nothing was sent or delivered: ${reply.lines.join(' / ')}`, 'note');
      } else if (!result.ok && keepsStepNeed(step.expect)) {
        result.message = this.masker.mask(`expected 354, got ${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''}; the message was refused and not sent: ${reply.lines.join(' / ')}`, 'note');
      }
      if (!result.ok) this.fail(step, result, record);
      this.record(result, record);
      return;
    }
    // From the 354 on, the server reads message text: a QUIT now would be part of the message.
    this.inData = true;
    const intermediate = this.stepResult(step, 'DATA', reply, started, step.intermediate, record);
    if (!intermediate.ok) {
      this.inData = true;
      this.fail(step, intermediate, record);
    }
    const body = preparedBody ?? (await this.dataBody(step));
    if (this.recording) this.noteMessage(body, true);
    this.inData = true;
    if (this.recording && (this.keep || this.onEvent)) this.emit('client', bodyText(body, true), body.length);
    await this.wire!.write(body, this.timeouts.dataBlock, 'message data');
    this.inData = false;
    const replies = await this.readFinalReplies('end of data', this.timeouts.dataTermination);
    if (record && this.options.onMessage) await this.reportSent(step, replies);
    this.finishTransaction(step, 'DATA', replies, [reply], started, record);
  }

  /** Reports a sent message to `onMessage`, unstuffed, as the server received it, with the envelope it went with. */
  private async reportSent(step: DataStep | BdatStep, finals: Reply[], unstuffed?: Buffer, envelope: Envelope = this.envelope): Promise<void> {
    let message = unstuffed;
    if (!message) {
      if (step.body.kind === 'inline') message = inlineBdatMessage(step.body.lines);
      else message = canonicalMessage(await this.readFile(step.body.path), false);
    }
    this.options.onMessage?.({
      line: step.line,
      message,
      tls: this.wire?.tlsActive === true,
      finalCodes: finals.map((r) => r.code),
      target: this.result.target,
      ...(envelope.helo !== undefined ? { helo: envelope.helo } : {}),
      ...(envelope.mailFrom !== undefined ? { mailFrom: envelope.mailFrom } : {}),
    });
  }

  /**
   * Follows the envelope for `onMessage` after a command the server accepted (`ok`): a greeting
   * (EHLO, HELO, LHLO) sets the name and ends any transaction (RFC 5321 §4.1.4), MAIL sets the
   * reverse-path (§4.1.1.2), RSET ends the transaction (§4.1.1.5). A refused command changes
   * nothing on the server, so nothing here.
   */
  private noteEnvelope(verb: string, command: string, ok: boolean): void {
    if (!ok) return;
    if (verb === 'EHLO' || verb === 'HELO' || verb === 'LHLO') {
      const helo = firstArgument(command);
      this.envelope = helo === undefined ? {} : { helo };
    } else if (verb === 'MAIL') {
      const mailFrom = reversePath(command);
      this.envelope = mailFrom === undefined ? { helo: this.envelope.helo } : { ...this.envelope, mailFrom };
    } else if (verb === 'RSET') {
      this.envelope = this.envelope.helo === undefined ? {} : { helo: this.envelope.helo };
    }
  }

  /**
   * Follows the envelope through RAW bytes, whose replies the engine does not match to commands:
   * each command line up to the first DATA or BDAT counts as accepted (what follows may be message text).
   */
  private noteRawEnvelope(bytes: Buffer): void {
    for (const line of bytes.toString('utf8').split(/\r?\n/)) {
      const verb = /^\S+/.exec(line)?.[0].toUpperCase();
      if (verb === 'DATA' || verb === 'BDAT') return;
      if (verb !== undefined) this.noteEnvelope(verb, line, true);
    }
  }

  /** Notes, without failing, a message over the advertised SIZE (RFC 1870) or 8-bit data the server did not offer 8BITMIME for (RFC 6152). */
  private noteMessage(bytes: Buffer, stuffed: boolean): void {
    const caps = this.caps;
    if (!caps || (!this.keep && !this.onEvent)) return;
    const size = stuffed ? bytes.length - 3 : bytes.length;
    if (caps.size !== undefined && caps.size > 0 && size > caps.size) {
      this.emit('info', `the message is ${size} octets and the server's SIZE limit is ${caps.size} (RFC 1870): expect a 552`);
    }
    if (!caps.keywords.has('8BITMIME') && !caps.keywords.has('SMTPUTF8') && bytes.some((b) => b >= 0x80)) {
      this.emit('info', 'the message holds 8-bit octets but the server offers neither 8BITMIME (RFC 6152) nor SMTPUTF8 (RFC 6531)');
    }
  }

  /** After the end of the data: one reply, or with LMTP one per accepted recipient (RFC 2033 §4.2). */
  private async readFinalReplies(what: string, timeout: number): Promise<Reply[]> {
    const count = this.lmtp ? Math.max(1, this.accepted) : 1;
    const replies: Reply[] = [];
    for (let i = 0; i < count; i++) replies.push(await this.wire!.read(timeout, `reply to the ${what}`));
    this.accepted = 0;
    return replies;
  }

  private finishTransaction(step: PlanStep, command: string, finals: Reply[], earlier: Reply[], started: number, record: boolean): void {
    // The reply to the end of the data ends the transaction, whatever it says (RFC 5321 §4.1.1.4;
    // BDAT LAST, RFC 3030 §2): a later message goes with the MAIL FROM of its own transaction, or
    // with none if a lax server takes it without one, never with this one's. (Its report, above
    // the call, already has this envelope; a pipelined next MAIL is noted only after this.)
    if (this.envelope.mailFrom !== undefined) this.envelope = this.envelope.helo === undefined ? {} : { helo: this.envelope.helo };
    const expectation = step.kind === 'data' || step.kind === 'bdat' ? required(step.expect) : undefined;
    const keep = record || finals.length > 1;
    const result = this.stepResult(step, command, finals[0], started, expectation, keep);
    if (!keep && result.ok) {
      // A later repeat that succeeded: nothing of it is kept.
      this.transactionsOk++;
      return;
    }
    const extra = [...earlier, ...finals.slice(1)];
    if (extra.length > 0) result.replies = extra.map(info);
    if (result.ok && expectation) {
      for (let i = 1; i < finals.length; i++) {
        const why = checkExpectation(expectation, finals[i]);
        if (why) {
          result.ok = false;
          result.message = this.masker.mask(`recipient ${i + 1} of the LMTP transaction: ${why}: ${finals[i].lines.join(' / ')}`, 'note');
          break;
        }
      }
    }
    if (!result.ok) this.fail(step, result, record);
    this.transactionsOk++;
    this.record(result, record);
  }

  private async bdatMessage(step: BdatStep): Promise<Buffer> {
    if (step.body.kind === 'inline') return inlineBdatMessage(step.body.lines);
    return canonicalMessage(await this.readFile(step.body.path), false);
  }

  /**
   * Cuts the message into `BDAT size` frames, the last marked `LAST` (RFC 3030 §2). Each frame's transcript events are emitted by `announce(i)`,
   * called when the frame is written, so a transcript never shows chunks that were not sent.
   */
  private bdatFrames(step: BdatStep, message: Buffer): { frames: Buffer[]; chunks: number; announce: (i: number) => void } {
    const size = step.chunkSize && step.chunkSize > 0 ? step.chunkSize : Math.max(1, message.length);
    const frames: Buffer[] = [];
    const shown: Array<{ head: string; chunk: Buffer }> = [];
    const announce = (i: number): void => {
      const { head, chunk } = shown[i];
      this.emit('client', head, head.length + 2);
      if (chunk.length > 0 && this.recording && (this.keep || this.onEvent)) this.emit('client', bodyText(chunk, false), chunk.length);
    };
    if (message.length === 0) {
      frames.push(Buffer.from('BDAT 0 LAST\r\n'));
      shown.push({ head: 'BDAT 0 LAST', chunk: message });
      return { frames, chunks: 1, announce };
    }
    for (let off = 0; off < message.length; ) {
      let end = Math.min(off + size, message.length);
      // A chunk never ends between the CR and LF of a line ending, so no bare CR precedes the next BDAT on the wire.
      if (end < message.length && message[end - 1] === 13 && message[end] === 10) end++;
      const chunk = message.subarray(off, end);
      off = end;
      const isLast = end >= message.length;
      const head = `BDAT ${chunk.length}${isLast ? ' LAST' : ''}`;
      shown.push({ head, chunk });
      frames.push(Buffer.concat([Buffer.from(`${head}\r\n`), chunk]));
    }
    return { frames, chunks: frames.length, announce };
  }

  private async runBdat(step: BdatStep, record: boolean): Promise<void> {
    const started = this.io.now();
    if (this.caps && !this.caps.keywords.has('CHUNKING')) this.emit('info', 'the server does not advertise CHUNKING (RFC 3030); sending BDAT anyway');
    const message = await this.bdatMessage(step);
    if (this.recording) this.noteMessage(message, false);
    const { frames, chunks, announce } = this.bdatFrames(step, message);
    if (step.chunkSize) this.emit('info', `${message.length} octets in ${chunks} BDAT chunk${chunks === 1 ? '' : 's'} (RFC 3030)`);
    if (this.plan.options.pipelining && this.caps?.keywords.has('PIPELINING')) {
      // RFC 3030 §4.2: BDAT chunks may be pipelined when the server offers PIPELINING; like every
      // other command, they are only with `# @pipelining`, so a script can test chunk by chunk.
      // A chunk is written in blocks; a QUIT between two blocks would become message octets.
      for (let c = 0; c < chunks; c++) announce(c);
      this.inData = true;
      await this.wire!.write(Buffer.concat(frames), this.timeouts.dataBlock, 'message data');
      this.inData = false;
      await this.readBdatReplies(step, chunks, started, record, message);
      return;
    }
    const earlier: Reply[] = [];
    for (let c = 0; c < chunks; c++) {
      const frame = frames[c];
      announce(c);
      this.inData = true;
      await this.wire!.write(frame, this.timeouts.dataBlock, 'message data');
      this.inData = false;
      if (c === chunks - 1) break;
      const reply = await this.wire!.read(this.timeouts.dataBlock, 'reply to BDAT');
      earlier.push(reply);
      if (reply.code !== 250) {
        const result = this.stepResult(step, `BDAT (chunk ${c + 1} of ${chunks})`, reply, started, classExpectation(step.line, 2));
        result.ok = false;
        result.message ??= `chunk ${c + 1} of ${chunks} was refused: ${reply.lines.join(' / ')}`;
        this.fail(step, result, record);
      }
    }
    const finals = await this.readFinalReplies('last BDAT chunk', this.timeouts.dataTermination);
    if (record && this.options.onMessage) await this.reportSent(step, finals, message);
    this.finishTransaction(step, `BDAT (${chunks} chunk${chunks === 1 ? '' : 's'}, ${message.length} octets)`, finals, earlier, started, record);
  }

  private async readBdatReplies(step: BdatStep, chunks: number, started: number, record: boolean, message?: Buffer): Promise<void> {
    const earlier: Reply[] = [];
    for (let c = 0; c < chunks - 1; c++) earlier.push(await this.wire!.read(this.timeouts.dataBlock, 'reply to BDAT'));
    const finals = await this.readFinalReplies('last BDAT chunk', this.timeouts.dataTermination);
    if (record && this.options.onMessage) await this.reportSent(step, finals, message);
    const refused = earlier.findIndex((r) => r.code !== 250);
    if (refused >= 0) {
      const result = this.stepResult(step, 'BDAT', earlier[refused], started, undefined);
      result.ok = false;
      result.message = `chunk ${refused + 1} of ${chunks} was refused: ${earlier[refused].lines.join(' / ')}`;
      result.replies = [...earlier, ...finals].map(info);
      this.fail(step, result, record);
    }
    this.finishTransaction(step, `BDAT (${chunks} chunk${chunks === 1 ? '' : 's'})`, finals, earlier, started, record);
  }

  private async runRaw(step: RawStep, record: boolean): Promise<void> {
    const started = this.io.now();
    const bytes = decodeRawEscapes(step.template);
    this.stateUnknown = true;
    this.emit('client', `[raw] ${escapeBytes(bytes)}`, bytes.length);
    await this.wire!.write(bytes, this.timeouts.dataBlock, 'RAW bytes');
    if (record && this.options.onMessage && !this.inData) this.noteRawEnvelope(bytes);
    if (step.expects.length === 0) {
      this.record({ line: step.line, command: this.masker.mask(step.source), ok: true, durationMs: this.io.now() - started }, record);
      return;
    }
    const replies: Reply[] = [];
    for (const written of step.expects) {
      const expectation = required(written);
      const reply = await this.wire!.read(this.timeouts.command, 'reply after RAW');
      replies.push(reply);
      const why = checkExpectation(expectation, reply);
      if (why) {
        const result = this.stepResult(step, step.source, reply, started, expectation);
        result.replies = replies.map(info);
        result.message = this.masker.mask(`EXPECT on line ${expectation.line + 1}: ${why}: ${reply.lines.join(' / ')}`, 'note');
        this.fail(step, result, record);
      }
    }
    const result = this.stepResult(step, step.source, replies[replies.length - 1], started, undefined);
    result.expected = step.expects.map((e) => e.source).join('; ');
    if (replies.length > 1) result.replies = replies.slice(0, -1).map(info);
    this.record(result, record);
  }

  /**
   * Ends a script that has no QUIT of its own with the verdict its own QUIT would give: a reply
   * that is already waiting answers no command (the check `checkUnsolicited` makes before every
   * step, an explicit QUIT included), and so does a reply that comes before the 221 to the
   * engine's QUIT. Either is a protocol failure. A server that closes or stays silent after the
   * QUIT changes nothing, as in `politeQuit`.
   */
  private async quitAtEnd(): Promise<void> {
    const steps = this.plan.steps;
    const last = steps.length > 0 ? steps[steps.length - 1].line : undefined;
    const where = last === undefined ? 'the end of the script' : `after line ${last + 1}, the end of the script`;
    const waiting = this.wire?.peekUnread();
    if (waiting) throw unsolicited(waiting, last, where);
    const early = await this.politeQuit('the script ended without QUIT; sending QUIT', true);
    if (early) throw unsolicited(early, last, where, ', before the 221 to the QUIT the engine sent');
  }

  /**
   * Sends QUIT and waits briefly for 221; never fails. Skipped when the connection is gone, or when
   * a QUIT would be misread (mid-data, after RAW, during TLS negotiation or an AUTH exchange).
   * Replies still owed to earlier commands (a cancelled RCPT, say) are read and skipped. With
   * `strict` (the end of a script that passed), replies are read up to the 221, and the first one
   * that came before it is returned: it answered no command.
   */
  private async politeQuit(note: string, strict = false): Promise<Reply | undefined> {
    const wire = this.wire;
    if (!wire || wire.failed || wire.closed || this.quitDone || this.inData || this.quitUnsafe !== undefined) return undefined;
    this.quitDone = true;
    if (this.stateUnknown) return undefined;
    wire.resume();
    this.emit('info', note);
    this.emit('client', 'QUIT', 6);
    let early: Reply | undefined;
    try {
      await wire.write('QUIT\r\n');
      wire.end();
      const deadline = this.io.now() + Math.min(QUIT_GRACE_MS, this.timeouts.command);
      for (;;) {
        const left = Math.round(deadline - this.io.now());
        if (left <= 0) break;
        const reply = await wire.read(left, 'reply to QUIT');
        if (reply.code === 221) return early;
        if (strict) early ??= reply;
        else if (!this.cancelled) break;
      }
    } catch {
      // The session's outcome is already decided; a server that ignores QUIT changes nothing.
    }
    // Without a 221, a lone reply may be the server's own answer to QUIT: nothing is concluded.
    return undefined;
  }
}

/** The protocol failure of a reply that answers no command, noticed at `where` (RFC 5321 §4.2: every reply answers a command). */
function unsolicited(extra: Reply, line: number | undefined, where: string, when = ''): StepFailure {
  return new StepFailure('protocol', `${where}: the server sent a reply that answers no command (${extra.lines.join(' / ')})${when}; its replies can no longer be matched to commands`, line);
}

/** The success class, which a step needs when the plan gives no implicit expectation of its own (an `EXPECT` with only a text). */
const SUCCESS = classExpectation(-1, 2);

/**
 * The expectation a step's reply is checked against: the one home of the reply each step needs.
 * The step needs `code` when one code lets the session go on (354 for DATA, 220 for STARTTLS, 235
 * for AUTH), else the plan's implicit class (2xx for every other step). `withStepNeed` then applies
 * what an `EXPECT` says: codes replace the need, a text alone is checked on top of it.
 */
function required(written: Expectation, code?: number): Expectation {
  const need = code !== undefined ? needCode(written, code) : written.implicit ? written : SUCCESS;
  return withStepNeed(written, need);
}

/** The implicit expectation `expect` narrowed to one reply code (220 for STARTTLS, 354 for DATA). */
function needCode(expect: Expectation, code: number): Expectation {
  return { ...expect, source: String(code), codes: [{ kind: 'code', code }], enhanced: [], text: undefined, implicit: true };
}

function sumBefore(lines: string[], i: number): number {
  let n = 0;
  for (let k = 0; k < i; k++) n += Buffer.byteLength(lines[k]) + 2;
  return n;
}

/** The text of a message for the transcript: CRLF shown as line breaks, long bodies shortened. */
function bodyText(body: Buffer, hasTerminator: boolean): string {
  const shown = body.length > MAX_BODY_SHOWN ? body.subarray(0, MAX_BODY_SHOWN) : body;
  let text = shown.toString('utf8').replace(/\r\n/g, '\n');
  if (text.endsWith('\n')) text = text.slice(0, -1);
  if (body.length > MAX_BODY_SHOWN) text += `\n… (${body.length - MAX_BODY_SHOWN} more octets${hasTerminator ? ', then .' : ''})`;
  return text;
}

/**
 * True when an address literal is one of the certificate's IP addresses (`IP Address:` entries),
 * compared as addresses, not as text, so `::1` matches `0:0:0:0:0:0:0:1`.
 */
function ipNamedByCertificate(address: string | undefined, altNames: readonly string[] | undefined): boolean {
  if (address === undefined || !altNames) return false;
  const family = net.isIP(address);
  if (family === 0) return false;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  return altNames.some((name) => {
    if (!name.startsWith('IP Address:')) return false;
    const ip = name.slice('IP Address:'.length).trim();
    if (net.isIP(ip) !== family) return false;
    const list = new net.BlockList();
    list.addAddress(ip, type);
    return list.check(address, type);
  });
}

function describeVerifyError(code: string | undefined, d: TlsDetails): string {
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return `the certificate expired on ${d.validTo} (CERT_HAS_EXPIRED)`;
    case 'CERT_NOT_YET_VALID':
      return `the certificate is not valid before ${d.validFrom} (CERT_NOT_YET_VALID)`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `the certificate is not for this name; it names ${d.subjectAltNames?.join(', ') || d.subject} (ERR_TLS_CERT_ALTNAME_INVALID)`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return `the certificate is self-signed (${code}); trust it with TLS ca=FILE or use verify=off`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return `the certificate's issuer is not trusted (${code}); give its CA with TLS ca=FILE`;
    default:
      return code ?? 'unknown reason';
  }
}
