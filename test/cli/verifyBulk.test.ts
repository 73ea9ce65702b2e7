/**
 * `smtpwb verify --bulk` as a process, against a real Knot serving example.test (SPF, DMARC and
 * the DKIM key of test/mailAuth/fixtures.ts): a compliant signed message lists every requirement
 * and exits 0 (TLS and reverse DNS unknown for a file, which is not a failure); one without
 * one-click unsubscribe exits 1 and says which requirement failed; `--json` is exact JSON with a
 * `bulk` array; without `--bulk` the requirements are not checked.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exampleZone, makeKeys, ROOT_ZONE, type TestKeys } from '../mailAuth/fixtures';
import { startKnot, type KnotPeer } from '../peers/knot';
import { runCli, scratch } from './cliProcess';
import { signedBulkMessage } from '../reports/bulkMessages';

const work = scratch('smtpwb-cli-bulk-');
let knot: KnotPeer;
let keys: TestKeys;

async function signedFile(name: string, headers: string[]): Promise<string> {
  const path = join(work.dir, name);
  writeFileSync(path, await signedBulkMessage(keys, { headers, messageId: 'bulk-cli-1@example.test' }));
  return path;
}

const identity = () => ['--ip', '198.51.100.10', '--helo', 'mail.example.test', '--mail-from', 'bounce@example.test', '--dns-server', knot.address, '--authserv-id', 'mx.test'];

before(async () => {
  keys = makeKeys();
  knot = await startKnot({ zones: { '': ROOT_ZONE, 'example.test': exampleZone(keys) } });
});

after(async () => {
  await knot?.stop();
  work.remove();
});

test('a compliant message: every requirement listed with its source, exit 0, transport unknown', { timeout: 60_000 }, async () => {
  const file = await signedFile('good.eml', ['List-Unsubscribe: <https://example.test/u/1>, <mailto:unsub@example.test>', 'List-Unsubscribe-Post: List-Unsubscribe=One-Click']);
  const r = await runCli(['verify', file, '--bulk', ...identity()], { cwd: work.dir });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Bulk-sender requirements/);
  for (const code of ['bulk-spf', 'bulk-dkim', 'bulk-dmarc-record', 'bulk-from-alignment', 'bulk-list-unsubscribe', 'bulk-one-click', 'bulk-unsubscribe-signed']) {
    assert.match(r.stdout, new RegExp(`^  pass +${code} .*https://`, 'm'), code);
  }
  assert.match(r.stdout, /^  unknown bulk-tls /m);
  assert.match(r.stdout, /^  unknown bulk-fcrdns /m);
  assert.match(r.stdout, /no requirement fails; 2 cannot be told from the file/);
});

test('no one-click unsubscribe: exit 1, the failing requirements named; --json exact with a bulk array', { timeout: 60_000 }, async () => {
  const file = await signedFile('mailto-only.eml', ['List-Unsubscribe: <mailto:unsub@example.test>']);
  const r = await runCli(['verify', file, '--bulk', ...identity()], { cwd: work.dir });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^  fail +bulk-list-unsubscribe .*rfc8058#section-3\.1/m);
  assert.match(r.stdout, /^  fail +bulk-one-click /m);
  assert.match(r.stdout, /^  pass +bulk-dkim /m);
  const j = await runCli(['verify', file, '--bulk', '--json', ...identity()], { cwd: work.dir });
  assert.equal(j.code, 1, j.stderr);
  const parsed = JSON.parse(j.stdout) as { dkim: unknown[]; bulk: Array<{ code: string; status: string; link: string; range: { start: number; end: number } }> };
  assert.ok(Array.isArray(parsed.dkim));
  const byCode = Object.fromEntries(parsed.bulk.map((b) => [b.code, b.status]));
  assert.equal(byCode['bulk-list-unsubscribe'], 'fail');
  assert.equal(byCode['bulk-one-click'], 'fail');
  assert.equal(byCode['bulk-spf'], 'pass');
  assert.equal(byCode['bulk-tls'], 'unknown');
  // Without --bulk the same message verifies clean: the requirements are only checked when asked.
  const plain = await runCli(['verify', file, ...identity()], { cwd: work.dir });
  assert.equal(plain.code, 0, plain.stdout + plain.stderr);
  assert.doesNotMatch(plain.stdout, /Bulk-sender/);
});
