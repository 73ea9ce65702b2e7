/**
 * `smtpwb serve`: runs the local capture server in the foreground, prints its address and one line
 * for each message it receives, and stops cleanly on SIGINT or SIGTERM (exit code 0). With
 * `--rules FILE` it answers by behaviour rules (reloaded when the file changes); with `--api PORT`
 * it also serves the HTTP API for tests (docs/capture-api.yaml).
 */
import { watch, type FSWatcher, promises as fs } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { visibleLine } from '../../../common/escape';
import type { CliIo } from './cliIo';
import { DEFAULT_SIZE_LIMIT, isLoopbackHost, loadRulesFile, startCaptureServer, type CaptureRules, type CaptureServer, type CaptureServerOptions, type StoredMessage } from '../localServer';
import { startCaptureApi, type CaptureApi } from '../localServer/captureApi';
import { createResolver, parseDnsServer } from '../mailAuth';
import { parseDuration } from './options';

export const SERVE_AUTH_ENV = 'SMTPWB_SERVE_AUTH';
export const SERVE_API_TOKEN_ENV = 'SMTPWB_API_TOKEN';

export const SERVE_HELP = `usage: smtpwb serve [--port N] [--host H] [--dir DIR] [--auth-file FILE] [--require-auth]
                   [--no-tls] [--no-chunking] [--size-limit OCTETS] [--rules FILE]
                   [--idle-timeout DURATION] [--max-clients N]
                   [--api PORT [--api-host H --api-token-file FILE]] [--no-verify | --dns-server HOST:PORT]

Runs the local capture server: an SMTP server that accepts every message and stores it in DIR: at
once in a journal (a message over 1 MiB straight to its file), and as an .eml file (with an
.envelope.json sidecar) as soon as it is quiet. It offers STARTTLS with a self-signed certificate kept
in DIR/.smtpwb-tls/cert.pem, AUTH, SIZE, 8BITMIME, SMTPUTF8, PIPELINING and CHUNKING.

  --port N              the port (default 2525; 0 picks a free one)
  --host H              the address to listen on (default 127.0.0.1, loopback only)
  --dir DIR             where messages are stored (default ./smtpwb-inbox)
  --auth-file FILE      accept only the account USER:PASS on the first line of FILE for AUTH
                        (or set ${SERVE_AUTH_ENV}=USER:PASS; default: any credentials)
  --auth USER:PASS      the same, but visible to every user in ps: avoid it (a warning is printed)
  --require-auth        refuse mail from clients that did not authenticate (530)
  --no-tls              do not offer STARTTLS
  --no-chunking         do not offer CHUNKING (BDAT)
  --size-limit OCTETS   the SIZE limit; larger messages get 552 (default 52428800; 0 for none)
  --rules FILE          behaviour rules (capture-rules.json); reloaded when the file changes
  --idle-timeout DURATION  close a connection that sends nothing for this long, also in the
                        middle of DATA or BDAT (421 4.4.2; what it sent of the message is
                        dropped): seconds, or 1500ms, 2s (default 300)
  --max-clients N       at most N connections at once; one more gets 421 (default 1000)
  --api PORT            serve the HTTP API for tests on PORT (0 picks one); see docs/capture-api.yaml
  --api-host H          the API's address (default 127.0.0.1); another than loopback needs a token
  --api-token-file FILE a bearer token the API requires (or set ${SERVE_API_TOKEN_ENV})
  --no-verify           do not verify what arrives; by default each stored message is verified
                        (DKIM, SPF with the client's IP and HELO, DMARC, ARC) after its reply,
                        while the server is quiet, and the results are kept in its sidecar
  --dns-server HOST:PORT  the DNS server for the verification (default: the system's)

Stop it with Ctrl+C (SIGINT) or SIGTERM. Exit codes: 0 stopped, 1 cannot start, 2 usage error.
`;

/** The longest delay a Node timer (and so a socket's idle timeout) can hold. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What `serveCommand` reads from its arguments. */
interface ServeArgs {
  port: number;
  host: string;
  dir: string;
  auth?: { user: string; pass: string };
  requireAuth: boolean;
  tls: boolean;
  chunking: boolean;
  sizeLimit?: number;
  idleTimeoutMs?: number;
  maxClients?: number;
  rulesFile?: string;
  api?: { port: number; host: string; token?: string };
  verify?: { dnsServer?: string };
  warnings: string[];
}

function portOf(name: string, text: string | undefined): number | string {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) > 65535) return `${name} needs a number from 0 to 65535, not "${text ?? ''}"`;
  return Number(text);
}

