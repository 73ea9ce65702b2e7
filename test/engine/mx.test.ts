// MX selection (RFC 5321 §5.1, RFC 7505) against a real Knot serving fixture zones. MX hosts
// resolve to distinct loopback addresses (127.0.0.x) that share one port, since an MX record
// cannot carry a port; `mx:domain:PORT` gives the port.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as dns from 'node:dns';
import { startKnot, type KnotPeer } from '../peers/knot';
import { freePort } from '../peers/ports';
import { lookupMx, nodeIo, runSession, type SessionResult } from '../../client/src/engine';
import { cmd, makePlan } from './plan';
import { politeSmtp, rawServer, type RawServer } from './rawServer';
import { prng as seeded } from '../support/prng';

const ZONE = `
$TTL 60
pref     MX 20 low.example.test.
pref     MX 10 high.example.test.
high     A 127.0.0.11
low      A 127.0.0.12
equal    MX 10 e1.example.test.
equal    MX 10 e2.example.test.
equal    MX 10 e3.example.test.
e1       A 127.0.0.21
e2       A 127.0.0.22
e3       A 127.0.0.23
nomx     A 127.0.0.31
nullmx   MX 0 .
down     MX 10 dead.example.test.
down     MX 20 alive.example.test.
dead     A 127.0.0.41
alive    A 127.0.0.42
noaddr   MX 10 missing.example.test.
noaddr   MX 20 alive.example.test.
alldown  MX 10 dead.example.test.
busy     MX 10 busyhost.example.test.
busy     MX 20 alive.example.test.
busyhost A 127.0.0.51
`;

let knot: KnotPeer;
let port: number;
let resolver: dns.promises.Resolver;
const servers: RawServer[] = [];

before(async () => {
  knot = await startKnot({ zones: { 'example.test': ZONE } });
  resolver = new dns.promises.Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([knot.address]);
  port = await freePort();
  // Every reachable MX host greets with its own name, so a test can tell which one answered.
  const hosts: Array<[string, string]> = [
    ['127.0.0.11', 'high.example.test'],
    ['127.0.0.12', 'low.example.test'],
    ['127.0.0.21', 'e1.example.test'],
    ['127.0.0.22', 'e2.example.test'],
    ['127.0.0.23', 'e3.example.test'],
    ['127.0.0.31', 'nomx.example.test'],
    ['127.0.0.42', 'alive.example.test'],
  ];
  for (const [host, name] of hosts) {
    servers.push(await rawServer((c) => void politeSmtp(c, ['PIPELINING'], name), undefined, { host, port }));
  }
  // A host that is busy: 421 in its greeting.
  servers.push(
    await rawServer(
      async (c) => {
        c.send('421 4.3.2 busyhost.example.test too busy, try later\r\n');
        if ((await c.nextLine()) === 'QUIT') c.send('221 bye\r\n');
        c.socket.end();
      },
      undefined,
      { host: '127.0.0.51', port },
    ),
  );
});
after(async () => {
  for (const s of servers) await s.close();
  await knot?.stop();
});


async function runMx(domain: string, random: () => number = () => 0.5): Promise<SessionResult> {
  return runSession(makePlan({ connect: `mx:${domain}:${port}`, steps: [cmd('EHLO client.example.test'), cmd('QUIT')] }), {
    io: { ...nodeIo(), resolver, random },
    timeouts: { connect: 1000, greeting: 1000, command: 1000 },
  });
}

const greeting = (r: SessionResult): string | undefined => r.transcript.find((e) => e.dir === 'server')?.text;

test('the most preferred MX is used first', async () => {
  const r = await runMx('pref.example.test');
  assert.ok(r.ok, r.failure?.message);
  assert.deepEqual(
    r.mx?.candidates.map((c) => [c.host, c.preference]),
    [
      ['high.example.test', 10],
      ['low.example.test', 20],
    ],
  );
  assert.equal(r.mx?.chosen?.host, 'high.example.test');
  assert.equal(r.mx?.chosen?.address, '127.0.0.11');
  assert.match(greeting(r) ?? '', /^220 high\.example\.test/);
  assert.ok(r.transcript.some((e) => e.dir === 'info' && /using MX high\.example\.test \(preference 10\)/.test(e.text)));
});

