// `smtpwb dns --probe-starttls` with DNSSEC and DANE, end to end: the real CLI bundle against Knot
// (signed fixture zones), Unbound (validating) and Exim (the certificate the TLSA records describe).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainReportJson } from '../../client/src/dns/index';
import { runCli, scratch } from '../cli/cliProcess';
import { startDanePeers, type DanePeers } from './danePeers';

let peers: DanePeers;
let dir: ReturnType<typeof scratch>;

before(async () => {
  peers = await startDanePeers();
  dir = scratch('smtpwb-dane-cli-');
});

after(async () => {
  await peers?.stop();
  dir?.remove();
});

/** The expected DANE finding per fixture domain (see fixtures.ts), and whether the report has errors. */
const EXPECTED: Record<string, { dane: string; errors: boolean }> = {
  'ok.example.test': { dane: 'dane-tlsa-match', errors: false },
  'roll.example.test': { dane: 'dane-tlsa-match', errors: false },
  'issuer.example.test': { dane: 'dane-tlsa-match', errors: false },
  'cname.example.test': { dane: 'dane-tlsa-match', errors: false },
  'bad.example.test': { dane: 'dane-authentication-failed', errors: true },
  'plain.example.test': { dane: 'dane-tlsa-insecure', errors: false },
  'bogus.example.test': { dane: 'dane-tlsa-bogus', errors: true },
  'expired.example.test': { dane: 'dane-tlsa-bogus', errors: true },
  // No usable record: senders use TLS without authentication; a warning, not an error (RFC 7672 §2.2).
  'unusable.example.test': { dane: 'dane-no-usable-tlsa', errors: false },
  // A failed TLSA lookup: DANE senders skip the host (RFC 7672 §2.1.1), an error.
  'fail.example.test': { dane: 'dane-tlsa-lookup-failed', errors: true },
};

function env(): NodeJS.ProcessEnv {
  // The STARTTLS probe goes to Exim's port; the signed fixture zone stands in for the root zone as
  // the proof that the resolver validates (the test machine has no route to the root servers).
  return { SMTPWB_DNS_SMTP_PORT: String(peers.exim.port), SMTPWB_DNSSEC_PROBE_NAME: 'example.test' };
}

function dns(args: string[]): ReturnType<typeof runCli> {
  return runCli(['dns', ...args, '--no-selector-probe', '--timeout', '8000'], { cwd: dir.dir, env: env() });
}

test('--probe-starttls --json: every fixture has its DANE verdict, and errors give exit 1', async () => {
  const domains = Object.keys(EXPECTED);
  const r = await dns([...domains, '--dns-server', peers.unbound.address, '--probe-starttls', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const reports = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as DomainReportJson);
  assert.deepEqual(reports.map((x) => x.domain), domains);
  for (const report of reports) {
    const want = EXPECTED[report.domain];
    const ids = report.checks.map((c) => c.id);
    assert.deepEqual(ids.slice(-3), ['dnssec', 'dane', 'transport'], report.domain);
    const dane = report.checks.find((c) => c.id === 'dane')!;
    const codes = dane.findings.map((f) => f.code);
    assert.ok(codes.includes(want.dane), `${report.domain}: ${codes.join(', ')}`);
    const transportErrors = report.checks.filter((c) => c.id === 'dnssec' || c.id === 'dane').flatMap((c) => c.findings).filter((f) => f.severity === 'error');
    assert.equal(transportErrors.length > 0, want.errors, `${report.domain}: ${JSON.stringify(transportErrors)}`);
    const dnssec = report.checks.find((c) => c.id === 'dnssec')!;
    assert.ok(!dnssec.findings.some((f) => f.code === 'dnssec-resolver-not-validating'), report.domain);
  }
  // The matched record is shown, with the TLSA raw records.
  const ok = reports.find((x) => x.domain === 'ok.example.test')!.checks.find((c) => c.id === 'dane')!;
  assert.ok(ok.records.some((x) => x.type === 'TLSA' && /^3 1 1 /.test(x.data)), JSON.stringify(ok.records));
});

test('one good domain alone exits 0; text and Markdown show the DNSSEC and DANE groups', async () => {
  const json = await dns(['ok.example.test', '--dns-server', peers.unbound.address, '--probe-starttls', '--json']);
  const report = JSON.parse(json.stdout) as DomainReportJson;
  const errors = report.checks.flatMap((c) => c.findings.filter((f) => f.severity === 'error').map((f) => `${c.id}:${f.code}`));
  assert.equal(json.code, errors.length > 0 ? 1 : 0, errors.join(', '));
  assert.ok(!errors.some((e) => /^(dnssec|dane|transport):/.test(e)), errors.join(', '));
  const text = await dns(['ok.example.test', '--dns-server', peers.unbound.address, '--probe-starttls']);
  assert.match(text.stdout, /DNSSEC/);
  assert.match(text.stdout, /DANE/);
  assert.match(text.stdout, /TLSA 3 1 1 [0-9a-f]+/);
  const md = await dns(['bad.example.test', '--dns-server', peers.unbound.address, '--probe-starttls', '--markdown']);
  assert.equal(md.code, 1);
  assert.match(md.stdout, /dane-authentication-failed/);
});

test('--dnssec-resolver pointing at a resolver that does not validate (Knot itself) is reported', async () => {
  const r = await dns(['ok.example.test', '--dns-server', peers.unbound.address, '--dnssec-resolver', peers.knot.address, '--json']);
  const report = JSON.parse(r.stdout) as DomainReportJson;
  const dnssec = report.checks.find((c) => c.id === 'dnssec');
  assert.ok(dnssec, JSON.stringify(report.checks.map((c) => c.id)));
  assert.ok(dnssec.findings.some((f) => f.code === 'dnssec-resolver-not-validating'), JSON.stringify(dnssec.findings));
  // Without --probe-starttls no certificate is fetched, so no TLSA record is judged as matching.
  const dane = report.checks.find((c) => c.id === 'dane')!;
  assert.ok(!dane.findings.some((f) => f.code === 'dane-tlsa-match'), JSON.stringify(dane.findings));
});

test('without --probe-starttls or --dnssec-resolver the report is unchanged', async () => {
  const r = await dns(['ok.example.test', '--dns-server', peers.unbound.address, '--json']);
  const report = JSON.parse(r.stdout) as DomainReportJson;
  assert.ok(!report.checks.some((c) => c.id === 'dnssec' || c.id === 'dane' || c.id === 'transport'));
});

test('a bad --dnssec-resolver is a usage error', async () => {
  const r = await dns(['ok.example.test', '--dnssec-resolver', 'not a server:99999']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--dnssec-resolver/);
});
