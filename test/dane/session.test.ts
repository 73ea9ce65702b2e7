// `.smtp` sessions with `TLS dane=on|only`: the parser's plan, run by the session engine against
// Exim (the certificate the TLSA records describe), with TLSA from Knot (signed) validated by
// Unbound. Matching 3 1 1 passes with verification on and no CA given; mismatching fails; dane=only
// without usable TLSA fails; CONNECT mx: follows RFC 7672 for each MX host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as dns from 'node:dns';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../cli/cliProcess';
import { parseSmtp } from '../../server/src/smtp/smtpParser';
import { analyzeDocument } from '../../server/src/smtp/smtpAnalyzer';
import { buildSessionPlans } from '../../server/src/smtp/smtpPlan';
import { nodeIo, runSession } from '../../client/src/engine/index';
import type { SessionResult } from '../../client/src/engine/types';
import { startDanePeers, type DanePeers } from './danePeers';

let peers: DanePeers;
let resolver: dns.promises.Resolver;

before(async () => {
  peers = await startDanePeers();
  // The engine's resolver is Unbound; the DANE lookups default to its first server, as the CLI's
  // --dns-server feeds both.
  resolver = new dns.promises.Resolver({ timeout: 3000, tries: 2 });
  resolver.setServers([peers.unbound.address]);
});

after(async () => {
  await peers?.stop();
});

function script(connect: string, tls: string): string {
  return [`CONNECT ${connect}`, 'EHLO client.example.test', 'EXPECT 250', `TLS ${tls}`, 'STARTTLS', 'EXPECT 220', 'EHLO client.example.test', 'EXPECT 250', 'QUIT', ''].join('\n');
}

async function run(connect: string, tls: string, daneResolver?: string): Promise<SessionResult> {
  const text = script(connect, tls);
  const parsed = parseSmtp(text);
  const errors = analyzeDocument(parsed.document).filter((p) => p.severity === 'error');
  assert.deepEqual(errors.map((p) => p.message), [], text);
  const [plan] = buildSessionPlans(parsed.document, 'dane.smtp');
  return runSession(plan, { io: { ...nodeIo(), resolver }, timeouts: { connect: 8000, greeting: 8000, command: 8000, tls: 8000 }, ...(daneResolver ? { daneResolver } : {}) });
}

function explain(r: SessionResult): string {
  return `${r.failure?.kind}: ${r.failure?.message}\n${r.transcript.map((e) => `${e.dir} ${e.text}`).join('\n')}`;
}

const mx = (domain: string): string => `mx:${domain}:${peers.exim.port}`;

test('the parser puts dane=on|only in the plan and rejects another value', () => {
  for (const [value, want] of [['on', 'on'], ['only', 'only'], ['off', undefined], ['ON', 'on']] as const) {
    const parsed = parseSmtp(script('smtp://127.0.0.1:25', `dane=${value}`));
    assert.equal(buildSessionPlans(parsed.document, 'x.smtp')[0].tls.dane, want, value);
    assert.deepEqual(analyzeDocument(parsed.document).filter((p) => p.severity === 'error'), [], value);
  }
  const bad = parseSmtp(script('smtp://127.0.0.1:25', 'dane=maybe'));
  const problems = analyzeDocument(bad.document).filter((p) => p.code === 'smtp-tls-option');
  assert.equal(problems.length, 1);
  assert.match(problems[0].message, /dane is on, only, off/);
});

test('dane=on: a matching 3 1 1 record authenticates the server with verify on and no CA given', async () => {
  const r = await run(mx('ok.example.test'), 'dane=on');
  assert.equal(r.ok, true, explain(r));
  assert.equal(r.tls?.verified, true);
  assert.equal(r.tls?.dane?.authenticated, true);
  assert.match(r.tls?.dane?.matched ?? '', /^3 1 1 [0-9a-f]+/);
  const lines = r.transcript.filter((e) => e.dir === 'tls').map((e) => e.text);
  assert.ok(lines.some((l) => /^DANE: TLSA 3 1 1 [0-9a-f]+… \(DANE-EE SPKI SHA2-256\) matched the server certificate/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /certificate verified by DANE for mx-ok\.example\.test/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /MX records of ok\.example\.test are DNSSEC-secure/.test(l)), lines.join('\n'));
});

test('without dane= the same server fails PKIX (the test CA is not given): DANE is what verified it', async () => {
  const r = await run(mx('ok.example.test'), 'verify=on');
  assert.equal(r.ok, false);
  assert.equal(r.failure?.kind, 'tls', explain(r));
});

test('dane=on: the MX behind a CNAME and the DANE-TA 2 0 1 issuer record authenticate too', async () => {
  for (const domain of ['cname.example.test', 'issuer.example.test', 'roll.example.test']) {
    const r = await run(mx(domain), 'dane=only');
    assert.equal(r.ok, true, `${domain}: ${explain(r)}`);
    assert.equal(r.tls?.dane?.authenticated, true, domain);
  }
});

test('dane=on: a mismatching record fails with kind tls and names the record', async () => {
  const r = await run(mx('bad.example.test'), 'dane=on');
  assert.equal(r.ok, false);
  assert.equal(r.failure?.kind, 'tls', explain(r));
  assert.match(r.failure?.message ?? '', /DANE verification failed for mx-bad\.example\.test: .*TLSA 3 1 1 [0-9a-f]+/);
});