function accountOf(text: string, source: string): { user: string; pass: string } | string {
  const colon = text.indexOf(':');
  if (colon <= 0) return `${source} needs USER:PASS`;
  return { user: text.slice(0, colon), pass: text.slice(colon + 1) };
}

/** The first line of a secret file, without its line end. */
async function firstLine(path: string): Promise<string> {
  const text = await fs.readFile(path, 'utf8');
  return text.split(/\r?\n/, 1)[0] ?? '';
}

async function readServeArgs(args: string[], io: CliIo): Promise<ServeArgs | string> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        dir: { type: 'string' },
        auth: { type: 'string' },
        'auth-file': { type: 'string' },
        'require-auth': { type: 'boolean' },
        'no-tls': { type: 'boolean' },
        'no-chunking': { type: 'boolean' },
        'size-limit': { type: 'string' },
        'idle-timeout': { type: 'string' },
        'max-clients': { type: 'string' },
        rules: { type: 'string' },
        api: { type: 'string' },
        'api-host': { type: 'string' },
        'api-token-file': { type: 'string' },
        verify: { type: 'boolean' },
        'no-verify': { type: 'boolean' },
        'dns-server': { type: 'string' },
      },
    }).values;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  const out: ServeArgs = {
    port: 2525,
    host: '127.0.0.1',
    dir: resolve(io.cwd, 'smtpwb-inbox'),
    requireAuth: values['require-auth'] === true,
    tls: values['no-tls'] !== true,
    chunking: values['no-chunking'] !== true,
    warnings: [],
  };
  const text = (name: string): string | undefined => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  if (text('port') !== undefined) {
    const port = portOf('--port', text('port'));
    if (typeof port === 'string') return port;
    out.port = port;
  }
  if (text('host') !== undefined) {
    if (text('host') === '') return '--host needs an address';
    out.host = text('host') as string;
  }
  if (text('dir') !== undefined) {
    if (text('dir') === '') return '--dir needs a folder';
    out.dir = resolve(io.cwd, text('dir') as string);
  }
  const sizeText = text('size-limit');
  if (sizeText !== undefined) {
    if (!/^\d+$/.test(sizeText)) return `--size-limit needs a number of octets, not "${sizeText}"`;
    out.sizeLimit = Number(sizeText);
  }
  const idleText = text('idle-timeout');
  if (idleText !== undefined) {
    // The duration grammar of --timeout (options.ts), in seconds unless the text names its unit.
    const ms = parseDuration(idleText, 's');
    if (ms === undefined) return `--idle-timeout needs a duration in seconds (or 1500ms, 30s), not "${idleText}"`;
    // Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer one would fire at once.
    if (ms > MAX_TIMER_MS) return `--idle-timeout needs a duration of at most ${Math.floor(MAX_TIMER_MS / 1000)} seconds, not "${idleText}"`;
    out.idleTimeoutMs = ms;
  }
  const clientsText = text('max-clients');
  if (clientsText !== undefined) {
    if (!/^\d{1,9}$/.test(clientsText) || Number(clientsText) < 1) return `--max-clients needs a whole number of connections from 1, not "${clientsText}"`;
    out.maxClients = Number(clientsText);
  }
  // The account: a file or the environment keep the password out of `ps`; --auth is kept for
  // existing scripts, with a warning (issue 10 §4).
  const sources = [text('auth') !== undefined, text('auth-file') !== undefined].filter(Boolean).length;
  if (sources > 1) return 'give either --auth-file or --auth, not both';
  let account: { user: string; pass: string } | string | undefined;
  if (text('auth-file') !== undefined) {
    try {
      account = accountOf(await firstLine(resolve(io.cwd, text('auth-file') as string)), `--auth-file ${text('auth-file')}`);
    } catch (error) {
      return `--auth-file: cannot read ${text('auth-file')}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
    }
  } else if (text('auth') !== undefined) {
    account = accountOf(text('auth') as string, '--auth');
    out.warnings.push(`--auth puts the password on the command line, where every user of this machine can read it (ps); use --auth-file FILE or ${SERVE_AUTH_ENV}`);
  } else if (io.env[SERVE_AUTH_ENV] !== undefined && io.env[SERVE_AUTH_ENV] !== '') {
    account = accountOf(io.env[SERVE_AUTH_ENV], SERVE_AUTH_ENV);
  }
  if (typeof account === 'string') return account;
  out.auth = account;
  // Verification is on unless --no-verify (`--verify`, once needed to turn it on, is still accepted).
  if (values['no-verify'] === true) {
    if (values.verify === true) return 'give either --verify or --no-verify, not both';
    if (text('dns-server') !== undefined) return '--dns-server is for the verification, which --no-verify turns off';
  } else {
    const server = text('dns-server');
    if (server !== undefined && parseDnsServer(server) === undefined) return `--dns-server needs an IP address with an optional port (HOST:PORT, [IPv6]:PORT), not "${server}"`;
    out.verify = { dnsServer: server };
  }
  if (text('rules') !== undefined) out.rulesFile = resolve(io.cwd, text('rules') as string);
  if (text('api') !== undefined) {
    const port = portOf('--api', text('api'));
    if (typeof port === 'string') return port;
    let token = io.env[SERVE_API_TOKEN_ENV] || undefined;
    if (text('api-token-file') !== undefined) {
      try {
        token = (await firstLine(resolve(io.cwd, text('api-token-file') as string))).trim();
      } catch (error) {
        return `--api-token-file: cannot read ${text('api-token-file')}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
      }
      if (token === '') return '--api-token-file: the file is empty';
    }
    const host = text('api-host') ?? '127.0.0.1';
    // The API can read and delete every captured message and change the rules.
    if (!isLoopbackHost(host) && token === undefined) return `--api-host ${host} is not loopback: it needs a token (--api-token-file FILE or ${SERVE_API_TOKEN_ENV})`;
    out.api = { port, host, token };
  } else if (text('api-host') !== undefined || text('api-token-file') !== undefined) {
    return '--api-host and --api-token-file go with --api PORT';
  }
  return out;
}

