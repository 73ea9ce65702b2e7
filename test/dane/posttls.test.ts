// Cross-check with an independent implementation: Postfix's posttls-finger (`-l dane`) judges the
// same fixtures as checkTransportSecurity. Postfix asks the system resolver on port 53 and connects
// to port 25, so the test forwards 127.0.0.2:53 to Unbound and 127.0.0.2:25 to Exim, and runs
// posttls-finger in a private mount namespace whose /etc/resolv.conf names 127.0.0.2 with
// `options trust-ad` (glibc passes the AD bit on only then). Needs root (ports 25 and 53, unshare).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { checkTransportSecurity } from '../../client/src/dns/dane';
import { createDnssecQuery } from '../../client/src/dns/dnssecWire';
import { createTlsChainProber } from '../../client/src/dns/tlsChain';
import { postfixEnv, postfixRoot } from '../peers/postfixTools';
import { requireBinary } from '../peers/require';
import { startDanePeers, type DanePeers } from './danePeers';
import { startDnsForwarder, startTcpForward } from '../peers/dnsForwarder';
import { startChainServer } from './chainServer';
import { CHAIN_ADDRESSES } from './fixtures';

const run = promisify(execFile);
let peers: DanePeers;
let forwarders: { stop(): Promise<void> }[] = [];
let config: string;
let resolvConf: string;

before(async () => {
  assert.equal(process.getuid?.(), 0, 'the posttls-finger cross-check needs root: ports 25 and 53 on 127.0.0.2 and a private mount namespace');
  peers = await startDanePeers();
  // posttls-finger asks the system resolver on port 53 and delivers to port 25 of 127.0.0.2:
  // DNS (UDP and TCP) on :53 goes to Unbound and :25 to Exim. Binding these ports needs root.
  forwarders = [
    await startDnsForwarder({ host: '127.0.0.2', port: 53, upstream: { host: peers.unbound.host, port: peers.unbound.port } }),
    await startTcpForward('127.0.0.2', 25, { host: peers.exim.host, port: peers.exim.port }),
    // The chains Exim does not present, on port 25 of the pf-nonca and pf-taleaf hosts' addresses.
    await startChainServer(CHAIN_ADDRESSES.pfNonCa, 25, peers.chains.nonCa),
    await startChainServer(CHAIN_ADDRESSES.pfTaLeaf, 25, peers.chains.taLeaf),
  ];
  config = join(peers.work, 'postfix');
  mkdirSync(config, { recursive: true });
  // DANE needs DNSSEC-validated lookups (Postfix trusts the resolver's AD bit).
  writeFileSync(join(config, 'main.cf'), ['smtp_dns_support_level = dnssec', 'smtp_host_lookup = dns', 'compatibility_level = 3.6', 'mail_owner = daemon', 'default_privs = nobody', 'setgid_group = mail', ''].join('\n'));
  resolvConf = join(peers.work, 'resolv.conf');
  writeFileSync(resolvConf, 'nameserver 127.0.0.2\noptions trust-ad\n');
});

after(async () => {
  for (const f of forwarders) await f.stop();
  await peers?.stop();
});

