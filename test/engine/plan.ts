/**
 * Builds session plans by hand for the engine's tests, so they do not depend on the parser. The
 * plans hold plain text where the parser would put templates (variables already substituted).
 */
import type { Expectation, PlanStep, ReplyPattern, SessionOptions, SessionPlan, Timeouts, TlsOptionsTemplate } from '../../common/sessionPlan';
import type { SessionResult } from '../../client/src/engine/types';

/** Timeouts long enough that no verdict depends on the machine's speed; the tests never wait for them. */
export const PATIENT: Partial<Timeouts> = { connect: 5000, greeting: 5000, command: 5000, mail: 5000, rcpt: 5000, dataInit: 5000, dataBlock: 5000, dataTermination: 5000, tls: 5000 };

/** A result's failure and transcript, for assertion messages. */
export function explain(r: SessionResult): string {
  return `${r.title}: ${r.failure?.kind}: ${r.failure?.message}\n${r.transcript.map((e) => `${e.dir} ${e.text}`).join('\n')}`;
}

let lineCounter = 0;

/**
 * Parses a small EXPECT syntax: codes (`250`), classes (`2xx`), enhanced codes (`5.1.1`, `5.1.x`),
 * a quoted substring or a `/regex/flags`, separated by blanks.
 */
export function expectation(spec: string, line = lineCounter++): Expectation {
  const codes: ReplyPattern[] = [];
  const enhanced: ReplyPattern[] = [];
  let text: Expectation['text'];
  const re = /^\/(.*)\/([a-z]*)$/.exec(spec.replace(/^[^/"]*/, '').trim());
  const quoted = /"([^"]*)"/.exec(spec);
  if (re && spec.includes('/')) text = { kind: 'regex', source: re[1], flags: re[2] };
  else if (quoted) text = { kind: 'substring', value: quoted[1] };
  const head = spec.replace(/"[^"]*"/, '').replace(/\/.*\/[a-z]*$/, '').trim();
  for (const word of head.split(/\s+/).filter((w) => w !== '')) {
    if (/^\d{3}$/.test(word)) codes.push({ kind: 'code', code: Number(word) });
    else if (/^[2-5]xx$/i.test(word)) codes.push({ kind: 'class', class: Number(word[0]) as 2 | 3 | 4 | 5 });
    else if (/^\d\.(\d{1,3}|x)\.(\d{1,3}|x)$/i.test(word)) enhanced.push({ kind: 'enhanced', code: word });
    else throw new Error(`test expectation: cannot read "${word}"`);
  }
  return { line, source: `EXPECT ${spec}`, codes, enhanced, text, implicit: false };
}

export function implicit(...classes: Array<2 | 3 | 4 | 5>): Expectation {
  return {
    line: lineCounter++,
    source: classes.map((c) => `${c}xx`).join(' '),
    codes: classes.map((c) => ({ kind: 'class', class: c })),
    enhanced: [],
    implicit: true,
  };
}

const exp = (spec: string | undefined, ...fallback: Array<2 | 3 | 4 | 5>): Expectation =>
  spec === undefined ? implicit(...fallback) : expectation(spec);

export function cmd(text: string, expect?: string): PlanStep {
  const verb = text.split(' ')[0].toUpperCase();
  return { kind: 'command', line: lineCounter++, source: text, verb, template: text, expect: exp(expect, 2) };
}

export function starttls(expect?: string): PlanStep {
  return { kind: 'starttls', line: lineCounter++, source: 'STARTTLS', expect: exp(expect, 2) };
}

export function auth(mechanism: 'PLAIN' | 'LOGIN' | 'CRAM-MD5' | 'XOAUTH2', user: string, secret: string, expect?: string): PlanStep {
  return { kind: 'auth', line: lineCounter++, source: `AUTH ${mechanism} ${user} ${secret}`, mechanism, user, secret, expect: exp(expect, 2) };
}

/** DATA with inline lines (already dot-stuffed as in a script) or `{ file }`. */
export function data(body: string[] | { file: string }, expect?: string, intermediate?: string): PlanStep {
  const line = lineCounter++;
  return {
    kind: 'data',
    line,
    source: Array.isArray(body) ? 'DATA' : `DATA < ${body.file}`,
    body: Array.isArray(body) ? { kind: 'inline', lines: body, firstLine: line + 1 } : { kind: 'file', path: body.file },
    intermediate: exp(intermediate, 3),
    expect: exp(expect, 2),
  };
}

export function bdat(body: string[] | { file: string }, chunkSize?: number, expect?: string): PlanStep {
  const line = lineCounter++;
  return {
    kind: 'bdat',
    line,
    source: 'BDAT',
    body: Array.isArray(body) ? { kind: 'inline', lines: body, firstLine: line + 1 } : { kind: 'file', path: body.file },
    chunkSize,
    expect: exp(expect, 2),
  };
}

export function raw(text: string, ...expects: string[]): PlanStep {
  return { kind: 'raw', line: lineCounter++, source: `RAW ${text}`, template: text, expects: expects.map((e) => expectation(e)) };
}

export interface PlanSpec {
  connect?: string;
  tls?: Partial<TlsOptionsTemplate>;
  options?: Partial<SessionOptions>;
  title?: string;
  name?: string;
  steps: PlanStep[];
}

export function makePlan(spec: PlanSpec): SessionPlan {
  return {
    file: 'test.smtp',
    title: spec.title ?? 'test session',
    name: spec.name,
    line: 0,
    endLine: lineCounter,
    variables: [],
    connect: spec.connect === undefined ? undefined : { template: spec.connect, line: 0 },
    tls: { verify: true, ...spec.tls },
    options: { allowCleartextAuth: false, pipelining: false, timeouts: {}, ...spec.options },
    steps: spec.steps,
  };
}

/** A typical submission: EHLO, MAIL, RCPT, DATA, QUIT. */
export function simpleSend(connect: string, body: string[], extra: Partial<PlanSpec> = {}): SessionPlan {
  return makePlan({
    connect,
    ...extra,
    steps: [cmd('EHLO client.example.test'), cmd('MAIL FROM:<alice@example.test>'), cmd('RCPT TO:<bob@example.test>'), data(body), cmd('QUIT')],
  });
}
