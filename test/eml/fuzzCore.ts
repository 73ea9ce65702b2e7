/**
 * The `.eml` fuzzer's core: seeded mutations of realistic messages fed to every entry point of the
 * language service, with checks that nothing throws, every range lies inside the text, and each input
 * finishes within a time cap. Used by test/fuzz/emlFuzz.main.ts and by the unit suite.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { emlFolding, emlHover, emlSymbols, EmlSymbol, lintMessage, parseMessage } from '../../server/src/eml/emlService';
import { takeInternalError } from '../../server/src/eml/problems';
import { fixturesDir } from './fixtureSupport';
import { prng } from '../support/prng';
export { prng };


const BUILTIN = [
  'Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nFrom: "A, B" <a@example.org>, =?utf-8?q?C?= <c@[192.0.2.1]>\r\nTo: g: x@y.z, (c) w@v.u;\r\nSubject: =?UTF-8?B?w7w=?= hi\r\nDKIM-Signature: v=1; a=rsa-sha256; d=x.org; s=s; h=from; bh=AAAA; b=AAAA; l=5\r\nAuthentication-Results: mx; spf=pass smtp.mailfrom=x.org; dkim=fail reason="bad" header.d=x.org\r\nARC-Seal: i=1; cv=none; b=AA==\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="=_b"\r\n\r\npre\r\n--=_b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=\r\nsse\r\n--=_b\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y.z\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n--in\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--in--\r\n--=_b--\r\nepi\r\n',
  'From: a@b.c\nSubject: lf only\nContent-Type: text/plain; name*0*=utf-8\'\'%41; name*1="B"\n\nbody\n',
];

/** The seed messages: the fixtures plus a few built-in ones. */
export function corpus(): string[] {
  const out = [...BUILTIN];
  try {
    const dir = fixturesDir();
    for (const name of readdirSync(dir)) {
      const file = join(dir, name, 'message.eml');
      if (existsSync(file)) out.push(readFileSync(file, 'utf8'));
    }
  } catch {
    // Without fixtures the built-in seeds still exercise the service.
  }
  return out;
}

const SNIPPETS = ['\0', '\r', '\n', '\r\n', '\uFFFD', '\ud800', '\udfff', '=?', '?=', '=?utf-8?B?', '"', '(', ')', '<', '>', '@', ';', ':', ',', '\\', '[', ']', '--', '\t', ' ', '*0*=', "''", '%', '=', 'boundary=', 'Content-Type: multipart/mixed; boundary=', 'i=1;', 'cv=', 'h=', '\r\n ', '\r\n\r\n'];

/** Applies one to four random mutations to a message. */
export function mutate(input: string, rnd: () => number): string {
  let s = input;
  const n = 1 + Math.floor(rnd() * 4);
  const pos = (): number => Math.floor(rnd() * (s.length + 1));
  for (let k = 0; k < n; k++) {
    const choice = Math.floor(rnd() * 11);
    switch (choice) {
      case 0: {
        // Flip characters: any code unit, including controls and non-ASCII.
        const flips = 1 + Math.floor(rnd() * 8);
        for (let f = 0; f < flips && s.length > 0; f++) {
          const p = Math.floor(rnd() * s.length);
          s = s.slice(0, p) + String.fromCharCode(Math.floor(rnd() * (rnd() < 0.8 ? 256 : 65536))) + s.slice(p + 1);
        }
        break;
      }
      case 1: {
        const p = pos();
        s = s.slice(0, p) + ['\0', '\r', '\n'][Math.floor(rnd() * 3)].repeat(1 + Math.floor(rnd() * 3)) + s.slice(p);
        break;
      }
      case 2:
        s = s.slice(0, pos());
        break;
      case 3: {
        // Duplicate a boundary line many times, somewhere else.
        const m = /^--[^\r\n]*/m.exec(s);
        if (m) {
          const p = pos();
          s = s.slice(0, p) + `\r\n${m[0]}`.repeat(1 + Math.floor(rnd() * 50)) + '\r\n' + s.slice(p);
        }
        break;
      }
      case 4: {
        const p = pos();
        const ch = ['x', '=', ' ', 'A', '\t', '(', '"', '=?'][Math.floor(rnd() * 8)];
        s = s.slice(0, p) + ch.repeat(Math.floor(rnd() * 120000)) + s.slice(p);
        break;
      }
      case 5: {
        // Deep nesting of multiparts around the message.
        const depth = 1 + Math.floor(rnd() * 300);
        let head = '';
        let tail = '';
        for (let d = 0; d < depth; d++) {
          head += `Content-Type: multipart/mixed; boundary="n${d}"\r\n\r\n--n${d}\r\n`;
          tail = `\r\n--n${d}--\r\n${tail}`;
        }
        s = `MIME-Version: 1.0\r\n${head}${s}${rnd() < 0.5 ? tail : ''}`;
        break;
      }
      case 6: {
        const p = pos();
        s = s.slice(0, p) + ['\uFFFD', '\ud83d', '\ude00', '\uFEFF', 'é'][Math.floor(rnd() * 5)].repeat(1 + Math.floor(rnd() * 20)) + s.slice(p);
        break;
      }
      case 7: {
        const a = pos();
        const b = Math.min(s.length, a + Math.floor(rnd() * 400));
        const p = pos();
        s = s.slice(0, p) + s.slice(a, b) + s.slice(p);
        break;
      }
      case 8: {
        // Long constructs that regular expressions with repeated groups would choke on.
        const p = pos();
        const k = Math.floor(rnd() * 50000);
        const long = [`"${'\\"'.repeat(k)}"`, `=?utf-8?q?${'=41'.repeat(k)}?=`, `=?utf-8?b?${'QUFB'.repeat(k)}?=`, `(${'\\)'.repeat(k)})`, `[${'a.'.repeat(k)}]`][Math.floor(rnd() * 5)];
        s = s.slice(0, p) + long + s.slice(p);
        break;
      }
      default: {
        const p = pos();
        let junk = '';
        const count = 1 + Math.floor(rnd() * 12);
        for (let j = 0; j < count; j++) junk += SNIPPETS[Math.floor(rnd() * SNIPPETS.length)];
        s = s.slice(0, p) + junk + s.slice(p);
      }
    }
  }
  return s;
}

