// A local SMTP server that stops half way, for the STARTTLS probe's failure paths: its EHLO reply
// never ends ('drip': continuation lines only), it hangs up after its greeting or in the middle of
// the EHLO reply, or it answers EHLO completely but without STARTTLS ('no-starttls'); or it dribbles
// its greeting, a continuation line every 200 ms that never ends it ('drip-greeting').
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

export type StallingBehaviour = 'drip' | 'close-after-greeting' | 'close-mid-ehlo' | 'no-starttls' | 'drip-greeting';

export async function startStallingSmtp(behaviour: StallingBehaviour): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (behaviour === 'drip-greeting') {
      socket.write('220-slow.test ESMTP\r\n');
      const timer = setInterval(() => socket.write('220-still greeting\r\n'), 200);
      socket.on('close', () => clearInterval(timer));
      return;
    }
    socket.write('220 slow.test ESMTP\r\n');
    if (behaviour === 'close-after-greeting') {
      socket.end();
      return;
    }
    let buffer = '';
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      while (buffer.includes('\r\n')) {
        const line = buffer.slice(0, buffer.indexOf('\r\n'));
        buffer = buffer.slice(buffer.indexOf('\r\n') + 2);
        if (/^EHLO /i.test(line)) {
          if (behaviour === 'drip') socket.write('250-slow.test\r\n250-drip\r\n');
          else if (behaviour === 'close-mid-ehlo') socket.end('250-slow.test\r\n250-STARTTLS\r\n');
          else socket.write('250-slow.test\r\n250 8BITMIME\r\n');
        } else if (/^QUIT/i.test(line)) {
          socket.end('221 bye\r\n');
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
