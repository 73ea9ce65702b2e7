/**
 * The outline through the real language server holds what editors require of document symbols:
 * each symbol's selection range lies inside its range, and each child inside its parent (VS Code's
 * DocumentSymbol constructor throws otherwise, and the outline, breadcrumbs and Go to Symbol all
 * fail). Checked over every `.smtp` file in the repository and over generated shapes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../peers/require';
import { startLspClient, type LspClient } from '../support/lspClient';
import { prng } from '../support/prng';

interface Position {
  line: number;
  character: number;
}

interface Range {
  start: Position;
  end: Position;
}

interface OutlineSymbol {
  name: string;
  range: Range;
  selectionRange: Range;
  children?: OutlineSymbol[];
}

let client: LspClient;
let opened = 0;

before(async () => {
  client = await startLspClient();
});

after(async () => {
  await client.stop();
});

function notAfter(a: Position, b: Position): boolean {
  return a.line < b.line || (a.line === b.line && a.character <= b.character);
}

function contains(outer: Range, inner: Range): boolean {
  return notAfter(outer.start, inner.start) && notAfter(inner.end, outer.end) && notAfter(inner.start, inner.end);
}

const show = (r: Range): string => `${r.start.line}:${r.start.character}-${r.end.line}:${r.end.character}`;

/** Every containment the LSP asks of a symbol tree, as messages (empty when it holds). */
function violations(symbols: readonly OutlineSymbol[], parent?: OutlineSymbol): string[] {
  const out: string[] = [];
  for (const symbol of symbols) {
    if (!contains(symbol.range, symbol.selectionRange)) out.push(`${symbol.name}: selectionRange ${show(symbol.selectionRange)} outside range ${show(symbol.range)}`);
    if (parent && !contains(parent.range, symbol.range)) out.push(`${symbol.name}: range ${show(symbol.range)} outside its parent ${parent.name} ${show(parent.range)}`);
    out.push(...violations(symbol.children ?? [], symbol));
  }
  return out;
}

/** Opens the text as a script, asks for its outline, and closes it again. */
async function outlineOf(text: string): Promise<OutlineSymbol[]> {
  const uri = `file:///tmp/outline-${++opened}.smtp`;
  await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'smtp', version: 1, text } });
  const symbols = (await client.connection.sendRequest('textDocument/documentSymbol', { textDocument: { uri } })) as OutlineSymbol[];
  await client.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
  return symbols;
}

/** The `.smtp` files of the checkout: examples, fixtures, grammar and editor tests. */
function repoScripts(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.') || entry.name === 'dist') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.smtp')) out.push(path);
    }
  };
  walk(repoRoot());
  return out.sort();
}

test('a script without ### that starts with a comment: the session names itself by its first command', async () => {
  const symbols = await outlineOf('# send a test\nEHLO a.example.test\nQUIT\n');
  assert.deepEqual(violations(symbols), []);
  assert.equal(symbols.length, 1);
  assert.equal(show(symbols[0].range), '1:0-2:4');
  assert.equal(show(symbols[0].selectionRange), '1:0-1:4');
});

test('every .smtp file in the repository has a well-formed outline', async () => {
  const scripts = repoScripts();
  assert.ok(scripts.length >= 40, `found ${scripts.length} scripts`);
  const failures: string[] = [];
  for (const path of scripts) {
    const symbols = await outlineOf(readFileSync(path, 'utf8'));
    for (const v of violations(symbols)) failures.push(`${relative(repoRoot(), path)}: ${v}`);
  }
  assert.deepEqual(failures, []);
});

const LINES = [
  '',
  '   ',
  '\t',
  '# a comment',
  '// a comment',
  '# @name probe',
  '# @allow-cleartext-auth',
  '@from = a@example.test',
  '@broken',
  '@ = nothing',
  '### Title',
  '###',
  '  ### indented',
  'CONNECT smtp://127.0.0.1:2525',
  'CONNECT',
  'TLS verify=off',
  'TLS',
  'EHLO a.example.test',
  '  ehlo indented.example.test  ',
  'MAIL FROM:<{{from}}>',
  'RCPT TO:<b@example.test> NOTIFY=NEVER',
  'AUTH PLAIN user pass',
  'EXPECT 250',
  'EXPECT',
  'RAW NOOP\\r\\n',
  'RAW',
  'DATA',
  'DATA < message.eml',
  'DATA <',
  'BDAT chunk=10',
  'Subject: hello',
  '.',
  ' . ',
  '..dot',
  'QUIT',
  'é 😀 {{unclosed',
];

test('generated shapes: comments, metadata, variables and blanks before and between sessions, any line breaks', async () => {
  const failures: string[] = [];
  for (let seed = 1; seed <= 300; seed++) {
    const next = prng(seed);
    const count = Math.floor(next() * 14);
    const lines: string[] = [];
    for (let i = 0; i < count; i++) lines.push(LINES[Math.floor(next() * LINES.length)]);
    const breaks = ['\n', '\r\n', '\r'];
    const eol = breaks[Math.floor(next() * breaks.length)];
    const text = lines.join(eol) + (next() < 0.5 ? eol : '');
    const symbols = await outlineOf(text);
    for (const v of violations(symbols)) failures.push(`seed ${seed} ${JSON.stringify(text)}: ${v}`);
  }
  assert.deepEqual(failures.slice(0, 10), []);
});
