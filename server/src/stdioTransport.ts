/**
 * The language server's stdio transport, for every way it is started on stdio (`smtpwb lsp --stdio`,
 * `smtp-language-server`, `node dist/server.js --stdio`): messages are framed whole, read in input
 * order, console output goes to the client's log, and the process ends on the client's `exit` only
 * once what it wrote has reached the pipe (LSP §exit: status 0 after shutdown, else 1).
 */
import { inspect } from 'node:util';
import {
  AbstractMessageReader,
  AbstractMessageWriter,
  Disposable,
  ProposedFeatures,
  createConnection,
  type Connection,
  type DataCallback,
  type Message,
  type MessageReader,
  type MessageWriter,
  type NotificationMessage,
  type RemoteConsole,
} from 'vscode-languageserver/node';

/**
 * A connection on the process's stdin and stdout. What vscode-languageserver does when it owns the
 * stdio streams is done here, as it does not when given a reader and writer: console output goes to
 * the client's log (stdout carries only protocol messages). The end is done here too, without
 * losing output (exitAfterOutput).
 */
export function connectStdio(): Connection {
  const writer = stdioWriter(process.stdout);
  let shutdownReceived = false;
  const reader = stdinReader(process.stdin, (method) => {
    if (method === 'shutdown') shutdownReceived = true;
  });
  const connection = createConnection(ProposedFeatures.all, reader, writer);
  routeConsole(connection.console);
  connection.onNotification(EXIT_AFTER_OUTPUT, () => exitAfterOutput(writer, shutdownReceived ? 0 : 1));
  return connection;
}

/**
 * The notification the stdio reader hands the connection for the client's `exit` (or the end of its
 * input): handled by exitAfterOutput, never by vscode-languageserver.
 */
const EXIT_AFTER_OUTPUT = 'smtpwb/exitAfterOutput';

/**
 * How long the server waits at exit for what it wrote to reach the pipe. A client that reads its
 * answers gets them all well within this; one that stopped reading does not keep the server alive.
 */
const EXIT_OUTPUT_WAIT_MS = 3000;

/**
 * Ends the process with `code` once every message written so far is in the pipe, or after
 * EXIT_OUTPUT_WAIT_MS. On a POSIX pipe stdout is asynchronous: exiting at once, as
 * vscode-languageserver does on `exit`, drops the shutdown response and the diagnostics still queued
 * when the client sends `shutdown` and `exit` back to back.
 */
function exitAfterOutput(writer: StdioMessageWriter, code: number): void {
  const timer = setTimeout(() => process.exit(code), EXIT_OUTPUT_WAIT_MS);
  void writer.written().then(() => {
    clearTimeout(timer);
    process.exit(code);
  });
}

/**
 * A message reader for stdin that hands the connection the messages read, in the order of the
 * input, and the client's `exit` (or the end of the input, when the client goes without one) as
 * EXIT_AFTER_OUTPUT after them. vscode-jsonrpc's stream reader decodes each message in a later turn
 * of the event loop, one turn per message, so the end of the input overtook the messages before it,
 * and its `exit` ended the process before the answers were written. Here what arrives is decoded in
 * one later turn (setImmediate), the end of the input included, so nothing overtakes anything;
 * decoding in that later turn rather than inside the stream's data event also keeps the server's
 * peak memory for a 10 MB message where it was (bench/eml-lsp: 3.6× the message above the idle
 * server, against 4.6× when decoded inside the event). LSP §exit: the server exits with 0 if
 * shutdown was received before, else 1; what a client sends after `exit` is not read. `seen` is
 * told each method read, before the connection handles it.
 */
