/**
 * A mutation fuzzer for the `.smtp` language service: it mutates a corpus of real scripts and runs
 * every feature on each result. Any exception is a failure; so is a slow input (a likely hang).
 */
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LanguageService } from '../../server/src/languageService';
import { sessionPlans } from '../../server/src/smtp/smtpService';
import { analyzeSmtp } from '../../server/src/smtp/smtpService';
import { prng } from '../support/prng';
export { prng };


const TOKENS = ['{{', '}}', '{{$', '###', '.', '..', '\r', '\n', '\r\n', '\0', 'DATA\n', 'BDAT chunk=1\n', 'EXPECT ', 'RAW \\x', '<', '>', '@', '=', ':', '"', '/', '\\', '\uFFFD', '\uD800', 'é', '𝄞', ' ', '\t', 'MAIL FROM:<', 'RCPT TO:<', 'AUTH PLAIN a ', '# @', 'CONNECT ', 'smtp://[', 'TLS verify=', '5.1.1', '2xx'];

export function loadCorpus(roots: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.smtp')) out.push(readFileSync(path, 'utf8'));
    }
  };
  roots.forEach(walk);
  if (out.length === 0) out.push('EHLO a.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\nSubject: x\n\nbody\n.\nQUIT\n');
  return out;
}

export function mutate(input: string, random: () => number, corpus: string[]): string {
  let text = input;
  const rounds = 1 + Math.floor(random() * 6);
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(random() * (text.length + 1));
    switch (Math.floor(random() * 8)) {
      case 0:
        text = text.slice(0, at) + text.slice(at + Math.floor(random() * 40));
        break;
      case 1: {
        const len = Math.floor(random() * 200);
        text = text.slice(0, at) + text.slice(at, at + len) + text.slice(at);
        break;
      }
      case 2:
      case 3:
        text = text.slice(0, at) + TOKENS[Math.floor(random() * TOKENS.length)] + text.slice(at);
        break;
      case 4:
        text = text.slice(0, at) + String.fromCharCode(Math.floor(random() * 0x10000)) + text.slice(at + 1);
        break;
      case 5:
        text = text.slice(0, at);
        break;
      case 6: {
        const other = corpus[Math.floor(random() * corpus.length)];
        const from = Math.floor(random() * other.length);
        text = text.slice(0, at) + other.slice(from, from + Math.floor(random() * 300)) + text.slice(at);
        break;
      }
      case 7:
        text = text.slice(0, at) + 'x'.repeat(Math.floor(random() * 2000)) + text.slice(at);
        break;
    }
  }
  return text;
}

export interface FuzzResult {
  runs: number;
  failures: Array<{ index: number; error: string; input: string }>;
  slow: Array<{ index: number; ms: number }>;
}

/** Runs every feature of the service on one input. Throws what the service throws. */
export function exercise(service: LanguageService, text: string, random: () => number): void {
  const document = TextDocument.create('file:///fuzz.smtp', 'smtp', 1, text);
  service.problems(document);
  service.outline(document);
  service.folding(document);
  service.sessions(document);
  sessionPlans(analyzeSmtp(text, 'fuzz.smtp'));
  for (let i = 0; i < 3; i++) {
    const offset = Math.floor(random() * (text.length + 1));
    service.hover(document, offset);
    service.completion(document, offset);
    service.sessionPlan(document, { uri: document.uri, line: document.positionAt(offset).line });
  }
  service.forget(document.uri);
}

export function fuzzSmtp(count: number, seed: number, corpus: string[], slowMs = 2000): FuzzResult {
  const random = prng(seed);
  const service = new LanguageService();
  const result: FuzzResult = { runs: 0, failures: [], slow: [] };
  for (let i = 0; i < count; i++) {
    const input = mutate(corpus[Math.floor(random() * corpus.length)], random, corpus);
    const started = performance.now();
    try {
      exercise(service, input, random);
    } catch (error) {
      result.failures.push({ index: i, error: error instanceof Error ? (error.stack ?? error.message) : String(error), input });
    }
    const ms = performance.now() - started;
    if (ms > slowMs) result.slow.push({ index: i, ms });
    result.runs++;
  }
  return result;
}
