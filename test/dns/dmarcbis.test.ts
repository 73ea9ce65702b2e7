// DMARC per RFC 9989 against a real Knot: the DNS Tree Walk for policy discovery and the
// Organizational Domain, the new tags (psd, np, t), the historic ones (pct, rf, ri), case-insensitive
// tag names, a record without p=, report URIs with RFC 7489 size suffixes; and `verify` (the other
// path) finds the same policy as the Mail DNS check for every domain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKnot, type KnotPeer } from '../peers/knot';
import { runReport, createNodeResolver, renderMarkdown, renderText, reportToJson, type CheckResult, type Finding } from '../../client/src/dns';
import { verifyMessage } from '../../client/src/mailAuth/verify';
import { createResolver } from '../../client/src/mailAuth/resolver';
import { ROOT_ZONE, sampleMessage } from '../mailAuth/fixtures';

const ZONE = [
  '$ORIGIN dmarc.test.',
  '$TTL 300',
  '_dmarc.upper IN TXT "V=DMARC1;P=Reject;"',
  '_dmarc.lowerval IN TXT "v=dmarc1; p=reject"',
  '_dmarc.nop IN TXT "v=DMARC1; rua=mailto:agg@dmarc.test"',
  '_dmarc.nopnorua IN TXT "v=DMARC1; adkim=s"',
  '_dmarc.hist IN TXT "v=DMARC1; p=quarantine; pct=50; rf=afrf; ri=3600"',
  '_dmarc.newtags IN TXT "v=DMARC1; p=reject; np=reject; psd=n; t=y"',
  '_dmarc.badnew IN TXT "v=DMARC1; p=reject; np=block; psd=x; t=maybe"',
  '_dmarc.dup IN TXT "v=DMARC1; p=reject; p=none; rua=mailto:dmarc@dup.dmarc.test"',
  '_dmarc.size IN TXT "v=DMARC1; p=none; rua=mailto:a@size.dmarc.test!10m,mailto:b@example.net!10x"',
  '_dmarc.org IN TXT "v=DMARC1; p=reject; sp=quarantine; np=none"',
  'sub.org IN A 192.0.2.1',
  // Meant as DMARC records, but not ones (RFC 9989 §4.8): receivers skip them and org's sp= applies.
  '_dmarc.nosemi.org IN TXT "v=DMARC1 p=reject"',
  'nosemi.org IN A 192.0.2.1',
  '_dmarc.lead.org IN TXT " v=DMARC1; p=reject"',
  'lead.org IN A 192.0.2.1',
  '_dmarc.vlater.org IN TXT "p=reject; v=DMARC1"',
  'vlater.org IN A 192.0.2.1',
  '_dmarc.psd IN TXT "v=DMARC1; p=reject; psd=y"',
  'shop.psd IN A 192.0.2.2',
  '_dmarc.long IN TXT "v=DMARC1; p=quarantine"',
  'a.b.c.d.e.f.g.h.i.j.long IN A 192.0.2.3',
  '_dmarc.multi IN TXT "v=DMARC1; p=reject"',
  '_dmarc.multi IN TXT "v=DMARC1; p=none"',
  '_dmarc.position IN TXT "v=DMARC1; rua=mailto:agg@dmarc.test; p=reject"',
  '',
].join('\n');

interface Case {
  domain: string;
  /** Codes that must be present, with their severity. */
  codes: Array<[string, Finding['severity']]>;
  /** Codes that must be absent. */
  absent?: string[];
  policy?: 'none' | 'quarantine' | 'reject';
  policyTag?: 'p' | 'sp' | 'np' | 'fallback';
  applied?: 'none' | 'quarantine' | 'reject';
  policyDomain?: string;
  organizationalDomain?: string;
  /** The names queried by policy discovery, in order. */
  walk?: string[];
}

