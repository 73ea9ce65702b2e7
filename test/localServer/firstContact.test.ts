// Issue 10 §4, the capture server's part: it greets at once (no 100 ms "early talker" wait), `serve`
// that cannot bind creates nothing and says so in one line, and the AUTH password never has to be on
// the command line (environment or file; `--auth` still works but warns).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { serveCommand, SERVE_AUTH_ENV } from '../../client/src/cli/serveCommand';
import { startCaptureServer } from '../../client/src/localServer';
import { makeTempDir, removeTempDir } from '../peers/process';
import { auth, cmd, data, makePlan, why, withCaptureServer } from './support';
import { runSession } from '../../client/src/engine';

/** Collects a stream's text and waits for a pattern in it. */
function collect(stream: NodeJS.ReadableStream): { text: () => string; waitFor(re: RegExp, ms?: number): Promise<RegExpExecArray> } {
  let text = '';
  const wakers: Array<() => void> = [];
  stream.setEncoding('utf8');
  stream.on('data', (c: string) => {
    text += c;
    for (const w of wakers.splice(0)) w();
  });
  return {
    text: () => text,
    async waitFor(re, ms = 15_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const m = re.exec(text);
        if (m) return m;
        if (Date.now() > deadline) throw new Error(`no ${re} in: ${text}`);
        await new Promise<void>((done) => {
          const timer = setTimeout(done, deadline - Date.now());
          wakers.push(() => {
            clearTimeout(timer);
            done();
          });
        });
      }
    },
  };
}

function fakeIo(cwd: string, env: NodeJS.ProcessEnv = {}, signal?: AbortSignal) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  return { io: { stdout, stderr, env, cwd, signal }, out: collect(stdout), err: collect(stderr) };
}

test('the greeting comes at once: a client that talks before it is answered, not refused as too early', async () => {
  await withCaptureServer({ tls: false }, async (server) => {
    // smtp-server's own connect waits 100 ms and answers anything sent meanwhile with
    // "421 You talk too soon"; the capture server is ready when the connection is accepted.
    const socket = net.connect(server.port, server.host);
    const replies = collect(socket);
    socket.on('connect', () => socket.write('EHLO early.example.test\r\nQUIT\r\n'));
    await replies.waitFor(/^221 /m);
    socket.destroy();
    const codes = replies
      .text()
      .split('\r\n')
      .filter((l) => /^\d{3} /.test(l))
      .map((l) => l.slice(0, 3));
    assert.deepEqual(codes, ['220', '250', '221'], replies.text());
  });
});

test('a port in use: startCaptureServer rejects before it creates the folder or a key', async () => {
  const blocker = net.createServer();
  await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', () => done()));
  const port = (blocker.address() as net.AddressInfo).port;
  const dir = makeTempDir('bind');
  try {
    await assert.rejects(startCaptureServer({ dir: join(dir, 'inbox'), port }), /EADDRINUSE/);
    assert.deepEqual(readdirSync(dir), [], 'no folder, no certificate, no key');
  } finally {
    blocker.close();
    removeTempDir(dir);
  }
});

test('serve on a port in use: exit 1, one clear line, nothing created, no "client error"', async () => {
  const blocker = net.createServer();
  await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', () => done()));
  const port = (blocker.address() as net.AddressInfo).port;
  const dir = makeTempDir('bind');
  try {
    const run = fakeIo(dir);
    assert.equal(await serveCommand(['--port', String(port), '--dir', 'box'], run.io), 1);
    assert.equal(run.err.text(), `smtpwb serve: cannot start: 127.0.0.1:${port} is in use (try --port 0 or another port)\n`);
    assert.equal(run.out.text(), '');
    assert.equal(existsSync(join(dir, 'box')), false);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    blocker.close();
    removeTempDir(dir);
  }
});

/** Runs serve in process until `fn` is done; returns what it printed. */
async function withServe(
  dir: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  fn: (target: { host: string; port: number }) => Promise<void>,
): Promise<{ out: string; err: string; code: number }> {
  const controller = new AbortController();
  const run = fakeIo(dir, env, controller.signal);
  const done = serveCommand(['--port', '0', '--no-tls', '--dir', 'box', '--no-verify', ...args], run.io);
  try {
    const [, host, port] = await run.out.waitFor(/listening on (\S+):(\d+)/);
    await fn({ host, port: Number(port) });
  } finally {
    controller.abort();
  }
  const code = await done;
  return { out: run.out.text(), err: run.err.text(), code };
}

