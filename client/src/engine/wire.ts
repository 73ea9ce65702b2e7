/**
 * One SMTP connection: a socket (plain or TLS), the streaming reply parser, and reads with
 * timeouts. Every failure becomes an `EngineError` with its kind, so a hostile or broken server
 * ends a session with a clear message, never a crash or a hang.
 */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { formatMs } from '../../../common/duration';
import { monotonicMs } from './clock';
import { ReplyParser, ReplyProtocolError, type Reply } from './replies';
import type { FailureKind } from './types';

/** The largest piece written under one data-block timer. */
const WRITE_BLOCK = 64 * 1024;

export class EngineError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
  }
}

interface Waiter {
  resolve(reply: Reply): void;
  reject(error: EngineError): void;
  /** When the read times out, on the `monotonicMs()` clock. */
  deadline: number;
  timeoutMs: number;
  what: string;
}

/**
 * Receives a plain socket's bytes through `net.connect`'s `onread` option (one reused buffer, no
 * stream machinery per chunk), which saves a few microseconds on every reply of a lock-step
 * session. Bytes that arrive before the `Wire` exists (the greeting) are kept until it attaches.
 * Pass `tap.onread` in the options of `net.connect`; a socket made without it still delivers
 * through 'data' events, which the `Wire` listens to as well.
 */
export class ReadTap {
  private sink: ((chunk: Buffer) => void) | undefined;
  private early: Buffer[] = [];
  readonly onread = {
    buffer: Buffer.allocUnsafe(64 * 1024),
    callback: (n: number, buf: Uint8Array): boolean => {
      // The buffer is reused for the next read: the parser copies what it keeps.
      const chunk = Buffer.from(buf.buffer, buf.byteOffset, n);
      if (this.sink) this.sink(chunk);
      else this.early.push(Buffer.from(chunk));
      return true;
    },
  };

  /** Delivers every later chunk to `sink`, after the ones that arrived before. */
  attach(sink: (chunk: Buffer) => void): void {
    this.sink = sink;
    const early = this.early;
    this.early = [];
    for (const chunk of early) sink(chunk);
  }

  /** Drops every later chunk (the socket was handed to TLS or closed). */
  detach(): void {
    this.sink = () => undefined;
    this.early = [];
  }
}

export interface WireHooks {
  /** Called for every reply line, in order, as soon as its reply is complete. */
  onReply(reply: Reply): void;
  /** Called when the connection fails (closed, reset, protocol error). */
  onFailure(error: EngineError): void;
}

export class Wire {
  socket: net.Socket;
  private parser = new ReplyParser();
  private queue: Reply[] = [];
  private waiter: Waiter | undefined;
  /** The error that ended the connection, once it has ended. */
  failed: EngineError | undefined;
  closed = false;
  tlsActive = false;
  /** Set by `interrupt`: reads reject with it, but the socket stays open (for a polite QUIT). */
  private interrupted: EngineError | undefined;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onError = (err: Error): void => this.fail(new EngineError('connection', `connection error: ${describeSocketError(err)}`));
  private readonly onClose = (): void => {
    this.closed = true;
    const partial = this.parser.partialLines();
    const why =
      partial.length > 0
        ? `the server closed the connection in the middle of a multi-line reply (after ${JSON.stringify(partial[partial.length - 1])})`
        : this.parser.midReply
          ? `the server closed the connection in the middle of a reply line (${JSON.stringify(this.parser.pendingText().slice(0, 80))})`
          : 'the server closed the connection';
    this.fail(new EngineError(partial.length > 0 || this.parser.midReply ? 'protocol' : 'connection', why));
  };

  /**
   * One timer for every read: a read only moves the deadline, and the timer, when it fires, either
   * fails the pending read or waits for the rest of its time. Creating and clearing a timer per
   * reply cost more than the rest of the bookkeeping of a lock-step command. It is unreferenced:
   * the socket being read keeps the process alive.
   */
  private readTimer: NodeJS.Timeout | undefined;
  /** When `readTimer` fires, on the `monotonicMs()` clock. */
  private readTimerAt = 0;
  private readonly onReadTimer = (): void => {
    this.readTimer = undefined;
    const w = this.waiter;
    if (!w) return;
    const left = w.deadline - monotonicMs();
    if (left > 0.5) {
      this.armReadTimer(left);
      return;
    }
    this.waiter = undefined;
    const partial = this.parser.partialLines();
    const detail =
      partial.length > 0
        ? `; the multi-line reply never ended (last line ${JSON.stringify(partial[partial.length - 1])})`
        : this.parser.midReply
          ? `; a partial line arrived without CRLF (${JSON.stringify(this.parser.pendingText().slice(0, 80))})`
          : '';
    const err = new EngineError('timeout', `no ${w.what} within ${formatMs(w.timeoutMs)}${detail}`);
    this.fail(err);
    w.reject(err);
  };

