#!/usr/bin/env node
/**
 * `smtpwb`: the command-line tool on the same pure core as the extension. Each subcommand lives
 * in its own module; this file only dispatches. Installed also as `smtp-language-server`, which
 * starts the language server directly.
 */
import { basename } from 'node:path';
import type { CliIo } from './cliIo';
import { dnsCommand } from './dnsCommand';
import { lintCommand } from './lintCommand';
import { runCommand } from './runCommand';
import { serveCommand } from './serveCommand';
import { signCommand } from './signCommand';
import { verifyCommand } from './verifyCommand';

const VERSION = '0.1.0';

const HELP = `smtpwb ${VERSION}: SMTP Workbench on the command line

usage:
  smtpwb lint FILE|DIR... [--json] [--list-codes]     lint .smtp scripts and .eml messages
  smtpwb run FILE [--session NAME|--all] [--var NAME=VALUE]... [--env NAME] [--json] [--junit FILE]
             [--timeout SECONDS] [--repeat N] [--parallel N] [--local HOST:PORT] [--inbox DIR]
  smtpwb dns DOMAIN... [--selector NAME]... [--dns-server HOST:PORT] [--probe-starttls] [--json|--markdown]
  smtpwb verify FILE.eml [--ip IP] [--helo NAME] [--mail-from ADDR] [--dns-server HOST:PORT] [--json]
  smtpwb sign FILE.eml --domain D --selector S --key FILE [--algorithm ed25519-sha256|rsa-sha256]
  smtpwb serve [--port N] [--host H] [--dir DIR] [--auth USER:PASS]   run the local capture server
  smtpwb lsp --stdio                                  start the language server (for Neovim, Helix, Emacs…)
  smtpwb --version

Each command has --help. Exit codes: 0 success, 1 errors or failed expectations, 2 usage or
script errors, 3 network, TLS, DNS or timeout failures.
`;

type Command = (args: string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  lint: lintCommand,
  run: runCommand,
  dns: dnsCommand,
  verify: verifyCommand,
  sign: signCommand,
  serve: serveCommand,
  lsp: async (args) => {
    if (!args.includes('--stdio') && !args.includes('--node-ipc') && !args.some((a) => a.startsWith('--socket') || a.startsWith('--pipe'))) {
      process.argv.push('--stdio');
    }
    const { startServer } = await import('../../../server/src/server');
    const { createConnection, ProposedFeatures } = await import('vscode-languageserver/node');
    startServer(createConnection(ProposedFeatures.all));
    // The connection keeps the process alive until the client sends exit.
    return new Promise<number>(() => undefined);
  },
};

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    io.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    io.stderr.write(`smtpwb: unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  return run(rest, io);
}

if (require.main === module) {
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), stdin: process.stdin };
  const argv = basename(process.argv[1] ?? '') === 'smtp-language-server' ? ['lsp', ...process.argv.slice(2)] : process.argv.slice(2);
  main(argv, io).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`smtpwb: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
