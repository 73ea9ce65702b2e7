/**
 * DMARC aggregate reports: the RFC 9990 format (namespace `urn:ietf:params:xml:ns:dmarc-2.0`) and
 * the RFC 7489 Appendix C format that older senders still use. The document is scanned by the safe
 * scanner (xmlScanner.ts), checked against a table transcribed from each standard's XML schema
 * (the XSDs themselves are in test/reports/schemas/ and the fixtures are checked with xmllint), and
 * read into a model. Never throws; every problem has an offset range into the text.
 */
import { isIP } from 'node:net';
import type { Problem } from '../../../common/problem';
import { child, childText, children, sameNamespace, scanXml, type XmlElement } from './xmlScanner';
import { normalDomain } from './normalForm';
import { finding } from './reportProblems';
import { decodeEncodedWords } from './attachmentName';
import { utf8FieldValue } from '../../../common/mailText';

export const DMARC2_NAMESPACE = 'urn:ietf:params:xml:ns:dmarc-2.0';

export type AggregateFormat = 'rfc9990' | 'rfc7489';

export interface PublishedPolicy {
  domain: string;
  p?: string;
  sp?: string;
  np?: string;
  adkim?: string;
  aspf?: string;
  /** RFC 7489 only (removed by RFC 9989). */
  pct?: number;
  fo?: string;
  /** RFC 9990: y when the policy was in test mode (t=y). */
  testing?: string;
  /** RFC 9990: psl or treewalk. */
  discoveryMethod?: string;
}

export interface AuthResult {
  domain: string;
  selector?: string;
  scope?: string;
  result: string;
}

export interface AggregateRecord {
  sourceIp: string;
  count: number;
  disposition: string;
  /** The DMARC-aligned DKIM result (policy_evaluated/dkim): pass or fail. */
  dkim: string;
  /** The DMARC-aligned SPF result (policy_evaluated/spf): pass or fail. */
  spf: string;
  reasons: Array<{ type: string; comment?: string }>;
  headerFrom: string;
  envelopeFrom?: string;
  envelopeTo?: string;
  dkimResults: AuthResult[];
  spfResults: AuthResult[];
  /** The offsets of the <record> element. */
  range: { start: number; end: number };
}

export interface AggregateReport {
  kind: 'dmarc-aggregate';
  format: AggregateFormat;
  orgName: string;
  email: string;
  reportId: string;
  /** Seconds since the epoch, UTC (RFC 9990 date_range). */
  begin?: number;
  end?: number;
  errors: string[];
  policy: PublishedPolicy;
  records: AggregateRecord[];
  /**
   * The <record> elements left out of `records`, so out of every total: a missing or unusable
   * <count> (a dmarc-agg-value finding says why), or a record a truncated file cuts through.
   */
  recordsLeftOut: number;
}

export interface AggregateParse {
  report: AggregateReport | undefined;
  problems: Problem[];
}

// ---------------------------------------------------------------------------------------------
// The schemas as tables. `min` 0 is optional, `max` Infinity unbounded; a type is a keyword list,
// 'integer', 'decimal', 'ip', 'count' (a message count: an integer from 0 to 2^53 - 1) or 'string'. Transcribed from RFC 9990 Appendix A and RFC 7489
// Appendix C (the XSDs under test/reports/schemas/ are the same schemas for xmllint).

type ValueType = 'string' | 'integer' | 'decimal' | 'ip' | 'count' | readonly string[];
interface ElementSpec {
  min: 0 | 1;
  max: number;
  type?: ValueType;
  children?: Record<string, ElementSpec>;
  /** Content not checked (extensions). */
  any?: boolean;
}

const one = (type: ValueType = 'string'): ElementSpec => ({ min: 1, max: 1, type });
const opt = (type: ValueType = 'string'): ElementSpec => ({ min: 0, max: 1, type });
const group = (min: 0 | 1, max: number, kids: Record<string, ElementSpec>): ElementSpec => ({ min, max, children: kids });

const DISPOSITION = ['none', 'quarantine', 'reject'] as const;
const ALIGNMENT = ['r', 's'] as const;
const DMARC_RESULT = ['pass', 'fail'] as const;
const DKIM_RESULT = ['none', 'pass', 'fail', 'policy', 'neutral', 'temperror', 'permerror'] as const;
const SPF_RESULT = ['none', 'neutral', 'pass', 'fail', 'softfail', 'temperror', 'permerror'] as const;

const DATE_RANGE = group(1, 1, { begin: one('integer'), end: one('integer') });

