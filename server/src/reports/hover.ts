/**
 * Hovers for report files: what the element (aggregate XML) or field (TLS-RPT JSON) under the
 * cursor means, with the value's meaning where it is a keyword, and a link to the standard. Pure;
 * the language server turns the result into an LSP Hover (helper F wires it). Text from the
 * document is escaped with `escapeMarkdown`.
 */
import { escapeMarkdown } from '../../../common/escape';
import { rfcLink, type OffsetRange } from '../../../common/problem';
import { parseJsonTree, type JsonNode } from '../../../common/jsonTree';
import { scanXml, type XmlElement } from './xmlScanner';

export interface ReportHover {
  markdown: string;
  range: OffsetRange;
}

const AGG = rfcLink(9990);
const TLS = rfcLink(8460, '4.4');

/** What each aggregate report element means (RFC 9990; RFC 7489 Appendix C for pct and the older reasons). */
export const AGGREGATE_FIELDS: Readonly<Record<string, string>> = {
  feedback: 'A DMARC aggregate report: one reporting organisation, one policy domain, one period.',
  version: 'The version of the report format (1.0 for RFC 9990).',
  report_metadata: 'Who sent the report, its identifier and the period it covers.',
  org_name: 'The organisation that sent the report (the receiver of the mail).',
  email: 'The contact address of the reporting organisation.',
  extra_contact_info: 'More ways to reach the reporting organisation.',
  report_id: 'The report’s unique identifier, chosen by its sender.',
  date_range: 'The period the report covers, in seconds since 1970-01-01 UTC.',
  begin: 'The start of the period, in seconds since 1970-01-01 UTC.',
  end: 'The end of the period, in seconds since 1970-01-01 UTC.',
  error: 'An error the reporter met while making the report.',
  generator: 'The software that made the report (RFC 9990).',
  policy_published: 'The DMARC policy the receiver found for the domain during the period.',
  domain: 'A domain name: in policy_published, the domain the policy is for; in auth_results, the domain that was authenticated.',
  discovery_method: 'How the receiver found the policy: psl (RFC 7489, the public suffix list) or treewalk (RFC 9989, the DNS tree walk).',
  adkim: 'DKIM alignment mode: r (relaxed, same organizational domain) or s (strict, the same name).',
  aspf: 'SPF alignment mode: r (relaxed) or s (strict).',
  p: 'The policy for the domain: none, quarantine or reject.',
  sp: 'The policy for existing subdomains.',
  np: 'The policy for non-existent subdomains (RFC 9989; from RFC 9091).',
  testing: 'y when the policy was in test mode (t=y): one level less was applied (RFC 9989).',
  pct: 'RFC 7489 only: the percentage of failing mail the policy applied to. RFC 9989 removed it (t=y replaces pct=0).',
  fo: 'Failure reporting options: when failure reports are asked for (0, 1, d, s).',
  extension: 'Extensions of the report format, in other XML namespaces.',
  record: 'One row of results: messages from one source IP with the same identifiers and results.',
  row: 'The source, the number of messages and the DMARC evaluation.',
  source_ip: 'The IP address the messages came from.',
  count: 'How many messages this row stands for.',
  policy_evaluated: 'The DMARC result and what the receiver did with the messages.',
  disposition: 'What the receiver did: none (delivered), quarantine, reject, or pass (RFC 9990).',
  dkim: 'In policy_evaluated: the DMARC-aligned DKIM result (pass or fail). In auth_results: one DKIM signature’s result.',
  spf: 'In policy_evaluated: the DMARC-aligned SPF result (pass or fail). In auth_results: the SPF result.',
  reason: 'Why the receiver applied another disposition than the policy asked for.',
  type: 'The reason: local_policy, mailing_list, other, policy_test_mode, trusted_forwarder (RFC 9990); forwarded, sampled_out (RFC 7489).',
  comment: 'Free text about the reason.',
  identifiers: 'The identities the messages carried.',
  envelope_to: 'The domain of the envelope recipient (RCPT TO).',
  envelope_from: 'The domain of the envelope sender (MAIL FROM).',
  header_from: 'The domain of the From header field: the domain DMARC is about.',
  auth_results: 'The DKIM and SPF results the receiver found, aligned or not.',
  selector: 'The DKIM selector (s=) of the signature.',
  result: 'The raw result: for DKIM none, pass, fail, policy, neutral, temperror, permerror; for SPF none, neutral, pass, fail, softfail, temperror, permerror.',
  human_result: 'Free text about the result.',
  scope: 'The SPF identity checked: mfrom (MAIL FROM); helo in RFC 7489 reports.',
};

