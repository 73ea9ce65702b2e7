/**
 * The summary model of one or many reports, shared by the CLI (`smtpwb report`), the report view
 * and the benchmark: DMARC volumes by disposition, DKIM and SPF alignment per source IP, the top
 * failing sources, the policies published over the period; TLS-RPT failure types per policy and
 * MX; the failure reports; and every finding with its link. Values are kept exact (JSON-safe);
 * escaping for display happens in the renderers. Pure: the reverse DNS of the sources is looked
 * up elsewhere and joined in (reports/fcrdns.ts `addReverseDns`, which takes a resolver).
 */
import type { Problem, Severity } from '../../../common/problem';
import { LineIndex } from '../../../server/src/eml/lines';
import type { AggregateReport, PublishedPolicy } from '../../../server/src/reports/aggregate';
import type { FailureReport } from '../../../server/src/reports/failure';
import type { OpenedReport, ParsedReport } from '../../../server/src/reports/open';
import { normalDomain, normalIp } from '../../../server/src/reports/normalForm';
import { finding, reportProblemLink } from '../../../server/src/reports/reportProblems';
import type { TlsRptReport } from '../../../server/src/reports/tlsRpt';
import type { DnsFailure } from '../dns/resolver';
import type { ReverseDnsLeftOut, ReverseDnsResult, ReverseDnsStatus } from './fcrdns';

export interface Counts {
  messages: number;
  /** DMARC pass: aligned DKIM or aligned SPF passed (policy_evaluated). */
  dmarcPass: number;
  dkimAligned: number;
  spfAligned: number;
}

export interface SourceSummary extends Counts {
  sourceIp: string;
  /** Messages that failed DMARC. */
  failing: number;
  byDisposition: Record<string, number>;
  headerFrom: string[];
  dkimDomains: string[];
  spfDomains: string[];
  /** The source IP's PTR names and whether one is forward-confirmed; absent when not looked up. */
  reverseDns?: ReverseDnsResult;
}

/** What the reverse DNS lookups of the sources gave, in all; absent when none was made (`--no-dns`). */
export interface ReverseDnsOverview {
  /** Sources looked up, and sources left out (past the lookup limit, or stopped), with why. */
  lookedUp: number;
  leftOut: number;
  leftOutBecause?: ReverseDnsLeftOut;
  byStatus: Partial<Record<ReverseDnsStatus, number>>;
  /** Failed lookups by their failure class (TIMEOUT, SERVFAIL, ...). */
  failures: Partial<Record<DnsFailure, number>>;
}

export interface PolicyPeriod {
  domain: string;
  policy: PublishedPolicy;
  /** Seconds since the epoch, the earliest begin and the latest end of reports that saw it. */
  begin?: number;
  end?: number;
  reports: number;
}

export interface DomainSummary extends Counts {
  domain: string;
  reports: number;
  byDisposition: Record<string, number>;
  policies: PolicyPeriod[];
}

export interface DaySummary extends Counts {
  /** The UTC day the report period begins on (YYYY-MM-DD). */
  day: string;
}

export interface TlsMxFailure {
  mx: string;
  resultType: string;
  sessions: number;
}

export interface TlsPolicySummary {
  policyType: string;
  policyDomain: string;
  mxHost: string[];
  successful: number;
  failed: number;
  failureTypes: Record<string, number>;
  byMx: TlsMxFailure[];
  reports: number;
}

/** TLS-RPT sessions of one policy domain on one day (UTC, the day its report's date range starts; RFC 8460 §4.4). */
export interface TlsDaySummary {
  day: string;
  policyDomain: string;
  successful: number;
  failed: number;
}

export interface FailureSummary {
  source: string;
  feedbackType: string;
  authFailure?: string;
  reportedDomain?: string;
  sourceIp?: string;
  arrivalDate?: string;
  originalFrom?: string;
  originalMailFrom?: string;
}

export interface SummaryFinding {
  source: string;
  code: string;
  severity: Severity;
  message: string;
  link: string;
  /** Offsets into the report's text (decompressed, for a compressed file). */
  start: number;
  end: number;
  /** 1-based line and column of `start`, when the text was kept (OpenOptions.keepText). */
  line?: number;
  column?: number;
}

