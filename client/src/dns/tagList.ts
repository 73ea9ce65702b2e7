/**
 * A parser for the `tag=value; tag=value` lists that DKIM key records (RFC 6376 §3.2), DMARC
 * (RFC 7489 §6.4), MTA-STS (RFC 8461 §3.1), TLS-RPT (RFC 8460 §3) and BIMI records share. It keeps
 * the offset of every name and value so findings can point into the record.
 */
import type { TextRange } from './types';

export interface Tag {
  name: string;
  value: string;
  nameRange: TextRange;
  valueRange: TextRange;
  /** The whole `name=value` spec, without surrounding white space. */
  range: TextRange;
}

export interface TagListError {
  message: string;
  range: TextRange;
}

export interface TagList {
  tags: Tag[];
  errors: TagListError[];
  /** Tags whose name occurred before in the list (the second and later occurrences). */
  duplicates: Tag[];
}

const WSP = /[ \t\r\n]/;

/** Parses a tag list. Names are compared case-sensitively, as RFC 6376 §3.2 requires. */
export function parseTagList(text: string, options: { lowerCaseNames?: boolean } = {}): TagList {
  const tags: Tag[] = [];
  const errors: TagListError[] = [];
  const duplicates: Tag[] = [];
  const seen = new Set<string>();
  let pos = 0;
  while (pos <= text.length) {
    const semi = text.indexOf(';', pos);
    const end = semi === -1 ? text.length : semi;
    let start = pos;
    let stop = end;
    while (start < stop && WSP.test(text[start])) start++;
    while (stop > start && WSP.test(text[stop - 1])) stop--;
    if (start < stop) {
      const spec = text.slice(start, stop);
      const eq = spec.indexOf('=');
      if (eq === -1) {
        errors.push({ message: `"${spec}" is not of the form tag=value`, range: { start, end: stop } });
      } else {
        let nameEnd = start + eq;
        while (nameEnd > start && WSP.test(text[nameEnd - 1])) nameEnd--;
        let valueStart = start + eq + 1;
        while (valueStart < stop && WSP.test(text[valueStart])) valueStart++;
        const rawName = text.slice(start, nameEnd);
        const name = options.lowerCaseNames ? rawName.toLowerCase() : rawName;
        if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(rawName)) {
          errors.push({ message: `"${rawName}" is not a valid tag name`, range: { start, end: Math.max(nameEnd, start + 1) } });
        }
        const tag: Tag = {
          name,
          value: text.slice(valueStart, stop),
          nameRange: { start, end: nameEnd },
          valueRange: { start: valueStart, end: stop },
          range: { start, end: stop },
        };
        if (seen.has(name)) duplicates.push(tag);
        seen.add(name);
        tags.push(tag);
      }
    } else if (semi !== -1 && text.slice(semi + 1).trim() !== '' && tags.length + errors.length > 0) {
      errors.push({ message: 'empty tag between two semicolons', range: { start: pos, end: semi + 1 } });
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
