/**
 * The stdio transport of `smtpwb lsp` (client/src/cli/lspCommand.ts): every message is framed
 * whole (one Content-Length header, its exact content), a message split anywhere by the pipe is
 * read, and the server goes when the client closes its input, with status 0 only after a
 * shutdown request, as vscode-languageserver does on stdio.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { distDir } from '../support/lspClient';

function startServer(): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [join(distDir(), 'cli.js'), 'lsp', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
}

function frame(message: object): Buffer {
  const content = Buffer.from(JSON.stringify(message), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${content.length}\r\n\r\n`, 'latin1'), content]);
}

/** Reads framed messages from the server's stdout, checking each header against its content. */
function readMessages(child: ChildProcessWithoutNullStreams): Array<{ id?: number; method?: string; result?: unknown }> {
  const messages: Array<{ id?: number; method?: string; result?: unknown }> = [];
  let pending = Buffer.alloc(0);
  child.stdout.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      const header = pending.subarray(0, end).toString('latin1');
      const length = Number(/^Content-Length: (\d+)$/.exec(header)?.[1]);
      assert.ok(Number.isInteger(length), `a well-formed header: ${JSON.stringify(header)}`);
      if (pending.length < end + 4 + length) return;
      messages.push(JSON.parse(pending.subarray(end + 4, end + 4 + length).toString('utf8')));
      pending = pending.subarray(end + 4 + length);
    }
  });
  return messages;
}

const exited = (child: ChildProcessWithoutNullStreams) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

async function until<T>(find: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const found = find();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no ${what} within 5 s`);
}

test('messages split at every byte are read, non-ASCII content is framed by its UTF-8 length, and shutdown then a closed input exits 0', async () => {
  const child = startServer();
  const messages = readMessages(child);
  const initialize = frame({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: {} } });
  // One byte per write: headers and contents arrive cut at every position.
  for (const byte of initialize) {
    child.stdin.write(Buffer.from([byte]));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await until(() => messages.find((m) => m.id === 1), 'initialize reply');
  // Two messages in one write, the second with non-ASCII text whose diagnostics echo it back.
  const uri = 'file:///tmp/stdio-transport.smtp';
  child.stdin.write(Buffer.concat([
    frame({ jsonrpc: '2.0', method: 'initialized', params: {} }),
    frame({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'smtp', version: 1, text: '### Été\nEHLO client.example.test\nMAIL FROM:<ü@exämple.test>\n' } } }),
  ]));
  const published = await until(() => messages.find((m) => m.method === 'textDocument/publishDiagnostics'), 'diagnostics') as { params?: { diagnostics: Array<{ message: string }> } };
  assert.ok(published.params!.diagnostics.some((d) => d.message.includes('SMTPUTF8')), 'the non-ASCII address was read whole');
  // A reply with non-ASCII text: its header counts UTF-8 bytes, or the reader above cuts it wrong.
  child.stdin.write(frame({ jsonrpc: '2.0', id: 3, method: 'textDocument/documentSymbol', params: { textDocument: { uri } } }));
  const symbols = await until(() => messages.find((m) => m.id === 3), 'outline') as { result: Array<{ name: string }> };
  assert.equal(symbols.result[0].name, 'Été');
  child.stdin.write(frame({ jsonrpc: '2.0', id: 2, method: 'shutdown' }));
  await until(() => messages.find((m) => m.id === 2), 'shutdown reply');
  const code = exited(child);
  child.stdin.end();
  assert.equal(await code, 0);
});

test('a client that closes the input without shutdown leaves a server that exits 1', async () => {
  const child = startServer();
  const messages = readMessages(child);
  child.stdin.write(frame({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: {} } }));
  await until(() => messages.find((m) => m.id === 1), 'initialize reply');
  const code = exited(child);
  child.stdin.end();
  assert.equal(await code, 1);
});

test('a Content-Type header before or after Content-Length is allowed, and a message that is not JSON is skipped', async () => {
  const child = startServer();
  const messages = readMessages(child);
  const content = (message: object) => Buffer.from(JSON.stringify(message), 'utf8');
  const initialize = content({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: {} } });
  const symbols = content({ jsonrpc: '2.0', id: 2, method: 'textDocument/documentSymbol', params: { textDocument: { uri: 'file:///tmp/none.smtp' } } });
  const notJson = Buffer.from('{"jsonrpc": "2.0", "id": 9, ', 'utf8');
  child.stdin.write(Buffer.concat([
    Buffer.from(`Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: ${initialize.length}\r\n\r\n`, 'latin1'),
    initialize,
    Buffer.from(`Content-Length: ${notJson.length}\r\n\r\n`, 'latin1'),
    notJson,
    Buffer.from(`content-length: ${symbols.length}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n`, 'latin1'),
    symbols,
  ]));
  await until(() => messages.find((m) => m.id === 1), 'initialize reply');
  const reply = await until(() => messages.find((m) => m.id === 2), 'the reply after the message that is not JSON');
  assert.deepEqual(reply.result, []);
  assert.equal(messages.some((m) => m.id === 9), false);
  const code = exited(child);
  child.stdin.end();
  assert.equal(await code, 1);
});
