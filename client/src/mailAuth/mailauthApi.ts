/**
 * Typed access to the parts of mailauth 4.13.3 this extension uses. Its bundled `.d.ts` is partly
 * wrong (results carry more fields than declared), so the module is loaded once and viewed through
 * the interfaces below, which were checked against lib/*.js of that version. DKIM signing is the
 * product's own (sign.ts).
 */
import * as mailauthModule from 'mailauth';
import type { MailauthResolver } from './resolver';

/** A method result's status, as every mailauth check returns it (RFC 8601 §2.7 result values). */
export interface MaStatus {
  result?: string;
  comment?: string | false;
  aligned?: string | false;
  underSized?: number;
  header?: Record<string, string | false | undefined>;
  smtp?: Record<string, string | undefined>;
  policy?: Record<string, string | undefined>;
}

export interface MaDkimResult {
  id?: string;
  signingDomain?: string;
  selector?: string;
  /** The b= value, without white space. */
  signature?: string;
  algo?: string;
  format?: string;
  bodyHash?: string;
  bodyHashExpecting?: string;
  status: MaStatus;
  info: string;
  signTime?: string | null;
  expiresAfter?: string | null;
  modulusLength?: number;
  rr?: string;
}

export interface MaParsedHeaders {
  parsed: Array<{ key: string; line: Buffer | string }>;
}

export interface MaDkimVerifyResult {
  headerFrom?: string[];
  envelopeFrom?: string | false;
  results: MaDkimResult[];
  /** Non-enumerable. */
  readonly headers?: MaParsedHeaders;
  /** Non-enumerable: the ARC chain collected while parsing. */
  readonly arc?: unknown;
}

export interface MaSpfResult {
  domain: string;
  'client-ip'?: string;
  helo?: string;
  'envelope-from'?: string;
  status: MaStatus;
  header: string;
  info: string;
  rr?: string;
  lookups?: { limit: number; count: number; void: number };
}

export interface MaArcResult {
  i?: number | false;
  status: MaStatus;
  info?: string;
}

export interface MaDmarcResult {
  domain?: string;
  policy?: string;
  p?: string;
  sp?: string;
  pct?: number;
  rr?: string;
  status: MaStatus;
  info?: string;
  error?: string;
  alignment?: { spf?: { result: string | false; strict: boolean }; dkim?: { result: string | false; strict: boolean } };
}

export interface MaBimiResult {
  status: MaStatus;
  info?: string;
  location?: string;
  authority?: string;
  rr?: string;
}

interface MailauthApi {
  dkimVerify(input: Buffer, options: { resolver?: MailauthResolver; sender?: string; minBitLength?: number }): Promise<MaDkimVerifyResult>;
  spf(options: { sender?: string; ip: string; helo?: string; mta?: string; resolver?: MailauthResolver }): Promise<MaSpfResult>;
  arc(chain: unknown, options: { resolver?: MailauthResolver; minBitLength?: number }): Promise<MaArcResult>;
  /** ARC sealing (lib/arc/index.js): the ARC-Seal, ARC-Message-Signature and ARC-Authentication-Results lines to prepend. */
  sealMessage(
    input: Buffer,
    seal: { signingDomain: string; selector: string; privateKey: string | Buffer; algorithm?: string; authResults: string; cv: string; signTime?: Date },
  ): Promise<Buffer>;
  dmarc(options: {
    headerFrom: string | string[];
    spfDomains: string[];
    dkimDomains: Array<{ id?: string; domain?: string; aligned?: string | false; underSized?: number }>;
    arcResult?: MaArcResult;
    resolver?: MailauthResolver;
  }): Promise<MaDmarcResult | false>;
  bimi(options: { dmarc: MaDmarcResult | false; headers?: MaParsedHeaders; resolver?: MailauthResolver; bimiWithAlignedDkim?: boolean }): Promise<MaBimiResult | false>;
}

/** The mailauth module, viewed through checked types. */
export const mailauth: MailauthApi = mailauthModule as unknown as MailauthApi;
