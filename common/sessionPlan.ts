/**
 * A session plan is what the language service hands to whoever runs a session: the session of a
 * `.smtp` script with its syntax resolved into steps, but its variables not yet substituted.
 * Variable values can depend on the environment of the run (the process environment, a `.env`
 * file, the editor's SecretStorage, a prompt), so substitution happens at run time through
 * `common/variables.ts`. The plan is plain JSON, so it crosses the LSP connection unchanged.
 *
 * Text fields named `template` may hold `{{name}}` and `{{$builtin ARG}}` references. Lines are
 * 0-based line numbers in the script, so results can point back at the script.
 */

/** One `@name = value` definition. File-level definitions come first, then the session's own. */
export interface VariableDefinition {
  name: string;
  /** The value as written, which may itself reference other variables. */
  template: string;
  line: number;
  scope: 'file' | 'session';
}

/**
 * One accepted reply in an `EXPECT` line. A code (`250`), a class (`2xx`, given as `class: 2`), or
 * an enhanced status code (`5.1.1`, or `5.1.x` for a subject class).
 */
export type ReplyPattern =
  | { kind: 'code'; code: number }
  | { kind: 'class'; class: 2 | 3 | 4 | 5 }
  | { kind: 'enhanced'; code: string };

/**
 * What a reply must be. A reply matches when it matches at least one of `codes` (or `codes` is
 * empty), at least one of `enhanced` (or `enhanced` is empty), and the text matcher, if any.
 */
export interface Expectation {
  line: number;
  /** The `EXPECT` line as written, for messages. */
  source: string;
  codes: ReplyPattern[];
  enhanced: ReplyPattern[];
  /** Text the reply must contain (case-insensitive), or a regular expression to match against it. */
  text?: { kind: 'substring'; value: string } | { kind: 'regex'; source: string; flags: string };
  /** True when this is the implicit expectation of a command without `EXPECT` (its success class). */
  implicit: boolean;
}

export type TlsVersionName = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** The `TLS` directive's options; absent fields keep their defaults (verification on). */
export interface TlsOptionsTemplate {
  line?: number;
  verify: boolean;
  sni?: string;
  /** Paths as written (templates), relative to the script's folder. */
  ca?: string;
  cert?: string;
  key?: string;
  minVersion?: TlsVersionName;
  /**
   * `dane=on`: verify the server by its DNSSEC-secure TLSA records instead of PKIX when it has
   * usable ones (RFC 7672 §3); `dane=only`: fail when it has none. Absent (or `dane=off`): PKIX.
   */
  dane?: 'on' | 'only';
}

/** Timeouts in milliseconds for each phase of a session (RFC 5321 §4.5.3.2 gives the defaults). */
export interface Timeouts {
  connect: number;
  greeting: number;
  /** EHLO, HELO, RSET, NOOP, VRFY and the rest of the plain commands. */
  command: number;
  mail: number;
  rcpt: number;
  dataInit: number;
  /** The time allowed to send each block of message data. */
  dataBlock: number;
  dataTermination: number;
  tls: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  connect: 30_000,
  greeting: 300_000,
  command: 300_000,
  mail: 300_000,
  rcpt: 300_000,
  dataInit: 120_000,
  dataBlock: 180_000,
  dataTermination: 600_000,
  tls: 60_000,
};

export interface SessionOptions {
  /** `# @allow-cleartext-auth`: the session accepts AUTH without TLS. */
  allowCleartextAuth: boolean;
  /** `# @pipelining`: send the groups that RFC 2920 allows together when the server offers PIPELINING. */
  pipelining: boolean;
  /** `# @timeout phase=seconds ...`, converted to milliseconds. */
  timeouts: Partial<Timeouts>;
}

export type DataSource =
  /** The body lines as written in the script, already dot-stuffed as on the wire (RFC 5321 §4.5.2). */
  | { kind: 'inline'; lines: string[]; firstLine: number }
  /** `DATA < file.eml`: a file (template path, relative to the script) that the engine dot-stuffs. */
  | { kind: 'file'; path: string };

interface StepBase {
  line: number;
  /** The script line as written (a template), for transcripts and results. */
  source: string;
}

