/**
 * What the capture server adds to nodemailer's smtp-server, in one place:
 *
 * - an immediate greeting: smtp-server waits 100 ms before its 220 to catch clients that talk too
 *   soon (`SMTPConnection.init`, not configurable), which makes every local run slower; here the
 *   connection is made ready at once (the reverse DNS lookup is off through `disableReverseLookup`);
 * - a listener bound before anything else exists, so a port in use creates no folder and no key;
 * - a hook before every command, so behaviour rules can answer, delay or close first;
 * - a rewrite of the EHLO keyword lines, so rules can advertise or hide extensions;
 * - CHUNKING and BDAT (RFC 3030), which smtp-server does not implement;
 * - RFC 5321 §4.5.2 transparency in DATA: the leading period of every line that has more after it is
 *   deleted (smtp-server deletes it only from `..`), and only CRLF ends a line;
 * - the SMTP state checked before any hook (RFC 5321 §3.3, §4.1.4: 503 for a command out of
 *   sequence), and MAIL and RCPT parameters accepted only for extensions the EHLO reply advertised
 *   (RFC 5321 §4.1.1.11: 555 otherwise);
 * - a 554 greeting that keeps the connection open until QUIT (RFC 5321 §3.1), and an idle timeout
 *   that does not run while the server itself delays a reply (RFC 5321 §4.5.3.2).
 *
 * It uses smtp-server's documented-in-typings internals (`_onCommand`, `_parser`, `_socket`,
 * `upgrade`, `send`), so it is pinned to the 3.x line: the tests in test/localServer cover each of
 * them.
 */
import { Socket as NetSocket, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

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
   * For MAIL and RCPT: the 555 refusal of a parameter no advertised extension defines (RFC 5321
   * §4.1.1.11), with the parameter's name; the hook sends it (or its own refusal) instead of
   * calling `proceed()`.
   */
  parameterRefusal?: { code: number; text: string; parameter: string };
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
  /**
   * Sends a refusing greeting. After 421 the connection is closed; after 554 (or any other code) it
   * stays open, every command but QUIT gets 503 and QUIT gets 221 (RFC 5321 §3.1).
   */
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
  /** The keywords of the EHLO reply sent last (upper case), empty after HELO. */
  _advertised?: ReadonlySet<string>;
  /** Set once the greeting was a refusal other than 421 (RFC 5321 §3.1). */
  _refusedGreeting?: boolean;
};

/** The parser state that the DATA transparency procedure keeps between chunks. */
type LineState = 'start' | 'middle' | 'cr' | 'dot' | 'dot-cr';
type DataParser = SMTPStream & { _lineState?: LineState };

const CR = 0x0d;
const LF = 0x0a;
const PERIOD = 0x2e;
const CR_ONLY = Buffer.from([CR]);

/**
 * The MAIL and RCPT parameters the server implements, with the EHLO keyword that announces each
 * (RFC 5321 §4.1.1.11: a parameter is accepted only with its extension advertised). BODY comes with
 * 8BITMIME (RFC 6152) or BINARYMIME (RFC 3030), AUTH= with AUTH (RFC 4954 §5), RET, ENVID, NOTIFY and
 * ORCPT with DSN (RFC 3461 §4), REQUIRETLS with REQUIRETLS (RFC 8689).
 */
const PARAMETER_KEYWORDS: Record<'MAIL' | 'RCPT', Record<string, readonly string[]>> = {
  MAIL: {
    SIZE: ['SIZE'],
    BODY: ['8BITMIME', 'BINARYMIME'],
    SMTPUTF8: ['SMTPUTF8'],
    AUTH: ['AUTH'],
    RET: ['DSN'],
    ENVID: ['DSN'],
    REQUIRETLS: ['REQUIRETLS'],
  },
  RCPT: { NOTIFY: ['DSN'], ORCPT: ['DSN'] },
};

/**
 * The 503 for a command out of sequence (RFC 5321 §4.1.4 and §3.3), or undefined when the state
 * allows it: MAIL, RCPT and DATA need HELO or EHLO first, MAIL no transaction open, RCPT a MAIL, DATA
 * a RCPT. It is checked before any hook, so rules never answer a command the state refuses.
 */