  constructor(
    socket: net.Socket,
    private readonly hooks: WireHooks,
    private readonly tap?: ReadTap,
  ) {
    this.socket = socket;
    this.attach(socket);
    tap?.attach((chunk) => this.receive(chunk));
  }

  private armReadTimer(ms: number): void {
    if (this.readTimer) clearTimeout(this.readTimer);
    const delay = Math.min(Math.max(Math.ceil(ms), 1), 2_147_483_647);
    this.readTimerAt = monotonicMs() + delay;
    this.readTimer = setTimeout(this.onReadTimer, delay);
    this.readTimer.unref();
  }

  private stopReadTimer(): void {
    if (this.readTimer) clearTimeout(this.readTimer);
    this.readTimer = undefined;
  }

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
  }

  private receive(chunk: Buffer): void {
    if (this.failed) return;
    let replies: Reply[];
    try {
      replies = this.parser.push(chunk);
    } catch (e) {
      const message = e instanceof ReplyProtocolError ? e.message : `reply parser failure: ${String(e)}`;
      this.fail(new EngineError('protocol', message));
      return;
    }
    for (const reply of replies) {
      this.hooks.onReply(reply);
      const w = this.waiter;
      if (w) {
        this.waiter = undefined;
        w.resolve(reply);
      } else this.queue.push(reply);
    }
  }

  /** Ends the connection with an error: pending and later reads reject with it. */
  fail(error: EngineError): void {
    if (this.failed) return;
    this.failed = error;
    this.hooks.onFailure(error);
    this.stopReadTimer();
    this.tap?.detach();
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(error);
    }
    this.socket.destroy();
  }

  /**
   * Rejects the pending read, and every later one until `resume`, with `error`, without closing
   * the socket: a cancelled session can still say QUIT. Replies that arrive meanwhile are queued.
   */
  interrupt(error: EngineError): void {
    if (this.failed || this.interrupted) return;
    this.interrupted = error;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(error);
    }
  }

  /** Lets reads through again after `interrupt`. */
  resume(): void {
    this.interrupted = undefined;
  }

  /** Replies that arrived before anyone asked for them (e.g. unsolicited lines). */
  get unread(): number {
    return this.queue.length;
  }

  /** The first reply that arrived before anyone asked for it. */
  peekUnread(): Reply | undefined {
    return this.queue[0];
  }

  /** True when bytes of an unfinished reply are buffered. */
  get midReply(): boolean {
    return this.parser.midReply;
  }

  /** Reads the next reply, failing with a timeout after `timeoutMs` (`what` names it in messages). */
  read(timeoutMs: number, what: string): Promise<Reply> {
    if (this.interrupted) return Promise.reject(this.interrupted);
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<Reply>((resolve, reject) => {
      const deadline = monotonicMs() + timeoutMs;
      this.waiter = { resolve, reject, deadline, timeoutMs, what };
      // The timer is moved only when this deadline comes before the one it is set for.
      if (!this.readTimer || deadline < this.readTimerAt) this.armReadTimer(timeoutMs);
    });
  }

  /**
   * Writes a command line without waiting for anything: the reply read next fails when the
   * connection has failed or the read was interrupted, so a write that cannot happen is skipped.
   * No promise is made, which saves two per command of every repeated transaction.
   */
  send(text: string): void {
    if (this.failed || this.interrupted) return;
    this.socket.write(text);
  }

  /**
   * Writes data. With a timeout, a large payload goes in blocks of 64 KiB, each with its own timer:
   * RFC 5321 §4.5.3.2.5 times each block of message data, so a long upload over a slow link is fine
   * as long as the server keeps reading.
   */
  async write(data: Buffer | string, timeoutMs?: number, what = 'write'): Promise<void> {
    if (timeoutMs === undefined && typeof data === 'string') return this.writeBlock(data, undefined, what);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (timeoutMs === undefined || bytes.length <= WRITE_BLOCK) return this.writeBlock(bytes, timeoutMs, what);
    for (let from = 0; from < bytes.length; from += WRITE_BLOCK) await this.writeBlock(bytes.subarray(from, from + WRITE_BLOCK), timeoutMs, what);
  }

  private writeBlock(data: Buffer | string, timeoutMs: number | undefined, what: string): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.interrupted) return Promise.reject(this.interrupted);
    if (timeoutMs === undefined) {
      this.socket.write(data);
      return Promise.resolve();
    }
    let done: ((err?: Error | null) => void) | undefined;
    this.socket.write(data, (err) => done?.(err));
    // Handed to the OS at once (nothing left in the socket's buffer): no timer is needed. A write
    // error still fails the connection through the socket's 'error' event.
    if (this.socket.writableLength === 0 && !this.socket.destroyed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new EngineError('timeout', `could not send a block of the ${what} within ${formatMs(timeoutMs)} (the server stopped reading)`);
        this.fail(err);
        reject(err);
      }, timeoutMs);
      done = (err) => {
        clearTimeout(timer);
        if (err) reject(this.failed ?? new EngineError('connection', `write failed: ${describeSocketError(err)}`));
        else resolve();
      };
    });
  }

  /**
   * Upgrades the connection to TLS (RFC 3207 §4.2). Returns the TLS socket once the handshake is
   * done. Bytes that arrived after the 220 and before the handshake would be a response injection,
   * so the caller checks `unread` and `midReply` first.
   */
  async startTls(connectTls: (socket: net.Socket) => tls.TLSSocket, timeoutMs: number): Promise<tls.TLSSocket> {
    const plain = this.socket;
    this.detach(plain);
    this.tap?.detach();
    const secure = connectTls(plain);
    this.socket = secure;
    this.parser = new ReplyParser();
    try {
      await waitSecure(secure, timeoutMs);
    } catch (e) {
      // RFC 3207 §4.1: after a failed negotiation no cleartext SMTP may follow; the connection is closed.
      plain.on('error', () => undefined);
      plain.destroy();
      this.fail(e instanceof EngineError ? e : new EngineError('tls', `TLS handshake failed: ${String(e)}`));
      throw this.failed;
    }
    this.attach(secure);
    this.tlsActive = true;
    return secure;
  }

  /** Half-closes after sending (Exim answers QUIT at once when the client half-closes). */
  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.closed = true;
    this.stopReadTimer();
    this.tap?.detach();
    this.detach(this.socket);
    this.socket.on('error', () => undefined);
    this.socket.destroy();
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(this.failed ?? new EngineError('cancelled', 'the connection was closed'));
    }
  }
}