function authPlan(pass: string, expect?: string) {
  return makePlan({ options: { allowCleartextAuth: true }, steps: [cmd('EHLO c.example.test'), auth('PLAIN', 'tester', pass, expect), cmd('QUIT')] });
}

test(`serve takes the AUTH account from ${SERVE_AUTH_ENV} or --auth-file; --auth still works, with a warning`, async () => {
  const dir = makeTempDir('serve-auth');
  try {
    const check = async (target: { host: string; port: number }): Promise<void> => {
      const wrong = await runSession(authPlan('nope', '535'), { localTarget: target });
      assert.equal(wrong.ok, true, why(wrong));
      const right = await runSession(authPlan('s3cret:with:colons'), { localTarget: target });
      assert.equal(right.ok, true, why(right));
    };
    const fromEnv = await withServe(dir, [], { [SERVE_AUTH_ENV]: 'tester:s3cret:with:colons' }, check);
    assert.equal(fromEnv.code, 0);
    assert.match(fromEnv.out, /AUTH as tester\)/);
    assert.doesNotMatch(fromEnv.err, /warning/);

    writeFileSync(join(dir, 'account'), 'tester:s3cret:with:colons\n', { mode: 0o600 });
    const fromFile = await withServe(dir, ['--auth-file', 'account'], {}, check);
    assert.equal(fromFile.code, 0);
    assert.doesNotMatch(fromFile.err, /warning/);

    const fromFlag = await withServe(dir, ['--auth', 'tester:s3cret:with:colons'], {}, check);
    assert.equal(fromFlag.code, 0);
    assert.match(fromFlag.err, /warning: --auth puts the password on the command line.*--auth-file FILE or SMTPWB_SERVE_AUTH/);

    const missing = fakeIo(dir);
    assert.equal(await serveCommand(['--auth-file', 'nope'], missing.io), 2);
    assert.match(missing.err.text(), /--auth-file: cannot read nope: ENOENT/);
    const both = fakeIo(dir);
    assert.equal(await serveCommand(['--auth-file', 'account', '--auth', 'a:b'], both.io), 2);
  } finally {
    removeTempDir(dir);
  }
});

test('serve in a child process with the account in the environment: the password is not in its command line', async (t) => {
  if (!existsSync('/proc/self/cmdline')) {
    t.diagnostic('no /proc here: the command line is checked from the arguments only');
  }
  const dir = makeTempDir('serve-ps');
  const child = spawn(process.execPath, [join(__dirname, 'serve.main.js'), '--port', '0', '--no-tls', '--dir', dir], {
    env: { ...process.env, [SERVE_AUTH_ENV]: 'tester:hunter2-visible?' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = collect(child.stdout!);
  try {
    const [, host, port] = await out.waitFor(/listening on (\S+):(\d+) \(no STARTTLS; AUTH as tester\)/);
    if (existsSync(`/proc/${child.pid}/cmdline`)) {
      const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
      assert.doesNotMatch(cmdline, /hunter2/);
    }
    const ok = await runSession(authPlan('hunter2-visible?'), { localTarget: { host, port: Number(port) } });
    assert.equal(ok.ok, true, why(ok));
  } finally {
    child.kill('SIGTERM');
    await new Promise((done) => child.once('exit', done));
    removeTempDir(dir);
  }
});

test('serve prints what a client sent with terminal controls and bidi overrides escaped (issue 10 §2)', async () => {
  const dir = makeTempDir('serve-escape');
  try {
    const printed = await withServe(dir, [], {}, async (target) => {
      const result = await runSession(
        makePlan({
          steps: [
            cmd('EHLO c.example.test'),
            cmd('MAIL FROM:<a@example.test>'),
            cmd('RCPT TO:<b@example.test>'),
            data(['Subject: \u001b]0;pwned\u0007red \u001b[31m \u202egnp.exe', '', 'x']),
            cmd('QUIT'),
          ],
        }),
        { localTarget: target },
      );
      // The message line is printed once the message is stored (its files follow the 250 at once),
      // and a message stored while serve stops still gets its line.
      assert.equal(result.ok, true, why(result));
    });
    assert.match(printed.out, /subject "/);
    assert.doesNotMatch(printed.out, /[\u001b\u0007\u202e]/);
    assert.match(printed.out, /\\u202E|\\u202e/);
  } finally {
    removeTempDir(dir);
  }
});
