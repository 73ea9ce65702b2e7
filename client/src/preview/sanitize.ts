/**
 * An allow-list HTML sanitiser for message previews. It rebuilds the document from the tokens it
 * accepts, so nothing it does not know reaches the output:
 *
 * - Dropped with their content: script, style sheets that use expressions, bindings, imports or
 *   escapes, iframe, frame(set), object, embed, applet, form controls, svg, math, template, title,
 *   meta (so no `http-equiv=refresh`), link and base.
 * - Unknown or structural elements (html, head, body, form, font…) lose their tag but keep their text.
 * - Every `on*` handler and every attribute outside the allow-list is dropped.
 * - URLs: href keeps http, https, mailto and tel (and #fragments); javascript:, vbscript:, data: and
 *   everything else is removed. Images may use data:image only when it was made from an inline
 *   `cid:` part of the message (RFC 2392), never a data: URL written in the HTML.
 * - Remote resources (src, srcset, background, CSS url()) are replaced by blocked placeholders unless
 *   the user allowed remote content.
 */
import { escapeHtml } from '../../../common/escape';
import { decodeEntities, tokenize, type HtmlToken } from './htmlTokens';

export interface SanitizeOptions {
  /** Keep http(s) image and CSS URLs (the user clicked "Load remote content"). */
  allowRemote: boolean;
  /** Content-IDs (without angle brackets, lower case) to data: URLs of inline image parts. */
  cidImages?: ReadonlyMap<string, string>;
}

export interface SanitizeResult {
  html: string;
  /** Remote URLs replaced by placeholders (0 when remote content was allowed). */
  blockedRemote: number;
  /** Remote URLs kept because remote content was allowed. */
  remoteKept: number;
  /** What was removed, by kind, for the "N things removed" note. */
  removed: Record<string, number>;
}

/** Elements kept with their tag. */
const ALLOWED_ELEMENTS = new Set([
  'a', 'abbr', 'address', 'article', 'aside', 'b', 'bdi', 'bdo', 'big', 'blockquote', 'br', 'caption', 'center', 'cite',
  'code', 'col', 'colgroup', 'dd', 'del', 'details', 'dfn', 'div', 'dl', 'dt', 'em', 'figcaption', 'figure', 'font',
  'footer', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hr', 'i', 'img', 'ins', 'kbd', 'li', 'main', 'mark', 'nav',
  'ol', 'p', 'pre', 'q', 's', 'samp', 'section', 'small', 'span', 'strike', 'strong', 'sub', 'summary', 'sup', 'table',
  'tbody', 'td', 'tfoot', 'th', 'thead', 'time', 'tr', 'tt', 'u', 'ul', 'var', 'wbr',
]);

/** Elements removed together with everything inside them. */
const DROP_WITH_CONTENT = new Set([
  'script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'noscript', 'noembed', 'noframes', 'template',
  'title', 'svg', 'math', 'select', 'textarea', 'option', 'optgroup', 'button', 'datalist', 'audio', 'video', 'canvas',
  'xmp', 'plaintext', 'head-script', 'portal', 'dialog', 'picture', 'source', 'track', 'map', 'area', 'param',
]);

/** Void elements (HTML §13.1.2): no end tag, no content. */
const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param', 'source', 'track', 'wbr', 'keygen', 'basefont', 'bgsound', 'frame', 'image', 'isindex']);

/** Attributes allowed on any kept element. */
const GLOBAL_ATTRS = new Set([
  'align', 'alt', 'bgcolor', 'border', 'cellpadding', 'cellspacing', 'class', 'clear', 'color', 'cols', 'colspan',
  'compact', 'datetime', 'dir', 'face', 'frame', 'headers', 'height', 'hspace', 'lang', 'nowrap', 'open', 'rows',
  'rowspan', 'rules', 'scope', 'size', 'span', 'start', 'style', 'summary', 'title', 'type', 'valign', 'value',
  'vspace', 'width', 'abbr', 'reversed',
]);

/** URL-valued attributes handled one by one. */
const URL_ATTRS = new Set(['href', 'src', 'srcset', 'background']);

const BLOCKED_IMAGE_CLASS = 'smtpwb-blocked-remote';

/** Removes the characters browsers strip or ignore inside URL schemes (WHATWG URL §4.4: C0 controls, space, tab, newline). */
function normaliseUrl(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u0020\u007f-\u009f\u00ad\u200b-\u200f\u2028\u2029\ufeff]/g, '');
}

type UrlKind = 'remote' | 'fragment' | 'mail' | 'cid' | 'data' | 'other';

