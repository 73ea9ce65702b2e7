// Reverse DNS of DMARC sources (issue 15's gap): each source IP's PTR names and whether one is
// forward-confirmed, looked up after the pure summary through a resolver given as a parameter,
// against Knot on loopback behind the project's DNS forwarder (which drops chosen questions, so a
// timeout is a real one):
// - confirmed, a PTR that does not resolve back, several PTR names, no PTR (NXDOMAIN), a reverse
//   name without a PTR (no data), a PTR query that times out, a forward query that times out;
// - a hostile PTR name with control characters and markup: exact in --json, escaped in the text,
//   Markdown and CSV output, inert in the report view;
// - each IP asked once (the cache keeps answers, not a server's silence), never more than
//   `concurrency` at a time, no more once the server stopped answering; `--no-dns` asks nothing.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createResolver, type MailauthResolver } from '../../client/src/mailAuth/resolver';
import { createWireResolver, type WireRrType } from '../../client/src/dns/wireResolver';
import { summaryCsv, summaryJson, summaryMarkdown, summaryText } from '../../client/src/reports/render';
import { addReverseDns, forwardConfirmedReverseDns, lookupReverseDns, reverseDns, withReverseDns } from '../../client/src/reports/fcrdns';
import { reverseDnsText } from '../../client/src/reports/render';
import { renderReportHtml } from '../../client/src/reports/reportHtml';
import { summariseReportFiles } from '../../client/src/reports/collect';
import { reportCommand } from '../../client/src/cli/reportCommand';
import { captureCli } from '../support/cliCapture';
import { startKnot, type KnotPeer } from '../peers/knot';
import { startDnsForwarder, type DnsForwarder } from '../peers/dnsForwarder';
import { freePort } from '../peers/ports';
import { aggregateXml, type AggregateSpec, type RecordSpec } from './generate';

/**
 * The ESC-and-markup PTR name `evil<ESC>[31m<b>x</b>.example.test` in zone text: every byte that is
 * not a letter or digit as `\DDD` (RFC 1035 §5.1), as Knot's zone parser wants them.
 */
const HOSTILE_ZONE_NAME = `${[...'evil\u001b[31m<b>x</b>'].map((c) => (/[a-z0-9]/.test(c) ? c : `\\${String(c.charCodeAt(0)).padStart(3, '0')}`)).join('')}.example.test.`;

const ZONES = {
  '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa': '1 PTR v6.example.test.',
  'example.test': ['mail A 127.0.0.1', 'other A 127.0.0.99', 'slow A 127.0.0.5', 'mail8 A 127.0.0.8', 'b8 A 127.0.0.80', 'v6 AAAA ::1'].join('\n'),
  '0.0.127.in-addr.arpa': [
    '1 PTR mail.example.test.',
    '2 PTR other.example.test.',
    // 3 has no name at all (NXDOMAIN).
    `4 PTR ${HOSTILE_ZONE_NAME}`,
    '5 PTR slow.example.test.',
    '6 PTR mail.example.test.',
    '7 TXT "a name without a PTR record"',
    '8 PTR b8.example.test.',
    '8 PTR mail8.example.test.',
  ].join('\n'),
};

let knot: KnotPeer;
let forwarder: DnsForwarder;
let dir: string;

function record(sourceIp: string, count: number): RecordSpec {
  return { sourceIp, count, disposition: 'none', dkim: 'pass', spf: 'pass', headerFrom: 'example.com', envelopeFrom: 'example.com', dkimDomain: 'example.com', dkimSelector: 's1', dkimResult: 'pass', spfDomain: 'example.com', spfResult: 'pass' };
}

const SPEC: AggregateSpec = {
  format: 'rfc9990',
  orgName: 'receiver.example',
  email: 'dmarc@receiver.example',
  reportId: 'rdns-1',
  begin: 1767225600,
  end: 1767311999,
  domain: 'example.com',
  p: 'reject',
  records: [record('127.0.0.1', 100), record('127.0.0.2', 90), record('127.0.0.3', 80), record('127.0.0.4', 70), record('127.0.0.6', 60)],
};

/**
 * The project's own DNS client (dns/wireResolver.ts) on the forwarder: it gives a name's octets as
 * they came (c-ares writes the octets it cannot print as `\DDD`), so a PTR name with a raw ESC
 * reaches the summary as it would from any resolver that does not escape.
 */
