/**
 * Every subcommand's --help prints its help and exits 0 without doing anything else (`smtpwb lsp
 * --help` does not start the server); unknown options and missing values are usage errors (exit 2)
 * that name the option; a reader that goes away (`| head`) ends the program quietly.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, scratch, waitFor } from './cliProcess';

const work = scratch('smtpwb-cli-help-');
after(() => work.remove());

const SUBCOMMANDS = ['lint', 'run', 'dns', 'verify', 'sign', 'dkim', 'serve', 'inbox', 'lsp'];

for (const command of SUBCOMMANDS) {
  test(`smtpwb ${command} --help and -h print the help and exit 0`, async () => {
    for (const flag of ['--help', '-h']) {
      const r = await runCli([command, flag], { cwd: work.dir });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`smtpwb ${command}`, 'i'));
      assert.equal(r.stderr, '');
    }
  });
}

test('smtpwb help COMMAND prints that command’s help', async () => {
  const r = await runCli(['help', 'run'], { cwd: work.dir });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /usage: smtpwb run/);
});

test('smtpwb lsp --help does not start the language server (it would wait for a client on stdin)', async () => {
  // stdin stays open: a server would keep running; the help returns at once.
  const r = await runCli(['lsp', '--help'], { cwd: work.dir, interact: () => undefined });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--stdio/);
  assert.doesNotMatch(r.stdout, /Content-Length/);
});

for (const command of ['lint', 'run', 'dns', 'verify', 'sign', 'lsp']) {
  test(`smtpwb ${command} --bogus is a usage error that names the option`, async () => {
    const r = await runCli([command, '--bogus', 'x'], { cwd: work.dir });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`smtpwb ${command}: unknown option --bogus`));
  });
}

test('a valued option without its value, or a flag with one, is a usage error', async () => {
  const missing = await runCli(['run', 'x.smtp', '--session'], { cwd: work.dir });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--session needs a value/);
  const flag = await runCli(['lint', '--json=yes', 'x.smtp'], { cwd: work.dir });
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /--json takes no value/);
  const dashed = await runCli(['run', 'x.smtp', '--var', '-x=1'], { cwd: work.dir });
  assert.equal(dashed.code, 2);
  assert.match(dashed.stderr, /--var=VALUE/);
});

test('smtpwb … | head: a reader that goes away ends the program quietly (EPIPE, no stack trace), with status 141 (128 + SIGPIPE), never 0', async () => {
  const r = await runCli(['lint', '--list-codes'], {
    cwd: work.dir,
    interact: async (child) => {
      // The reader closes before the program writes: its first write meets a broken pipe.
      child.stdout!.destroy();
      child.stdin!.end();
      await waitFor('the process to start', () => child.pid !== undefined);
    },
  });
  assert.equal(r.signal, null);
  // As a Unix tool killed by SIGPIPE: under `set -o pipefail` a command cut short never passes.
  assert.equal(r.code, 141, r.stderr);
  assert.doesNotMatch(r.stderr, /EPIPE|Error|at /);
});

test('smtpwb without a command prints the help to stderr and exits 2; an unknown command too', async () => {
  const none = await runCli([], { cwd: work.dir });
  assert.equal(none.code, 2);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /usage:/);
  const unknown = await runCli(['frobnicate'], { cwd: work.dir });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const top = await runCli(['--help'], { cwd: work.dir });
  assert.equal(top.code, 0);
  for (const command of SUBCOMMANDS) assert.match(top.stdout, new RegExp(`smtpwb ${command}\\b`));
});
