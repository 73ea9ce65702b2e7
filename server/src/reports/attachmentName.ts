/**
 * The file name of a MIME attachment as its sender meant it: RFC 2231 parameters (`filename*=`,
 * continuations `filename*0*=`, `filename*1=`, a charset and percent-escapes), RFC 2047 encoded
 * words in a quoted `filename="=?UTF-8?B?...?="` (which RFC 2047 §5 forbids but mail programs send),
 * `filename` of Content-Disposition before `name` of Content-Type (RFC 2183 §2.3). The result is
 * decoded text, not yet a safe file name: the caller reduces it. Pure; never throws.
 */

/** Decodes bytes in a named charset, as UTF-8 when the platform does not know the charset. */
function decodeCharset(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset.trim() || 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

/** Decodes the RFC 2047 encoded words of a text (`=?charset?B|Q?text?=`); other text is kept. */
export function decodeEncodedWords(text: string): string {
  // Whitespace between two adjacent encoded words is not displayed (RFC 2047 §6.2).
  return text
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?([^?*\s]+)(?:\*[^?\s]*)?\?([BbQq])\?([^?\s]*)\?=/g, (_m, charset: string, encoding: string, data: string) => {
      const bytes =
        encoding.toUpperCase() === 'B'
          ? Buffer.from(data, 'base64')
          : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_q, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
      return decodeCharset(bytes, charset);
    });
}

/** The parameters of a header field value (after its first `;`), names lower-cased, quotes removed. */
function parameters(value: string): Array<{ name: string; value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  const re = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    out.push({ name: m[1].toLowerCase(), value: m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '') });
  }
  return out;
}

/** One parameter's value from a list, RFC 2231 §3–4 forms first (`name*`, `name*0*`, `name*1`, ...), then the plain `name`. */
function parameter(params: Array<{ name: string; value: string }>, name: string): string | undefined {
  const pieces = new Map<number, { value: string; encoded: boolean }>();
  let single: { value: string; encoded: boolean } | undefined;
  for (const p of params) {
    if (p.name === `${name}*`) single = { value: p.value, encoded: true };
    const m = /^(.+)\*(\d{1,3})(\*)?$/.exec(p.name);
    if (m && m[1] === name && !pieces.has(Number(m[2]))) pieces.set(Number(m[2]), { value: p.value, encoded: m[3] === '*' });
  }
  const list: Array<{ value: string; encoded: boolean }> = [];
  if (single) list.push(single);
  else for (let i = 0; pieces.has(i); i++) list.push(pieces.get(i) as { value: string; encoded: boolean });
  if (list.length > 0) {
    // The first encoded piece names the charset and language: charset'language'%XX... (RFC 2231 §4).
    let charset = 'us-ascii';
    const bytes: Buffer[] = [];
    list.forEach((piece, i) => {
      let v = piece.value;
      if (piece.encoded) {
        if (i === 0) {
          const m = /^([^']*)'[^']*'(.*)$/s.exec(v);
          if (m) {
            charset = m[1] || 'us-ascii';
            v = m[2];
          }
        }
        bytes.push(Buffer.from(v.replace(/%([0-9A-Fa-f]{2})|[^%]+|%/g, (t, h?: string) => (h ? String.fromCharCode(parseInt(h, 16)) : t)), 'latin1'));
      } else bytes.push(Buffer.from(v, 'latin1'));
    });
    return decodeCharset(Buffer.concat(bytes), /^us-ascii$/i.test(charset) ? 'utf-8' : charset);
  }
  const plain = params.find((p) => p.name === name)?.value;
  return plain === undefined ? undefined : decodeEncodedWords(plain);
}

/**
 * The attachment's file name from its Content-Disposition and Content-Type field values (raw,
 * unfolded), or '' when neither names it.
 */
export function attachmentFileName(contentDisposition: string | undefined, contentType: string | undefined): string {
  const fromDisposition = contentDisposition ? parameter(parameters(contentDisposition), 'filename') : undefined;
  if (fromDisposition) return fromDisposition;
  return (contentType ? parameter(parameters(contentType), 'name') : undefined) ?? '';
}