export function sequenceRefusal(verb: string, greeted: boolean, session: SMTPServerSession): string | undefined {
  if (verb !== 'MAIL' && verb !== 'RCPT' && verb !== 'DATA') return undefined;
  if (!greeted) return '5.5.1 Error: send HELO/EHLO first';
  const envelope = session.envelope;
  if (verb === 'MAIL') return envelope.mailFrom !== false ? '5.5.1 Error: nested MAIL command' : undefined;
  if (envelope.mailFrom === false) return '5.5.1 Error: need MAIL command';
  if (verb === 'DATA' && envelope.rcptTo.length === 0) return '5.5.1 Error: need RCPT command';
  return undefined;
}

/**
 * The first parameter of `MAIL FROM:<...> ...` or `RCPT TO:<...> ...` that no advertised extension
 * defines, or undefined. The local part may be quoted (RFC 5321 §4.1.2) and contain spaces.
 */
export function unadvertisedParameter(line: string, verb: 'MAIL' | 'RCPT', advertised: ReadonlySet<string>): string | undefined {
  // A line without an angle-bracketed path is smtp-server's to refuse, with 501.
  const m = /^[A-Z]+ +[A-Z]+:\s*<(?:"(?:[^"\\]|\\.)*"|[^>"])*>(.*)$/i.exec(line.trim());
  if (!m) return undefined;
  const known = PARAMETER_KEYWORDS[verb];
  for (const part of m[1].split(/\s+/)) {
    if (part === '') continue;
    const name = part.split('=', 1)[0].toUpperCase();
    const keywords = Object.prototype.hasOwnProperty.call(known, name) ? known[name] : undefined;
    if (keywords === undefined || !keywords.some((k) => advertised.has(k))) return name;
  }
  return undefined;
}

/**
 * Replaces a parser's DATA procedure with RFC 5321 §4.5.2 transparency: a line (ended by CRLF, or the
 * first line of the message) that starts with a period has that period deleted when anything follows
 * it on the line, and a line of a single period ends the data. smtp-server deletes the period only
 * from `..` and would store `.x` as it came, hiding a client that does not dot-stuff. A bare LF does
 * not end a line, just as `<LF>.<LF>` does not end the data.
 */
export function installTransparency(parser: DataParser): void {
  const startDataMode = parser.startDataMode.bind(parser);
  parser.startDataMode = (maxBytes?: number | string | null): SMTPServerDataStream => {
    parser._lineState = 'start';
    return startDataMode(maxBytes);
  };
  parser._feedDataStream = (chunk: Buffer, done: (err?: Error | null) => void): void => {
    const stream = parser._dataStream;
    if (!stream) {
      done();
      return;
    }
    const parts: Buffer[] = [];
    let state: LineState = parser._lineState ?? 'start';
    let from = 0;
    let i = 0;
    let ended = -1;
    while (i < chunk.length && ended < 0) {
      switch (state) {
        case 'start':
          if (chunk[i] === PERIOD) {
            // The period is held back: it is deleted unless the line is the end of the data.
            if (i > from) parts.push(chunk.subarray(from, i));
            i++;
            from = i;
            state = 'dot';
          } else state = 'middle';
          break;
        case 'middle': {
          const cr = chunk.indexOf(CR, i);
          if (cr < 0) i = chunk.length;
          else {
            i = cr + 1;
            state = 'cr';
          }
          break;
        }
        case 'cr':
          if (chunk[i] === LF) {
            i++;
            state = 'start';
          } else if (chunk[i] === CR) i++;
          else state = 'middle';
          break;
        case 'dot':
          if (chunk[i] === CR) {
            // The CR is held back too, until it is known whether LF follows.
            i++;
            from = i;
            state = 'dot-cr';
          } else state = 'middle';
          break;
        case 'dot-cr':
          if (chunk[i] === LF) ended = i + 1;
          else {
            parts.push(CR_ONLY);
            state = 'cr';
          }
          break;
      }
    }
    if (ended < 0 && chunk.length > from) parts.push(chunk.subarray(from));
    parser._lineState = state;
    let writable = true;
    for (const part of parts) {
      parser._countDataBytes(part.length);
      if (stream.writable) writable = stream.write(part);
    }
    if (ended >= 0) {
      parser._lineState = 'start';
      parser._endDataMode(false, chunk.subarray(ended), done);
      return;
    }
    if (writable || stream.destroyed) {
      done();
      return;
    }
    const onDrain = (): void => {
      stream.removeListener('drain', onDrain);
      stream.removeListener('close', onDrain);
      done();
    };
    stream.once('drain', onDrain);
    stream.once('close', onDrain);
  };
}

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
/**
 * A MAIL or RCPT line whose path has a quoted local part (RFC 5321 §4.1.2: Quoted-string, whose
 * qtextSMTP includes the space and whose quoted-pairSMTP is a backslash and a printable character;
 * RFC 6531 §3.3 adds UTF-8). smtp-server splits the line at spaces and the address at `@`, so it
 * refuses `<"john smith"@example.com>` with 501; the local part is handed to it as a placeholder atom
 * and put back afterwards.
 */
