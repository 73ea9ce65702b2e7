/**
 * Asks for one value on a terminal, for `{{$prompt NAME}}`: the question goes to stderr (stdout
 * stays the transcript), the answer is one line from stdin, and a secret-looking name is read
 * without echo. Without a TTY nothing is asked.
 */
import { visibleLine } from '../../../common/escape';

export interface PromptStreams {
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stderr: NodeJS.WritableStream;
}

/** Whether the CLI may ask: stdin is a terminal. */
export function canAsk(streams: PromptStreams): boolean {
  return streams.stdin?.isTTY === true;
}

/**
 * Reads one line. Masked input switches the terminal to raw mode and echoes nothing; Ctrl+D gives
 * undefined (no value), Ctrl+C interrupts the program; backspace edits.
 */
export function askLine(streams: PromptStreams, question: string, masked: boolean): Promise<string | undefined> {
  const stdin = streams.stdin;
  if (!stdin || !canAsk(streams)) return Promise.resolve(undefined);
  // Echo goes off before the question appears, so nothing typed after it is ever echoed.
  const raw = masked && typeof stdin.setRawMode === 'function';
  if (raw) stdin.setRawMode!(true);
  streams.stderr.write(visibleLine(question));
  stdin.resume();
  return new Promise<string | undefined>((resolve) => {
    let value = '';
    const finish = (answer: string | undefined): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      if (raw) stdin.setRawMode!(false);
      stdin.pause();
      if (masked) streams.stderr.write('\n');
      resolve(answer);
    };
    const onEnd = (): void => finish(value === '' ? undefined : value);
    const onData = (chunk: Buffer | string): void => {
      const text = chunk.toString();
      for (const ch of text) {
        if (ch === '\r' || ch === '\n') return finish(value);
        // Ctrl+C in raw mode arrives as a character: it interrupts, as it would in cooked mode.
        if (ch === '\u0003') {
          finish(undefined);
          process.kill(process.pid, 'SIGINT');
          return;
        }
        if (ch === '\u0004') return finish(undefined);
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
  });
}
