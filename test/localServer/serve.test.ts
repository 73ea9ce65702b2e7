// `smtpwb serve` end to end: in a child process (the wrapper serve.main.ts, or the CLI bundle once
// main.ts dispatches `serve`), it prints its address and each message, and exits 0 on SIGINT and
// SIGTERM; in process, usage errors give 2 and a port in use gives 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { runSession } from '../../client/src/engine';
import { serveCommand } from '../../client/src/cli/serveCommand';
import type { CliIo } from '../../client/src/cli/cliIo';
import { startCaptureServer } from '../../client/src/localServer';
import { makeTempDir, removeTempDir } from '../peers/process';
import { RawSmtp } from '../peers/rawSmtp';
import { repoRoot } from '../peers/require';
import { cmd, data, makePlan, why } from './support';

// serveCommand fits main.ts's command table as it is.
const asMainCommand: (args: string[], io: CliIo) => Promise<number> = serveCommand;
void asMainCommand;

/** The command that runs `serve`: the CLI bundle when it dispatches `serve`, else the wrapper. */
function serveCommandLine(): { argv: string[]; via: string } {
  const cli = resolve(process.env.SMTPWB_DIST ?? 'dist', 'cli.js');
  if (existsSync(cli)) {
    const probe = spawnSync(process.execPath, [cli, 'serve', '--help'], { encoding: 'utf8', timeout: 20_000 });
    if (probe.status === 0 && probe.stdout.includes('smtpwb serve')) return { argv: [cli, 'serve'], via: 'the CLI bundle' };
  }
  return { argv: [join(__dirname, 'serve.main.js')], via: 'test/localServer/serve.main.ts (main.ts does not dispatch serve yet)' };
}

/** Collects a child's output and waits for text in it. */
class Output {
  text = '';
  private waiters: Array<() => void> = [];
  constructor(stream: NodeJS.ReadableStream) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.text += chunk;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }
  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.text);
      if (m) return m;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${pattern} in output: ${this.text}`);
      await new Promise<void>((done) => {
        const timer = setTimeout(done, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          done();
        });
      });
    }
  }
}

function exitOf(child: ChildProcess): Promise<number | NodeJS.Signals> {
  return new Promise((done) => child.once('exit', (code, signal) => done(code ?? signal ?? -1)));
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`serve in a child process: address, one line per message, exit 0 on ${signal}`, async (t) => {
    const dir = makeTempDir('serve');
    const { argv, via } = serveCommandLine();
    t.diagnostic(`running serve through ${via}`);
    const child = spawn(process.execPath, [...argv, '--port', '0', '--dir', 'inbox', '--no-verify'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = exitOf(child);
    const stdout = new Output(child.stdout!);
    const stderr = new Output(child.stderr!);
    try {
      const [, host, port] = await stdout.waitFor(/listening on (\S+):(\d+) \(STARTTLS, certificate (\S+)/);
      assert.equal(host, '127.0.0.1');
      await stdout.waitFor(new RegExp(`storing messages in ${join(dir, 'inbox').replace(/[/\\]/g, '[/\\\\]')}`));
      const plan = makePlan({
        steps: [
          cmd('EHLO c.example.test'),
          cmd('MAIL FROM:<alice@example.test>'),
          cmd('RCPT TO:<bob@example.test>'),
          cmd('RCPT TO:<carol@example.test>'),
          data(['Subject: Hello "serve"', '', 'body']),
          cmd('QUIT'),
        ],
      });
      const result = await runSession(plan, { localTarget: { host, port: Number(port) } });
      assert.equal(result.ok, true, why(result));
      const [line, file] = await stdout.waitFor(/from <alice@example\.test> to <bob@example\.test>, <carol@example\.test> subject "Hello \\"serve\\"" \(\d+ octets\) -> (\S+\.eml)\n/);
      assert.ok(line.length > 0);
      child.kill(signal);
      assert.equal(await exited, 0, `stderr: ${stderr.text}`);
      assert.match(stdout.text, /stopped\n$/);
      // The file is written once the server is quiet, and at the latest when it stops.
      assert.equal(readFileSync(file, 'latin1'), 'Subject: Hello "serve"\r\n\r\nbody\r\n');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      removeTempDir(dir);
    }
  });
}

function fakeIo(cwd: string, signal?: AbortSignal): { io: Parameters<typeof serveCommand>[1]; out: Output; err: Output } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  return { io: { stdout, stderr, env: {}, cwd, signal }, out: new Output(stdout), err: new Output(stderr) };
}

test('serve in process: --auth, --no-tls, --help, usage errors (2) and a port in use (1)', async () => {
  const dir = makeTempDir('serve');
  try {
    const help = fakeIo(dir);
    assert.equal(await serveCommand(['--help'], help.io), 0);
    assert.match(help.out.text, /usage: smtpwb serve/);
    for (const bad of [['--port', 'x'], ['--port', '70000'], ['--auth', 'nocolon'], ['--bogus'], ['--dir']]) {
      const usage = fakeIo(dir);
      assert.equal(await serveCommand(bad, usage.io), 2, bad.join(' '));
      assert.match(usage.err.text, /smtpwb serve: /);
    }
    const taken = await startCaptureServer({ dir: join(dir, 'other'), tls: false });
    try {
      const busy = fakeIo(dir);
      assert.equal(await serveCommand(['--port', String(taken.port), '--no-tls'], busy.io), 1);
      assert.match(busy.err.text, /in use/);
    } finally {
      await taken.stop();
    }
    const controller = new AbortController();
    const run = fakeIo(dir, controller.signal);
    const done = serveCommand(['--port=0', '--dir=box', '--auth', 'u:p:w', '--no-tls', '--size-limit', '100'], run.io);
    const [, host, port] = await run.out.waitFor(/listening on (\S+):(\d+) \(no STARTTLS; AUTH as u\)/);
    const result = await runSession(
      makePlan({
        options: { allowCleartextAuth: true },
        steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test> SIZE=1000', '552'), cmd('QUIT')],
      }),
      { localTarget: { host, port: Number(port) } },
    );
    assert.equal(result.ok, true, why(result));
    assert.equal(result.capabilities?.size, 100);
    controller.abort();
    assert.equal(await done, 0);
    assert.match(run.out.text, /stopped\n$/);
    assert.ok(existsSync(join(dir, 'box')), '--dir is taken from the working directory');
  } finally {
    removeTempDir(dir);
  }
});

test('smtpwb run sends a session without CONNECT to smtpwb serve (--local), through the parser and engine', async () => {
  const cli = resolve(process.env.SMTPWB_DIST ?? 'dist', 'cli.js');
  assert.ok(existsSync(cli), `the CLI bundle ${cli} is missing: build with node scripts/build.mjs`);
  const dir = makeTempDir('serve');
  const { argv } = serveCommandLine();
  const child = spawn(process.execPath, [...argv, '--port', '0', '--dir', dir, '--no-verify'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = exitOf(child);
  const stdout = new Output(child.stdout!);
  try {
    const [, host, port] = await stdout.waitFor(/listening on (\S+):(\d+)/);
    const scriptPath = join(repoRoot(), 'examples', '01-hello-local.smtp');
    const runResult = await new Promise<{ code: number | null; out: string }>((done) => {
      const runner = spawn(process.execPath, [cli, 'run', scriptPath, '--local', `${host}:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      runner.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      runner.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      runner.on('exit', (code) => done({ code, out }));
    });
    assert.equal(runResult.code, 0, runResult.out);
    const [, file] = await stdout.waitFor(/subject "Hello from SMTP Workbench" \(\d+ octets\) -> (\S+\.eml)\n/);
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    // The file is written once the server is quiet, and at the latest when it stops.
    const stored = readFileSync(file, 'utf8');
    assert.match(stored, /^From: Alice <alice@example\.test>\r\n/);
    assert.match(stored, /\r\n\.this line starts with a single dot once delivered\.\r\n$/);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    removeTempDir(dir);
  }
});