/** report_metadata's children in RFC 7489; RFC 9990 adds generator. */
const METADATA_7489: Record<string, ElementSpec> = {
  org_name: one(),
  email: one(),
  extra_contact_info: opt(),
  report_id: one(),
  date_range: DATE_RANGE,
  error: { min: 0, max: Infinity, type: 'string' },
};

/** RFC 9990 Appendix A. */
const FEEDBACK_9990: Record<string, ElementSpec> = {
  version: opt('decimal'),
  report_metadata: group(1, 1, { ...METADATA_7489, generator: opt() }),
  policy_published: group(1, 1, {
    domain: one(),
    discovery_method: opt(['psl', 'treewalk']),
    adkim: opt(ALIGNMENT),
    aspf: opt(ALIGNMENT),
    p: one(DISPOSITION),
    sp: opt(DISPOSITION),
    np: opt(DISPOSITION),
    testing: opt(['n', 'y']),
    fo: opt(),
  }),
  extension: { min: 0, max: 1, any: true },
  record: group(1, Infinity, {
    row: group(1, 1, {
      source_ip: one('ip'),
      count: one('count'),
      policy_evaluated: group(1, 1, {
        disposition: one(['none', 'pass', 'quarantine', 'reject']),
        dkim: one(DMARC_RESULT),
        spf: one(DMARC_RESULT),
        reason: group(0, Infinity, { type: one(['local_policy', 'mailing_list', 'other', 'policy_test_mode', 'trusted_forwarder']), comment: opt() }),
      }),
    }),
    identifiers: group(1, 1, { envelope_to: opt(), envelope_from: opt(), header_from: one() }),
    auth_results: group(1, 1, {
      dkim: group(0, Infinity, { domain: one(), selector: one(), result: one(DKIM_RESULT), human_result: opt() }),
      spf: group(1, Infinity, { domain: one(), scope: opt(['mfrom']), result: one(SPF_RESULT), human_result: opt() }),
    }),
  }),
};

/** RFC 7489 Appendix C. */
const FEEDBACK_7489: Record<string, ElementSpec> = {
  version: opt('decimal'),
  report_metadata: group(1, 1, METADATA_7489),
  policy_published: group(1, 1, {
    domain: one(),
    adkim: opt(ALIGNMENT),
    aspf: opt(ALIGNMENT),
    p: one(DISPOSITION),
    sp: one(DISPOSITION),
    pct: one('integer'),
    // RFC 7489's schema requires fo; many senders omit it, so its absence is read as fo=0 (see below).
    fo: opt(),
  }),
  record: group(1, Infinity, {
    row: group(1, 1, {
      source_ip: one('ip'),
      count: one('count'),
      policy_evaluated: group(1, 1, {
        disposition: one(DISPOSITION),
        dkim: one(DMARC_RESULT),
        spf: one(DMARC_RESULT),
        reason: group(0, Infinity, { type: one(['forwarded', 'sampled_out', 'trusted_forwarder', 'mailing_list', 'local_policy', 'other']), comment: opt() }),
      }),
    }),
    // RFC 7489's schema requires envelope_from; most senders omit it, so it is read as optional.
    identifiers: group(1, 1, { envelope_to: opt(), envelope_from: opt(), header_from: one() }),
    auth_results: group(1, 1, {
      dkim: group(0, Infinity, { domain: one(), selector: opt(), result: one(DKIM_RESULT), human_result: opt() }),
      spf: group(1, Infinity, { domain: one(), scope: opt(['helo', 'mfrom']), result: one(SPF_RESULT), human_result: opt() }),
    }),
  }),
};

function checkValue(e: XmlElement, name: string, type: ValueType, problems: Problem[]): void {
  if (type === 'string') return;
  const value = e.text.trim();
  let wrong: string | undefined;
  if (typeof type !== 'string') {
    if (!type.includes(value)) wrong = `the schema allows ${type.join(', ')}`;
  } else if (type === 'integer') {
    if (!INTEGER_RE.test(value)) wrong = 'not an integer';
  } else if (type === 'count') {
    // The schemas say xs:integer, but <count> is a number of messages (RFC 9990 §2.1, Appendix A):
    // a negative one is impossible, and one past 2^53 - 1 cannot be added up exactly. Such a record
    // is left out of every total rather than counted as some other number.
    if (!INTEGER_RE.test(value)) wrong = 'not an integer; the record is left out of the totals';
    else if (readCount(value) === undefined) wrong = `${value.startsWith('-') ? 'a negative number of messages' : 'too large to count exactly (over 9007199254740991)'}; the record is left out of the totals`;
  } else if (type === 'decimal') {
    if (!DECIMAL_RE.test(value)) wrong = 'not a decimal number';
  } else if (type === 'ip' && isIP(value) === 0) wrong = 'not an IPv4 or IPv6 address';
  if (wrong !== undefined) problems.push(finding('dmarc-agg-value', `<${name}> is "${value}"${wrong.startsWith('the') ? '; ' : ', '}${wrong}`, e.contentStart, e.contentEnd));
}

