/**
 * The capture server's HTTP API for tests (`smtpwb serve --api PORT`), documented in
 * docs/capture-api.yaml (OpenAPI 3.1): list, get (summary, raw, parsed), wait for a message that
 * matches a filter, delete, clear, and read or replace the behaviour rules.
 *
 * It listens on loopback unless told otherwise; a non-loopback address needs a bearer token (the
 * CLI refuses to start without one). On loopback it also checks the Host header, so a web page
 * cannot reach it through DNS rebinding, and it sends no CORS headers, so no page can read it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { simpleParser, type AddressObject } from 'mailparser';
import { formatAddress, isLoopbackHost, type CaptureServer, type StoredMessage } from './captureServer';
import { ID_PATTERN } from './messageId';
import { jsonText } from '../../../common/escape';
import { parseCaptureRules, rulesFileJson, sizeLimitProblems } from '../../../common/captureRules';
import { parseDateTime } from '../../../server/src/eml/dateTime';
import { LIST_PARAMETERS, parameterProblem, parseRfc3339, sinceProblem, WAIT_PARAMETERS } from './apiFilter';

export interface CaptureApiOptions {
  /** The port; 0 picks one. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** A bearer token every request must carry (`Authorization: Bearer TOKEN`). */
  token?: string;
  /**
   * The capture server's SIZE limit in octets (0 for none), so that PUT /rules refuses a rule that
   * advertises more (`rules-size-over-limit`); undefined when it is not known.
   */
  sizeLimit?: number;
}

