/**
 * `smtpwb dns` and `smtpwb verify` against a DNS server that never answers (a UDP socket in this
 * process): each exits 3 within its --timeout plus one second, in process and as a process; and
 * what DNS answers holds reaches the terminal as visible escapes (Knot serves a hostile TXT).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { dnsCommand } from '../../client/src/cli/dnsCommand';
import { verifyCommand } from '../../client/src/cli/verifyCommand';
import { startFakeDns } from '../dns/fakeDns';
import { startKnot, type KnotPeer } from '../peers/knot';
import { captureCli } from '../support/cliCapture';
import { runCli, scratch } from './cliProcess';

const work = scratch('smtpwb-cli-dns-');
let silent: { address: string; stop(): Promise<void> };
let knot: KnotPeer;
let message: string;

before(async () => {
  silent = await startFakeDns('silent');
  knot = await startKnot({
    zones: {
      'hostile.test': `$TTL 300
@     IN SOA ns1 hostmaster 2026010101 3600 600 86400 300
@     IN NS  ns1
ns1   IN A   127.0.0.1
@     IN MX  10 mail
mail  IN A   127.0.0.1
@     IN TXT "v=spf1 \\027[31mred\\027]0;pwned\\007 -all"
_dmarc IN TXT "v=DMARC1; p=none; rua=mailto:\\027[2Ja@hostile.test"
`,
    },
  });
  message = join(work.dir, 'message.eml');
  writeFileSync(message, 'From: a@example.test\r\nTo: b@example.test\r\nSubject: x\r\nDate: Mon, 23 Nov 2026 04:19:27 +0000\r\nMessage-ID: <1@example.test>\r\n\r\nbody\r\n');
});
after(async () => {
  await silent?.stop();
  await knot?.stop();
  work.remove();
});

test('dns --timeout 1000 against a silent server: exit 3 within the timeout plus one second', { timeout: 60_000 }, async () => {
  const started = performance.now();
  const r = await captureCli(dnsCommand, ['example.test', '--dns-server', silent.address, '--timeout', '1000'], { cwd: work.dir });
  const elapsed = performance.now() - started;
  assert.equal(r.code, 3, r.out + r.err);
  assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms`);
  const p = await runCli(['dns', 'example.test', '--dns-server', silent.address, '--timeout', '1s', '--json'], { cwd: work.dir });
  assert.equal(p.code, 3, p.stderr);
  assert.equal((JSON.parse(p.stdout) as { dnsUnreachable: boolean }).dnsUnreachable, true);
});

test('verify --timeout 1000 against a silent server: exit 3 within the timeout plus one second', { timeout: 60_000 }, async () => {
  const args = [message, '--ip', '192.0.2.1', '--mail-from', 'a@example.test', '--dns-server', silent.address, '--timeout', '1000'];
  const started = performance.now();
  const r = await captureCli(verifyCommand, args, { cwd: work.dir });
  const elapsed = performance.now() - started;
  assert.equal(r.code, 3, r.out + r.err);
  assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms`);
  assert.match(r.err, /did not answer within 1000 ms/);
  const p = await runCli(['verify', ...args], { cwd: work.dir });
  assert.equal(p.code, 3, p.stderr);
  const bad = await runCli(['verify', message, '--timeout', 'soon'], { cwd: work.dir });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--timeout needs a number of milliseconds/);
});

test('--dns-server: HOST:PORT with host names resolved once, IPv6 in brackets, the same rule on every command', async () => {
  const byName = await runCli(['dns', 'hostile.test', '--dns-server', `localhost:${knot.port}`, '--json', '--no-selector-probe', '--timeout', '3000'], { cwd: work.dir });
  assert.notEqual(byName.code, 2, byName.stderr);
  assert.notEqual(byName.code, 3, byName.stderr);
  for (const command of [['dns', 'example.test'], ['verify', message]]) {
    for (const bad of ['::1:53', 'a b', '127.0.0.1:99999', '[::1]:x']) {
      const r = await runCli([...command, '--dns-server', bad], { cwd: work.dir });
      assert.equal(r.code, 2, `${command[0]} --dns-server ${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--dns-server needs HOST\[:PORT\]/);
    }
  }
});

test('what DNS answers holds is shown as visible escapes in the dns and verify reports; --json stays exact', async () => {
  const text = await runCli(['dns', 'hostile.test', '--dns-server', knot.address, '--no-selector-probe', '--timeout', '3000'], { cwd: work.dir });
  assert.ok(text.code === 0 || text.code === 1, text.stderr);
  assert.match(text.stdout, /\\x1B\[31mred/);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(text.stdout + text.stderr, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  const markdown = await runCli(['dns', 'hostile.test', '--dns-server', knot.address, '--no-selector-probe', '--markdown', '--timeout', '3000'], { cwd: work.dir });
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(markdown.stdout, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  const json = await runCli(['dns', 'hostile.test', '--dns-server', knot.address, '--no-selector-probe', '--json', '--timeout', '3000'], { cwd: work.dir });
  assert.ok(json.stdout.includes('\\u001b[31mred'), 'JSON keeps the bytes, escaped as JSON does');
  const hostileMessage = join(work.dir, 'hostile.eml');
  writeFileSync(hostileMessage, 'From: a@hostile.test\r\nSubject: \x1b[31mred\r\n\r\nbody\r\n');
  const verify = await runCli(['verify', hostileMessage, '--ip', '192.0.2.1', '--mail-from', 'a@hostile.test', '--dns-server', knot.address, '--timeout', '3000'], { cwd: work.dir });
  assert.ok(verify.code === 0 || verify.code === 1, verify.stderr);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(verify.stdout + verify.stderr, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
});
