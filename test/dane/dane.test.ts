// DNSSEC and DANE against real parts: Knot signs the fixture zones, Unbound validates them with the
// fixtures' trust anchor, Exim presents the certificate the TLSA records describe, and ldns-dane
// (Debian ldnsutils) cross-checks the matching verdicts on the same records and chain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { checkTransportSecurity, daneApplies, lookupDane, type TransportSecurityReport } from '../../client/src/dns/dane';
import * as tls from 'node:tls';
import { createDnssecQuery, type DnssecQuery, parseDnsMessage, RR } from '../../client/src/dns/dnssecWire';
import { transportCheckResults } from '../../client/src/dns/transportReport';
import { checkResolverValidates, dsDigest, lookupWithStatus, signatureTimes } from '../../client/src/dns/dnssec';
import { formatTlsa, verifyDane } from '../../client/src/dns/tlsa';
import { createTlsChainProber, peerChainDer } from '../../client/src/dns/tlsChain';
import { createNodeResolver, renderMarkdown, reportToJson, runReport } from '../../client/src/dns/index';
import type { EximPeer } from '../peers/exim';
import type { KnotPeer } from '../peers/knot';
import { startUnbound, type UnboundPeer } from '../peers/unbound';
import { requireBinary } from '../peers/require';
import { startDanePeers, type DanePeers } from './danePeers';
import type { DaneFixture } from './fixtures';

const run = promisify(execFile);

let peers: DanePeers;
let exim: EximPeer;
let knot: KnotPeer;
let unbound: UnboundPeer;
let fixtures: DaneFixture[];
let leafDer: Buffer;
let caDer: Buffer;
let work: string;

before(async () => {
  peers = await startDanePeers();
  ({ exim, knot, unbound, fixtures, leafDer, caDer, work } = peers);
});

after(async () => {
  await peers?.stop();
});

const reports = new Map<string, Promise<TransportSecurityReport>>();
function report(domain: string): Promise<TransportSecurityReport> {
  let r = reports.get(domain);
  if (!r) {
    // The nonca and taleaf fixtures lead to the chain servers; every other MX host to Exim.
    const server = fixtures.find((x) => x.domain === domain)?.server;
    r = checkTransportSecurity({
      domain,
      query: createDnssecQuery(unbound.address),
      resolverAddress: unbound.address,
      prober: createTlsChainProber(),
      smtpPort: server ? peers.chainServers[server].port : exim.port,
      nowMs: Date.now(),
      timeoutMs: 4000,
    });
    reports.set(domain, r);
  }
  return r;
}

function codes(r: TransportSecurityReport): string[] {
  return [...r.dnssecFindings, ...r.daneFindings].map((f) => f.code);
}

test('Unbound sets AD for the signed zone and Knot alone never does', async () => {
  const viaUnbound = await lookupWithStatus(createDnssecQuery(unbound.address), '_25._tcp.mx-ok.example.test', RR.TLSA, 4000);
  assert.equal(viaUnbound.status, 'secure');
  assert.equal(viaUnbound.records.length, 1);
  const viaKnot = await lookupWithStatus(createDnssecQuery(knot.address), '_25._tcp.mx-ok.example.test', RR.TLSA, 4000);
  assert.equal(viaKnot.status, 'insecure');
  // The authoritative server does not validate: the probe with a known-signed name says so.
  const v = await checkResolverValidates(createDnssecQuery(knot.address), knot.address, false, { secure: { name: 'example.test', type: RR.DNSKEY } }, 4000);
  assert.equal(v.validates, 'no');
  const u = await checkResolverValidates(createDnssecQuery(unbound.address), unbound.address, false, { secure: { name: 'example.test', type: RR.DNSKEY }, bogus: { name: 'bogus.example.test', type: RR.MX } }, 4000);
  assert.equal(u.validates, 'yes');
});

