/**
 * TLS-RPT reports (RFC 8460 §4): JSON read with the offset-keeping parser the capture rules use
 * (common/jsonTree.ts), checked field by field against §4.4's structure, and read into a
 * model. Never throws.
 */
import type { OffsetRange, Problem } from '../../../common/problem';
import { parseJsonTree, type JsonNode } from '../../../common/jsonTree';
import { normalDomain } from './normalForm';
import { finding } from './reportProblems';

/** RFC 8460 §4.3: the result types. */
export const TLSRPT_RESULT_TYPES = [
  'starttls-not-supported',
  'certificate-host-mismatch',
  'certificate-expired',
  'certificate-not-trusted',
  'validation-failure',
  'tlsa-invalid',
  'dnssec-invalid',
  'dane-required',
  'sts-policy-fetch-error',
  'sts-policy-invalid',
  'sts-webpki-invalid',
] as const;

/** RFC 8460 §4.4: policy-type. */
export const TLSRPT_POLICY_TYPES = ['tlsa', 'sts', 'no-policy-found'] as const;

export interface TlsRptFailure {
  resultType: string;
  sendingMtaIp?: string;
  receivingMxHostname?: string;
  receivingMxHelo?: string;
  receivingIp?: string;
  failedSessionCount: number;
  additionalInformation?: string;
  failureReasonCode?: string;
}

export interface TlsRptPolicy {
  policyType: string;
  policyDomain: string;
  policyString: string[];
  mxHost: string[];
  successful: number;
  failed: number;
  failures: TlsRptFailure[];
  /**
   * False when "summary" or one of its two counts is missing or unusable (a tlsrpt-missing or
   * tlsrpt-value finding): the policy is then left out of every total rather than counted as 0
   * sessions, as a DMARC record without a usable <count> is.
   */
  countsUsable: boolean;
  /** The offsets of the policy item in the report's text. */
  range: OffsetRange;
}

export interface TlsRptReport {
  kind: 'tls-rpt';
  organizationName: string;
  contactInfo: string;
  reportId: string;
  startDatetime: string;
  endDatetime: string;
  policies: TlsRptPolicy[];
}

export interface TlsRptParse {
  report: TlsRptReport | undefined;
  problems: Problem[];
}

type Obj = Extract<JsonNode, { kind: 'object' }>;

