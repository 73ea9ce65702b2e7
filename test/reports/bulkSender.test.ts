// The bulk-sender check on real signatures and real verification: messages are signed with the
// project's signer, verified by mailAuth/verify.ts against a real Knot serving example.test
// (test/mailAuth/fixtures.ts), then checked. One fixture per requirement, each failing only it.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { checkBulkSender, bulkProblems, listUnsubscribeUris, type BulkTransport } from '../../client/src/reports/bulkSender';
import { createResolver } from '../../client/src/mailAuth/resolver';
import { verifyMessage } from '../../client/src/mailAuth/verify';
import { exampleZone, makeKeys, ROOT_ZONE, type TestKeys } from '../mailAuth/fixtures';
import { startKnot, type KnotPeer } from '../peers/knot';
import { GOOD_UNSUBSCRIBE, signedBulkMessage } from './bulkMessages';

const GOOD_TRANSPORT: BulkTransport = { tls: true, clientIp: '198.51.100.10', fcrdns: { ptr: 'mail.example.test', confirmed: true } };

describe('bulk-sender requirements', () => {
  let knot: KnotPeer;
  let keys: TestKeys;
  before(async () => {
    keys = makeKeys();
    knot = await startKnot({ zones: { '': ROOT_ZONE, 'example.test': exampleZone(keys) } });
  });
  after(async () => {
    await knot?.stop();
  });

  async function check(opts: { from?: string; headers?: string[]; sign?: boolean; headerList?: string[]; ip?: string; transport?: BulkTransport }) {
    const msg = await signedBulkMessage(keys, opts);
    const report = await verifyMessage(msg, { resolver: createResolver({ server: knot.address }), ip: opts.ip ?? '198.51.100.10', helo: 'mail.example.test', mailFrom: 'bounce@example.test', authServId: 'mx.test' });
    const results = checkBulkSender(msg, report, opts.transport ?? GOOD_TRANSPORT);
    const status = Object.fromEntries(results.map((r) => [r.code, r.status]));
    return { results, status, msg };
  }

  it('a compliant message passes every requirement, each with a link', async () => {
    const { results, status } = await check({});
    assert.deepEqual(status, {
      'bulk-spf': 'pass',
      'bulk-dkim': 'pass',
      'bulk-dmarc-record': 'pass',
      'bulk-from-alignment': 'pass',
      'bulk-list-unsubscribe': 'pass',
      'bulk-one-click': 'pass',
      'bulk-unsubscribe-signed': 'pass',
      'bulk-tls': 'pass',
      'bulk-fcrdns': 'pass',
    }, JSON.stringify(results, null, 2));
    for (const r of results) assert.match(r.link, /^https:\/\//);
    assert.deepEqual(bulkProblems(results), []);
  });

  it('List-Unsubscribe without https fails, with the field as the range', async () => {
    const { status, results, msg } = await check({ headers: ['List-Unsubscribe: <mailto:unsub@example.test>', GOOD_UNSUBSCRIBE[1]] });
    assert.equal(status['bulk-list-unsubscribe'], 'fail');
    const r = results.find((x) => x.code === 'bulk-list-unsubscribe');
    assert.ok(r);
    assert.equal(msg.toString('latin1').slice(r.range.start, r.range.end), 'List-Unsubscribe: <mailto:unsub@example.test>');
    assert.equal(status['bulk-one-click'], 'pass');
  });

  it('a wrong List-Unsubscribe-Post fails one-click', async () => {
    const { status } = await check({ headers: [GOOD_UNSUBSCRIBE[0], 'List-Unsubscribe-Post: List-Unsubscribe=Yes'] });
    assert.equal(status['bulk-one-click'], 'fail');
    assert.equal(status['bulk-list-unsubscribe'], 'pass');
  });

  it('a signature whose h= leaves out the unsubscribe fields fails RFC 8058 §4', async () => {
    const { status } = await check({ headerList: ['from', 'to', 'subject', 'date', 'message-id'] });
    assert.equal(status['bulk-unsubscribe-signed'], 'fail');
    assert.equal(status['bulk-dkim'], 'pass');
  });

  it('an unsigned message fails DKIM and the signed-fields requirement', async () => {
    const { status } = await check({ sign: false });
    assert.equal(status['bulk-dkim'], 'fail');
    assert.equal(status['bulk-unsubscribe-signed'], 'fail');
  });

  it('SPF from an unlisted address fails SPF', async () => {
    const { status } = await check({ ip: '192.0.2.55' });
    assert.equal(status['bulk-spf'], 'fail');
  });

  it('a From domain without DMARC and not aligned fails both', async () => {
    const { status } = await check({ from: 'news@other.test' });
    assert.equal(status['bulk-dmarc-record'], 'fail');
    assert.equal(status['bulk-from-alignment'], 'fail');
  });

  it('transport: unknown when not given, fail without TLS or FCrDNS', async () => {
    const unknown = await check({ transport: {} });
    assert.equal(unknown.status['bulk-tls'], 'unknown');
    assert.equal(unknown.status['bulk-fcrdns'], 'unknown');
    const bad = await check({ transport: { tls: false, clientIp: '198.51.100.10', fcrdns: { ptr: 'x.example.net', confirmed: false } } });
    assert.equal(bad.status['bulk-tls'], 'fail');
    assert.equal(bad.status['bulk-fcrdns'], 'fail');
  });

  it('reads List-Unsubscribe URIs', () => {
    assert.deepEqual(listUnsubscribeUris('<https://a.test/x>, <mailto:b@a.test>'), ['https://a.test/x', 'mailto:b@a.test']);
  });
});