/** What each TLS-RPT field means (RFC 8460 §4.4, result types §4.3). */
export const TLSRPT_FIELDS: Readonly<Record<string, string>> = {
  'organization-name': 'The organisation that sent the report.',
  'date-range': 'The period the report covers (RFC 3339 date-times).',
  'start-datetime': 'The start of the period.',
  'end-datetime': 'The end of the period.',
  'contact-info': 'How to reach the reporting organisation.',
  'report-id': 'The report’s unique identifier.',
  policies: 'One entry per policy the sender applied: its counts and failures.',
  policy: 'The policy applied: its type, text, domain and MX hosts.',
  'policy-type': 'tlsa (DANE), sts (MTA-STS) or no-policy-found.',
  'policy-string': 'The policy as fetched: the MTA-STS policy lines or the TLSA records.',
  'policy-domain': 'The domain the policy is for.',
  'mx-host': 'The MX host patterns of an MTA-STS policy.',
  summary: 'Session counts for the policy.',
  'total-successful-session-count': 'Sessions that negotiated TLS as the policy requires.',
  'total-failure-session-count': 'Sessions that failed to.',
  'failure-details': 'Failed sessions grouped by result type, sending and receiving host.',
  'result-type':
    'Why the sessions failed: starttls-not-supported, certificate-host-mismatch, certificate-expired, certificate-not-trusted, validation-failure, tlsa-invalid, dnssec-invalid, dane-required, sts-policy-fetch-error, sts-policy-invalid, sts-webpki-invalid (RFC 8460 §4.3).',
  'sending-mta-ip': 'The IP address of the sending MTA.',
  'receiving-mx-hostname': 'The MX host the sender tried.',
  'receiving-mx-helo': 'The name the MX gave in its greeting or EHLO reply.',
  'receiving-ip': 'The IP address of the MX the sender tried.',
  'failed-session-count': 'How many sessions failed this way.',
  'additional-information': 'A URI with more about the failure.',
  'failure-reason-code': 'Free text from the sender about the failure.',
};

function innermost(e: XmlElement, offset: number): XmlElement | undefined {
  if (offset < e.start || offset >= e.end) return undefined;
  for (const c of e.children) {
    const inner = innermost(c, offset);
    if (inner) return inner;
  }
  return e;
}

function jsonKeyAt(node: JsonNode | undefined, offset: number): { key: string; range: OffsetRange; value?: JsonNode } | undefined {
  if (!node) return undefined;
  if (node.kind === 'object') {
    for (const p of node.properties) {
      if (offset >= p.keyRange.start && offset < p.keyRange.end) return { key: p.key, range: p.keyRange, value: p.value };
      const inner = jsonKeyAt(p.value, offset);
      if (inner) return inner;
    }
  } else if (node.kind === 'array') {
    for (const item of node.items) {
      const inner = jsonKeyAt(item, offset);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** The hover at an offset of a report document, or undefined. */
export function reportHover(fileName: string, text: string, offset: number): ReportHover | undefined {
  if (/\.json$/i.test(fileName)) {
    const hit = jsonKeyAt(parseJsonTree(text).root, offset);
    if (!hit) return undefined;
    const doc = TLSRPT_FIELDS[hit.key];
    if (!doc) return undefined;
    return { markdown: `**${escapeMarkdown(hit.key)}**: ${escapeMarkdown(doc)}\n\n[RFC 8460 §4.4](${TLS})`, range: hit.range };
  }
  const root = scanXml(text).root;
  const e = root && innermost(root, offset);
  if (!e) return undefined;
  const doc = AGGREGATE_FIELDS[e.name];
  if (!doc) return undefined;
  let extra = '';
  if ((e.name === 'begin' || e.name === 'end') && /^\d{1,12}$/.test(e.text.trim())) extra = `\n\n${new Date(Number(e.text.trim()) * 1000).toISOString()}`;
  return { markdown: `**${escapeMarkdown(e.name)}**: ${escapeMarkdown(doc)}${extra}\n\n[RFC 9990](${AGG})`, range: { start: e.start, end: e.contentStart } };
}
