// The ARC chain view (RFC 8617) on a real chain: a DKIM-signed message sealed by the product
// (mailAuth/arcSeal.ts, mailauth's sealer), then changed by a simulated forwarder, with the keys
// served by Knot. Each case checks the view's verdict, the instance and signature it blames and the
// change it names, and that mailauth's own ARC verdict (what `verify` reports) agrees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { startKnot, type KnotPeer } from '../peers/knot';
import { analyzeArcChain, type ArcChainView } from '../../client/src/mailAuth/arcChain';
import { sealArc } from '../../client/src/mailAuth/arcSeal';
import { signMessage, publicKeyRecord } from '../../client/src/mailAuth/sign';
import { createResolver, type MailauthResolver } from '../../client/src/mailAuth/resolver';
import { verifyMessage } from '../../client/src/mailAuth/verify';
import { formatReportMarkdown, formatReportText } from '../../client/src/mailAuth/format';
import { exampleZone, makeKeys, ROOT_ZONE, sampleMessage, txt, type TestKeys } from './fixtures';

let knot: KnotPeer;
let keys: TestKeys;
let resolver: MailauthResolver;
const sealerPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const listPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const SIGNED_AT = new Date('2026-11-23T04:00:10Z');

function zone(origin: string, selector: string, pem: string): string {
  return [`$ORIGIN ${origin}.`, '$TTL 300', `@ SOA ns.invalid. h.invalid. 1 3600 600 86400 300`, '@ NS ns.invalid.', `${selector}._domainkey TXT ${txt(publicKeyRecord(pem))}`, ''].join('\n');
}

before(async () => {
  keys = makeKeys();
  knot = await startKnot({
    zones: { '': ROOT_ZONE, 'example.test': exampleZone(keys), 'sealer.test': zone('sealer.test', 'arc1', sealerPem), 'lists.test': zone('lists.test', 'arc2', listPem) },
  });
  resolver = createResolver({ server: knot.address, timeoutMs: 1500, tries: 1 });
});

after(async () => {
  await knot?.stop();
});

const lookupTxt = async (name: string): Promise<string[][]> => (await resolver(name, 'TXT')) as string[][];

/** The author's DKIM-signed message, sealed by the first hop (i=1). */
async function sealedOnce(): Promise<Buffer> {
  const signed = await signMessage(sampleMessage(), { domain: 'example.test', selector: 'rsa1', privateKeyPem: keys.rsaPem, signTime: SIGNED_AT });
  return sealArc(signed, { domain: 'sealer.test', selector: 'arc1', privateKeyPem: sealerPem, authServId: 'mx.sealer.test', resolver, ip: '127.0.0.1', helo: 'mail.example.test', mailFrom: 'alice@example.test', signTime: SIGNED_AT });
}

/** What a mailing list does: a tag before the Subject and a footer under the body. */
function listRewrite(message: Buffer): Buffer {
  return Buffer.from(message.toString('latin1').replace(/^Subject: /m, 'Subject: [team] ').replace(/\r\n$/, '\r\n-- \r\nteam mailing list\r\n'), 'latin1');
}

async function mailauthArc(message: Buffer): Promise<string> {
  const report = await verifyMessage(message, { resolver, ip: '127.0.0.1', helo: 'mail.example.test', mailFrom: 'alice@example.test', authServId: 'mx.test', useReceived: false });
  return report.arc.result;
}

function view(v: ArcChainView): string {
  return v.explanation.join('\n');
}

test('a chain sealed by the product verifies: every seal and message signature passes', async () => {
  const sealed = await sealedOnce();
  const v = await analyzeArcChain(sealed, lookupTxt);
  assert.equal(v.result, 'pass', view(v));
  assert.equal(v.instances.length, 1);
  assert.equal(v.instances[0].cv, 'none');
  assert.equal(v.instances[0].seal.result, 'pass');
  assert.equal(v.instances[0].messageSignature.result, 'pass');
  assert.equal(v.instances[0].messageSignature.bodyHash, 'match');
  assert.match(v.instances[0].authResults ?? '', /^mx\.sealer\.test;.*dkim=pass/s);
  assert.equal(await mailauthArc(sealed), 'pass');
});

