// Whether the report's resolver validates, learnt from the report's own answers (dnssec.ts,
// `observeValidation` and `checkResolverValidates`), against real parts: Knot signs sec.test and its
// child island.sec.test, whose delegation has no DS (an island of security); Unbound validates with
// sec.test's DS as trust anchor. No public probe can be reached here, so only the evidence decides.
// - Knot asked directly answers signed data authoritatively without AD: it does not validate.
// - Unbound answers the island's signed data without AD too, but it validates (it proves the missing
//   DS with AD), so the island is insecure and the resolver is not called non-validating.
// - bogusds.sec.test has a DS that matches none of its keys: Unbound refuses its answers (SERVFAIL)
//   and hands them over with CD set, which shows by itself that it validates.
// - unkds.sec.test and unkalg.sec.test have DS records with an unknown digest type (99) and an
//   unknown algorithm (200): where the chain of trust stops is explained as unsupported (insecure,
//   RFC 4035 §5.2, RFC 6840 §5.2), not as a DS that matches no key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { checkResolverValidates, explainTrustChain, lookupWithStatus, observeValidation } from '../../client/src/dns/dnssec';
import { createDnssecQuery, RR } from '../../client/src/dns/dnssecWire';
import { startKnot, type KnotPeer } from '../peers/knot';
import { startUnbound, type UnboundPeer } from '../peers/unbound';

let knot: KnotPeer;
let unbound: UnboundPeer;

const CHILD = ['@ 300 IN NS ns1', 'ns1 300 A 127.0.0.1', '@ 300 MX 10 mx', 'mx 300 A 127.0.0.1', ''].join('\n');
const DIGEST = 'a1'.repeat(32);
const ZONES = {
  'sec.test': [
    '@ 300 IN NS ns1', 'ns1 300 A 127.0.0.1', '@ 300 MX 10 mx', 'mx 300 A 127.0.0.1',
    'island 300 NS ns1.island', 'ns1.island 300 A 127.0.0.1',
    'unkds 300 NS ns1.unkds', 'ns1.unkds 300 A 127.0.0.1', `unkds 300 DS 12345 13 99 ${DIGEST}`,
    'unkalg 300 NS ns1.unkalg', 'ns1.unkalg 300 A 127.0.0.1', `unkalg 300 DS 12345 200 2 ${DIGEST}`,
    'bogusds 300 NS ns1.bogusds', 'ns1.bogusds 300 A 127.0.0.1', `bogusds 300 DS 12345 13 2 ${DIGEST}`,
    '',
  ].join('\n'),
  'island.sec.test': CHILD,
  'unkds.sec.test': CHILD,
  'unkalg.sec.test': CHILD,
  'bogusds.sec.test': CHILD,
};
const CHILDREN = ['island.sec.test', 'unkds.sec.test', 'unkalg.sec.test', 'bogusds.sec.test'];

before(async () => {
  knot = await startKnot({ zones: ZONES, signed: ['sec.test', ...CHILDREN] });
  unbound = await startUnbound({ trustAnchors: await knot.ds('sec.test'), stubs: Object.fromEntries(['sec.test', ...CHILDREN].map((z) => [z, knot.address])) });
});

after(async () => {
  await unbound?.stop();
  await knot?.stop();
});

test('an authoritative server (Knot) that answers signed data without AD is known not to validate, with no probe', async () => {
  const observed = observeValidation(createDnssecQuery(knot.address));
  const mx = await lookupWithStatus(observed.query, 'sec.test', RR.MX, 4000);
  assert.equal(mx.status, 'insecure', 'no AD from Knot');
  assert.equal(observed.evidence.ad, false);
  assert.equal(observed.evidence.signedWithoutAd.length, 1);
  const v = await checkResolverValidates(observed.query, knot.address, observed.evidence, {}, 4000);
  assert.equal(v.validates, 'no', v.evidence);
  assert.match(v.evidence, /authoritative server \(AA\)/);
});

test('a validating resolver (Unbound) answering an island of security without AD is still known to validate', async () => {
  const observed = observeValidation(createDnssecQuery(unbound.address));
  const mx = await lookupWithStatus(observed.query, 'island.sec.test', RR.MX, 4000);
  assert.equal(mx.status, 'insecure');
  assert.equal(observed.evidence.signedWithoutAd.length, 1, 'the island is signed');
  const v = await checkResolverValidates(observed.query, unbound.address, observed.evidence, {}, 4000);
  assert.equal(v.validates, 'yes', v.evidence);
  assert.match(v.evidence, /DS answer for island\.sec\.test/);
});

test('with AD on any answer the resolver validates; with no evidence at all it is unknown, never "no"', async () => {
  const observed = observeValidation(createDnssecQuery(unbound.address));
  assert.equal((await lookupWithStatus(observed.query, 'sec.test', RR.MX, 4000)).status, 'secure');
  assert.equal((await checkResolverValidates(observed.query, unbound.address, observed.evidence, {}, 4000)).validates, 'yes');
  const none = await checkResolverValidates(createDnssecQuery(unbound.address), unbound.address, false, {}, 4000);
  assert.equal(none.validates, 'unknown');
});

test('a DS with an unknown digest type or algorithm is explained as unsupported (insecure), not as a mismatch', async () => {
  for (const [zone, why] of [['unkds.sec.test', /digest type 99/], ['unkalg.sec.test', /algorithm 200/]] as const) {
    const query = createDnssecQuery(unbound.address);
    assert.equal((await lookupWithStatus(query, zone, RR.MX, 4000)).status, 'insecure', zone);
    const chain = await explainTrustChain(query, zone, Date.now(), 4000);
    assert.equal(chain.stop?.problemCode, 'dnssec-ds-unsupported', `${zone}: ${chain.stop?.problemCode}: ${chain.stop?.problem}`);
    assert.equal(chain.stop?.status, 'insecure');
    assert.match(chain.stop?.problem ?? '', why);
  }
});

test('a resolver that refuses a bogus answer and hands it over with CD set validates, by the evidence alone (one decision for dnssec.ts and dane.ts)', async () => {
  const observed = observeValidation(createDnssecQuery(unbound.address));
  const mx = await lookupWithStatus(observed.query, 'bogusds.sec.test', RR.MX, 4000);
  assert.equal(mx.status, 'bogus', mx.note);
  assert.equal(observed.evidence.ad, false, 'no AD on any answer');
  const v = await checkResolverValidates(observed.query, unbound.address, observed.evidence, {}, 4000);
  assert.equal(v.validates, 'yes', v.evidence);
  assert.match(v.evidence, /refused .*bogusds\.sec\.test.*CD bit/);
  // The same answers from a server that does not validate (Knot itself) never count as a refusal.
  const direct = observeValidation(createDnssecQuery(knot.address));
  assert.notEqual((await lookupWithStatus(direct.query, 'bogusds.sec.test', RR.MX, 4000)).status, 'bogus');
  assert.notEqual((await checkResolverValidates(direct.query, knot.address, direct.evidence, {}, 4000)).validates, 'yes');
});
