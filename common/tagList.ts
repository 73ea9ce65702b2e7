/**
 * The one parser of `tag=value; tag=value` lists (RFC 6376 §3.2), which DKIM-Signature fields and
 * DKIM key records, ARC-Seal and ARC-Message-Signature fields (RFC 8617 §4), DMARC (RFC 9989),
 * MTA-STS (RFC 8461 §3.1), TLS-RPT (RFC 8460 §3) and BIMI records share. It keeps the offset of
 * every name and value, so findings and diagnostics can point into the text, and reports each
 * problem with a kind, so that each caller words it for its own readers. Parsing never throws.
 * Pure: no I/O.
 */

export interface TagRange {
  start: number;
  end: number;
}

export interface Tag {
  /** The name as written (lower-cased with `lowerCaseNames`). */
  name: string;
  /** The value as written, without surrounding white space; folding white space inside is kept. */
  value: string;
  nameRange: TagRange;
  valueRange: TagRange;
  /** The whole `name=value` spec, without surrounding white space. */
  range: TagRange;
  /** False when the name is not `ALPHA *ALNUMPUNC` (RFC 6376 §3.2); the tag is still listed. */
  validName: boolean;
}

export type TagListProblemKind =
  /** A spec without `=`. */
  | 'not-a-tag'
  /** A name that is not a letter followed by letters, digits or `_`. */
  | 'bad-name'
  /** Nothing between two semicolons (`a=1;;b=2`): the grammar allows one trailing `;` only. */
  | 'empty-tag';

export interface TagListError {
  kind: TagListProblemKind;
  /** A plain sentence; the offending text is quoted as written. */
  message: string;
  range: TagRange;
}

export interface TagList {
  /** Every `name=value` spec, in order, including those with an invalid name. */
  tags: Tag[];
  errors: TagListError[];
  /** Tags whose name occurred before in the list (the second and later occurrences). */
  duplicates: Tag[];
}

export interface TagListOptions {
  /** Where the list starts in `text` (default 0); ranges are offsets into `text`. */
  start?: number;
  /** Where the list ends in `text` (default its length). */
  end?: number;
  /**
   * Lower-case names, for records whose names are case-insensitive in practice. Names are compared
   * case-sensitively otherwise, as RFC 6376 §3.2 requires.
   */
  lowerCaseNames?: boolean;
}

/** FWS as a tag list allows it around names, values and `=` (RFC 6376 §3.2 `tag-spec`). */
function isWsp(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

// RFC 6376 §3.2: tag-name = ALPHA *ALNUMPUNC, ALNUMPUNC = ALPHA / DIGIT / "_".
const TAG_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** Parses the tag list in `text[start, end)`. */
export function parseTagList(text: string, options: TagListOptions = {}): TagList {
  const from = Math.max(0, options.start ?? 0);
  const to = Math.min(text.length, options.end ?? text.length);
  const tags: Tag[] = [];
  const errors: TagListError[] = [];
  const duplicates: Tag[] = [];
  const seen = new Set<string>();
  let pos = from;
  while (pos <= to) {
    const found = pos < to ? text.slice(pos, to).indexOf(';') : -1;
    const semi = found === -1 ? -1 : pos + found;
    const specEnd = semi === -1 ? to : semi;
    let start = pos;
    let stop = specEnd;
    while (start < stop && isWsp(text.charCodeAt(start))) start++;
    while (stop > start && isWsp(text.charCodeAt(stop - 1))) stop--;
    if (start < stop) {
      const eq = text.slice(start, stop).indexOf('=');
      if (eq === -1) {
        errors.push({ kind: 'not-a-tag', message: `"${text.slice(start, stop)}" is not of the form tag=value`, range: { start, end: stop } });
      } else {
        let nameEnd = start + eq;
        while (nameEnd > start && isWsp(text.charCodeAt(nameEnd - 1))) nameEnd--;
        let valueStart = start + eq + 1;
        while (valueStart < stop && isWsp(text.charCodeAt(valueStart))) valueStart++;
        const rawName = text.slice(start, nameEnd);
        const validName = TAG_NAME.test(rawName);
        if (!validName) {
          errors.push({ kind: 'bad-name', message: `"${rawName}" is not a valid tag name`, range: { start, end: Math.max(nameEnd, start + 1) } });
        }
        const name = options.lowerCaseNames ? rawName.toLowerCase() : rawName;
        const tag: Tag = {
          name,
          value: text.slice(valueStart, stop),
          nameRange: { start, end: nameEnd },
          valueRange: { start: valueStart, end: stop },
          range: { start, end: stop },
          validName,
        };
        if (seen.has(name)) duplicates.push(tag);
        seen.add(name);
        tags.push(tag);
      }
    } else if (semi !== -1 && text.slice(semi + 1, to).trim() !== '' && tags.length + errors.length > 0) {
      errors.push({ kind: 'empty-tag', message: 'empty tag between two semicolons', range: { start: pos, end: semi + 1 } });
    }
    if (semi === -1) break;
    pos = semi + 1;
  }
  return { tags, errors, duplicates };
}

/** The first tag of that name, if any. */
export function getTag(list: TagList, name: string): Tag | undefined {
  return list.tags.find((t) => t.name === name);
}