/**
 * Reads the rules file and checks it against the server's SIZE limit (a rule may not advertise more
 * than the server accepts, RFC 1870 §4): the rules, or none when there are errors, and the lines to print.
 */
async function loadServeRules(file: string, sizeLimit: number): Promise<{ rules?: CaptureRules; lines: string[] }> {
  return loadRulesFile(file, sizeLimit);
}

/** One line for a received message: sender, recipients, subject, rules that fired, and file. */
export function describeMessage(message: StoredMessage): string {
  const from = message.envelope ? `<${message.envelope.mailFrom}>` : (message.from ?? '?');
  const to = message.envelope ? message.envelope.rcptTo.map((r) => `<${r}>`).join(', ') : (message.to ?? '?');
  const subject = message.subject === undefined ? '(no subject)' : JSON.stringify(message.subject);
  const at = message.receivedAt;
  const time = [at.getHours(), at.getMinutes(), at.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  const rules = message.rules && message.rules.length > 0 ? ` rules ${message.rules.map((r) => `"${r.name}"`).join(', ')}` : '';
  // What a client sent is data: escaped before it reaches the terminal.
  return visibleLine(`[${time}] from ${from} to ${to} subject ${subject}${rules} (${message.size} octets) -> ${message.path}`);
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
  const parsed = await readServeArgs(args, io);
  if (typeof parsed === 'string') {
    io.stderr.write(`smtpwb serve: ${visibleLine(parsed)}\n\n${SERVE_HELP}`);
    return 2;
  }
  for (const warning of parsed.warnings) io.stderr.write(`smtpwb serve: warning: ${warning}\n`);
  let rules: CaptureRules | undefined;
  const sizeLimit = parsed.sizeLimit ?? DEFAULT_SIZE_LIMIT;
  if (parsed.rulesFile !== undefined) {
    const loaded = await loadServeRules(parsed.rulesFile, sizeLimit);
    for (const line of loaded.lines) io.stderr.write(`${line}\n`);
    if (!loaded.rules) {
      io.stderr.write(`smtpwb serve: the rules file has errors; nothing was started\n`);
      return 2;
    }
    rules = loaded.rules;
  }
  const options: CaptureServerOptions = {
    host: parsed.host,
    port: parsed.port,
    dir: parsed.dir,
    tls: parsed.tls ? 'generate' : false,
    auth: parsed.auth ?? 'any',
    requireAuth: parsed.requireAuth,
    sizeLimit: parsed.sizeLimit,
    idleTimeoutMs: parsed.idleTimeoutMs,
    maxClients: parsed.maxClients,
    chunking: parsed.chunking,
    rules,
    verify: parsed.verify ? { resolver: createResolver({ server: parsed.verify.dnsServer, timeoutMs: 1500, tries: 1 }) } : undefined,
    logger: (entry) => {
      // Client errors, refusals and rules go to stderr; the "stored" lines are printed by onMessage.
      if (entry.level !== 'info' || /^(refused|AUTH|rule )/.test(entry.message)) {
        io.stderr.write(`smtpwb serve: ${visibleLine(`${entry.remoteAddress ? `${entry.remoteAddress}: ` : ''}${entry.message}`)}\n`);
      }
    },
  };
  let server: CaptureServer;
  try {
    server = await startCaptureServer(options);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${parsed.host}:${parsed.port}`;
    const reason =
      code === 'EADDRINUSE'
        ? `${where} is in use (try --port 0 or another port)`
        : code === 'EACCES'
          ? `no permission to listen on ${where}`
          : code === 'EADDRNOTAVAIL'
            ? `${parsed.host} is not an address of this machine`
            : error instanceof Error
              ? error.message
              : String(error);
    io.stderr.write(`smtpwb serve: cannot start: ${visibleLine(reason)}\n`);
    return 1;
  }
  let api: CaptureApi | undefined;
  if (parsed.api) {
    try {
      api = await startCaptureApi(server, { ...parsed.api, sizeLimit });
    } catch (error) {
      await server.stop();
      const code = (error as NodeJS.ErrnoException).code;
      io.stderr.write(`smtpwb serve: cannot start the API on ${parsed.api.host}:${parsed.api.port}: ${code === 'EADDRINUSE' ? 'the port is in use' : visibleLine(String(error))}\n`);
      return 1;
    }
  }
  if (!isLoopbackHost(server.host)) {
    io.stderr.write(`smtpwb serve: warning: ${server.host} is not a loopback address, so other machines can send mail here\n`);
  }
  const tlsText = server.certificatePem === undefined ? 'no STARTTLS' : `STARTTLS, certificate ${server.certificatePath ?? '(given)'}`;
  const authText = server.authMode === 'any' ? 'AUTH accepts any credentials' : server.authMode === 'account' ? `AUTH as ${parsed.auth?.user ?? ''}` : 'no AUTH';
  io.stdout.write(`smtpwb serve: listening on ${server.address} (${tlsText}; ${authText})\n`);
  io.stdout.write(`smtpwb serve: storing messages in ${server.dir}\n`);
  if (rules) io.stdout.write(`smtpwb serve: ${rules.rules.length} behaviour rule${rules.rules.length === 1 ? '' : 's'} from ${parsed.rulesFile}\n`);
  io.stdout.write(
    parsed.verify
      ? `smtpwb serve: verifying what arrives (DKIM, SPF, DMARC, ARC) with ${parsed.verify.dnsServer === undefined ? "the system's DNS servers" : `the DNS server ${visibleLine(parsed.verify.dnsServer)}`}, after each reply (--no-verify turns it off)\n`
      : 'smtpwb serve: not verifying what arrives (--no-verify)\n',
  );
  if (api) io.stdout.write(`smtpwb serve: API on ${api.url}${parsed.api?.token ? ' (bearer token required)' : ''}\n`);
  io.stdout.write('smtpwb serve: press Ctrl+C to stop\n');
  const subscription = server.onMessage((message) => io.stdout.write(`${describeMessage(message)}\n`));
  const verified = server.onAuthenticated((message) => {
    const a = message.authentication;
    if (a) io.stdout.write(`${visibleLine(`[${message.id}] ${a.failed ? 'FAILED ' : ''}${a.authenticationResults || a.error || ''}`)}\n`);
  });

  // The rules file is read again when it changes; a version with errors leaves the rules in force.
  let watcher: FSWatcher | undefined;
  let reload: NodeJS.Timeout | undefined;
  if (parsed.rulesFile !== undefined) {
    const file = parsed.rulesFile;
    try {
      // The folder is watched, not the file: editors that save by renaming a new file into place
      // would otherwise end the watch.
      watcher = watch(dirname(file), (_event, name) => {
        if (name !== null && name !== basename(file)) return;
        clearTimeout(reload);
        reload = setTimeout(() => {
          void loadServeRules(file, sizeLimit).then((loaded) => {
            for (const line of loaded.lines) io.stderr.write(`${line}\n`);
            if (loaded.rules) {
              server.setRules(loaded.rules);
              io.stdout.write(`smtpwb serve: reloaded ${loaded.rules.rules.length} behaviour rule${loaded.rules.rules.length === 1 ? '' : 's'} from ${file}\n`);
            } else io.stderr.write(`smtpwb serve: ${file} has errors; the earlier rules stay in force\n`);
          });
        }, 100);
      });
      watcher.on('error', () => undefined);
    } catch {
      // A file that cannot be watched is read once.
    }
  }

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
  watcher?.close();
  clearTimeout(reload);
  await api?.stop();
  // Messages acknowledged just before the signal are still being written: stop() waits for them,
  // and each still gets its line.
  await server.stop();
  subscription.dispose();
  verified.dispose();
  io.stdout.write('smtpwb serve: stopped\n');
  return 0;
}