/** posttls-finger's verdict for a domain: `verified` or `untrusted` (or what it said instead). */
async function postfixVerdict(domain: string, level: string): Promise<{ verdict: string; output: string }> {
  // postfixTools.ts keeps its binary lookup private (requests-J2.md asks to export it).
  const finger = join(postfixRoot(), 'usr', 'sbin', 'posttls-finger');
  assert.ok(existsSync(finger), `${finger} is missing: sudo bash scripts/install-peers.sh`);
  const unshare = requireBinary('unshare', 'util-linux');
  const script = 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"';
  let output: string;
  try {
    const r = await run(unshare, ['-m', 'sh', '-c', script, 'sh', resolvConf, finger, '-t', '10', '-T', '10', '-c', '-l', level, domain], { env: { ...postfixEnv(), MAIL_CONFIG: config }, timeout: 30000 });
    output = r.stdout + r.stderr;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    output = `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message;
  }
  const verdict = /Verified TLS connection established/.test(output) ? 'verified' : /Untrusted TLS connection established/.test(output) ? 'untrusted' : /Anonymous TLS connection|Trusted TLS connection/.test(output) ? 'not-dane' : 'no-connection';
  return { verdict, output };
}

for (const c of [
  { domain: 'pf-ok.example.test', ours: 'authenticated', postfix: 'verified' },
  { domain: 'pf-bad.example.test', ours: 'failed', postfix: 'untrusted' },
  // DANE-TA matches the issuer, but the certificate names mail.example.test, not mail-pf: both refuse.
  { domain: 'pf-ta.example.test', ours: 'failed', postfix: 'untrusted' },
  // The MX is a CNAME and both names publish TLSA: the expanded name's record (no match) decides
  // (RFC 7672 §2.2.2); the alias's matching record is not used.
  { domain: 'pf-cname.example.test', ours: 'failed', postfix: 'untrusted', says: /no matching DANE TLSA records|untrusted/i },
  // DANE-TA names an issuer that is not a CA (basicConstraints CA:FALSE).
  { domain: 'pf-nonca.example.test', ours: 'failed', postfix: 'untrusted', says: /invalid CA certificate/ },
  // DANE-TA names the server certificate itself: a trust anchor is an issuer above it.
  { domain: 'pf-taleaf.example.test', ours: 'failed', postfix: 'untrusted' },
  // No record is usable: both fall back to TLS without authentication, and neither refuses the host.
  { domain: 'pf-unusable.example.test', ours: 'no-usable-tlsa', postfix: 'untrusted', says: /unusable/ },
  // A TLSA RDATA of 2 octets: malformed, unusable, never "no TLSA".
  { domain: 'pf-short.example.test', ours: 'no-usable-tlsa', postfix: 'untrusted', says: /truncated TLSA RR|unusable/ },
] as Array<{ domain: string; ours: string; postfix: string; says?: RegExp }>) {
  test(`posttls-finger -l dane agrees on ${c.domain}`, async () => {
    const ours = await checkTransportSecurity({
      domain: c.domain,
      query: createDnssecQuery(peers.unbound.address),
      resolverAddress: peers.unbound.address,
      prober: createTlsChainProber(),
      smtpPort: 25,
      nowMs: Date.now(),
      timeoutMs: 5000,
    });
    assert.equal(ours.mx[0]?.verdict, c.ours, JSON.stringify(ours.mx[0]));
    const pf = await postfixVerdict(c.domain, 'dane');
    assert.equal(pf.verdict, c.postfix, pf.output);
    if (c.says) assert.match(pf.output, c.says);
    // A host that no record can authenticate is still used, with TLS, by both sides.
    if (c.ours === 'no-usable-tlsa') assert.ok(!ours.daneFindings.some((f) => f.code === 'dane-authentication-failed' || f.code === 'dane-tlsa-mismatch'), JSON.stringify(ours.daneFindings));
    if (c.ours === 'authenticated') {
      // Both name the same record: posttls-finger prints it as "Matched DANE EE certificate at depth 0: 3 1 1 HEX".
      const matched = /Matched DANE (?:EE|TA) certificate at depth \d+: (\d \d \d [0-9A-F]+)/i.exec(pf.output)?.[1];
      assert.ok(matched, pf.output);
      const [u, s, m, hex] = matched.split(' ');
      assert.ok(ours.mx[0].tlsa.some((t) => t.usage === Number(u) && t.selector === Number(s) && t.matchingType === Number(m) && t.data.toString('hex') === hex.toLowerCase()), matched);
    }
  });
}

test('posttls-finger -l dane-only refuses the host without TLSA, as TLS dane=only does', async () => {
  const ours = await checkTransportSecurity({ domain: 'pf-none.example.test', query: createDnssecQuery(peers.unbound.address), resolverAddress: peers.unbound.address, nowMs: Date.now(), timeoutMs: 5000 });
  assert.equal(ours.mx[0]?.verdict, 'no-tlsa');
  // posttls-finger finds no TLSA and falls back to its "secure" level (PKIX with name checks), which
  // the test certificate (untrusted CA, another name) fails: neither side authenticates the host.
  const pf = await postfixVerdict('pf-none.example.test', 'dane-only');
  assert.match(pf.output, /no TLSA records found/);
  assert.equal(pf.verdict, 'untrusted', pf.output);
  const on = await postfixVerdict('pf-none.example.test', 'dane');
  assert.equal(on.verdict, 'untrusted', on.output);
});
