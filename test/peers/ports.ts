// Allocates free loopback ports for the test peers. Tests run in parallel processes, so every peer
// asks for a fresh port with freePort() instead of using a fixed one.
import * as net from 'node:net';
import * as dgram from 'node:dgram';

/** Options for freePort(). */
export interface FreePortOptions {
  /** The address to bind; 127.0.0.1 unless given. */
  host?: string;
  /** Also require the same port to be free on [::1] (skipped when IPv6 loopback is unavailable). */
  ipv6?: boolean;
  /** Also require the same port to be free for UDP (for DNS peers). */
  udp?: boolean;
}

/** Resolves when a TCP listener can bind host:port, and reports whether it could. */
function canListenTcp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Resolves when a UDP socket can bind host:port, and reports whether it could. */
function canBindUdp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address: host, port, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

let ipv6Cache: Promise<boolean> | undefined;

/** Reports (once per process) whether [::1] can be bound, which some containers disable. */
export function ipv6LoopbackAvailable(): Promise<boolean> {
  ipv6Cache ??= canListenTcp('::1', 0);
  return ipv6Cache;
}

/** Asks the kernel for an ephemeral TCP port on the host. */
function ephemeralPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port was assigned'))));
    });
  });
}

/**
 * Returns a loopback port that is free at the moment of the call. Another process can still take
 * it before the peer binds it, so the start functions retry with a new port when binding fails.
 */
export async function freePort(options: FreePortOptions = {}): Promise<number> {
  const host = options.host ?? '127.0.0.1';
  const v6 = options.ipv6 === true && host !== '::1' && (await ipv6LoopbackAvailable());
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await ephemeralPort(host);
    if (v6 && !(await canListenTcp('::1', port))) continue;
    if (options.udp === true) {
      if (!(await canBindUdp(host, port))) continue;
      if (v6 && !(await canBindUdp('::1', port))) continue;
    }
    return port;
  }
  throw new Error(`freePort: found no port free on ${host}${v6 ? ' and ::1' : ''} after 50 attempts`);
}

/** Returns `count` distinct free ports (see freePort()). */
export async function freePorts(count: number, options: FreePortOptions = {}): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await freePort(options);
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}

/** Resolves once a TCP connection to host:port succeeds, polling every few milliseconds. */
export async function waitForTcp(
  host: string,
  port: number,
  timeoutMs: number,
  stillRunning: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (!stillRunning()) throw new Error(`the process meant to listen on ${host}:${port} exited`);
    if (Date.now() > deadline) throw new Error(`nothing listened on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
