/**
 * What a library prints never reaches standard output: mailauth logs `TOTAL … EXPECTING …` when a
 * DKIM signature's `l=` is longer than the body, which the sender of a message decides. Before the
 * CLI routed the libraries' console output to standard error, that line came first on stdout and
 * `smtpwb verify --json` was no longer JSON.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startKnot, type KnotPeer } from '../peers/knot';
import { runCli, scratch } from './cliProcess';

const work = scratch('smtpwb-cli-console-');
let knot: KnotPeer;

before(async () => {
  knot = await startKnot({
    zones: {
      'example.test': `$TTL 300
@     IN SOA ns1 hostmaster 2026010101 3600 600 86400 300
@     IN NS  ns1
ns1   IN A   127.0.0.1
@     IN TXT "v=spf1 -all"
`,
    },
  });
});
after(async () => {
  await knot?.stop();
  work.remove();
});

test('verify --json: a DKIM-Signature with l= longer than the body leaves stdout one exact JSON document; the library line goes to stderr, escaped', async () => {
  const message = join(work.dir, 'long-l.eml');
  // The signature cannot verify (no key, a made-up b=); what matters is that mailauth reaches its log line.
  writeFileSync(
    message,
    'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.test; s=sel; h=from:to:subject; l=9999; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdA==\r\n' +
      'From: a@example.test\r\nTo: b@example.test\r\nSubject: x\r\nDate: Mon, 23 Nov 2026 04:19:27 +0000\r\nMessage-ID: <1@example.test>\r\n\r\nbody\r\n',
  );
  const r = await runCli(['verify', message, '--json', '--ip', '192.0.2.1', '--mail-from', 'a@example.test', '--dns-server', knot.address, '--timeout', '3000'], { cwd: work.dir });
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const report = JSON.parse(r.stdout) as { dkim: Array<{ result: string }> };
  assert.equal(report.dkim[0].result, 'fail');
  assert.match(r.stderr, /^TOTAL 6 EXPECTING 9999$/m);
  assert.doesNotMatch(r.stdout, /TOTAL/);
});
