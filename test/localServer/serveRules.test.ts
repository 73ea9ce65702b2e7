// `smtpwb serve --rules FILE`: the rules answer, the file is read again when it changes, and a
// version with errors is reported while the earlier rules stay in force.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { serveCommand } from '../../client/src/cli/serveCommand';
import { runSession } from '../../client/src/engine';
import { makeTempDir, removeTempDir } from '../peers/process';
import { cmd, makePlan, until, why } from './support';

const rcpt = (reply: string | undefined): string =>
  JSON.stringify({ rules: reply === undefined ? [] : [{ name: 'rcpt rule', when: { command: 'RCPT' }, reply }] });

test('serve --rules: rules answer, a changed file is reloaded, a broken one keeps the earlier rules', async () => {
  const dir = makeTempDir('serve-rules');
  const file = join(dir, 'capture-rules.json');
  writeFileSync(file, rcpt('550 5.7.1 First version'));
  const controller = new AbortController();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const running = serveCommand(['--port', '0', '--no-tls', '--dir', 'box', '--no-verify', '--rules', 'capture-rules.json'], { stdout, stderr, env: {}, cwd: dir, signal: controller.signal });
  try {
    const [, host, port] = await until(() => out, /listening on (\S+):(\d+)/);
    const target = { localTarget: { host, port: Number(port) } };
    const expectRcpt = async (expect: string): Promise<string> => {
      const result = await runSession(makePlan({ steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>', expect), cmd('QUIT')] }), target);
      assert.equal(result.ok, true, why(result));
      return result.steps[2].reply?.lines.join('') ?? '';
    };
    assert.equal(await expectRcpt('550'), '550 5.7.1 First version');
    assert.match(err, /rule "rcpt rule" \(reply\) at RCPT: 550 5\.7\.1 First version/);

    writeFileSync(file, rcpt('451 4.3.0 Second version'));
    await until(() => out, /reloaded 1 behaviour rule from/);
    assert.equal(await expectRcpt('451'), '451 4.3.0 Second version');

    // Saved the way many editors save: a new file renamed over the old one.
    writeFileSync(`${file}.tmp`, '{"rules": [ {"when": {"command": "RCPT"}, "reply": "250 no"} ]}');
    renameSync(`${file}.tmp`, file);
    await until(() => err, /has errors; the earlier rules stay in force/);
    assert.match(err, /capture-rules\.json:1:\d+ error rules-reply-code/);
    assert.equal(await expectRcpt('451'), '451 4.3.0 Second version');
  } finally {
    controller.abort();
    assert.equal(await running, 0);
    removeTempDir(dir);
  }
});