const INTEGER_RE = /^[+-]?\d+$/;
const DECIMAL_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** The name of an element as written, for messages: its prefix and local name. */
function written(e: XmlElement): string {
  return e.prefix === undefined ? e.name : `${e.prefix}:${e.name}`;
}

/**
 * Checks an element of another namespace than the report's (a child `c` of `e`): it is never read
 * into the model. RFC 9990 Appendix A allows such elements (xs:any namespace="##other") only at the
 * end of a <record>, after its own elements, and inside <extension> (whose content is not checked);
 * RFC 7489's schema has no place for them. Anywhere else it is a finding.
 */
function checkForeign(e: XmlElement, c: XmlElement, afterOwn: boolean, problems: Problem[], format: AggregateFormat): void {
  if (format === 'rfc9990' && e.name === 'record' && afterOwn) return;
  const where =
    c.ns === undefined
      ? 'an undeclared namespace prefix'
      : c.ns === ''
        ? 'no namespace'
        : `the namespace "${c.ns.length > 200 ? `${c.ns.slice(0, 200)}…` : c.ns}"`;
  const rule =
    format === 'rfc9990'
      ? 'RFC 9990 allows elements of other namespaces only at the end of a <record> and inside <extension>'
      : 'the RFC 7489 schema has no place for elements of other namespaces';
  problems.push(finding('dmarc-agg-unknown', `<${written(c)}> (in ${where}) is out of place in <${written(e)}>: ${rule}; it is not read`, c.start, c.contentStart));
}

function checkElement(e: XmlElement, spec: Record<string, ElementSpec>, problems: Problem[], format: AggregateFormat): void {
  const counts = new Map<string, number>();
  // The index of the last child in the element's own namespace, found when a foreign one is met.
  let lastOwn = -2;
  for (let index = 0; index < e.children.length; index++) {
    const c = e.children[index];
    // The report's own elements are in its root's namespace (the parent's, as checkElement only
    // descends into those); any other element is an extension or out of place, never read.
    if (!sameNamespace(c, e)) {
      if (lastOwn === -2) {
        lastOwn = -1;
        for (let i = e.children.length - 1; i >= 0; i--) {
          if (sameNamespace(e.children[i], e)) {
            lastOwn = i;
            break;
          }
        }
      }
      checkForeign(e, c, index > lastOwn, problems, format);
      continue;
    }
    const s = spec[c.name];
    if (!s) {
      problems.push(finding('dmarc-agg-unknown', `<${c.name}> is not an element of <${e.name}> in the ${format === 'rfc9990' ? 'RFC 9990' : 'RFC 7489'} schema`, c.start, c.contentStart));
      continue;
    }
    const n = (counts.get(c.name) ?? 0) + 1;
    counts.set(c.name, n);
    if (n > s.max) problems.push(finding('dmarc-agg-repeated', `<${c.name}> appears more than once in <${e.name}>`, c.start, c.contentStart));
    if (s.any) continue;
    if (s.children) checkElement(c, s.children, problems, format);
    else if (s.type) checkValue(c, c.name, s.type, problems);
  }
  // An element the end of a truncated file cuts through misses children because of the cut, which
  // report-xml-truncated already says.
  if (e.cut) return;
  for (const name of requiredOf(spec)) {
    if (!counts.has(name)) problems.push(finding('dmarc-agg-missing', `<${e.name}> has no <${name}>`, e.start, e.contentStart));
  }
}

const REQUIRED = new WeakMap<Record<string, ElementSpec>, string[]>();

/** The required children of a spec, computed once per table. */
function requiredOf(spec: Record<string, ElementSpec>): string[] {
  let list = REQUIRED.get(spec);
  if (!list) {
    list = Object.entries(spec)
      .filter(([, s]) => s.min === 1)
      .map(([name]) => name);
    REQUIRED.set(spec, list);
  }
  return list;
}

/** A message count (RFC 9990 <count>): an integer from 0 to 2^53 - 1, else undefined. */
function readCount(text: string | undefined): number | undefined {
  const n = int(text);
  return n === undefined || n < 0 ? undefined : Math.abs(n);
}