const CASES: Case[] = [
  // Each name below dmarc.test is its own Organizational Domain by the tree walk (no _dmarc.dmarc.test),
  // while the public suffix list says dmarc.test: the finding says both.
  {
    domain: 'upper.dmarc.test',
    codes: [['dmarc-org-domain-differs', 'warning']],
    absent: ['dmarc-version', 'dmarc-version-case', 'dmarc-unknown-tag', 'dmarc-bad-value', 'dmarc-syntax', 'dmarc-no-policy'],
    policy: 'reject',
    policyTag: 'p',
    organizationalDomain: 'upper.dmarc.test',
  },
  { domain: 'lowerval.dmarc.test', codes: [['dmarc-version-case', 'error'], ['dmarc-none', 'error']] },
  { domain: 'nop.dmarc.test', codes: [['dmarc-no-policy', 'warning'], ['dmarc-monitoring', 'info']], policy: 'none', policyTag: 'fallback' },
  { domain: 'nopnorua.dmarc.test', codes: [['dmarc-no-policy', 'error']], policy: undefined },
  { domain: 'hist.dmarc.test', codes: [['dmarc-historic-tag', 'warning']], absent: ['dmarc-unknown-tag', 'dmarc-bad-value'], policy: 'quarantine' },
  { domain: 'newtags.dmarc.test', codes: [['dmarc-test-mode', 'info'], ['dmarc-psd', 'info']], absent: ['dmarc-unknown-tag', 'dmarc-bad-value'], policy: 'reject', applied: 'quarantine', organizationalDomain: 'newtags.dmarc.test' },
  // An invalid np= without a valid rua= means no DMARC at all (§4.10.1).
  { domain: 'badnew.dmarc.test', codes: [['dmarc-bad-value', 'error'], ['dmarc-no-policy', 'error']], policy: undefined },
  // A tag twice makes the whole record invalid (§4.7, RFC 6376 §3.2): no policy, even with a valid rua=,
  // and verify decides the same (the last test below).
  { domain: 'dup.dmarc.test', codes: [['dmarc-duplicate-tag', 'error']], absent: ['dmarc-monitoring', 'dmarc-ok'], policy: undefined },
  { domain: 'size.dmarc.test', policy: 'none', codes: [['dmarc-uri-size', 'warning'], ['dmarc-bad-uri-size', 'error']], absent: ['dmarc-external-unauthorized', 'dmarc-external-authorized', 'dmarc-dns-error'] },
  {
    domain: 'sub.org.dmarc.test',
    codes: [['dmarc-org-fallback', 'info'], ['dmarc-org-domain-differs', 'warning']],
    policy: 'quarantine',
    policyTag: 'sp',
    policyDomain: 'org.dmarc.test',
    organizationalDomain: 'org.dmarc.test',
    walk: ['_dmarc.sub.org.dmarc.test', '_dmarc.org.dmarc.test', '_dmarc.dmarc.test', '_dmarc.test'],
  },
  // A subdomain that does not exist gets np= (RFC 9989 §4.10.1).
  { domain: 'ghost.org.dmarc.test', codes: [['dmarc-org-fallback', 'info']], policy: 'none', policyTag: 'np', policyDomain: 'org.dmarc.test' },
  // psd=y stops the walk; the Organizational Domain is one label below the PSD (§4.10.2).
  {
    domain: 'shop.psd.dmarc.test',
    codes: [['dmarc-org-fallback', 'info']],
    policy: 'reject',
    policyDomain: 'psd.dmarc.test',
    organizationalDomain: 'shop.psd.dmarc.test',
    walk: ['_dmarc.shop.psd.dmarc.test', '_dmarc.psd.dmarc.test'],
  },
  // More than 8 labels: the walk goes on at 7 labels, 8 queries at most (§4.10).
  {
    domain: 'a.b.c.d.e.f.g.h.i.j.long.dmarc.test',
    codes: [['dmarc-org-fallback', 'info']],
    policy: 'quarantine',
    policyDomain: 'long.dmarc.test',
    walk: [
      '_dmarc.a.b.c.d.e.f.g.h.i.j.long.dmarc.test',
      '_dmarc.g.h.i.j.long.dmarc.test',
      '_dmarc.h.i.j.long.dmarc.test',
      '_dmarc.i.j.long.dmarc.test',
      '_dmarc.j.long.dmarc.test',
      '_dmarc.long.dmarc.test',
      '_dmarc.dmarc.test',
      '_dmarc.test',
    ],
  },
  // A record that was meant to be DMARC is an error; the parent's policy applies instead (§4.10.1).
  ...['nosemi', 'lead', 'vlater'].map(
    (label): Case => ({
      domain: `${label}.org.dmarc.test`,
      codes: [['dmarc-not-a-record', 'error'], ['dmarc-org-fallback', 'info']],
      absent: ['dmarc-ok', 'dmarc-version-case'],
      policy: 'quarantine',
      policyTag: 'sp',
      policyDomain: 'org.dmarc.test',
    }),
  ),
  { domain: 'multi.dmarc.test', codes: [['dmarc-multiple', 'error'], ['dmarc-none', 'error']] },
  { domain: 'position.dmarc.test', codes: [['dmarc-policy-position', 'info']], policy: 'reject' },
];

