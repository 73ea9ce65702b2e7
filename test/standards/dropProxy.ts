// A DNS forwarder for tests that drops every query for chosen names (UDP and TCP), so a resolver
// meets a real timeout, and forwards everything else to an upstream server such as Knot.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

const TYPE_NAMES: Record<number, string> = { 1: 'A', 5: 'CNAME', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 99: 'SPF' };

/**
 * The question of a DNS message as "name TYPE" (name lower case, without the final dot, type by
 * mnemonic or number); undefined when malformed.
 */
export function queryName(msg: Buffer): string | undefined {
  if (msg.length < 13) return undefined;
  const labels: string[] = [];
  let pos = 12;
  while (pos < msg.length && msg[pos] !== 0) {
    const len = msg[pos];
    if (len > 63) return undefined;
    labels.push(msg.toString('latin1', pos + 1, pos + 1 + len));
    pos += len + 1;
  }
  if (pos + 3 > msg.length) return undefined;
  const type = msg.readUInt16BE(pos + 1);
  return `${labels.join('.').toLowerCase()} ${TYPE_NAMES[type] ?? String(type)}`;
}

export interface DropProxy {
  /** 'IP:PORT' of the proxy. */
  address: string;
  host: string;
  port: number;
  /** The questions ("name TYPE", name lower case without the final dot) that are dropped. */
  drop: Set<string>;
  stop(): Promise<void>;
}

/** Starts the proxy on 127.0.0.1 (same port for UDP and TCP), forwarding to upstream host:port. */
export async function startDropProxy(upstreamHost: string, upstreamPort: number): Promise<DropProxy> {
  const drop = new Set<string>();
  const tcp = net.createServer((client) => {
    let buffered = Buffer.alloc(0);
    client.on('error', () => undefined);
    client.on('data', (d) => {
      buffered = Buffer.concat([buffered, d]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const frame = buffered.subarray(0, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(frame.length);
        const name = queryName(frame.subarray(2));
        if (name === undefined || drop.has(name)) continue;
        const up = net.createConnection({ host: upstreamHost, port: upstreamPort });
        up.on('error', () => client.destroy());
        up.on('connect', () => up.write(frame));
        up.pipe(client, { end: false });
      }
    });
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const port = (tcp.address() as AddressInfo).port;
  const udp = dgram.createSocket('udp4');
  const pending = new Set<dgram.Socket>();
  udp.on('message', (msg, rinfo) => {
    const name = queryName(msg);
    if (name === undefined || drop.has(name)) return;
    const up = dgram.createSocket('udp4');
    pending.add(up);
    const done = (): void => {
      pending.delete(up);
      up.close();
    };
    const timer = setTimeout(done, 5000);
    up.on('message', (answer) => {
      clearTimeout(timer);
      udp.send(answer, rinfo.port, rinfo.address);
      done();
    });
    up.send(msg, upstreamPort, upstreamHost);
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, '127.0.0.1', () => resolve());
  });
  return {
    address: `127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    drop,
    async stop(): Promise<void> {
      for (const s of pending) s.close();
      pending.clear();
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}
