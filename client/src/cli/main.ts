#!/usr/bin/env node
/**
 * `smtpwb`: the command-line tool on the same pure core as the extension. This file only
 * dispatches, and stays small: each command is a bundle of its own beside it (dist/cli-run.js,
 * dist/cli-lint.js, …, built by scripts/build.mjs from the command's module), compiled and
 * evaluated only when that command runs. `smtpwb --help` evaluates nothing else, and `smtpwb run`
 * never evaluates the DNS checks or the DKIM signer. Installed also as `smtp-language-server`,
 * which starts the language server directly.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { format } from 'node:util';
import { visibleText } from '../../../common/escape';
import { FdWriter, type CliIo } from './cliIo';
import type { loadBundle as LoadBundle } from './commandLoader';

const VERSION = '0.1.0';

const HELP = `smtpwb ${VERSION}: SMTP Workbench on the command line

usage:
  smtpwb lint FILE|DIR... [--language smtp|eml] [--json] [--list-codes]
      lint .smtp scripts and .eml messages
  smtpwb run FILE.smtp [--session NAME|--all] [--var NAME=VALUE]... [--env NAME] [--json] [--junit FILE]
             [--timeout SECONDS] [--repeat N] [--parallel N] [--local HOST:PORT] [--inbox DIR]
             [--dns-server HOST:PORT] [--dry-run]
      run the sessions of a script
  smtpwb dns DOMAIN... [--selector NAME]... [--dns-server HOST:PORT] [--timeout MS] [--probe-starttls]
             [--json|--markdown]
      check a domain's mail DNS (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, BIMI)
  smtpwb verify FILE.eml [--ip IP] [--helo NAME] [--mail-from ADDR] [--dns-server HOST:PORT] [--timeout MS]
             [--json]
      check a message's DKIM, SPF, DMARC, ARC and BIMI
  smtpwb sign FILE.eml --domain D --selector S --key FILE [--algorithm ed25519-sha256|rsa-sha256]
             [--output FILE]
      sign a message with DKIM and print the TXT record verifiers need
  smtpwb dkim keygen|check --domain D --selector S [...]
      create a DKIM key and its TXT record; check a published one
  smtpwb serve [--port N] [--host H] [--dir DIR] [...]
      run the local capture server
  smtpwb inbox list|get|wait|delete|clear [...]
      the capture server's messages, over its HTTP API
  smtpwb report FILE|DIR... [--json|--csv|--markdown] [--min-pass RATE] [--no-dns | --dns-server HOST:PORT]
  smtpwb report fetch --imap HOST:PORT --user U [--mailbox M] [--tls|--starttls] [--out DIR]
      summarise DMARC aggregate, failure and TLS-RPT reports; fetch them over IMAP
  smtpwb lsp [--stdio]
      start the language server (for Neovim, Helix, Emacs…)
  smtpwb --version

Each command has --help (or: smtpwb help COMMAND). Exit codes: 0 success, 1 errors or failed
expectations, 2 usage or script errors, 3 network, TLS, DNS or timeout failures, 130 interrupted.
`;

type Command = (args: string[], io: CliIo) => Promise<number>;

/** Each command's bundle (dist/NAME.js, built by scripts/build.mjs) and the function it exports. */
const COMMANDS: Record<string, { bundle: string; name: string }> = {
  lint: { bundle: 'cli-lint', name: 'lintCommand' },
  run: { bundle: 'cli-run', name: 'runCommand' },
  dns: { bundle: 'cli-dns', name: 'dnsCommand' },
  verify: { bundle: 'cli-verify', name: 'verifyCommand' },
  sign: { bundle: 'cli-sign', name: 'signCommand' },
  dkim: { bundle: 'cli-dkim', name: 'dkimCommand' },
  serve: { bundle: 'cli-serve', name: 'serveCommand' },
  inbox: { bundle: 'cli-inbox', name: 'inboxCommand' },
  report: { bundle: 'cli-report', name: 'reportCommand' },
  lsp: { bundle: 'cli-lsp', name: 'lspCommand' },
};

/**
 * Loads a command's bundle, through V8's code cache (commandLoader.ts). It sits beside this file in
 * dist/; a build elsewhere (tests) names its folder in SMTPWB_DIST.
 */
