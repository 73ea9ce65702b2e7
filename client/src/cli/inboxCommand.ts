/**
 * `smtpwb inbox list|get|wait|clear`: the capture server's HTTP API (docs/capture-api.yaml) from the
 * shell, for test scripts: `smtpwb serve --api 2526 &`, run the application, then
 * `smtpwb inbox wait --to bob@example.test --timeout 5000`.
 */
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { jsonText, visibleLine, visibleText } from '../../../common/escape';
import { sinceProblem } from '../localServer/apiFilter';
import { ID_PATTERN } from '../localServer/messageId';
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
  --since TIME        only messages received after TIME, an RFC 3339 date-time with an
                      offset: 2026-12-06T09:15:00Z or 2026-12-06T10:15:00+01:00
  --timeout MS        how long wait waits (default 10000)
  --raw               get prints the message as stored; --parsed its MIME structure as JSON
  --json              exact JSON output

ID is a message id as list shows it (lower-case letters and digits).

Exit codes: 0 done, 1 nothing matched (wait timed out, no such id), 2 usage error (such as an ID
that is not a message id), 3 the API cannot be reached, refused the request or answered something
that is not what was asked for.
`;

const DEFAULT_URL = 'http://127.0.0.1:2526';

interface Summary {
  id: string;
  receivedAt: string;
  size: number;
  subject: string | null;
  from: string | null;
  envelope: { mailFrom: string; rcptTo: string[] } | null;
  rules?: Array<{ name: string; action: string; command: string; reply?: string }>;
  authentication?: { dkim: Array<{ result: string }>; spf: { result: string }; dmarc: { result: string }; failed: boolean } | null;
}

/** Whether a value is the JSON of one stored message (docs/capture-api.yaml, `Message`), as far as `line()` reads it. */
function isSummary(value: unknown): value is Summary {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const m = value as Record<string, unknown>;
  const optionalText = (v: unknown): boolean => v === null || v === undefined || typeof v === 'string';
  const envelope = m.envelope as Record<string, unknown> | null | undefined;
  const envelopeOk =
    envelope === null || envelope === undefined || (typeof envelope === 'object' && typeof envelope.mailFrom === 'string' && Array.isArray(envelope.rcptTo) && envelope.rcptTo.every((r) => typeof r === 'string'));
  const rulesOk = m.rules === undefined || (Array.isArray(m.rules) && m.rules.every((r) => typeof r === 'object' && r !== null && typeof (r as { name?: unknown }).name === 'string'));
  const a = m.authentication as Record<string, unknown> | null | undefined;
  const result = (v: unknown): boolean => typeof v === 'object' && v !== null && typeof (v as { result?: unknown }).result === 'string';
  const authOk = a === null || a === undefined || (typeof a === 'object' && Array.isArray(a.dkim) && a.dkim.every(result) && result(a.spf) && result(a.dmarc));
  return typeof m.id === 'string' && typeof m.receivedAt === 'string' && typeof m.size === 'number' && optionalText(m.subject) && optionalText(m.from) && envelopeOk && rulesOk && authOk;
}

function line(m: Summary): string {
  const from = m.envelope ? `<${m.envelope.mailFrom}>` : (m.from ?? '?');
  const to = m.envelope ? m.envelope.rcptTo.map((r) => `<${r}>`).join(', ') : '?';
  const rules = m.rules !== undefined && m.rules.length > 0 ? ` rules ${m.rules.map((r) => `"${r.name}"`).join(', ')}` : '';
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
  // An id is checked before it goes into a URL: an empty one or `.` would name the collection.
  if (needsId && !ID_PATTERN.test(rest[0])) {
    return usage(io, rest[0] === '' ? `${action} needs a message id, not an empty string` : `"${rest[0]}" is not a message id (lower-case letters and digits, as list shows)`);
  }
  if (values.raw && values.parsed) return usage(io, 'give --raw or --parsed, not both');
  const timeout = typeof values.timeout === 'string' ? values.timeout : '10000';
  if (!/^\d+$/.test(timeout)) return usage(io, `--timeout needs milliseconds, not "${timeout}"`);
  // The API's own grammar for since (RFC 3339 with an offset), checked here so a typo is a usage error.
  const since = typeof values.since === 'string' ? sinceProblem(values.since) : undefined;
  if (since !== undefined) return usage(io, `--${since}`);

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
    if (response.status === 404 || response.status === 408) throw new ApiFailure((await errorOf(response)) ?? `HTTP ${response.status}`, 1);
    if (!response.ok) throw new ApiFailure(`the API answered ${response.status}: ${(await errorOf(response)) ?? response.statusText}`, 3);
    return response;
  };
  /** The JSON answer of a request; anything else is a failure of the API, never a crash. */
  const callJson = async (method: string, path: string, params?: URLSearchParams): Promise<unknown> => {
    const response = await call(method, path, params);
    try {
      return (await response.json()) as unknown;
    } catch {
      throw unexpected(`${method} ${path}`, 'no JSON');
    }
  };
  /** One stored message from a request, or a failure that says what came instead. */
  const callMessage = async (path: string, params?: URLSearchParams): Promise<Summary> => {
    const body = await callJson('GET', path, params);
    if (!isSummary(body)) throw unexpected(`GET ${path}`, 'not a message');
    return body;
  };

  try {
    switch (action) {
      case 'list': {
        const body = await callJson('GET', '/api/v1/messages', query);
        const messages = (body as { messages?: unknown } | null)?.messages;
        if (!Array.isArray(messages) || !messages.every(isSummary)) throw unexpected('GET /api/v1/messages', 'not a list of messages');
        if (values.json) io.stdout.write(`${jsonText(messages, 2)}\n`);
        else for (const m of messages) io.stdout.write(`${line(m)}\n`);
        return 0;
      }
      case 'get': {
        const path = `/api/v1/messages/${encodeURIComponent(rest[0])}`;
        if (values.raw) {
          const bytes = Buffer.from(await (await call('GET', `${path}/raw`)).arrayBuffer());
          // The exact bytes for a pipe or a file; on a terminal, control characters are shown, never obeyed.
          const tty = (io.stdout as { isTTY?: boolean }).isTTY === true;
          io.stdout.write(tty ? visibleText(bytes.toString('utf8')) : bytes);
          return 0;
        }
        if (values.parsed) {
          const parsed = await callJson('GET', `${path}/parsed`);
          if (typeof parsed !== 'object' || parsed === null || (parsed as { id?: unknown }).id !== rest[0]) throw unexpected(`GET ${path}/parsed`, 'not the parsed message');
          io.stdout.write(`${jsonText(parsed, 2)}\n`);
          return 0;
        }
        const message = await callMessage(path);
        if (message.id !== rest[0]) throw unexpected(`GET ${path}`, `message ${message.id}`);
        io.stdout.write(values.json ? `${jsonText(message, 2)}\n` : `${line(message)}\n`);
        return 0;
      }
      case 'wait': {
        query.set('timeout', timeout);
        const message = await callMessage('/api/v1/wait', query);
        io.stdout.write(values.json ? `${jsonText(message, 2)}\n` : `${line(message)}\n`);
        return 0;
      }
      case 'delete': {
        const path = `/api/v1/messages/${encodeURIComponent(rest[0])}`;
        // The API answers 204 for one message deleted; anything else did not delete just that one.
        const response = await call('DELETE', path);
        if (response.status !== 204) throw unexpected(`DELETE ${path}`, `HTTP ${response.status}`);
        io.stdout.write(`deleted ${visibleLine(rest[0])}\n`);
        return 0;
      }
      default: {
        const deleted = ((await callJson('DELETE', '/api/v1/messages')) as { deleted?: unknown } | null)?.deleted;
        if (typeof deleted !== 'number') throw unexpected('DELETE /api/v1/messages', 'no count of deleted messages');
        io.stdout.write(`deleted ${deleted} message${deleted === 1 ? '' : 's'}\n`);
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

/** The `error` of an API's error answer, when it has one. */
async function errorOf(response: Response): Promise<string | undefined> {
  const body = (await response.json().catch(() => undefined)) as { error?: unknown } | null | undefined;
  return typeof body?.error === 'string' ? body.error : undefined;
}

/** A failure for an answer that is not what the request asks for (exit 3, as the help says). */
function unexpected(request: string, got: string): ApiFailure {
  return new ApiFailure(`the API answered ${request} with something unexpected (${got}): is --api the capture server's API?`, 3);
}

function usage(io: CliIo, message: string): number {
  io.stderr.write(`smtpwb inbox: ${visibleLine(message)}\n\n${INBOX_HELP}`);
  return 2;
}
