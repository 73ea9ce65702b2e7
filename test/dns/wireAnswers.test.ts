// `smtpwb dns` reading MX answers through the product's own wire client (wireResolver.ts, one parser
// in dnssecWire.ts): answers a broken or hostile server sends must never be read as "no MX" (which
// makes the domain its own implicit MX, RFC 5321 §5.1) nor leak a raw Node error. Knot serves what a
// real server sends (a CNAME chain of 11 links, a CNAME loop); the loopback responder fakeDns.ts, in
// real DNS over UDP and TCP, sends what no sane server does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainReportJson } from '../../client/src/dns/index';
import { followAnswerChain, MAX_CNAME_LINKS, parseDnsMessage, RR } from '../../client/src/dns/dnssecWire';
import { createWireResolver } from '../../client/src/dns/wireResolver';
import { useDnsCli } from './cliRun';
import { startFakeDns, type FakeDnsMode } from './fakeDns';
import { startStallingSmtp } from './stallingSmtp';

const dns = useDnsCli();

type CheckJson = DomainReportJson['checks'][number];

/** The MX check of `domain`'s report against `server`, and the whole output. */
async function mxCheck(domain: string, server: string): Promise<{ mx: CheckJson; code: number; out: string }> {
  const r = await dns.cli([domain, '--dns-server', server, '--no-selector-probe', '--json']);
  assert.ok(r.stdout.startsWith('{'), `${domain}: ${r.stderr}`);
  const mx = (JSON.parse(r.stdout.trim()) as DomainReportJson).checks.find((c) => c.id === 'mx')!;
  return { mx, code: r.code, out: r.stdout + r.stderr };
}

const codes = (check: CheckJson): string[] => check.findings.map((f) => f.code).sort();

async function withFake<T>(mode: FakeDnsMode, body: (address: string) => Promise<T>): Promise<T> {
  const fake = await startFakeDns(mode);
  try {
    return await body(fake.address);
  } finally {
    await fake.stop();
  }
}

test('a CNAME chain of 11 links before the MX is followed to the MX: its records are not foreign, and a chain cut short is asked on, not read as "no MX"', async () => {
  // Knot hands over five links per answer, without the SOA of a negative answer: the query goes on
  // from the last name (RFC 1034 §3.6.2), as a resolver's would.
  const { mx } = await mxCheck('chain11.test', dns.env.knot.address);
  assert.deepEqual(mx.records.filter((x) => x.type === 'MX').map((x) => x.data), ['10 mail.example.test.'], JSON.stringify(mx));
  assert.ok(!codes(mx).includes('mx-foreign-records'), JSON.stringify(mx.findings));
  assert.ok(!codes(mx).includes('mx-implicit'), JSON.stringify(mx.findings));
  assert.equal(mx.status, 'pass', JSON.stringify(mx.findings));
  // An alias of a name without MX: the answer is the CNAME and the SOA (RFC 2308 §2.2), so "no MX" is
  // the answer, and the implicit MX applies.
  const alias = await mxCheck('aliasnomx.test', dns.env.knot.address);
  assert.deepEqual(codes(alias.mx), ['mx-implicit'], JSON.stringify(alias.mx.findings));
});

test('one answer holding a CNAME chain of 20 links and then the MX: every record of the chain is part of the answer, none foreign', async () => {
  await withFake('cname-chain', async (server) => {
    const { mx } = await mxCheck('chain20.own.test', server);
    assert.deepEqual(mx.records.filter((x) => x.type === 'MX').map((x) => x.data), ['10 mx.chain20.own.test.'], JSON.stringify(mx));
    assert.ok(!codes(mx).includes('mx-foreign-records'), JSON.stringify(mx.findings));
    assert.ok(!codes(mx).includes('mx-implicit'), JSON.stringify(mx.findings));
  });
});

