/**
 * `smtpwb lsp` (also installed as `smtp-language-server`): starts the language server on the
 * transport the arguments name. A bundle of its own (dist/cli-lsp.js), loaded only for this command.
 */
import { inspect } from 'node:util';
import type { DataCallback, Disposable, Message, MessageWriter, RemoteConsole } from 'vscode-languageserver/node';
import type { CliIo } from './cliIo';
import { parseOptions, usageError, wantsHelp } from './options';

const LSP_USAGE = `usage: smtpwb lsp [--stdio | --node-ipc | --socket=PORT | --pipe=NAME] [--clientProcessId=PID]

Starts the SMTP Workbench language server (diagnostics, hovers, completion, outline, folding and
quick fixes for .smtp scripts and .eml messages) on the given transport; --stdio by default. Also
installed as smtp-language-server.

  -h, --help   show this help
`;

const LSP_OPTIONS = {
  stdio: { type: 'boolean' },
  'node-ipc': { type: 'boolean' },
  socket: { type: 'string' },
  pipe: { type: 'string' },
  clientProcessId: { type: 'string' },
} as const;

export async function lspCommand(args: string[], io: CliIo): Promise<number> {
  if (wantsHelp(args)) {
    io.stdout.write(LSP_USAGE);
    return 0;
  }
  // The options are checked here. On stdio (the default) the server has its own transport (below);
  // for the others vscode-languageserver reads the transport from process.argv itself.
  const parsed = parseOptions(args, LSP_OPTIONS);
  if (!parsed.ok) return usageError(io, 'lsp', parsed.error, LSP_USAGE);
  if (parsed.positionals.length > 0) return usageError(io, 'lsp', `unexpected argument "${parsed.positionals[0]}"`, LSP_USAGE);
  const v = parsed.values;
  const stdio = v.stdio || (!v['node-ipc'] && v.socket === undefined && v.pipe === undefined);
  const { startServer } = await import('../../../server/src/server');
  const lsp = await import('vscode-languageserver/node');
  const { createConnection, ProposedFeatures } = lsp;
  if (stdio) {
    // What vscode-languageserver does when it owns the stdio streams, done here as it does not when
    // given a reader and writer: console output goes to the client's log (stdout carries only
    // protocol messages), and when the client goes the server goes, with status 0 only after a
    // shutdown request.
    let shutdownReceived = false;
    class StdinReader extends lsp.StreamMessageReader {
      override listen(callback: DataCallback): Disposable {
        return super.listen((message) => {
          if ((message as { method?: unknown }).method === 'shutdown') shutdownReceived = true;
          callback(message);
        });
      }
    }
    const connection = createConnection(ProposedFeatures.all, new StdinReader(process.stdin), stdioWriter(lsp, process.stdout));
    routeConsole(connection.console);
    const onEnd = () => process.exit(shutdownReceived ? 0 : 1);
    process.stdin.once('end', onEnd);
    process.stdin.once('close', onEnd);
    startServer(connection);
  } else {
    startServer(createConnection(ProposedFeatures.all));
  }
  // The connection keeps the process alive until the client sends exit.
  return new Promise<number>(() => undefined);
}

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

/**
 * A message writer for stdout that sends each message in one write, header and content together. vscode-jsonrpc's stream writer writes them apart, and on a pipe each write is a
 * system call that wakes the client: every keystroke's diagnostics paid for two.
 */
function stdioWriter(lsp: typeof import('vscode-languageserver/node'), output: NodeJS.WritableStream): MessageWriter {
  class StdioMessageWriter extends lsp.AbstractMessageWriter implements MessageWriter {
    private errorCount = 0;

    constructor() {
      super();
      output.on('error', (error: Error) => this.fireError(error));
      output.on('close', () => this.fireClose());
    }

    write(message: Message): Promise<void> {
      return new Promise((resolve, reject) => {
        output.write(frameMessage(JSON.stringify(message)), (error?: Error | null) => {
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

    end(): void {
      // The process's stdout is not ended by the connection.
    }
  }
  return new StdioMessageWriter();
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
