// The RFC 7208 conformance scenarios as the project's own fixtures (fixtures/rfc7208/*.json, one
// file per section of the scenarios: the zone record by record and the cases with the section of
// RFC 7208 each one exercises): each scenario's zone is served by a real Knot (as the root zone,
// through a forwarder that drops the queries the fixture marks as timing out), and every case is
// evaluated by the product's SPF evaluator and by pyspf (Debian python3-spf) in the same run. The
// product must give the expected result on every case; pyspf's agreement is printed for comparison.
//
// Fixture format: { section, rfc, zone: ZoneEntry[], cases: Case[] }. A zone entry is either a
// record { name, type, data } (TXT and SPF data: the record's character-strings, each character
// U+0000..U+00FF one octet; A/AAAA: the address; MX: { preference, exchange }; PTR/CNAME: the
// target name) or { name, type, timeout: true }: every query for that name and type goes unanswered.
// A case is { id, spec, ip, helo, mailFrom, expect: results, explanation?, pyspfStrict? }; when
// `explanation` is given, the fail result's explanation text must be exactly that ("DEFAULT" for the
// evaluator's default). pyspfStrict is the strictness pyspf is run with for that case (default 1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as dnsPromises } from 'node:dns';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startKnot, type KnotPeer } from '../peers/knot';
import { repoPath } from '../smtp/repoRoot';
import { startDnsForwarder, type DnsForwarder } from '../peers/dnsForwarder';
import { evaluateSpf } from '../../client/src/dns/spfEval';
import { createWireResolver } from '../../client/src/dns/wireResolver';
import { mailauth } from '../../client/src/mailAuth/mailauthApi';

const HERE = repoPath('test', 'standards');
const FIXTURES = join(HERE, 'fixtures', 'rfc7208');

type ZoneEntry =
  | { name: string; type: 'TXT' | 'SPF'; data: string[] }
  | { name: string; type: 'A' | 'AAAA' | 'PTR' | 'CNAME'; data: string }
  | { name: string; type: 'MX'; data: { preference: number; exchange: string } }
  | { name: string; type: string; timeout: true };

interface Case {
  id: string;
  spec: string;
  ip: string;
  helo: string;
  mailFrom: string;
  expect: string[];
  explanation?: string;
  pyspfStrict?: number;
}

interface Fixture {
  section: string;
  rfc: string;
  zone: ZoneEntry[];
  cases: Case[];
}

interface Scenario {
  section: string;
  zone: string;
  timeouts: string[];
  cases: Case[];
}

/** One octet string in zone-file syntax: printable ASCII as is, the rest as \DDD (RFC 1035 §5.1). */
function zoneOctets(text: string, quotedString: boolean): string {
  let out = '';
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    const bytes = code > 0xff ? [...Buffer.from(ch, 'utf8')] : [code];
    for (const b of bytes) {
      const c = String.fromCharCode(b);
      const plain = quotedString ? b >= 0x20 && b < 0x7f && c !== '"' && c !== '\\' : /[A-Za-z0-9\-_*]/.test(c);
      out += plain ? c : `\\${String(b).padStart(3, '0')}`;
    }
  }
  return out;
}

function ownerName(name: string): string {
  return `${name.split('.').map((l) => zoneOctets(l, false)).join('.')}.`;
}

function txtData(chunks: string[]): string {
  return chunks.length === 0 ? '""' : chunks.map((c) => `"${zoneOctets(c, true)}"`).join(' ');
}

/** The Knot zone text and the dropped queries of one fixture. */
function buildScenario(f: Fixture): Scenario {
  const lines = ['. 300 IN SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 300', '. 300 IN NS ns.invalid.'];
  const timeouts: string[] = [];
  for (const entry of f.zone) {
    const owner = ownerName(entry.name);
    if ('timeout' in entry) {
      timeouts.push(`${entry.name.toLowerCase()} ${entry.type}`);
      continue;
    }
    switch (entry.type) {
      case 'TXT':
      case 'SPF':
        lines.push(`${owner} 300 IN ${entry.type} ${txtData(entry.data)}`);
        break;
      case 'A':
      case 'AAAA':
        lines.push(`${owner} 300 IN ${entry.type} ${entry.data}`);
        break;
      case 'PTR':
      case 'CNAME':
        lines.push(`${owner} 300 IN ${entry.type} ${ownerName(entry.data)}`);
        break;
      case 'MX':
        lines.push(`${owner} 300 IN MX ${entry.data.preference} ${ownerName(entry.data.exchange)}`);
        break;
    }
  }
  return { section: f.section, zone: `${lines.join('\n')}\n`, timeouts, cases: f.cases };
}

function readFixtures(): Scenario[] {
  return readdirSync(FIXTURES)
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => buildScenario(JSON.parse(readFileSync(join(FIXTURES, n), 'utf8')) as Fixture));
}

/** A Python 3 that can import pyspf and dnspython. */
function findPython(): string {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(candidate, ['-c', 'import spf, dns.resolver'], { stdio: 'ignore' });
    if (r.status === 0) return candidate;
  }
  throw new Error('no python3 can import spf and dns.resolver: install the Debian packages python3-spf and python3-dnspython');
}

