// Unit tests of the mail DNS parsers, the DNS client, the sidebar's tree model and the renderers,
// with an in-memory resolver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsClient, type MxData, type RawResolver, reverseName } from '../../client/src/dns/resolver';
import { parseSpf } from '../../client/src/dns/spfParse';
import { checkBimiSvg } from '../../client/src/dns/bimiSvg';
import { parseTagList } from '../../common/tagList';
import { matchesMxPattern, mxPatternProblem, parseStsPolicy } from '../../client/src/dns/mtaSts';
import { intendedRecordProblem } from '../../client/src/dns/versionTag';
import { intendedDmarcRecordProblem } from '../../client/src/dns/dmarcDiscovery';
import { renderMarkdown, renderText, reportToJson, runReport, normalizeDomain } from '../../client/src/dns/index';
import { pslOrgDomain } from '../../client/src/dns/context';
import { buildDomainNode, parseSelectorInput, rememberRecent } from '../../client/src/views/mailDnsTree';
import { parseDnsArgs } from '../../client/src/cli/dnsCommand';

/** An in-memory resolver: zone data by "TYPE name"; absent names give NXDOMAIN, a delay per answer. */
function memoryResolver(data: Record<string, unknown[]>, delayMs = 0): RawResolver & { calls: string[] } {
  const calls: string[] = [];
  const names = new Set(Object.keys(data).map((k) => k.split(' ')[1]));
  const answer = async <T>(type: string, name: string): Promise<T[]> => {
    calls.push(`${type} ${name}`);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    const v = data[`${type} ${name}`];
    if (v) return v as T[];
    throw Object.assign(new Error(`${type} ${name}`), { code: names.has(name) ? 'ENODATA' : 'ENOTFOUND' });
  };
  return {
    calls,
    resolve4: (n) => answer<string>('A', n),
    resolve6: (n) => answer<string>('AAAA', n),
    resolveMx: (n) => answer<MxData>('MX', n),
    resolveTxt: (n) => answer<string[]>('TXT', n),
    resolveCname: (n) => answer<string>('CNAME', n),
    resolvePtr: (n) => answer<string>('PTR', n),
  };
}

test('SPF parser: terms, qualifiers, CIDR, and the column of each problem', () => {
  const p = parseSpf('v=spf1 -ip4:192.0.2.0/24 a:mail.example.com/28//64 mx/30 ~all');
  assert.deepEqual(p.errors, []);
  assert.equal(p.terms.length, 4);
  const [ip4, a, mx, all] = p.terms;
  assert.ok(ip4.kind === 'mechanism' && ip4.qualifier === '-' && ip4.cidr4 === 24);
  assert.ok(a.kind === 'mechanism' && a.value === 'mail.example.com' && a.cidr4 === 28 && a.cidr6 === 64);
  assert.ok(mx.kind === 'mechanism' && mx.cidr4 === 30 && mx.value === undefined);
  assert.ok(all.kind === 'mechanism' && all.qualifier === '~');

  const cases: Array<[string, number, string]> = [
    ['v=spf1 ip4:10.0.0.1/33 -all', 20, '/33'],
    ['v=spf1 foo -all', 8, 'foo'],
    ['v=spf1 include:example -all', 16, 'example'],
    ['v=spf1 ip6:2001:db8::zz -all', 12, '2001:db8::zz'],
    ['v=spf1 a:%{q}.example.com -all', 10, '%{q}'],
    ['v=spf1 exists:%{i}.%{c}.example.com', 20, '%{c}'],
    ['v=spf1 all:x', 11, ':x'],
    // RFC 7208 §5.6: a bare ip6 and a malformed address are errors (the second address is ":CAFE::BABE").
    ['v=spf1 ip6 -all', 8, 'ip6'],
    ['v=spf1 ip6::CAFE::BABE -all', 12, ':CAFE::BABE'],
    ['v=spf1 ip6:1:2:3:4:5:6:7:8:9 -all', 12, '1:2:3:4:5:6:7:8:9'],
    // §7.1: c, r and t are only for explanation strings, not for exp='s domain.
    ['v=spf1 -all exp=%{r}.example.com', 17, '%{r}'],
  ];
  for (const [record, column, text] of cases) {
    const r = parseSpf(record);
    assert.equal(r.errors.length, 1, `${record}: ${JSON.stringify(r.errors)}`);
    assert.equal(r.errors[0].range.start + 1, column, record);
    assert.equal(record.slice(r.errors[0].range.start, r.errors[0].range.end), text, record);
  }
  // Macros are parsed; %% %_ %- and exp's c/r/t letters are fine where allowed.
  assert.deepEqual(parseSpf('v=spf1 exists:%{ir}.%{l1r+-}.%%._spf.%{d} exp=explain.%{d2} -all').errors, []);
  assert.equal(parseSpf('v=spf1 ip6:::1 ip6:::ffff:192.0.2.1/128 -all').errors.length, 0);
  // A target name that can never be a DNS name is reported, and marked so evaluation treats it as
  // a name that does not exist (RFC 7208 §4.3, §5) rather than as a syntax error.
  const long = parseSpf(`v=spf1 a:${'x'.repeat(64)}.example.com a:mail.example...com -all`);
  assert.equal(long.errors.length, 2);
  assert.ok(long.errors.every((e) => e.nonExistentName === true));
});

