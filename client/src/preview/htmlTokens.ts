/**
 * A small HTML tokenizer for the sanitiser. It follows the shape of the WHATWG tokenizer (HTML
 * Living Standard §13.2.5) closely enough for an allow-list: start and end tags with attributes,
 * text, comments and doctypes, and raw text elements (script, style, textarea, title, xmp, iframe,
 * noembed, noframes, noscript, plaintext) whose content runs to the matching end tag. The sanitiser
 * re-serialises only what it allows, so anything this tokenizer reads differently from a browser
 * ends up as escaped text, never as markup.
 */

export type HtmlToken =
  | { type: 'text'; text: string }
  | { type: 'start'; name: string; attrs: Array<{ name: string; value: string }>; selfClosing: boolean }
  | { type: 'end'; name: string }
  | { type: 'comment' }
  | { type: 'raw'; parent: string; text: string };

/** Elements whose content is not markup (HTML §13.1.2 raw text and escapable raw text elements, plus legacy ones). */
const RAW_TEXT = new Set(['script', 'style', 'textarea', 'title', 'xmp', 'iframe', 'noembed', 'noframes', 'noscript', 'plaintext']);

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', colon: ':', tab: '\t', newline: '\n',
  lpar: '(', rpar: ')', sol: '/', bsol: '\\', period: '.', comma: ',', semi: ';', excl: '!', num: '#',
  copy: '\u00a9', reg: '\u00ae', hellip: '\u2026', mdash: '\u2014', ndash: '\u2013', laquo: '\u00ab', raquo: '\u00bb',
  lsquo: '\u2018', rsquo: '\u2019', ldquo: '\u201c', rdquo: '\u201d', bull: '\u2022', middot: '\u00b7', euro: '\u20ac',
};

/** Decodes character references (HTML §13.2.5.72) in an attribute value; unknown names stay as written. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z][a-z0-9]*);?/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!Number.isFinite(code) || code <= 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\ufffd';
      return String.fromCodePoint(code);
    }
    const named = NAMED_ENTITIES[ref.toLowerCase()];
    return named ?? whole;
  });
}

/** Splits HTML into tokens. Never throws. */
export function tokenize(html: string): HtmlToken[] {
  const tokens: HtmlToken[] = [];
  let i = 0;
  const n = html.length;
  let text = '';
  const flushText = (): void => {
    if (text !== '') tokens.push({ type: 'text', text });
    text = '';
  };
  while (i < n) {
    const c = html[i];
    if (c !== '<') {
      text += c;
      i++;
      continue;
    }
    const next = html[i + 1] ?? '';
    if (html.startsWith('<!--', i)) {
      flushText();
      const end = html.indexOf('-->', i + 4);
      i = end < 0 ? n : end + 3;
      tokens.push({ type: 'comment' });
      continue;
    }
    if (next === '!' || next === '?') {
      // Doctype, CDATA or processing instruction: a bogus comment up to ">" (HTML §13.2.5.41).
      flushText();
      const end = html.indexOf('>', i + 2);
      i = end < 0 ? n : end + 1;
      tokens.push({ type: 'comment' });
      continue;
    }
    if (next === '/') {
      const m = /^<\/([a-z][^\s/>]*)/i.exec(html.slice(i, i + 200));
      if (!m) {
        // "</" not followed by a letter: a bogus comment, or text when nothing follows.
        flushText();
        const end = html.indexOf('>', i + 2);
        i = end < 0 ? n : end + 1;
        tokens.push({ type: 'comment' });
        continue;
      }
      flushText();
      const end = html.indexOf('>', i + m[0].length);
      i = end < 0 ? n : end + 1;
      tokens.push({ type: 'end', name: m[1].toLowerCase() });
      continue;
    }
    if (!/[a-z]/i.test(next)) {
      text += c;
      i++;
      continue;
    }
    flushText();
    // A start tag: name, then attributes (HTML §13.2.5.8 to §13.2.5.39).
    let j = i + 1;
    let name = '';
    while (j < n && !/[\s/>]/.test(html[j])) name += html[j++];
    name = name.toLowerCase();
    const attrs: Array<{ name: string; value: string }> = [];
    let selfClosing = false;
    for (;;) {
      while (j < n && /[\s/]/.test(html[j])) {
        if (html[j] === '/' && html[j + 1] === '>') selfClosing = true;
        j++;
      }
      if (j >= n) break;
      if (html[j] === '>') {
        j++;
        break;
      }
      let attrName = '';
      // The first character may be "=" (HTML §13.2.5.32); it starts the name.
      attrName += html[j++];
      while (j < n && !/[\s/>=]/.test(html[j])) attrName += html[j++];
      while (j < n && /\s/.test(html[j])) j++;
      let value = '';
      if (html[j] === '=') {
        j++;
        while (j < n && /\s/.test(html[j])) j++;
        const q = html[j];
        if (q === '"' || q === "'") {
          const end = html.indexOf(q, j + 1);
          value = end < 0 ? html.slice(j + 1) : html.slice(j + 1, end);
          j = end < 0 ? n : end + 1;
        } else {
          while (j < n && !/[\s>]/.test(html[j])) value += html[j++];
        }
      }
      const lower = attrName.toLowerCase();
      // The first of duplicate attributes wins (HTML §13.2.5.33).
      if (!attrs.some((a) => a.name === lower)) attrs.push({ name: lower, value: decodeEntities(value) });
    }
    i = j;
    tokens.push({ type: 'start', name, attrs, selfClosing });
    if (RAW_TEXT.has(name)) {
      if (name === 'plaintext') {
        tokens.push({ type: 'raw', parent: name, text: html.slice(i) });
        i = n;
        continue;
      }
      const close = new RegExp(`</${name}(?=[\\s/>]|$)`, 'i').exec(html.slice(i));
      const end = close ? i + close.index : n;
      tokens.push({ type: 'raw', parent: name, text: html.slice(i, end) });
      i = end;
    }
  }
  flushText();
  return tokens;
}