function wireResolverOf(): MailauthResolver {
  const wire = createWireResolver({ server: forwarder.address, timeoutMs: 1000 });
  return (name, type) => wire(name, type as WireRrType);
}

/** A resolver on the forwarder, one try, a short timeout: a dropped question fails as ETIMEOUT. */
function resolverOf(timeoutMs = 400): MailauthResolver {
  return createResolver({ server: forwarder.address, timeoutMs, tries: 1 });
}

before(async () => {
  knot = await startKnot({ zones: ZONES });
  forwarder = await startDnsForwarder({ upstream: { host: knot.host, port: knot.port } });
  // A forward lookup that never answers (127.0.0.5's PTR name), and a PTR query that never answers (127.0.0.6).
  forwarder.drop.add('slow.example.test A');
  forwarder.drop.add('6.0.0.127.in-addr.arpa PTR');
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-rdns-'));
  writeFileSync(join(dir, 'receiver.example!example.com!1767225600!1767311999.xml'), aggregateXml(SPEC));
});

after(async () => {
  await forwarder?.stop();
  await knot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('reverse DNS of one IP', () => {
  it('tells confirmed, not confirmed, several names, NXDOMAIN, no data and timeouts apart', async () => {
    const r = resolverOf();
    assert.deepEqual(await reverseDns('127.0.0.1', r), { status: 'confirmed', ptrs: ['mail.example.test'], confirmedNames: ['mail.example.test'] });
    assert.deepEqual(await reverseDns('127.0.0.2', r), { status: 'unconfirmed', ptrs: ['other.example.test'], confirmedNames: [] });
    assert.deepEqual(await reverseDns('127.0.0.3', r), { status: 'nxdomain', ptrs: [], confirmedNames: [] });
    assert.deepEqual(await reverseDns('127.0.0.7', r), { status: 'nodata', ptrs: [], confirmedNames: [] });
    const several = await reverseDns('127.0.0.8', r);
    assert.equal(several.status, 'confirmed');
    assert.deepEqual([...several.ptrs].sort(), ['b8.example.test', 'mail8.example.test']);
    assert.deepEqual(several.confirmedNames, ['mail8.example.test']);
    const forwardSilent = await reverseDns('127.0.0.5', r);
    assert.equal(forwardSilent.status, 'failed');
    assert.equal(forwardSilent.failure, 'TIMEOUT');
    assert.deepEqual(forwardSilent.ptrs, ['slow.example.test'], 'the PTR name read before the timeout is kept');
    const ptrSilent = await reverseDns('127.0.0.6', r);
    assert.equal(ptrSilent.status, 'failed');
    assert.equal(ptrSilent.failure, 'TIMEOUT');
    assert.match(ptrSilent.detail ?? '', /^PTR 6\.0\.0\.127\.in-addr\.arpa: ETIMEOUT$/);
    assert.deepEqual(await reverseDns('::1', r), { status: 'confirmed', ptrs: ['v6.example.test'], confirmedNames: ['v6.example.test'] }, 'IPv6: ip6.arpa and AAAA');
    assert.equal((await reverseDns('not-an-ip', r)).status, 'invalid');
    // The words every output uses.
    assert.equal(reverseDnsText(await reverseDns('127.0.0.1', r)), 'mail.example.test (forward-confirmed)');
    assert.equal(reverseDnsText(await reverseDns('127.0.0.2', r)), 'other.example.test (not forward-confirmed)');
    assert.equal(reverseDnsText(await reverseDns('127.0.0.3', r)), 'no PTR (NXDOMAIN)');
    assert.equal(reverseDnsText(ptrSilent), 'lookup failed (TIMEOUT)');
    assert.equal(reverseDnsText(forwardSilent), 'slow.example.test, lookup failed (TIMEOUT)');
  });

  it('the bulk-sender shape is unchanged: one decision for both', async () => {
    const r = resolverOf();
    assert.deepEqual(await forwardConfirmedReverseDns('127.0.0.1', r), { ptr: 'mail.example.test', confirmed: true });
    assert.deepEqual(await forwardConfirmedReverseDns('127.0.0.2', r), { ptr: 'other.example.test', confirmed: false });
    assert.deepEqual(await forwardConfirmedReverseDns('127.0.0.3', r), { confirmed: false });
    const silent = await forwardConfirmedReverseDns('127.0.0.5', r);
    assert.equal(silent.confirmed, false);
    assert.match(silent.error ?? '', /^A slow\.example\.test: ETIMEOUT$/);
  });

  it('keeps a hostile PTR name exact: control characters and markup are data', async () => {
    // c-ares gives the ESC octet in presentation form, the markup as it is.
    const presented = await reverseDns('127.0.0.4', resolverOf());
    assert.deepEqual(presented, { status: 'unconfirmed', ptrs: ['evil\\027[31m<b>x</b>.example.test'], confirmedNames: [] });
    // The project's wire client gives the raw octet.
    const raw = await reverseDns('127.0.0.4', wireResolverOf());
    assert.deepEqual(raw, { status: 'unconfirmed', ptrs: ['evil\u001b[31m<b>x</b>.example.test'], confirmedNames: [] });
  });

  it('escapes a raw hostile PTR name in text, Markdown and CSV, keeps it exact in JSON and inert in the view', async () => {
    const plain = await summariseReportFiles([join(dir, 'receiver.example!example.com!1767225600!1767311999.xml')]);
    const s = await addReverseDns(plain, wireResolverOf(), { timeoutMs: 1500 });
    const text = summaryText(s);
    assert.ok(!text.includes('\u001b'), 'no raw ESC in the terminal text');
    assert.ok(text.includes('rDNS evil\\x1B[31m<b>x</b>.example.test (not forward-confirmed)'), text);
    const md = summaryMarkdown(s);
    assert.ok(!md.includes('\u001b') && !md.includes('<b>'), md);
    const csv = summaryCsv(s);
    assert.ok(!csv.includes('\u001b'));
    assert.ok(csv.includes(',evil\\x1B[31m<b>x</b>.example.test,unconfirmed\r\n'), csv);
    const json = summaryJson(s);
    assert.ok(!json.includes('\u001b'), 'JSON writes the ESC as an escape');
    assert.equal(JSON.parse(json).aggregate.sources.find((x: { sourceIp: string }) => x.sourceIp === '127.0.0.4').reverseDns.ptrs[0], 'evil\u001b[31m<b>x</b>.example.test');
    const html = renderReportHtml(s, { cspSource: 'vscode-webview://x', nonce: 'Bm9uY2Utbm9uY2Utbm9uY2U', actions: true });
    assert.ok(!html.includes('\u001b'));
    assert.ok(!html.includes('<b>x</b>'), 'no element from a PTR name');
    assert.ok(html.includes('evil\\x1B[31m&lt;b&gt;x&lt;/b&gt;.example.test (not forward-confirmed)'));
  });
});

describe('reverse DNS of many sources', () => {
  it('asks each IP once, never more than the concurrency at a time, keeps answers but not silence, and caps each IP at its timeout', async () => {
    let inFlight = 0;
    let most = 0;
    const asked: string[] = [];
    // The resolver's own timeout ends a silent query, so that no query outlives its lookup and the count of those in flight is true.
    const inner = resolverOf(300);
    const counting: MailauthResolver = async (name, type) => {
      asked.push(`${name} ${type}`);
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        return await inner(name, type);
      } finally {
        inFlight--;
      }
    };
    const cache = new Map();
    const ips = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.6', '127.0.0.7', '127.0.0.8', '127.0.0.1'];
    const { found, leftOutBecause } = await lookupReverseDns(ips, counting, { concurrency: 2, timeoutMs: 5000, cache });
    assert.equal(leftOutBecause, undefined);
    assert.equal(found.size, 7);
    assert.ok(most <= 2, `at most 2 lookups at a time (${most})`);
    assert.equal(asked.filter((q) => q === '1.0.0.127.in-addr.arpa PTR').length, 1, 'a repeated IP is asked once');
    const silent = found.get('127.0.0.6');
    assert.equal(silent?.status, 'failed');
    assert.equal(silent?.failure, 'TIMEOUT');
    assert.match(silent?.detail ?? '', /^PTR 6\.0\.0\.127\.in-addr\.arpa: ETIMEOUT$/);
    // A resolver slower than the lookup's timeout: the lookup ends at its own timeout.
    const capped = await lookupReverseDns(['127.0.0.6'], resolverOf(2000), { timeoutMs: 300 });
    assert.equal(capped.found.get('127.0.0.6')?.failure, 'TIMEOUT');
    assert.match(capped.found.get('127.0.0.6')?.detail ?? '', /^no answer about 127\.0\.0\.6 within 300 ms$/);
    // The same cache again: only the IP whose server did not answer is asked again.
    const before = asked.length;
    const { found: again } = await lookupReverseDns(ips, counting, { concurrency: 2, timeoutMs: 5000, cache });
    assert.deepEqual(asked.slice(before), ['6.0.0.127.in-addr.arpa PTR']);
    assert.deepEqual(again.get('127.0.0.1'), found.get('127.0.0.1'));
    // A limit leaves the rest out, and the summary says so.
    const limited = await lookupReverseDns(ips, counting, { limit: 2, cache });
    assert.deepEqual([...limited.found.keys()].sort(), ['127.0.0.1', '127.0.0.2']);
    assert.equal(limited.leftOutBecause, 'limit');
  });

  it('stops once the DNS server has not answered a whole round, so that a job without DNS is not held up per source', async () => {
    // A port where nothing listens: every query fails at once as unreachable (or times out).
    const nobody = createResolver({ server: `127.0.0.1:${await freePort({ udp: true })}`, timeoutMs: 300, tries: 1 });
    const ips = Array.from({ length: 40 }, (_, i) => `127.0.1.${i + 1}`);
    const { found, leftOutBecause } = await lookupReverseDns(ips, nobody, { concurrency: 2, giveUpAfter: 4, timeoutMs: 500 });
    assert.equal(leftOutBecause, 'unanswered');
    assert.ok(found.size >= 4 && found.size <= 6, `a round or two, not all 40 (${found.size})`);
    for (const r of found.values()) assert.equal(r.status, 'failed');
    const s = withReverseDns(await summariseReportFiles([join(dir, 'receiver.example!example.com!1767225600!1767311999.xml')]), new Map(), 'unanswered');
    assert.match(summaryText(s), /reverse DNS: 0 source\(s\) looked up; 5 not looked up \(the DNS server stopped answering\)/);
  });

  it('joins the lookups into the summary without touching the pure summary', async () => {
    const plain = await summariseReportFiles([join(dir, 'receiver.example!example.com!1767225600!1767311999.xml')]);
    const joined = await addReverseDns(plain, resolverOf(), { timeoutMs: 1500 });
    assert.equal(plain.aggregate.reverseDns, undefined, 'the summary given is left as it was');
    assert.equal(plain.aggregate.sources[0].reverseDns, undefined);
    assert.deepEqual(joined.aggregate.reverseDns, { lookedUp: 5, leftOut: 0, byStatus: { confirmed: 1, unconfirmed: 2, nxdomain: 1, failed: 1 }, failures: { TIMEOUT: 1 } });
    const partial = withReverseDns(plain, new Map([['127.0.0.1', { status: 'confirmed' as const, ptrs: ['mail.example.test'], confirmedNames: ['mail.example.test'] }]]));
    assert.equal(partial.aggregate.reverseDns?.leftOut, 4);
  });
});

describe('smtpwb report with reverse DNS', () => {
  const run = (args: string[]) => captureCli(reportCommand, args, { cwd: dir });

  it('prints each source with its PTR name, forward-confirmed or not, and a failed lookup as failed; hostile names escaped', async () => {
    const r = await run(['.', '--dns-server', forwarder.address, '--dns-timeout', '600']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /reverse DNS: 5 source\(s\) looked up: 1 forward-confirmed, 2 not confirmed, 1 without PTR, 1 lookup\(s\) failed \(TIMEOUT 1\)/);
    assert.match(r.out, /127\.0\.0\.1 .* rDNS mail\.example\.test \(forward-confirmed\)/);
    assert.match(r.out, /127\.0\.0\.2 .* rDNS other\.example\.test \(not forward-confirmed\)/);
    assert.match(r.out, /127\.0\.0\.3 .* rDNS no PTR \(NXDOMAIN\)/);
    assert.match(r.out, /127\.0\.0\.6 .* rDNS lookup failed \(TIMEOUT\)/);
    assert.ok(!r.out.includes('\u001b'), 'no raw ESC reaches the terminal');
    // c-ares gave the ESC octet as `\027`: printable, shown as it came.
    assert.ok(r.out.includes('rDNS evil\\027[31m<b>x</b>.example.test (not forward-confirmed)'), r.out);
  });

  it('--json keeps the PTR name as the resolver gave it, --markdown and --csv escape it', async () => {
    const json = await run(['.', '--json', '--dns-server', forwarder.address, '--dns-timeout', '600']);
    assert.equal(json.code, 0, json.err);
    assert.ok(!json.out.includes('\u001b'));
    const parsed = JSON.parse(json.out);
    const hostile = parsed.aggregate.sources.find((x: { sourceIp: string }) => x.sourceIp === '127.0.0.4');
    assert.deepEqual(hostile.reverseDns, { status: 'unconfirmed', ptrs: ['evil\\027[31m<b>x</b>.example.test'], confirmedNames: [] });
    const timedOut = parsed.aggregate.sources.find((x: { sourceIp: string }) => x.sourceIp === '127.0.0.6');
    assert.equal(timedOut.reverseDns.status, 'failed');
    assert.equal(timedOut.reverseDns.failure, 'TIMEOUT');
    const md = await run(['.', '--markdown', '--dns-server', forwarder.address, '--dns-timeout', '600']);
    assert.ok(!md.out.includes('\u001b'));
    assert.ok(!md.out.includes('<b>'), 'no markup reaches Markdown');
    assert.match(md.out, /\| Source IP \| Reverse DNS \| Messages \|/);
    const csv = await run(['.', '--csv', '--dns-server', forwarder.address, '--dns-timeout', '600']);
    assert.match(csv.out.split('\r\n')[0], /,detail,ptr,fcrdns$/);
    assert.ok(csv.out.includes(',mail.example.test,confirmed\r\n'));
    assert.ok(csv.out.includes(',,failed:TIMEOUT\r\n'));
    assert.ok(!csv.out.includes('\u001b'));
    for (const line of csv.out.trimEnd().split('\r\n')) assert.equal(line.split(',').length >= 11, true, line);
  });

  it('--no-dns asks nothing and says the sources were not looked up', async () => {
    const before = forwarder.count();
    const r = await run(['.', '--no-dns']);
    assert.equal(r.code, 0, r.err);
    assert.equal(forwarder.count(), before);
    assert.match(r.out, /reverse DNS: not looked up/);
    assert.ok(!r.out.includes('rDNS'));
    assert.equal((await run(['.', '--no-dns', '--dns-server', forwarder.address])).code, 2);
    assert.equal((await run(['.', '--dns-timeout', 'soon'])).code, 2);
  });

  it('the report view shows the PTR names as inert text in a Reverse DNS column', async () => {
    const summary = await addReverseDns(await summariseReportFiles([join(dir, 'receiver.example!example.com!1767225600!1767311999.xml')]), wireResolverOf(), { timeoutMs: 1500 });
    const html = renderReportHtml(summary, { cspSource: 'vscode-webview://x', nonce: 'Bm9uY2Utbm9uY2Utbm9uY2U' });
    assert.ok(!html.includes('\u001b'));
    assert.ok(!html.includes('<b>x</b>'), 'no element from a PTR name');
    assert.ok(html.includes('evil\\x1B[31m&lt;b&gt;x&lt;/b&gt;.example.test (not forward-confirmed)'));
    assert.match(html, /<table data-sortable id="sources"><thead><tr><th scope="col"><button[^>]*>Source IP<\/button><\/th><th scope="col"><button[^>]*>Reverse DNS<\/button>/);
    assert.match(html, /<td class="wrap good" title="a PTR name resolves back to the IP"><span aria-hidden="true">✓ <\/span>mail\.example\.test \(forward-confirmed\)<\/td>/);
    assert.match(html, /<td class="wrap warn" title="the lookup failed \(TIMEOUT\): not decided"><span aria-hidden="true">\? <\/span>lookup failed \(TIMEOUT\)<\/td>/);
    assert.match(html, /Reverse DNS: 5 source\(s\) looked up: .*No AS numbers/);
  });
});