test('a resolver that does not validate (Knot itself): statuses are unknown, not insecure, and the report says why', async () => {
  const r = await checkTransportSecurity({
    domain: 'plain.example.test',
    query: createDnssecQuery(knot.address),
    resolverAddress: knot.address,
    nowMs: Date.now(),
    timeoutMs: 4000,
    probes: { secure: { name: 'example.test', type: RR.DNSKEY } },
  });
  assert.equal(r.resolver.validates, 'no');
  assert.equal(r.domainStatus, 'indeterminate');
  assert.equal(r.mx[0]?.verdict, 'indeterminate');
  const codes = [...r.dnssecFindings, ...r.daneFindings].map((f) => f.code);
  assert.ok(codes.includes('dnssec-resolver-not-validating'), codes.join(', '));
  assert.ok(!codes.includes('dane-tlsa-insecure'), codes.join(', '));
});

test('a bogus answer is a finding with the resolver\'s Extended DNS Error, never a crash', async () => {
  const r = await lookupWithStatus(createDnssecQuery(unbound.address), 'bogus.example.test', RR.MX, 4000);
  assert.equal(r.status, 'bogus');
  assert.equal(r.rcode, 'SERVFAIL');
  assert.ok(r.records.length > 0, 'the CD query hands over the data');
  assert.ok(r.extendedErrors.some((e) => e.code === 6 || e.code === 9), JSON.stringify(r.extendedErrors));
});

for (const name of ['ok', 'roll', 'issuer', 'bad', 'pkix', 'full', 'implicit', 'cname', 'partial', 'plain', 'bogus', 'expired', 'cname2', 'cname3', 'unusable', 'short', 'empty', 'fail', 'nonca', 'taleaf']) {
  test(`fixture ${name}.example.test has its expected verdicts`, async () => {
    const fx = fixtures.find((x) => x.domain === `${name}.example.test`)!;
    const r = await report(fx.domain);
    const detail = JSON.stringify({ mx: r.mx.map((m) => ({ host: m.host, verdict: m.verdict, a: m.addressStatus, t: m.tlsaStatus, addr: m.addresses })), findings: [...r.dnssecFindings, ...r.daneFindings] }, null, 1);
    assert.equal(r.domainStatus, fx.domainStatus, detail);
    assert.equal(r.resolver.validates, r.domainStatus === 'secure' || name === 'cname' ? 'yes' : r.resolver.validates);
    for (const [host, verdict] of Object.entries(fx.verdicts)) {
      const m = r.mx.find((x) => x.host === host);
      assert.ok(m, `no MX ${host}: ${detail}`);
      assert.equal(m.verdict, verdict, `${host}: ${detail}`);
    }
    for (const code of fx.codes) assert.ok(codes(r).includes(code), `missing ${code}: ${detail}`);
    for (const code of fx.absent ?? []) assert.ok(!codes(r).includes(code), `unexpected ${code}: ${detail}`);
  });
}

test('the MX behind a CNAME is checked at the CNAME target (RFC 7672 §2.2.2)', async () => {
  const r = await report('cname.example.test');
  const m = r.mx[0];
  assert.deepEqual(m.cnameChain, ['mx-alias.example.test', 'mx-real.example.test']);
  assert.equal(m.tlsaName, '_25._tcp.mx-real.example.test');
});

test('a CNAME\'d MX: the expanded name\'s TLSA comes first, the alias\'s only when the expanded name has none (RFC 7672 §2.2.2, RFC 7671 §7)', async () => {
  // Both names publish TLSA: the expanded name's record (which does not match) decides.
  const both = (await report('cname2.example.test')).mx[0];
  assert.deepEqual(both.cnameChain, ['mx-alias2.example.test', 'mx-real2.example.test']);
  assert.equal(both.tlsaName, '_25._tcp.mx-real2.example.test');
  assert.equal(both.tlsaBase, 'mx-real2.example.test');
  assert.equal(both.verdict, 'failed');
  // The expanded name has none (securely denied): the alias's record is used, with the alias as base.
  const fallback = (await report('cname3.example.test')).mx[0];
  assert.equal(fallback.tlsaName, '_25._tcp.mx-alias3.example.test');
  assert.equal(fallback.verdict, 'authenticated');
});

