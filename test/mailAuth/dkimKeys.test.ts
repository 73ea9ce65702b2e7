// `smtpwb dkim keygen` and `smtpwb dkim check` against a real Knot, with opendkim-testkey
// (opendkim-tools) as the cross-check of every verdict it can give.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKnot, type KnotPeer } from '../peers/knot';
import { dkimCommand } from '../../client/src/cli/dkimCommand';
import { captureIo, ROOT_ZONE } from './fixtures';
import { opendkimTestkey } from './debianTools';

let knot: KnotPeer;
let dir: string;

before(async () => {
  knot = await startKnot({ zones: { '': ROOT_ZONE, 'keys.test': '$ORIGIN keys.test.\n$TTL 300\n' } });
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-dkimkeys-'));
});

after(async () => {
  await knot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const cap = captureIo(dir);
  const code = await dkimCommand(args, cap.io);
  return { code, out: cap.stdout().toString('utf8'), err: cap.stderr() };
}

interface Generated {
  privateKeyFile: string;
  name: string;
  value: string;
  zone: string;
}

async function keygen(selector: string, algorithm: string): Promise<Generated> {
  const r = await run(['keygen', '--domain', 'keys.test', '--selector', selector, '--algorithm', algorithm, '--json']);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as Generated;
}

test('dkim keygen writes a 0600 private key, prints the record, and never overwrites a key', async () => {
  const r = await run(['keygen', '--domain', 'Keys.Test', '--selector', 'text1']);
  assert.equal(r.code, 0, r.err);
  const file = join(dir, 'text1._domainkey.keys.test.pem');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.match(readFileSync(file, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  assert.match(r.out, /^text1\._domainkey\.keys\.test\. IN TXT \( "v=DKIM1; k=rsa; p=MIIBIjAN/m);
  const again = await run(['keygen', '--domain', 'keys.test', '--selector', 'text1']);
  assert.equal(again.code, 2);
  assert.match(again.err, /exists/);
  const ed = await keygen('ed1', 'ed25519');
  assert.match(ed.value, /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
  for (const bad of [['keygen', '--domain', 'bad domain', '--selector', 's'], ['keygen', '--domain', 'keys.test', '--selector', 's', '--algorithm', 'rsa-512'], ['keygen', '--selector', 's'], ['nope']]) {
    assert.equal((await run(bad)).code, 2, bad.join(' '));
  }
});

test('dkim check agrees with opendkim-testkey: match, mismatch, revoked, unusable h=, missing record', async () => {
  const good = await keygen('good', 'rsa-2048');
  const other = await keygen('other', 'rsa-2048');
  const ed = await keygen('edgood', 'ed25519');
  const b64 = /p=(.*)$/.exec(good.value)![1];
  const zone = [
    '$ORIGIN keys.test.',
    '$TTL 300',
    good.zone,
    // The record of "other" published under "swapped": the key file of "good" does not match it.
    other.zone.replace(/^other\./, 'swapped.'),
    ed.zone,
    'revoked._domainkey.keys.test. IN TXT "v=DKIM1; k=rsa; p="',
    `md5._domainkey.keys.test. IN TXT ( "v=DKIM1; h=md5; k=rsa; " "p=${b64.slice(0, 200)}" "${b64.slice(200)}" )`,
    '',
  ].join('\n');
  await knot.setZone('keys.test', zone);
  const cases: Array<{ selector: string; key: string; code: number; opendkim: boolean | undefined; out: RegExp }> = [
    { selector: 'good', key: good.privateKeyFile, code: 0, opendkim: true, out: /^OK: the private key in .* matches the RSA-2048 key published at good\._domainkey\.keys\.test/ },
    { selector: 'swapped', key: good.privateKeyFile, code: 1, opendkim: false, out: /^FAIL: the key published at swapped\._domainkey\.keys\.test does not match/ },
    { selector: 'revoked', key: good.privateKeyFile, code: 1, opendkim: false, out: /^FAIL: the key at revoked\._domainkey\.keys\.test is revoked/ },
    { selector: 'missing', key: good.privateKeyFile, code: 1, opendkim: false, out: /^FAIL: no DKIM key record at missing\._domainkey\.keys\.test/ },
    // opendkim-testkey compares keys only; h= is the product's extra check (RFC 8301 §3.1).
    { selector: 'md5', key: good.privateKeyFile, code: 1, opendkim: undefined, out: /^FAIL: the keys match, but h= .* leaves no hash/ },
    { selector: 'edgood', key: ed.privateKeyFile, code: 0, opendkim: undefined, out: /^OK: .* matches the Ed25519 key/ },
    { selector: 'edgood', key: good.privateKeyFile, code: 1, opendkim: undefined, out: /^FAIL: the record at edgood\._domainkey\.keys\.test publishes a ed25519 key, the file holds an rsa key/ },
  ];
  for (const c of cases) {
    const r = await run(['check', '--domain', 'keys.test', '--selector', c.selector, '--key', c.key, '--dns-server', knot.address, '--timeout', '2000']);
    assert.equal(r.code, c.code, `${c.selector}: ${r.out}${r.err}`);
    assert.match(r.out, c.out, c.selector);
    if (c.opendkim !== undefined) {
      const od = await opendkimTestkey(knot.port, 'keys.test', c.selector, c.key);
      assert.equal(od.code === 0, c.opendkim, `opendkim-testkey for ${c.selector}: ${od.output}`);
    }
  }
  const json = await run(['check', '--domain', 'keys.test', '--selector', 'good', '--key', good.privateKeyFile, '--dns-server', knot.address, '--json']);
  assert.equal((JSON.parse(json.out) as { match: boolean }).match, true);
  // An unreadable file and a public key are refused with a clear message (exit 2).
  const missing = await run(['check', '--domain', 'keys.test', '--selector', 'good', '--key', join(dir, 'nonexistent.pem'), '--dns-server', knot.address]);
  assert.equal(missing.code, 2);
  const pubFile = join(dir, 'good.pub.pem');
  writeFileSync(pubFile, createPublicKey(readFileSync(good.privateKeyFile, 'utf8')).export({ type: 'spki', format: 'pem' }));
  const pub = await run(['check', '--domain', 'keys.test', '--selector', 'good', '--key', pubFile, '--dns-server', knot.address]);
  assert.equal(pub.code, 2);
  assert.match(pub.err, /holds a public key/);
});

test('dkim check: a matching key in a record verifiers reject (v=DKIM2, s=other, duplicate tag) is unusable: FAIL, exit 1, --json match false', async () => {
  const ed = await keygen('edver', 'ed25519');
  const p = /p=(.*)$/.exec(ed.value)![1];
  const zone = [
    '$ORIGIN keys.test.',
    '$TTL 300',
    `edver._domainkey.keys.test. IN TXT "v=DKIM2; k=ed25519; p=${p}"`,
    `edsvc._domainkey.keys.test. IN TXT "v=DKIM1; k=ed25519; s=other; p=${p}"`,
    `eddup._domainkey.keys.test. IN TXT "v=DKIM1; k=ed25519; k=ed25519; p=${p}"`,
    `edok._domainkey.keys.test. IN TXT "v=DKIM1; k=ed25519; p=${p}"`,
    '',
  ].join('\n');
  await knot.setZone('keys.test', zone);
  const cases: Array<{ selector: string; code: string }> = [
    { selector: 'edver', code: 'dkim-version' },
    { selector: 'edsvc', code: 'dkim-service-type' },
    { selector: 'eddup', code: 'dkim-duplicate-tag' },
  ];
  for (const c of cases) {
    const args = ['check', '--domain', 'keys.test', '--selector', c.selector, '--key', ed.privateKeyFile, '--dns-server', knot.address, '--timeout', '2000'];
    const r = await run(args);
    assert.equal(r.code, 1, `${c.selector}: ${r.out}${r.err}`);
    assert.match(r.out, new RegExp(`^FAIL: the keys match, but the record at ${c.selector}\\._domainkey\\.keys\\.test is unusable: `), c.selector);
    assert.doesNotMatch(r.out, /^OK/m, c.selector);
    assert.match(r.out, new RegExp(`^error ${c.code}: `, 'm'), c.selector);
    const json = await run([...args, '--json']);
    assert.equal(json.code, 1, c.selector);
    const parsed = JSON.parse(json.out) as { match: boolean; message: string };
    assert.equal(parsed.match, false, c.selector);
    assert.match(parsed.message, /is unusable/, c.selector);
  }
  // The same key in a clean record still matches, so the failures above come from the record alone.
  const ok = await run(['check', '--domain', 'keys.test', '--selector', 'edok', '--key', ed.privateKeyFile, '--dns-server', knot.address, '--timeout', '2000']);
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.match(ok.out, /^OK: .* matches the Ed25519 key/);
});