function stdinReader(input: NodeJS.ReadableStream, seen: (method: string) => void): MessageReader {
  class Reader extends AbstractMessageReader implements MessageReader {
    /** What was read and not yet handed on: a header being read, or the content of a message. */
    private chunks: Buffer[] = [];
    private length = 0;
    /** The content length the last header gave, or -1 while a header is being read. */
    private contentLength = -1;
    private exited = false;

    listen(callback: DataCallback): Disposable {
      const exit = () => {
        if (this.exited) return;
        this.exited = true;
        input.pause();
        this.chunks = [];
        callback({ jsonrpc: '2.0', method: EXIT_AFTER_OUTPUT } as NotificationMessage);
      };
      let scheduled = false;
      let ended = false;
      const onData = (chunk: Buffer) => {
        if (this.exited) return;
        this.chunks.push(chunk);
        this.length += chunk.length;
        if (!scheduled) {
          scheduled = true;
          setImmediate(drain);
        }
      };
      const onEnd = () => {
        ended = true;
        if (!scheduled) {
          scheduled = true;
          setImmediate(drain);
        }
      };
      const drain = () => {
        scheduled = false;
        for (;;) {
          const message = this.next();
          if (this.exited) return;
          if (message === undefined) {
            if (ended) exit();
            return;
          }
          const method = (message as { method?: unknown }).method;
          if (method === 'exit') return exit();
          if (typeof method === 'string') seen(method);
          callback(message);
        }
      };
      const onError = (error: Error) => this.fireError(error);
      input.on('data', onData);
      input.on('error', onError);
      input.once('end', onEnd);
      input.once('close', onEnd);
      return Disposable.create(() => {
        input.off('data', onData);
        input.off('error', onError);
        input.off('end', onEnd);
        input.off('close', onEnd);
      });
    }

    /** The next whole message read, if there is one; a message that is not JSON is reported and skipped. */
    private next(): Message | undefined {
      for (;;) {
        if (this.contentLength < 0) {
          const bytes = this.joined();
          const end = bytes.indexOf('\r\n\r\n');
          if (end < 0) {
            if (bytes.length > MAX_HEADER_BYTES) this.skip(bytes.length, new Error(`a message header longer than ${MAX_HEADER_BYTES} bytes`));
            return undefined;
          }
          // LSP base protocol: header fields end with CRLF, Content-Length is required, and the only
          // content type is JSON in UTF-8 (Content-Type, when given, is not read further).
          const header = bytes.subarray(0, end).toString('latin1');
          const length = /^content-length:[ \t]*(\d+)[ \t]*\r?$/im.exec(header)?.[1];
          this.skip(end + 4);
          if (length === undefined) {
            this.fireError(new Error(`a message header without Content-Length: ${JSON.stringify(header.slice(0, 200))}`));
            continue;
          }
          this.contentLength = Number(length);
        }
        if (this.length < this.contentLength) return undefined;
        const bytes = this.joined();
        const content = bytes.subarray(0, this.contentLength);
        this.skip(this.contentLength);
        this.contentLength = -1;
        try {
          return JSON.parse(UTF8.decode(content)) as Message;
        } catch (error) {
          this.fireError(error);
        }
      }
    }

    /** The bytes read so far, as one buffer (joined once for a message, however many chunks it came in). */
    private joined(): Buffer {
      if (this.chunks.length !== 1) this.chunks = [this.chunks.length === 0 ? Buffer.alloc(0) : Buffer.concat(this.chunks, this.length)];
      return this.chunks[0];
    }

    /** Drops the first `count` bytes read (joined first). */
    private skip(count: number, error?: Error): void {
      const joined = this.joined();
      // What is left is copied out of a large buffer: a view of it would keep the whole buffer (a
      // 10 MB message just read) alive while that message is handled.
      const rest = joined.length - count > 0 && joined.length > COPY_REST_ABOVE ? Buffer.from(joined.subarray(count)) : joined.subarray(count);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.length = rest.length;
      if (error) this.fireError(error);
    }
  }
  return new Reader();
}

/** How message content is decoded (UTF-8, LSP base protocol). */
const UTF8 = new TextDecoder('utf-8');

/** A buffer of input larger than this is not kept alive by the few bytes read after a message. */
const COPY_REST_ABOVE = 64 * 1024;

/** A header longer than this is not a header: the input is skipped up to where it ends. */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * The bytes of one message as the LSP base protocol frames it (a Content-Length header, an empty
 * line, the UTF-8 JSON content), in one buffer.
 */
function frameMessage(content: string): Buffer {
  const length = Buffer.byteLength(content, 'utf8');
  const header = `Content-Length: ${length}\r\n\r\n`;
  const out = Buffer.allocUnsafe(header.length + length);
  out.write(header, 0, 'latin1');
  out.write(content, header.length, 'utf8');
  return out;
}

/** The stdio writer, with what the exit needs: a promise for the moment nothing is left to write. */
interface StdioMessageWriter extends MessageWriter {
  /** Resolves when every message written so far has been handed to the pipe (or failed to be). */
  written(): Promise<void>;
}

/**
 * A message writer for stdout that sends each message in one write, header and content together. vscode-jsonrpc's stream writer writes them apart, and on a pipe each write is a
 * system call that wakes the client: every keystroke's diagnostics paid for two.
 */
function stdioWriter(output: NodeJS.WritableStream): StdioMessageWriter {
  class Writer extends AbstractMessageWriter implements StdioMessageWriter {
    private errorCount = 0;
    private pending = 0;
    private idle: Array<() => void> = [];

    constructor() {
      super();
      output.on('error', (error: Error) => this.fireError(error));
      output.on('close', () => this.fireClose());
    }

    write(message: Message): Promise<void> {
      this.pending++;
      return new Promise((resolve, reject) => {
        output.write(frameMessage(JSON.stringify(message)), (error?: Error | null) => {
          if (--this.pending === 0) for (const done of this.idle.splice(0)) done();
          if (error) {
            this.errorCount++;
            this.fireError(error, message, this.errorCount);
            reject(error);
          } else {
            this.errorCount = 0;
            resolve();
          }
        });
      });
    }

    written(): Promise<void> {
      if (this.pending === 0) return Promise.resolve();
      return new Promise((resolve) => this.idle.push(resolve));
    }

    end(): void {
      // The process's stdout is not ended by the connection.
    }
  }
  return new Writer();
}

/**
 * Sends console output to the client's log instead of stdout, where it would break the protocol
 * (vscode-languageserver does the same when it owns the stdio streams).
 */
function routeConsole(remote: RemoteConsole): void {
  const text = (args: unknown[]) => args.map((a) => (typeof a === 'string' ? a : inspect(a))).join(' ');
  console.log = (...args: unknown[]) => remote.log(text(args));
  console.info = (...args: unknown[]) => remote.info(text(args));
  console.debug = (...args: unknown[]) => remote.log(text(args));
  console.warn = (...args: unknown[]) => remote.warn(text(args));
  console.error = (...args: unknown[]) => remote.error(text(args));
  console.trace = (...args: unknown[]) => remote.log(`${text(args)}\n${new Error().stack ?? ''}`);
}