test('records nobody can use: each gets its reason from unusableReason(), and the verdict is TLS without authentication', async () => {
  const r = await report('unusable.example.test');
  const unusable = r.daneFindings.filter((f) => f.code === 'dane-tlsa-unusable' || f.code === 'dane-tlsa-pkix-usage');
  assert.equal(unusable.length, 5, JSON.stringify(r.daneFindings));
  for (const reason of [/selector 9 is unknown/, /matching type 7 is unknown/, /32 bytes, not the 64 of SHA2-512/, /certificate usage 4 is unknown/, /PKIX-EE \(1\) is not used for SMTP/]) {
    assert.ok(unusable.some((f) => reason.test(f.message)), `${reason}: ${JSON.stringify(unusable)}`);
  }
  // Each finding shows its own record, not the RRset.
  for (const f of unusable) assert.equal(f.record?.text.includes('\n'), false, f.record?.text);
  const none = r.daneFindings.find((f) => f.code === 'dane-no-usable-tlsa');
  assert.equal(none?.severity, 'warning');
  assert.match(none?.message ?? '', /require STARTTLS without authenticating/);
  assert.ok(!r.daneFindings.some((f) => /will not deliver/.test(f.message)), JSON.stringify(r.daneFindings));
  // The malformed RDATA (2 octets) is kept and said to be malformed (RFC 6698 §2.1).
  const short = (await report('short.example.test')).daneFindings.find((f) => f.code === 'dane-tlsa-unusable');
  assert.match(short?.message ?? '', /malformed: the RDATA is 2 octets/);
  assert.match(short?.record?.text ?? '', /^\\# 2 0301/);
  const empty = (await report('empty.example.test')).daneFindings.find((f) => f.code === 'dane-tlsa-unusable');
  assert.match(empty?.message ?? '', /association data is empty/);
});

test('a TLSA lookup that fails is an error, and no transport finding calls the domain opportunistic-only', async () => {
  const r = await report('fail.example.test');
  const f = r.daneFindings.find((x) => x.code === 'dane-tlsa-lookup-failed');
  assert.equal(f?.severity, 'error', JSON.stringify(r.daneFindings));
  assert.match(f?.message ?? '', /_25\._tcp\.mx-fail\.example\.test/);
  for (const domain of ['fail.example.test', 'bogus.example.test', 'expired.example.test']) {
    const transport = transportCheckResults(await report(domain), [])[2].findings.map((x) => x.code);
    assert.ok(!transport.includes('consistency-opportunistic-only'), `${domain}: ${transport.join(', ')}`);
  }
  // A domain known to be without DANE still gets it.
  const plain = transportCheckResults(await report('plain.example.test'), [])[2].findings.map((x) => x.code);
  assert.ok(plain.includes('consistency-opportunistic-only'), plain.join(', '));
});

test('DANE-TA: an issuer that is not a CA is rejected, and a record for the leaf is no trust anchor; ldns-dane agrees', async () => {
  const nonCa = await report('nonca.example.test');
  const rejected = nonCa.daneFindings.find((f) => f.code === 'dane-ta-rejected');
  assert.match(rejected?.message ?? '', /depth 1 .* is not a CA certificate/);
  const leaf = await report('taleaf.example.test');
  const mismatch = leaf.daneFindings.find((f) => f.code === 'dane-tlsa-mismatch');
  assert.match(mismatch?.message ?? '', /matches the server certificate itself/);
  const ldnsDane = requireBinary('ldns-dane');
  for (const c of [
    { r: nonCa, chain: peers.chains.nonCa, host: 'mx-nonca.example.test' },
    { r: leaf, chain: peers.chains.taLeaf, host: 'mx-taleaf.example.test' },
  ]) {
    const chainFile = join(work, 'ta-chain.pem');
    writeFileSync(chainFile, c.chain.chainPem);
    const t = c.r.mx[0].tlsa[0];
    const tlsaFile = join(work, 'ta-tlsa.txt');
    writeFileSync(tlsaFile, `_25._tcp.${c.host}. 300 IN TLSA ${t.usage} ${t.selector} ${t.matchingType} ${t.data.toString('hex')}\n`);
    const out = await run(ldnsDane, ['-d', '-c', chainFile, '-t', tlsaFile, 'verify', c.host, '25']).then(
      (x) => ({ ok: true, text: x.stdout + x.stderr }),
      (e: { stdout?: string; stderr?: string }) => ({ ok: false, text: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
    );
    assert.equal(out.ok, false, `${c.host}: ldns-dane accepted it: ${out.text}`);
    assert.equal(c.r.mx[0].addresses[0]?.verification?.authenticated, false);
  }
});

test('a resolver whose validation is unknown (Unbound without a trust anchor for the zone, no probes): nothing is called unsigned', async () => {
  // Its anchor is for another zone: it answers the signed fixtures with their signatures but no AD,
  // as a resolver does that does not validate them, and no probe can tell more.
  const anchors = (await knot.ds('example.test')).map((l) => l.replace(/^example\.test\.?/, 'elsewhere.test.'));
  const anchorless = await startUnbound({ trustAnchors: anchors, stubs: { 'example.test': knot.address, 'plain.example.test': knot.address } });
  let r: TransportSecurityReport;
  try {
    r = await checkTransportSecurity({ domain: 'plain.example.test', query: createDnssecQuery(anchorless.address), resolverAddress: anchorless.address, nowMs: Date.now(), timeoutMs: 4000 });
  } finally {
    await anchorless.stop();
  }
  assert.equal(r.resolver.validates, 'unknown', r.resolver.evidence);
  assert.equal(r.domainStatus, 'indeterminate');
  assert.equal(r.mx[0]?.verdict, 'indeterminate');
  const all = [...r.dnssecFindings, ...r.daneFindings];
  for (const code of ['dnssec-domain-insecure', 'dane-tlsa-insecure', 'dane-host-insecure']) assert.ok(!all.some((f) => f.code === code), `${code}: ${JSON.stringify(all)}`);
  assert.ok(!all.some((f) => /not signed|DANE does not apply/.test(f.message)), JSON.stringify(all));
  assert.match(r.daneFindings.find((f) => f.code === 'dane-indeterminate')?.message ?? '', /not known whether the resolver/);
  const transport = transportCheckResults(r, [])[2].findings.map((f) => f.code);
  assert.ok(!transport.includes('consistency-opportunistic-only') && !transport.includes('consistency-dane-silently-off'), transport.join(', '));
});

test('the chain of trust of the domain and of its host stop at the same link: each DNSSEC finding once', async () => {
  for (const domain of ['expired.example.test', 'bogus.example.test', 'plain.example.test']) {
    const keys = (await report(domain)).dnssecFindings.map((f) => `${f.code} ${f.message}`);
    assert.deepEqual(keys, [...new Set(keys)], domain);
  }
});

test('a mismatch or an unmatched record shows the record at fault, not the whole RRset', async () => {
  const roll = await report('roll.example.test');
  const unmatched = roll.daneFindings.find((f) => f.code === 'dane-tlsa-unmatched');
  const match = roll.daneFindings.find((f) => f.code === 'dane-tlsa-match');
  assert.ok(unmatched?.record && match?.record, JSON.stringify(roll.daneFindings));
  assert.ok(!unmatched.record.text.includes('\n') && !match.record.text.includes('\n'));
  assert.notEqual(unmatched.record.text, match.record.text);
  assert.ok(roll.mx[0].tlsa.some((t) => formatTlsa(t, true) === unmatched.record!.text));
});

test('records of another question in the TLSA answer are ignored, and never make a secure denial', async () => {
  const real = createDnssecQuery(unbound.address);
  // A resolver that adds records for another owner and another type to each TLSA answer.
  const tampering: DnssecQuery = async (name, type, options) => {
    const r = await real(name, type, options);
    if (r.ok && type === RR.TLSA) {
      r.message.answers.push({ name: 'evil.test', type: RR.TLSA, ttl: 300, rdata: Buffer.from('030101', 'hex'), tlsa: { usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32) } });
      r.message.answers.push({ name: name.toLowerCase(), type: RR.A, ttl: 300, rdata: Buffer.from([127, 0, 0, 1]), a: '127.0.0.1' });
    }
    return r;
  };
  const none = await lookupDane(tampering, 'mx-none.example.test', 25, 4000);
  assert.equal(none.tlsa.length, 0);
  assert.equal(daneApplies(none).applies, 'indeterminate', daneApplies(none).reason);
  const r = await checkTransportSecurity({ domain: 'pf-none.example.test', query: tampering, resolverAddress: unbound.address, nowMs: Date.now(), timeoutMs: 4000 });
  assert.equal(r.mx[0].verdict, 'indeterminate');
  assert.ok(!r.daneFindings.some((f) => f.code === 'dane-no-tlsa'), JSON.stringify(r.daneFindings));
  assert.match(r.daneFindings.find((f) => f.code === 'dane-indeterminate')?.message ?? '', /evil\.test TLSA/);
  // Beside real records they are ignored, with a note.
  const ok = await checkTransportSecurity({ domain: 'ok.example.test', query: tampering, resolverAddress: unbound.address, nowMs: Date.now(), timeoutMs: 4000 });
  assert.equal(ok.mx[0].verdict, 'not-probed');
  assert.equal(ok.mx[0].tlsa.length, 1);
  assert.ok(ok.daneFindings.some((f) => f.code === 'dane-tlsa-foreign-records'), JSON.stringify(ok.daneFindings));
});

test('the bogus zone: the chain of trust stops at the DS that matches no DNSKEY', async () => {
  const r = await report('bogus.example.test');
  const stop = r.domainTrust?.stop;
  assert.ok(stop, JSON.stringify(r.domainTrust));
  assert.equal(stop.zone, 'bogus.example.test');
  assert.equal(stop.problemCode, 'dnssec-ds-mismatch');
  assert.match(stop.problem ?? '', /DS 4711 13 2/);
});

test('the zone with expired signatures: the chain of trust stops at its DNSKEY signatures, and Unbound says why', async () => {
  const r = await report('expired.example.test');
  assert.equal(r.domainTrust?.stop?.zone, 'expired.example.test', JSON.stringify(r.domainTrust));
  assert.equal(r.domainTrust?.stop?.problemCode, 'dnssec-signature-expired');
  const f = r.dnssecFindings.find((x) => x.code === 'dnssec-domain-bogus');
  assert.match(f?.message ?? '', /Signature Expired \(7\)|DNSSEC Bogus \(6\)/);
});

test('the unsigned child: the chain of trust stops at the delegation without DS', async () => {
  const r = await report('plain.example.test');
  assert.equal(r.domainTrust?.stop?.zone, 'plain.example.test');
  assert.equal(r.domainTrust?.stop?.problemCode, 'dnssec-no-ds');
  const f = r.daneFindings.find((x) => x.code === 'dane-tlsa-insecure');
  assert.match(f?.message ?? '', /DANE does not apply/);
});

test('ldns-dane agrees with the matcher on each record against the chain Exim presents', async () => {
  const ldnsDane = requireBinary('ldns-dane');
  const chainFile = join(work, 'chain.pem');
  // The chain as a sender sees it with the issuer added, so DANE-TA records can be judged as well.
  writeFileSync(chainFile, exim.certPem + exim.caPem);
  const cases: Array<{ domain: string; host: string }> = [
    { domain: 'ok.example.test', host: 'mx-ok.example.test' },
    { domain: 'roll.example.test', host: 'mx-roll.example.test' },
    { domain: 'bad.example.test', host: 'mx-bad.example.test' },
    { domain: 'issuer.example.test', host: 'mail.example.test' },
    { domain: 'full.example.test', host: 'mx-full.example.test' },
    { domain: 'cname.example.test', host: 'mx-alias.example.test' },
  ];
  for (const c of cases) {
    const r = await report(c.domain);
    const m = r.mx.find((x) => x.host === c.host)!;
    for (const t of m.tlsa) {
      const tlsaFile = join(work, 'tlsa.txt');
      // ldns-dane looks for the records at _PORT._tcp.NAME of the port it is given.
      writeFileSync(tlsaFile, `_${exim.port}._tcp.${c.host}. 300 IN TLSA ${t.usage} ${t.selector} ${t.matchingType} ${t.data.toString('hex')}\n`);
      let ldnsOk: boolean;
      let output = '';
      try {
        // ldns-dane follows RFC 6698, which checks names for every usage; SMTP checks none for
        // DANE-EE (RFC 7672 §3.1.1), so -n turns the name check off for usage 3 only. The name and
        // port must be given even with -t, or ldns-dane compares the certificate with the name
        // from the file, final dot included, and reports a mismatch.
        const nameFlag = t.usage === 3 ? ['-n'] : [];
        const out = await run(ldnsDane, ['-d', ...nameFlag, '-c', chainFile, '-t', tlsaFile, 'verify', c.host, String(exim.port)]);
        output = out.stdout + out.stderr;
        ldnsOk = true;
      } catch (error) {
        const e = error as { stdout?: string; stderr?: string };
        output = `${e.stdout ?? ''}${e.stderr ?? ''}`;
        ldnsOk = false;
      }
      const ours = verifyDane([t], [leafDer, caDer], [m.tlsaBase ?? c.host, c.host], Date.now());
      assert.equal(ours.authenticated, ldnsOk, `${c.host} TLSA ${formatTlsa(t)}: ours ${ours.summary}; ldns-dane: ${output}`);
    }
  }
});

test('the DS digest computed from the served DNSKEY equals the DS keymgr prints', async () => {
  const r = await createDnssecQuery(unbound.address)('example.test', RR.DNSKEY, { timeoutMs: 4000 });
  assert.ok(r.ok && r.message.ad);
  const ksk = r.message.answers.find((x) => x.type === RR.DNSKEY && x.dnskey?.flags === 257);
  assert.ok(ksk, 'no KSK in the DNSKEY set');
  const line = (await knot.ds('example.test')).find((l) => / 2 [0-9a-f]+$/i.test(l.replace(/\s+/g, ' ')));
  assert.ok(line);
  const [tag, , , hex] = line.trim().split(/\s+/).slice(-4);
  assert.equal(ksk.dnskey!.keyTag, Number(tag));
  assert.equal(dsDigest('example.test', ksk.rdata, 2)?.toString('hex'), hex.toLowerCase());
  // The signatures Knot made are valid now, expired a year on, and not yet valid a year ago.
  const now = Math.floor(Date.now() / 1000);
  assert.equal(signatureTimes(r.message, 'example.test', RR.DNSKEY, now), 'ok');
  assert.equal(signatureTimes(r.message, 'example.test', RR.DNSKEY, now + 400 * 86400), 'expired');
  assert.equal(signatureTimes(r.message, 'example.test', RR.DNSKEY, now - 400 * 86400), 'not-yet-valid');
});

test('ldns-dane, connecting to Exim itself, agrees on a matching and a mismatching record', async () => {
  const ldnsDane = requireBinary('ldns-dane');
  for (const c of [{ domain: 'ok.example.test', host: 'mx-ok.example.test', ok: true }, { domain: 'bad.example.test', host: 'mx-bad.example.test', ok: false }]) {
    const m = (await report(c.domain)).mx[0];
    assert.equal(m.verdict === 'authenticated', c.ok);
    const tlsaFile = join(work, 'live.txt');
    writeFileSync(tlsaFile, m.tlsa.map((t) => `_${exim.tlsPort}._tcp.${c.host}. 300 IN TLSA ${t.usage} ${t.selector} ${t.matchingType} ${t.data.toString('hex')}\n`).join(''));
    // Exim's implicit-TLS port presents the same certificate as its STARTTLS port.
    const verdict = await run(ldnsDane, ['-d', '-n', '-a', exim.host, '-t', tlsaFile, 'verify', c.host, String(exim.tlsPort)]).then(
      () => true,
      () => false,
    );
    assert.equal(verdict, c.ok, `${c.host}: ldns-dane said ${verdict}`);
  }
});

/** The chain Exim's implicit-TLS port presents, as the session engine would read it after a handshake. */
function implicitTlsChain(servername: string): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: exim.host, port: exim.tlsPort, servername, rejectUnauthorized: false }, () => {
      const chain = peerChainDer(s.getPeerCertificate(true));
      s.destroy();
      resolve(chain);
    });
    s.once('error', reject);
  });
}