test('tag lists keep ranges and report duplicates and bad specs', () => {
  const t = parseTagList('v=DMARC1; p=none; p=reject; junk');
  assert.equal(t.tags.length, 3);
  assert.equal(t.duplicates.length, 1);
  assert.equal(t.duplicates[0].value, 'reject');
  assert.equal(t.errors.length, 1);
  assert.deepEqual(t.errors[0].range, { start: 28, end: 32 });
  const spaced = parseTagList(' k = rsa ;  p = AB CD ');
  assert.equal(spaced.tags[1].value, 'AB CD');
  assert.equal(spaced.tags[0].name, 'k');
});

test('MTA-STS: a wildcard covers exactly one label (RFC 8461 §4.1); the policy parser', () => {
  assert.equal(matchesMxPattern('mail.example.com', '*.example.com'), true);
  assert.equal(matchesMxPattern('a.b.example.com', '*.example.com'), false);
  assert.equal(matchesMxPattern('example.com', '*.example.com'), false);
  assert.equal(matchesMxPattern('MX.Example.com.', 'mx.example.com'), true);
  const p = parseStsPolicy('version: STSv1\r\nmode: enforce\r\nmx: a.example.com\r\nmx: *.example.net\r\nmax_age: 86400\r\n');
  assert.equal(p.version, 'STSv1');
  assert.equal(p.mode, 'enforce');
  assert.equal(p.maxAge, 86400);
  assert.deepEqual(p.mx.map((m) => m.value), ['a.example.com', '*.example.net']);
  assert.deepEqual(p.errors, []);
});

test('MTA-STS mx: patterns: a wildcard only as the whole leftmost label (RFC 8461 §3.2, §4.1)', () => {
  for (const ok of ['mail.example.com', '*.example.com', 'mx1.example.com.', 'xn--bcher-kva.example']) assert.equal(mxPatternProblem(ok), undefined, ok);
  for (const bad of ['mx.*.example.com', '*mx.example.com', '*.*.example.com', 'mx..example.com', '*.', '', 'mx_1.example.com', 'mx.example.com*']) {
    assert.ok(mxPatternProblem(bad), bad);
  }
});

test('records meant for DMARC, MTA-STS or TLS-RPT that are not ones, and records that were not meant', () => {
  assert.equal(intendedDmarcRecordProblem('v=DMARC1; p=reject'), undefined);
  assert.equal(intendedDmarcRecordProblem('google-site-verification=abc'), undefined);
  // The miscased one has its own finding (dmarc-version-case).
  assert.equal(intendedDmarcRecordProblem('v=dmarc1; p=reject'), undefined);
  assert.match(intendedDmarcRecordProblem('v=DMARC1 p=reject') ?? '', /no ";"/);
  assert.match(intendedDmarcRecordProblem('\tv=DMARC1; p=reject') ?? '', /white space/);
  assert.match(intendedDmarcRecordProblem('p=reject; V=dmarc1') ?? '', /not its first tag.*exactly "DMARC1"/);
  assert.equal(intendedRecordProblem('v=STSv1; id=1', 'STSv1'), undefined);
  assert.equal(intendedRecordProblem('v=spf1 -all', 'STSv1'), undefined);
  assert.match(intendedRecordProblem('v=stsv1; id=1', 'STSv1') ?? '', /"stsv1", but it must be exactly "STSv1"/);
  assert.match(intendedRecordProblem('rua=mailto:a@example.com; v=TLSRPTv1', 'TLSRPTv1') ?? '', /not its first field/);
});