function int(text: string | undefined): number | undefined {
  if (text === undefined || !/^[+-]?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Whether `name` is `domain` or one of its subdomains (case-insensitive, trailing dots ignored). */
export function withinDomain(name: string, domain: string): boolean {
  const a = normalDomain(name);
  const b = normalDomain(domain);
  return b !== '' && (a === b || a.endsWith('.' + b));
}

export interface AggregateOptions {
  /** The policy domain the file name or the mail's subject claims (RFC 7489 §7.2.1.1 naming). */
  claimedDomain?: string;
  /** Where the claim came from, for the message ("file name", "subject"). */
  claimSource?: string;
}

/** Parses an aggregate report's XML text. Never throws. */
export function parseAggregateXml(text: string, options: AggregateOptions = {}): AggregateParse {
  const scan = scanXml(text);
  const problems = scan.problems;
  const root = scan.root;
  // A truncated document is not aborted: what was read before the cut is kept (docs/reports.md).
  if (!root || scan.aborted) return { report: undefined, problems };
  if (root.name !== 'feedback') {
    problems.push(finding('dmarc-agg-root', `the root element is <${root.name}>, not <feedback>`, root.start, root.contentStart));
    return { report: undefined, problems };
  }
  // The root's namespace decides the format, whatever prefix (or none) binds it (RFC 9990 Appendix A:
  // targetNamespace urn:ietf:params:xml:ns:dmarc-2.0); a report without it is read as RFC 7489's.
  const format: AggregateFormat = root.ns === DMARC2_NAMESPACE ? 'rfc9990' : 'rfc7489';
  if (format === 'rfc7489') problems.push(finding('dmarc-agg-7489', 'an RFC 7489 report (no dmarc-2.0 namespace): read with the RFC 7489 Appendix C schema', root.start, root.contentStart));
  checkElement(root, format === 'rfc9990' ? FEEDBACK_9990 : FEEDBACK_7489, problems, format);

  const meta = child(root, 'report_metadata');
  const range = child(meta, 'date_range');
  const pp = child(root, 'policy_published');
  // Only the tags the report gives are set (no undefined keys: the JSON output stays as sent).
  const policy: PublishedPolicy = { domain: childText(pp, 'domain') ?? '' };
  for (const [key, element] of [
    ['p', 'p'],
    ['sp', 'sp'],
    ['np', 'np'],
    ['adkim', 'adkim'],
    ['aspf', 'aspf'],
    ['fo', 'fo'],
    ['testing', 'testing'],
    ['discoveryMethod', 'discovery_method'],
  ] as const) {
    const v = childText(pp, element);
    if (v !== undefined) policy[key] = v;
  }
  const pct = int(childText(pp, 'pct'));
  if (pct !== undefined) policy.pct = pct;
  const report: AggregateReport = {
    kind: 'dmarc-aggregate',
    format,
    orgName: childText(meta, 'org_name') ?? '',
    email: childText(meta, 'email') ?? '',
    reportId: childText(meta, 'report_id') ?? '',
    begin: int(childText(range, 'begin')),
    end: int(childText(range, 'end')),
    errors: children(meta, 'error').map((e) => e.text.trim()),
    policy,
    records: [],
    recordsLeftOut: 0,
  };
  if (report.begin !== undefined && report.end !== undefined && report.begin > report.end && range) {
    problems.push(finding('dmarc-agg-date-range', `the date range begins (${report.begin}) after it ends (${report.end})`, range.start, range.end));
  }
  const domainEl = child(pp, 'domain');
  if (options.claimedDomain && policy.domain !== '' && normalDomain(policy.domain) !== normalDomain(options.claimedDomain) && domainEl) {
    problems.push(
      finding(
        'dmarc-agg-domain-mismatch',
        `the report is about "${policy.domain}" but its ${options.claimSource ?? 'file name'} says "${options.claimedDomain}"`,
        domainEl.contentStart,
        domainEl.contentEnd,
      ),
    );
  }
  let foreign = 0;
  for (const rec of children(root, 'record')) {
    // A record the end of a truncated file cuts through is not summarised; report-xml-truncated says so.
    if (rec.cut) {
      report.recordsLeftOut++;
      continue;
    }
    const row = child(rec, 'row');
    // A record without a usable <count> (missing, negative, too large, not an integer) is left out
    // of the model, so no total counts it as some invented number; checkElement reported why.
    const count = readCount(childText(row, 'count'));
    if (count === undefined) {
      report.recordsLeftOut++;
      continue;
    }
    const pe = child(row, 'policy_evaluated');
    const ids = child(rec, 'identifiers');
    const auth = child(rec, 'auth_results');
    const record: AggregateRecord = {
      sourceIp: childText(row, 'source_ip') ?? '',
      count,
      disposition: childText(pe, 'disposition') ?? '',
      dkim: childText(pe, 'dkim') ?? '',
      spf: childText(pe, 'spf') ?? '',
      reasons: children(pe, 'reason').map((r) => {
        const comment = childText(r, 'comment');
        return comment === undefined ? { type: childText(r, 'type') ?? '' } : { type: childText(r, 'type') ?? '', comment };
      }),
      headerFrom: childText(ids, 'header_from') ?? '',
      dkimResults: children(auth, 'dkim').map((d) => authResult(d)),
      spfResults: children(auth, 'spf').map((d) => authResult(d)),
      range: { start: rec.start, end: rec.end },
    };
    const envelopeFrom = childText(ids, 'envelope_from');
    if (envelopeFrom !== undefined) record.envelopeFrom = envelopeFrom;
    const envelopeTo = childText(ids, 'envelope_to');
    if (envelopeTo !== undefined) record.envelopeTo = envelopeTo;
    report.records.push(record);
    const hf = child(ids, 'header_from');
    if (hf && policy.domain !== '' && record.headerFrom !== '' && !withinDomain(record.headerFrom, policy.domain)) {
      // Reported once per report with a count, then per record up to a small number, to keep
      // a hostile report from flooding the problem list.
      if (foreign++ < 20) {
        problems.push(finding('dmarc-agg-foreign-record', `a record for "${record.headerFrom}" in a report about "${policy.domain}"`, hf.contentStart, hf.contentEnd));
      }
    }
    // policy_evaluated dkim=pass needs a passing DKIM result; SPF likewise (RFC 9990 describes
    // policy_evaluated as the DMARC evaluation of the auth results that follow).
    if (record.dkim === 'pass' && record.dkimResults.length > 0 && !record.dkimResults.some((d) => d.result === 'pass') && pe) {
      problems.push(finding('dmarc-agg-inconsistent', 'policy_evaluated says DKIM passed, but no DKIM result in auth_results passed', pe.start, pe.contentStart));
    }
    if (record.spf === 'pass' && record.spfResults.length > 0 && !record.spfResults.some((d) => d.result === 'pass') && pe) {
      problems.push(finding('dmarc-agg-inconsistent', 'policy_evaluated says SPF passed, but no SPF result in auth_results passed', pe.start, pe.contentStart));
    }
  }
  if (foreign > 20) {
    problems.push(finding('dmarc-agg-foreign-record', `${foreign} records in all are for domains other than "${policy.domain}"`, root.start, root.contentStart));
  }
  return { report, problems };
}

function authResult(e: XmlElement): AuthResult {
  const r: AuthResult = { domain: childText(e, 'domain') ?? '', result: childText(e, 'result') ?? '' };
  const selector = childText(e, 'selector');
  if (selector !== undefined) r.selector = selector;
  const scope = childText(e, 'scope');
  if (scope !== undefined) r.scope = scope;
  return r;
}

/**
 * Reads the policy domain a report's file name claims: RFC 7489 §7.2.1.1 (kept by RFC 9990)
 * names files `receiver "!" policy-domain "!" begin "!" end [ "!" unique-id ] "." ext`. The domain
 * may be written with U-labels (`receiver!bücher.example!…`): letters, digits and marks of any
 * script are read, and the comparison converts them to A-labels (normalForm.ts `normalDomain`).
 */
export function domainFromReportFileName(name: string): string | undefined {
  const base = name.replace(/^.*[\\/]/, '');
  const parts = base.split('!');
  if (parts.length < 4) return undefined;
  const domain = parts[1];
  return /^[\p{L}\p{M}\p{N}._-]+$/u.test(domain) ? domain : undefined;
}

/** A header value as text (RFC 6532): the one rule lives in common/mailText.ts. */
export const utf8FieldText: (latin1: string) => string = utf8FieldValue;

/**
 * Reads the policy domain an aggregate report mail's subject claims ("Report Domain: X Submitter:
 * ...", RFC 7489 §7.2.1.1; RFC 8460 §5.3 for TLS-RPT). `subject` is the field value as the message
 * parser reads it, one latin1 character per octet: it is read as UTF-8 when it is UTF-8
 * (`utf8FieldText`), and its RFC 2047 encoded words are decoded after that.
 */
export function domainFromReportSubject(subject: string): string | undefined {
  const text = utf8FieldText(subject);
  // RFC 2047 encoded words are decoded next: a Subject may carry the claim encoded.
  const m = /Report\s+Domain:\s*([^\s]+)/i.exec(decodeEncodedWords(text));
  return m ? m[1].replace(/[.;,]$/, '') : undefined;
}