/** The 1-based line and column (in UTF-16 code units) of an offset in a line index (LF ends a line). */
function lineColumnIn(lines: LineIndex, offset: number): { line: number; column: number } {
  const at = lines.positionAt(offset);
  return { line: at.line + 1, column: at.character + 1 };
}

/**
 * The 1-based line and column (in UTF-16 code units) of one offset. For many offsets into one text,
 * build a LineIndex once (as ReportSummariser.add does): this scans the text up to the offset.
 */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  return lineColumnIn(new LineIndex(text.slice(0, Math.max(0, offset))), offset);
}

/**
 * At most this many findings of one code are listed for one report; the rest are counted in one more
 * finding of that code (see capReportFindings), as the `.smtp` linter does per line
 * (server/src/problemsPerLine.ts). A crafted report of 50,000 unknown elements would otherwise list
 * 50,000 lines; the totals and verdicts never depend on the findings listed.
 */
export const FINDINGS_PER_CODE = 100;

/**
 * Caps a report's findings: of each code, the first FINDINGS_PER_CODE stay as they are, and the rest
 * become one finding of that code and severity, in the place of the first one left out, that covers
 * them all and says how many there are. The order is kept; linear in the number of findings.
 */
export function capReportFindings(problems: readonly Problem[]): Problem[] {
  if (problems.length <= FINDINGS_PER_CODE) return [...problems];
  const seen = new Map<string, { count: number; at?: number }>();
  const kept: Problem[] = [];
  for (const p of problems) {
    let s = seen.get(p.code);
    if (!s) seen.set(p.code, (s = { count: 0 }));
    s.count++;
    if (s.count <= FINDINGS_PER_CODE) kept.push(p);
    else if (s.at === undefined) {
      s.at = kept.length;
      kept.push({ ...p, range: { ...p.range } });
    } else {
      const first = kept[s.at];
      first.range.end = Math.max(first.range.end, p.range.end);
    }
  }
  for (const s of seen.values()) {
    if (s.at === undefined) continue;
    const omitted = s.count - FINDINGS_PER_CODE;
    const like = kept[s.at];
    kept[s.at] = {
      code: like.code,
      severity: like.severity,
      message: `…and ${omitted.toLocaleString('en-US')} more finding${omitted === 1 ? '' : 's'} like the ones before in this report (only the first ${FINDINGS_PER_CODE} of a kind are listed)`,
      range: like.range,
    };
  }
  return kept;
}

export interface ReportSummary {
  files: number;
  counts: { aggregate: number; tlsRpt: number; failure: number; unreadable: number };
  aggregate: Counts & {
    /** dmarcPass / messages, or null when no message was reported. */
    passRate: number | null;
    byDisposition: Record<string, number>;
    domains: DomainSummary[];
    sources: SourceSummary[];
    topFailing: SourceSummary[];
    reporters: Array<{ orgName: string; reports: number; messages: number }>;
    days: DaySummary[];
    begin?: number;
    end?: number;
    reverseDns?: ReverseDnsOverview;
    /**
     * Records of the reports read that no total counts: an unusable <count> (dmarc-agg-value), a
     * record a truncated file cuts through, or one that would take a total past 2^53 - 1
     * (report-total-limit). The pass rate and `--min-pass` are over the other records.
     */
    recordsLeftOut: number;
  };
  tlsRpt: {
    successful: number;
    failed: number;
    policies: TlsPolicySummary[];
    days: TlsDaySummary[];
    /**
     * Policy items no total counts: "summary" or one of its counts missing or unusable (tlsrpt-missing,
     * tlsrpt-value), or a policy that would take a total past 2^53 - 1 (report-total-limit).
     */
    policiesLeftOut: number;
  };
  failures: FailureSummary[];
  findings: SummaryFinding[];
}

/** The warning that a report was read before and is counted once (code report-duplicate). */
function duplicateFinding(r: ParsedReport, first: string): Problem {
  const what =
    r.kind === 'dmarc-aggregate'
      ? `DMARC aggregate report (org_name "${r.orgName}", report_id "${r.reportId}", policy domain "${r.policy.domain}")`
      : r.kind === 'tls-rpt'
        ? `TLS-RPT report (organization-name "${r.organizationName}", report-id "${r.reportId}")`
        : 'report';
  return {
    code: 'report-duplicate',
    severity: 'warning',
    message: `the same ${what} as "${first}", which was read first: counted once`,
    range: { start: 0, end: 0 },
  };
}

