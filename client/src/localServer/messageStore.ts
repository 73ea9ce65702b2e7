/**
 * The capture server's folder of received messages. Each message is kept as `<timestamp>-<id>.eml`
 * holding exactly the message content of the mail transaction (RFC 5321 §4.1.1.4: the DATA bytes
 * after the transparency dots of §4.5.2 are removed, ending with the CRLF before the final dot),
 * and a sidecar `<timestamp>-<id>.envelope.json` with the envelope and the connection's details.
 *
 * A message is written to a hidden temporary folder first and renamed into place once complete, so
 * the folder never shows half a message. Nothing here imports `vscode`.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HEADER_SCAN_LIMIT, parseSummaryHeaders, type SummaryHeaders } from './messageHeaders';

/** What the server knew about a message when it accepted it. */
export interface CaptureEnvelope {
  /** The reverse-path of MAIL FROM (RFC 5321 §4.1.1.2); the empty string for the null sender `<>`. */
  mailFrom: string;
  /** The forward-paths of the accepted RCPT TO commands (§4.1.1.3), in order. */
  rcptTo: string[];
  /** MAIL FROM parameters (keys upper-case, e.g. `SIZE`, `BODY`, `SMTPUTF8`); a flag has the value `true`. */
  mailParameters: Record<string, string | true>;
  /** RCPT TO parameters, one object per recipient, in the order of `rcptTo`. */
  rcptParameters: Array<Record<string, string | true>>;
  remoteAddress: string;
  remotePort: number;
  /** The name the client gave in EHLO/HELO (§4.1.1.1), or null if it gave none. */
  helo: string | null;
  /** TLS that was in force (RFC 3207 STARTTLS), or null for a cleartext session. */
  tls: { protocol: string | null; cipher: string } | null;
  /** The AUTH that succeeded (RFC 4954), or null when the client did not authenticate. */
  auth: { method: string; username: string } | null;
  /** The BODY parameter (RFC 6152): `7bit` unless the client said `8BITMIME`. */
  bodyType: '7bit' | '8bitmime';
  /** True when MAIL FROM carried SMTPUTF8 (RFC 6531 §3.4). */
  smtpUtf8: boolean;
  /** The protocol name for a Received field (RFC 3848), e.g. `ESMTPSA`. */
  transmissionType: string;
  /** When the server accepted the message (after the final dot), ISO 8601 in UTC. */
  receivedAt: string;
  /** The size of the stored message in octets. */
  size: number;
}

/** One stored message, as the inbox lists it. */
export interface StoredMessage extends SummaryHeaders {
  /** The message's id, the part of its file name after the timestamp. */
  id: string;
  /** The absolute path of the `.eml` file. */
  path: string;
  /** The path of the sidecar JSON. */
  envelopePath: string;
  receivedAt: Date;
  size: number;
  /** Undefined only when the sidecar is missing or unreadable. */
  envelope?: CaptureEnvelope;
}

/** The sidecar's content. */
interface Sidecar {
  version: 1;
  id: string;
  file: string;
  envelope: CaptureEnvelope;
  headers: SummaryHeaders;
}

/** `20261123T044200123Z-<id>.eml`: a sortable UTC timestamp with milliseconds, then the id. */
const MESSAGE_FILE = /^(\d{8}T\d{9}Z)-([a-z0-9]+)\.eml$/;
const SIDECAR_SUFFIX = '.envelope.json';
const ID_PATTERN = /^[a-z0-9]+$/;
/** The hidden folder where messages are written before they are complete. */
const TEMP_FOLDER = '.smtpwb-incoming';

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

function stampToDate(text: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(text);
  if (!m) return new Date(0);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7])));
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** The envelope fields the server supplies; the store adds the time and the size. */
export type EnvelopeInput = Omit<CaptureEnvelope, 'receivedAt' | 'size'>;

/** A message being received: written to a temporary file until `commit` or `abort`. */
export interface IncomingMessage {
  /**
   * Copies the message stream to the temporary file. Bytes after `shouldStop()` turns true are
   * dropped (the server refuses an oversized message anyway, RFC 1870 §6.3), but the stream is still
   * read to its end so the session can go on.
   */
  receive(stream: Readable, shouldStop?: () => boolean): Promise<void>;
  /** Moves the message into the folder with its sidecar. */
  commit(envelope: EnvelopeInput): Promise<StoredMessage>;
  /** Removes the temporary file. */
  abort(): Promise<void>;
}

export class MessageStore {
  readonly dir: string;
  readonly tempDir: string;

  constructor(dir: string) {
    this.dir = dir;
    this.tempDir = join(dir, TEMP_FOLDER);
  }

  /** Creates the folder, and removes temporary files an earlier run left behind over an hour ago. */
  async init(): Promise<void> {
    await fs.mkdir(this.tempDir, { recursive: true });
    const hourAgo = Date.now() - 60 * 60 * 1000;
    for (const name of await fs.readdir(this.tempDir).catch(() => [] as string[])) {
      const path = join(this.tempDir, name);
      const stat = await fs.stat(path).catch(() => undefined);
      if (stat && stat.mtimeMs < hourAgo) await fs.rm(path, { force: true }).catch(() => undefined);
    }
  }

