// One DNS forwarder for tests and benchmarks, on loopback: it passes each query (UDP, and TCP on
// the same port when asked) to an upstream server such as Knot or Unbound, and can
//   - hold every answer for a fixed delay, to stand in for a resolver that far away (bench/dns-report);
//   - drop every query for chosen questions, so that a client meets a real timeout (the RFC 7208
//     TIMEOUT scenarios);
//   - listen on a fixed address and port, such as 127.0.0.2:53 for posttls-finger (needs root).
// It also measures the depth of what went through it, whichever DNS client sent it: a query's
// generation is one more than the highest generation among the answers already passed on when it
// arrived (a query sent after an answer may depend on it). That over-counts rather than
// under-counts real dependencies, so a budget computed from it is not flattered.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

const TYPE_NAMES: Record<number, string> = { 1: 'A', 5: 'CNAME', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 52: 'TLSA', 99: 'SPF' };

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

export interface DnsForwarderOptions {
  upstream: { host: string; port: number };
  /** Where to listen; default 127.0.0.1 on a free port. */
  host?: string;
  port?: number;
  /** Hold each answer this long before passing it on (default 0). */
  delayMs?: number;
  /** Also forward DNS over TCP on the same port (default true). */
  tcp?: boolean;
}

export interface DnsForwarder {
  /** 'IP:PORT' of the forwarder. */
  address: string;
  host: string;
  port: number;
  /** The questions ("name TYPE", name lower case without the final dot) that are dropped. */
  drop: Set<string>;
  /** How many queries arrived. */
  count(): number;
  /** The highest query generation since the last `resetDepth()` (see above). */
  depth(): number;
  resetDepth(): void;
  stop(): Promise<void>;
}

export async function startDnsForwarder(options: DnsForwarderOptions): Promise<DnsForwarder> {
  const { upstream } = options;
  const host = options.host ?? '127.0.0.1';
  const delayMs = options.delayMs ?? 0;
  const drop = new Set<string>();
  const pending = new Set<dgram.Socket>();
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let queries = 0;
  let answeredGeneration = 0;
  let maxGeneration = 0;

  /** Counts a query and returns its generation, or undefined when it is to be dropped. */
  const admit = (msg: Buffer): number | undefined => {
    queries++;
    const name = queryName(msg);
    if (name === undefined || drop.has(name)) return undefined;
    const generation = answeredGeneration + 1;
    maxGeneration = Math.max(maxGeneration, generation);
    return generation;
  };
  const later = (generation: number, send: () => void): void => {
    const pass = (): void => {
      answeredGeneration = Math.max(answeredGeneration, generation);
      send();
    };
    if (delayMs <= 0) return pass();
    const timer = setTimeout(() => {
      timers.delete(timer);
      pass();
    }, delayMs);
    timers.add(timer);
  };

  let tcp: net.Server | undefined;
  if (options.tcp !== false) {
    tcp = net.createServer((client) => {
      sockets.add(client);
      client.on('close', () => sockets.delete(client));
      client.on('error', () => client.destroy());
      let buffered = Buffer.alloc(0);
      client.on('data', (d) => {
        buffered = Buffer.concat([buffered, d]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const frame = buffered.subarray(0, 2 + buffered.readUInt16BE(0));
          buffered = buffered.subarray(frame.length);
          const generation = admit(frame.subarray(2));
          if (generation === undefined) continue;
          const up = net.createConnection({ host: upstream.host, port: upstream.port });
          sockets.add(up);
          up.on('close', () => sockets.delete(up));
          up.on('error', () => client.destroy());
          up.on('connect', () => up.write(frame));
          up.on('data', (answer) => later(generation, () => client.writable && client.write(answer)));
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      tcp!.once('error', reject);
      tcp!.listen(options.port ?? 0, host, () => resolve());
    });
  }
  const port = tcp ? (tcp.address() as AddressInfo).port : (options.port ?? 0);

  const udp = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  udp.on('message', (msg, client) => {
    const generation = admit(msg);
    if (generation === undefined) return;
    const up = dgram.createSocket(net.isIPv6(upstream.host) ? 'udp6' : 'udp4');
    pending.add(up);
    const close = (): void => {
      if (pending.delete(up)) up.close();
    };
    const timer = setTimeout(close, 5000);
    up.on('message', (answer) => {
      clearTimeout(timer);
      later(generation, () => {
        udp.send(answer, client.port, client.address);
        close();
      });
    });
    up.on('error', close);
    up.send(msg, upstream.port, upstream.host);
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, host, () => resolve());
  });
  const bound = (udp.address() as AddressInfo).port;

  return {
    address: net.isIPv6(host) ? `[${host}]:${bound}` : `${host}:${bound}`,
    host,
    port: bound,
    drop,
    count: () => queries,
    depth: () => maxGeneration,
    resetDepth: () => {
      answeredGeneration = 0;
      maxGeneration = 0;
    },
    async stop(): Promise<void> {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of pending) s.close();
      pending.clear();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      if (tcp) await new Promise<void>((resolve) => tcp!.close(() => resolve()));
    },
  };
}

/** Passes every TCP connection to host:port on to another address (posttls-finger's port 25). */
export async function startTcpForward(host: string, port: number, to: { host: string; port: number }): Promise<{ stop(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(to.port, to.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