const zero = (): Counts => ({ messages: 0, dmarcPass: 0, dkimAligned: 0, spfAligned: 0 });

function addTo(map: Record<string, number>, key: string, n: number): void {
  map[key] = (map[key] ?? 0) + n;
}

function addCounts(c: Counts, messages: number, dkim: number, spf: number, pass: number): void {
  c.messages += messages;
  c.dkimAligned += dkim;
  c.spfAligned += spf;
  c.dmarcPass += pass;
}

function pushUnique(list: string[], value: string, max = 10): void {
  if (value !== '' && list.length < max && !list.includes(value)) list.push(value);
}

function policyKey(p: PublishedPolicy): string {
  return JSON.stringify([normalDomain(p.domain), p.p, p.sp, p.np, p.adkim, p.aspf, p.pct, p.fo, p.testing]);
}

/** Accumulates reports one at a time (a folder of 10,000 reports never sits in memory at once). */
export class ReportSummariser {
  private files = 0;
  private counts = { aggregate: 0, tlsRpt: 0, failure: 0, unreadable: 0 };
  private total = zero();
  private byDisposition: Record<string, number> = {};
  private domains = new Map<string, DomainSummary & { policyMap: Map<string, PolicyPeriod> }>();
  private sources = new Map<string, SourceSummary>();
  private reporters = new Map<string, { orgName: string; reports: number; messages: number }>();
  private days = new Map<string, DaySummary>();
  private begin?: number;
  private end?: number;
  private tls = new Map<string, TlsPolicySummary & { mxMap: Map<string, TlsMxFailure> }>();
  private tlsTotals = { successful: 0, failed: 0 };
  private tlsDays = new Map<string, TlsDaySummary>();
  private failures: FailureSummary[] = [];
  private findings: SummaryFinding[] = [];
  /** DMARC records no total counts, and TLS-RPT policy items likewise (ReportSummary). */
  private recordsLeftOut = 0;
  private tlsPoliciesLeftOut = 0;
  /** The TLS-RPT sessions counted so far (successful and failed), and those in failure details: the bounds of every TLS total. */
  private tlsSessions = 0;
  private tlsDetailed = 0;
  /** The reports counted so far, by what identifies them (firstCopy), with the source of each. */
  private seen = new Map<string, string>();

  /** Counts a file that was read (one file may hold several reports). */
  addFile(): void {
    this.files++;
  }

  /**
   * Adds a finding that has no report (an unreadable file). `text` (or its line index, built once
   * for all the findings of one text) gives the line and column.
   */
  addProblem(source: string, p: Problem, text?: string | LineIndex): void {
    const f: SummaryFinding = { source, code: p.code, severity: p.severity, message: p.message, link: reportProblemLink(p.code), start: p.range.start, end: p.range.end };
    if (text !== undefined) Object.assign(f, lineColumnIn(typeof text === 'string' ? new LineIndex(text) : text, p.range.start));
    this.findings.push(f);
  }

  add(opened: OpenedReport): void {
    const problems = capReportFindings(opened.problems);
    // One line index per report text, whatever the number of findings (not a scan per finding).
    const lines = opened.text !== undefined && problems.length > 0 ? new LineIndex(opened.text) : undefined;
    for (const p of problems) this.addProblem(opened.source, p, lines);
    const r = opened.report;
    if (!r) {
      this.counts.unreadable++;
      return;
    }
    const first = this.firstCopy(opened.source, r);
    if (first !== undefined) {
      this.addProblem(opened.source, duplicateFinding(r, first), lines);
      return;
    }
    // The summary's own findings on the report (report-total-limit), capped as the parser's are.
    const own = r.kind === 'dmarc-aggregate' ? this.addAggregate(r) : r.kind === 'tls-rpt' ? this.addTls(r) : this.addFailure(opened.source, r);
    if (own.length > 0) {
      const ownLines = lines ?? (opened.text !== undefined ? new LineIndex(opened.text) : undefined);
      for (const p of capReportFindings(own)) this.addProblem(opened.source, p, ownLines);
    }
  }