function loadCommand(command: string): Command {
  const { bundle, name } = COMMANDS[command];
  // The loader and what it uses (node:vm, node:module) are evaluated only when a command runs:
  // `smtpwb --help` and `--version` need neither. esbuild keeps the module in this bundle.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadBundle } = require('./commandLoader') as { loadBundle: typeof LoadBundle };
  const beside = join(__dirname, `${bundle}.js`);
  const path = existsSync(beside) ? beside : resolve(process.env.SMTPWB_DIST ?? 'dist', `${bundle}.js`);
  const loaded = loadBundle(path)[name];
  if (typeof loaded !== 'function') throw new Error(`${path} does not export ${name}`);
  return loaded as Command;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'help' && rest[0] !== undefined && Object.hasOwn(COMMANDS, rest[0])) return loadCommand(rest[0])(['--help'], io);
  if (command === undefined) {
    io.stderr.write(HELP);
    return 2;
  }
  if (command === '-h' || command === '--help' || command === 'help') {
    io.stdout.write(HELP);
    return 0;
  }
  if (command === '--version' || command === '-v') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (!Object.hasOwn(COMMANDS, command)) {
    io.stderr.write(`smtpwb: unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  return loadCommand(command)(rest, io);
}

/**
 * The status of a program cut short by a reader that went away: 128 + SIGPIPE, what the shell
 * reports for a Unix tool killed by the signal. Never 0: under `set -o pipefail`, a run that
 * could not finish (`smtpwb run failing.smtp | head -1`) must not pass for one that did.
 */
const BROKEN_PIPE_STATUS = 141;

/**
 * A reader that went away (`smtpwb … | head`) ends the program quietly, as Unix tools do: no
 * stack trace, and the exit status of a broken pipe, unless the command had already finished and
 * set its own.
 */
function endOnBrokenPipe(): never {
  process.exit(process.exitCode ?? BROKEN_PIPE_STATUS);
}

function endQuietlyOnEpipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') endOnBrokenPipe();
    throw error;
  });
}

/**
 * Standard output and error for a command: written straight to descriptors 1 and 2 (see
 * `FdWriter`), so no stream is created for them; the language server, which talks over
 * `process.stdin` and `process.stdout` itself, `serve`, which runs for long, and Windows, whose console needs Node's own stream,
 * get the process's streams.
 */
function commandStreams(command: string | undefined): { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; flush(then: () => void): void } {
  // `serve` runs for long: a stalled reader of its log must never block the SMTP server in write(2).
  if (command === 'lsp' || command === 'serve' || process.platform === 'win32') {
    endQuietlyOnEpipe(process.stdout);
    endQuietlyOnEpipe(process.stderr);
    return { stdout: process.stdout, stderr: process.stderr, flush: (then) => process.stdout.write('', () => process.stderr.write('', then)) };
  }
  // The process's streams are created only if a descriptor refuses a write (see FdWriter).
  const fallback = (stream: () => NodeJS.WriteStream) => (): NodeJS.WriteStream => {
    endQuietlyOnEpipe(stream());
    return stream();
  };
  const group = { fallen: false };
  const stdout = new FdWriter(1, fallback(() => process.stdout), endOnBrokenPipe, undefined, group);
  const stderr = new FdWriter(2, fallback(() => process.stderr), endOnBrokenPipe, undefined, group);
  return {
    // Commands only call `write` and read `isTTY`; the stream type is what CliIo promises them.
    stdout: stdout as unknown as NodeJS.WritableStream,
    stderr: stderr as unknown as NodeJS.WritableStream,
    flush: (then) => stdout.flush(() => stderr.flush(then)),
  };
}

/**
 * Libraries print now and then: mailauth logs `TOTAL … EXPECTING …` when a DKIM signature's `l=` is
 * longer than the body, which the sender of the message decides. Standard output carries only the
 * command's own output (so `--json` stays one exact JSON document), and what the libraries print
 * goes to standard error, escaped like anything a peer may have shaped. The language server sends
 * it to the client's log instead (lspCommand.ts).
 */
function routeLibraryConsole(stderr: NodeJS.WritableStream): void {
  const write = (...args: unknown[]): void => {
    stderr.write(`${visibleText(format(...args))}\n`);
  };
  console.log = write;
  console.info = write;
  console.debug = write;
}

if (require.main === module) {
  const argv = basename(process.argv[1] ?? '') === 'smtp-language-server' ? ['lsp', ...process.argv.slice(2)] : process.argv.slice(2);
  const streams = commandStreams(argv[0]);
  if (argv[0] !== 'lsp') routeLibraryConsole(streams.stderr);
  const io: CliIo = {
    stdout: streams.stdout,
    stderr: streams.stderr,
    env: process.env,
    cwd: process.cwd(),
    // Standard input is created on first read of `process.stdin` (a stream, and for a terminal the
    // tty and readline modules): only a command that asks reads it.
    get stdin() {
      return process.stdin;
    },
  };
  main(argv, io).then(
    (code) => {
      process.exitCode = code;
      // DNS queries still retrying and sockets still closing must not hold the answer back: once
      // the output is flushed, the command is over.
      streams.flush(() => process.exit(code));
    },
    (error: unknown) => {
      streams.stderr.write(`smtpwb: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