  /** Starts receiving a message. */
  begin(): IncomingMessage {
    const id = randomBytes(6).toString('hex');
    const tempPath = join(this.tempDir, `${id}.part`);
    let size = 0;
    let head = Buffer.alloc(0);
    let finished = false;
    const store = this;
    return {
      async receive(stream: Readable, shouldStop: () => boolean = () => false): Promise<void> {
        const sink = new Transform({
          transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
            if (shouldStop()) {
              callback();
              return;
            }
            if (head.length < HEADER_SCAN_LIMIT) head = Buffer.concat([head, chunk.subarray(0, HEADER_SCAN_LIMIT - head.length)]);
            size += chunk.length;
            callback(null, chunk);
          },
        });
        // The folder may have been removed while the server ran; the stream waits meanwhile.
        await fs.mkdir(store.tempDir, { recursive: true });
        await pipeline(stream, sink, createWriteStream(tempPath, { flags: 'wx' }));
      },
      async commit(input: EnvelopeInput): Promise<StoredMessage> {
        if (finished) throw new Error('message already committed or aborted');
        finished = true;
        const receivedAt = new Date();
        const base = `${stamp(receivedAt)}-${id}`;
        const path = join(store.dir, `${base}.eml`);
        const envelopePath = join(store.dir, `${base}${SIDECAR_SUFFIX}`);
        const envelope: CaptureEnvelope = { ...input, receivedAt: receivedAt.toISOString(), size };
        const headers = parseSummaryHeaders(head);
        const sidecar: Sidecar = { version: 1, id, file: `${base}.eml`, envelope, headers };
        // The sidecar first, so a listed message always has its envelope.
        await fs.writeFile(envelopePath, `${JSON.stringify(sidecar, null, 2)}\n`);
        await fs.rename(tempPath, path);
        return { id, path, envelopePath, receivedAt, size, envelope, ...headers };
      },
      async abort(): Promise<void> {
        finished = true;
        await fs.rm(tempPath, { force: true });
      },
    };
  }

  /** All stored messages, newest first. */
  async list(): Promise<StoredMessage[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const messages = await Promise.all(names.filter((n) => MESSAGE_FILE.test(n)).map((n) => this.load(n)));
    return messages
      .filter((m): m is StoredMessage => m !== undefined)
      .sort((a, b) => b.receivedAt.getTime() - a.receivedAt.getTime() || (basename(b.path) < basename(a.path) ? -1 : 1));
  }

  /** The message with this id, or undefined. */
  async get(id: string): Promise<StoredMessage | undefined> {
    const name = await this.fileOf(id);
    return name === undefined ? undefined : this.load(name);
  }

  /** The stored bytes of a message. */
  async read(id: string): Promise<Buffer> {
    const name = await this.fileOf(id);
    if (name === undefined) throw new Error(`no message with id "${id}"`);
    return fs.readFile(join(this.dir, name));
  }

  /** Deletes a message and its sidecar; reports whether it existed. */
  async delete(id: string): Promise<boolean> {
    const name = await this.fileOf(id);
    if (name === undefined) return false;
    await this.remove(name);
    return true;
  }

  /** Deletes every stored message; returns how many there were. */
  async clear(): Promise<number> {
    const names = (await fs.readdir(this.dir).catch(() => [] as string[])).filter((n) => MESSAGE_FILE.test(n));
    await Promise.all(names.map((n) => this.remove(n)));
    // Sidecars whose message is gone already.
    for (const name of await fs.readdir(this.dir).catch(() => [] as string[])) {
      if (name.endsWith(SIDECAR_SUFFIX) && MESSAGE_FILE.test(`${name.slice(0, -SIDECAR_SUFFIX.length)}.eml`)) {
        await fs.rm(join(this.dir, name), { force: true });
      }
    }
    return names.length;
  }

  private async remove(name: string): Promise<void> {
    const base = name.slice(0, -'.eml'.length);
    await fs.rm(join(this.dir, name), { force: true });
    await fs.rm(join(this.dir, `${base}${SIDECAR_SUFFIX}`), { force: true });
  }

  /** Finds the file name of an id; ids are checked, so no path can escape the folder. */
  private async fileOf(id: string): Promise<string | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    return names.find((n) => MESSAGE_FILE.exec(n)?.[2] === id);
  }

  private async load(name: string): Promise<StoredMessage | undefined> {
    const m = MESSAGE_FILE.exec(name);
    if (!m) return undefined;
    const base = name.slice(0, -'.eml'.length);
    const path = join(this.dir, name);
    const envelopePath = join(this.dir, `${base}${SIDECAR_SUFFIX}`);
    const sidecar = await readSidecar(envelopePath);
    if (sidecar !== undefined) {
      return {
        id: m[2],
        path,
        envelopePath,
        receivedAt: new Date(sidecar.envelope.receivedAt),
        size: sidecar.envelope.size,
        envelope: sidecar.envelope,
        ...sidecar.headers,
      };
    }
    // No sidecar (removed by hand, say): show what the file itself says.
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(path, 'r');
      const stat = await handle.stat();
      const buffer = Buffer.alloc(Math.min(stat.size, HEADER_SCAN_LIMIT));
      await handle.read(buffer, 0, buffer.length, 0);
      return { id: m[2], path, envelopePath, receivedAt: stampToDate(m[1]), size: stat.size, ...parseSummaryHeaders(buffer) };
    } catch (error) {
      // Deleted while we looked.
      if (isNotFound(error)) return undefined;
      throw error;
    } finally {
      await handle?.close();
    }
  }
}

async function readSidecar(path: string): Promise<Sidecar | undefined> {
  try {
    const value = JSON.parse(await fs.readFile(path, 'utf8')) as Partial<Sidecar> | null;
    if (value === null || typeof value !== 'object' || value.version !== 1 || typeof value.envelope !== 'object' || value.envelope === null) {
      return undefined;
    }
    return { version: 1, id: String(value.id), file: String(value.file), envelope: value.envelope, headers: value.headers ?? {} };
  } catch {
    return undefined;
  }
}
