/**
 * The SVG Tiny Portable/Secure profile that BIMI receivers require of a logo
 * (draft-svg-tiny-ps-abrotman): an `svg` root with version="1.2" and baseProfile="tiny-ps", a
 * `title`, no x/y on the root, a square viewBox, and nothing that runs, moves or reaches out: no
 * scripts, animation, raster images, foreign objects, event attributes or external references.
 * Pure and never throws: the text is scanned tag by tag (no entity expansion, no DTD processing).
 */

export interface SvgProblem {
  code: string;
  severity: 'error' | 'warning';
  message: string;
}

interface SvgTag {
  name: string;
  attrs: Map<string, string>;
  depth: number;
}

/** The largest logo receivers commonly accept, in bytes. */
export const BIMI_SVG_MAX_BYTES = 32 * 1024;

const FORBIDDEN_ELEMENTS = new Set(['script', 'image', 'foreignobject', 'animate', 'animatemotion', 'animatecolor', 'animatetransform', 'set', 'a', 'iframe', 'video', 'audio', 'handler', 'listener']);

/** Scans start tags in document order with their depth; comments, CDATA and processing instructions are skipped. */
function scanTags(text: string): { tags: SvgTag[]; doctype: boolean } {
  const tags: SvgTag[] = [];
  let depth = 0;
  let doctype = false;
  let i = 0;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    if (lt === -1) break;
    if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt + 4);
      i = end === -1 ? text.length : end + 3;
      continue;
    }
    if (text.startsWith('<![CDATA[', lt)) {
      const end = text.indexOf(']]>', lt);
      i = end === -1 ? text.length : end + 3;
      continue;
    }
    if (text.startsWith('<?', lt)) {
      const end = text.indexOf('?>', lt);
      i = end === -1 ? text.length : end + 2;
      continue;
    }
    if (text.startsWith('<!', lt)) {
      doctype = doctype || /^<!DOCTYPE/i.test(text.slice(lt, lt + 9));
      const end = text.indexOf('>', lt);
      i = end === -1 ? text.length : end + 1;
      continue;
    }
    // Find the end of the tag outside quoted attribute values.
    let j = lt + 1;
    let quote: string | undefined;
    while (j < text.length) {
      const c = text[j];
      if (quote) {
        if (c === quote) quote = undefined;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '>') break;
      j++;
    }
    const body = text.slice(lt + 1, j);
    i = j + 1;
    if (body.startsWith('/')) {
      depth = Math.max(0, depth - 1);
      continue;
    }
    const m = /^([A-Za-z_][\w.:-]*)/.exec(body);
    if (!m) continue;
    const attrs = new Map<string, string>();
    const attrText = body.slice(m[1].length);
    const attrRe = /([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/g;
    for (let a = attrRe.exec(attrText); a; a = attrRe.exec(attrText)) attrs.set(a[1].toLowerCase(), a[3] ?? a[4] ?? '');
    tags.push({ name: m[1].toLowerCase().replace(/^svg:/, ''), attrs, depth });
    if (!body.endsWith('/')) depth++;
  }
  return { tags, doctype };
}

/** Checks a logo against the SVG Tiny PS rules; returns every problem found. */
export function checkBimiSvg(text: string): SvgProblem[] {
  const problems: SvgProblem[] = [];
  const add = (severity: SvgProblem['severity'], code: string, message: string): void => {
    problems.push({ code, severity, message });
  };
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > BIMI_SVG_MAX_BYTES) add('warning', 'bimi-svg-size', `the logo is ${bytes} bytes; receivers commonly accept at most ${BIMI_SVG_MAX_BYTES}`);
  const { tags, doctype } = scanTags(text);
  if (doctype) add('error', 'bimi-svg-doctype', 'the file has a DOCTYPE; SVG Tiny PS files must not (entity declarations are a risk)');
  const root = tags[0];
  if (!root || root.name !== 'svg' || root.depth !== 0) {
    add('error', 'bimi-svg-root', 'the file does not start with an <svg> element');
    return problems;
  }
  if (root.attrs.get('version') !== '1.2') add('error', 'bimi-svg-version', `the <svg> element must have version="1.2"${root.attrs.has('version') ? `, not "${root.attrs.get('version')}"` : ''}`);
  if (root.attrs.get('baseprofile') !== 'tiny-ps') add('error', 'bimi-svg-profile', `the <svg> element must have baseProfile="tiny-ps"${root.attrs.has('baseprofile') ? `, not "${root.attrs.get('baseprofile')}"` : ''}`);
  if (root.attrs.get('xmlns') !== 'http://www.w3.org/2000/svg') add('error', 'bimi-svg-namespace', 'the <svg> element must declare xmlns="http://www.w3.org/2000/svg"');
  for (const a of ['x', 'y']) if (root.attrs.has(a)) add('error', 'bimi-svg-root-position', `the <svg> element must not have ${a}=`);
  const viewBox = root.attrs.get('viewbox');
  const vb = viewBox?.trim().split(/[\s,]+/).map(Number);
  if (!vb || vb.length !== 4 || vb.some((n) => !Number.isFinite(n))) add('warning', 'bimi-svg-viewbox', 'the <svg> element has no valid viewBox; receivers show logos square');
  else if (vb[2] !== vb[3]) add('error', 'bimi-svg-square', `the viewBox is ${vb[2]}×${vb[3]}; the logo must be square`);
  if (!tags.some((t) => t.name === 'title' && t.depth === 1)) add('error', 'bimi-svg-title', 'the <svg> element must contain a <title> (the brand name)');
  const reported = new Set<string>();
  for (const t of tags) {
    if (FORBIDDEN_ELEMENTS.has(t.name) && !reported.has(t.name)) {
      reported.add(t.name);
      add('error', 'bimi-svg-forbidden-element', `<${t.name}> is not allowed in SVG Tiny PS (no scripts, animation, links, raster images or foreign content)`);
    }
    for (const [name, value] of t.attrs) {
      if (/^on/.test(name) && !reported.has(name)) {
        reported.add(name);
        add('error', 'bimi-svg-event', `the event attribute ${name}= is not allowed`);
      }
      if ((name === 'href' || name === 'xlink:href') && !value.startsWith('#') && !reported.has(`ref:${value}`)) {
        reported.add(`ref:${value}`);
        add('error', 'bimi-svg-external-reference', `<${t.name}> refers to "${value}"; only references inside the file (#id) are allowed`);
      }
    }
  }
  if (/@import|url\(\s*['"]?(?!#)/i.test(text)) add('error', 'bimi-svg-external-reference', 'a style refers to an external resource (@import or url() outside the file)');
  return problems;
}