/** Waits for a TLS handshake, failing with a `tls` error on a handshake error or timeout. */
export function waitSecure(socket: tls.TLSSocket, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: EngineError): void => {
      clearTimeout(timer);
      socket.off('secureConnect', onSecure);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (err) {
        socket.on('error', () => undefined);
        socket.destroy();
        reject(err);
      } else resolve();
    };
    const onSecure = (): void => done();
    const onError = (e: Error): void => done(new EngineError('tls', `TLS handshake failed: ${describeSocketError(e)}`));
    const onClose = (): void => done(new EngineError('tls', 'TLS handshake failed: the server closed the connection'));
    const timer = setTimeout(() => done(new EngineError('timeout', `the TLS handshake did not finish within ${formatMs(timeoutMs)}`)), timeoutMs);
    socket.on('secureConnect', onSecure);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}

/** Connects a plain socket, failing with a `connection` error or a timeout. */
export function waitConnect(socket: net.Socket, timeoutMs: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: EngineError): void => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      if (err) {
        socket.on('error', () => undefined);
        socket.destroy();
        reject(err);
      } else resolve();
    };
    const onConnect = (): void => done();
    const onError = (e: Error): void => done(new EngineError('connection', `could not connect to ${what}: ${describeSocketError(e)}`));
    const timer = setTimeout(() => done(new EngineError('timeout', `could not connect to ${what} within ${formatMs(timeoutMs)}`)), timeoutMs);
    socket.on('connect', onConnect);
    socket.on('error', onError);
  });
}

export function describeSocketError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}