test('serve --idle-timeout and --max-clients: a client idle mid-DATA gets 421 4.4.2 after the timeout; one too many gets 421', async () => {
  const dir = makeTempDir('serve');
  try {
    const help = fakeIo(dir);
    assert.equal(await serveCommand(['--help'], help.io), 0);
    assert.match(help.out.text, /--idle-timeout DURATION/);
    assert.match(help.out.text, /--max-clients N/);
    for (const bad of [['--idle-timeout', 'soon'], ['--idle-timeout', '0'], ['--idle-timeout=-1s'], ['--idle-timeout', '2147484s'], ['--max-clients', '0'], ['--max-clients', 'many'], ['--max-clients', '1.5']]) {
      const usage = fakeIo(dir);
      assert.equal(await serveCommand(bad, usage.io), 2, bad.join(' '));
      assert.match(usage.err.text, new RegExp(`smtpwb serve: ${bad[0].split('=')[0]} needs`));
    }
    const controller = new AbortController();
    const run = fakeIo(dir, controller.signal);
    const done = serveCommand(['--port=0', '--dir=box', '--no-tls', '--no-verify', '--idle-timeout', '1500ms', '--max-clients', '2'], run.io);
    const [, host, port] = await run.out.waitFor(/listening on (\S+):(\d+)/);
    try {
      // Two clients are greeted; the third gets 421 and is closed.
      const first = await RawSmtp.connect(host, Number(port));
      const second = await RawSmtp.connect(host, Number(port));
      assert.equal((await first.read()).code, 220);
      assert.equal((await second.read()).code, 220);
      const third = await RawSmtp.connect(host, Number(port));
      const refused = await third.read();
      assert.equal(refused.code, 421, refused.raw);
      assert.match(refused.raw, /Too many connected clients/);
      third.destroy();
      // The first stops in the middle of DATA: after 1.5 s of silence it gets 421 4.4.2.
      await first.command('EHLO slow.example.test');
      await first.command('MAIL FROM:<a@example.test>');
      await first.command('RCPT TO:<b@example.test>');
      assert.equal((await first.command('DATA')).code, 354);
      first.write('Subject: never ends\r\n\r\npart');
      const started = Date.now();
      const timeout = await first.read(10_000);
      const waited = Date.now() - started;
      assert.equal(timeout.code, 421, timeout.raw);
      assert.match(timeout.raw, /^421 4\.4\.2 /);
      assert.ok(waited >= 1000 && waited < 5000, `421 after ${waited} ms`);
      first.destroy();
      second.destroy();
    } finally {
      controller.abort();
    }
    assert.equal(await done, 0);
  } finally {
    removeTempDir(dir);
  }
});
