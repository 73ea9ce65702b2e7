/**
 * Types of the session engine: what it needs from its caller (I/O, secrets, timeouts) and what it
 * reports (transcript events and a result). The engine is pure: it never imports `vscode`, and
 * every socket, DNS query, clock and random number comes through `EngineIo`.
 */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { SessionPlan, Timeouts } from '../../../common/sessionPlan';
import type { DnssecQuery } from '../dns/dnssecWire';

/** The part of `dns.promises.Resolver` the engine uses. */
export interface MxRecordLike {
  exchange: string;
  priority: number;
}
export interface ResolverLike {
  resolveMx(domain: string): Promise<MxRecordLike[]>;
  resolve4(host: string): Promise<string[]>;
  resolve6(host: string): Promise<string[]>;
}

/** Socket factories, resolver, clock and randomness, injected so tests can control them. */
export interface EngineIo {
  /**
   * Opens a TCP connection. For a session that stays in cleartext the options carry `onread` (one
   * reused read buffer, see `ReadTap` in wire.ts); a factory that ignores it still works, as the
   * engine also reads the socket's 'data' events.
   */
  connect(options: net.NetConnectOpts): net.Socket;
  tlsConnect(options: tls.ConnectionOptions): tls.TLSSocket;
  resolver: ResolverLike;
  /** Milliseconds from an arbitrary origin (monotonic), as `performance.now()`. */
  now(): number;
  /** A number in [0, 1), as `Math.random()`; used to shuffle MX hosts of equal preference. */
  random(): number;
}

export type EventDirection = 'client' | 'server' | 'tls' | 'info' | 'error';

/** One transcript event. Text is already masked; `bytes` counts the octets on the wire (0 for notes). */
export interface TranscriptEvent {
  /** Milliseconds since the session started. */
  t: number;
  dir: EventDirection;
  text: string;
  bytes: number;
}

export type FailureKind =
  | 'expectation'
  | 'protocol'
  | 'connection'
  | 'tls'
  | 'dns'
  | 'timeout'
  | 'cancelled'
  | 'script';

export interface ReplyInfo {
  code: number;
  /** The enhanced status code (RFC 3463) of the reply, e.g. `5.1.1`, when it carries one. */
  enhanced?: string;
  /** The reply's lines as received, without CRLF (`250-PIPELINING`, `250 OK`). */
  lines: string[];
}

export interface StepResult {
  /** The 0-based script line of the step. */
  line: number;
  /** The command as sent, masked (`AUTH PLAIN ********`), or the step's source line. */
  command: string;
  /** The reply that decided the step (the final reply of DATA, BDAT and AUTH). */
  reply?: ReplyInfo;
  /** Further replies: the intermediate reply of DATA, BDAT chunk replies, LMTP per-recipient replies, RAW reads. */
  replies?: ReplyInfo[];
  ok: boolean;
  /** Why the step failed, or a note. */
  message?: string;
  /** The expectation's `EXPECT` line as written, or the implicit class. */
  expected?: string;
  durationMs: number;
}

export interface TlsDetails {
  protocol: string | null;
  cipher: string;
  /** How TLS began: `implicit` (RFC 8314) or `starttls` (RFC 3207). */
  mode: 'implicit' | 'starttls';
  servername?: string;
  subject?: string;
  issuer?: string;
  subjectAltNames?: string[];
  validFrom?: string;
  validTo?: string;
  fingerprint256?: string;
  verified: boolean;
  /** Why verification failed (e.g. `CERT_HAS_EXPIRED`, `ERR_TLS_CERT_ALTNAME_INVALID`). */
  verifyError?: string;
  /** True when verification was switched off (`TLS verify=off`). */
  verifyDisabled: boolean;
  /** With `TLS dane=on|only`: what DNS said, and the TLSA record that authenticated the server. */
  dane?: {
    tlsaName?: string;
    /** `usable`, `none`, `unusable`, `insecure`, `indeterminate` (see `daneApplies`). */
    applies: string;
    reason: string;
    authenticated?: boolean;
    /** The matched record, as `3 1 1 ab…`. */
    matched?: string;
    summary?: string;
  };
}

export interface MxCandidate {
  host: string;
  preference: number;
  /** True for the implicit MX of RFC 5321 §5.1 (the domain itself, when it has no MX). */
  implicit: boolean;
}

export interface MxAttempt {
  host: string;
  address: string;
  port: number;
  error?: string;
}

export interface MxDetails {
  domain: string;
  candidates: MxCandidate[];
  attempts: MxAttempt[];
  chosen?: { host: string; address: string; port: number };
  nullMx?: boolean;
}

