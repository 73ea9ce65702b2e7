/**
 * A small, safe XML scanner for report files: it builds an element tree with the UTF-16 offsets of
 * every element, and never throws. It reads the subset of XML 1.0 that reports use (elements,
 * attributes, character data, the five predefined entities, character references, CDATA sections,
 * comments and processing instructions) and refuses the rest:
 *
 * - a document type declaration (`<!DOCTYPE`, XML 1.0 §2.8) is a finding and ends the scan: its
 *   internal subset could declare entities and its external identifier names a file or URL, and
 *   neither is ever read or resolved (no entity expansion, so no "billion laughs", no XXE);
 * - a reference to any other entity is a finding and stays as written in the text;
 * - input that ends inside a tag or with open elements is a "truncated" finding, and the elements
 *   read so far are kept, so a summary can still say what was there.
 *
 * Namespaces (Namespaces in XML 1.0): every element's prefix is resolved against the `xmlns` and
 * `xmlns:p` declarations in scope, and the element keeps its local name and its namespace URI
 * (`ns`). `child`, `children` and `childText` find only children in their parent's namespace, so an
 * element of another namespace (an extension's `<x:count>`) never stands in for a report's own
 * (RFC 9990 Appendix A: its elements are in `urn:ietf:params:xml:ns:dmarc-2.0`, RFC 7489's in none).
 */
import type { Problem } from '../../../common/problem';

export interface XmlElement {
  /** The local name (prefix removed). */
  name: string;
  /** The namespace prefix as written (`ext` of `<ext:data>`), when there is one. */
  prefix?: string;
  /**
   * The namespace URI the element is in, after resolving its prefix (or the default namespace) in
   * scope: '' for none; undefined when its prefix is not declared (a finding), which matches nothing.
   */
  ns: string | undefined;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The character data directly inside the element, entity references decoded. */
  text: string;
  /** Offset of `<`. */
  start: number;
  /** Offset after the end tag's `>` (or the end of the input when the element is not closed). */
  end: number;
  /** The range of the element's text content (between the start tag and the end tag). */
  contentStart: number;
  contentEnd: number;
  closed: boolean;
  /** True when the input ends before the element's end tag (a truncated file). */
  cut?: boolean;
}

export interface XmlScan {
  root: XmlElement | undefined;
  problems: Problem[];
  /**
   * True when the scan stopped early because the rest is refused (a DTD, a limit). A truncated
   * document is not aborted: the elements read before the cut are kept, and the open ones are `cut`.
   */
  aborted: boolean;
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function problem(code: string, severity: Problem['severity'], message: string, start: number, end: number): Problem {
  return { code, severity, message, range: { start, end: Math.max(end, start) } };
}

/** Decodes entity and character references; unknown entities are reported and kept as written. */
function decodeText(raw: string, base: number, problems: Problem[]): string {
  if (raw.indexOf('&') < 0) return raw;
  return raw.replace(/&([^;&<\s]{0,32});?/g, (whole: string, name: string, offset: number) => {
    if (!whole.endsWith(';')) {
      problems.push(problem('report-xml-syntax', 'error', 'an "&" that does not start an entity or character reference (XML 1.0 §4.1)', base + offset, base + offset + whole.length));
      return whole;
    }
    if (name.startsWith('#')) {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      if (Number.isFinite(code) && code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)) return String.fromCodePoint(code);
      problems.push(problem('report-xml-syntax', 'error', 'a character reference to a character XML does not allow (XML 1.0 §4.1)', base + offset, base + offset + whole.length));
      return whole;
    }
    const value = PREDEFINED[name];
    if (value !== undefined) return value;
    problems.push(
      problem('report-xml-entity', 'error', `the entity reference "&${name};" is not one of XML's five predefined entities; entities are never resolved`, base + offset, base + offset + whole.length),
    );
    return whole;
  });
}

function localName(qname: string): string {
  const colon = qname.indexOf(':');
  return colon < 0 ? qname : qname.slice(colon + 1);
}

const NAME_RE = /[A-Za-z_:][-A-Za-z0-9_.:\u00b7\u00c0-\uffff]*/y;
const ATTR_RE = /\s*([A-Za-z_:][-A-Za-z0-9_.:]*)\s*=\s*("[^"<]*"|'[^'<]*')/y;

/** The attributes of every element without any (shared, frozen: most report elements have none). */
const NO_ATTRS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** The namespace declarations in scope: the default namespace and the prefixes (inherited through the prototype). */
interface NamespaceScope {
  default: string;
  prefixes: Record<string, string>;
}

/** The scope outside the root: no default namespace, and `xml` bound as Namespaces in XML 1.0 §3 fixes it. */
function documentScope(): NamespaceScope {
  const prefixes = Object.create(null) as Record<string, string>;
  prefixes.xml = 'http://www.w3.org/XML/1998/namespace';
  return { default: '', prefixes };
}

