/**
 * The SPF check (RFC 7208): one record, its syntax term by term, the include and redirect tree, the
 * lookup limits of §4.6.4, loops, and the risky mechanisms and qualifiers.
 */
import { type CheckContext, finding, rfc } from './context';
import { type DnsAnswer, type Dependency, describeFailure, normalizeName } from './resolver';
import { isQueryableName, isValidSpfDomain } from './spfEval';
import { checkMacroString, isSpfRecord, parseSpf, type SpfMechanism, type SpfModifier } from './spfParse';
import { CHECK_TITLES, type CheckResult, type Finding, type RawRecord, type RecordRef, type SpfTreeNode, type TextRange } from './types';

/** The terms that cause DNS lookups and count towards the limit of 10 (RFC 7208 §4.6.4). */
const LOOKUP_TERMS = new Set(['include', 'a', 'mx', 'ptr', 'exists', 'redirect']);

interface Event {
  ref: RecordRef;
  label: string;
}

/** What the walk of one record found, kept per node so the limits can be counted in evaluation order. */
interface WalkNode {
  tree: SpfTreeNode;
  lookups: Event[];
  voids: Event[];
  children: WalkNode[];
  /** Position of each child among the lookup events, so the DFS order can interleave them. */
  childAfter: number[];
}

interface Walk {
  ctx: CheckContext;
  findings: Finding[];
  records: RawRecord[];
  /** The queries (`TYPE name`) whose failure has been reported: one finding per failing lookup. */
  failed: Set<string>;
}

/** Whether a failed query is reported for the first time (and notes it). */
function firstFailure(walk: Walk, answer: DnsAnswer<unknown>): boolean {
  const key = `${answer.type} ${answer.name}`;
  if (walk.failed.has(key)) return false;
  walk.failed.add(key);
  return true;
}

function ref(domain: string, text: string, range?: TextRange): RecordRef {
  return range ? { name: domain, type: 'TXT', text, range } : { name: domain, type: 'TXT', text };
}

/** Runs the SPF check. */
export async function checkSpf(ctx: CheckContext): Promise<CheckResult> {
  const walk: Walk = { ctx, findings: [], records: [], failed: new Set() };
  const root = await walkRecord(walk, ctx.domain, 'root', [], [], true);
  const result: CheckResult = { id: 'spf', title: CHECK_TITLES.spf, findings: walk.findings, records: walk.records, spfTree: root.tree };
  if (root.tree.record === undefined) return result;

  // Count lookups and void lookups in evaluation order (depth first), so the finding can point at the
  // term that crosses the limit (RFC 7208 §4.6.4).
  const lookups: Event[] = [];
  const voids: Event[] = [];
  const visit = (node: WalkNode): void => {
    let child = 0;
    node.lookups.forEach((ev, i) => {
      lookups.push(ev);
      while (child < node.children.length && node.childAfter[child] === i) visit(node.children[child++]);
    });
    while (child < node.children.length) visit(node.children[child++]);
    voids.push(...node.voids);
  };
  visit(root);
  if (lookups.length > 10) {
    const eleventh = lookups[10];
    walk.findings.push(
      finding(
        'error',
        'spf-lookup-limit',
        `The SPF record needs ${lookups.length} DNS-querying terms (include, a, mx, ptr, exists, redirect) across its includes; the limit is 10, so evaluation ends in permerror at ${eleventh.label}.`,
        rfc(7208, '4.6.4'),
        eleventh.ref,
      ),
    );
  }
  if (voids.length > 2) {
    const third = voids[2];
    walk.findings.push(
      finding(
        'error',
        'spf-void-limit',
        `${voids.length} lookups return no records (NXDOMAIN or no answer); more than 2 such void lookups end evaluation in permerror, first exceeded at ${third.label}.`,
        rfc(7208, '4.6.4'),
        third.ref,
      ),
    );
  }
  if (!walk.findings.some((f) => f.severity === 'error' || f.severity === 'warning')) {
    walk.findings.push(finding('pass', 'spf-ok', `One valid SPF record; ${lookups.length} of 10 DNS lookups used.`, rfc(7208, '4.6.4')));
  } else {
    walk.findings.push(finding('info', 'spf-lookup-count', `${lookups.length} of 10 DNS lookups used, ${voids.length} void.`, rfc(7208, '4.6.4')));
  }
  return result;
}

