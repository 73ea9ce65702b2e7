// A minimal SMTP client over a raw socket for the peer tests: it sends exact bytes and reads
// replies, with STARTTLS. It is deliberately small; the product has its own engine.
import * as net from 'node:net';
import * as tls from 'node:tls';

/** One SMTP reply. */
export interface SmtpReply {
  code: number;
  /** The text of each line without the code and separator. */
  lines: string[];
  /** The reply as received. */
  raw: string;
}

/** A raw SMTP connection. */
export class RawSmtp {
  private buffer = '';
  private waiters: Array<() => void> = [];
  private closed = false;
  private constructor(private socket: net.Socket) {
    this.attach(socket);
  }

  /** Connects; with `implicitTls` the connection starts with a TLS handshake. */
  static connect(
    host: string,
    port: number,
    options: { implicitTls?: boolean; ca?: string; servername?: string } = {},
  ): Promise<RawSmtp> {
    return new Promise((resolve, reject) => {
      const socket = options.implicitTls
        ? tls.connect({ host, port, ca: options.ca, servername: options.servername ?? 'mail.example.test' })
        : net.connect({ host, port });
      socket.once(options.implicitTls ? 'secureConnect' : 'connect', () => {
        socket.removeListener('error', reject);
        resolve(new RawSmtp(socket));
      });
      socket.once('error', reject);
    });
  }

  private attach(socket: net.Socket): void {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Whether the connection is TLS now. */
  get secure(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  /** Reads one (possibly multi-line) reply. */
  async read(timeoutMs = 10000): Promise<SmtpReply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(this.buffer);
      if (m) {
        const raw = m[0];
        this.buffer = this.buffer.slice(raw.length);
        const lines = raw.split('\n').filter((l) => l !== '').map((l) => l.replace(/\r$/, ''));
        return { code: Number(lines[lines.length - 1].slice(0, 3)), lines: lines.map((l) => l.slice(4)), raw };
      }
      if (this.closed) throw new Error(`connection closed; pending: ${JSON.stringify(this.buffer)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; pending: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Writes bytes as they are. */
  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Sends a command line (CRLF is added) and reads the reply. */
  async command(line: string): Promise<SmtpReply> {
    this.write(`${line}\r\n`);
    return this.read();
  }

  /** Sends STARTTLS and upgrades the socket; fails unless the reply is 220. */
  async starttls(ca: string, servername = 'mail.example.test'): Promise<void> {
    const reply = await this.command('STARTTLS');
    if (reply.code !== 220) throw new Error(`STARTTLS refused: ${reply.raw}`);
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    this.socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const secure = tls.connect({ socket: plain, ca, servername }, () => resolve(secure));
      secure.once('error', reject);
    });
    this.attach(this.socket);
  }

  /** Sends QUIT, half-closes (so Exim answers at once), and closes. */
  async quit(): Promise<void> {
    if (this.closed) return;
    this.write('QUIT\r\n');
    this.socket.end();
    try {
      await this.read(2000);
    } catch {
      // The server may close without a reply.
    }
    this.socket.destroy();
  }

  /** Closes at once. */
  destroy(): void {
    this.socket.destroy();
  }
}