test('reverse names for IPv4 and IPv6', () => {
  assert.equal(reverseName('192.0.2.1'), '1.2.0.192.in-addr.arpa');
  assert.equal(reverseName('::1'), `1.${'0.'.repeat(31)}ip6.arpa`);
  assert.equal(reverseName('2001:db8::10'), '0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
});

test('the organizational domain: the public suffix list, and unknown TLDs as suffixes', () => {
  assert.equal(pslOrgDomain('sub.example.test'), 'example.test');
  assert.equal(pslOrgDomain('a.b.example.co.uk'), 'example.co.uk');
  assert.equal(pslOrgDomain('example.com'), 'example.com');
});

test('the DNS client runs each query once and counts the dependency depth', async () => {
  const resolver = memoryResolver({ 'MX example.com': [{ exchange: 'mx.example.com', priority: 10 }], 'A mx.example.com': ['192.0.2.1'] });
  const dns = new DnsClient(resolver);
  const [a, b] = await Promise.all([dns.query('example.com', 'MX'), dns.query('Example.COM.', 'MX')]);
  assert.equal(a, b);
  const addr = await dns.query('mx.example.com', 'A', [a]);
  assert.equal(addr.depth, 2);
  assert.equal(dns.depth, 2);
  assert.equal(resolver.calls.filter((c) => c === 'MX example.com').length, 1);
  const missing = await dns.query('nope.example.com', 'TXT');
  assert.equal(missing.status, 'nxdomain');
  const nodata = await dns.query('mx.example.com', 'TXT');
  assert.equal(nodata.status, 'nodata');
});

test('a report costs about (depth + 1) round trips, not one per query', async () => {
  const data: Record<string, unknown[]> = {
    'MX example.com': [{ exchange: 'mx.example.com', priority: 10 }],
    'A mx.example.com': ['192.0.2.1'],
    'PTR 1.2.0.192.in-addr.arpa': ['mx.example.com'],
    'TXT example.com': [['v=spf1 mx include:_spf.example.com -all']],
    'TXT _spf.example.com': [['v=spf1 include:_spf2.example.com -all']],
    'TXT _spf2.example.com': [['v=spf1 ip4:192.0.2.0/24 -all']],
    'TXT _dmarc.example.com': [['v=DMARC1; p=reject']],
  };
  const resolver = memoryResolver(data, 25);
  const started = Date.now();
  const r = await runReport('example.com', { resolver, probeSelectors: true });
  const elapsed = Date.now() - started;
  assert.ok(resolver.calls.length > 20, `${resolver.calls.length} queries`);
  // One query after another would take more than a second; concurrently it is a few round trips.
  assert.ok(elapsed < (r.depth + 1) * 25 + 150, `${elapsed} ms for depth ${r.depth}`);
});

test('the sidebar tree: a node per check, a child per finding, raw records and the SPF tree', async () => {
  const resolver = memoryResolver({
    'MX example.com': [{ exchange: 'mx.example.com', priority: 10 }],
    'A mx.example.com': ['192.0.2.1'],
    'TXT example.com': [['v=spf1 ptr +all']],
  });
  const report = await runReport('example.com', { resolver, probeSelectors: false, clock: { now: () => 0 } });
  const node = buildDomainNode({ domain: 'example.com', report, running: false, selectors: [] });
  assert.equal(node.icon, 'error');
  assert.match(node.description ?? '', /errors?, \d+ warnings?/);
  const spf = node.children.find((c) => c.kind === 'check' && c.checkId === 'spf');
  assert.ok(spf);
  const codes = spf.children.filter((c) => c.kind === 'finding').map((c) => (c.kind === 'finding' ? c.code : ''));
  assert.ok(codes.includes('spf-all-pass') && codes.includes('spf-ptr'));
  assert.ok(spf.children.some((c) => c.label === 'Raw records'));
  assert.ok(spf.children.some((c) => c.label === 'Include and redirect tree'));
  const finding = spf.children.find((c) => c.kind === 'finding');
  assert.equal(finding?.contextValue, 'mailDnsFinding');
  assert.match(finding?.kind === 'finding' ? finding.link : '', /rfc7208#section-/);
  const ids = new Set<string>();
  const walk = (n: { id: string; children: Array<{ id: string; children: unknown[] }> }): void => {
    assert.ok(!ids.has(n.id), `duplicate id ${n.id}`);
    ids.add(n.id);
    for (const c of n.children) walk(c as typeof n);
  };
  walk(node);
  const running = buildDomainNode({ domain: 'example.com', running: true, selectors: ['s1'] });
  assert.equal(running.icon, 'running');
  assert.deepEqual(rememberRecent(['a.com', 'b.com'], 'b.com'), ['b.com', 'a.com']);
  assert.deepEqual(parseSelectorInput('s1, s2 s1'), { selectors: ['s1', 's2'] });
  assert.ok('error' in parseSelectorInput('bad/selector'));
});

test('Markdown and JSON renderings carry codes, ranges and raw records', async () => {
  const resolver = memoryResolver({ 'TXT example.com': [['v=spf1 ip4:192.0.2.300 -all']] });
  const report = await runReport('example.com', { resolver, probeSelectors: false, clock: { now: () => 0 } });
  const md = renderMarkdown([report]);
  assert.match(md, /^# Mail DNS report for example\.com/);
  assert.match(md, /`spf-syntax`/);
  assert.match(md, /column 12/);
  assert.match(md, /Raw records/);
  const json = reportToJson(report);
  const spf = json.checks.find((c) => c.id === 'spf');
  const f = spf?.findings.find((x) => x.code === 'spf-syntax');
  assert.deepEqual(f?.record?.range, { start: 11, end: 22 });
  assert.equal(spf?.status, 'error');
});

test('Markdown shows DNS text inert: control characters visible, Markdown specials escaped (common/escape.ts)', async () => {
  const resolver = memoryResolver({ 'TXT example.com': [['v=spf1 a:*bold*|cell\u001b[31m.example -all']] });
  const report = await runReport('example.com', { resolver, probeSelectors: false, clock: { now: () => 0 } });
  const md = renderMarkdown([report]);
  assert.ok(!md.includes('\u001b'), 'no raw escape character');
  assert.match(md, /\\x1B\[31m/i);
  // Outside code spans (inert already), the record's Markdown specials are escaped.
  for (const line of md.split('\n').filter((l) => l.startsWith('- '))) {
    const prose = line.replace(/`[^`]*`/g, '');
    assert.ok(!/(^|[^\\])\*bold\*/.test(prose), `emphasis escaped in: ${line}`);
  }
  // The finding's own text quotes the character with a backslash, which Markdown must keep.
  assert.match(md, /the character "\\\\u001b" is not allowed/);
});

test('CLI arguments and domain names', () => {
  const a = parseDnsArgs(['example.com', '--selector', 's1', '--selector=s2', '--dns-server', '127.0.0.1:5353', '--json', '--probe-starttls']);
  assert.ok(!('error' in a));
  assert.deepEqual(a.selectors, ['s1', 's2']);
  assert.equal(a.server, '127.0.0.1:5353');
  assert.ok('error' in parseDnsArgs([]));
  assert.ok('error' in parseDnsArgs(['example.com', '--dns-server', 'dns example:53']));
  assert.ok('error' in parseDnsArgs(['example.com', '--bogus']));
  assert.ok(!('error' in parseDnsArgs(['example.com', '--dns-server', '[::1]:53'])));
  assert.deepEqual(normalizeDomain('Bücher.Example.'), { domain: 'xn--bcher-kva.example' });
  assert.ok('error' in normalizeDomain('localhost'));
  assert.ok('error' in normalizeDomain('exa mple.com'));
});

test('SPF with an in-memory zone: mx limit, include and redirect without records, terms after all', async () => {
  const mx = Array.from({ length: 11 }, (_, i) => ({ exchange: `mx${i}.example.com`, priority: i }));
  const resolver = memoryResolver({
    'TXT example.com': [['v=spf1 mx:many.example.com include:none.example.com -all include:late.example.com']],
    'MX many.example.com': mx,
    'TXT none.example.com': [['google-site-verification=abc']],
    'TXT late.example.com': [['v=spf1 -all']],
    'TXT redir.example.com': [['v=spf1 redirect=gone.example.com']],
  });
  const r = await runReport('example.com', { resolver, probeSelectors: false });
  const spf = r.checks.find((c) => c.id === 'spf')!;
  const codes = spf.findings.map((f) => f.code);
  assert.ok(codes.includes('spf-mx-limit'), codes.join(', '));
  assert.ok(codes.includes('spf-include-none'), codes.join(', '));
  assert.ok(codes.includes('spf-after-all'), codes.join(', '));
  // The include after "all" is neither counted nor followed.
  assert.match(spf.findings.find((f) => f.code === 'spf-lookup-count')!.message, /^2 of 10/);
  assert.ok(!resolver.calls.includes('TXT late.example.com'));
  const redir = await runReport('redir.example.com', { resolver, probeSelectors: false });
  assert.ok(redir.checks.find((c) => c.id === 'spf')!.findings.some((f) => f.code === 'spf-redirect-none'));
});

test('a malformed %-escape in a DMARC rua= is a finding, not a failed report', async () => {
  const { parseDmarcUris } = await import('../../client/src/dns/dmarc');
  const { parseTagList } = await import('../../common/tagList');
  const text = 'v=DMARC1; p=none; rua=mailto:dmarc%zz@example.com';
  const tag = parseTagList(text, { lowerCaseNames: true }).tags.find((t) => t.name === 'rua')!;
  const findings: import('../../client/src/dns/types').Finding[] = [];
  assert.doesNotThrow(() => parseDmarcUris(tag, 'rua', text, findings));
  assert.ok(findings.some((f) => f.code === 'dmarc-bad-uri'), JSON.stringify(findings));
});

test('SVG Tiny PS rules for BIMI logos, one code per problem', () => {
  const good = '<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 64 64"><title>Brand</title><path d="M0 0h64v64H0z"/></svg>';
  assert.deepEqual(checkBimiSvg(good), []);
  const cases: Array<[string, string[]]> = [
    [good.replace('<title>Brand</title>', ''), ['bimi-svg-title']],
    [`<!DOCTYPE svg [<!ENTITY x "y">]>${good}`, ['bimi-svg-doctype']],
    [good.replace('<path', '<style>@import url(https://x.example/a.css);</style><path'), ['bimi-svg-external-reference']],
    [good.replace('<path', '<animate attributeName="x"/><path'), ['bimi-svg-forbidden-element']],
    [good.replace('<path', '<use xlink:href="#p"/><path'), []],
    [good.replace('viewBox="0 0 64 64"', ''), ['bimi-svg-viewbox']],
    ['<html><svg/></html>', ['bimi-svg-root']],
    [`${good}<!--${'x'.repeat(33 * 1024)}-->`, ['bimi-svg-size']],
  ];
  for (const [svg, codes] of cases) assert.deepEqual(checkBimiSvg(svg).map((p) => p.code), codes, svg.slice(0, 120));
});

test('a check with no finding at all is shown as such, never as "pass"', async () => {
  const resolver = memoryResolver({ 'TXT example.com': [['v=spf1 -all']] });
  const report = await runReport('example.com', { resolver, probeSelectors: false, clock: { now: () => 0 } });
  report.checks.push({ id: 'transport', title: 'Transport security', findings: [], records: [] });
  assert.equal(reportToJson(report).checks.find((c) => c.id === 'transport')?.status, 'empty');
  assert.match(renderMarkdown([report]), /\| Transport security \| no findings \|/);
  assert.match(renderText([report]), /^ {2}Transport security \(no findings\)$/m);
});

test('the sidebar shows a check with no finding as neutral ("no findings"), never as pass, as the CLI\'s report does', async () => {
  const resolver = memoryResolver({ 'TXT example.com': [['v=spf1 -all']] });
  const report = await runReport('example.com', { resolver, probeSelectors: false, clock: { now: () => 0 } });
  report.checks.push({ id: 'transport', title: 'Transport security', findings: [], records: [] });
  const node = buildDomainNode({ domain: 'example.com', running: false, selectors: [], report });
  const transport = node.children.find((c) => c.kind === 'check' && c.checkId === 'transport');
  assert.ok(transport);
  assert.equal(transport.icon, 'empty');
  assert.equal(transport.description, 'no findings');
  assert.equal(reportToJson(report).checks.find((c) => c.id === 'transport')?.status, transport.icon);
  // A domain whose report has no finding at all is not a pass either.
  const bare = buildDomainNode({ domain: 'example.com', running: false, selectors: [], report: { ...report, checks: [report.checks[report.checks.length - 1]] } });
  assert.equal(bare.icon, 'empty');
});

test('the sidebar accepts exactly the DKIM selectors `smtpwb dns --selector` accepts (one rule, common/dnsName.ts)', () => {
  for (const selector of ['s1', 'k1.mail', 'x'.repeat(63), '_tag', 'a..b', 'x'.repeat(64), 'a.', '.a', '-a', 'a-', 'bad/selector', 'é']) {
    const cli = parseDnsArgs(['example.com', '--selector', selector]);
    const sidebar = parseSelectorInput(selector, 'example.com');
    assert.equal('error' in sidebar, 'error' in cli, `${selector}: sidebar ${JSON.stringify(sidebar)}, CLI ${JSON.stringify(cli)}`);
  }
  assert.deepEqual(parseSelectorInput('s1, k1.mail s1', 'example.com'), { selectors: ['s1', 'k1.mail'] });
  // The whole name must fit in 253 characters: the domain is part of the check.
  const selector = `${'s'.repeat(63)}.${'s'.repeat(63)}.${'s'.repeat(63)}`;
  assert.ok(!('error' in parseSelectorInput(selector)));
  assert.match(String((parseSelectorInput(selector, `${'d'.repeat(40)}.example.com`) as { error: string }).error), /longer than a DNS name/);
  // What the user typed is shown escaped in the input box's message.
  assert.doesNotMatch(String((parseSelectorInput('a\u001b[31m') as { error: string }).error), /\u001b/);
});
