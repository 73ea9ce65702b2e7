/**
 * `smtpwb inbox list|get|wait|clear`: the capture server's HTTP API (docs/capture-api.yaml) from the
 * shell, for test scripts: `smtpwb serve --api 2526 &`, run the application, then
 * `smtpwb inbox wait --to bob@example.test --timeout 5000`.
 */
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { visibleLine, visibleText } from '../../../common/escape';
import type { CliIo } from './cliIo';

export const INBOX_URL_ENV = 'SMTPWB_API_URL';
export const INBOX_TOKEN_ENV = 'SMTPWB_API_TOKEN';

export const INBOX_HELP = `usage: smtpwb inbox list  [--from S] [--to S] [--subject S] [--since TIME] [--json]
       smtpwb inbox get ID [--raw | --parsed | --json]
       smtpwb inbox wait [--from S] [--to S] [--subject S] [--since TIME] [--timeout MS] [--json]
       smtpwb inbox delete ID
       smtpwb inbox clear
  common: [--api URL] [--token-file FILE]

Talks to the HTTP API of a capture server started with \`smtpwb serve --api PORT\`.

  --api URL           the API (default: $${INBOX_URL_ENV}, else http://127.0.0.1:2526)
  --token-file FILE   the bearer token, first line of FILE (default: $${INBOX_TOKEN_ENV})
  --from, --to, --subject S
                      keep messages whose sender, recipients or subject contain S (any case)
  --since TIME        only messages received after TIME (ISO 8601)
  --timeout MS        how long wait waits (default 10000)
  --raw               get prints the message as stored; --parsed its MIME structure as JSON
  --json              exact JSON output

Exit codes: 0 done, 1 nothing matched (wait timed out, no such id), 2 usage error, 3 the API
cannot be reached or refused the request.
`;

const DEFAULT_URL = 'http://127.0.0.1:2526';

interface Summary {
  id: string;
  receivedAt: string;
  size: number;
  subject: string | null;
  from: string | null;
  envelope: { mailFrom: string; rcptTo: string[] } | null;
  rules: Array<{ name: string; action: string; command: string; reply?: string }>;
  authentication?: { dkim: Array<{ result: string }>; spf: { result: string }; dmarc: { result: string }; failed: boolean } | null;
}

function line(m: Summary): string {
  const from = m.envelope ? `<${m.envelope.mailFrom}>` : (m.from ?? '?');
  const to = m.envelope ? m.envelope.rcptTo.map((r) => `<${r}>`).join(', ') : '?';
  const rules = m.rules.length > 0 ? ` rules ${m.rules.map((r) => `"${r.name}"`).join(', ')}` : '';
  const a = m.authentication;
  const auth = a ? ` auth dkim=${a.dkim.map((d) => d.result).join(',') || 'none'} spf=${a.spf.result} dmarc=${a.dmarc.result}` : '';
  // Everything here came from an SMTP client: escaped for the terminal.
  return visibleLine(`${m.id} ${m.receivedAt} from ${from} to ${to} subject ${JSON.stringify(m.subject ?? '')}${rules}${auth} (${m.size} octets)`);
}

class ApiFailure extends Error {
  constructor(
    message: string,
    readonly exit: number,
  ) {
    super(message);
  }
}