function classifyUrl(raw: string): { kind: UrlKind; url: string } {
  const url = normaliseUrl(raw);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1].toLowerCase();
  if (scheme === 'http' || scheme === 'https') return { kind: 'remote', url };
  if (scheme === 'mailto' || scheme === 'tel') return { kind: 'mail', url };
  if (scheme === 'cid') return { kind: 'cid', url };
  if (scheme === 'data') return { kind: 'data', url };
  // A scheme-relative URL (//host/path) is remote too (WHATWG URL §4.4).
  if (scheme === undefined && /^[\\/]{2}/.test(url)) return { kind: 'remote', url: `https:${url}` };
  if (scheme === undefined && url.startsWith('#')) return { kind: 'fragment', url };
  return { kind: 'other', url };
}

/** Returns the data: URL of an inline image part for a `cid:` URL (RFC 2392 §2), if the message has it. */
function cidUrl(url: string, cids: ReadonlyMap<string, string> | undefined): string | undefined {
  let id = url.slice(4);
  try {
    id = decodeURIComponent(id);
  } catch {
    // Keep the raw text when it is not valid percent-encoding.
  }
  return cids?.get(id.replace(/^<|>$/g, '').toLowerCase());
}

/** Context for one sanitiser run: options plus counters. */
class Run {
  blockedRemote = 0;
  remoteKept = 0;
  removed: Record<string, number> = {};
  constructor(readonly options: SanitizeOptions) {}

  note(kind: string): void {
    this.removed[kind] = (this.removed[kind] ?? 0) + 1;
  }