test('the session engine\'s path (TLS dane=on|only): lookupDane, daneApplies and verifyDane on a live socket', async () => {
  const q = createDnssecQuery(unbound.address);
  const cases: Array<{ host: string; applies: string; authenticated?: boolean }> = [
    { host: 'mx-ok.example.test', applies: 'usable', authenticated: true },
    { host: 'mx-bad.example.test', applies: 'usable', authenticated: false },
    { host: 'mx-alias.example.test', applies: 'usable', authenticated: true },
    { host: 'mx-none.example.test', applies: 'none' },
    { host: 'mx-pkix.example.test', applies: 'unusable' },
    // One decision for usability (tlsa.ts unusableReason): usage 3 with an unknown selector, a digest
    // of the wrong length, or a malformed RDATA is as unusable as a PKIX usage.
    { host: 'mx-unusable.example.test', applies: 'unusable' },
    { host: 'mx-short.example.test', applies: 'unusable' },
    { host: 'mx-empty.example.test', applies: 'unusable' },
    { host: 'mx-alias2.example.test', applies: 'usable', authenticated: false },
    { host: 'mx.plain.example.test', applies: 'insecure' },
    { host: 'mx.bogus.example.test', applies: 'bogus' },
  ];
  for (const c of cases) {
    const d = await lookupDane(q, c.host, 25, 4000);
    const a = daneApplies(d);
    assert.equal(a.applies, c.applies, `${c.host}: ${a.reason}`);
    if (c.authenticated === undefined) continue;
    const v = verifyDane(d.tlsa, await implicitTlsChain(d.tlsaBase), d.referenceNames, Date.now());
    assert.equal(v.authenticated, c.authenticated, `${c.host}: ${v.summary}`);
    if (c.authenticated) assert.match(v.summary, /^TLSA 3 1 1 [0-9a-f]+… \(DANE-EE SPKI SHA2-256\) matched the server certificate/);
  }
});

