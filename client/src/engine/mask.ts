/**
 * Masks secrets in transcript text. Every secret given to a run, its base64 form, and every AUTH
 * payload the engine builds are replaced by `********`, so they reach no event, result or log.
 */
export const MASK = '********';

export class Masker {
  private values: string[] = [];

  constructor(secrets: readonly string[] = []) {
    for (const s of secrets) this.add(s);
  }

  /** Adds a value to mask, with its base64 forms (AUTH payloads are base64, RFC 4954 §4). */
  add(value: string): void {
    if (value.length === 0) return;
    const forms = [value, Buffer.from(value, 'utf8').toString('base64')];
    // Base64 of the value at other alignments inside a longer payload, minus the partial edge groups.
    for (const pad of ['\0', '\0\0']) {
      const b64 = Buffer.from(pad + value, 'utf8').toString('base64');
      const trimmed = b64.slice(4, -4);
      if (trimmed.length >= 8) forms.push(trimmed);
    }
    for (const f of forms) if (f.length >= 3 && !this.values.includes(f)) this.values.push(f);
    // Longer values first, so that a secret that contains another is masked whole.
    this.values.sort((a, b) => b.length - a.length);
  }

  get active(): boolean {
    return this.values.length > 0;
  }

  mask(text: string): string {
    if (this.values.length === 0) return text;
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join(MASK);
    return out;
  }
}

/**
 * Masks every string in a value (a result, a record), never keys, numbers or booleans. Replies
 * can echo what the client sent (a rejected address, a bad AUTH payload), so no field is exempt.
 */
export function maskDeep<T>(value: T, masker: Masker): T {
  if (!masker.active) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return masker.mask(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v instanceof Map || v instanceof Set || v instanceof Date || v instanceof Uint8Array) return v;
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(v)) out[key] = walk(child);
      return out;
    }
    return v;
  };
  return walk(value) as T;
}
