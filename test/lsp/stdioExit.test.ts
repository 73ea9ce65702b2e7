/**
 * `smtpwb lsp --stdio` (and `node dist/server.js --stdio`, which has the same transport) ends as the LSP specification says, without losing output: a client that
 * sends `shutdown` and `exit` back to back (in the same write as everything before) gets the
 * shutdown response and every diagnostic published before it, then the server exits with status 0
 * (1 when `exit` comes without `shutdown`). The exit waits for standard output to be written to the
 * pipe, but only for a bounded time: a client that stops reading cannot keep the server alive.
 *
 * Whether output is lost is a race between the pipe and the process's exit, so each case runs many
 * times, and with a document whose diagnostics are larger than a pipe's buffer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { distDir } from '../support/lspClient';

interface Message {
  id?: number;
  method?: string;
  result?: unknown;
  params?: { uri?: string; diagnostics?: Array<{ code?: string }> };
}

function frame(message: object): Buffer {
  const content = Buffer.from(JSON.stringify(message), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${content.length}\r\n\r\n`, 'latin1'), content]);
}

/** Splits what the server wrote into messages; a cut message at the end is reported as such. */
function parseMessages(bytes: Buffer): { messages: Message[]; trailing: number } {
  const messages: Message[] = [];
  let at = 0;
  for (;;) {
    const end = bytes.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const length = Number(/^Content-Length: (\d+)$/.exec(bytes.subarray(at, end).toString('latin1'))?.[1]);
    assert.ok(Number.isInteger(length), 'a well-formed header');
    if (bytes.length < end + 4 + length) break;
    messages.push(JSON.parse(bytes.subarray(end + 4, end + 4 + length).toString('utf8')) as Message);
    at = end + 4 + length;
  }
  return { messages, trailing: bytes.length - at };
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  messages: Message[];
  trailing: number;
  stderr: string;
}

/**
 * Starts the server, writes all the messages in one write (closing the input after them when asked),
 * and collects everything the server writes until it has exited and its output has ended.
 */
function session(messages: object[], options: { closeInput: boolean; read?: boolean; command?: string[] }): Promise<Outcome> {
  const command = options.command ?? [join(distDir(), 'cli.js'), 'lsp', '--stdio'];
  const child = spawn(process.execPath, command, { stdio: ['pipe', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  if (options.read !== false) child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.on('error', () => undefined);
  const bytes = Buffer.concat(messages.map(frame));
  if (options.closeInput) child.stdin.end(bytes);
  else child.stdin.write(bytes);
  return new Promise((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      const { messages: received, trailing } = parseMessages(Buffer.concat(chunks));
      child.stdin.destroy();
      resolve({ code, signal, messages: received, trailing, stderr });
    };
    if (options.read === false) {
      // Nothing reads the server's output: only its exit is awaited, and its pipes are let go.
      child.once('exit', (code, signal) => {
        child.stdout.destroy();
        finish(code, signal);
      });
    } else {
      child.once('close', finish);
    }
  });
}

const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: {} } };
const initialized = { jsonrpc: '2.0', method: 'initialized', params: {} };
const shutdown = { jsonrpc: '2.0', id: 2, method: 'shutdown' };
const exit = { jsonrpc: '2.0', method: 'exit' };

function didOpen(uri: string, text: string): object {
  return { jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'smtp', version: 1, text } } };
}

/** A script with one undefined variable per line: one diagnostic per line, far more than a pipe holds. */
function manyProblems(lines: number): string {
  const out = ['### Many', 'EHLO a.example.test', 'MAIL FROM:<a@example.test>'];
  for (let i = 0; i < lines; i++) out.push(`RCPT TO:<{{undefined_${i}}}@example.test>`);
  return `${out.join('\n')}\n`;
}

const small = { uri: 'file:///tmp/stdio-exit-small.smtp', text: 'EHLO a.example.test\nRCPT TO:<{{nobody}}@example.test>\n', problems: 1 };
const large = { uri: 'file:///tmp/stdio-exit-large.smtp', text: manyProblems(3000), problems: 3000 };