let knot: KnotPeer;

before(async () => {
  knot = await startKnot({ zones: { '': ROOT_ZONE, 'dmarc.test': ZONE } });
});

after(async () => {
  await knot?.stop();
});

async function dmarcCheck(domain: string): Promise<CheckResult> {
  const report = await runReport(domain, { resolver: createNodeResolver({ server: knot.address, timeoutMs: 1000, tries: 1 }), probeSelectors: false, timeoutMs: 3000 });
  const check = report.checks.find((c) => c.id === 'dmarc');
  assert.ok(check);
  return check;
}

for (const c of CASES) {
  test(`DMARC (RFC 9989) ${c.domain}: ${c.codes.map(([code]) => code).join(', ')}`, async () => {
    const check = await dmarcCheck(c.domain);
    const dump = JSON.stringify({ findings: check.findings.map((f) => `${f.severity} ${f.code}: ${f.message}`), walk: check.dmarcWalk }, null, 2);
    for (const [code, severity] of c.codes) {
      const f = check.findings.find((x) => x.code === code);
      assert.ok(f, `${code} missing\n${dump}`);
      assert.equal(f.severity, severity, `${code}\n${dump}`);
      assert.match(f.link, /rfc9989|rfc7489|rfc9990/, code);
    }
    for (const code of c.absent ?? []) assert.ok(!check.findings.some((x) => x.code === code), `${code} present\n${dump}`);
    assert.ok(check.dmarcWalk, dump);
    assert.equal(check.dmarcWalk.policy, c.policy, dump);
    if (c.policyTag) assert.equal(check.dmarcWalk.policyTag, c.policyTag, dump);
    if (c.applied) assert.equal(check.dmarcWalk.appliedPolicy, c.applied, dump);
    if (c.policyDomain) assert.equal(check.dmarcWalk.policyDomain, c.policyDomain, dump);
    if (c.organizationalDomain) assert.equal(check.dmarcWalk.organizationalDomain, c.organizationalDomain, dump);
    if (c.walk) assert.deepEqual(check.dmarcWalk.steps.map((s) => s.name), c.walk, dump);
    assert.ok(check.dmarcWalk.stop.length > 0);
  });
}

