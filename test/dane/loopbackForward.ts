// Forwarders on a second loopback address (127.0.0.2) for the posttls-finger cross-check: Postfix
// asks the system resolver on port 53 and delivers to port 25, so DNS (UDP and TCP) on :53 goes to
// Unbound and :25 goes to Exim. Binding these ports needs root.
import * as dgram from 'node:dgram';
import * as net from 'node:net';

export interface Forwarders {
  stop(): Promise<void>;
}

function tcpForward(host: string, port: number, to: { host: string; port: number }, sockets: Set<net.Socket>): Promise<net.Server> {
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
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

export async function startForwarders(host: string, dns: { host: string; port: number }, smtp: { host: string; port: number }): Promise<Forwarders> {
  const sockets = new Set<net.Socket>();
  const udp = dgram.createSocket('udp4');
  const pending = new Set<dgram.Socket>();
  udp.on('message', (msg, client) => {
    const up = dgram.createSocket('udp4');
    pending.add(up);
    const close = (): void => {
      pending.delete(up);
      up.close();
    };
    const timer = setTimeout(close, 5000);
    up.on('message', (answer) => {
      clearTimeout(timer);
      udp.send(answer, client.port, client.address);
      close();
    });
    up.on('error', close);
    up.send(msg, dns.port, dns.host);
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(53, host, () => resolve());
  });
  const servers = [await tcpForward(host, 53, dns, sockets), await tcpForward(host, 25, smtp, sockets)];
  return {
    stop: async () => {
      for (const s of sockets) s.destroy();
      for (const s of pending) s.close();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      await new Promise<void>((r) => udp.close(() => r()));
    },
  };
}
