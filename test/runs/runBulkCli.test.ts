// `smtpwb run --bulk` as a process (needs the runCommand.ts and junit.ts patch of
// /work/coord/requests-S.md), against a real Exim and the embedded capture server as receivers and a
// real Knot (--dns-server) serving example.test, plain.test, esc.test and the reverse zone of 127.0.0.1:
// - a compliant message over STARTTLS: every requirement passes under the session, with its link,
//   exit 0;
// - the same without STARTTLS: bulk-tls fails, exit 1; --json is exact JSON with a bulk array per
//   session; --junit has a failing test case for the message;
// - through the capture server (a session without CONNECT): checked the same way;
// - a MAIL FROM that is a {{$secret}}: SPF is judged on the address as sent (exit 0), and the
//   address is masked in the text and --json output;
// - DNS text with control characters is escaped on the terminal and exact in --json;
// - a DNS server that does not answer: exit 3, the check an <error> in JUnit;
// - a run that sends nothing exits 1; --bulk with --parallel is a usage error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeKeys, type TestKeys } from '../mailAuth/fixtures';
import { startExim, type EximPeer } from '../peers/exim';
import { startKnot, type KnotPeer } from '../peers/knot';
import { runCli, scratch } from '../cli/cliProcess';
import { freePort } from '../peers/ports';
import { bulkZones, signedBulkMessage } from '../reports/bulkMessages';

const work = scratch('smtpwb-run-bulk-');
let exim: EximPeer;
let knot: KnotPeer;
let keys: TestKeys;

before(async () => {
  keys = makeKeys();
  // esc.test publishes a DMARC record with an escape sequence in it (RFC 1035 §5.1 \DDD).
  const zones = { ...bulkZones(keys), 'esc.test': '_dmarc TXT "v=DMARC1; p=none; x=\\027[31mred"\n' };
  [exim, knot] = await Promise.all([startExim(), startKnot({ zones })]);
  writeFileSync(join(work.dir, 'news.eml'), await signedBulkMessage(keys));
  writeFileSync(join(work.dir, 'esc.eml'), await signedBulkMessage(keys, { from: 'news@esc.test' }));
});

after(async () => {
  await Promise.all([exim?.stop(), knot?.stop()]);
  work.remove();
});

/** A script with one session sending FILE to Exim (with STARTTLS unless tls is false), or to the capture server. */
function script(name: string, options: { file?: string; tls?: boolean; local?: boolean; send?: boolean; mailFrom?: string } = {}): string {
  const lines = ['### Send the newsletter', '# @name news'];
  if (!options.local) lines.push(`CONNECT smtp://127.0.0.1:${exim.port}`, `TLS ca=${exim.caPath} sni=mail.example.test`);
  lines.push('EHLO mail.example.test');
  if (options.tls !== false && !options.local) lines.push('STARTTLS', 'EHLO mail.example.test');
  if (options.send !== false) lines.push(`MAIL FROM:<${options.mailFrom ?? 'bounce@example.test'}>`, 'RCPT TO:<bob@example.test>', `DATA < ${options.file ?? 'news.eml'}`);
  lines.push('QUIT', '');
  const path = join(work.dir, name);
  writeFileSync(path, lines.join('\n'));
  return path;
}

const bulk = (): string[] => ['--bulk', '--dns-server', knot.address];

test('a compliant message over STARTTLS: every requirement passes under the session, with its source; exit 0', { timeout: 60_000 }, async () => {
  const r = await runCli(['run', script('good.smtp'), ...bulk()], { cwd: work.dir });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const at = r.stdout.indexOf('=== bulk-sender requirements of the message sent at line 10, over TLS, from 127.0.0.1, EHLO mail.example.test, MAIL FROM:<bounce@example.test>, reply 250');
  assert.ok(at > r.stdout.indexOf('### Send the newsletter [news]'), r.stdout);
  for (const code of ['bulk-spf', 'bulk-dkim', 'bulk-dmarc-record', 'bulk-from-alignment', 'bulk-list-unsubscribe', 'bulk-one-click', 'bulk-unsubscribe-signed', 'bulk-tls', 'bulk-fcrdns']) {
    assert.match(r.stdout, new RegExp(`^ {5}pass {4}${code} .*  https://\\S+$`, 'm'), code);
  }
  assert.match(r.stdout, /bulk-fcrdns +127\.0\.0\.1 has reverse DNS mail\.example\.test that resolves back to it/);
  assert.match(r.stdout, /^ {5}no requirement fails$/m);
});