export interface FuzzFailure {
  index: number;
  reason: string;
  input: string;
}

function checkSymbols(symbols: EmlSymbol[], length: number, depth = 0): string | undefined {
  for (const s of symbols) {
    if (s.range.start < 0 || s.range.end > length || s.range.start > s.range.end) return `symbol ${s.name} range out of bounds`;
    if (s.selectionRange.start < s.range.start || s.selectionRange.end > s.range.end) return `symbol ${s.name} selection outside its range`;
    if (depth > 200) return 'symbol tree too deep';
    const inner = checkSymbols(s.children, length, depth + 1);
    if (inner) return inner;
  }
  return undefined;
}

/** Runs every entry point on one input; returns a failure reason or undefined. */
export function exercise(text: string, rnd: () => number): string | undefined {
  takeInternalError();
  const caught = (): string | undefined => {
    const error = takeInternalError();
    return error === undefined ? undefined : `caught internally: ${error instanceof Error ? error.stack ?? error.message : String(error)}`;
  };
  try {
    parseMessage(text);
    for (const embedded of [false, true]) {
      const problems = lintMessage(text, { embedded });
      for (const p of problems) {
        if (p.range.start < 0 || p.range.end > text.length || p.range.start > p.range.end) return `problem ${p.code} range [${p.range.start},${p.range.end}) out of bounds`;
        if (p.message.startsWith('Internal error')) return p.message;
      }
    }
    const symbolProblem = checkSymbols(emlSymbols(text), text.length) ?? caught();
    if (symbolProblem) return symbolProblem;
    for (const f of emlFolding(text)) if (f.start < 0 || f.end > text.length || f.start >= f.end) return 'folding range out of bounds';
    const foldingError = caught();
    if (foldingError) return foldingError;
    for (let h = 0; h < 6; h++) {
      const offset = Math.floor(rnd() * (text.length + 1));
      const hover = emlHover(text, offset, { timeZone: 'UTC' });
      if (hover && (hover.range.start < 0 || hover.range.end > text.length)) return 'hover range out of bounds';
      const hoverError = caught();
      if (hoverError) return `hover at ${offset}: ${hoverError}`;
    }
  } catch (error) {
    return `threw: ${error instanceof Error ? error.stack ?? error.message : String(error)}`;
  }
  return undefined;
}

export interface FuzzResult {
  passed: number;
  failed: FuzzFailure[];
  slow: Array<{ index: number; ms: number; length: number; input?: string }>;
}

/** Runs `count` mutated inputs with a seed; inputs slower than `capMs` fail as hangs. */
export function runFuzz(count: number, seed: number, capMs = 2000, slowMs = 250, onInput?: (index: number) => void): FuzzResult {
  const rnd = prng(seed);
  const seeds = corpus();
  const result: FuzzResult = { passed: 0, failed: [], slow: [] };
  for (let i = 0; i < count; i++) {
    onInput?.(i);
    const input = mutate(seeds[Math.floor(rnd() * seeds.length)], rnd);
    const started = performance.now();
    const reason = exercise(input, rnd);
    const ms = performance.now() - started;
    if (reason) result.failed.push({ index: i, reason, input });
    else if (ms > capMs) result.failed.push({ index: i, reason: `took ${ms.toFixed(0)} ms (cap ${capMs} ms)`, input });
    else result.passed++;
    if (ms > slowMs) result.slow.push({ index: i, ms, length: input.length, input: result.slow.length < 5 ? input : undefined });
  }
  return result;
}
