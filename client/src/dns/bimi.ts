/**
 * The BIMI check (draft-brand-indicators-for-message-identification): default._bimi.<domain> with
 * v=BIMI1, l= an https URL of an SVG logo and a= an https URL of the mark certificate; BIMI requires
 * an enforcing DMARC policy (p=quarantine or p=reject, pct=100).
 */
import { BIMI_LINK, type CheckContext, finding } from './context';
import type { DmarcOutcome } from './dmarc';
import { checkBimiSvg } from './bimiSvg';
import { checkMarkCertificate } from './bimiVmc';
import { type Dependency, describeFailure } from './resolver';
import { getTag, parseTagList } from '../../../common/tagList';
import { CHECK_TITLES, type CheckResult, type Finding, type RawRecord, type RecordRef, type TextRange } from './types';

export async function checkBimi(ctx: CheckContext, dmarcPromise: Promise<DmarcOutcome>): Promise<CheckResult> {
  const findings: Finding[] = [];
  const records: RawRecord[] = [];
  const result: CheckResult = { id: 'bimi', title: CHECK_TITLES.bimi, findings, records };
  let name = `default._bimi.${ctx.domain}`;
  const [first, dmarc] = await Promise.all([ctx.dns.query(name, 'TXT'), dmarcPromise]);
  let answer = first;
  if (answer.status === 'error') {
    findings.push(finding('error', 'bimi-dns-error', `The TXT query for ${name} failed: ${describeFailure(answer)}.`, BIMI_LINK));
    return result;
  }
  const isBimi = (t: string): boolean => /^v=BIMI1\s*(;|$)/i.test(t);
  // BIMI draft "Assertion Record Discovery": without a record at the Author Domain, the
  // Organizational Domain's (as DMARC determines it, here by the RFC 9989 tree walk) applies.
  const org = dmarc.policy?.organizationalDomain;
  if (!answer.data.some(isBimi) && org !== undefined && org !== ctx.domain) {
    const orgName = `default._bimi.${org}`;
    const orgAnswer = await ctx.dns.query(orgName, 'TXT', [first]);
    if (orgAnswer.status === 'error') {
      findings.push(finding('error', 'bimi-dns-error', `The TXT query for ${orgName} failed: ${describeFailure(orgAnswer)}.`, BIMI_LINK));
      return result;
    }
    if (orgAnswer.data.some(isBimi)) {
      findings.push(finding('info', 'bimi-org-fallback', `No BIMI record at ${name}; the record of the Organizational Domain ${org} applies.`, BIMI_LINK));
      name = orgName;
      answer = orgAnswer;
    }
  }
  const bimi = answer.data.filter(isBimi);
  for (const r of bimi) records.push({ name, type: 'TXT', data: r });
  if (bimi.length === 0) {
    findings.push(finding('info', 'bimi-none', `No BIMI record at ${name}${org !== undefined && org !== ctx.domain ? ` or default._bimi.${org}` : ''}.`, BIMI_LINK));
    return result;
  }
  if (bimi.length > 1) {
    findings.push(finding('error', 'bimi-multiple', `${name} has ${bimi.length} BIMI records.`, BIMI_LINK, { name, type: 'TXT', text: bimi[1], range: { start: 0, end: bimi[1].length } }));
    return result;
  }
  const text = bimi[0];
  const at = (range: TextRange): RecordRef => ({ name, type: 'TXT', text, range });
  const list = parseTagList(text);
  for (const e of list.errors) findings.push(finding('error', 'bimi-syntax', `Syntax error at column ${e.range.start + 1}: ${e.message}.`, BIMI_LINK, at(e.range)));
  for (const d of list.duplicates) findings.push(finding('error', 'bimi-syntax', `The tag "${d.name}" appears more than once.`, BIMI_LINK, at(d.range)));
  const l = getTag(list, 'l');
  const a = getTag(list, 'a');
  if (!l || l.value === '') {
    if (!a || a.value === '') {
      findings.push(finding('info', 'bimi-declined', 'The record declines to publish a logo (empty l=).', BIMI_LINK, at({ start: 0, end: text.length })));
      return result;
    }
    findings.push(finding('error', 'bimi-no-logo', 'l= (the logo URL) is missing or empty.', BIMI_LINK, at(l ? l.range : { start: 0, end: text.length })));
  } else {
    let url: URL | undefined;
    try {
      url = new URL(l.value);
    } catch {
      url = undefined;
    }
    if (!url || url.protocol !== 'https:') {
      findings.push(finding('error', 'bimi-logo-url', `l=${l.value} must be an https: URL.`, BIMI_LINK, at(l.valueRange)));
    } else if (!url.pathname.toLowerCase().endsWith('.svg')) {
      findings.push(finding('warning', 'bimi-logo-svg', `l=${l.value} should point to an SVG (SVG Tiny PS) file.`, BIMI_LINK, at(l.valueRange)));
    }
  }
  if (a && a.value !== '') {
    let ok = false;
    try {
      ok = new URL(a.value).protocol === 'https:';
    } catch {
      ok = false;
    }
    if (!ok) findings.push(finding('error', 'bimi-authority-url', `a=${a.value} must be an https: URL of a mark certificate.`, BIMI_LINK, at(a.valueRange)));
  } else {
    findings.push(finding('info', 'bimi-no-vmc', 'No mark certificate (a= is empty); many mailbox providers show the logo only with one.', BIMI_LINK, at(a ? a.range : { start: 0, end: text.length })));
  }
  const policy = dmarc.policy;
  if (!policy || (policy.effective !== 'quarantine' && policy.effective !== 'reject')) {
    findings.push(
      finding('error', 'bimi-dmarc-not-enforced', `BIMI requires a DMARC policy of quarantine or reject; ${policy ? `the policy is ${policy.effective ?? 'missing'}` : 'there is no valid DMARC record'}.`, BIMI_LINK),
    );
  } else if (policy.testMode) {
    findings.push(finding('error', 'bimi-dmarc-not-enforced', 'BIMI requires an enforced DMARC policy; the record has t=y (test mode, RFC 9989 §4.7).', BIMI_LINK));
  } else if (policy.pct < 100) {
    findings.push(finding('error', 'bimi-dmarc-not-enforced', `BIMI requires DMARC pct=100; it is ${policy.pct}.`, BIMI_LINK));
  }
  const logo = ctx.fetcher && l && l.value !== '' ? await checkLogo(ctx, l.value, [answer], findings, at(l.valueRange)) : undefined;
  if (ctx.fetcher && a && a.value !== '') {
    const org = name === `default._bimi.${ctx.domain}` ? undefined : name.replace(/^default\._bimi\./, '');
    await checkCertificate(ctx, a.value, [answer], findings, at(a.valueRange), { domain: ctx.domain, organizationalDomain: org, logoSvg: logo });
  }
  if (!findings.some((f) => f.severity === 'error' || f.severity === 'warning')) {
    findings.push(finding('pass', 'bimi-ok', `BIMI logo ${l?.value}, with an enforcing DMARC policy.`, BIMI_LINK));
  }
  return result;
}

