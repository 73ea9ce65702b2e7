/**
 * Files a user names are read only when they are regular files: a FIFO used to hang `lint`,
 * `verify` and `sign` for ever (reading waits for a writer), and a symlink to /dev/zero made `lint`
 * grow to gigabytes. Each is now refused at once with a reason (exit 2), through the real CLI.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, scratch } from './cliProcess';

const work = scratch('smtpwb-cli-input-');
after(() => work.remove());

test('lint, verify and sign refuse a FIFO and a device instead of hanging or reading for ever', { timeout: 60_000 }, async () => {
  execFileSync('mkfifo', [join(work.dir, 'pipe.eml')]);
  symlinkSync('/dev/zero', join(work.dir, 'zero.eml'));
  writeFileSync(join(work.dir, 'key.pem'), 'not a key\n');
  for (const name of ['pipe.eml', 'zero.eml']) {
    for (const args of [['lint', name], ['verify', name, '--dns-server', '127.0.0.1:9', '--timeout', '1000'], ['sign', name, '--domain', 'example.test', '--selector', 's', '--key', 'key.pem']]) {
      // The process must end on its own; a hang would run into the test's timeout.
      const r = await runCli(args, { cwd: work.dir });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /not a regular file \(a FIFO, a socket or a device\)/, args.join(' '));
    }
  }
});
