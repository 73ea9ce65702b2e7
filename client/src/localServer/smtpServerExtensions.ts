/**
 * What the capture server adds to nodemailer's smtp-server, in one place:
 *
 * - an immediate greeting: smtp-server waits 100 ms before its 220 to catch clients that talk too
 *   soon (`SMTPConnection.init`, not configurable), which makes every local run slower; here the
 *   connection is made ready at once (the reverse DNS lookup is off through `disableReverseLookup`);
 * - a listener bound before anything else exists, so a port in use creates no folder and no key;
 * - a hook before every command, so behaviour rules can answer, delay or close first;
 * - a rewrite of the EHLO keyword lines, so rules can advertise or hide extensions;
 * - CHUNKING and BDAT (RFC 3030), which smtp-server does not implement.
 *
 * It uses smtp-server's documented-in-typings internals (`_onCommand`, `_parser`, `_socket`,
 * `upgrade`, `send`), so it is pinned to the 3.x line: the tests in test/localServer cover each of
 * them.
 */
import { Socket as NetSocket, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

/** What a command hook sees of one command. */
export interface CommandContext {
  /** The command verb in upper case (`MAIL`, `RCPT`, `BDAT`, ...). */
  verb: string;
  /** The whole command line as received (latin1), without its CRLF. */
  line: string;
  session: SMTPServerSession;
  /** Whether the connection is under TLS. */
  secure: boolean;
  /** Sends a reply line as given: `text` should carry its own enhanced status code. */
  reply(code: number, text: string): void;
  /** Closes the connection after what was sent. */
  close(): void;
  /**
   * For BDAT: lets the chunk be read (its octets must be, whatever the answer, RFC 3030 §2) and then
   * answers with this refusal instead, dropping the message.
   */
  refuseChunk(code: number, text: string): void;
}

/** What a connect hook sees before the greeting. */
export interface ConnectContext {
  /** The id the session will have (`session.id`). */
  sessionId: string;
  remoteAddress: string;
  remotePort: number;
  /** Sends a reply (421 or 554 at this point) and closes the connection. */
  refuse(code: number, text: string): void;
  /** Closes the connection without a word. */
  close(): void;
}

/** The hooks the capture server installs on each connection. */
export interface ConnectionHooks {
  /** Called when a client connects, before the greeting; call `proceed()` to greet it. */
  connect?(context: ConnectContext, proceed: () => void): void;
  /**
   * Called before smtp-server handles a command. Call `proceed()` to let it, or reply through the
   * context and call `done()` to go on with the next command.
   */
  command?(context: CommandContext, proceed: () => void, done: () => void): void;
  /** Rewrites the keyword lines of an EHLO reply (everything after the first line). */
  ehlo?(session: SMTPServerSession, secure: boolean, keywords: string[]): string[];
}

/** The part of SMTPConnection this module relies on, with the BDAT handler it adds. */
type Connection = SMTPConnection & {
  handler_BDAT?: (command: Buffer, callback: () => void) => void;
  _bdat?: BdatTransaction;
  _bdatRefusal?: { code: number; text: string };
};

/** One BDAT transaction in progress (RFC 3030 §2). */
interface BdatTransaction {
  stream: SMTPServerDataStream;
  /** Set once the onData handler answered; the reply waits for the LAST chunk. */
  verdict?: { err?: Error | null; message?: string };
  /** Called when the verdict arrives after the LAST chunk was read. */
  onVerdict?: () => void;
  ended: boolean;
}

/** The parser's internals that BDAT uses to read a counted chunk. */
interface ChunkParser {
  _dataMode: boolean;
  _remainder: string;
  _feedDataStream(chunk: Buffer, done: (err?: Error) => void): void;
  _write(chunk: Buffer, encoding: string, done: (err?: Error) => void): void;
  isClosed: boolean;
}

const HALF_CLOSE_GRACE_MS = 5000;
const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3}(?: |$)/;
const BDAT_SYNTAX = /^BDAT +(\d{1,15})( +LAST)? *$/i;

/** smtp-server with an immediate greeting, command hooks, an EHLO rewrite and BDAT. */
export class CaptureSmtpServer extends SMTPServer {
  hooks: ConnectionHooks = {};
  private readonly chunking: boolean;

