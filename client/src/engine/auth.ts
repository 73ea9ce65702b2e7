/**
 * Client payloads of the SASL mechanisms the engine performs over SMTP AUTH (RFC 4954): PLAIN
 * (RFC 4616), LOGIN (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195) and XOAUTH2 (Google's
 * bearer-token mechanism).
 */

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd. */
export function plainPayload(user: string, password: string): string {
  return b64(`\0${user}\0${password}`);
}

/** RFC 2195 §2: the user name, a space, and the lower-case hex HMAC-MD5 of the challenge keyed by the password. */
export function cramMd5Response(user: string, password: string, challengeBase64: string): string {
  const challenge = Buffer.from(challengeBase64.trim(), 'base64');
  // node:crypto is loaded here, by the one mechanism that needs it, not by every `smtpwb run`.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createHmac } = require('node:crypto') as typeof import('node:crypto');
  const digest = createHmac('md5', password).update(challenge).digest('hex');
  return b64(`${user} ${digest}`);
}

/** XOAUTH2: `user=` user ^A `auth=Bearer ` token ^A ^A, base64-encoded. */
export function xoauth2Payload(user: string, token: string): string {
  return b64(`user=${user}\x01auth=Bearer ${token}\x01\x01`);
}

export function loginPayload(value: string): string {
  return b64(value);
}