async function walkRecord(
  walk: Walk,
  domainIn: string,
  via: SpfTreeNode['via'],
  after: readonly Dependency[],
  ancestors: readonly string[],
  isRoot: boolean,
  parentRef?: RecordRef,
): Promise<WalkNode> {
  const domain = normalizeName(domainIn);
  const tree: SpfTreeNode = { domain, via, lookups: 0, children: [] };
  const node: WalkNode = { tree, lookups: [], voids: [], children: [], childAfter: [] };
  const { ctx, findings, records } = walk;
  const txt = await ctx.dns.query(domain, 'TXT', after);
  const spf = txt.data.filter(isSpfRecord);
  for (const r of spf) records.push({ name: domain, type: 'TXT', data: r });

  if (txt.status === 'error') {
    tree.note = `DNS failure: ${describeFailure(txt)}`;
    if (firstFailure(walk, txt)) findings.push(
      finding(
        'error',
        'spf-dns-error',
        `The TXT query for ${domain} failed (${describeFailure(txt)}); SPF evaluation would end in temperror.`,
        rfc(7208, '4.4'),
        parentRef,
      ),
    );
    return node;
  }
  if (spf.length === 0) {
    tree.note = 'no SPF record';
    if (isRoot) {
      findings.push(finding('warning', 'spf-none', `${domain} publishes no SPF record; receivers get the result "none".`, rfc(7208, '4.5')));
    } else if (via === 'include') {
      findings.push(
        finding('error', 'spf-include-none', `include:${domain} finds no SPF record, which makes evaluation end in permerror.`, rfc(7208, '5.2'), parentRef),
      );
    } else {
      findings.push(
        finding('error', 'spf-redirect-none', `redirect=${domain} finds no SPF record, which makes evaluation end in permerror.`, rfc(7208, '6.1'), parentRef),
      );
    }
    return node;
  }
  if (spf.length > 1) {
    tree.note = `${spf.length} SPF records`;
    findings.push(
      finding(
        'error',
        'spf-multiple',
        `${domain} publishes ${spf.length} SPF records; there must be exactly one, or evaluation ends in permerror.`,
        rfc(7208, '4.5'),
        ref(domain, spf[1], { start: 0, end: spf[1].length }),
      ),
    );
    if (!isRoot) return node;
  }
  const record = spf[0];
  tree.record = record;
  const parsed = parseSpf(record);
  // One finding per problem: a term the parser already reports gets no second finding for the same cause.
  const flagged = (range: TextRange): boolean => parsed.errors.some((e) => e.range.start >= range.start && e.range.start <= range.end);
  for (const e of parsed.errors) {
    findings.push(
      finding('error', 'spf-syntax', `Syntax error at column ${e.range.start + 1} of the SPF record of ${domain}: ${e.message}.`, rfc(7208, '12'), ref(domain, record, e.range)),
    );
  }

  const mechanisms = parsed.terms.filter((t): t is SpfMechanism => t.kind === 'mechanism');
  const modifiers = parsed.terms.filter((t): t is SpfModifier => t.kind === 'modifier');
  const all = mechanisms.find((m) => m.name === 'all');
  const redirects = modifiers.filter((m) => m.name === 'redirect');
  const exps = modifiers.filter((m) => m.name === 'exp');
  for (const dup of [redirects, exps]) {
    if (dup.length > 1) {
      findings.push(
        finding('error', 'spf-duplicate-modifier', `"${dup[0].name}=" appears ${dup.length} times; each modifier may appear only once.`, rfc(7208, '6'), ref(domain, record, dup[1].range)),
      );
    }
  }
  if (all) {
    const allIndex = parsed.terms.indexOf(all);
    const afterAll = parsed.terms.slice(allIndex + 1).filter((t) => t.kind === 'mechanism');
    if (afterAll.length > 0) {
      findings.push(
        finding('warning', 'spf-after-all', `Mechanisms after "all" are never evaluated.`, rfc(7208, '5.1'), ref(domain, record, { start: afterAll[0].range.start, end: afterAll[afterAll.length - 1].range.end })),
      );
    }
    if (all.qualifier === '+') {
      findings.push(
        finding('error', 'spf-all-pass', `"${all.explicitQualifier ? '+' : ''}all" authorizes every host on the Internet to send as ${domain}.`, rfc(7208, '5.1'), ref(domain, record, all.range)),
      );
    } else if (all.qualifier === '?' && via !== 'include') {
      findings.push(
        finding('warning', 'spf-all-neutral', `"?all" gives no verdict for unlisted hosts; use "~all" or "-all".`, rfc(7208, '8.2'), ref(domain, record, all.range)),
      );
    }
    if (redirects.length > 0) {
      findings.push(
        finding('warning', 'spf-redirect-with-all', `"redirect=" is ignored because the record also has "all".`, rfc(7208, '6.1'), ref(domain, record, redirects[0].range)),
      );
    }
  } else if (redirects.length === 0 && via !== 'include') {
    findings.push(
      finding('info', 'spf-no-all', `The record of ${domain} has neither "all" nor "redirect="; unlisted hosts get the default result "neutral".`, rfc(7208, '4.7'), ref(domain, record)),
    );
  }
  for (const ptr of mechanisms.filter((m) => m.name === 'ptr')) {
    findings.push(
      finding('warning', 'spf-ptr', `The "ptr" mechanism is slow, unreliable and should not be published.`, rfc(7208, '5.5'), ref(domain, record, ptr.range)),
    );
  }
  const expTasks: Array<Promise<void>> = [];
  for (const exp of exps.slice(0, 1)) {
    if (!isRoot) {
      findings.push(finding('info', 'spf-exp-ignored', `"exp=" in an included record is ignored.`, rfc(7208, '6.2'), ref(domain, record, exp.range)));
    } else if (exp.value === '' || !isQueryableName(exp.value)) {
      // RFC 7208 §6.2: an explanation whose name cannot exist is never fetched (the evaluator asks no
      // query either, spfEval.ts); "exp=" with no domain is a syntax error the parser reports.
      if (!flagged(exp.range)) {
        findings.push(finding('warning', 'spf-exp-missing', `exp=${exp.value} is not a valid domain name, so no explanation can be fetched.`, rfc(7208, '6.2'), ref(domain, record, exp.range)));
      }
    } else if (exp.hasMacros) {
      findings.push(finding('info', 'spf-exp', `"exp=${exp.value}" uses macros; its explanation depends on the message.`, rfc(7208, '6.2'), ref(domain, record, exp.range)));
    } else {
      // The explanation is fetched only when a message fails, and it is not a lookup that counts
      // towards the limit (RFC 7208 §6.2); a missing or bad one gives no explanation, not an error.
      expTasks.push(
        ctx.dns.query(exp.value, 'TXT', [txt]).then((answer) => {
          const expRef = ref(domain, record, exp.range);
          if (answer.status === 'error') {
            findings.push(finding('warning', 'spf-exp-missing', `The explanation at ${exp.value} could not be fetched: ${describeFailure(answer)}.`, rfc(7208, '6.2'), expRef));
          } else if (answer.data.length !== 1) {
            findings.push(finding('warning', 'spf-exp-missing', `exp=${exp.value} must name exactly one TXT record; there are ${answer.data.length}.`, rfc(7208, '6.2'), expRef));
          } else {
            records.push({ name: normalizeName(exp.value), type: 'TXT', data: answer.data[0] });
            const bad = checkMacroString(answer.data[0], true);
            if (bad) {
              findings.push(
                finding('warning', 'spf-exp-syntax', `The explanation at ${exp.value} is not a valid macro-string: ${bad.message}.`, rfc(7208, '6.2'), {
                  name: normalizeName(exp.value), type: 'TXT', text: answer.data[0], range: { start: bad.offset, end: bad.offset + Math.max(bad.length, 1) },
                }),
              );
            } else {
              findings.push(finding('info', 'spf-exp', `Failing senders are told: "${answer.data[0]}".`, rfc(7208, '6.2'), expRef));
            }
          }
        }),
      );
    }
  }

  // Follow every term that queries DNS, all at once.
  const tasks: Array<Promise<void>> = [...expTasks];
  const childSlots: Array<{ index: number; promise: Promise<WalkNode> }> = [];
  // Mechanisms after "all" are never evaluated (RFC 7208 §5.1), so they neither count nor get followed.
  const allAt = all ? parsed.terms.indexOf(all) : parsed.terms.length;
  const terms = parsed.terms.filter((t, i) => LOOKUP_TERMS.has(t.name) && (t.kind === 'modifier' || i < allAt));
  const ignoredRedirect = all !== undefined;
  for (const term of terms) {
    if (term.kind === 'modifier' && term.name === 'redirect' && (ignoredRedirect || term !== redirects[0])) continue;
    const eventIndex = node.lookups.length;
    const termRef = ref(domain, record, term.range);
    const label = `"${record.slice(term.range.start, term.range.end)}" in ${domain}`;
    node.lookups.push({ ref: termRef, label });
    tree.lookups++;
    // "include:" with nothing after the colon, or "include" with no colon, names no domain: the
    // parser reports the syntax error (RFC 7208 §5.2, §6.1 need a domain-spec), and there is nothing
    // to follow. Only "a" and "mx" without a domain mean the current domain (§5.3, §5.4).
    const needsDomain = term.name === 'include' || term.name === 'exists' || term.name === 'redirect';
    if (term.value === '' || (term.value === undefined && needsDomain)) continue;
    const target = normalizeName(term.value ?? domain);
    if (term.hasMacros) {
      findings.push(
        finding('info', 'spf-macro', `${label} uses macros; it depends on the message, so it was not followed.`, rfc(7208, '7'), termRef),
      );
      if (term.name === 'include' || term.name === 'redirect') {
        tree.children.push({ domain: target, via: term.name, lookups: 0, children: [], note: 'not followed: contains macros' });
      }
      continue;
    }
    const isVoid = (answers: Array<DnsAnswer<unknown>>): boolean =>
      answers.every((x) => x.status === 'nxdomain' || x.status === 'nodata');
    const dnsError = (answers: Array<DnsAnswer<unknown>>): void => {
      const failed = answers.find((x) => x.status === 'error');
      if (failed && firstFailure(walk, failed)) {
        findings.push(finding('error', 'spf-dns-error', `${label}: ${describeFailure(failed)}; evaluation would end in temperror.`, rfc(7208, '4.4'), termRef));
      }
    };
    const parentDeps = [txt];
    // A target name that cannot exist (an empty label, a label over 63 octets, RFC 7208 §4.3, §5) is
    // never queried; the evaluator's rules decide it (spfEval.ts): for a, mx and exists it is a void
    // lookup that does not match, and include and redirect find no record (a permerror), with no
    // DNS failure and so no temperror.
    if ((term.name === 'a' || term.name === 'mx' || term.name === 'exists') && !isQueryableName(target)) {
      node.voids.push({ ref: termRef, label });
      continue;
    }
    if ((term.name === 'include' || term.name === 'redirect') && !isValidSpfDomain(target)) {
      tree.children.push({ domain: target, via: term.name, lookups: 0, children: [], note: 'not followed: not a valid domain name, so it finds no SPF record (permerror)' });
      if (!flagged(term.range)) {
        findings.push(
          finding('error', `spf-${term.name}-none`, `${label}: "${target}" is not a valid domain name, so it finds no SPF record and evaluation ends in permerror.`, rfc(7208, term.name === 'include' ? '5.2' : '6.1'), termRef),
        );
      }
      continue;
    }
    switch (term.name) {
      case 'include':
      case 'redirect': {
        if (target === domain || ancestors.includes(target)) {
          findings.push(
            finding('error', 'spf-loop', `${label} loops back to ${target}, which is already being evaluated.`, rfc(7208, '4.6.4'), termRef),
          );
          tree.children.push({ domain: target, via: term.name, lookups: 0, children: [], note: 'loop' });
          continue;
        }
        const via2 = term.name;
        childSlots.push({
          index: eventIndex,
          promise: (async () => {
            const child = await walkRecord(walk, target, via2, parentDeps, [...ancestors, domain], false, termRef);
            const answer = await ctx.dns.query(target, 'TXT', parentDeps);
            if (answer.status === 'nxdomain' || answer.status === 'nodata') {
              child.voids.unshift({ ref: termRef, label });
            }
            return child;
          })(),
        });
        break;
      }
      case 'a':
        tasks.push(
          Promise.all([ctx.dns.query(target, 'A', parentDeps), ctx.dns.query(target, 'AAAA', parentDeps)]).then((answers) => {
            dnsError(answers);
            if (isVoid(answers)) node.voids.push({ ref: termRef, label });
          }),
        );
        break;
      case 'exists':
        tasks.push(
          ctx.dns.query(target, 'A', parentDeps).then((answer) => {
            dnsError([answer]);
            if (isVoid([answer])) node.voids.push({ ref: termRef, label });
          }),
        );
        break;
      case 'mx':
        tasks.push(
          ctx.dns.query(target, 'MX', parentDeps).then((answer) => {
            dnsError([answer]);
            if (isVoid([answer])) node.voids.push({ ref: termRef, label });
            const names = answer.data.filter((m) => m.exchange !== '');
            if (names.length > 10) {
              findings.push(
                finding('error', 'spf-mx-limit', `${label}: ${target} has ${names.length} MX records; more than 10 make evaluation end in permerror.`, rfc(7208, '4.6.4'), termRef),
              );
            }
          }),
        );
        break;
      case 'ptr':
        // The ptr mechanism looks up names of the sender's address, so it cannot be evaluated here;
        // §4.6.4 limits it to 10 names at evaluation time.
        break;
    }
  }
  await Promise.all(tasks);
  const children = await Promise.all(childSlots.map((s) => s.promise));
  node.children = children;
  node.childAfter = childSlots.map((s) => s.index);
  tree.children.push(...children.map((c) => c.tree));
  return node;
}
