// A scripted IMAP server on loopback for the `report fetch` tests that need a server to misbehave
// on purpose: stop answering after the login, stall in the middle of a message, or send more than
// its RFC822.SIZE announced. Dovecot (test/peers/dovecot.ts) is the real server for everything
// else; it cannot be made to do these things, so this is a real TCP peer speaking just enough
// IMAP4rev1 (RFC 3501) for imapflow, never a mock of the client's own code. The `scripted` fault
// lets a test write the answers to the size listing and the download itself (a message listed
// beyond EXISTS, a UID given twice, an answer without a body, an endless stream).
import { createServer, type Server, type Socket } from 'node:net';

/** What the stub does wrong. */
export type StubFault =
  /** Greets, then never answers a command (the login included). */
  | 'stall-login'
  /** Greets, accepts the login, then never answers EXAMINE. */
  | 'stall-examine'
  /** Lists one message, then sends the first bytes of its source and stalls. */
  | 'stall-body'
  /** Announces RFC822.SIZE 100 but sends `bytes` bytes of source (as much as it was asked for). */
  | 'lie-size'
  /** Announces RFC822.SIZE 100 and sends `bytes` bytes of source, more than it was asked for. */
  | 'overflow'
  /** Refuses the login with a text holding control characters. */
  | 'hostile-no'
  /** Answers EXAMINE with `script.exists` and the two FETCH commands as `script` says. */
  | 'scripted';

/** What a scripted answer writes with: the command's tag and text, and the connection. */
export interface StubAnswer {
  tag: string;
  /** The command without its tag. */
  command: string;
  write(data: string | Buffer): void;
  /**
   * Writes `line(1)`, `line(2)`, ... for as long as the connection is open, `perTick` lines every
   * `everyMs` milliseconds (and only when the socket has drained, so the stub's own memory stays flat).
   */
  stream(line: (n: number) => string, options: { everyMs: number; perTick: number }): void;
}

/** The answers of a scripted stub (fault `scripted`). */
export interface StubScript {
  /** The EXISTS count EXAMINE announces. */
  exists: number;
  /** Answers the size listing (`FETCH ... (UID RFC822.SIZE)`), tagged OK included when it ends. */
  listing(answer: StubAnswer): void;
  /** Answers the download (`UID FETCH ... BODY.PEEK[]`); by default a tagged OK only. */
  bodies?(answer: StubAnswer): void;
}

/** One untagged FETCH answer carrying a message source as a literal: `* SEQ FETCH (UID UID BODY[]<0> {N}` CRLF source `)`. */
export function bodyAnswer(seq: number, uid: number, source: Buffer | string): Buffer {
  const data = typeof source === 'string' ? Buffer.from(source, 'latin1') : source;
  return Buffer.concat([Buffer.from(`* ${seq} FETCH (UID ${uid} BODY[]<0> {${data.length}}\r\n`, 'latin1'), data, Buffer.from(')\r\n', 'latin1')]);
}

export interface ImapStub {
  port: number;
  /** The commands received, without their tags. */
  commands: string[];
  stop(): Promise<void>;
}

/** A report mail of `bytes` bytes or more: headers and a body of letters. */
function messageOf(bytes: number): Buffer {
  const head = 'From: r@receiver.example\r\nTo: rua@example.com\r\nSubject: Report Domain: example.com\r\n\r\n';
  return Buffer.from(head + 'x'.repeat(Math.max(0, bytes - head.length)), 'latin1');
}

export async function startImapStub(fault: StubFault, options: { bytes?: number; script?: StubScript } = {}): Promise<ImapStub> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const commands: string[] = [];
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.write('* OK [CAPABILITY IMAP4rev1] stub ready\r\n');
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const space = line.indexOf(' ');
        if (space < 0) continue;
        const tag = line.slice(0, space);
        const command = line.slice(space + 1);
        commands.push(command);
        answer(socket, tag, command);
      }
    });
  });
  const scripted = (socket: Socket, tag: string, command: string): StubAnswer => ({
    tag,
    command,
    write: (data) => {
      if (!socket.destroyed) socket.write(data);
    },
    stream: (line, { everyMs, perTick }) => {
      let n = 0;
      const timer = setInterval(() => {
        if (socket.destroyed) {
          clearInterval(timer);
          timers.delete(timer);
          return;
        }
        if (socket.writableNeedDrain) return;
        let chunk = '';
        for (let i = 0; i < perTick; i++) chunk += line(++n);
        socket.write(chunk);
      }, everyMs);
      timers.add(timer);
    },
  });
  const answer = (socket: Socket, tag: string, command: string): void => {
    const verb = command.toUpperCase();
    if (fault === 'stall-login') return;
    const script = options.script;
    if (fault === 'scripted' && script && (verb.startsWith('EXAMINE') || verb.startsWith('SELECT'))) {
      socket.write(`* ${script.exists} EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen)\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT ${script.exists + 1}] ok\r\n${tag} OK [READ-ONLY] done\r\n`);
      return;
    }
    if (fault === 'scripted' && script && verb.includes('FETCH')) {
      if (verb.includes('BODY')) {
        if (script.bodies) script.bodies(scripted(socket, tag, command));
        else socket.write(`${tag} OK done\r\n`);
      } else script.listing(scripted(socket, tag, command));
      return;
    }
    if (verb.startsWith('CAPABILITY')) {
      socket.write(`* CAPABILITY IMAP4rev1\r\n${tag} OK done\r\n`);
    } else if (verb.startsWith('LOGIN')) {
      if (fault === 'hostile-no') socket.write(`${tag} NO [AUTHENTICATIONFAILED] no\x1b[2J\x07 entry\r\n`);
      else socket.write(`${tag} OK [CAPABILITY IMAP4rev1] logged in\r\n`);
    } else if (verb.startsWith('EXAMINE') || verb.startsWith('SELECT')) {
      if (fault === 'stall-examine') return;
      socket.write(`* 1 EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen)\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 2] ok\r\n${tag} OK [READ-ONLY] done\r\n`);
    } else if (verb.includes('FETCH') && verb.includes('BODY')) {
      const body = messageOf(options.bytes ?? 200);
      if (fault === 'stall-body') {
        socket.write(`* 1 FETCH (UID 1 BODY[]<0> {${body.length}}\r\n`);
        socket.write(body.subarray(0, 10));
        return;
      }
      socket.write(`* 1 FETCH (UID 1 BODY[]<0> {${body.length}}\r\n`);
      socket.write(body);
      socket.write(`)\r\n${tag} OK done\r\n`);
    } else if (verb.includes('FETCH')) {
      const size = fault === 'stall-body' ? messageOf(options.bytes ?? 200).length : 100;
      socket.write(`* 1 FETCH (UID 1 RFC822.SIZE ${size})\r\n${tag} OK done\r\n`);
    } else if (verb.startsWith('LOGOUT')) {
      socket.end(`* BYE bye\r\n${tag} OK done\r\n`);
    } else {
      socket.write(`${tag} OK done\r\n`);
    }
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    commands,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearInterval(t);
        timers.clear();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
