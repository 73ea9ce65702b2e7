// The raw DNS transport (dnsTransport.ts) and the clients on it accept an answer only when its ID and
// its question (name case-insensitively, type, class) are the query's (RFC 5452 §9.1). The fake
// server sends, for every UDP query, a forged answer first (the right ID, another question) and then
// the real one; over TCP, only the forged one. No real server sends that, hence the fake.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { answersQuery, exchangeTcp, exchangeUdp } from '../../client/src/dns/dnsTransport';
import { createDnssecQuery, encodeDnssecQuery, parseDnsMessage, RR } from '../../client/src/dns/dnssecWire';
import { createWireResolver } from '../../client/src/dns/wireResolver';
import { FORGED_ADDRESS, startFakeDns } from './fakeDns';

let fake: Awaited<ReturnType<typeof startFakeDns>>;

before(async () => {
  fake = await startFakeDns('wrong-question');
});

after(async () => {
  await fake?.stop();
});

test('UDP: an answer to another question is ignored, and the real answer (name in another case) is taken', async () => {
  const query = encodeDnssecQuery(0x1234, 'Mail.Example.test', RR.MX, false)!;
  const r = await exchangeUdp('127.0.0.1', fake.port, query, 0x1234, 3000);
  assert.ok(r.ok, JSON.stringify(r));
  const m = parseDnsMessage(r.message);
  assert.ok(m.ok);
  assert.equal(m.message.rcode, 3, 'the genuine answer is NXDOMAIN; the forged one had an A record');
  assert.deepEqual(m.message.answers, []);
});

test('TCP: an answer to another question is an error', async () => {
  const query = encodeDnssecQuery(0x4321, 'mail.example.test', RR.MX, false)!;
  const r = await exchangeTcp('127.0.0.1', fake.port, query, 3000);
  assert.equal(r.ok, false);
  assert.ok(!r.ok && /another ID or question/.test(r.error), JSON.stringify(r));
});

test('the DNSSEC client and the wire resolver never return the forged record', async () => {
  const dnssec = await createDnssecQuery(fake.address)('mx.example.test', RR.A, { timeoutMs: 3000 });
  assert.ok(dnssec.ok, JSON.stringify(dnssec));
  assert.equal(dnssec.message.rcode, 3);
  assert.ok(!dnssec.message.answers.some((a) => a.a === FORGED_ADDRESS));
  const wire = createWireResolver({ server: fake.address, timeoutMs: 3000 });
  await assert.rejects(wire('mx.example.test', 'A'), (err: NodeJS.ErrnoException) => err.code === 'ENOTFOUND');
});

test('answersQuery: ID, question name (ASCII case only), type and class must all match, and QR must be set', () => {
  const q = encodeDnssecQuery(7, 'a.Example.test', RR.TXT, false)!;
  const answer = (mutate: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(q);
    b[2] |= 0x80;
    mutate(b);
    return b;
  };
  assert.equal(answersQuery(q, answer(() => undefined)), true);
  assert.equal(answersQuery(q, answer((b) => (b[15] = 'e'.charCodeAt(0)))), true, 'case differs');
  assert.equal(answersQuery(q, Buffer.from(q)), false, 'not a response');
  assert.equal(answersQuery(q, answer((b) => b.writeUInt16BE(8, 0))), false, 'another ID');
  assert.equal(answersQuery(q, answer((b) => (b[15] = 'f'.charCodeAt(0)))), false, 'another name');
  const typeAt = 12 + 'a.Example.test'.length + 2;
  assert.equal(answersQuery(q, answer((b) => b.writeUInt16BE(RR.A, typeAt))), false, 'another type');
  assert.equal(answersQuery(q, answer((b) => b.writeUInt16BE(3, typeAt + 2))), false, 'another class');
  assert.equal(answersQuery(q, answer((b) => b.writeUInt16BE(0, 4))), false, 'no question');
});