  constructor(options: SMTPServerOptions & { chunking?: boolean }) {
    const { chunking, ...rest } = options;
    super(rest);
    this.chunking = chunking ?? true;
  }

  /**
   * Takes over a listener that is already bound, in place of smtp-server's own: the port is bound
   * before the folder, the key and the server exist, so a port in use leaves nothing behind.
   */
  adoptListener(listener: Server): void {
    const own = this.server;
    for (const event of ['connection'] as const) {
      for (const fn of own.listeners(event)) listener.on(event, fn as (socket: Socket) => void);
    }
    own.removeAllListeners();
    this.server = listener;
    listener.once('close', () => this._onClose(listener));
    listener.on('error', (err: Error) => this._onError(err));
  }

  /** Like smtp-server's `connect`, but greets at once instead of after 100 ms. */
  override connect(socket: Socket, socketOptions?: Parameters<SMTPServer['connect']>[1]): void {
    const connection = new SMTPConnection(this, socket, socketOptions) as Connection;
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err as Parameters<SMTPServer['_onError']>[0]));
    connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => this._onClientConnect(data));
    this.installHooks(connection);
    this.endWithClient(connection, socket);
    connection._setListeners(() => {
      if (this.options.maxClients && this.connections.size > this.options.maxClients) {
        connection.send(421, `${connection.name} Too many connected clients, try again in a moment`, false);
        return;
      }
      const hook = this.hooks.connect;
      if (!hook) {
        connection.connectionReady();
        return;
      }
      hook(
        {
          sessionId: connection.id,
          remoteAddress: connection.remoteAddress,
          remotePort: connection.remotePort,
          refuse: (code, text) => {
            connection.send(code, text, false);
            connection.close();
          },
          close: () => connection.close(),
        },
        () => {
          if (!connection._closed && !connection._closing) connection.connectionReady();
        },
      );
    });
  }

  /**
   * Ends the session with the client's side of the connection, on the socket and parser it has now:
   * the ones it starts with, and the TLS socket and parser that smtp-server swaps in after STARTTLS
   * (`upgrade`, wrapped in installHooks), which would otherwise hold the connection, its descriptor
   * and its maxClients slot until the idle timeout once a client closes without QUIT.
   */
  private endWithClient(connection: Connection, socket: Socket): void {
    // The listener allows half-open sockets, so replies to pipelined commands reach a client that
    // already shut its side (Exim does after QUIT). smtp-server writes only while `readyState` is
    // 'open'; a half-closed client ('writeOnly' here) still reads what we send, so for this socket
    // that state counts as open. A TLS socket inherits half-open from the socket it wraps.
    const readyState = Object.getOwnPropertyDescriptor(NetSocket.prototype, 'readyState')?.get;
    if (readyState) {
      Object.defineProperty(socket, 'readyState', {
        configurable: true,
        get(this: Socket): string {
          const state = readyState.call(this) as string;
          return state === 'writeOnly' ? 'open' : state;
        },
      });
    }
    // Once the client's side has ended, the socket goes at the latest a few seconds later.
    socket.once('end', () => {
      setTimeout(() => {
        if (!socket.destroyed) socket.destroy();
      }, HALF_CLOSE_GRACE_MS).unref();
    });
    // The parser finishes once the client's side has ended and every command it sent was answered
    // (a message in progress can then never be completed): the session is over.
    const parser = connection._parser;
    if (parser) {
      parser.once('finish', () => {
        if (!connection._closing && !connection._closed && connection._parser === parser) connection.close();
      });
    }
  }

  private installHooks(connection: Connection): void {
    // A reply text that already carries an enhanced status code (a rule's own, RFC 3463) is sent as
    // it is; smtp-server would put its default code in front of it.
    const originalSend = connection.send.bind(connection);
    connection.send = (code: number, data: string | string[], context?: string | false): void => {
      const own = typeof data === 'string' && ENHANCED_PREFIX.test(data);
      originalSend(code, data, own ? false : context);
    };

    // STARTTLS (and implicit TLS) swaps in a TLS socket and a new parser once the handshake is done
    // and onSecure has answered; smtp-server then calls the secure callback, where both are in place
    // and the session ends with the client's side as it did before.
    const originalUpgrade = connection.upgrade.bind(connection);
    connection.upgrade = (callback: () => void, secureCallback?: () => void): void => {
      originalUpgrade(callback, () => {
        this.endWithClient(connection, connection._socket);
        secureCallback?.();
      });
    };

    const originalCommand = connection._onCommand.bind(connection);
    connection._onCommand = (command: Buffer, callback?: () => void): void => {
      const next = callback ?? ((): void => undefined);
      const hook = this.hooks.command;
      // Continuation lines of AUTH, and anything before the greeting or during a TLS handshake,
      // belong to smtp-server alone.
      if (!hook || connection._nextHandler || connection._upgrading || !connection._ready || this._closeTimeout) {
        originalCommand(command, next);
        return;
      }
      const line = command.toString('latin1');
      const verb = (line.split(' ', 1)[0] ?? '').toUpperCase();
      const context: CommandContext = {
        verb,
        line,
        session: connection.session,
        secure: connection.secure,
        reply: (code, text) => connection.send(code, text, false),
        close: () => connection.close(),
        refuseChunk: (code, text) => {
          connection._bdatRefusal = { code, text };
          originalCommand(command, next);
        },
      };
      hook(
        context,
        () => originalCommand(command, next),
        () => connection._whenWritable(next),
      );
    };

    const originalEhlo = connection.handler_EHLO.bind(connection);
    connection.handler_EHLO = (command: Buffer, callback: () => void): void => {
      const send = connection.send.bind(connection);
      connection.send = (code: number, data: string | string[], context?: string | false): void => {
        connection.send = send;
        if (code === 250 && Array.isArray(data)) {
          let keywords = data.slice(1);
          if (this.chunking) keywords.push('CHUNKING');
          if (this.hooks.ehlo) keywords = this.hooks.ehlo(connection.session, connection.secure, keywords);
          send(code, [data[0], ...keywords], context);
          return;
        }
        send(code, data, context);
      };
      originalEhlo(command, () => {
        connection.send = send;
        callback();
      });
    };

    const originalClose = connection._onClose.bind(connection);
    connection._onClose = (): void => {
      // A client that goes away in the middle of BDAT leaves nothing stored.
      this.dropBdat(connection);
      originalClose();
    };

    if (this.chunking) {
      connection.handler_BDAT = (command: Buffer, callback: () => void): void => this.handleBdat(connection, command, callback);
      // A new transaction (RSET, EHLO, MAIL after an unfinished one) drops a BDAT message.
      for (const name of ['handler_RSET', 'handler_EHLO', 'handler_HELO'] as const) {
        const original = connection[name].bind(connection);
        connection[name] = (command: Buffer, callback: () => void): void => {
          this.dropBdat(connection);
          original(command, callback);
        };
      }
      const originalData = connection.handler_DATA.bind(connection);
      connection.handler_DATA = (command: Buffer, callback: () => void): void => {
        if (connection._bdat) {
          // RFC 3030 §2: DATA and BDAT cannot be mixed in one transaction.
          connection.send(503, '5.5.1 DATA not allowed after BDAT in the same transaction', false);
          callback();
          return;
        }
        originalData(command, callback);
      };
    }
  }

  private dropBdat(connection: Connection): void {
    const bdat = connection._bdat;
    if (!bdat) return;
    connection._bdat = undefined;
    if (!bdat.ended) bdat.stream.destroy(new Error('the BDAT transaction was reset'));
  }

  /**
   * BDAT size [LAST] (RFC 3030 §2): reads exactly `size` octets, whatever the state, then replies.
   * A chunk outside a transaction is read and refused with 503; the LAST chunk gets the reply of
   * the onData handler, as DATA would.
   */
  private handleBdat(connection: Connection, command: Buffer, callback: () => void): void {
    const parser = connection._parser as unknown as ChunkParser | false;
    const m = BDAT_SYNTAX.exec(command.toString('latin1').trim());
    if (!parser || !m) {
      // Without a valid size the chunk cannot be skipped, so the connection cannot go on.
      connection.send(501, '5.5.4 Syntax: BDAT chunk-size [LAST]', false);
      if (parser) connection.close();
      callback();
      return;
    }
    const size = Number(m[1]);
    const last = m[2] !== undefined;
    const session = connection.session;
    let refusal: string | undefined;
    let refusalCode = 503;
    const ruled = connection._bdatRefusal;
    connection._bdatRefusal = undefined;
    if (ruled) {
      refusal = ruled.text;
      refusalCode = ruled.code;
      this.dropBdat(connection);
    } else if (session.envelope.mailFrom === false) refusal = '5.5.1 Error: need MAIL command';
    else if (session.envelope.rcptTo.length === 0) refusal = '5.5.1 Error: need RCPT command';
    else if (!connection._bdat) {
      connection._bdat = this.beginBdat(connection);
    }
    const bdat = refusal === undefined ? connection._bdat : undefined;
    let remaining = size;
    const limit = this.options.size ?? 0;

    const finishChunk = (rest: Buffer, done: (err?: Error) => void): void => {
      parser._dataMode = false;
      parser._remainder = '';
      delete (parser as Partial<ChunkParser>)._feedDataStream;
      const resume = (): void => {
        if (rest.length > 0) parser._write(rest, 'buffer', done);
        else done();
      };
      if (refusal !== undefined || !bdat) {
        connection.send(refusalCode, refusal ?? '5.5.1 Error: no transaction', false);
        // A chunk a rule refused ends the transaction, as a refused DATA would.
        if (ruled) connection._resetSession();
        resume();
        return;
      }
      if (!last) {
        connection.send(250, `2.0.0 ${size} octets received`, false);
        resume();
        return;
      }
      bdat.ended = true;
      bdat.stream.end();
      const answer = (): void => {
        connection._bdat = undefined;
        const verdict = bdat.verdict ?? {};
        if (limit > 0 && bdat.stream.byteLength > limit) {
          connection.send(552, `5.3.4 Error: message exceeds fixed maximum message size ${limit}`, false);
        } else if (verdict.err) {
          const err = verdict.err as Error & { responseCode?: number };
          connection.send(err.responseCode ?? 450, err.message);
        } else {
          connection.send(250, verdict.message ?? 'OK: message queued', 'DATA_OK');
        }
        connection._transactionCounter++;
        connection._resetSession();
        resume();
      };
      if (bdat.verdict) answer();
      else bdat.onVerdict = answer;
    };

    const feed = (chunk: Buffer, done: (err?: Error) => void): void => {
      if (parser.isClosed) {
        done();
        return;
      }
      const take = Math.min(remaining, chunk.length);
      if (take > 0 && bdat && !bdat.ended) {
        const part = chunk.subarray(0, take);
        bdat.stream.byteLength += part.length;
        if (limit > 0 && bdat.stream.byteLength > limit) bdat.stream.sizeExceeded = true;
        if (!bdat.stream.destroyed) bdat.stream.write(part);
      }
      remaining -= take;
      if (remaining > 0) {
        done();
        return;
      }
      finishChunk(chunk.subarray(take), done);
    };

    parser._dataMode = true;
    parser._feedDataStream = feed;
    if (size === 0) {
      // Nothing to read: answer now, then go on with what follows the command line.
      parser._dataMode = false;
      delete (parser as Partial<ChunkParser>)._feedDataStream;
      const after = (): void => callback();
      finishChunk(Buffer.alloc(0), after);
      return;
    }
    callback();
  }

  private beginBdat(connection: Connection): BdatTransaction {
    const stream = Object.assign(new PassThrough(), { byteLength: 0, sizeExceeded: false, chunked: true }) as unknown as SMTPServerDataStream;
    const bdat: BdatTransaction = { stream, ended: false };
    // The session is copied as DATA would see it at its end: the onData handler reads the envelope.
    this.onData(stream, connection.session, (err?: Error | null, message?: unknown) => {
      bdat.verdict = { err, message: typeof message === 'string' ? message : undefined };
      if (connection._bdat !== bdat && !bdat.ended) return;
      bdat.onVerdict?.();
    });
    return bdat;
  }
}
