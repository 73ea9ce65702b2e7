/**
 * Outline (symbols) and folding ranges over realistic messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emlFolding, emlSymbols, EmlSymbol, parseMessage } from '../../server/src/eml/emlService';
import { readFixture } from './fixtureSupport';

function names(symbols: EmlSymbol[], depth = 0): string[] {
  return symbols.flatMap((s) => [`${'  '.repeat(depth)}${s.kind} ${s.name}${s.kind === 'header' ? '' : ` (${s.detail})`}`, ...names(s.children.filter((c) => c.kind !== 'header'), depth + 1)]);
}

test('the outline of a Thunderbird message shows headers and the MIME tree', () => {
  const { text } = readFixture('clean-thunderbird');
  const symbols = emlSymbols(text);
  const headers = symbols.filter((s) => s.kind === 'header').map((s) => s.name);
  assert.deepEqual(headers, ['Message-ID', 'Date', 'MIME-Version', 'User-Agent', 'Content-Language', 'To', 'Cc', 'From', 'Subject', 'Content-Type']);
  assert.equal(symbols.find((s) => s.name === 'From')?.detail, 'Jörg Müller <joerg@example.org>');
  const tree = names(symbols.filter((s) => s.kind !== 'header'));
  assert.match(tree[0], /^part multipart\/mixed \(2 parts, \d\.\d KB\)$/);
  assert.equal(tree[1], '  part multipart/alternative (2 parts)');
  assert.match(tree[2], /^ {4}part text\/plain \(8bit, \d+ B\)$/);
  assert.match(tree[3], /^ {6}body body \(8bit, \d+ B\)$/);
  assert.match(tree[4], /^ {4}part text\/html/);
  assert.match(tree[6], /^ {2}part application\/pdf “Quartalsbericht Q3\.pdf” \(base64, 9\d\d B \(≈\d+ B decoded\)\)$/);
  for (const s of symbols) {
    assert.ok(s.selectionRange.start >= s.range.start && s.selectionRange.end <= s.range.end, s.name);
  }
});

test('the parser finds preamble, delimiters and epilogue', () => {
  const text = 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x\n\npreamble\n--x\n\none\n--x\nContent-Type: text/html\n\n<p>two</p>\n--x--\nepilogue\n';
  const parsed = parseMessage(text);
  const root = parsed.root;
  assert.equal(text.slice(root.preamble!.start, root.preamble!.end), 'preamble');
  assert.equal(root.children.length, 2);
  assert.equal(text.slice(root.children[0].bodyRange.start, root.children[0].bodyRange.end), 'one');
  assert.equal(root.children[1].mediaType, 'text/html');
  assert.equal(text.slice(root.children[1].bodyRange.start, root.children[1].bodyRange.end), '<p>two</p>');
  assert.equal(text.slice(root.epilogue!.start, root.epilogue!.end), 'epilogue\n');
  assert.deepEqual(root.delimiters.map((d) => [text.slice(d.range.start, d.range.end), d.close]), [['--x', false], ['--x', false], ['--x--', true]]);
  assert.equal(parsed.lineEnding, 'lf');
});

test('folded header fields keep every line in their range', () => {
  const text = 'Subject: one\r\n two\r\n\tthree\r\nFrom: a@example.org\r\n\r\nbody\r\n';
  const field = parseMessage(text).root.headers[0];
  assert.equal(field.lineCount, 3);
  assert.equal(text.slice(field.valueRange.start, field.valueRange.end), ' one\r\n two\r\n\tthree');
});

test('folding ranges cover the header section, folded fields, parts and bodies', () => {
  const { text } = readFixture('clean-thunderbird');
  const folds = emlFolding(text);
  const kinds = folds.map((f) => f.kind);
  assert.ok(kinds.includes('headers'));
  assert.ok(kinds.includes('header'));
  assert.equal(kinds.filter((k) => k === 'part').length, 4);
  assert.ok(kinds.includes('body'));
  for (const f of folds) {
    assert.ok(f.start < f.end);
    assert.ok(text.slice(f.start, f.end).includes('\n'), 'every fold spans lines');
    assert.ok(f.start === 0 || text[f.start - 1] === '\n', 'folds start at a line start');
  }
  const contentType = folds.find((f) => f.kind === 'header' && text.startsWith('Content-Type: multipart/alternative', f.start));
  assert.ok(contentType);
});
