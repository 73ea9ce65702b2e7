// The messages of the bulk-sender tests (test/reports/bulkSender.test.ts, test/cli/verifyBulk.test.ts,
// test/runs/runBulk*.test.ts): a newsletter with CRLF line ends, and the same signed with the
// project's signer under the keys of test/mailAuth/fixtures.ts (rsa1 in example.test).
import { publicKeyRecord, signMessage } from '../../client/src/mailAuth/sign';
import { exampleZone, ROOT_ZONE, txt, type TestKeys } from '../mailAuth/fixtures';

/** A compliant List-Unsubscribe pair (RFC 8058 §3.1): an https URI, a mailto one, and one-click. */
export const GOOD_UNSUBSCRIBE = ['List-Unsubscribe: <https://example.test/u/123>, <mailto:unsub@example.test?subject=123>', 'List-Unsubscribe-Post: List-Unsubscribe=One-Click'];

/** The fields a compliant signature covers: the usual ones and both unsubscribe fields (RFC 8058 §4). */
export const SIGNED_FIELDS = ['from', 'to', 'subject', 'date', 'message-id', 'list-unsubscribe', 'list-unsubscribe-post'];

export interface BulkMessageOptions {
  /** The From address (default news@example.test). */
  from?: string;
  /** Header fields after Message-ID (default GOOD_UNSUBSCRIBE). */
  headers?: string[];
  messageId?: string;
  subject?: string;
}

/** A newsletter: From, To, Subject, Date, Message-ID, the given fields, a plain-text body. */
export function bulkMessage(options: BulkMessageOptions = {}): Buffer {
  return Buffer.from(
    [
      `From: Newsletter <${options.from ?? 'news@example.test'}>`,
      'To: Bob <bob@example.net>',
      `Subject: ${options.subject ?? 'This week'}`,
      'Date: Mon, 23 Nov 2026 04:00:00 +0000',
      `Message-ID: <${options.messageId ?? 'bulk-1@example.test'}>`,
      ...(options.headers ?? GOOD_UNSUBSCRIBE),
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'News.',
      '',
    ].join('\r\n'),
  );
}

export interface SignedBulkOptions extends BulkMessageOptions {
  /** The signing domain (default example.test) and selector (default rsa1, the RSA key). */
  domain?: string;
  selector?: string;
  /** The h= fields (default SIGNED_FIELDS). */
  headerList?: string[];
  /** false: leave the message unsigned. */
  sign?: boolean;
}

/** The newsletter signed with the RSA key (rsa-sha256), or unsigned with `sign: false`. */
export async function signedBulkMessage(keys: TestKeys, options: SignedBulkOptions = {}): Promise<Buffer> {
  const message = bulkMessage(options);
  if (options.sign === false) return message;
  return signMessage(message, {
    domain: options.domain ?? 'example.test',
    selector: options.selector ?? 'rsa1',
    privateKeyPem: keys.rsaPem,
    algorithm: 'rsa-sha256',
    headerList: options.headerList ?? SIGNED_FIELDS,
  });
}

/** The reverse zone of 127.0.0.0/24: 127.0.0.1's PTR name (mail.example.test resolves back to it). */
export const REVERSE_ORIGIN = '0.0.127.in-addr.arpa';
export function reverseZone(ptr = 'mail.example.test'): string {
  return `1 PTR ${ptr}.\n`;
}

/**
 * plain.test: SPF for loopback and the rsa1 key, and no DMARC record anywhere above it, so a From
 * domain there has no DMARC policy (RFC 9989 §4.10 finds none).
 */
export function plainZone(keys: TestKeys): string {
  return ['@ TXT "v=spf1 ip4:127.0.0.0/8 -all"', `rsa1._domainkey TXT ${txt(publicKeyRecord(keys.rsaPem))}`, ''].join('\n');
}

/** The zones of a bulk run: the empty root, example.test, plain.test and the reverse zone. */
export function bulkZones(keys: TestKeys, ptr?: string): Record<string, string> {
  return { '': ROOT_ZONE, 'example.test': exampleZone(keys), 'plain.test': plainZone(keys), [REVERSE_ORIGIN]: reverseZone(ptr) };
}