test('hosts of equal preference are shuffled with the injected random', async () => {
  const orders = new Set<string>();
  for (let seed = 1; seed <= 40; seed++) {
    const found = await lookupMx(resolver, 'equal.example.test', seeded(seed));
    assert.equal(found.kind, 'hosts');
    if (found.kind === 'hosts') orders.add(found.candidates.map((c) => c.host).join(','));
  }
  // Three hosts have six orders; forty seeds should reach most of them, and certainly more than one.
  assert.ok(orders.size >= 4, `orders seen: ${[...orders].join(' | ')}`);
  // The same seed gives the same order, and the session connects to the first host of that order.
  const a = await lookupMx(resolver, 'equal.example.test', seeded(7));
  const b = await lookupMx(resolver, 'equal.example.test', seeded(7));
  assert.deepEqual(a, b);
  const r = await runMx('equal.example.test', seeded(7));
  assert.ok(r.ok, r.failure?.message);
  assert.equal(a.kind === 'hosts' ? a.candidates[0].host : '', r.mx?.chosen?.host);
  assert.match(greeting(r) ?? '', new RegExp(`^220 ${r.mx?.chosen?.host}`));
});

test('without MX records the domain itself is the implicit MX (A fallback)', async () => {
  const r = await runMx('nomx.example.test');
  assert.ok(r.ok, r.failure?.message);
  assert.equal(r.mx?.candidates[0].implicit, true);
  assert.equal(r.mx?.chosen?.address, '127.0.0.31');
  assert.ok(r.transcript.some((e) => /implicit MX, RFC 5321 §5\.1/.test(e.text)));
});

test('a null MX stops clearly (RFC 7505)', async () => {
  const r = await runMx('nullmx.example.test');
  assert.equal(r.ok, false);
  assert.equal(r.failure?.kind, 'dns');
  assert.match(r.failure?.message ?? '', /accepts no mail: it publishes a null MX \(RFC 7505\)/);
  assert.equal(r.mx?.nullMx, true);
});

test('an unreachable first MX is skipped for the next one', async () => {
  const r = await runMx('down.example.test');
  assert.ok(r.ok, r.failure?.message);
  assert.equal(r.mx?.chosen?.host, 'alive.example.test');
  assert.match(r.mx?.attempts[0].error ?? '', /ECONNREFUSED/);
  assert.ok(r.transcript.some((e) => e.dir === 'info' && /dead\.example\.test \(127\.0\.0\.41\) cannot be reached: .*trying the next host/.test(e.text)));
});

test('an MX host that answers 421 in its greeting is skipped for the next one', async () => {
  const r = await runMx('busy.example.test');
  assert.ok(r.ok, r.failure?.message);
  assert.equal(r.mx?.chosen?.host, 'alive.example.test');
  assert.match(r.mx?.attempts[0].error ?? '', /refused the session for now: 421 4\.3\.2/);
  assert.match(greeting(r) ?? '', /^421/);
  assert.ok(r.transcript.some((e) => e.dir === 'server' && /^220 alive\.example\.test/.test(e.text)));
});

test('an MX host without addresses is skipped', async () => {
  const r = await runMx('noaddr.example.test');
  assert.ok(r.ok, r.failure?.message);
  assert.equal(r.mx?.chosen?.host, 'alive.example.test');
  assert.ok(r.transcript.some((e) => /skipping missing\.example\.test/.test(e.text)));
});

test('when no MX host can be reached the session fails with each reason', async () => {
  const r = await runMx('alldown.example.test');
  assert.equal(r.failure?.kind, 'connection');
  assert.match(r.failure?.message ?? '', /no MX host of alldown\.example\.test could be reached: dead\.example\.test \(127\.0\.0\.41\)/);
});

test('a domain that does not exist is a DNS failure', async () => {
  const r = await runMx('nosuchdomain.example.test');
  assert.equal(r.failure?.kind, 'dns');
  assert.match(r.failure?.message ?? '', /does not exist|no MX host|no A or AAAA/);
});
