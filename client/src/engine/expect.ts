/**
 * Checks replies against `EXPECT` lines: codes and classes (RFC 5321 §4.2.1), enhanced status codes
 * (RFC 3463), and a substring or regular expression.
 */
import type { Expectation, ReplyPattern } from '../../../common/sessionPlan';
import type { Reply } from './replies';

const regexCache = new WeakMap<Expectation, RegExp | Error>();

function compiled(expectation: Expectation, source: string, flags: string): RegExp | Error {
  let re = regexCache.get(expectation);
  if (re === undefined) {
    try {
      re = new RegExp(source, flags);
    } catch (e) {
      re = e instanceof Error ? e : new Error(String(e));
    }
    regexCache.set(expectation, re);
  }
  return re;
}

function codeMatches(pattern: ReplyPattern, code: number): boolean {
  if (pattern.kind === 'code') return pattern.code === code;
  if (pattern.kind === 'class') return Math.floor(code / 100) === pattern.class;
  return false;
}

function enhancedMatches(pattern: ReplyPattern, enhanced: string | undefined): boolean {
  if (enhanced === undefined) return false;
  if (pattern.kind === 'class') return enhanced.startsWith(`${pattern.class}.`);
  if (pattern.kind !== 'enhanced') return false;
  // `5.1.x` matches every detail of subject 5.1 (RFC 3463 §3: class.subject.detail).
  const want = pattern.code.toLowerCase().split('.');
  const have = enhanced.split('.');
  if (want.length !== 3) return false;
  return want.every((part, i) => part === 'x' || part === have[i]);
}

/**
 * Expectations made by `withStepNeed` from an EXPECT with only a text, each with the need it was
 * made for: one object per EXPECT line, so its pattern is compiled once however often it is checked.
 */
const textWithNeed = new WeakMap<Expectation, { need: string; made: Expectation }>();
/** The expectations `withStepNeed` made, whose code check comes from the step, not the EXPECT line. */
const stepClass = new WeakSet<Expectation>();

/** True when an expectation names no reply code, class or enhanced status code: the step's need decides the class. */
export function keepsStepNeed(expectation: Expectation): boolean {
  return expectation.implicit || (expectation.codes.length === 0 && expectation.enhanced.length === 0);
}

/**
 * The expectation a reply is checked against, from what the script wrote (`written`, the plan's
 * EXPECT or its implicit expectation) and the reply the step needs to go on (`need`, for example
 * 2xx for a command, 354 for DATA, 220 for STARTTLS, 235 for AUTH). A verdict is earned:
 * - without EXPECT, the step's need decides;
 * - an EXPECT that names reply codes, classes or enhanced status codes decides by itself (an
 *   enhanced code carries its class, RFC 3463 §2), so `EXPECT 550` allows a refusal;
 * - an EXPECT with only a text or a regular expression adds that check to the step's need: a text
 *   never widens the classes a reply may be in.
 */
export function withStepNeed(written: Expectation, need: Expectation): Expectation {
  if (written.implicit) return need;
  if (!keepsStepNeed(written)) return written;
  const key = describeExpectation(need);
  const kept = textWithNeed.get(written);
  if (kept && kept.need === key) return kept.made;
  const made: Expectation = { ...written, source: `${written.source} (and ${key}, implicit)`, codes: need.codes, enhanced: need.enhanced };
  stepClass.add(made);
  textWithNeed.set(written, { need: key, made });
  return made;
}

/** Returns undefined when the reply meets the expectation, or why it does not. */
export function checkExpectation(expectation: Expectation, reply: Reply): string | undefined {
  if (expectation.codes.length > 0 && !expectation.codes.some((p) => codeMatches(p, reply.code))) {
    const why = stepClass.has(expectation) ? ' (an EXPECT with only a text keeps the reply the step needs)' : '';
    return `expected ${describeExpectation(expectation)}, got ${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''}${why}`;
  }
  if (expectation.enhanced.length > 0 && !expectation.enhanced.some((p) => enhancedMatches(p, reply.enhanced))) {
    return `expected enhanced status ${expectation.enhanced.map(patternText).join(' or ')}, got ${reply.enhanced ?? 'none'} (${reply.code})`;
  }
  const text = expectation.text;
  if (text) {
    if (text.kind === 'substring') {
      if (!reply.text.toLowerCase().includes(text.value.toLowerCase())) return `expected the reply to contain "${text.value}"`;
    } else {
      const re = compiled(expectation, text.source, text.flags);
      if (re instanceof Error) return `the EXPECT pattern /${text.source}/ is not a valid regular expression: ${re.message}`;
      re.lastIndex = 0;
      if (!re.test(reply.text)) return `expected the reply to match /${text.source}/${text.flags}`;
    }
  }
  return undefined;
}

function patternText(p: ReplyPattern): string {
  if (p.kind === 'code') return String(p.code);
  if (p.kind === 'class') return `${p.class}xx`;
  return p.code;
}

/** A short description such as `250`, `2xx or 3xx`, or the EXPECT line as written. */
export function describeExpectation(expectation: Expectation): string {
  if (expectation.codes.length === 0 && expectation.enhanced.length === 0) return expectation.source;
  return [...expectation.codes, ...expectation.enhanced].map(patternText).join(' or ');
}

/** Builds an expectation of reply classes, for the engine's own steps (BDAT chunks, polite QUIT). */
export function classExpectation(line: number, ...classes: Array<2 | 3 | 4 | 5>): Expectation {
  return {
    line,
    source: classes.map((c) => `${c}xx`).join(' '),
    codes: classes.map((c) => ({ kind: 'class', class: c })),
    enhanced: [],
    implicit: true,
  };
}
