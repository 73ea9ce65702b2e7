// Two servers that `bench/capture-throughput` measures for information beside the capture server,
// so its note can say where the time goes between Node and the capture server:
//   - `startLibraryOnly`: smtp-server as the capture server runs it (immediate greeting, the
//     extensions of smtpServerExtensions.ts) but without storage, rules or verification: each
//     message is read to its end and dropped. It is the ceiling of the library the server is built on.
//   - `startMinimalResponder`: a bare SMTP responder on node:net that answers smtp-source's commands
//     (EHLO/HELO, MAIL, RCPT, DATA with its end found across packets, RSET, NOOP, QUIT) and drops the
//     messages: what Node itself costs per message, with no parsing beyond the verb.
// Neither is a product: they exist only for the bench.
import { createServer, type Server, type Socket } from 'node:net';
import { CaptureSmtpServer } from '../client/src/localServer/smtpServerExtensions';

/** A reference server on loopback that counts the messages it read to their end. */
export interface ReferenceServer {
  readonly address: string;
  /** Resolves once this many messages (counted from now) have been read to their end. */
  messages(count: number): Promise<void>;
  stop(): Promise<void>;
}

/** Counts messages and resolves the waiter of the current measurement. */
class Counter {
  private count = 0;
  private target = Number.POSITIVE_INFINITY;
  private done: () => void = () => undefined;

  add(): void {
    if (++this.count === this.target) this.done();
  }

  wait(count: number): Promise<void> {
    this.count = 0;
    this.target = count;
    return new Promise((resolveWait) => (this.done = resolveWait));
  }
}

function listen(server: Server): Promise<string> {
  return new Promise((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(0, '127.0.0.1', () => {
      const bound = server.address();
      resolveListen(`127.0.0.1:${bound !== null && typeof bound === 'object' ? bound.port : 0}`);
    });
  });
}

function close(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolveClose) => server.close(() => resolveClose()));
}

/** smtp-server with the capture server's extensions, storing nothing (see the file's comment). */
export async function startLibraryOnly(): Promise<ReferenceServer> {
  const counter = new Counter();
  const smtp = new CaptureSmtpServer({
    name: 'localhost',
    logger: false,
    secure: false,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    maxAllowedUnauthenticatedCommands: false,
    onConnect: (_session, callback) => callback(),
    onMailFrom: (_address, _session, callback) => callback(),
    onRcptTo: (_address, _session, callback) => callback(),
    onData(stream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        counter.add();
        callback(null, 'OK');
      });
    },
  });
  const sockets = new Set<Socket>();
  smtp.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const address = await listen(smtp.server);
  return { address, messages: (count) => counter.wait(count), stop: () => close(smtp.server, sockets) };
}

const END_OF_DATA = Buffer.from('\r\n.\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');

/** A bare responder on node:net (see the file's comment). */
export async function startMinimalResponder(): Promise<ReferenceServer> {
  const counter = new Counter();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let inData = false;
    // The end of a line or of the data may be split across packets: the unread tail is kept.
    let pending: Buffer = Buffer.alloc(0);
    socket.write('220 localhost ESMTP reference responder\r\n');
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        if (inData) {
          const at = pending.indexOf(END_OF_DATA);
          if (at === -1) {
            // Keep only what could start the end marker.
            if (pending.length > 4) pending = pending.subarray(pending.length - 4);
            return;
          }
          pending = pending.subarray(at + END_OF_DATA.length);
          inData = false;
          counter.add();
          socket.write('250 2.0.0 OK\r\n');
          continue;
        }
        const eol = pending.indexOf('\r\n');
        if (eol === -1) return;
        const verb = pending.subarray(0, Math.min(4, eol)).toString('latin1').toUpperCase();
        pending = pending.subarray(eol + 2);
        if (verb === 'DATA') {
          inData = true;
          // The CRLF that ended DATA counts as the one before the data's first line, so an empty
          // message (a lone ".") ends it too.
          pending = Buffer.concat([CRLF, pending]);
          socket.write('354 go ahead\r\n');
        } else if (verb === 'EHLO') socket.write('250-localhost\r\n250-PIPELINING\r\n250 8BITMIME\r\n');
        else if (verb === 'QUIT') {
          socket.end('221 2.0.0 bye\r\n');
          return;
        } else socket.write('250 2.0.0 OK\r\n');
      }
    });
  });
  const address = await listen(server);
  return { address, messages: (count) => counter.wait(count), stop: () => close(server, sockets) };
}