/** The scope inside an element with attributes: its `xmlns` and `xmlns:p` declarations over the parent's. */
function declaredScope(attrs: Record<string, string>, parent: NamespaceScope): NamespaceScope {
  let scope = parent;
  for (const name in attrs) {
    if (name !== 'xmlns' && !name.startsWith('xmlns:')) continue;
    if (scope === parent) scope = { default: parent.default, prefixes: parent.prefixes };
    if (name === 'xmlns') scope.default = attrs[name];
    else {
      if (scope.prefixes === parent.prefixes) scope.prefixes = Object.create(parent.prefixes) as Record<string, string>;
      // xmlns:p="" undeclares p (Namespaces in XML 1.1; not allowed in 1.0), which leaves it unbound here.
      scope.prefixes[name.slice(6)] = attrs[name];
    }
  }
  return scope;
}

/** Limits that keep a hostile document from costing more than a real report. */
export const XML_LIMITS = { maxDepth: 64, maxElements: 2_000_000 };

/** Scans an XML document into an element tree. Never throws. */
export function scanXml(text: string): XmlScan {
  const problems: Problem[] = [];
  const stack: XmlElement[] = [];
  // scopes[i] is the namespace scope inside stack[i]; scopes[stack.length] is not used.
  const scopes: NamespaceScope[] = [];
  const outside = documentScope();
  let root: XmlElement | undefined;
  let pos = 0;
  let elements = 0;
  const len = text.length;
  if (text.charCodeAt(0) === 0xfeff) pos = 1;
  const truncated = (at: number, what: string): XmlScan => {
    problems.push(problem('report-xml-truncated', 'error', `the document ends ${what}: the report is truncated`, at, len));
    return finish(false);
  };
  const finish = (aborted: boolean): XmlScan => {
    for (const open of stack) {
      open.end = len;
      open.contentEnd = len;
      if (!aborted) open.cut = true;
    }
    return { root, problems, aborted };
  };
  while (pos < len) {
    const lt = text.indexOf('<', pos);
    const textEnd = lt < 0 ? len : lt;
    if (textEnd > pos) {
      const raw = text.slice(pos, textEnd);
      const top = stack[stack.length - 1];
      // Reports have no mixed content: text after an element's first child (the indentation
      // between children) is not kept, which saves a string per element.
      if (top) {
        if (top.children.length === 0) top.text += decodeText(raw, pos, problems);
      } else if (raw.trim() !== '') problems.push(problem('report-xml-syntax', 'error', 'text outside the root element (XML 1.0 §2.1)', pos, textEnd));
    }
    if (lt < 0) break;
    pos = lt;
    const next = text.charCodeAt(pos + 1);
    if (Number.isNaN(next)) return truncated(pos, 'inside a tag');
    if (next === 0x21 /* ! */ && text.startsWith('<!--', pos)) {
      const close = text.indexOf('-->', pos + 4);
      if (close < 0) return truncated(pos, 'inside a comment');
      pos = close + 3;
      continue;
    }
    if (next === 0x21 && text.startsWith('<![CDATA[', pos)) {
      const close = text.indexOf(']]>', pos + 9);
      if (close < 0) return truncated(pos, 'inside a CDATA section');
      const top = stack[stack.length - 1];
      if (top) top.text += text.slice(pos + 9, close);
      else problems.push(problem('report-xml-syntax', 'error', 'a CDATA section outside the root element', pos, close + 3));
      pos = close + 3;
      continue;
    }
    if (next === 0x21 && (text.startsWith('<!DOCTYPE', pos) || text.startsWith('<!doctype', pos) || text.startsWith('<!ENTITY', pos))) {
      const gt = text.indexOf('>', pos);
      problems.push(
        problem(
          'report-xml-dtd',
          'error',
          'the report has a document type declaration; DTDs and entities are refused and never resolved (a report has no use for them: RFC 9990 defines it by an XML schema), so nothing after it is read',
          pos,
          gt < 0 ? len : gt + 1,
        ),
      );
      return finish(true);
    }
    if (next === 0x3f /* ? */) {
      const close = text.indexOf('?>', pos + 2);
      if (close < 0) return truncated(pos, 'inside a processing instruction');
      pos = close + 2;
      continue;
    }
    if (next === 0x21 /* ! */) {
      const gt = text.indexOf('>', pos);
      problems.push(problem('report-xml-syntax', 'error', 'a markup declaration that is not allowed in a report', pos, gt < 0 ? len : gt + 1));
      if (gt < 0) return truncated(pos, 'inside a declaration');
      pos = gt + 1;
      continue;
    }
    if (next === 0x2f /* / */) {
      const gt = text.indexOf('>', pos + 2);
      if (gt < 0) return truncated(pos, 'inside an end tag');
      const top = stack[stack.length - 1];
      // The common case first: </name> for the open element, without a prefix or spaces.
      const name = top && gt === pos + 2 + top.name.length && text.startsWith(top.name, pos + 2) ? top.name : localName(text.slice(pos + 2, gt).trim());
      if (!top) {
        problems.push(problem('report-xml-syntax', 'error', `an end tag </${name}> without a start tag`, pos, gt + 1));
      } else if (top.name !== name) {
        // Close up to a matching open element if there is one, reporting what was left open.
        const index = stack.map((e) => e.name).lastIndexOf(name);
        problems.push(problem('report-xml-syntax', 'error', `the end tag </${name}> does not match the open element <${top.name}> (XML 1.0 §3, element type match)`, pos, gt + 1));
        if (index >= 0) {
          while (stack.length > index) {
            const e = stack.pop() as XmlElement;
            e.contentEnd = pos;
            e.end = gt + 1;
            e.closed = e.name === name;
          }
        }
      } else {
        stack.pop();
        top.contentEnd = pos;
        top.end = gt + 1;
        top.closed = true;
      }
      pos = gt + 1;
      continue;
    }
    // A start tag or an empty-element tag.
    NAME_RE.lastIndex = pos + 1;
    const m = NAME_RE.exec(text);
    if (!m) {
      problems.push(problem('report-xml-syntax', 'error', 'a "<" that does not start a tag (write &lt; in text)', pos, pos + 1));
      pos += 1;
      continue;
    }
    let p = pos + 1 + m[0].length;
    let attrs: Record<string, string> = NO_ATTRS;
    // Attributes only follow white space.
    for (; p < len && text.charCodeAt(p) <= 0x20; ) {
      ATTR_RE.lastIndex = p;
      const a = ATTR_RE.exec(text);
      if (!a) break;
      if (attrs === NO_ATTRS) attrs = {};
      attrs[a[1]] = decodeText(a[2].slice(1, -1), p + a[0].length - a[2].length + 1, problems);
      p = ATTR_RE.lastIndex;
    }
    while (p < len && text.charCodeAt(p) <= 0x20) p++;
    if (p >= len) return truncated(pos, 'inside a start tag');
    let selfClosing = false;
    if (text[p] === '/' && text[p + 1] === '>') {
      selfClosing = true;
      p += 2;
    } else if (text[p] === '>') {
      p += 1;
    } else {
      const gt = text.indexOf('>', p);
      if (gt < 0) return truncated(pos, 'inside a start tag');
      problems.push(problem('report-xml-syntax', 'error', 'a malformed attribute in a start tag (XML 1.0 §3.1)', p, gt));
      selfClosing = text[gt - 1] === '/';
      p = gt + 1;
    }
    const parentScope = stack.length > 0 ? scopes[stack.length - 1] : outside;
    const scope = attrs === NO_ATTRS ? parentScope : declaredScope(attrs, parentScope);
    const colon = m[0].indexOf(':');
    let ns: string | undefined = scope.default;
    if (colon > 0) {
      const prefix = m[0].slice(0, colon);
      const bound = scope.prefixes[prefix];
      ns = bound === undefined || bound === '' ? undefined : bound;
      if (ns === undefined) {
        problems.push(problem('report-xml-syntax', 'error', `the namespace prefix "${prefix}" is not declared (Namespaces in XML 1.0 §5, Prefix Declared)`, pos, pos + 1 + m[0].length));
      }
    }
    const element: XmlElement = { name: localName(m[0]), ns, attrs, children: [], text: '', start: pos, end: p, contentStart: p, contentEnd: p, closed: selfClosing };
    if (colon > 0) element.prefix = m[0].slice(0, colon);
    if (++elements > XML_LIMITS.maxElements) {
      problems.push(problem('report-xml-limit', 'error', `more than ${XML_LIMITS.maxElements} elements; the rest is not read`, pos, len));
      return finish(true);
    }
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(element);
    else if (root) problems.push(problem('report-xml-syntax', 'error', 'a second root element (XML 1.0 §2.1: one root)', pos, p));
    else root = element;
    if (!selfClosing) {
      if (stack.length >= XML_LIMITS.maxDepth) {
        problems.push(problem('report-xml-limit', 'error', `elements nested deeper than ${XML_LIMITS.maxDepth}; the rest is not read`, pos, len));
        return finish(true);
      }
      scopes[stack.length] = scope;
      stack.push(element);
    }
    pos = p;
  }
  if (stack.length > 0) {
    const open = stack[stack.length - 1];
    problems.push(problem('report-xml-truncated', 'error', `the document ends before </${open.name}>: the report is truncated`, open.start, len));
  } else if (!root) {
    problems.push(problem('report-xml-empty', 'error', 'the document has no root element', 0, len));
  }
  return finish(false);
}

/** Whether an element is in the same namespace as another (an undeclared prefix is in none that matches). */
export function sameNamespace(a: XmlElement, b: XmlElement): boolean {
  return a.ns !== undefined && a.ns === b.ns;
}

/** The first child with a local name in the element's own namespace. */
export function child(e: XmlElement | undefined, name: string): XmlElement | undefined {
  if (!e) return undefined;
  for (const c of e.children) if (c.name === name && sameNamespace(c, e)) return c;
  return undefined;
}

/** All children with a local name in the element's own namespace. */
export function children(e: XmlElement | undefined, name: string): XmlElement[] {
  return e ? e.children.filter((c) => c.name === name && sameNamespace(c, e)) : [];
}

/** The trimmed text of the first child with a name (in the element's namespace), or undefined. */
export function childText(e: XmlElement | undefined, name: string): string | undefined {
  const c = child(e, name);
  return c ? c.text.trim() : undefined;
}
