/**
 * Generates large, realistic `.eml` messages for benchmarks: a multipart/mixed with a text and HTML
 * alternative and many base64 attachments, CRLF line endings, 76-character base64 lines.
 */
import { prng } from '../test/support/prng';


export interface GeneratorOptions {
  /** The approximate size of the message in bytes (default 10 MiB). */
  targetBytes?: number;
  /** The size of each attachment before encoding (default 96 KiB). */
  attachmentBytes?: number;
  seed?: number;
}

/** Returns a message of about `targetBytes` characters (all ASCII, so characters equal bytes). */
export function generateLargeMessage(options: GeneratorOptions = {}): string {
  const target = options.targetBytes ?? 10 * 1024 * 1024;
  const attachmentBytes = options.attachmentBytes ?? 96 * 1024;
  const rnd = prng(options.seed ?? 42);
  const chunks: string[] = [];
  let size = 0;
  const push = (s: string): void => {
    chunks.push(s);
    size += s.length;
  };
  push(
    [
      'Return-Path: <reports@example.org>',
      'Received: from mail.example.org (mail.example.org [192.0.2.10])',
      '\tby mx.example.net with ESMTPS id 4Xb7Q2abcd; Mon, 23 Nov 2026 10:00:05 +0000',
      'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=2026;',
      '\th=from:to:subject:date:message-id;',
      '\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;',
      '\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaXMgdmFsaWQgYmFzZTY0',
      'Date: Mon, 23 Nov 2026 10:00:00 +0000',
      'From: Reports <reports@example.org>',
      'To: Archive <archive@example.net>',
      'Subject: =?UTF-8?Q?Monthly_export_=E2=80=93_all_attachments?=',
      'Message-ID: <bench.20261123@example.org>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="==bench-outer=="',
      '',
      'This is a multi-part message in MIME format.',
      '--==bench-outer==',
      'Content-Type: multipart/alternative; boundary="==bench-alt=="',
      '',
      '--==bench-alt==',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Hello, the monthly export is attached =E2=80=94 one file per department.',
      '--==bench-alt==',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      '<p>Hello, the monthly export is attached =E2=80=94 one file per=',
      ' department.</p>',
      '--==bench-alt==--',
      '',
    ].join('\r\n'),
  );
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let n = 0;
  while (size < target - 2000) {
    n++;
    const remaining = target - size - 400;
    const encodedLength = Math.max(4, Math.min(Math.ceil(attachmentBytes / 3) * 4, Math.floor(((remaining * 76) / 78) / 4) * 4));
    push(`--==bench-outer==\r\nContent-Type: application/octet-stream; name="export-${n}.bin"\r\nContent-Disposition: attachment; filename="export-${n}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n`);
    // Base64 lines of 76 characters (RFC 2045 §6.8), built from a repeating random line for speed.
    let line = '';
    for (let i = 0; i < 76; i++) line += alphabet[Math.floor(rnd() * 64)];
    const lines: string[] = [];
    let left = encodedLength;
    while (left > 0) {
      const take = Math.min(76, left);
      lines.push(take === 76 ? line : line.slice(0, take - 2) + '==');
      left -= take;
    }
    push(lines.join('\r\n') + '\r\n');
  }
  push('--==bench-outer==--\r\n');
  return chunks.join('');
}