/** The SVG Tiny PS profile (draft-svg-tiny-ps-abrotman) that BIMI logos must follow. */
const SVG_TINY_PS_LINK = 'https://datatracker.ietf.org/doc/draft-svg-tiny-ps-abrotman/';

/**
 * Fetches the logo over HTTPS (the addresses come from the report's resolver) and checks it against
 * the SVG Tiny PS rules; each problem is its own finding.
 */
/**
 * Fetches an https resource the record names (the logo, the mark certificate) from the addresses the
 * report's resolver found; a failure is an error finding with `code`. Returns the body and its URL.
 */
async function fetchResource(
  ctx: CheckContext,
  urlText: string,
  after: Dependency[],
  findings: Finding[],
  ref: RecordRef,
  what: { name: string; code: string; link: string; maxBytes: number },
): Promise<{ url: URL; body: string } | undefined> {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' || !ctx.fetcher) return undefined;
  const host = url.hostname;
  const [a, aaaa] = await Promise.all([ctx.dns.query(host, 'A', after), ctx.dns.query(host, 'AAAA', after)]);
  const addresses = [...a.data, ...aaaa.data];
  if (addresses.length === 0) {
    findings.push(finding('error', what.code, `The ${what.name} host ${host} has no A or AAAA record, so receivers cannot fetch the ${what.name}.`, what.link, ref));
    return undefined;
  }
  const fetched = await ctx.fetcher.fetch({ url: url.toString(), addresses, timeoutMs: ctx.timeoutMs, maxBytes: what.maxBytes });
  if (!fetched.ok || fetched.status !== 200) {
    findings.push(finding('error', what.code, `Fetching the ${what.name} ${url.toString()} failed: ${fetched.ok ? `HTTP ${fetched.status}` : fetched.error}.`, what.link, ref));
    return undefined;
  }
  return { url, body: fetched.body };
}

async function checkLogo(ctx: CheckContext, urlText: string, after: Dependency[], findings: Finding[], ref: RecordRef): Promise<string | undefined> {
  const got = await fetchResource(ctx, urlText, after, findings, ref, { name: 'logo', code: 'bimi-logo-fetch', link: BIMI_LINK, maxBytes: 256 * 1024 });
  if (!got) return undefined;
  const problems = checkBimiSvg(got.body);
  for (const p of problems) findings.push(finding(p.severity, p.code, `Logo ${got.url.toString()}: ${p.message}.`, SVG_TINY_PS_LINK, ref));
  if (problems.length === 0) findings.push(finding('info', 'bimi-svg-ok', `The logo follows the SVG Tiny PS profile (${Buffer.byteLength(got.body, 'utf8')} bytes).`, SVG_TINY_PS_LINK, ref));
  return got.body;
}

/** The mark certificate specification (BIMI Group, VMC/CMC requirements). */
const VMC_LINK = 'https://bimigroup.org/resources/VMC_Guidelines_latest.pdf';

/**
 * Fetches the mark certificate that a= names and checks it (bimiVmc.ts); each problem is its own
 * finding. The chain is not judged against the mark-certificate roots, which the product does not ship.
 */
async function checkCertificate(ctx: CheckContext, urlText: string, after: Dependency[], findings: Finding[], ref: RecordRef, o: { domain: string; organizationalDomain?: string; logoSvg?: string }): Promise<void> {
  const got = await fetchResource(ctx, urlText, after, findings, ref, { name: 'mark certificate', code: 'bimi-vmc-fetch', link: VMC_LINK, maxBytes: 64 * 1024 });
  if (!got) return;
  for (const p of checkMarkCertificate(got.body, { ...o, selector: 'default', now: new Date(ctx.clock.now()) })) {
    findings.push(finding(p.severity, p.code, `Mark certificate ${got.url.toString()}: ${p.message}.`, VMC_LINK, ref));
  }
}