test('a chain that cannot be followed to its end is an error finding, never "no MX" and the implicit MX: a CNAME loop (Knot), and a chain longer than the bound', async () => {
  const loop = await mxCheck('cnameloop.test', dns.env.knot.address);
  assert.deepEqual(codes(loop.mx), ['mx-dns-error'], JSON.stringify(loop.mx.findings));
  assert.match(loop.mx.findings[0].message, /CNAME chain in the answer loops \(cnameloop\.test → l1\.cnameloop\.test → cnameloop\.test\)/);
  await withFake('cname-chain', async (server) => {
    const long = await mxCheck(`chain${MAX_CNAME_LINKS + 8}.own.test`, server);
    assert.deepEqual(codes(long.mx), ['mx-dns-error'], JSON.stringify(long.mx.findings));
    assert.match(long.mx.findings[0].message, new RegExp(`CNAME chain in the answer is longer than ${MAX_CNAME_LINKS} links`));
    assert.equal(long.mx.findings[0].severity, 'error');
  });
});

test('an owner that is one label holding a dot (dotlabel\\.test.) is not the name dotlabel.test: its MX is foreign', async () => {
  await withFake('dot-label', async (server) => {
    const { mx } = await mxCheck('dotlabel.test', server);
    assert.deepEqual(mx.records.filter((x) => x.type === 'MX'), [], JSON.stringify(mx));
    const foreign = mx.findings.find((f) => f.code === 'mx-foreign-records');
    assert.ok(foreign, JSON.stringify(mx.findings));
    assert.ok(foreign.message.includes('dotlabel\\.test MX'), foreign.message);
    assert.ok(!JSON.stringify(mx.records).includes('evil'), JSON.stringify(mx.records));
  });
});

test('an answer still truncated over TCP is a DNS error, not NODATA (no implicit MX)', async () => {
  await withFake('tc-always', async (server) => {
    const { mx, code } = await mxCheck('tc.test', server);
    assert.deepEqual(codes(mx), ['mx-dns-error'], JSON.stringify(mx.findings));
    assert.match(mx.findings[0].message, /over TCP is marked truncated \(TC\)/);
    assert.equal(code, 1);
  });
});

test('an answer over TCP with another ID is reported as such, not as "no DNS server could be reached"', async () => {
  await withFake('tcp-wrong-id', async (server) => {
    const { mx, code, out } = await mxCheck('wrongid.test', server);
    assert.deepEqual(codes(mx), ['mx-dns-error'], JSON.stringify(mx.findings));
    assert.match(mx.findings[0].message, /answered over TCP with another ID or question than the query/);
    assert.doesNotMatch(out, /could (not )?be reached/);
    assert.equal(code, 1);
  });
});

test('a short MX or AAAA RDATA is a malformed answer, never a raw Node error', async () => {
  await withFake('short-rdata', async (server) => {
    const { mx, out } = await mxCheck('short.test', server);
    assert.deepEqual(codes(mx), ['mx-dns-error'], JSON.stringify(mx.findings));
    assert.match(mx.findings[0].message, /the MX record of short\.test in the answer is malformed: the MX RDATA is 1 octet/);
    assert.doesNotMatch(out, /ERR_OUT_OF_RANGE|offset/);
    const wire = createWireResolver({ server, timeoutMs: 3000 });
    await assert.rejects(wire('short.test', 'AAAA'), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'EBADRESP');
      assert.match(err.message, /AAAA RDATA is 2 octets, not 16/);
      return true;
    });
    assert.deepEqual(await wire('short.test', 'A'), ['127.0.0.1']);
  });
});

