/**
 * The one DNS transport of the raw clients (`wireResolver.ts` for names Node's resolver refuses,
 * `dnssecWire.ts` for the DO, CD and AD bits): one query over UDP, or over TCP with its length
 * prefix (RFC 1035 §4.2.2). Failures are values, never exceptions, so each client words them its own
 * way. Pure apart from the sockets it opens.
 */
import { createSocket } from 'node:dgram';
import { createConnection, isIP } from 'node:net';

/** The answer's bytes, or why there is none (`timedOut` tells a silent server from a refusal). */
export type DnsExchange = { ok: true; message: Buffer } | { ok: false; timedOut: boolean; error: string };

/** Sends one UDP query and waits for the answer with the same id. */
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
      // An answer with another id is not ours (RFC 5452 §9.1).
      if (msg.length >= 2 && msg.readUInt16BE(0) === id) done({ ok: true, message: msg });
    });
    socket.on('error', (err) => done({ ok: false, timedOut: false, error: err.message }));
    socket.send(query, port, host);
  });
}

/** Sends one query over TCP with its two-octet length prefix and reads one answer. */
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
      if (all.length >= 2 && all.length >= 2 + all.readUInt16BE(0)) done({ ok: true, message: all.subarray(2, 2 + all.readUInt16BE(0)) });
    });
    socket.on('error', (err) => done({ ok: false, timedOut: false, error: err.message }));
    socket.on('close', () => done({ ok: false, timedOut: false, error: 'the server closed the TCP connection' }));
  });
}
