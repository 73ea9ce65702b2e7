/**
 * A scriptable raw TCP (or TLS) server for hostile-server tests: it records every byte it receives
 * and lets a test answer command lines however it likes.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';

export interface RawServer {
  port: number;
  /** Every byte received, over all connections, in order. */
  received(): Buffer;
  close(): Promise<void>;
}

export interface LineConnection {
  socket: net.Socket;
  send(text: string): void;
  /** Resolves with the next CRLF- or LF-terminated line received (without its ending). */
  nextLine(): Promise<string>;
}

/** Starts a server; `onConnection` drives each connection. */
export async function rawServer(
  onConnection: (c: LineConnection) => void | Promise<void>,
  secure?: tls.TlsOptions,
  listen: { host?: string; port?: number } = {},
): Promise<RawServer> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const handle = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = '';
    const waiting: Array<(line: string) => void> = [];
    const lines: string[] = [];
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      pending += chunk.toString('latin1');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).replace(/\r$/, '');
        pending = pending.slice(nl + 1);
        const w = waiting.shift();
        if (w) w(line);
        else lines.push(line);
      }
    });
    const conn: LineConnection = {
      socket,
      send: (text) => {
        if (!socket.destroyed) socket.write(text);
      },
      nextLine: () => {
        const l = lines.shift();
        if (l !== undefined) return Promise.resolve(l);
        return new Promise((resolve) => waiting.push(resolve));
      },
    };
    void Promise.resolve(onConnection(conn)).catch(() => socket.destroy());
  };
  const server = secure ? tls.createServer(secure, handle) : net.createServer(handle);
  // A failed TLS handshake emits an error on the server; tests provoke them on purpose.
  server.on('tlsClientError', () => undefined);
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    received: () => Buffer.concat(chunks),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Answers a standard session: greeting, EHLO with `extensions`, 250 for MAIL/RCPT/RSET/NOOP, 354
 * for DATA, 221 for QUIT; `answer` can give a command line a reply of the test's own instead.
 */
export async function politeSmtp(
  c: LineConnection,
  extensions: string[] = ['PIPELINING', '8BITMIME'],
  name = 'raw.example.test',
  answer: (line: string) => string | undefined = () => undefined,
): Promise<void> {
  c.send(`220 ${name} ESMTP\r\n`);
  let inData = false;
  for (;;) {
    const line = await c.nextLine();
    if (inData) {
      if (line === '.') {
        inData = false;
        c.send('250 2.0.0 queued\r\n');
      }
      continue;
    }
    const verb = line.split(' ')[0].toUpperCase();
    const own = answer(line);
    if (own !== undefined) c.send(`${own}\r\n`);
    else if (verb === 'EHLO') {
      const all = ['raw.example.test', ...extensions];
      c.send(all.map((e, i) => `250${i === all.length - 1 ? ' ' : '-'}${e}\r\n`).join(''));
    } else if (verb === 'DATA') {
      inData = true;
      c.send('354 go ahead\r\n');
    } else if (verb === 'QUIT') {
      c.send('221 bye\r\n');
      c.socket.end();
      return;
    } else c.send('250 2.0.0 ok\r\n');
  }
}
