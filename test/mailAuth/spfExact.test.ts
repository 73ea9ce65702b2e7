// SPF in `verify` is the product's RFC 7208 evaluator: the cases mailauth got wrong, checked through
// verifyMessage against a real Knot zone (the whole RFC 7208 suite runs in test/standards/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKnot, type KnotPeer } from '../peers/knot';
import { verifyMessage } from '../../client/src/mailAuth/verify';
import { createResolver } from '../../client/src/mailAuth/resolver';
import { ROOT_ZONE, sampleMessage } from './fixtures';

let knot: KnotPeer;

const ZONE = [
  '$ORIGIN spf.test.',
  '$TTL 300',
  'helo IN TXT "v=spf1 a:%{H} -all"',
  'mail IN A 192.0.2.10',
  'baremech IN TXT "v=spf1 ip6 -all"',
  'badip6 IN TXT "v=spf1 ip6::CAFE::BABE -all"',
  'twoexp IN TXT "v=spf1 -all exp=e1.spf.test exp=e2.spf.test"',
  'rexp IN TXT "v=spf1 -all exp=%{r}.spf.test"',
  'emptyexp IN TXT "v=spf1 -all exp="',
  'withexp IN TXT "v=spf1 -all exp=why.spf.test"',
  'why IN TXT "%{i} is not one of %{d}\'s senders (checked by %{r})"',
  // %{p}: the validated name of the client, used as a target (RFC 7208 §7.3).
  'pmacro IN TXT "v=spf1 exists:%{p}.ok.spf.test -all"',
  'mail.spf.test.ok IN A 127.0.0.2',
  // A label with "%" and a space is a valid DNS name (RFC 2181 §11); Node refuses to send it.
  'percent IN TXT "v=spf1 a:macro%%percent%_space.spf.test -all"',
  'macro\\037percent\\032space IN A 192.0.2.20',
  // A label over 63 octets after expansion is a name that does not exist, not a temperror.
  'longlabel IN TXT "v=spf1 a:%{l}.spf.test ~all"',
  '',
].join('\n');

const REVERSE = ['$ORIGIN 2.0.192.in-addr.arpa.', '$TTL 300', '10 IN PTR mail.spf.test.', ''].join('\n');

before(async () => {
  // The root zone makes names outside the test zones NXDOMAIN, as a recursive resolver would answer.
  knot = await startKnot({ zones: { '': ROOT_ZONE, 'spf.test': ZONE, '2.0.192.in-addr.arpa': REVERSE } });
});

after(async () => {
  await knot?.stop();
});

async function spfOf(mailFrom: string, ip: string, helo: string): Promise<{ result: string; details: Record<string, string>; receivedSpf?: string }> {
  const report = await verifyMessage(sampleMessage('alice@spf.test'), {
    resolver: createResolver({ server: knot.address, timeoutMs: 1000, tries: 1 }),
    ip,
    helo,
    mailFrom,
    authServId: 'mx.spf.test',
    useReceived: false,
  });
  return { result: report.spf.result, details: report.spf.details, receivedSpf: report.receivedSpf };
}

const CASES: Array<{ name: string; mailFrom: string; ip: string; helo: string; result: string; detail?: [string, RegExp] }> = [
  { name: 'a:%{H} with a HELO that is not a domain does not match, so -all fails', mailFrom: 'x@helo.spf.test', ip: '192.0.2.10', helo: "JUMPIN' JUPITER", result: 'fail' },
  { name: 'a:%{H} with a valid HELO matches', mailFrom: 'x@helo.spf.test', ip: '192.0.2.10', helo: 'mail.spf.test', result: 'pass' },
  { name: 'a bare ip6 is a permerror', mailFrom: 'x@baremech.spf.test', ip: '192.0.2.10', helo: 'mail.spf.test', result: 'permerror' },
  { name: 'ip6::CAFE::BABE is a permerror', mailFrom: 'x@badip6.spf.test', ip: '192.0.2.10', helo: 'mail.spf.test', result: 'permerror' },
  { name: 'exp= twice is a permerror', mailFrom: 'x@twoexp.spf.test', ip: '192.0.2.10', helo: 'mail.spf.test', result: 'permerror' },
  { name: '%{r} in the domain of exp= is a permerror', mailFrom: 'x@rexp.spf.test', ip: '192.0.2.10', helo: 'mail.spf.test', result: 'permerror' },
  { name: 'an empty exp= is a permerror', mailFrom: 'x@emptyexp.spf.test', ip: '192.0.2.10', helo: 'mail.spf.test', result: 'permerror' },
  { name: 'exp= gives the expanded explanation of a fail', mailFrom: 'x@withexp.spf.test', ip: '192.0.2.99', helo: 'mail.spf.test', result: 'fail', detail: ['explanation', /^192\.0\.2\.99 is not one of withexp\.spf\.test's senders \(checked by mx\.spf\.test\)$/] },
  { name: '%{p} expands to the validated name', mailFrom: 'x@pmacro.spf.test', ip: '192.0.2.10', helo: 'mail.spf.test', result: 'pass' },
  { name: '%{p} without a validated name is "unknown"', mailFrom: 'x@pmacro.spf.test', ip: '192.0.2.11', helo: 'mail.spf.test', result: 'fail' },
  { name: 'a name with "%" and a space is queried (Node refuses it; the wire resolver sends it)', mailFrom: 'x@percent.spf.test', ip: '192.0.2.20', helo: 'mail.spf.test', result: 'pass' },
  { name: 'a label over 63 octets is a name that does not exist', mailFrom: `${'l'.repeat(70)}@longlabel.spf.test`, ip: '192.0.2.10', helo: 'mail.spf.test', result: 'softfail' },
  { name: 'a sender domain with a label over 63 octets gives none (RFC 7208 §4.3)', mailFrom: `x@${'l'.repeat(64)}.spf.test`, ip: '192.0.2.10', helo: 'mail.spf.test', result: 'none' },
  { name: 'the null reverse-path checks postmaster@HELO', mailFrom: '', ip: '192.0.2.10', helo: 'helo.spf.test', result: 'fail', detail: ['identity', /^helo$/] },
];

for (const c of CASES) {
  test(`verify SPF: ${c.name}`, async () => {
    const spf = await spfOf(c.mailFrom, c.ip, c.helo);
    assert.equal(spf.result, c.result, JSON.stringify(spf.details));
    if (c.detail) assert.match(spf.details[c.detail[0]] ?? '', c.detail[1], JSON.stringify(spf.details));
    assert.match(spf.receivedSpf ?? '', new RegExp(`^Received-SPF: ${c.result} `));
  });
}