test('the walk is in the text, Markdown and JSON renderings', async () => {
  const report = await runReport('sub.org.dmarc.test', { resolver: createNodeResolver({ server: knot.address, timeoutMs: 1000, tries: 1 }), probeSelectors: false, timeoutMs: 3000 });
  const text = renderText([report]);
  assert.match(text, /- _dmarc\.sub\.org\.dmarc\.test: the Author Domain; no DMARC record/);
  assert.match(text, /- stopped: no labels remain/);
  assert.match(text, /- policy: sp=quarantine from _dmarc\.org\.dmarc\.test/);
  assert.match(renderMarkdown([report]), /Policy discovery \(DNS Tree Walk\):/);
  const json = reportToJson(report).checks.find((c) => c.id === 'dmarc');
  assert.deepEqual(json?.dmarcWalk?.steps.map((s) => s.outcome), ['no-record', 'record', 'no-record', 'no-record']);
});

test('a record meant to be DMARC names why it is not one and which policy applies instead, and is listed', async () => {
  const why: Record<string, RegExp> = {
    nosemi: /"v=DMARC1" is followed by "p=reject" with no ";" between them/,
    lead: /starts with white space/,
    vlater: /"v=DMARC1" is not its first tag/,
  };
  for (const [label, reason] of Object.entries(why)) {
    const check = await dmarcCheck(`${label}.org.dmarc.test`);
    const f = check.findings.find((x) => x.code === 'dmarc-not-a-record');
    assert.ok(f, label);
    assert.match(f.message, reason, label);
    assert.match(f.message, /the record of org\.dmarc\.test \(sp=quarantine\), found by the DNS Tree Walk, applies to/, label);
    assert.equal(f.record?.name, `_dmarc.${label}.org.dmarc.test`);
    const listed = check.records.filter((r) => r.name === `_dmarc.${label}.org.dmarc.test`);
    assert.equal(listed.length, 1, label);
    assert.equal(listed[0].data, f.record?.text);
  }
  // With no parent record, the finding says that no policy applies.
  const lower = await dmarcCheck('lowerval.dmarc.test');
  assert.match(lower.findings.find((x) => x.code === 'dmarc-version-case')?.message ?? '', /no DMARC policy applies to lowerval\.dmarc\.test/);
});

test('the size suffix is never looked up as part of a host name', async () => {
  const check = await dmarcCheck('size.dmarc.test');
  assert.ok(!check.records.some((r) => r.name.includes('!')), JSON.stringify(check.records));
  const bad = check.findings.find((f) => f.code === 'dmarc-bad-uri-size');
  assert.ok(bad?.record?.range);
  assert.equal(bad.record.text.slice(bad.record.range.start, bad.record.range.end), 'mailto:b@example.net!10x');
});

test('verify finds the same DMARC policy as the Mail DNS check for every domain', async () => {
  for (const c of CASES) {
    const check = await dmarcCheck(c.domain);
    const report = await verifyMessage(sampleMessage(`alice@${c.domain}`), {
      resolver: createResolver({ server: knot.address, timeoutMs: 1000, tries: 1 }),
      ip: '198.51.100.1',
      helo: 'client.example.net',
      mailFrom: 'bounce@example.net',
      authServId: 'mx.test',
      useReceived: false,
    });
    const walk = check.dmarcWalk;
    assert.ok(walk);
    const requested = report.dmarc.details['requested policy'];
    assert.equal(requested, walk.policy ? `${walk.policyTag}=${walk.policy}` : undefined, `${c.domain}: ${JSON.stringify(report.dmarc)}`);
    assert.equal(report.dmarc.details['policy domain'], walk.policy ? walk.policyDomain : report.dmarc.details['policy domain'], c.domain);
    if (walk.policy) {
      assert.equal(report.dmarc.details.policy, walk.appliedPolicy, c.domain);
      // Nothing aligns with example.net, so DMARC fails wherever a policy applies.
      assert.equal(report.dmarc.result, 'fail', c.domain);
    } else {
      assert.equal(report.dmarc.result, 'none', `${c.domain}: ${JSON.stringify(report.dmarc)}`);
    }
    assert.equal(report.dmarc.details['organizational domain']?.split(' ')[0], walk.organizationalDomain, c.domain);
  }
});