  /**
   * The source of the first copy of a report read before, or undefined for a report not seen yet
   * (which is remembered). A report is told by what identifies it, so the same report read from
   * a.xml, a.xml.gz and a.zip, from a path given twice or from two mails counts once:
   * - aggregate reports by org_name, email, report_id (RFC 9990 §2.1: unique per reporter), the
   *   policy domain and the date range (the same report has them all; a reporter that reuses a
   *   report_id for another domain or period is not merged);
   * - TLS-RPT reports by organization-name and report-id (RFC 8460 §4.4: "a unique identifier").
   * A report without an identifier is never taken for a copy. Failure reports are not compared.
   */
  private firstCopy(source: string, r: ParsedReport): string | undefined {
    let key: string | undefined;
    if (r.kind === 'dmarc-aggregate' && r.reportId !== '') {
      key = JSON.stringify(['dmarc', r.orgName, r.email.toLowerCase(), r.reportId, normalDomain(r.policy.domain), r.begin ?? null, r.end ?? null]);
    } else if (r.kind === 'tls-rpt' && r.reportId !== '') {
      key = JSON.stringify(['tls', r.organizationName, r.reportId]);
    }
    if (key === undefined) return undefined;
    const first = this.seen.get(key);
    if (first === undefined) this.seen.set(key, source);
    return first;
  }

  /** Adds an aggregate report's records to the totals; returns the findings of the summary on it. */
  private addAggregate(r: AggregateReport): Problem[] {
    const problems: Problem[] = [];
    this.counts.aggregate++;
    this.recordsLeftOut += r.recordsLeftOut;
    // Grouped and shown in the normal form (normalForm.ts): `Example.COM.` is `example.com`.
    const domainName = normalDomain(r.policy.domain);
    let d = this.domains.get(domainName);
    if (!d) {
      d = { domain: domainName, reports: 0, ...zero(), byDisposition: {}, policies: [], policyMap: new Map() };
      this.domains.set(domainName, d);
    }
    d.reports++;
    const key = policyKey(r.policy);
    let period = d.policyMap.get(key);
    if (!period) {
      period = { domain: domainName, policy: r.policy, reports: 0 };
      d.policyMap.set(key, period);
    }
    period.reports++;
    if (r.begin !== undefined) {
      period.begin = period.begin === undefined ? r.begin : Math.min(period.begin, r.begin);
      this.begin = this.begin === undefined ? r.begin : Math.min(this.begin, r.begin);
    }
    if (r.end !== undefined) {
      period.end = period.end === undefined ? r.end : Math.max(period.end, r.end);
      this.end = this.end === undefined ? r.end : Math.max(this.end, r.end);
    }
    let reporter = this.reporters.get(r.orgName);
    if (!reporter) {
      reporter = { orgName: r.orgName, reports: 0, messages: 0 };
      this.reporters.set(r.orgName, reporter);
    }
    reporter.reports++;
    const dayKey = r.begin !== undefined && Number.isFinite(r.begin) && Math.abs(r.begin) < 8.64e12 ? new Date(r.begin * 1000).toISOString().slice(0, 10) : 'unknown';
    let day = this.days.get(dayKey);
    if (!day) {
      day = { day: dayKey, ...zero() };
      this.days.set(dayKey, day);
    }
    for (const rec of r.records) {
      const n = rec.count;
      // Every total is at most the message total, so while it stays within 2^53 - 1 they all add up
      // exactly; a record that would take it past is left out of all of them, with a finding.
      if (this.total.messages + n > Number.MAX_SAFE_INTEGER) {
        this.recordsLeftOut++;
        problems.push(finding('report-total-limit', `this record's ${n} messages would take the total past ${Number.MAX_SAFE_INTEGER}, beyond which totals cannot be added up exactly: the record is left out of every total`, rec.range.start, rec.range.end));
        continue;
      }
      const dkim = rec.dkim === 'pass' ? n : 0;
      const spf = rec.spf === 'pass' ? n : 0;
      const pass = rec.dkim === 'pass' || rec.spf === 'pass' ? n : 0;
      addCounts(this.total, n, dkim, spf, pass);
      addCounts(d, n, dkim, spf, pass);
      addCounts(day, n, dkim, spf, pass);
      reporter.messages += n;
      addTo(this.byDisposition, rec.disposition, n);
      addTo(d.byDisposition, rec.disposition, n);
      // One row per address, however it is written (`2001:0db8:0:0::1` is `2001:db8::1`, RFC 5952).
      const ip = normalIp(rec.sourceIp);
      let s = this.sources.get(ip);
      if (!s) {
        s = { sourceIp: ip, ...zero(), failing: 0, byDisposition: {}, headerFrom: [], dkimDomains: [], spfDomains: [] };
        this.sources.set(ip, s);
      }
      s.messages += n;
      s.dkimAligned += dkim;
      s.spfAligned += spf;
      s.dmarcPass += pass;
      s.failing += n - pass;
      addTo(s.byDisposition, rec.disposition, n);
      pushUnique(s.headerFrom, normalDomain(rec.headerFrom));
      if (s.dkimDomains.length < 10) for (const x of rec.dkimResults) pushUnique(s.dkimDomains, x.selector ? `${normalDomain(x.domain)} (s=${x.selector}) ${x.result}` : `${normalDomain(x.domain)} ${x.result}`);
      if (s.spfDomains.length < 10) for (const x of rec.spfResults) pushUnique(s.spfDomains, `${normalDomain(x.domain)} ${x.result}`);
    }
    return problems;
  }