export interface CaptureApi {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** The largest rules file PUT /rules accepts. */
const MAX_RULES_BYTES = 1024 * 1024;
/**
 * Of a body over its limit, this much more (or this long) is read and dropped before the 413 is
 * sent and the connection closed: closing a socket with unread octets resets it, and the client
 * would lose the answer.
 */
const DRAIN_BYTES = 16 * 1024 * 1024;
const DRAIN_MS = 5000;
/** The longest a wait may last, in milliseconds. */
const MAX_WAIT_MS = 10 * 60 * 1000;

/** A filter over stored messages; each given field must match (case-insensitive substrings). */
export interface MessageFilter {
  from?: string;
  to?: string;
  subject?: string;
  /** Only messages received after this time. */
  since?: Date;
}

export function messageMatches(message: StoredMessage, filter: MessageFilter): boolean {
  const has = (haystack: Array<string | undefined>, needle: string | undefined): boolean =>
    needle === undefined || haystack.some((h) => h !== undefined && h.toLowerCase().includes(needle.toLowerCase()));
  if (filter.since && message.receivedAt.getTime() <= filter.since.getTime()) return false;
  return (
    has([message.envelope?.mailFrom, message.from], filter.from) &&
    has([...(message.envelope?.rcptTo ?? []), message.to], filter.to) &&
    has([message.subject], filter.subject)
  );
}

/** The JSON form of a stored message (no local paths beyond the file name's folder). */
export function messageJson(message: StoredMessage): Record<string, unknown> {
  return {
    id: message.id,
    receivedAt: message.receivedAt.toISOString(),
    size: message.size,
    from: message.from ?? null,
    to: message.to ?? null,
    subject: message.subject ?? null,
    date: message.date ?? null,
    envelope: message.envelope ?? null,
    rules: message.rules ?? [],
    authentication: message.authentication ?? null,
    path: message.path,
  };
}

function addressList(value: AddressObject | AddressObject[] | undefined): Array<{ name: string; address: string }> {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return list.flatMap((a) => a.value).map((a) => ({ name: a.name ?? '', address: a.address ?? '' }));
}

/**
 * The Date header of a message as an ISO time, or null when there is none or it does not parse as an
 * RFC 5322 §3.3 date-time (mailparser puts the current time there instead, which would be made up).
 */
function headerDate(lines: ReadonlyArray<{ key: string; line: string }>): string | null {
  const line = lines.find((h) => h.key === 'date')?.line;
  if (line === undefined) return null;
  const value = line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]/g, ' ');
  const parsed = parseDateTime(value, 0, value.length);
  return parsed === undefined ? null : new Date(parsed.epochMs).toISOString();
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
    /** Whether the connection is closed after the answer (a request body was not read to its end). */
    readonly closeConnection = false,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${jsonText(body, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(text);
}

/**
 * Reads a request body of at most `limit` octets. A larger one is refused with 413 once it has
 * been read to its end (its octets past the limit are dropped), or once DRAIN_BYTES more came or
 * DRAIN_MS passed; the connection is closed after that answer.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolveBody, rejectBody) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const tooLarge = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      rejectBody(new HttpError(413, `the body is over ${limit} octets`, {}, true));
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      chunks = [];
      timer ??= setTimeout(tooLarge, DRAIN_MS);
      if (size > limit + DRAIN_BYTES) tooLarge();
    });
    req.on('end', () => {
      if (size > limit) tooLarge();
      else if (!settled) {
        settled = true;
        resolveBody(Buffer.concat(chunks));
      }
    });
    req.on('error', (error) => {
      clearTimeout(timer);
      if (!settled) {
        settled = true;
        rejectBody(error);
      }
    });
  });
}

/**
 * Compares a token in constant time: both are hashed to a fixed-length SHA-256 digest first, so
 * neither the comparison nor a length check tells how long the expected token is.
 */
function sameToken(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The bearer token of an Authorization header; the scheme is case-insensitive (RFC 7235 §2.1, RFC 6750 §2.1). */
export function bearerToken(header: string | undefined): string | undefined {
  return /^bearer +([^ ]+) *$/i.exec(header ?? '')?.[1];
}

/**
 * Parses `?from=&to=&subject=&since=` (and the parameters `known` adds) into a filter; an unknown or
 * repeated parameter, or a `since` that is not an RFC 3339 date-time with an offset, is a 400.
 */
function filterOf(params: URLSearchParams, known: readonly string[] = LIST_PARAMETERS): MessageFilter {
  const unknown = parameterProblem(params, known);
  if (unknown !== undefined) throw new HttpError(400, unknown);
  const filter: MessageFilter = {};
  for (const key of ['from', 'to', 'subject'] as const) {
    const value = params.get(key);
    if (value !== null && value !== '') filter[key] = value;
  }
  const since = params.get('since');
  if (since !== null) {
    const date = parseRfc3339(since);
    if (date === undefined) throw new HttpError(400, sinceProblem(since) ?? 'since is not a date-time');
    filter.since = date;
  }
  return filter;
}

/** What a request path names: a resource of the API, and for one message its id and part. */
type ApiTarget =
  | { kind: 'messages' }
  | { kind: 'message'; id: string; part?: 'raw' | 'parsed' }
  | { kind: 'wait' }
  | { kind: 'rules' }
  | { kind: 'unknown' };

/**
 * Reads a (normalised) request path. One trailing slash after a name is allowed (`/api/v1/rules/`),
 * but never where a message id belongs: `/api/v1/messages/` names a message with an empty id, not
 * the collection, so a DELETE meant for one message can never clear them all.
 */
function routeOf(pathname: string): ApiTarget {
  const segments = pathname.split('/');
  if (segments[0] !== '' || segments[1] !== 'api' || segments[2] !== 'v1') return { kind: 'unknown' };
  const rest = segments.slice(3);
  const idPosition = rest[0] === 'messages' && rest.length === 2;
  if (rest.length > 1 && rest[rest.length - 1] === '' && !idPosition) rest.pop();
  if (rest.length === 1 && (rest[0] === 'messages' || rest[0] === 'wait' || rest[0] === 'rules')) return { kind: rest[0] };
  if (rest[0] === 'messages' && rest.length === 2) return { kind: 'message', id: rest[1] };
  if (rest[0] === 'messages' && rest.length === 3 && (rest[2] === 'raw' || rest[2] === 'parsed')) return { kind: 'message', id: rest[1], part: rest[2] };
  return { kind: 'unknown' };
}

/**
 * What waits look through: the stored messages, oldest first, listed from the store once (one
 * listing shared by the waits that come meanwhile) and then kept up to date with each message as
 * it arrives, so a wait never lists the store. A deletion or a clear through the server makes the
 * next wait list it again; a message removed behind the server's back (by the Local Inbox or by
 * hand) is found out when a wait would answer with it, since the store is asked for that one.
 */
class WaitIndex {
  /** The stored messages by id, oldest first; undefined until listed, and after a deletion. */
  private messages: Map<string, StoredMessage> | undefined;
  private building: Promise<Map<string, StoredMessage>> | undefined;
  /** Messages that arrive while the store is listed, added to what it lists. */
  private arrivedMeanwhile: StoredMessage[] | undefined;
  /** Arrivals and verifications whose change event (which the server fires right after each) has not come yet. */
  private arrivals = 0;
  private generation = 0;
  private readonly subscriptions: Array<{ dispose(): void }>;

  constructor(private readonly capture: CaptureServer) {
    this.subscriptions = [
      capture.onMessage((m) => {
        this.arrivals++;
        this.messages?.set(m.id, m);
        this.arrivedMeanwhile?.push(m);
      }),
      // A verification result changes one message (the server fires a change right after it).
      capture.onAuthenticated((m) => {
        this.arrivals++;
        if (this.messages?.has(m.id)) this.messages.set(m.id, m);
      }),
      // A change that is not an arrival or a verification is a deletion, a clear or new rules:
      // listed again when needed.
      capture.onChange(() => {
        if (this.arrivals > 0) this.arrivals--;
        else {
          this.messages = undefined;
          this.generation++;
        }
      }),
    ];
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
  }

  /** The oldest stored message that matches, or undefined. */
  async oldest(filter: MessageFilter): Promise<StoredMessage | undefined> {
    for (;;) {
      const messages = this.messages ?? (await (this.building ??= this.build()));
      let candidate: StoredMessage | undefined;
      for (const m of messages.values()) {
        if (messageMatches(m, filter)) {
          candidate = m;
          break;
        }
      }
      if (candidate === undefined) return undefined;
      // Still there? Asked without writing its files (a wait answers from the journal, as listings do).
      const stored = await this.capture.get(candidate.id, { write: false });
      if (stored !== undefined) return stored;
      // Gone behind the server's back.
      messages.delete(candidate.id);
    }
  }

  private async build(): Promise<Map<string, StoredMessage>> {
    const generation = this.generation;
    const arrived: StoredMessage[] = [];
    this.arrivedMeanwhile = arrived;
    try {
      // Without writing files: the journaled messages are listed as they are.
      const listed = await this.capture.list({ write: false });
      const messages = new Map<string, StoredMessage>();
      for (let i = listed.length - 1; i >= 0; i--) messages.set(listed[i].id, listed[i]);
      for (const m of arrived) messages.set(m.id, m);
      if (this.generation === generation) this.messages = messages;
      return messages;
    } finally {
      this.arrivedMeanwhile = undefined;
      this.building = undefined;
    }
  }
}

/** The path of a request target as the client sent it (origin form, or the path of an absolute form). */
function requestPath(target: string): string {
  const path = target.startsWith('/') ? target : (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^?#]*)/i.exec(target)?.[1] ?? target);
  const end = path.search(/[?#]/);
  const bare = end === -1 ? path : path.slice(0, end);
  return bare === '' ? '/' : bare;
}

/** Starts the API for a running capture server. */
export async function startCaptureApi(capture: CaptureServer, options: CaptureApiOptions): Promise<CaptureApi> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host) && options.token === undefined) throw new Error(`the API on ${host} (not loopback) needs a token`);
  const waiting = new Set<() => void>();
  const waitIndex = new WaitIndex(capture);

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const method = req.method ?? 'GET';
    const target = routeOf(url.pathname);
    if (target.kind === 'messages' && method === 'GET') {
      const filter = filterOf(url.searchParams);
      const messages = (await capture.list()).filter((m) => messageMatches(m, filter));
      send(res, 200, { messages: messages.map(messageJson) });
      return;
    }
    if (target.kind === 'messages' && method === 'DELETE') {
      send(res, 200, { deleted: await capture.clear() });
      return;
    }
    if (target.kind === 'message' && (method === 'GET' || (method === 'DELETE' && target.part === undefined))) {
      // An id the store cannot have (empty, as in `/messages/`, or with other characters) names no message.
      const missing = new HttpError(404, `no message with id "${target.id}"`);
      if (!ID_PATTERN.test(target.id)) throw missing;
      if (method === 'DELETE') {
        if (!(await capture.delete(target.id))) throw missing;
        res.writeHead(204).end();
        return;
      }
      const message = await capture.get(target.id);
      if (!message) throw missing;
      if (target.part === 'raw') {
        const bytes = await capture.read(message.id);
        res.writeHead(200, { 'content-type': 'message/rfc822', 'content-length': String(bytes.length), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
        res.end(bytes);
        return;
      }
      if (target.part === 'parsed') {
        const parsed = await simpleParser(await capture.read(message.id), { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
        send(res, 200, {
          id: message.id,
          headers: parsed.headerLines.map((h) => ({ name: h.key, line: h.line })),
          subject: parsed.subject ?? null,
          from: addressList(parsed.from),
          to: addressList(parsed.to),
          cc: addressList(parsed.cc),
          messageId: parsed.messageId ?? null,
          date: headerDate(parsed.headerLines),
          text: parsed.text ?? null,
          html: typeof parsed.html === 'string' ? parsed.html : null,
          attachments: parsed.attachments.map((a) => ({ filename: a.filename ?? null, contentType: a.contentType, size: a.size, contentId: a.contentId ?? null })),
        });
        return;
      }
      send(res, 200, messageJson(message));
      return;
    }
    if (target.kind === 'wait' && method === 'GET') {
      const filter = filterOf(url.searchParams, WAIT_PARAMETERS);
      const timeoutText = url.searchParams.get('timeout') ?? '10000';
      if (!/^\d+$/.test(timeoutText) || Number(timeoutText) > MAX_WAIT_MS) throw new HttpError(400, `timeout is milliseconds from 0 to ${MAX_WAIT_MS}`);
      // Subscribe first, then look at what is stored, so a message that arrives in between is not missed.
      let found: StoredMessage | undefined;
      let wake: (() => void) | undefined;
      const arrived = new Promise<void>((done) => (wake = done));
      const subscription = capture.onMessage((m) => {
        if (!found && messageMatches(m, filter)) {
          found = m;
          wake?.();
        }
      });
      try {
        // What is stored already is looked through, in the messages the API keeps (WaitIndex), never
        // by listing the store for each wait; a message that arrives meanwhile answers at once.
        let lookError: unknown;
        const looking = waitIndex.oldest(filter).then(
          (stored) => {
            // The oldest match that is already there answers at once.
            found ??= stored;
          },
          (error: unknown) => {
            lookError = error;
          },
        );
        await Promise.race([looking, arrived]);
        if (lookError !== undefined) throw lookError;
        if (!found) {
          const stop = (): void => wake?.();
          waiting.add(stop);
          req.once('close', stop);
          const timer = setTimeout(stop, Number(timeoutText));
          await arrived;
          clearTimeout(timer);
          waiting.delete(stop);
        }
      } finally {
        subscription.dispose();
      }
      if (res.destroyed) return;
      if (!found) throw new HttpError(408, `no matching message within ${timeoutText} ms`);
      send(res, 200, messageJson(found));
      return;
    }
    if (target.kind === 'rules' && method === 'GET') {
      send(res, 200, rulesFileJson(capture.rules));
      return;
    }
    if (target.kind === 'rules' && method === 'PUT') {
      const text = (await readBody(req, MAX_RULES_BYTES)).toString('utf8');
      const parsed = parseCaptureRules(text);
      // Where the server's SIZE limit is known, a rule cannot advertise more (RFC 1870 §4, §6).
      if (options.sizeLimit !== undefined) parsed.problems.push(...sizeLimitProblems(parsed.rules, options.sizeLimit));
      if (parsed.problems.some((p) => p.severity === 'error')) throw new HttpError(422, 'the rules have errors; the earlier rules stay in force', { problems: parsed.problems });
      capture.setRules(parsed.rules);
      send(res, 200, { rules: parsed.rules.rules.length, problems: parsed.problems });
      return;
    }
    if (target.kind !== 'unknown') throw new HttpError(405, `${method} is not allowed here`);
    throw new HttpError(404, `no such resource: ${url.pathname}`);
  };

  let port = options.port;
  const server: Server = createServer((req, res) => {
    void (async (): Promise<void> => {
      try {
        // DNS rebinding: a page in a browser could resolve its own name to 127.0.0.1; on loopback
        // only requests addressed to a loopback host name are served.
        // Host names are case-insensitive (RFC 3986 §3.2.2, RFC 9110 §7.2): `LOCALHOST` is loopback too.
        const hostHeader = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1').toLowerCase();
        if (isLoopbackHost(host) && !isLoopbackHost(hostHeader)) throw new HttpError(403, 'the Host header must name a loopback address');
        if (options.token !== undefined) {
          const given = bearerToken(req.headers.authorization) ?? '';
          if (!sameToken(given, options.token)) throw new HttpError(401, 'a bearer token is required');
        }
        const url = new URL(req.url ?? '/', `http://${formatAddress(host, port)}`);
        // The URL parser resolves dot segments (`.`, `..`, `%2e`) and reads `\\` as `/`, so that
        // `/api/v1/messages/.` would become the collection: such a path is refused, never resolved.
        if (url.pathname !== requestPath(req.url ?? '/')) throw new HttpError(400, 'the path has a dot segment (".", "..", "%2e") or a backslash; send it in normal form');
        await route(req, res, url);
      } catch (error) {
        if (res.headersSent || res.destroyed) return;
        if (error instanceof HttpError) {
          if (error.status === 401) res.setHeader('www-authenticate', 'Bearer');
          if (error.closeConnection) res.setHeader('connection', 'close');
          send(res, error.status, { error: error.message, ...error.extra });
        } else send(res, 500, { error: error instanceof Error ? error.message : String(error) });
      }
    })();
  });
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port, host, () => {
      server.removeListener('error', rejectListen);
      resolveListen();
    });
  });
  const address = server.address();
  port = address !== null && typeof address === 'object' ? address.port : options.port;
  return {
    url: `http://${formatAddress(host, port)}`,
    port,
    async stop(): Promise<void> {
      waitIndex.dispose();
      for (const stop of waiting) stop();
      await new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      });
    },
  };
}
