/**
 * The one home of secret masking for transcripts, results, records, logs and history. Pure: no I/O.
 *
 * A secret can only appear where its bytes can: in what the client sent, in replies that echo what
 * was sent, and in free text built from those (engine notes, failure and step messages). Masking
 * is applied there, after every decision has been made; structured fields (statuses, reply codes,
 * enhanced codes, counts, titles, names, ids, host names, timings) are never rewritten, so a secret
 * that is a common word (`pass`, `test`, `250`) cannot turn `passed` into `********ed`.
 *
 * Within free text, the rules keep masking precise:
 * - a form of a secret is the secret itself, its base64 forms (AUTH payloads are base64,
 *   RFC 4954 §4) at each alignment inside a longer payload, and its RAW notation (`escapeBytes`)
 *   when that differs, as a RAW line's bytes are shown so;
 * - a form of 8 or more characters is masked wherever it occurs; a shorter one only where it
 *   stands alone (no letter or digit right before or after it), so `pass` is masked in
 *   `user pass` but not in `passed`;
 * - text the client sent is masked with every form, and the forms found in it are remembered as
 *   sent; replies and notes are masked with the forms that were sent, every base64 form (those
 *   exist only on the wire) and every long form: a short secret that never went over the wire as
 *   itself cannot be echoed;
 * - in a reply line, the reply code and its separator (`250-`, `535 `) are kept: they are the
 *   server's, never an echo.
 */

import { escapeBytes } from './escape';

/** The text shown instead of a secret. */
export const MASK = '********';

/** Forms at least this long are masked wherever they occur; shorter ones only as whole tokens. */
const LONG_FORM = 8;

/** What a piece of text is, which decides the forms masked in it. */
export type MaskRole =
  /** Sent by the client: every form is masked, and the forms found are remembered as sent. */
  | 'sent'
  /** Received from the server (reply lines, one per line): sent and long forms; codes kept. */
  | 'received'
  /** Free text built by the engine or the editor (notes, failure and step messages). */
  | 'note';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A pattern matching any of the forms, longer forms first; short ones only as whole tokens. */
function formsPattern(forms: readonly string[]): RegExp | undefined {
  if (forms.length === 0) return undefined;
  const alternatives = [...forms]
    .sort((a, b) => b.length - a.length)
    .map((f) => (f.length >= LONG_FORM ? escapeRegExp(f) : `(?<![\\p{L}\\p{N}])${escapeRegExp(f)}(?![\\p{L}\\p{N}])`));
  return new RegExp(alternatives.join('|'), 'gu');
}

export class Masker {
  private readonly forms: string[] = [];
  private readonly sentForms = new Set<string>();
  private all: RegExp | undefined;
  private echoable: RegExp | undefined;
  private dirty = true;

  constructor(secrets: readonly string[] = []) {
    for (const s of secrets) this.add(s);
  }

  /** Adds a value to mask, with its base64 forms. Values shorter than 3 characters are ignored. */
  add(value: string): void {
    if (typeof value !== 'string' || value.length === 0) return;
    const forms = [value, Buffer.from(value, 'utf8').toString('base64')];
    // As a RAW line shows it in the transcript (non-ASCII, controls and backslashes as escapes).
    const escaped = escapeBytes(Buffer.from(value, 'utf8'));
    // Base64 of the value at the other alignments inside a longer payload, minus the partial edge groups.
    for (const pad of ['\0', '\0\0']) {
      const b64 = Buffer.from(pad + value, 'utf8').toString('base64');
      const trimmed = b64.slice(4, -4);
      if (trimmed.length >= LONG_FORM) forms.push(trimmed);
    }
    forms.forEach((f, i) => {
      // A form made of the mask's own character would grow the mask each time text is masked again.
      if (f.length < 3 || /^\*+$/.test(f)) return;
      if (!this.forms.includes(f)) this.forms.push(f);
      // Base64 forms exist only on the wire (AUTH payloads, whose shown text is the mask itself),
      // so they count as sent from the start.
      if (i > 0) this.sentForms.add(f);
      this.dirty = true;
    });
    if (escaped !== value && escaped.length >= 3 && !this.forms.includes(escaped)) {
      this.forms.push(escaped);
      this.dirty = true;
    }
  }

  /** True when there is anything to mask. */
  get active(): boolean {
    return this.forms.length > 0;
  }

  private patterns(): { all: RegExp | undefined; echoable: RegExp | undefined } {
    if (this.dirty) {
      this.all = formsPattern(this.forms);
      this.echoable = formsPattern(this.forms.filter((f) => f.length >= LONG_FORM || this.sentForms.has(f)));
      this.dirty = false;
    }
    return { all: this.all, echoable: this.echoable };
  }

  /**
   * Masks a text. Without a role, the text is treated as sent (every form is masked, and the forms
   * found are remembered): the safe choice for text of unknown origin. With `received`, the text is
   * reply lines separated by line feeds, and each keeps its code.
   */
  mask(text: string, role: MaskRole = 'sent'): string {
    if (this.forms.length === 0 || typeof text !== 'string' || text === '') return text;
    if (role === 'sent') {
      const { all } = this.patterns();
      if (!all) return text;
      let found = false;
      for (const m of text.matchAll(all)) {
        if (!this.sentForms.has(m[0])) {
          this.sentForms.add(m[0]);
          found = true;
        }
      }
      if (found) this.dirty = true;
      return text.replace(all, MASK);
    }
    const { echoable } = this.patterns();
    if (!echoable) return text;
    if (role === 'note') return text.replace(echoable, MASK);
    return text
      .split('\n')
      .map((line) => {
        const code = /^\d{3}(?:[ -]|$)/.exec(line)?.[0] ?? '';
        return code + line.slice(code.length).replace(echoable, MASK);
      })
      .join('\n');
  }

  /** Remembers the forms found in text the client sent, without masking it (it may be masked already). */
  noteSent(text: string): void {
    this.mask(text, 'sent');
  }
}

/** Masks every secret in a text of unknown origin (all forms; short ones only as whole tokens). */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  return new Masker(secrets).mask(text, 'sent');
}