  /** Adds a TLS-RPT report's policies to the totals; returns the findings of the summary on it. */
  private addTls(r: TlsRptReport): Problem[] {
    const problems: Problem[] = [];
    this.counts.tlsRpt++;
    const startMs = Date.parse(r.startDatetime);
    const day = Number.isFinite(startMs) ? new Date(startMs).toISOString().slice(0, 10) : 'unknown';
    for (const p of r.policies) {
      // A policy without usable summary counts is in no total (tlsRpt.ts said why), not counted as 0.
      if (!p.countsUsable) {
        this.tlsPoliciesLeftOut++;
        continue;
      }
      // Every TLS-RPT session total (successful, failed, both, per policy and day) is at most the sum
      // of all successful and failed sessions, and every failure-detail total (per type, per MX) at
      // most the sum of the detailed ones: both are kept within 2^53 - 1, as for DMARC.
      const sessions = p.successful + p.failed;
      const detailed = p.failures.reduce((n, f) => n + f.failedSessionCount, 0);
      if (this.tlsSessions + sessions > Number.MAX_SAFE_INTEGER || this.tlsDetailed + detailed > Number.MAX_SAFE_INTEGER) {
        this.tlsPoliciesLeftOut++;
        problems.push(finding('report-total-limit', `this policy's ${sessions} sessions (${detailed} in its failure details) would take a total past ${Number.MAX_SAFE_INTEGER}, beyond which totals cannot be added up exactly: the policy is left out of every total`, p.range.start, p.range.end));
        continue;
      }
      this.tlsSessions += sessions;
      this.tlsDetailed += detailed;
      const policyDomain = normalDomain(p.policyDomain);
      const dayKey = `${day}\u0000${policyDomain}`;
      let d = this.tlsDays.get(dayKey);
      if (!d) {
        d = { day, policyDomain, successful: 0, failed: 0 };
        this.tlsDays.set(dayKey, d);
      }
      d.successful += p.successful;
      d.failed += p.failed;
      const key = `${p.policyType}\u0000${policyDomain}`;
      let t = this.tls.get(key);
      if (!t) {
        t = { policyType: p.policyType, policyDomain, mxHost: [], successful: 0, failed: 0, failureTypes: {}, byMx: [], reports: 0, mxMap: new Map() };
        this.tls.set(key, t);
      }
      t.reports++;
      for (const mx of p.mxHost) pushUnique(t.mxHost, mx, 50);
      t.successful += p.successful;
      t.failed += p.failed;
      this.tlsTotals.successful += p.successful;
      this.tlsTotals.failed += p.failed;
      for (const f of p.failures) {
        addTo(t.failureTypes, f.resultType, f.failedSessionCount);
        const mx = f.receivingMxHostname ?? f.receivingIp ?? '';
        const mk = `${mx}\u0000${f.resultType}`;
        let m = t.mxMap.get(mk);
        if (!m) {
          m = { mx, resultType: f.resultType, sessions: 0 };
          t.mxMap.set(mk, m);
        }
        m.sessions += f.failedSessionCount;
      }
    }
    return problems;
  }