function prop(o: Obj | undefined, key: string): JsonNode | undefined {
  return o?.properties.find((p) => p.key === key)?.value;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

class Reader {
  readonly problems: Problem[] = [];

  /** `consequence` says what the summary does about it (`; the policy is left out of the totals`). */
  missing(where: string, key: string, range: OffsetRange, consequence = ''): void {
    this.problems.push(finding('tlsrpt-missing', `${where} has no "${key}"${consequence}`, range.start, range.start + 1));
  }

  bad(node: JsonNode, message: string): void {
    this.problems.push(finding('tlsrpt-value', message, node.range.start, node.range.end));
  }

  object(parent: Obj, key: string, where: string, required = true, consequence = ''): Obj | undefined {
    const v = prop(parent, key);
    if (!v) {
      if (required) this.missing(where, key, parent.range, consequence);
      return undefined;
    }
    if (v.kind !== 'object') {
      this.bad(v, `"${key}" is a JSON ${v.kind}, not an object${consequence}`);
      return undefined;
    }
    return v;
  }

  string(parent: Obj, key: string, where: string, required = true, pattern?: RegExp, patternName?: string): string | undefined {
    const v = prop(parent, key);
    if (!v) {
      if (required) this.missing(where, key, parent.range);
      return undefined;
    }
    if (v.kind !== 'string') {
      this.bad(v, `"${key}" is a JSON ${v.kind}, not a string`);
      return undefined;
    }
    if (pattern && !pattern.test(v.value)) this.bad(v, `"${key}" is "${v.value}", not ${patternName}`);
    return v.value;
  }

  /** A session count: an integer from 0 to 2^53 - 1, else undefined (with a finding). */
  count(parent: Obj, key: string, where: string, consequence = ''): number | undefined {
    const v = prop(parent, key);
    if (!v) {
      this.missing(where, key, parent.range, consequence);
      return undefined;
    }
    if (v.kind !== 'number' || !Number.isSafeInteger(v.value) || v.value < 0) {
      this.bad(v, `"${key}" is not a whole number of sessions from 0 to 2^53 - 1${consequence}`);
      return undefined;
    }
    return v.value;
  }

  strings(parent: Obj, key: string, where: string, required: boolean): string[] {
    const v = prop(parent, key);
    if (!v) {
      if (required) this.missing(where, key, parent.range);
      return [];
    }
    // RFC 8460 §4.4 shows mx-host as a list; some senders send one string, which is read as a list of one.
    if (v.kind === 'string') return [v.value];
    if (v.kind !== 'array') {
      this.bad(v, `"${key}" is a JSON ${v.kind}, not a list of strings`);
      return [];
    }
    const out: string[] = [];
    for (const item of v.items) {
      if (item.kind === 'string') out.push(item.value);
      else this.bad(item, `an item of "${key}" is a JSON ${item.kind}, not a string`);
    }
    return out;
  }

  /**
   * A name that appears twice in one object: RFC 8259 §4 says the names of an object should be
   * unique and that receivers then differ (some read the last value); this reader reads the first.
   */
  duplicates(o: Obj, where: string): void {
    const seen = new Set<string>();
    for (const p of o.properties) {
      if (seen.has(p.key)) {
        this.problems.push(finding('tlsrpt-duplicate-key', `"${p.key}" appears more than once in ${where}; receivers may read either value (the first is read here)`, p.keyRange.start, p.keyRange.end));
      }
      seen.add(p.key);
    }
  }

  unknown(o: Obj, known: readonly string[], where: string): void {
    this.duplicates(o, where);
    for (const p of o.properties) {
      if (!known.includes(p.key)) this.problems.push(finding('tlsrpt-unknown', `"${p.key}" is not a field of ${where} in RFC 8460 §4.4`, p.keyRange.start, p.keyRange.end));
    }
  }
}

export interface TlsRptOptions {
  /** The policy domain the file name claims (RFC 8460 §5.1: `sender!policy-domain!begin!end[!id].json[.gz]`) or the mail's Subject (§5.3). */
  claimedDomain?: string;
  /** Where the claim came from, for the message ("file name", "subject"; default "file name"). */
  claimSource?: string;
}

/** RFC 8460 §4.4: the members of a report's top-level object. */
const TOP_LEVEL = ['organization-name', 'date-range', 'contact-info', 'report-id', 'policies'] as const;

/**
 * Whether JSON is a TLS-RPT report, decided before it is read as one, so that unrelated JSON
 * (`{"name": "my-package"}`) is `report-unknown-format` rather than a report with five missing
 * fields, while a real but damaged report still gets its precise `tlsrpt-*` findings. The one
 * decision for `smtpwb report`, the report view and the language server (validate.ts).
 *
 * RFC 8460 §4.4 makes a report an object with `organization-name`, `date-range`, `contact-info`,
 * `report-id` and `policies`. It is taken for one when any of these holds:
 * - it has `report-id` or `date-range`: hyphenated names only a report of this shape uses;
 * - it has two of the five members (`organization-name` and `contact-info`, say);
 * - its `policies` is a list holding an object with `policy` or `summary` (§4.4's policy items),
 *   which alone is the report's content without its metadata;
 * - its file name (§5.1: `sender!policy-domain!begin!end[!id].json[.gz]`) or its mail's subject
 *   (§5.3: `Report Domain:`) says it is a report (`claimed`).
 * A `policies` member alone, or `organization-name` alone, is common in other JSON and is not enough.
 * Text that is not JSON at all (a truncated report) is judged by the member names it has, in the
 * same way. Anything else, a JSON array or a bare value included, is not a TLS-RPT report.
 */
export function isTlsRptShaped(text: string, root: JsonNode | undefined, claimed = false): boolean {
  if (claimed) return true;
  let names: Set<string>;
  if (root === undefined) {
    // Unparseable: the member names written anywhere in it, as `"name":`.
    names = new Set([...text.matchAll(/"(organization-name|date-range|contact-info|report-id|policies)"\s*:/g)].map((m) => m[1]));
  } else if (root.kind === 'object') {
    names = new Set(root.properties.map((p) => p.key).filter((k) => (TOP_LEVEL as readonly string[]).includes(k)));
    const policies = prop(root, 'policies');
    if (policies?.kind === 'array' && policies.items.some((i) => i.kind === 'object' && i.properties.some((p) => p.key === 'policy' || p.key === 'summary'))) return true;
  } else return false;
  return names.has('report-id') || names.has('date-range') || names.size >= 2;
}

/** Parses a TLS-RPT report's JSON text. Never throws. */
export function parseTlsRptJson(text: string, options: TlsRptOptions = {}): TlsRptParse {
  const parsed = parseJsonTree(text);
  const r = new Reader();
  if (!isTlsRptShaped(text, parsed.root, options.claimedDomain !== undefined)) {
    const without = 'without "report-id", "date-range" or policy items in "policies", and with fewer than two of the five members a report has';
    const what =
      parsed.root === undefined ? `text that does not parse as JSON, ${without}` : parsed.root.kind === 'object' ? `a JSON object ${without}` : `a JSON ${parsed.root.kind}, not the object a report is`;
    const start = parsed.root?.range.start ?? 0;
    return { report: undefined, problems: [finding('report-unknown-format', `not a TLS-RPT report (RFC 8460 §4.4): ${what}`, start, Math.min(text.length, start + 1))] };
  }
  if (parsed.error) r.problems.push(finding('tlsrpt-json-syntax', parsed.error.message, parsed.error.range.start, parsed.error.range.end));
  const root = parsed.root;
  if (!root) return { report: undefined, problems: r.problems };
  if (root.kind !== 'object') {
    r.bad(root, 'a TLS-RPT report is a JSON object (RFC 8460 §4.4)');
    return { report: undefined, problems: r.problems };
  }
  r.unknown(root, ['organization-name', 'date-range', 'contact-info', 'report-id', 'policies'], 'the report');
  const dates = r.object(root, 'date-range', 'the report');
  if (dates) r.duplicates(dates, '"date-range"');
  const report: TlsRptReport = {
    kind: 'tls-rpt',
    organizationName: r.string(root, 'organization-name', 'the report') ?? '',
    contactInfo: r.string(root, 'contact-info', 'the report') ?? '',
    reportId: r.string(root, 'report-id', 'the report') ?? '',
    startDatetime: (dates && r.string(dates, 'start-datetime', '"date-range"', true, RFC3339, 'an RFC 3339 date-time')) ?? '',
    endDatetime: (dates && r.string(dates, 'end-datetime', '"date-range"', true, RFC3339, 'an RFC 3339 date-time')) ?? '',
    policies: [],
  };
  // RFC 8460 §4.4: the report covers start-datetime to end-datetime, so the start cannot be later.
  const startMs = Date.parse(report.startDatetime);
  const endMs = Date.parse(report.endDatetime);
  if (dates && RFC3339.test(report.startDatetime) && RFC3339.test(report.endDatetime) && Number.isFinite(startMs) && Number.isFinite(endMs) && startMs > endMs) {
    r.problems.push(finding('tlsrpt-date-range', `the date range begins (${report.startDatetime}) after it ends (${report.endDatetime})`, dates.range.start, dates.range.end));
  }
  const policies = prop(root, 'policies');
  // The policy domains as the report writes them, with their places, for the claim check below.
  const policyDomains: Array<{ text: string; node: JsonNode }> = [];
  if (!policies) r.missing('the report', 'policies', root.range);
  else if (policies.kind !== 'array') r.bad(policies, '"policies" is not a list');
  else {
    for (const item of policies.items) {
      if (item.kind !== 'object') {
        r.bad(item, 'an item of "policies" is not an object');
        continue;
      }
      r.unknown(item, ['policy', 'summary', 'failure-details'], 'a policy item');
      const pol = r.object(item, 'policy', 'a policy item');
      const leftOut = '; the policy is left out of the totals';
      const sum = r.object(item, 'summary', 'a policy item', true, leftOut);
      const policy: TlsRptPolicy = { policyType: '', policyDomain: '', policyString: [], mxHost: [], successful: 0, failed: 0, failures: [], countsUsable: false, range: { ...item.range } };
      if (pol) {
        r.unknown(pol, ['policy-type', 'policy-string', 'policy-domain', 'mx-host'], '"policy"');
        const typeNode = prop(pol, 'policy-type');
        policy.policyType = r.string(pol, 'policy-type', '"policy"') ?? '';
        if (typeNode?.kind === 'string' && !(TLSRPT_POLICY_TYPES as readonly string[]).includes(policy.policyType)) {
          r.bad(typeNode, `"policy-type" is "${policy.policyType}"; RFC 8460 §4.4 allows ${TLSRPT_POLICY_TYPES.join(', ')}`);
        }
        policy.policyDomain = r.string(pol, 'policy-domain', '"policy"') ?? '';
        policy.policyString = r.strings(pol, 'policy-string', '"policy"', false);
        policy.mxHost = r.strings(pol, 'mx-host', '"policy"', false);
        const domainNode = prop(pol, 'policy-domain');
        if (domainNode?.kind === 'string' && policy.policyDomain !== '') policyDomains.push({ text: policy.policyDomain, node: domainNode });
      }
      if (sum) {
        r.unknown(sum, ['total-successful-session-count', 'total-failure-session-count'], '"summary"');
        const successful = r.count(sum, 'total-successful-session-count', '"summary"', leftOut);
        const failed = r.count(sum, 'total-failure-session-count', '"summary"', leftOut);
        policy.successful = successful ?? 0;
        policy.failed = failed ?? 0;
        policy.countsUsable = successful !== undefined && failed !== undefined;
      }
      const details = prop(item, 'failure-details');
      if (details && details.kind !== 'array') r.bad(details, '"failure-details" is not a list');
      else if (details) {
        for (const d of details.items) {
          if (d.kind !== 'object') {
            r.bad(d, 'an item of "failure-details" is not an object');
            continue;
          }
          r.unknown(
            d,
            ['result-type', 'sending-mta-ip', 'receiving-mx-hostname', 'receiving-mx-helo', 'receiving-ip', 'failed-session-count', 'additional-information', 'failure-reason-code'],
            'a failure detail',
          );
          const rtNode = prop(d, 'result-type');
          const failure: TlsRptFailure = { resultType: r.string(d, 'result-type', 'a failure detail') ?? '', failedSessionCount: r.count(d, 'failed-session-count', 'a failure detail', '; it counts as 0 sessions') ?? 0 };
          // RFC 8460 §4.3 lists the types; §4.3 also says new types are registered, so an unknown
          // one is reported and still counted.
          if (rtNode?.kind === 'string' && !(TLSRPT_RESULT_TYPES as readonly string[]).includes(failure.resultType)) {
            r.problems.push(finding('tlsrpt-value', `"result-type" is "${failure.resultType}", not a type RFC 8460 §4.3 defines`, rtNode.range.start, rtNode.range.end, 'warning'));
          }
          const optional: Array<[keyof TlsRptFailure, string]> = [
            ['sendingMtaIp', 'sending-mta-ip'],
            ['receivingMxHostname', 'receiving-mx-hostname'],
            ['receivingMxHelo', 'receiving-mx-helo'],
            ['receivingIp', 'receiving-ip'],
            ['additionalInformation', 'additional-information'],
            ['failureReasonCode', 'failure-reason-code'],
          ];
          for (const [field, key] of optional) {
            const v = r.string(d, key, 'a failure detail', false);
            if (v !== undefined) (failure as unknown as Record<string, string>)[field] = v;
          }
          policy.failures.push(failure);
        }
        // RFC 8460 §4.4: each failed-session-count counts sessions that are part of the policy's
        // total-failure-session-count, so together they cannot be more than it.
        const total = sum ? prop(sum, 'total-failure-session-count') : undefined;
        const detailed = policy.failures.reduce((n, f) => n + f.failedSessionCount, 0);
        if (total?.kind === 'number' && Number.isSafeInteger(total.value) && total.value >= 0 && detailed > policy.failed) {
          r.problems.push(
            finding('tlsrpt-failure-count', `the failure details count ${detailed} failed sessions, more than the ${policy.failed} of "total-failure-session-count"`, total.range.start, total.range.end),
          );
        }
      }
      report.policies.push(policy);
    }
  }
  claimCheck(r.problems, policyDomains, options);
  return { report, problems: r.problems };
}

/** At most this many policy domains are named in a `tlsrpt-domain-mismatch` message. */
const CLAIM_NAMES_SHOWN = 5;

/**
 * The claim check: one report covers every policy domain the sending MTA met in the period (RFC
 * 8460 §4.4: "policies" holds one item per policy applied), while the file name (§5.1) or the
 * Subject (§5.3) names one of them. So a report lies about its domain only when none of its policy
 * domains is the claimed one (compared in the normal form: lower case, no final dot, A-labels;
 * normalForm.ts). The finding is on the first policy domain and names them all (the first few).
 */
function claimCheck(problems: Problem[], domains: Array<{ text: string; node: JsonNode }>, options: TlsRptOptions): void {
  const claimed = options.claimedDomain;
  if (!claimed || domains.length === 0) return;
  const key = normalDomain(claimed);
  if (domains.some((d) => normalDomain(d.text) === key)) return;
  const names = [...new Set(domains.map((d) => d.text))];
  const shown = names.slice(0, CLAIM_NAMES_SHOWN).map((n) => `"${n}"`);
  const more = names.length > shown.length ? ` and ${names.length - shown.length} more` : '';
  const source = options.claimSource ?? 'file name';
  const message =
    domains.length === 1
      ? `the policy is for ${shown[0]} but the ${source} says "${claimed}"`
      : `the ${source} says "${claimed}", but none of the report's ${domains.length} policies is for it: they are for ${shown.join(', ')}${more}`;
  const first = domains[0].node.range;
  problems.push(finding('tlsrpt-domain-mismatch', message, first.start, first.end));
}