export type PlanStep =
  /**
   * A command sent as one line: HELO, EHLO, LHLO, MAIL, RCPT, RSET, VRFY, EXPN, HELP, NOOP, QUIT,
   * ETRN, TURN, or an unknown verb. `template` is the whole command line without its CRLF.
   */
  | (StepBase & { kind: 'command'; verb: string; template: string; expect: Expectation })
  /** STARTTLS (RFC 3207): after a 220 the engine starts TLS with the session's TLS options. */
  | (StepBase & { kind: 'starttls'; expect: Expectation })
  /** AUTH performed by the engine (RFC 4954); `secret` is a password, or the token for XOAUTH2. */
  | (StepBase & {
      kind: 'auth';
      mechanism: 'PLAIN' | 'LOGIN' | 'CRAM-MD5' | 'XOAUTH2';
      user: string;
      secret: string;
      expect: Expectation;
    })
  /**
   * DATA: `intermediate` is checked against the reply to `DATA` (3xx unless written otherwise);
   * `expect` against the reply after the body. When DATA is refused, the body is not sent and the
   * refusal is checked against `expect`.
   */
  | (StepBase & { kind: 'data'; source: string; body: DataSource; intermediate: Expectation; expect: Expectation })
  /**
   * BDAT (RFC 3030): the message (inline lines are un-stuffed: a leading `..` becomes `.`) is sent in
   * chunks of `chunkSize` octets (one chunk when absent), the last with `LAST`. `expect` applies to
   * the reply to the last chunk; every earlier chunk expects 250.
   */
  | (StepBase & { kind: 'bdat'; body: DataSource; chunkSize?: number; expect: Expectation })
  /**
   * RAW: bytes sent exactly as written after the escapes (`\r`, `\n`, `\t`, `\\`, `\xHH`) are decoded.
   * Nothing is appended. The engine reads one reply for each expectation, in order; with none it
   * reads nothing.
   */
  | (StepBase & { kind: 'raw'; template: string; expects: Expectation[] });

export interface SessionPlan {
  /** The script's path or URI, as the caller gave it. */
  file: string;
  /** The `###` title, or `Session N` for a session without one. */
  title: string;
  /** `# @name NAME`, when given. */
  name?: string;
  /** The line of the `###` separator (or of the first command for an untitled first session). */
  line: number;
  /** The last line that belongs to the session. */
  endLine: number;
  variables: VariableDefinition[];
  /** The `CONNECT` target as written; absent means the embedded local capture server. */
  connect?: { template: string; line: number };
  tls: TlsOptionsTemplate;
  options: SessionOptions;
  steps: PlanStep[];
}

/** A parsed `CONNECT` target, after variables are substituted (see `parseConnectTarget`). */
export type ConnectTarget =
  | {
      kind: 'host';
      scheme: 'smtp' | 'submission' | 'smtps' | 'lmtp';
      host: string;
      port: number;
      /** True for `smtps://`: TLS starts before the greeting (RFC 8314). */
      implicitTls: boolean;
    }
  | { kind: 'mx'; domain: string; port: number }
  | { kind: 'local' };

/** A file a session reads: `TLS ca=`, `cert=`, `key=`, `DATA < file` or `BDAT < file`, as written. */
export interface NamedFile {
  path: string;
  /** The 0-based line that names it. */
  line: number;
}

/**
 * The files a session reads, in the order it reads them, as written in the script (relative paths
 * are relative to the script's folder). The one list: the engine reads them all before it connects,
 * and a run's preparation checks them before any session of the run is sent.
 */
export function filesNamedBy(plan: SessionPlan): NamedFile[] {
  const t = plan.tls;
  const tlsLine = t.line ?? plan.connect?.line ?? plan.line;
  const files: NamedFile[] = [];
  for (const file of [t.ca, t.cert, t.key]) if (file !== undefined && file !== '') files.push({ path: file, line: tlsLine });
  for (const step of plan.steps) {
    if ((step.kind === 'data' || step.kind === 'bdat') && step.body.kind === 'file') files.push({ path: step.body.path, line: step.line });
  }
  return files;
}
