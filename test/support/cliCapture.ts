/** Runs a CLI command in process with its output captured, as `smtpwb` would print it. */
import { Writable } from 'node:stream';
import type { CliIo } from '../../client/src/cli/cliIo';

export interface CapturedRun {
  code: number;
  out: string;
  err: string;
}

export async function captureCli(command: (args: string[], io: CliIo) => Promise<number>, args: string[], io: { env?: NodeJS.ProcessEnv; cwd: string }): Promise<CapturedRun> {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        append(chunk.toString());
        callback();
      },
    });
  const code = await command(args, { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), env: io.env ?? {}, cwd: io.cwd });
  return { code, out, err };
}
