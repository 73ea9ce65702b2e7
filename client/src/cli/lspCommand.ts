/**
 * `smtpwb lsp` (also installed as `smtp-language-server`): starts the language server on the
 * transport the arguments name. A bundle of its own (dist/cli-lsp.js), loaded only for this command.
 */
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
  if (stdio) {
    const { connectStdio } = await import('../../../server/src/stdioTransport');
    startServer(connectStdio());
  } else {
    const { createConnection, ProposedFeatures } = await import('vscode-languageserver/node');
    startServer(createConnection(ProposedFeatures.all));
  }
  // The connection keeps the process alive until the client sends exit.
  return new Promise<number>(() => undefined);
}
