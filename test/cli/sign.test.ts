/**
 * `smtpwb sign` as a process: it refuses what cannot be signed and says why (no From, RFC 6376 §5.4;
 * empty or binary input; a public key given as --key; an invalid --domain is exit 2), and it prints
 * the DNS TXT record verifiers need, which then verifies the signature (against Knot).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startKnot, type KnotPeer } from '../peers/knot';
import { runCli, scratch } from './cliProcess';

const work = scratch('smtpwb-cli-sign-');
let privateKey: string;
let edKey: string;
let knot: KnotPeer | undefined;

function file(name: string, content: string | Buffer): string {
  const path = join(work.dir, name);
  writeFileSync(path, content);
  return path;
}

const MESSAGE = 'From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: signed\r\nDate: Mon, 23 Nov 2026 04:19:27 +0000\r\n\r\nbody\r\n';

before(() => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  privateKey = file('rsa.pem', rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  file('rsa.pub.pem', rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  edKey = file('ed.pem', generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
});
after(async () => {
  await knot?.stop();
  work.remove();
});

const sign = (message: string, ...extra: string[]) => runCli(['sign', message, '--domain', 'example.test', '--selector', 'sel', '--key', privateKey, ...extra], { cwd: work.dir });

test('a message without From is refused (RFC 6376 §5.4)', async () => {
  const r = await sign(file('nofrom.eml', 'To: bob@example.test\r\nSubject: x\r\n\r\nbody\r\n'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no From field; RFC 6376 §5\.4/);
  assert.equal(r.stdout, '');
});

test('empty and binary input are named as such', async () => {
  const empty = await sign(file('empty.eml', ''));
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /the message is empty/);
  const binary = await sign(file('binary.eml', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00])));
  assert.equal(binary.code, 2);
  assert.match(binary.stderr, /NUL bytes: it is binary data/);
  const notMessage = await sign(file('text.eml', 'just some text\nwithout fields\n'));
  assert.equal(notMessage.code, 2);
  assert.match(notMessage.stderr, /does not start with a header field/);
  assert.doesNotMatch(empty.stderr + binary.stderr + notMessage.stderr, /mailauth produced no DKIM-Signature/);
});

test('a public key passed as --key is recognised', async () => {
  const r = await runCli(['sign', file('m1.eml', MESSAGE), '--domain', 'example.test', '--selector', 'sel', '--key', join(work.dir, 'rsa.pub.pem')], { cwd: work.dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /holds a public key; DKIM signs with the private key/);
});

test('an invalid --domain or --selector is a usage error (exit 2)', async () => {
  for (const domain of ['not a domain', 'exa_mple..test', '-bad.test']) {
    const r = await runCli(['sign', file('m2.eml', MESSAGE), '--domain', domain, '--selector', 'sel', '--key', privateKey], { cwd: work.dir });
    assert.equal(r.code, 2, `${domain}: ${r.stderr}`);
    assert.match(r.stderr, /--domain/);
  }
  const selector = await runCli(['sign', file('m3.eml', MESSAGE), '--domain', 'example.test', '--selector', 'a b', '--key', privateKey], { cwd: work.dir });
  assert.equal(selector.code, 2);
});

test('sign prints the TXT record verifiers need, and a verifier that finds it there passes the signature', { timeout: 60_000 }, async () => {
  const output = join(work.dir, 'signed.eml');
  const r = await sign(file('m4.eml', MESSAGE), '--output', output);
  assert.equal(r.code, 0, r.stderr);
  const record = /^(sel\._domainkey\.example\.test)\. IN TXT (.+)$/m.exec(r.stderr);
  assert.ok(record, r.stderr);
  assert.match(record[2], /^\( "v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]+"( "[A-Za-z0-9+/=]+")+ \)$/);
  assert.ok(record[2].split('" "').every((chunk) => chunk.replace(/[()"]/g, '').trim().length <= 255), 'character-strings of at most 255 octets');
  // Publish the printed record as it is, then verify the signed message against that zone.
  knot = await startKnot({ zones: { 'example.test': `$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 127.0.0.1\n${record[1]}. IN TXT ${record[2]}\n` } });
  const verify = await runCli(['verify', output, '--dns-server', knot.address, '--json', '--timeout', '5000'], { cwd: work.dir });
  const report = JSON.parse(verify.stdout) as { methods?: Array<{ method: string; result: string }>; results?: unknown };
  assert.match(JSON.stringify(report), /"dkim"[^}]*"pass"|"pass"[^}]*"dkim"/, verify.stdout);
  assert.ok(readFileSync(output, 'utf8').startsWith('DKIM-Signature:'));
  const ed = await runCli(['sign', file('m5.eml', MESSAGE), '--domain', 'example.test', '--selector', 'ed', '--key', edKey], { cwd: work.dir });
  assert.equal(ed.code, 0, ed.stderr);
  assert.match(ed.stderr, /^ed\._domainkey\.example\.test\. IN TXT "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/=]{44}"$/m);
  assert.match(ed.stdout, /^DKIM-Signature: .*a=ed25519-sha256/);
});
