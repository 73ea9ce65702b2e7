// A UDP DNS proxy on loopback that forwards each query to an upstream server and holds each answer
// for a fixed delay before passing it on, to stand in for a resolver that is `delayMs` away.
// It also measures the depth of what went through it, whichever DNS client sent it: a query's
// generation is one more than the highest generation among the answers already passed on when it
// arrived (a query sent after an answer may depend on it). That over-counts rather than under-counts
// real dependencies, so a budget computed from it is not flattered.
import * as dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface DelayProxy {
  address: string;
  /** How many queries went through. */
  count(): number;
  /** The highest query generation since the last `resetDepth()` (see above). */
  depth(): number;
  resetDepth(): void;
  stop(): Promise<void>;
}

export async function startDelayProxy(upstream: { host: string; port: number }, delayMs: number): Promise<DelayProxy> {
  const server = dgram.createSocket('udp4');
  const open = new Set<dgram.Socket>();
  let queries = 0;
  let answeredGeneration = 0;
  let maxGeneration = 0;
  server.on('message', (msg, client) => {
    queries++;
    const generation = answeredGeneration + 1;
    maxGeneration = Math.max(maxGeneration, generation);
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
        answeredGeneration = Math.max(answeredGeneration, generation);
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
    depth: () => maxGeneration,
    resetDepth: () => {
      answeredGeneration = 0;
      maxGeneration = 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.close();
        server.close(() => resolve());
      }),
  };
}
