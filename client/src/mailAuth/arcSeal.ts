/**
 * ARC sealing (RFC 8617 §5.1): the product verifies the message as it arrived (verify.ts: DKIM, SPF,
 * ARC, DMARC), records those results in the ARC-Authentication-Results field, and adds the next ARC
 * set with mailauth's sealer. The chain validation status (cv=) is the product's ARC verdict.
 */
import { mailauth } from './mailauthApi';
import type { MailauthResolver } from './resolver';
import { keyAlgorithm } from './sign';
import { verifyMessage } from './verify';

export interface ArcSealOptions {
  /** The sealer's domain (d=) and selector (s=). */
  domain: string;
  selector: string;
  privateKeyPem: string;
  /** The sealer's authserv-id for the ARC-Authentication-Results (RFC 8601 §2.5). */
  authServId: string;
  resolver: MailauthResolver;
  ip?: string;
  helo?: string;
  mailFrom?: string;
  /**
   * The message as it arrived, when the sealer changed it before sealing (a mailing list puts a tag
   * in the Subject and a footer under the body): the results and cv= describe what arrived.
   */
  arrived?: Buffer;
  /** The signing time (t=); now by default. */
  signTime?: Date;
}

/** Returns the message with the next ARC set prepended. */
export async function sealArc(message: Buffer, options: ArcSealOptions): Promise<Buffer> {
  const report = await verifyMessage(options.arrived ?? message, { resolver: options.resolver, ip: options.ip, helo: options.helo, mailFrom: options.mailFrom, authServId: options.authServId, useReceived: false });
  // The Authentication-Results value without its field name, authserv-id first (RFC 8617 §4.1.1).
  const authResults = report.authenticationResults.replace(/^Authentication-Results:\s*/i, '').replace(/\r\n$/, '');
  const cv = report.arc.result === 'pass' ? 'pass' : report.arc.result === 'none' ? 'none' : 'fail';
  const headers = await mailauth.sealMessage(message, {
    signingDomain: options.domain,
    selector: options.selector,
    privateKey: options.privateKeyPem,
    algorithm: keyAlgorithm(options.privateKeyPem),
    authResults,
    cv,
    signTime: options.signTime,
  });
  return Buffer.concat([headers, message]);
}