  /**
   * Sanitises CSS text (a style attribute or a style element). Returns undefined when the CSS must be
   * dropped whole: escapes, expressions, bindings, @import and the image functions that take plain
   * strings (image-set(), image(), src(), element(), cross-fade(), paint()) could load or run things
   * that a url() scan cannot see.
   */
  css(text: string): string | undefined {
    const noComments = text.replace(/\/\*[\s\S]*?(\*\/|$)/g, ' ');
    if (/[\\<]|expression\s*\(|behaviou?r\s*:|-moz-binding|@import|\b(?:image-set|image|src|element|cross-fade|paint)\s*\(|javascript:|vbscript:|@font-face|@namespace|@charset/i.test(noComments)) {
      this.note('unsafe CSS');
      return undefined;
    }
    return noComments.replace(/url\s*\(\s*(?:"([^"]*)"|'([^']*)'|([^)]*?))\s*\)/gi, (_m, dq?: string, sq?: string, bare?: string) => {
      const raw = dq ?? sq ?? bare ?? '';
      const { kind, url } = classifyUrl(raw);
      if (kind === 'cid') {
        const data = cidUrl(url, this.options.cidImages);
        if (data) return `url("${data}")`;
      }
      if (kind === 'remote') {
        if (this.options.allowRemote && !/["'()]/.test(url)) {
          this.remoteKept++;
          return `url("${url}")`;
        }
        this.blockedRemote++;
        return 'none';
      }
      this.note('CSS url()');
      return 'none';
    });
  }

  /** Sanitises an image URL (src, background); returns the URL to keep or undefined. */
  imageUrl(raw: string): { url?: string; blocked: boolean } {
    const { kind, url } = classifyUrl(raw);
    if (kind === 'cid') {
      const data = cidUrl(url, this.options.cidImages);
      if (data) return { url: data, blocked: false };
      this.note('missing cid: image');
      return { blocked: false };
    }
    if (kind === 'remote') {
      if (this.options.allowRemote) {
        this.remoteKept++;
        return { url, blocked: false };
      }
      this.blockedRemote++;
      return { blocked: true };
    }
    if (url !== '') this.note(`${kind === 'data' ? 'data:' : kind === 'other' ? (/^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0].toLowerCase() ?? 'relative') : kind} URL`);
    return { blocked: false };
  }

  /** Sanitises a srcset (HTML §4.8.4.3.1): kept only when every candidate is kept. */
  srcset(raw: string): string | undefined {
    const candidates = raw.split(/,(?=\s*\S)/).map((c) => c.trim()).filter((c) => c !== '');
    const out: string[] = [];
    for (const candidate of candidates) {
      const [url, ...descriptor] = candidate.split(/\s+/);
      if (descriptor.some((d) => !/^\d+(\.\d+)?[wx]$/.test(d))) {
        this.note('srcset');
        return undefined;
      }
      const r = this.imageUrl(url);
      if (r.url === undefined) return undefined;
      out.push([r.url, ...descriptor].join(' '));
    }
    return out.length > 0 ? out.join(', ') : undefined;
  }

  /** Builds the attribute string for a kept element. */
  attributes(element: string, attrs: Array<{ name: string; value: string }>): string {
    const out: string[] = [];
    let blockedImage = false;
    for (const { name, value } of attrs) {
      if (name.startsWith('on')) {
        this.note('event handler');
        continue;
      }
      if (URL_ATTRS.has(name)) {
        if (name === 'href' && element === 'a') {
          const { kind, url } = classifyUrl(value);
          if (kind === 'remote' || kind === 'mail' || kind === 'fragment') out.push(`href="${escapeHtml(url)}"`);
          else this.note(`${/^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0].toLowerCase() ?? 'relative'} link`);
          continue;
        }
        if (name === 'src' && element === 'img') {
          const r = this.imageUrl(value);
          if (r.url !== undefined) out.push(`src="${escapeHtml(r.url)}"`);
          if (r.blocked) blockedImage = true;
          continue;
        }
        if (name === 'srcset' && element === 'img') {
          const kept = this.srcset(value);
          if (kept !== undefined) out.push(`srcset="${escapeHtml(kept)}"`);
          continue;
        }
        if (name === 'background' && ['table', 'td', 'th', 'tr', 'tbody', 'thead', 'tfoot', 'div'].includes(element)) {
          const r = this.imageUrl(value);
          if (r.url !== undefined) out.push(`background="${escapeHtml(r.url)}"`);
          continue;
        }
        this.note(`${name} attribute`);
        continue;
      }
      if (name === 'style') {
        const css = this.css(value);
        if (css !== undefined && css.trim() !== '') out.push(`style="${escapeHtml(css)}"`);
        continue;
      }
      if (GLOBAL_ATTRS.has(name) && /^[a-z-]+$/.test(name)) {
        out.push(`${name}="${escapeHtml(value)}"`);
        continue;
      }
      this.note(`${name} attribute`);
    }
    if (element === 'a') out.push('rel="noopener noreferrer"');
    if (blockedImage) out.push(`class="${BLOCKED_IMAGE_CLASS}"`, 'data-smtpwb-blocked="remote"');
    return out.length > 0 ? ` ${out.join(' ')}` : '';
  }
}

/** Sanitises an HTML document or fragment into a safe fragment (body content plus kept style sheets). */
export function sanitizeHtml(html: string, options: SanitizeOptions): SanitizeResult {
  const run = new Run(options);
  const tokens: HtmlToken[] = tokenize(html);
  const out: string[] = [];
  /** Open kept elements, to close them at the end and match end tags. */
  const open: string[] = [];
  /** Depth inside an element dropped with its content. */
  let dropping: string | undefined;
  let dropDepth = 0;
  for (const token of tokens) {
    if (dropping !== undefined) {
      if (token.type === 'start' && token.name === dropping && !VOID.has(token.name) && !token.selfClosing) dropDepth++;
      else if (token.type === 'end' && token.name === dropping) {
        dropDepth--;
        if (dropDepth === 0) dropping = undefined;
      }
      continue;
    }
    switch (token.type) {
      case 'comment':
        break;
      case 'text':
        out.push(token.text.replace(/</g, '&lt;').replace(/>/g, '&gt;'));
        break;
      case 'raw':
        // Raw text of an element that was dropped or unwrapped: textarea/title text is kept as text.
        if (token.parent === 'style') {
          const css = run.css(token.text);
          if (css !== undefined) out.push(`<style>${css.replace(/</g, '')}</style>`);
        }
        break;
      case 'end': {
        const at = open.lastIndexOf(token.name);
        if (at >= 0) {
          while (open.length > at) out.push(`</${open.pop() ?? ''}>`);
        }
        break;
      }
      case 'start': {
        const name = token.name;
        if (name === 'style') break; // Its raw token follows; the end tag is ignored below.
        if (DROP_WITH_CONTENT.has(name)) {
          run.note(name);
          // Raw text elements are closed by the tokenizer; the others are skipped up to their end tag.
          if (!VOID.has(name) && !token.selfClosing && !['script', 'iframe', 'noscript', 'noembed', 'noframes', 'textarea', 'title', 'xmp', 'plaintext'].includes(name)) {
            dropping = name;
            dropDepth = 1;
          }
          break;
        }
        if (!ALLOWED_ELEMENTS.has(name)) {
          if (['meta', 'link', 'base', 'input', 'form', 'image', 'bgsound', 'keygen', 'isindex'].includes(name)) run.note(name);
          break;
        }
        out.push(`<${name}${run.attributes(name, token.attrs)}>`);
        if (!VOID.has(name)) open.push(name);
        break;
      }
    }
  }
  while (open.length > 0) out.push(`</${open.pop() ?? ''}>`);
  return { html: out.join(''), blockedRemote: run.blockedRemote, remoteKept: run.remoteKept, removed: run.removed };
}

export { decodeEntities, BLOCKED_IMAGE_CLASS };