test('a forwarder that changes Subject and body without sealing: cv=fail at instance 1, AMS, Subject and body named', async () => {
  const changed = listRewrite(await sealedOnce());
  const v = await analyzeArcChain(changed, lookupTxt);
  assert.equal(v.result, 'fail', view(v));
  assert.deepEqual(v.failedAt, { instance: 1, signature: 'AMS' });
  const ams = v.instances[0].messageSignature;
  assert.equal(ams.bodyHash, 'mismatch');
  assert.equal(ams.headers, 'fail');
  assert.deepEqual(ams.changedHeaders, ['Subject changed: the tag "[team]" was put before it']);
  assert.equal(v.instances[0].seal.result, 'pass', 'the seal covers only ARC fields, which did not change');
  assert.match(v.reason, /ARC-Message-Signature of instance 1 \(the latest\) fails: the body changed after instance 1 signed it.*Subject changed/);
  assert.equal(await mailauthArc(changed), 'fail');
});

test('a forwarder that changes a header the tag heuristics do not know: the view says a signed header changed and lists h=', async () => {
  const changed = Buffer.from((await sealedOnce()).toString('latin1').replace(/^Date: .*$/m, 'Date: Tue, 24 Nov 2026 04:00:00 +0000'), 'latin1');
  const v = await analyzeArcChain(changed, lookupTxt);
  assert.equal(v.result, 'fail');
  const ams = v.instances[0].messageSignature;
  assert.equal(ams.bodyHash, 'match');
  assert.equal(ams.headers, 'fail');
  assert.ok(ams.signedHeaders.includes('date'));
  assert.match(ams.reason, /a signed header field changed after instance 1 signed it \(one of .*date.*; the signature cannot tell which\)/);
  assert.equal(await mailauthArc(changed), 'fail');
});

test('a list that verifies on arrival, rewrites and seals (i=2): the chain passes and the view shows where the message changed', async () => {
  const arrived = await sealedOnce();
  const resealed = await sealArc(listRewrite(arrived), {
    domain: 'lists.test', selector: 'arc2', privateKeyPem: listPem, authServId: 'lists.test', resolver, ip: '127.0.0.1', helo: 'mx.sealer.test', mailFrom: 'alice@example.test', arrived, signTime: SIGNED_AT,
  });
  const v = await analyzeArcChain(resealed, lookupTxt);
  assert.equal(v.result, 'pass', view(v));
  assert.deepEqual(v.instances.map((i) => [i.instance, i.cv, i.seal.result, i.messageSignature.result]), [[1, 'none', 'pass', 'fail'], [2, 'pass', 'pass', 'pass']]);
  assert.equal(v.oldestPass, 2);
  assert.match(v.reason, /changed before instance 2.*Subject changed: the tag "\[team\]"/);
  assert.equal(await mailauthArc(resealed), 'pass');

  // Someone then edits instance 1's ARC-Authentication-Results: the latest AMS still verifies, the seals do not.
  const tampered = Buffer.from(resealed.toString('latin1').replace(/(ARC-Authentication-Results: i=1;[^]*?)dkim=pass/, '$1dkim=fail'), 'latin1');
  assert.notEqual(tampered.toString('latin1'), resealed.toString('latin1'));
  const t = await analyzeArcChain(tampered, lookupTxt);
  assert.equal(t.result, 'fail', view(t));
  assert.deepEqual(t.failedAt, { instance: 2, signature: 'AS' });
  assert.equal(t.instances[1].messageSignature.result, 'pass');
  assert.equal(t.instances[0].seal.result, 'fail');
  assert.equal(await mailauthArc(tampered), 'fail');
});

test('verify shows the chain view in its details, escaped', async () => {
  const changed = listRewrite(await sealedOnce());
  const report = await verifyMessage(changed, { resolver, ip: '127.0.0.1', helo: 'mail.example.test', mailFrom: 'alice@example.test', authServId: 'mx.test', useReceived: false });
  assert.equal(report.arc.result, 'fail');
  assert.match(report.arc.details['chain'] ?? '', /ARC-Message-Signature of instance 1 \(the latest\) fails/);
  assert.match(report.arc.details['i=1'] ?? '', /AS pass .*AMS fail .*Subject changed/);
  assert.match(formatReportText(report), /i=1: .*Subject changed/);
  const md = formatReportMarkdown(report);
  assert.match(md, /i=1: cv=none: AS pass/);
  assert.match(md, /the tag "\\\[team\\\]" was put before it/, 'header text is inert in the Markdown table');
});