test('without STARTTLS: bulk-tls fails, exit 1; --json exact with a bulk array; --junit a failing case', { timeout: 60_000 }, async () => {
  const file = script('cleartext.smtp', { tls: false });
  const r = await runCli(['run', file, ...bulk()], { cwd: work.dir });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /message sent at line 8, without TLS, from 127\.0\.0\.1/);
  assert.match(r.stdout, /^ {5}fail {4}bulk-tls +the message was sent without TLS {2}https:\/\/support\.google\.com\/a\/answer\/81126$/m);
  assert.match(r.stderr, /--bulk: 1 of 1 message\(s\) fail a bulk-sender requirement/);

  const j = await runCli(['run', file, ...bulk(), '--json', '--junit', 'out.xml'], { cwd: work.dir });
  assert.equal(j.code, 1, j.stderr);
  const parsed = JSON.parse(j.stdout) as { ok: boolean; sessions: Array<{ ok: boolean; bulk: Array<{ line: number; tls: boolean; clientIp: string; mailFrom: string; requirements: Array<{ code: string; status: string; link: string }> }> }> };
  assert.equal(parsed.ok, false);
  assert.equal(parsed.sessions[0].ok, true, 'the session itself passed');
  const [b] = parsed.sessions[0].bulk;
  assert.deepEqual([b.line, b.tls, b.clientIp, b.mailFrom], [8, false, '127.0.0.1', 'bounce@example.test']);
  const status = Object.fromEntries(b.requirements.map((x) => [x.code, x.status]));
  assert.equal(status['bulk-tls'], 'fail');
  assert.equal(status['bulk-fcrdns'], 'pass');
  assert.equal(status['bulk-dkim'], 'pass');
  const xml = readFileSync(join(work.dir, 'out.xml'), 'utf8');
  assert.match(xml, /<testsuites tests="2" failures="1" errors="0"/);
  assert.match(xml, /<testcase classname="[^"]*\/cleartext\.smtp" name="Send the newsletter \[news\] › bulk-sender requirements \(message at line 8\)" time="0\.000">\n {6}<failure message="1 requirement\(s\) fail: bulk-tls" type="bulk-sender">/);
});

test('through the capture server (no CONNECT): the message is checked as the run sent it', { timeout: 60_000 }, async () => {
  const r = await runCli(['run', script('local.smtp', { local: true }), ...bulk()], { cwd: work.dir });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /message sent at line 6, without TLS, from 127\.0\.0\.1, EHLO mail\.example\.test/);
  assert.match(r.stdout, /^ {5}fail {4}bulk-tls /m);
  assert.match(r.stdout, /^ {5}pass {4}bulk-fcrdns /m);
  assert.match(r.stdout, /^ {5}pass {4}bulk-spf /m);
  assert.match(r.stdout, /=== the capture server received a message/);
});

test('a MAIL FROM that is a secret: SPF judged on the address as sent, exit 0; the address masked in every output', { timeout: 60_000 }, async () => {
  const file = script('secret.smtp', { mailFrom: '{{$secret sender}}' });
  const env = { SMTPWB_SECRET_SENDER: 'bounce@example.test' };
  const r = await runCli(['run', file, ...bulk()], { cwd: work.dir, env });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ {5}pass {4}bulk-spf /m);
  assert.match(r.stdout, /=== bulk-sender requirements of the message sent at line 10, over TLS, from 127\.0\.0\.1, EHLO mail\.example\.test, MAIL FROM:<\*{8}>, reply 250/);
  assert.doesNotMatch(r.stdout + r.stderr, /bounce@example\.test/);
  const j = await runCli(['run', file, ...bulk(), '--json'], { cwd: work.dir, env });
  assert.equal(j.code, 0, j.stderr);
  assert.doesNotMatch(j.stdout, /bounce@example\.test/);
  const parsed = JSON.parse(j.stdout) as { sessions: Array<{ bulk: Array<{ mailFrom: string; requirements: Array<{ code: string; status: string }> }> }> };
  const [b] = parsed.sessions[0].bulk;
  assert.equal(b.mailFrom, '********');
  assert.deepEqual(b.requirements.filter((x) => x.status !== 'pass').map((x) => x.code), []);
});

test('DNS text with control characters: escaped on the terminal, exact in --json', { timeout: 60_000 }, async () => {
  const file = script('esc.smtp', { file: 'esc.eml' });
  const r = await runCli(['run', file, ...bulk()], { cwd: work.dir });
  assert.ok(r.code === 0 || r.code === 1, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /\x1b/, 'no raw escape reaches the terminal');
  assert.match(r.stdout, /bulk-dmarc-record +a DMARC record is published at esc\.test: v=DMARC1; p=none; x=\\x1B\[31mred/);
  const j = await runCli(['run', file, ...bulk(), '--json'], { cwd: work.dir });
  const parsed = JSON.parse(j.stdout) as { sessions: Array<{ bulk: Array<{ requirements: Array<{ code: string; message: string }> }> }> };
  assert.match(parsed.sessions[0].bulk[0].requirements.find((x) => x.code === 'bulk-dmarc-record')!.message, /x=\x1b\[31mred/);
});

test('a run that sends no message exits 1; --bulk with --parallel is a usage error', { timeout: 60_000 }, async () => {
  const r = await runCli(['run', script('nothing.smtp', { send: false }), ...bulk()], { cwd: work.dir });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /=== bulk-sender requirements: the session sent no message/);
  assert.match(r.stderr, /--bulk: no session sent a message; nothing was checked/);
  const p = await runCli(['run', script('parallel.smtp'), ...bulk(), '--parallel', '2'], { cwd: work.dir });
  assert.equal(p.code, 2, p.stdout + p.stderr);
  assert.match(p.stderr, /--bulk .* cannot be combined with --parallel/);
});

test('a DNS server that does not answer: exit 3, said on stderr, an error (not a failure) in JUnit', { timeout: 60_000 }, async () => {
  const silent = `127.0.0.1:${await freePort({ udp: true })}`;
  const r = await runCli(['run', script('silent.smtp'), '--bulk', '--dns-server', silent, '--junit', 'silent.xml'], { cwd: work.dir });
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stderr, /--bulk: the DNS server did not answer the check of 1 message\(s\)/);
  assert.match(r.stdout, /the DNS server did not answer/);
  const xml = readFileSync(join(work.dir, 'silent.xml'), 'utf8');
  assert.match(xml, /<testsuites tests="2" failures="0" errors="1"/);
  assert.match(xml, /<error message="the DNS server did not answer" type="dns">/);
});
