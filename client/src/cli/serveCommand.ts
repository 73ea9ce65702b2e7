/**
 * `smtpwb serve`: runs the local capture server in the foreground, prints its address and one line
 * for each message it receives, and stops cleanly on SIGINT or SIGTERM (exit code 0).
 */
import { resolve } from 'node:path';
import type { CliIo } from './cliIo';
import { isLoopbackHost, startCaptureServer, type CaptureServer, type CaptureServerOptions, type StoredMessage } from '../localServer';

export const SERVE_HELP = `usage: smtpwb serve [--port N] [--host H] [--dir DIR] [--auth USER:PASS] [--require-auth]
                   [--no-tls] [--size-limit OCTETS]

Runs the local capture server: an SMTP server that accepts every message and stores it as an .eml
file (with an .envelope.json sidecar) in DIR. It offers STARTTLS with a self-signed certificate kept
in DIR/.smtpwb-tls/cert.pem, AUTH, SIZE, 8BITMIME, SMTPUTF8 and PIPELINING.

  --port N              the port (default 2525; 0 picks a free one)
  --host H              the address to listen on (default 127.0.0.1, loopback only)
  --dir DIR             where messages are stored (default ./smtpwb-inbox)
  --auth USER:PASS      accept only this account for AUTH (default: any credentials)
  --require-auth        refuse mail from clients that did not authenticate (530)
  --no-tls              do not offer STARTTLS
  --size-limit OCTETS   the SIZE limit; larger messages get 552 (default 52428800; 0 for none)

Stop it with Ctrl+C (SIGINT) or SIGTERM.
`;

/** What `serveCommand` reads from its arguments. */
interface ServeArgs {
  port: number;
  host: string;
  dir: string;
  auth?: { user: string; pass: string };
  requireAuth: boolean;
  tls: boolean;
  sizeLimit?: number;
}

function parseArgs(args: string[], cwd: string): ServeArgs | string {
  const out: ServeArgs = { port: 2525, host: '127.0.0.1', dir: resolve(cwd, 'smtpwb-inbox'), requireAuth: false, tls: true };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string | undefined => inline ?? args[++i];
    switch (name) {
      case '--port': {
        const text = value();
        const port = Number(text);
        if (text === undefined || !/^\d+$/.test(text) || port > 65535) return `--port needs a number from 0 to 65535, not "${text ?? ''}"`;
        out.port = port;
        break;
      }
      case '--host': {
        const text = value();
        if (text === undefined || text === '') return '--host needs an address';
        out.host = text;
        break;
      }
      case '--dir': {
        const text = value();
        if (text === undefined || text === '') return '--dir needs a folder';
        out.dir = resolve(cwd, text);
        break;
      }
      case '--auth': {
        const text = value();
        const colon = text?.indexOf(':') ?? -1;
        if (text === undefined || colon <= 0) return '--auth needs USER:PASS';
        out.auth = { user: text.slice(0, colon), pass: text.slice(colon + 1) };
        break;
      }
      case '--require-auth':
        out.requireAuth = true;
        break;
      case '--no-tls':
        out.tls = false;
        break;
      case '--size-limit': {
        const text = value();
        if (text === undefined || !/^\d+$/.test(text)) return `--size-limit needs a number of octets, not "${text ?? ''}"`;
        out.sizeLimit = Number(text);
        break;
      }
      default:
        return `unknown option "${arg}"`;
    }
  }
  return out;
}

/** One line for a received message: sender, recipients, subject and file. */
export function describeMessage(message: StoredMessage): string {
  const from = message.envelope ? `<${message.envelope.mailFrom}>` : (message.from ?? '?');
  const to = message.envelope ? message.envelope.rcptTo.map((r) => `<${r}>`).join(', ') : (message.to ?? '?');
  const subject = message.subject === undefined ? '(no subject)' : JSON.stringify(message.subject);
  const at = message.receivedAt;
  const time = [at.getHours(), at.getMinutes(), at.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  return `[${time}] from ${from} to ${to} subject ${subject} (${message.size} octets) -> ${message.path}`;
}

/**
 * Runs `smtpwb serve ARGS`. Resolves with the exit code once the server has stopped: 0 after
 * SIGINT, SIGTERM or `io.signal`, 1 when it cannot start, 2 for a usage error.
 */
export async function serveCommand(args: string[], io: CliIo & { signal?: AbortSignal }): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    io.stdout.write(SERVE_HELP);
    return 0;
  }
  const parsed = parseArgs(args, io.cwd);
  if (typeof parsed === 'string') {
    io.stderr.write(`smtpwb serve: ${parsed}\n\n${SERVE_HELP}`);
    return 2;
  }
  const options: CaptureServerOptions = {
    host: parsed.host,
    port: parsed.port,
    dir: parsed.dir,
    tls: parsed.tls ? 'generate' : false,
    auth: parsed.auth ?? 'any',
    requireAuth: parsed.requireAuth,
    sizeLimit: parsed.sizeLimit,
    logger: (entry) => {
      // Client errors and refusals go to stderr; the "stored" lines are printed by onMessage.
      if (entry.level !== 'info' || entry.message.startsWith('refused') || entry.message.startsWith('AUTH')) {
        io.stderr.write(`smtpwb serve: ${entry.remoteAddress ? `${entry.remoteAddress}: ` : ''}${entry.message}\n`);
      }
    },
  };
  let server: CaptureServer;
  try {
    server = await startCaptureServer(options);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint = code === 'EADDRINUSE' ? ` (port ${parsed.port} is in use; try --port 0 or another port)` : '';
    io.stderr.write(`smtpwb serve: cannot start: ${error instanceof Error ? error.message : String(error)}${hint}\n`);
    return 1;
  }
  if (!isLoopbackHost(server.host)) {
    io.stderr.write(`smtpwb serve: warning: ${server.host} is not a loopback address, so other machines can send mail here\n`);
  }
  const tlsText = server.certificatePem === undefined ? 'no STARTTLS' : `STARTTLS, certificate ${server.certificatePath ?? '(given)'}`;
  const authText = server.authMode === 'any' ? 'AUTH accepts any credentials' : server.authMode === 'account' ? `AUTH as ${parsed.auth?.user ?? ''}` : 'no AUTH';
  io.stdout.write(`smtpwb serve: listening on ${server.address} (${tlsText}; ${authText})\n`);
  io.stdout.write(`smtpwb serve: storing messages in ${server.dir}\n`);
  io.stdout.write('smtpwb serve: press Ctrl+C to stop\n');
  const subscription = server.onMessage((message) => io.stdout.write(`${describeMessage(message)}\n`));

  await new Promise<void>((done) => {
    const finish = (): void => {
      process.removeListener('SIGINT', finish);
      process.removeListener('SIGTERM', finish);
      io.signal?.removeEventListener('abort', finish);
      done();
    };
    process.once('SIGINT', finish);
    process.once('SIGTERM', finish);
    if (io.signal?.aborted) finish();
    else io.signal?.addEventListener('abort', finish, { once: true });
  });
  io.stdout.write('smtpwb serve: stopping\n');
  subscription.dispose();
  await server.stop();
  io.stdout.write('smtpwb serve: stopped\n');
  return 0;
}