/** Runs `smtpwb inbox ARGS`; see INBOX_HELP. */
export async function inboxCommand(args: string[], io: CliIo): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    io.stdout.write(INBOX_HELP);
    return 0;
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        api: { type: 'string' },
        'token-file': { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        subject: { type: 'string' },
        since: { type: 'string' },
        timeout: { type: 'string' },
        raw: { type: 'boolean' },
        parsed: { type: 'boolean' },
        json: { type: 'boolean' },
      },
    }));
  } catch (error) {
    return usage(io, error instanceof Error ? error.message : String(error));
  }
  const [action, ...rest] = positionals;
  const needsId = action === 'get' || action === 'delete';
  if (!['list', 'get', 'wait', 'delete', 'clear'].includes(action ?? '')) return usage(io, action === undefined ? 'say list, get, wait, delete or clear' : `unknown action "${action}"`);
  if (rest.length !== (needsId ? 1 : 0)) return usage(io, needsId ? `${action} needs one message id` : `${action} takes no other argument`);
  if (values.raw && values.parsed) return usage(io, 'give --raw or --parsed, not both');
  const timeout = typeof values.timeout === 'string' ? values.timeout : '10000';
  if (!/^\d+$/.test(timeout)) return usage(io, `--timeout needs milliseconds, not "${timeout}"`);

  const base = (typeof values.api === 'string' ? values.api : io.env[INBOX_URL_ENV]) || DEFAULT_URL;
  let root: URL;
  try {
    root = new URL(base);
    if (root.protocol !== 'http:' && root.protocol !== 'https:') throw new Error('not http');
  } catch {
    return usage(io, `--api needs an http:// URL, not "${base}"`);
  }
  let token = io.env[INBOX_TOKEN_ENV] || undefined;
  if (typeof values['token-file'] === 'string') {
    try {
      token = (await fs.readFile(resolve(io.cwd, values['token-file']), 'utf8')).split(/\r?\n/, 1)[0].trim();
    } catch (error) {
      return usage(io, `--token-file: cannot read ${values['token-file']}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }

  const query = new URLSearchParams();
  for (const key of ['from', 'to', 'subject', 'since'] as const) if (typeof values[key] === 'string') query.set(key, values[key] as string);

  const call = async (method: string, path: string, params?: URLSearchParams): Promise<Response> => {
    const url = new URL(path, root);
    if (params) url.search = params.toString();
    let response: Response;
    try {
      response = await fetch(url, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      throw new ApiFailure(`cannot reach the API at ${root.origin}${cause ? ` (${cause})` : ''}: is \`smtpwb serve --api PORT\` running?`, 3);
    }
    if (response.status === 404 || response.status === 408) {
      const body = (await response.json().catch(() => ({}))) as { error?: string };
      throw new ApiFailure(body.error ?? `HTTP ${response.status}`, 1);
    }
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as { error?: string };
      throw new ApiFailure(`the API answered ${response.status}: ${body.error ?? response.statusText}`, 3);
    }
    return response;
  };

  try {
    switch (action) {
      case 'list': {
        const body = (await (await call('GET', '/api/v1/messages', query)).json()) as { messages: Summary[] };
        if (values.json) io.stdout.write(`${JSON.stringify(body.messages, null, 2)}\n`);
        else for (const m of body.messages) io.stdout.write(`${line(m)}\n`);
        return 0;
      }
      case 'get': {
        const id = rest[0];
        if (values.raw) {
          const bytes = Buffer.from(await (await call('GET', `/api/v1/messages/${encodeURIComponent(id)}/raw`)).arrayBuffer());
          // The exact bytes for a pipe or a file; on a terminal, control characters are shown, never obeyed.
          const tty = (io.stdout as { isTTY?: boolean }).isTTY === true;
          io.stdout.write(tty ? visibleText(bytes.toString('utf8')) : bytes);
          return 0;
        }
        if (values.parsed) {
          const parsed = await (await call('GET', `/api/v1/messages/${encodeURIComponent(id)}/parsed`)).json();
          io.stdout.write(`${JSON.stringify(parsed, null, 2)}\n`);
          return 0;
        }
        const message = (await (await call('GET', `/api/v1/messages/${encodeURIComponent(id)}`)).json()) as Summary;
        io.stdout.write(values.json ? `${JSON.stringify(message, null, 2)}\n` : `${line(message)}\n`);
        return 0;
      }
      case 'wait': {
        query.set('timeout', timeout);
        const message = (await (await call('GET', '/api/v1/wait', query)).json()) as Summary;
        io.stdout.write(values.json ? `${JSON.stringify(message, null, 2)}\n` : `${line(message)}\n`);
        return 0;
      }
      case 'delete':
        await call('DELETE', `/api/v1/messages/${encodeURIComponent(rest[0])}`);
        io.stdout.write(`deleted ${visibleLine(rest[0])}\n`);
        return 0;
      default: {
        const body = (await (await call('DELETE', '/api/v1/messages')).json()) as { deleted: number };
        io.stdout.write(`deleted ${body.deleted} message${body.deleted === 1 ? '' : 's'}\n`);
        return 0;
      }
    }
  } catch (error) {
    if (error instanceof ApiFailure) {
      io.stderr.write(`smtpwb inbox: ${visibleLine(error.message)}\n`);
      return error.exit;
    }
    throw error;
  }
}

function usage(io: CliIo, message: string): number {
  io.stderr.write(`smtpwb inbox: ${visibleLine(message)}\n\n${INBOX_HELP}`);
  return 2;
}