test('the domain report carries the DNSSEC, DANE and transport groups into JSON and Markdown', async () => {
  const r = await runReport('ok.example.test', {
    resolver: createNodeResolver({ server: unbound.address, timeoutMs: 4000 }),
    probeSelectors: false,
    timeoutMs: 4000,
    dnssec: { server: unbound.address, probes: {} },
    chainProber: createTlsChainProber(),
    smtpPort: exim.port,
  });
  assert.deepEqual(r.checks.slice(-3).map((c) => c.id), ['dnssec', 'dane', 'transport']);
  const json = JSON.parse(JSON.stringify(reportToJson(r))) as { checks: Array<{ id: string; findings: Array<{ code: string }> }> };
  const dane = json.checks.find((c) => c.id === 'dane');
  assert.ok(dane?.findings.some((f) => f.code === 'dane-tlsa-match'), JSON.stringify(dane));
  const transport = json.checks.find((c) => c.id === 'transport');
  assert.ok(transport?.findings.some((f) => f.code === 'consistency-tlsrpt-missing'), JSON.stringify(transport));
  const md = renderMarkdown([r]);
  assert.match(md, /DANE/);
  assert.match(md, /dane-tlsa-match/);
  // Without a DNSSEC resolver the groups are left out, as before.
  const plain = await runReport('ok.example.test', { resolver: createNodeResolver({ server: unbound.address, timeoutMs: 4000 }), probeSelectors: false, timeoutMs: 4000 });
  assert.ok(!plain.checks.some((c) => c.id === 'dnssec' || c.id === 'dane'));
});

test('an answer too large for UDP is asked again over TCP', async () => {
  const r = await createDnssecQuery(unbound.address)('_25._tcp.mx-big.example.test', RR.TLSA, { timeoutMs: 4000 });
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.equal(r.transport, 'tcp');
  assert.equal(r.message.ad, true);
  assert.equal(r.message.answers.filter((x) => x.type === RR.TLSA).length, 24);
});

test('the raw DNS parser never throws on hostile bytes', () => {
  const good = Buffer.from('abcd81a00001000100000001', 'hex');
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.alloc(Math.floor(Math.random() * 80));
    for (let j = 0; j < b.length; j++) b[j] = Math.floor(Math.random() * 256);
    const res = parseDnsMessage(i % 2 ? Buffer.concat([good, b]) : b);
    assert.equal(typeof res.ok, 'boolean');
  }
  // A compression loop is a parse error, not a hang.
  const loop = Buffer.concat([Buffer.from('000081800001000000000000', 'hex'), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
  assert.equal(parseDnsMessage(loop).ok, false);
});