  private addFailure(source: string, r: FailureReport): Problem[] {
    this.counts.failure++;
    const f: FailureSummary = { source, feedbackType: r.feedbackType };
    if (r.authFailure !== undefined) f.authFailure = r.authFailure;
    if (r.reportedDomain !== undefined) f.reportedDomain = r.reportedDomain;
    if (r.sourceIp !== undefined) f.sourceIp = r.sourceIp;
    if (r.arrivalDate !== undefined) f.arrivalDate = r.arrivalDate;
    if (r.originalFrom !== undefined) f.originalFrom = r.originalFrom;
    if (r.originalMailFrom !== undefined) f.originalMailFrom = r.originalMailFrom;
    this.failures.push(f);
    return [];
  }

  /** The summary so far; `top` limits the failing sources listed. */
  result(top = 10): ReportSummary {
    const sources = [...this.sources.values()].sort((a, b) => b.messages - a.messages || a.sourceIp.localeCompare(b.sourceIp));
    const topFailing = sources
      .filter((s) => s.failing > 0)
      .sort((a, b) => b.failing - a.failing || a.sourceIp.localeCompare(b.sourceIp))
      .slice(0, top);
    const domains: DomainSummary[] = [...this.domains.values()]
      .map(({ policyMap, ...d }) => ({ ...d, policies: [...policyMap.values()].sort((a, b) => (a.begin ?? 0) - (b.begin ?? 0)) }))
      .sort((a, b) => a.domain.localeCompare(b.domain));
    const summary: ReportSummary = {
      files: this.files,
      counts: { ...this.counts },
      aggregate: {
        ...this.total,
        passRate: this.total.messages === 0 ? null : this.total.dmarcPass / this.total.messages,
        byDisposition: { ...this.byDisposition },
        domains,
        sources,
        topFailing,
        reporters: [...this.reporters.values()].sort((a, b) => b.messages - a.messages || a.orgName.localeCompare(b.orgName)),
        days: [...this.days.values()].sort((a, b) => a.day.localeCompare(b.day)),
        recordsLeftOut: this.recordsLeftOut,
      },
      tlsRpt: {
        ...this.tlsTotals,
        policies: [...this.tls.values()]
          .map(({ mxMap, ...t }) => ({ ...t, byMx: [...mxMap.values()].sort((a, b) => b.sessions - a.sessions || a.mx.localeCompare(b.mx)) }))
          .sort((a, b) => a.policyDomain.localeCompare(b.policyDomain) || a.policyType.localeCompare(b.policyType)),
        days: [...this.tlsDays.values()].map((d) => ({ ...d })).sort((a, b) => a.day.localeCompare(b.day) || a.policyDomain.localeCompare(b.policyDomain)),
        policiesLeftOut: this.tlsPoliciesLeftOut,
      },
      failures: [...this.failures],
      findings: [...this.findings],
    };
    if (this.begin !== undefined) summary.aggregate.begin = this.begin;
    if (this.end !== undefined) summary.aggregate.end = this.end;
    return summary;
  }
}

/**
 * A report restricted to the domains `keep` accepts (given in the normal form, normalForm.ts
 * `normalDomain`), or undefined when it keeps none: `smtpwb report --domain`, and any view of one
 * domain's reports. An aggregate report is about its policy domain and a failure report about its
 * Reported-Domain, so each is kept or left out whole. A TLS-RPT report covers every policy domain
 * the sender met (RFC 8460 §4.4: one item of "policies" each), so it is restricted policy by
 * policy: the copy returned holds only the items kept, and the others count in no figure. The
 * report itself is returned when all of it is kept.
 */
export function reportForDomains(r: ParsedReport, keep: (domain: string) => boolean): ParsedReport | undefined {
  if (r.kind === 'tls-rpt') {
    const kept = r.policies.filter((p) => keep(normalDomain(p.policyDomain)));
    if (kept.length === 0) return undefined;
    return kept.length === r.policies.length ? r : { ...r, policies: kept };
  }
  return keep(normalDomain(r.kind === 'dmarc-aggregate' ? r.policy.domain : (r.reportedDomain ?? ''))) ? r : undefined;
}

/** Summarises opened reports in one go. */
export function summariseReports(opened: Iterable<OpenedReport>, files?: number): ReportSummary {
  const s = new ReportSummariser();
  let n = 0;
  for (const o of opened) {
    s.add(o);
    n++;
  }
  for (let i = 0; i < (files ?? n); i++) s.addFile();
  return s.result();
}