test('--probe-starttls against a server that dribbles its greeting says the timeout ran out, not that the run was cancelled', async () => {
  const smtp = await startStallingSmtp('drip-greeting');
  try {
    const r = await dns.cli(['tls.test', '--dns-server', dns.env.knot.address, '--probe-starttls', '--timeout', '2000', '--json', '--no-selector-probe'], {
      SMTPWB_DNS_SMTP_PORT: String(smtp.port),
    });
    const starttls = (JSON.parse(r.stdout.trim()) as DomainReportJson).checks.find((c) => c.id === 'starttls')!;
    const failed = starttls.findings.filter((f) => f.code === 'starttls-connect-failed');
    assert.ok(failed.length > 0, JSON.stringify(starttls.findings));
    for (const f of failed) {
      assert.doesNotMatch(f.message, /cancelled/);
      // Whichever timer fires first, the probe's or the run's, the message names the --timeout.
      assert.match(f.message, /the run's --timeout of 2000 ms has passed|no complete greeting within 2000 ms/);
    }
  } finally {
    await smtp.stop();
  }
});

test('the chain rule: followed as far as the answer goes, with loops, two targets and the bound as problems', () => {
  const cname = (name: string, target: string | undefined): { name: string; type: number; name_?: string; malformed?: string } =>
    target === undefined ? { name, type: RR.CNAME, malformed: 'the CNAME RDATA is 0 octets' } : { name, type: RR.CNAME, name_: target };
  const links = Array.from({ length: 15 }, (_, i) => cname(i === 0 ? 'a.test' : `c${i}.a.test`, `c${i + 1}.a.test`));
  assert.equal(followAnswerChain(links, 'A.test.', RR.MX).chain.length, 16);
  assert.equal(followAnswerChain(links, 'a.test', RR.MX).problem, undefined);
  assert.match(followAnswerChain([cname('a.test', 'b.test'), cname('b.test', 'a.test')], 'a.test', RR.MX).problem ?? '', /loops \(a\.test → b\.test → a\.test\)/);
  assert.match(followAnswerChain([cname('a.test', 'b.test'), cname('a.test', 'c.test')], 'a.test', RR.MX).problem ?? '', /2 CNAME records with different targets/);
  assert.match(followAnswerChain([cname('a.test', undefined)], 'a.test', RR.MX).problem ?? '', /CNAME record of a\.test in the answer is malformed/);
  const long = Array.from({ length: MAX_CNAME_LINKS + 1 }, (_, i) => cname(i === 0 ? 'a.test' : `c${i}.a.test`, `c${i + 1}.a.test`));
  assert.equal(followAnswerChain(long.slice(0, MAX_CNAME_LINKS), 'a.test', RR.MX).problem, undefined);
  assert.match(followAnswerChain(long, 'a.test', RR.MX).problem ?? '', /longer than/);
  // A one-label owner holding a dot is written with the dot escaped, so it is never the asked name.
  assert.deepEqual(followAnswerChain([cname('a\\.test', 'b.test')], 'a.test', RR.MX), { chain: ['a.test'] });
});

test('the one parser never throws and never shows a raw Node error: every truncation and every one-octet change of an answer', () => {
  const name = (text: string): number[] => [...text.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]), 0];
  const rr = (owner: number[], type: number, rdata: number[]): number[] => [...owner, 0, type, 0, 1, 0, 0, 0, 60, rdata.length >> 8, rdata.length & 0xff, ...rdata];
  const message = Buffer.from([
    ...[0x12, 0x34, 0x81, 0x80, 0, 1, 0, 4, 0, 0, 0, 0],
    ...name('a.test'), 0, 15, 0, 1,
    ...rr([0xc0, 12], RR.CNAME, name('b.test')),
    ...rr(name('b.test'), RR.MX, [0, 10, 2, ...Buffer.from('mx'), 0xc0, 12]),
    ...rr(name('b.test'), RR.TXT, [3, ...Buffer.from('abc'), 1, 0x41]),
    ...rr(name('b.test'), RR.AAAA, [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(12).fill(0)]),
  ]);
  const ok = parseDnsMessage(message);
  assert.ok(ok.ok, JSON.stringify(ok));
  assert.deepEqual(ok.message.answers.map((r) => [r.name, r.type, r.name_ ?? r.mx?.exchange ?? r.txt ?? r.a]), [
    ['a.test', RR.CNAME, 'b.test'],
    ['b.test', RR.MX, 'mx.a.test'],
    ['b.test', RR.TXT, ['abc', 'A']],
    ['b.test', RR.AAAA, '2001:db8:0:0:0:0:0:0'],
  ]);
  const variants: Buffer[] = [];
  for (let n = 0; n < message.length; n++) variants.push(message.subarray(0, n));
  for (let i = 0; i < message.length; i++) {
    for (const v of [0x00, 0x01, 0x3f, 0xc0, 0xff]) {
      const copy = Buffer.from(message);
      copy[i] = v;
      variants.push(copy);
    }
  }
  for (const variant of variants) {
    const r = parseDnsMessage(variant);
    if (!r.ok) assert.doesNotMatch(r.error, /ERR_|offset|out of range/i, variant.toString('hex'));
    else for (const record of r.message.answers) assert.ok(record.malformed === undefined || !/ERR_|offset/.test(record.malformed));
  }
});