export interface Capabilities {
  /** Upper-case keyword to its parameters, as advertised in the last EHLO/LHLO reply. */
  keywords: Map<string, string[]>;
  /** The SIZE limit (RFC 1870), 0 for "no fixed limit", undefined when SIZE is not advertised. */
  size?: number;
  /** Upper-case AUTH mechanisms (RFC 4954). */
  authMechanisms: string[];
}

export interface RepeatStats {
  /** Transactions run (each iteration of the MAIL..DATA/BDAT block). */
  transactions: number;
  /** Transactions whose final reply met its expectation. */
  delivered: number;
  elapsedMs: number;
  perSecond: number;
}

export interface SessionResult {
  file: string;
  title: string;
  name?: string;
  line: number;
  ok: boolean;
  failure?: { kind: FailureKind; message: string; line?: number };
  steps: StepResult[];
  /** The session's events, when `keepTranscript` is not false. */
  transcript: TranscriptEvent[];
  /** Where the session connected; `localAddress` is the client side (the sending IP a receiver sees). */
  target?: { scheme: string; host: string; address?: string; port: number; lmtp: boolean; localAddress?: string };
  tls?: TlsDetails;
  mx?: MxDetails;
  capabilities?: { keywords: Record<string, string[]>; size?: number; authMechanisms: string[] };
  timings: { connectMs?: number; greetingMs?: number; totalMs: number };
  repeat?: RepeatStats;
}

/** A message the session sent, reported through `RunOptions.onMessage`. */
export interface SentMessage {
  /** The script line of the DATA or BDAT step. */
  line: number;
  message: Buffer;
  /** Whether TLS was active on the connection when the message was sent. */
  tls: boolean;
  /** The final reply codes (one per recipient with LMTP). */
  finalCodes: number[];
  /** The session's target at that time (its `localAddress` is the sending IP). */
  target?: SessionResult['target'];
  /**
   * The argument of the last EHLO, HELO or LHLO the server accepted before the message, as sent
   * (an address literal keeps its brackets). Unmasked: it may hold a secret, so mask it before
   * showing it. Absent when no greeting was accepted (or the last one came before STARTTLS).
   */
  helo?: string;
  /**
   * The reverse-path of the transaction that sent the message, as sent: the address of the MAIL
   * command the server accepted, without angle brackets or source route ('' for the null path
   * `<>`). Unmasked, like `helo`. Absent when no MAIL of this transaction was accepted.
   */
  mailFrom?: string;
}

/**
 * What the server under test says about the latest exchange of one connection, asked with the
 * connection's local end (address and port, as the server sees its client) and the server's port.
 */
export type ServerNotes = (connection: { address?: string; port?: number; serverPort?: number }) => readonly string[];

export interface RunOptions {
  io?: Partial<EngineIo>;
  /** Values to mask in every event and result (`********`). */
  secrets?: string[];
  /** Overrides the plan's timeouts (and the defaults). */
  timeouts?: Partial<Timeouts>;
  signal?: AbortSignal;
  /** Reads `DATA < file`, `TLS ca=…` and the like; paths are already resolved against `scriptDir`. */
  readFile?: (path: string) => Promise<Buffer>;
  scriptDir?: string;
  /** Where sessions without CONNECT (or with `CONNECT local`) go. */
  localTarget?: { host: string; port: number };
  /** Runs the session's mail transactions this many times on the one connection (default 1). */
  repeat?: number;
  onEvent?: (event: TranscriptEvent) => void;
  /**
   * Called with each message the session sent (DATA or BDAT), after the server's final reply, so a
   * caller can check what went out (the bulk-sender check of a run). `message` is the message as
   * the server received it: without dot-stuffing and without the terminating `.` line. Only the
   * recorded transaction is reported (the first one of a `repeat`).
   */
  onMessage?: (sent: SentMessage) => void;
  /**
   * What the server under test says about a reply besides the reply itself, asked each time a
   * reply has been read (and when the connection fails); each note is shown as an `info` event
   * after the reply, or, in an RFC 2920 group (whose commands the server decides before the client
   * reads the first reply), after the group's replies. The run paths pass the embedded capture
   * server's notes here (which behaviour rule answered, localServer/ruleNotes.ts).
   */
  serverNotes?: ServerNotes;
  /** Keep the events in `SessionResult.transcript` (default true). */
  keepTranscript?: boolean;
  /**
   * The validating resolver (`IP`, `IP:PORT`, `[IPv6]:PORT`) for `TLS dane=` lookups; default: the
   * first server of `io.resolver` when it names one (the CLI's `--dns-server`), else the system's.
   */
  daneResolver?: string;
  /** A DNSSEC query function for the DANE lookups (tests); built from `daneResolver` otherwise. */
  daneQuery?: DnssecQuery;
}

export type { SessionPlan };