/** Runs `runs` sessions, `parallel` at a time; returns the descriptions of those that failed. */
async function repeat(runs: number, parallel: number, one: (run: number) => Promise<string | undefined>): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < runs) {
      const run = next++;
      const failure = await one(run);
      if (failure !== undefined) failures.push(`run ${run}: ${failure}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return failures;
}

/** How many undefined variables a publishDiagnostics notification reports. */
function undefinedNames(published: Message): number {
  return (published.params?.diagnostics ?? []).filter((d) => d.code === 'smtp-variable-undefined').length;
}

/** What is wrong with one shutdown-and-exit session, or undefined when all is right. */
function checkOutcome(outcome: Outcome, document: { uri: string; problems: number }): string | undefined {
  const problems: string[] = [];
  if (outcome.code !== 0) problems.push(`exit status ${String(outcome.code)} (signal ${String(outcome.signal)})`);
  if (!outcome.messages.some((m) => m.id === 1)) problems.push('no initialize response');
  if (!outcome.messages.some((m) => m.id === 2 && 'result' in m && m.result === null)) problems.push('no shutdown response');
  const published = outcome.messages.find((m) => m.method === 'textDocument/publishDiagnostics' && m.params?.uri === document.uri);
  if (!published) problems.push('no diagnostics');
  else if (undefinedNames(published) !== document.problems) problems.push(`${undefinedNames(published)} undefined variables of ${document.problems}`);
  if (outcome.trailing !== 0) problems.push(`${outcome.trailing} bytes of a cut message`);
  if (outcome.stderr !== '') problems.push(`stderr: ${outcome.stderr}`);
  return problems.length > 0 ? problems.join('; ') : undefined;
}

test('initialize, didOpen, shutdown and exit in one write, 50 times: the shutdown response and the diagnostics arrive, and the status is 0', async () => {
  const failures = await repeat(50, 4, async (run) => {
    const outcome = await session([initialize, initialized, didOpen(small.uri, small.text), shutdown, exit], { closeInput: run % 2 === 1 });
    return checkOutcome(outcome, small);
  });
  assert.deepEqual(failures, []);
});

test('the same with diagnostics larger than the pipe holds, 50 times: nothing is cut off', async () => {
  const failures = await repeat(50, 4, async (run) => {
    const outcome = await session([initialize, initialized, didOpen(large.uri, large.text), shutdown, exit], { closeInput: run % 2 === 1 });
    return checkOutcome(outcome, large);
  });
  assert.deepEqual(failures, []);
});

test('exit without shutdown: the output before it arrives, and the status is 1', async () => {
  const failures = await repeat(10, 2, async (run) => {
    const outcome = await session([initialize, initialized, didOpen(large.uri, large.text), exit], { closeInput: run % 2 === 1 });
    const published = outcome.messages.find((m) => m.method === 'textDocument/publishDiagnostics');
    if (outcome.code !== 1) return `exit status ${String(outcome.code)}`;
    if (!published || undefinedNames(published) !== large.problems) return 'diagnostics lost';
    return undefined;
  });
  assert.deepEqual(failures, []);
});

test('a client that sends shutdown and exit but never reads the output does not keep the server alive', async () => {
  const outcome = await session([initialize, initialized, didOpen(large.uri, large.text), shutdown, exit], { closeInput: false, read: false });
  assert.equal(outcome.code, 0, outcome.stderr);
});

test('node dist/server.js --stdio has the same transport: shutdown and exit in one write, 20 times, lose nothing', async () => {
  const command = [join(distDir(), 'server.js'), '--stdio'];
  const failures = await repeat(20, 4, async (run) => {
    const outcome = await session([initialize, initialized, didOpen(large.uri, large.text), shutdown, exit], { closeInput: run % 2 === 1, command });
    return checkOutcome(outcome, large);
  });
  assert.deepEqual(failures, []);
  const noShutdown = await session([initialize, initialized, didOpen(small.uri, small.text), exit], { closeInput: false, command });
  assert.equal(noShutdown.code, 1, 'exit without shutdown ends with status 1');
});
