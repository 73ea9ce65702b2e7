/**
 * Message data on the wire: CRLF line endings and dot-stuffing for DATA (RFC 5321 §4.5.2), the
 * unchanged message for BDAT (RFC 3030 §2), and the escapes of RAW lines.
 */

const CR = 13;
const LF = 10;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');
const END_OF_DATA = Buffer.from('.\r\n');

/**
 * Builds the bytes sent after DATA's 354 for an inline body, which the script holds already
 * dot-stuffed. The lines are joined with CRLF and followed by `.` CRLF. A line can only hold a CR or
 * LF when a plan was built by hand; such a line is split there, and the pieces are stuffed, so that
 * no bare CR or LF and no early `<CRLF>.<CRLF>` ever reaches the wire (RFC 5321 §2.3.8, §4.5.2; the
 * "SMTP smuggling" attacks rely on exactly those). A line that is exactly `.` would end the data
 * early, so it is sent stuffed as `..`.
 */
export function inlineDataBytes(lines: readonly string[]): Buffer {
  let clean = true;
  for (const line of lines) {
    if (line === '.' || line.includes('\r') || line.includes('\n')) {
      clean = false;
      break;
    }
  }
  if (clean) {
    return Buffer.from(lines.length === 0 ? '.\r\n' : `${lines.join('\r\n')}\r\n.\r\n`, 'utf8');
  }
  const out: string[] = [];
  for (const line of lines) {
    const pieces = line.split(/\r\n|\r|\n/);
    out.push(pieces[0] === '.' ? '..' : pieces[0]);
    for (let i = 1; i < pieces.length; i++) out.push(pieces[i].startsWith('.') ? `.${pieces[i]}` : pieces[i]);
  }
  return Buffer.from(`${out.join('\r\n')}\r\n.\r\n`, 'utf8');
}

/**
 * Converts a message to CRLF line endings (a bare CR or LF becomes CRLF), optionally dot-stuffs it,
 * and ends it with CRLF when it does not already end so. With `stuff`, the terminating `.` CRLF is
 * appended too: the result is exactly the bytes to send after 354 (RFC 5321 §4.5.2).
 */
export function canonicalMessage(input: Buffer, stuff: boolean): Buffer {
  // A first pass counts what the output needs, so the copy is done once into an exact buffer.
  let extra = 0;
  let atLineStart = true;
  for (let i = 0; i < input.length; i++) {
    const b = input[i];
    if (atLineStart && stuff && b === DOT) extra++;
    if (b === CR) {
      if (input[i + 1] === LF) {
        i++;
      } else extra++;
      atLineStart = true;
    } else if (b === LF) {
      extra++;
      atLineStart = true;
    } else atLineStart = false;
  }
  const needsFinalCrlf = input.length > 0 && !atLineStart;
  const size = input.length + extra + (needsFinalCrlf ? 2 : 0) + (stuff ? 3 : 0);
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  atLineStart = true;
  for (let i = 0; i < input.length; i++) {
    const b = input[i];
    if (atLineStart && stuff && b === DOT) out[o++] = DOT;
    if (b === CR || b === LF) {
      out[o++] = CR;
      out[o++] = LF;
      if (b === CR && input[i + 1] === LF) i++;
      atLineStart = true;
    } else {
      out[o++] = b;
      atLineStart = false;
    }
  }
  if (needsFinalCrlf) {
    CRLF.copy(out, o);
    o += 2;
  }
  if (stuff) {
    END_OF_DATA.copy(out, o);
    o += 3;
  }
  return out.subarray(0, o);
}

/**
 * The message of an inline BDAT body: the script writes it dot-stuffed like a DATA body, so a
 * leading `..` becomes `.`; lines end with CRLF (RFC 3030 §2 sends the message unchanged).
 */
export function inlineBdatMessage(lines: readonly string[]): Buffer {
  if (lines.length === 0) return Buffer.alloc(0);
  const text = lines.map((l) => (l.startsWith('.') ? l.slice(1) : l)).join('\n');
  return canonicalMessage(Buffer.from(text, 'utf8'), false);
}