/** Runs a program with stdin text and returns its stdout; the event loop keeps serving the proxy meanwhile. */
function runPython(program: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${program} ${args.join(' ')} exited ${code}: ${err}`))));
    child.stdin.end(input);
  });
}

const DNS_TIMEOUT_MS = 1500;
let knot: KnotPeer;
let proxy: DnsForwarder;
let python: string;

before(async () => {
  python = findPython();
  knot = await startKnot({ zones: { '': '. 300 IN SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 300\n. 300 IN NS ns.invalid.\n' } });
  proxy = await startDnsForwarder({ upstream: { host: knot.host, port: knot.port } });
});

after(async () => {
  await proxy?.stop();
  await knot?.stop();
});

interface Outcome {
  result: string;
  explanation?: string;
}

/** Whether an outcome is what the suite expects: a listed result, and the explanation when one is given. */
function agrees(c: Case, o: Outcome): boolean {
  if (!c.expect.includes(o.result)) return false;
  if (c.explanation === undefined) return true;
  return (o.explanation ?? 'DEFAULT') === c.explanation;
}

test('RFC 7208 conformance scenarios: the product agrees with every expected result (pyspf alongside)', async (t) => {
  const scenarios = readFixtures();
  let total = 0;
  let productOk = 0;
  let pyspfOk = 0;
  let mailauthOk = 0;
  const mailauthMisses: string[] = [];
  const productMisses: string[] = [];
  const pyspfMisses: string[] = [];
  const resolver = createWireResolver({ server: proxy.address, timeoutMs: DNS_TIMEOUT_MS });
  // mailauth as verify used it: Node's resolver, which refuses some valid names.
  const node = new dnsPromises.Resolver({ timeout: DNS_TIMEOUT_MS, tries: 1 });
  node.setServers([proxy.address]);
  const nodeResolver = (name: string, rrtype: string): Promise<string[]> => node.resolve(name, rrtype) as Promise<string[]>;
  for (const sc of scenarios) {
    await knot.setZone('', sc.zone);
    proxy.drop.clear();
    for (const name of sc.timeouts) proxy.drop.add(name);
    const py = JSON.parse(
      await runPython(python, [join(HERE, 'pyspfDriver.py')], JSON.stringify({
          server: proxy.host,
          port: proxy.port,
          timeout: DNS_TIMEOUT_MS / 1000,
          tests: sc.cases.map((c) => ({ id: c.id, host: c.ip, mailfrom: c.mailFrom, helo: c.helo, strict: c.pyspfStrict ?? true })),
        }),
      ),
    ) as Record<string, { result: string; explanation: string }>;
    for (const c of sc.cases) {
      total++;
      const ours = await evaluateSpf({ ip: c.ip, mailFrom: c.mailFrom, helo: c.helo, resolver, now: () => 0 });
      const mine: Outcome = { result: ours.result, explanation: ours.explanation };
      const theirs: Outcome = { result: py[c.id].result, explanation: py[c.id].explanation };
      const want = `${c.expect.join('|')}${c.explanation !== undefined ? ` "${c.explanation}"` : ''}`;
      if (agrees(c, mine)) productOk++;
      else productMisses.push(`${c.id} (${sc.section}, RFC 7208 §${c.spec}): expected ${want}, product ${mine.result}${mine.explanation !== undefined ? ` "${mine.explanation}"` : ''} - ${ours.reason}`);
      if (agrees(c, theirs)) pyspfOk++;
      else pyspfMisses.push(`${c.id}: expected ${want}, pyspf ${theirs.result} "${theirs.explanation}"`);
      // mailauth, which verify used before, for the record (results only: it has no exp= text).
      const ma = await mailauth.spf({ sender: c.mailFrom === '' ? undefined : c.mailFrom, ip: c.ip, helo: c.helo, mta: 'mx.test', resolver: nodeResolver }).catch(() => undefined);
      if (ma?.status.result !== undefined && c.expect.includes(ma.status.result)) mailauthOk++;
      else mailauthMisses.push(`${c.id}: expected ${c.expect.join('|')}, mailauth ${ma?.status.result ?? 'threw'}`);
    }
  }
  t.diagnostic(`RFC 7208 scenarios: ${total} test cases in ${scenarios.length} sections`);
  t.diagnostic(`product agrees with the expected result on ${productOk}/${total}`);
  t.diagnostic(`pyspf agrees with the expected result on ${pyspfOk}/${total}`);
  t.diagnostic(`mailauth (results only, explanations not compared) agrees on ${mailauthOk}/${total}`);
  for (const m of productMisses) t.diagnostic(`product differs: ${m}`);
  for (const m of pyspfMisses) t.diagnostic(`pyspf differs: ${m}`);
  for (const m of mailauthMisses) t.diagnostic(`mailauth differs: ${m}`);
  assert.deepEqual(productMisses, [], 'the product must agree with RFC 7208 on every scenario');
  assert.ok(total > 150, `expected the whole suite, read ${total} test cases`);
});