test('dane=only without usable TLSA fails; dane=on falls back to PKIX there', async () => {
  for (const domain of ['pkix.example.test', 'plain.example.test']) {
    const r = await run(mx(domain), 'dane=only');
    assert.equal(r.ok, false, domain);
    assert.equal(r.failure?.kind, 'tls', `${domain}: ${explain(r)}`);
    assert.match(r.failure?.message ?? '', /dane=only/, domain);
  }
  // dane=on with an unsigned zone: DANE does not apply, so PKIX decides (and fails: no CA given).
  const on = await run(mx('plain.example.test'), 'dane=on');
  assert.equal(on.failure?.kind, 'tls', explain(on));
  assert.match(on.failure?.message ?? '', /certificate verification failed/, explain(on));
  assert.ok(on.transcript.some((e) => /DANE not used|DANE does not apply/.test(e.text)), explain(on));
});

test('dane=on with secure TLSA records none of which is usable: TLS without authentication, as posttls-finger does (RFC 7672 §2.2)', async () => {
  // pkix.example.test publishes only PKIX usages, which SMTP does not use (RFC 7672 §3.1.3). Before,
  // dane=on fell back to PKIX here, which fails without the test CA.
  const r = await run(mx('pkix.example.test'), 'dane=on');
  assert.equal(r.ok, true, explain(r));
  assert.equal(r.tls?.verified, false, explain(r));
  assert.equal(r.tls?.dane?.applies, 'unusable');
  assert.equal(r.tls?.dane?.authenticated, false);
  assert.ok(r.transcript.some((e) => e.dir === 'tls' && /TLS is required and the server is not authenticated \(RFC 7672 §2\.2\)/.test(e.text)), explain(r));
  assert.ok(r.transcript.some((e) => e.dir === 'tls' && /PKIX/.test(e.text) && /not used for SMTP|PKIX usage/i.test(e.text)), explain(r));
});

test('dane=on: a bogus MX RRset stops the session before any connection (RFC 7672 §2.1.1)', async () => {
  const r = await run(mx('bogus.example.test'), 'dane=on');
  assert.equal(r.ok, false);
  // The validating resolver refuses the MX lookup itself (SERVFAIL); the DNSSEC lookup explains it.
  assert.equal(r.failure?.kind, 'dns', explain(r));
  assert.match(r.failure?.message ?? '', /DNSSEC-bogus/);
  assert.ok(!r.transcript.some((e) => e.dir === 'client'), explain(r));
});

test('RFC 7672 for each MX: under dane=only the host without TLSA is skipped and the next one is used', async () => {
  // fallback.example.test: mx-none (10, no TLSA) and mx-ok (20, matching TLSA).
  const only = await run(mx('fallback.example.test'), 'dane=only');
  assert.equal(only.ok, true, explain(only));
  assert.equal(only.mx?.chosen?.host, 'mx-ok.example.test');
  assert.ok(only.mx?.attempts.some((a) => a.host === 'mx-none.example.test' && /dane=only/.test(a.error ?? '')), explain(only));
  // dane=on uses the first host, where DANE does not apply (no TLSA), and PKIX decides.
  const on = await run(mx('fallback.example.test'), 'dane=on');
  assert.equal(on.mx?.chosen?.host, 'mx-none.example.test', explain(on));
  assert.equal(on.failure?.kind, 'tls', explain(on));
});

test('smtpwb run --dns-server: the CLI feeds the same resolver to the DANE lookups; the transcript shows the matched record', async () => {
  const file = join(peers.work, 'dane.smtp');
  writeFileSync(file, script(mx('ok.example.test'), 'dane=only'));
  const r = await runCli(['run', file, '--dns-server', peers.unbound.address, '--timeout', '8'], { cwd: peers.work });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /DANE: TLSA 3 1 1 [0-9a-f]+… \(DANE-EE SPKI SHA2-256\) matched the server certificate/);
  assert.match(r.stdout, new RegExp(`via ${peers.unbound.address.replace(/\./g, '\\.')}`));
  const bad = join(peers.work, 'bad.smtp');
  writeFileSync(bad, script(mx('bad.example.test'), 'dane=on'));
  const b = await runCli(['run', bad, '--dns-server', peers.unbound.address, '--timeout', '8', '--json'], { cwd: peers.work });
  assert.equal(b.code, 3, b.stdout + b.stderr);
  assert.match(b.stdout, /DANE verification failed/);
});

test('dane=on with a DANE resolver that does not answer: no MX host is used, nothing is sent', async () => {
  // The MX lookup itself goes to Unbound and succeeds; the DNSSEC lookups go nowhere.
  const r = await run(mx('ok.example.test'), 'dane=on', '127.0.0.1:9');
  assert.equal(r.ok, false);
  assert.equal(r.failure?.kind, 'tls', explain(r));
  assert.match(r.failure?.message ?? '', /no MX host is used/);
  assert.ok(!r.transcript.some((e) => e.dir === 'client'), explain(r));
});
