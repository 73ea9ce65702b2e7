/**
 * A JSON parser (RFC 8259) that keeps the offsets of every value and key, so a checker can put each
 * problem on the exact text that causes it. It never throws: a syntax error ends the parse with one
 * problem, and the tree holds what came before it. Comments are not JSON and are refused.
 */
import type { OffsetRange } from './problem';

export type JsonNode =
  | { kind: 'object'; range: OffsetRange; properties: JsonProperty[] }
  | { kind: 'array'; range: OffsetRange; items: JsonNode[] }
  | { kind: 'string'; range: OffsetRange; value: string }
  | { kind: 'number'; range: OffsetRange; value: number }
  | { kind: 'boolean'; range: OffsetRange; value: boolean }
  | { kind: 'null'; range: OffsetRange };

export interface JsonProperty {
  key: string;
  keyRange: OffsetRange;
  /** Undefined when the text ended (or was wrong) before the value. */
  value: JsonNode | undefined;
}

export interface JsonSyntaxError {
  message: string;
  range: OffsetRange;
}

export interface JsonParseResult {
  root: JsonNode | undefined;
  error?: JsonSyntaxError;
}

/** Deep nesting is refused rather than risking the stack. */
const MAX_DEPTH = 64;

class Stop extends Error {
  constructor(readonly detail: JsonSyntaxError) {
    super(detail.message);
  }
}

/** Parses `text` as one JSON value; see the module comment. */
export function parseJsonTree(text: string): JsonParseResult {
  let pos = 0;

  const fail = (message: string, start = pos, end = Math.min(text.length, start + 1)): never => {
    if (text[start] === '/' && (text[start + 1] === '/' || text[start + 1] === '*')) {
      throw new Stop({ message: 'comments are not allowed in JSON; use a "note" property', range: { start, end: start + 2 } });
    }
    throw new Stop({ message, range: { start, end: Math.max(end, start) } });
  };

  const skipSpace = (): void => {
    // RFC 8259 §2: white space is space, tab, LF and CR only.
    while (pos < text.length && (text[pos] === ' ' || text[pos] === '\t' || text[pos] === '\n' || text[pos] === '\r')) pos++;
  };

  const parseString = (): { value: string; range: OffsetRange } => {
    const start = pos;
    pos++; // the opening quote
    let value = '';
    for (;;) {
      if (pos >= text.length) fail('unterminated string', start, text.length);
      const c = text[pos];
      if (c === '"') {
        pos++;
        return { value, range: { start, end: pos } };
      }
      if (c === '\\') {
        const e = text[pos + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && simple[e] !== undefined) {
          value += simple[e];
          pos += 2;
          continue;
        }
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(pos + 2, pos + 6))) {
          value += String.fromCharCode(parseInt(text.slice(pos + 2, pos + 6), 16));
          pos += 6;
          continue;
        }
        fail('invalid escape in string', pos, pos + 2);
      }
      if (c.charCodeAt(0) < 0x20) fail('control character in string (RFC 8259 §7)', pos);
      value += c;
      pos++;
    }
  };

  const parseValue = (depth: number): JsonNode => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    skipSpace();
    const start = pos;
    const c = text[pos];
    if (c === undefined) fail('unexpected end of text', text.length, text.length);
    if (c === '{') {
      pos++;
      const properties: JsonProperty[] = [];
      skipSpace();
      if (text[pos] === '}') {
        pos++;
        return { kind: 'object', range: { start, end: pos }, properties };
      }
      for (;;) {
        skipSpace();
        if (text[pos] !== '"') fail('expected a property name in double quotes');
        const key = parseString();
        skipSpace();
        if (text[pos] !== ':') fail('expected ":" after the property name');
        pos++;
        const property: JsonProperty = { key: key.value, keyRange: key.range, value: undefined };
        properties.push(property);
        property.value = parseValue(depth + 1);
        skipSpace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return { kind: 'object', range: { start, end: pos }, properties };
        }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      pos++;
      const items: JsonNode[] = [];
      skipSpace();
      if (text[pos] === ']') {
        pos++;
        return { kind: 'array', range: { start, end: pos }, items };
      }
      for (;;) {
        items.push(parseValue(depth + 1));
        skipSpace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return { kind: 'array', range: { start, end: pos }, items };
        }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') {
      const s = parseString();
      return { kind: 'string', range: s.range, value: s.value };
    }
    const number = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(pos, pos + 400));
    if (number && number[0] !== '-') {
      pos += number[0].length;
      return { kind: 'number', range: { start, end: pos }, value: Number(number[0]) };
    }
    for (const [word, node] of [
      ['true', { kind: 'boolean', value: true }],
      ['false', { kind: 'boolean', value: false }],
      ['null', { kind: 'null' }],
    ] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return { ...node, range: { start, end: pos } } as JsonNode;
      }
    }
    return fail(`unexpected character ${JSON.stringify(c)}`);
  };

  // On a syntax error the checker reports that error alone, as editors do for broken JSON.
  try {
    // A byte-order mark is not part of JSON text (RFC 8259 §8.1), but editors may save one.
    if (text.charCodeAt(0) === 0xfeff) pos = 1;
    const root = parseValue(0);
    skipSpace();
    if (pos < text.length) fail('unexpected text after the JSON value', pos, text.length);
    return { root };
  } catch (error) {
    if (error instanceof Stop) return { root: undefined, error: error.detail };
    return { root: undefined, error: { message: `could not parse: ${String(error)}`, range: { start: 0, end: 0 } } };
  }
}
