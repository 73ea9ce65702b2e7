// A minimal DKIM signer for tests that need a signature with any tag list (valid or not), so that a
// signature is valid except for the tag under test: rsa-sha256, c=relaxed/simple, d=dm.test, s=good.
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, sign as rsaSign } from 'node:crypto';

/** RFC 6376 §3.4.2 relaxed header canonicalization of one field (name and value, unfolded). */
function relaxedHeader(name: string, value: string): string {
  return `${name.toLowerCase()}:${value.replace(/\r?\n(?=[ \t])/g, '').replace(/[ \t]+/g, ' ').trim()}`;
}

/** RFC 6376 §3.4.3 simple body canonicalization: trailing empty lines removed, one CRLF at the end. */
export function simpleBody(body: string): string {
  const trimmed = body.replace(/(\r\n)+$/, '');
  return `${trimmed}\r\n`;
}

/**
 * Signs the message with rsa-sha256, c=relaxed/simple, d=dm.test, s=good and h=from:to:subject:date,
 * with `tags` written as given between s= and h= (any tag list, valid or not), `beforeSelector`
 * between d= and s=, and `bodyLength`
 * octets of the body when given (l=). A minimal signer for tests: it signs the first instance of
 * each named field, which is the only one in these messages. `options` change d= and s= (written
 * as given, latin1: pass UTF-8 as its latin1 reading) and let bh= cover only `hashedOctets` of the
 * body without writing l= (to test what a verifier reading a broken l= would accept).
 */
export function signWithTagList(rsaPem: string, message: Buffer, tags: string, bodyLength?: number, beforeSelector = '', options: { domain?: string; selector?: string; hashedOctets?: number } = {}): Buffer {
  const text = message.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const head = text.slice(0, split + 2);
  const body = simpleBody(text.slice(split + 4));
  const limit = options.hashedOctets ?? bodyLength;
  const signedBody = limit === undefined ? body : body.slice(0, limit);
  const bh = createHash('sha256').update(signedBody, 'latin1').digest('base64');
  const fields = head.split(/\r\n(?![ \t])/).filter((f) => f !== '');
  const names = ['from', 'to', 'subject', 'date'];
  const lines = names.map((n) => {
    const f = fields.find((x) => x.slice(0, x.indexOf(':')).trim().toLowerCase() === n);
    assert.ok(f, `the message has ${n}`);
    return relaxedHeader(n, f.slice(f.indexOf(':') + 1));
  });
  const l = bodyLength === undefined ? '' : ` l=${bodyLength};`;
  const value = ` v=1; a=rsa-sha256; c=relaxed/simple; d=${options.domain ?? 'dm.test'};${beforeSelector ? ` ${beforeSelector};` : ''} s=${options.selector ?? 'good'};${tags ? ` ${tags};` : ''}${l} h=${names.join(':')}; bh=${bh}; b=`;
  const data = `${lines.join('\r\n')}\r\n${relaxedHeader('DKIM-Signature', value)}`;
  const b = rsaSign('sha256', Buffer.from(data, 'latin1'), createPrivateKey(rsaPem)).toString('base64');
  return Buffer.concat([Buffer.from(`DKIM-Signature:${value}${b}\r\n`, 'latin1'), message]);
}