const QUOTED_PATH = /^(\s*[A-Za-z]+ +[A-Za-z]+:\s*<(?:@[^:<>]*:)?)("(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\uffff]|\\[\x20-\x7e])*")(@[^<>]*>.*)$/s;
const QUOTED_PLACEHOLDER = 'smtpwb-quoted-local-part';
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
    // The parser made in the constructor, and each one STARTTLS makes, get RFC 5321 transparency.
    if (connection._parser) installTransparency(connection._parser);
    const createParser = connection._createParser.bind(connection);
    connection._createParser = (): SMTPStream => {
      const parser = createParser();
      installTransparency(parser);
      return parser;
    };
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
      // While the hook decides (a rule may delay the greeting), the client waits for the server:
      // the idle timeout does not run (smtp-server re-arms it while a handler is pending).
      connection._handlerPending = true;
      hook(
        {
          sessionId: connection.id,
          remoteAddress: connection.remoteAddress,
          remotePort: connection.remotePort,
          refuse: (code, text) => {
            connection._handlerPending = false;
            connection.send(code, text, false);
            if (code === 421) {
              connection.close();
              return;
            }
            // RFC 5321 §3.1: after a 554 greeting the server waits for QUIT and answers 503 to the
            // rest (see the command wrapper in installHooks).
            connection._refusedGreeting = true;
            connection._ready = true;
          },
          close: () => {
            connection._handlerPending = false;
            connection.close();
          },
        },
        () => {
          connection._handlerPending = false;
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
    const originalParse = connection._parseAddressCommand.bind(connection);
    connection._parseAddressCommand = (rawName: string, rawCommand: Buffer | string): ReturnType<SMTPConnection['_parseAddressCommand']> => {
      const m = QUOTED_PATH.exec(rawCommand.toString());
      if (!m) return originalParse(rawName, rawCommand);
      const parsed = originalParse(rawName, `${m[1]}${QUOTED_PLACEHOLDER}${m[3]}`);
      if (parsed && parsed.address.startsWith(`${QUOTED_PLACEHOLDER}@`)) parsed.address = m[2] + parsed.address.slice(QUOTED_PLACEHOLDER.length);
      return parsed;
    };

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
        // RFC 3207 §4.2: the client starts afresh with EHLO; nothing advertised before counts.
        connection._advertised = undefined;
        this.endWithClient(connection, connection._socket);
        secureCallback?.();
      });
    };

    const originalCommand = connection._onCommand.bind(connection);
    connection._onCommand = (command: Buffer, callback?: () => void): void => {
      const next = callback ?? ((): void => undefined);
      if (connection._refusedGreeting && !connection._upgrading && !this._closeTimeout) {
        // RFC 5321 §3.1: after a 554 greeting only QUIT is accepted.
        const quit = /^QUIT\s*$/i.test(command.toString('latin1'));
        if (quit) {
          connection.send(221, '2.0.0 Bye', false);
          connection.close();
        } else connection.send(503, '5.5.1 Error: no valid commands after the refusal, send QUIT', false);
        connection._whenWritable(next);
        return;
      }
      const hook = this.hooks.command;
      // Continuation lines of AUTH, and anything before the greeting or during a TLS handshake,
      // belong to smtp-server alone.
      if (connection._nextHandler || connection._upgrading || !connection._ready || this._closeTimeout) {
        originalCommand(command, next);
        return;
      }
      const line = command.toString('latin1');
      const verb = (line.split(' ', 1)[0] ?? '').toUpperCase();
      // A command of an extension this server does not offer (STARTTLS without TLS, AUTH without
      // accounts) gets 502 (RFC 5321 §4.2.4), as one a rule hides does; BDAT without CHUNKING is
      // refused the same way once its chunk is read (handleBdat), so the chunk is never taken for
      // commands.
      if (verb === 'BDAT' && !this.chunking) {
        originalCommand(command, next);
        return;
      }
      if ((verb === 'STARTTLS' || verb === 'AUTH') && (this.options.disabledCommands ?? []).includes(verb)) {
        connection.send(502, `5.5.1 ${verb} is not offered here`, false);
        connection._whenWritable(next);
        return;
      }
      // A command out of sequence gets 503 before any rule can answer it (RFC 5321 §4.1.4).
      const outOfSequence = sequenceRefusal(verb, connection.hostNameAppearsAs !== false, connection.session);
      if (outOfSequence !== undefined) {
        connection.send(503, outOfSequence, false);
        connection._whenWritable(next);
        return;
      }
      let parameterRefusal: CommandContext['parameterRefusal'];
      if (verb === 'MAIL' || verb === 'RCPT') {
        const parameter = unadvertisedParameter(line, verb, connection._advertised ?? new Set<string>());
        // The name goes back to the client only when it is an esmtp-keyword (RFC 5321 §4.1.2), so
        // no byte the client chose beyond that is echoed.
        const shown = /^[A-Z0-9][A-Z0-9-]{0,63}$/.test(parameter ?? '') ? `${parameter} parameter` : 'Parameter';
        if (parameter !== undefined) parameterRefusal = { code: 555, text: `5.5.4 ${shown} not recognized`, parameter };
      }
      if (!hook) {
        if (parameterRefusal) {
          connection.send(parameterRefusal.code, parameterRefusal.text, false);
          connection._whenWritable(next);
        } else originalCommand(command, next);
        return;
      }
      const context: CommandContext = {
        parameterRefusal,
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
      // While the hook decides (a rule may delay the reply), the client waits for the server: the
      // idle timeout does not run (RFC 5321 §4.5.3.2 timeouts are for a silent client).
      connection._handlerPending = true;
      hook(
        context,
        () => {
          connection._handlerPending = false;
          originalCommand(command, next);
        },
        () => {
          connection._handlerPending = false;
          connection._whenWritable(next);
        },
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
          connection._advertised = new Set(keywords.map((k) => (k.split(' ', 1)[0] ?? '').toUpperCase()));
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

    // After HELO no extension is in force (RFC 5321 §4.1.1.1), so no parameter is either.
    const originalHelo = connection.handler_HELO.bind(connection);
    connection.handler_HELO = (command: Buffer, callback: () => void): void => {
      originalHelo(command, () => {
        if (connection.hostNameAppearsAs !== false) connection._advertised = new Set<string>();
        callback();
      });
    };

    const originalClose = connection._onClose.bind(connection);
    connection._onClose = (): void => {
      // A client that goes away in the middle of BDAT leaves nothing stored.
      this.dropBdat(connection);
      originalClose();
    };

    // Without CHUNKING, BDAT is still read (and refused with 502) so its chunk is not taken for commands.
    connection.handler_BDAT = (command: Buffer, callback: () => void): void => this.handleBdat(connection, command, callback);
    if (this.chunking) {
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
      // Without a valid size the chunk cannot be skipped, so the connection cannot go on; the
      // server says so with 421 before it closes (RFC 5321 §3.8).
      connection.send(501, '5.5.4 Syntax: BDAT chunk-size [LAST]', false);
      if (parser) {
        connection.send(421, '4.5.0 Closing the connection: the chunk cannot be skipped without a valid size', false);
        connection.close();
      }
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
    if (!this.chunking) {
      refusal = '5.5.1 BDAT is not offered here';
      refusalCode = 502;
    } else if (ruled) {
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

    const dataFeed = parser._feedDataStream;
    const finishChunk = (rest: Buffer, done: (err?: Error) => void): void => {
      parser._dataMode = false;
      parser._remainder = '';
      parser._feedDataStream = dataFeed;
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
      parser._feedDataStream = dataFeed;
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
