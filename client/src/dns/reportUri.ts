/**
 * The syntax of the URIs that reporting records name (TLS-RPT `rua=`, RFC 8460 §3; DMARC `rua=` and
 * `ruf=`, RFC 9989 §4.7): an absolute URI of RFC 3986 §3, checked character by character, because the
 * WHATWG URL parser (`new URL`) accepts and silently percent-encodes what RFC 3986 forbids (control
 * characters, spaces, `<`, `"`, non-ASCII). Pure.
 */

/** The characters RFC 3986 allows in a URI outside percent-encodings (§2.2 reserved, §2.3 unreserved). */
const URI_CHARACTER = /[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]/;

/**
 * Why `uri` is not an absolute URI (RFC 3986 §3, §4.3), with the offset of the first bad character,
 * or undefined when it is one. Control characters are named by their code so that the message can
 * be shown as it is.
 */
export function uriSyntaxProblem(uri: string): { offset: number; message: string } | undefined {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(uri);
  if (!scheme) return { offset: 0, message: 'it does not begin with a scheme and ":" (RFC 3986 §3.1)' };
  if (uri.length === scheme[0].length) return { offset: uri.length, message: 'nothing follows the scheme (RFC 3986 §3)' };
  for (let i = scheme[0].length; i < uri.length; i++) {
    const c = uri[i];
    if (c === '%') {
      if (!/^[0-9A-Fa-f]{2}$/.test(uri.slice(i + 1, i + 3))) return { offset: i, message: `"%" at column ${i + 1} does not start a percent-encoding %XX (RFC 3986 §2.1)` };
      i += 2;
      continue;
    }
    if (!URI_CHARACTER.test(c)) {
      const code = c.codePointAt(0)!;
      const shown = code < 0x20 || code === 0x7f || (code >= 0x80 && code < 0xa0) ? `U+${code.toString(16).toUpperCase().padStart(4, '0')}` : `"${c}"`;
      return { offset: i, message: `${shown} at column ${i + 1} is not allowed in a URI; it must be percent-encoded (RFC 3986 §2)` };
    }
  }
  const hash = uri.indexOf('#');
  if (hash !== -1 && uri.indexOf('#', hash + 1) !== -1) return { offset: uri.indexOf('#', hash + 1), message: 'a second "#" is not allowed (RFC 3986 §3.5)' };
  return undefined;
}
