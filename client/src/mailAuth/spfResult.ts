/**
 * SPF for `verify`: the product's RFC 7208 evaluator (dns/spfEval.ts), presented as the
 * Authentication-Results clause (RFC 8601 §2.7.2) and the Received-SPF field (RFC 7208 §9.1) that
 * the report and the CLI print. mailauth still verifies DKIM and ARC; its SPF is not used because it
 * differs from RFC 7208 on the conformance scenarios (see docs/eml-authentication.md).
 */
import { evaluateSpf, type SpfEvaluation, type SpfResolver } from '../dns/spfEval';
import { libmime } from './libmime';
import type { MaSpfResult } from './mailauthApi';
import type { MailauthResolver } from './resolver';

/** A comment of a header field (RFC 5322 §3.2.2): one line, with "\" and ")" escaped. */
function commentText(value: string): string {
  return value
    .replace(/[\x00-\x1f\x7f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\\()]/g, (c) => `\\${c}`);
}

/** A property value of Authentication-Results (RFC 8601 §2.2): a token, or a quoted string. */
export function propValue(value: string): string {
  const v = value.replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/\s+/g, ' ').trim();
  if (v !== '' && !/[\s\x00-\x1f\x7f-\uffff()<>,;:\\"/[\]?=]/.test(v)) return v;
  return `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** The comment that says what the result means, in the wording receivers commonly use. */
function describe(e: SpfEvaluation, mta: string, ip: string): string {
  switch (e.result) {
    case 'pass':
      return `${mta}: domain of ${e.sender} designates ${ip} as permitted sender`;
    case 'softfail':
      return `${mta}: domain of transitioning ${e.sender} does not designate ${ip} as permitted sender`;
    case 'fail':
      return `${mta}: domain of ${e.sender} does not designate ${ip} as permitted sender${e.explanation !== undefined ? `: ${e.explanation}` : ''}`;
    case 'neutral':
      return `${mta}: ${ip} is neither permitted nor denied by domain of ${e.sender}`;
    case 'none':
      return `${mta}: ${e.domain} does not designate permitted sender hosts`;
    case 'permerror':
      return `${mta}: permanent error in processing during lookup of ${e.sender}: ${e.reason}`;
    case 'temperror':
      return `${mta}: error in processing during lookup of ${e.sender}: ${e.reason}`;
  }
}

export interface VerifySpfOptions {
  ip: string;
  /** Empty for the null reverse-path. */
  mailFrom: string;
  helo: string;
  mta: string;
  resolver: MailauthResolver;
  now?: () => number;
}

/** Evaluates SPF and returns it in the shape the verify report was built on, plus the evaluation. */
export async function verifySpf(options: VerifySpfOptions): Promise<MaSpfResult & { evaluation: SpfEvaluation }> {
  const resolver: SpfResolver = (name, type) => options.resolver(name, type) as Promise<unknown[]>;
  // An address literal HELO ("[192.0.2.1]") stays as given: it is not a domain, so %{h} and the HELO
  // identity treat it as such (RFC 7208 §2.3, §4.3).
  const evaluation = await evaluateSpf({ ip: options.ip, mailFrom: options.mailFrom, helo: options.helo, resolver, receiver: options.mta, now: options.now });
  const clientIp = options.ip;
  const comment = describe(evaluation, options.mta, clientIp);
  const smtp: Record<string, string | undefined> = { mailfrom: evaluation.sender, helo: options.helo === '' ? undefined : options.helo };
  const info = [`spf=${evaluation.result}`, `(${commentText(comment)})`, ...Object.entries(smtp).filter(([, v]) => v).map(([k, v]) => `smtp.${k}=${propValue(v ?? '')}`)].join(' ');
  const header = libmime.foldLines(`Received-SPF: ${evaluation.result} (${commentText(comment)}) client-ip=${clientIp}; envelope-from=${propValue(evaluation.sender)};${options.helo !== '' ? ` helo=${propValue(options.helo)};` : ''} identity=${evaluation.identity};${options.mta ? ` receiver=${propValue(options.mta)};` : ''}${evaluation.mechanism ? ` mechanism=${propValue(evaluation.mechanism.term)};` : ''}`, 160);
  return {
    domain: evaluation.domain,
    'client-ip': clientIp,
    helo: options.helo === '' ? undefined : options.helo,
    'envelope-from': evaluation.sender,
    status: { result: evaluation.result, comment, smtp },
    header,
    info,
    rr: evaluation.record,
    lookups: { limit: 10, count: evaluation.lookups, void: evaluation.voidLookups },
    evaluation,
  };
}
