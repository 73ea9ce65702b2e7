/**
 * The one DNS transport of the raw clients (`wireResolver.ts` for names Node's resolver refuses,
 * `dnssecWire.ts` for the DO, CD and AD bits): one query over UDP, or over TCP with its length
 * prefix (RFC 1035 §4.2.2). Failures are values, never exceptions, so each client words them its own
 * way. Pure apart from the sockets it opens.
 */
import { createSocket } from 'node:dgram';
import { createConnection, isIP } from 'node:net';

/**
 * The answer's bytes, or why there is none: `timedOut` tells a silent server from a refusal, and
 * `badAnswer` a server that answered with something that is not the answer (another ID or question
 * over TCP) from one that could not be reached.
 */
export type DnsExchange = { ok: true; message: Buffer } | { ok: false; timedOut: boolean; badAnswer?: boolean; error: string };

/** The question of a message: its name in wire form (labels as sent), its type and its class. */
interface Question {
  labels: Buffer[];
  type: number;
  cls: number;
}

/**
 * Reads the single question of a message (RFC 1035 §4.1.2), following no compression pointer: a
 * query never compresses its question, and a pointer inside an answer's question has nothing earlier
 * to point at. Undefined when the message does not hold exactly one readable question.
 */
function readQuestion(message: Buffer): Question | undefined {
  if (message.length < 12 || message.readUInt16BE(4) !== 1) return undefined;
  const labels: Buffer[] = [];
  let pos = 12;
  for (;;) {
    if (pos >= message.length) return undefined;
    const len = message[pos];
    if (len === 0) break;
    if (len > 63 || pos + 1 + len > message.length) return undefined;
    labels.push(message.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  if (pos + 5 > message.length) return undefined;
  return { labels, type: message.readUInt16BE(pos + 1), cls: message.readUInt16BE(pos + 3) };
}

/** ASCII case folding only: DNS names compare case-insensitively for A-Z alone (RFC 4343 §3). */
function sameLabel(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] >= 0x41 && a[i] <= 0x5a ? a[i] + 32 : a[i];
    const y = b[i] >= 0x41 && b[i] <= 0x5a ? b[i] + 32 : b[i];
    if (x !== y) return false;
  }
  return true;
}

/**
 * Whether `answer` answers `query`: a response (QR set) with the query's ID and the same question,
 * name (case-insensitively), type and class (RFC 5452 §9.1). Anything else is not ours: an
 * off-path guess with the right ID but another question must not be taken for the answer.
 */
export function answersQuery(query: Buffer, answer: Buffer): boolean {
  if (answer.length < 12 || query.length < 12) return false;
  if (answer.readUInt16BE(0) !== query.readUInt16BE(0) || (answer[2] & 0x80) === 0) return false;
  const q = readQuestion(query);
  const a = readQuestion(answer);
  if (!q || !a || q.type !== a.type || q.cls !== a.cls || q.labels.length !== a.labels.length) return false;
  return q.labels.every((label, i) => sameLabel(label, a.labels[i]));
}

/**
 * Sends one UDP query and waits for its answer: datagrams that do not answer it (another ID, another
 * question, RFC 5452 §9.1) are ignored, and the wait goes on until the timeout. `id` is the query's
 * ID, kept for the callers' sake; the query's own bytes decide.
 */
export function exchangeUdp(host: string, port: number, query: Buffer, id: number, timeoutMs: number): Promise<DnsExchange> {
  return new Promise((resolve) => {
    const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    const done = (result: DnsExchange): void => {
      clearTimeout(timer);
      try {
        socket.close();
      } catch {
        // Already closed.
      }
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, timedOut: true, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    socket.on('message', (msg) => {
      // An answer with another ID or question is not ours (RFC 5452 §9.1); keep waiting for ours.
      if (msg.length >= 2 && msg.readUInt16BE(0) === id && answersQuery(query, msg)) done({ ok: true, message: msg });
    });
    socket.on('error', (err) => done({ ok: false, timedOut: false, error: err.message }));
    socket.send(query, port, host);
  });
}

/**
 * Sends one query over TCP with its two-octet length prefix and reads one answer. On a connection of
 * its own nothing else can arrive, so an answer with another ID or question is an error, not noise.
 */
export function exchangeTcp(host: string, port: number, query: Buffer, timeoutMs: number): Promise<DnsExchange> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const chunks: Buffer[] = [];
    const done = (result: DnsExchange): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, timedOut: true, error: `no answer over TCP within ${timeoutMs} ms` }), timeoutMs);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(query.length, 0);
    socket.on('connect', () => socket.write(Buffer.concat([len, query])));
    socket.on('data', (d) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      if (all.length >= 2 && all.length >= 2 + all.readUInt16BE(0)) {
        const message = all.subarray(2, 2 + all.readUInt16BE(0));
        done(
          answersQuery(query, message)
            ? { ok: true, message }
            : { ok: false, timedOut: false, badAnswer: true, error: 'the server answered over TCP with another ID or question than the query (RFC 5452 §9.1)' },
        );
      }
    });
    socket.on('error', (err) => done({ ok: false, timedOut: false, error: err.message }));
    socket.on('close', () => done({ ok: false, timedOut: false, error: 'the server closed the TCP connection' }));
  });
}
