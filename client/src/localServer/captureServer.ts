/**
 * The embedded local capture server: an SMTP server (RFC 5321) on loopback that accepts every
 * message and keeps it on disk, for `.smtp` sessions without `CONNECT` and for applications under
 * development. It is built on nodemailer's smtp-server and offers STARTTLS (RFC 3207) with a
 * generated self-signed certificate, AUTH (RFC 4954) that accepts any credentials or one configured
 * account, SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), PIPELINING (RFC 2920) and
 * ENHANCEDSTATUSCODES (RFC 2034). It has no CHUNKING (RFC 3030): smtp-server does not implement BDAT.
 *
 * Nothing here imports `vscode`; the Local Inbox view and `smtpwb serve` are thin layers on top.
 */
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerAuthentication, type SMTPServerAuthenticationResponse, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { MessageStore, type CaptureEnvelope, type StoredMessage } from './messageStore';
import { loadOrCreateLocalCertificate } from './selfSignedCert';

export type { CaptureEnvelope, StoredMessage } from './messageStore';

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
  /** Receives the server's log lines (client errors, TLS failures, stored messages). */
  logger?: (entry: CaptureLogEntry) => void;
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
  /** Calls the listener whenever the stored messages change (received, deleted, cleared). */
  onChange(listener: () => void): { dispose(): void };
  /** The stored messages, newest first. */
  list(): Promise<StoredMessage[]>;
  /** One stored message, or undefined. */
  get(id: string): Promise<StoredMessage | undefined>;
  /** The bytes of a stored message, exactly as received. */
  read(id: string): Promise<Buffer>;
  /** Deletes a stored message; reports whether it existed. */
  delete(id: string): Promise<boolean>;
  /** Deletes every stored message; returns how many there were. */
  clear(): Promise<number>;
}

export const DEFAULT_SIZE_LIMIT = 50 * 1024 * 1024;

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

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
    transmissionType: session.transmissionType,
  };
}

/** Starts a capture server; rejects when the port cannot be bound or the folder cannot be made. */
export async function startCaptureServer(options: CaptureServerOptions): Promise<CaptureServer> {
  const host = options.host ?? '127.0.0.1';
  const dir = resolve(options.dir);
  const log = options.logger ?? ((): void => undefined);
  const store = new MessageStore(dir);
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

  const onData = (stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void => {
    const incoming = store.begin();
    const work = (async (): Promise<void> => {
      try {
        await incoming.receive(stream, () => stream.sizeExceeded);
      } catch (error) {
        await incoming.abort().catch(() => undefined);
        // The client went away in the middle of the message, or the disk failed.
        log({ level: 'warn', message: `message not stored: ${errorText(error)}`, remoteAddress: session.remoteAddress });
        callback(smtpError(451, 'Local error in processing: the message could not be stored'));
        return;
      }
      if (stream.sizeExceeded) {
        // RFC 1870 §6.3: the server refuses a message over its declared limit with 552.
        await incoming.abort().catch(() => undefined);
        log({ level: 'info', message: `refused a message of ${stream.byteLength} octets over the limit of ${sizeLimit}`, remoteAddress: session.remoteAddress });
        callback(smtpError(552, `Message size exceeds fixed maximum message size ${sizeLimit}`));
        return;
      }
      let stored: StoredMessage;
      try {
        stored = await incoming.commit(envelopeOf(session, tlsOfSession.get(session.id) ?? null));
      } catch (error) {
        await incoming.abort().catch(() => undefined);
        log({ level: 'error', message: `message not stored: ${errorText(error)}`, remoteAddress: session.remoteAddress });
        callback(smtpError(451, 'Local error in processing: the message could not be stored'));
        return;
      }
      callback(null, `OK: captured as ${stored.id}`);
      log({ level: 'info', message: `stored ${stored.path}`, remoteAddress: session.remoteAddress });
      messages.fire(stored, log);
      changes.fire(undefined, log);
    })();
    saving.add(work);
    void work.finally(() => saving.delete(work));
  };

  const server = new SMTPServer({
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
    closeTimeout: 1000,
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
    },
  });

  // smtp-server reports a failed TLS handshake, a client's socket error and a misbehaving client as
  // 'error' on the server; without a listener that would crash the process. They concern one client
  // only, so they are logged and the server goes on.
  const onClientError = (error: Error & { remoteAddress?: string; code?: string }): void => {
    log({ level: 'warn', message: `client error: ${error.message.trim()}${error.code ? ` (${error.code})` : ''}`, remoteAddress: error.remoteAddress });
  };
  server.on('error', onClientError);

  await new Promise<void>((resolveListen, rejectListen) => {
    const onListenError = (error: Error): void => {
      server.server.removeListener('listening', onListening);
      rejectListen(error);
    };
    const onListening = (): void => {
      server.server.removeListener('error', onListenError);
      resolveListen();
    };
    server.server.once('error', onListenError);
    server.server.once('listening', onListening);
    server.listen(options.port ?? 0, host);
  });
  const bound = server.server.address();
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
        await new Promise<void>((done) => server.close(() => done()));
        await Promise.allSettled([...saving]);
        log({ level: 'info', message: 'stopped' });
      })();
      return stopping;
    },
    onMessage: (listener) => messages.on(listener),
    onChange: (listener) => changes.on(listener),
    list: () => store.list(),
    get: (id) => store.get(id),
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
  };
  return capture;
}
