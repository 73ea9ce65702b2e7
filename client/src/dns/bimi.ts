/**
 * The BIMI check (draft-brand-indicators-for-message-identification): default._bimi.<domain> with
 * v=BIMI1, l= an https URL of an SVG logo and a= an https URL of the mark certificate; BIMI requires
 * an enforcing DMARC policy (p=quarantine or p=reject, pct=100).
 */
import { BIMI_LINK, type CheckContext, finding } from './context';
import type { DmarcOutcome } from './dmarc';
import { describeFailure } from './resolver';
import { getTag, parseTagList } from './tagList';
import { CHECK_TITLES, type CheckResult, type Finding, type RawRecord, type RecordRef, type TextRange } from './types';

export async function checkBimi(ctx: CheckContext, dmarcPromise: Promise<DmarcOutcome>): Promise<CheckResult> {
  const findings: Finding[] = [];
  const records: RawRecord[] = [];
  const result: CheckResult = { id: 'bimi', title: CHECK_TITLES.bimi, findings, records };
  const name = `default._bimi.${ctx.domain}`;
  const [answer, dmarc] = await Promise.all([ctx.dns.query(name, 'TXT'), dmarcPromise]);
  if (answer.status === 'error') {
    findings.push(finding('error', 'bimi-dns-error', `The TXT query for ${name} failed: ${describeFailure(answer)}.`, BIMI_LINK));
    return result;
  }
  const bimi = answer.data.filter((t) => /^v=BIMI1\s*(;|$)/i.test(t));
  for (const r of bimi) records.push({ name, type: 'TXT', data: r });
  if (bimi.length === 0) {
    findings.push(finding('info', 'bimi-none', `No BIMI record at ${name}.`, BIMI_LINK));
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
  } else if (policy.pct < 100) {
    findings.push(finding('error', 'bimi-dmarc-not-enforced', `BIMI requires DMARC pct=100; it is ${policy.pct}.`, BIMI_LINK));
  }
  if (!findings.some((f) => f.severity === 'error' || f.severity === 'warning')) {
    findings.push(finding('pass', 'bimi-ok', `BIMI logo ${l?.value}, with an enforcing DMARC policy.`, BIMI_LINK));
  }
  return result;
}
