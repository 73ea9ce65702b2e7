/** What a CLI command gets from the process, injected so commands can be tested in process. */
import { writeSync } from 'node:fs';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Standard input, for commands that ask (absent when not interactive). */
  stdin?: NodeJS.ReadableStream;
}

type WriteCallback = (error?: Error | null) => void;

/**
 * Standard output or error written straight to its file descriptor, one synchronous `write(2)` per
 * call, which is what Node's own streams do on Linux for files, pipes and terminals; but without
 * creating `process.stdout`, whose stream, pipe or terminal handle costs every CLI process 2–4 ms
 * of its start-up. Commands only ever call `write` (and read `isTTY`).
 *
 * - A descriptor that is non-blocking (shared with a parent that made it so) can refuse a write
 *   with EAGAIN: from then on every write goes through the process's own stream (`fallback`),
 *   which queues, so the order of the output is kept. Writers made with one `group` (standard
 *   output and error) fall back together, so one never overtakes the other's queue by writing
 *   directly; from then on they behave as Node's own streams do.
 * - A reader that went away (EPIPE) calls `onBrokenPipe`: the CLI then ends quietly, as Unix
 *   tools do.
 * - The callback of a write runs after the write, on the next tick, as a stream's would.
 */
/** Writers that fall back to the process's streams together (see `FdWriter`). */
export interface FdWriterGroup {
  fallen: boolean;
}

export class FdWriter {
  private stream: NodeJS.WriteStream | undefined;
  private tty: boolean | undefined;

  constructor(
    private readonly fd: number,
    private readonly fallback: () => NodeJS.WriteStream,
    private readonly onBrokenPipe: () => void,
    /** `fs.writeSync`; tests pass one that refuses or writes part of a chunk. */
    private readonly writeNow: (fd: number, bytes: Uint8Array) => number = writeSync,
    private readonly group: FdWriterGroup = { fallen: false },
  ) {}

  /** Whether the descriptor is a terminal (as `process.stdout.isTTY`). */
  get isTTY(): boolean {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (this.tty ??= (require('node:tty') as typeof import('node:tty')).isatty(this.fd));
  }

  write(chunk: string | Uint8Array, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    const done = typeof encoding === 'function' ? encoding : callback;
    if (!this.stream && this.group.fallen) this.stream = this.fallback();
    if (this.stream) return done ? this.stream.write(chunk, done) : this.stream.write(chunk);
    let bytes = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : chunk;
    try {
      while (bytes.length > 0) {
        const n = this.writeNow(this.fd, bytes);
        bytes = bytes.subarray(n);
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') {
        this.onBrokenPipe();
        return false;
      }
      if (code !== 'EAGAIN') throw error;
      this.group.fallen = true;
      this.stream = this.fallback();
      return done ? this.stream.write(bytes, done) : this.stream.write(bytes);
    }
    if (done) process.nextTick(done);
    return true;
  }

  /** Calls `callback` once everything written so far has been handed to the system. */
  flush(callback: () => void): void {
    if (this.stream) this.stream.write('', callback);
    else callback();
  }
}
