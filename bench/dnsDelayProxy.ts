// A UDP DNS proxy on loopback that forwards each query to an upstream server and holds each answer
// for a fixed delay before passing it on, to stand in for a resolver that is `delayMs` away.
import * as dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface DelayProxy {
  address: string;
  /** How many queries went through. */
  count(): number;
  stop(): Promise<void>;
}

export async function startDelayProxy(upstream: { host: string; port: number }, delayMs: number): Promise<DelayProxy> {
  const server = dgram.createSocket('udp4');
  const open = new Set<dgram.Socket>();
  let queries = 0;
  server.on('message', (msg, client) => {
    queries++;
    const up = dgram.createSocket('udp4');
    open.add(up);
    const close = (): void => {
      open.delete(up);
      up.close();
    };
    const timer = setTimeout(close, 5000);
    up.on('message', (answer) => {
      clearTimeout(timer);
      setTimeout(() => {
        server.send(answer, client.port, client.address);
        close();
      }, delayMs);
    });
    up.on('error', close);
    up.send(msg, upstream.port, upstream.host);
  });
  await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    count: () => queries,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.close();
        server.close(() => resolve());
      }),
  };
}
