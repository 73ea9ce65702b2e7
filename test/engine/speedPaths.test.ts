// What the speed work must leave unchanged: repeated transactions send the same bytes every time
// (lock-step and pipelined, inline and file bodies, made once and reused), the CLI's standard
// output written straight to its descriptor keeps every byte and its order (also when the
// descriptor refuses a write, and when the reader goes away), a cleartext session loads neither
// TLS nor the DANE code, and the engine's clock is monotonic. No figure here depends on speed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSession } from '../../client/src/engine/session';
import { monotonicMs } from '../../client/src/engine/clock';
import { FdWriter } from '../../client/src/cli/cliIo';
import { cliPath } from '../cli/cliProcess';
import { PATIENT, cmd, data, explain, makePlan } from './plan';
import { politeSmtp, rawServer, type RawServer } from './rawServer';

let server: RawServer;
let dir: string;

before(async () => {
  server = await rawServer((c) => void politeSmtp(c));
  dir = mkdtempSync(join(tmpdir(), 'engine-speed-'));
});
after(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** How often `needle` occurs in `haystack`. */
function count(haystack: string, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

for (const pipelining of [false, true]) {
  for (const body of ['inline', 'file'] as const) {
    test(`repeat (${pipelining ? 'pipelined' : 'lock-step'}, ${body} body) sends the same commands and dot-stuffed body every time`, async () => {
      const before = server.received().length;
      const marker = `marker-${pipelining ? 'p' : 'l'}-${body}`;
      // A file is dot-stuffed by the engine; inline lines are already stuffed, as in a script.
      const file = join(dir, `${marker}.eml`);
      writeFileSync(file, `Subject: ${marker}\n\n.leading dot\nlast line\n`);
      const p = makePlan({
        connect: `smtp://127.0.0.1:${server.port}`,
        options: { pipelining, timeouts: PATIENT },
        steps: [
          cmd('EHLO client.example.test'),
          cmd('MAIL FROM:<a@example.test>'),
          cmd('RCPT TO:<b@example.test>'),
          data(body === 'inline' ? [`Subject: ${marker}`, '', '..leading dot', 'last line'] : { file }),
          cmd('QUIT'),
        ],
      });
      const r = await runSession(p, { repeat: 7, scriptDir: dir });
      assert.equal(r.ok, true, explain(r));
      assert.equal(r.repeat?.delivered, 7);
      const sent = server.received().subarray(before).toString('latin1');
      assert.equal(count(sent, 'MAIL FROM:<a@example.test>\r\n'), 7);
      assert.equal(count(sent, 'RCPT TO:<b@example.test>\r\n'), 7);
      assert.equal(count(sent, 'DATA\r\n'), 7);
      // RFC 5321 §4.5.2: the line that starts with a dot goes out with one more.
      assert.equal(count(sent, `Subject: ${marker}\r\n\r\n..leading dot\r\nlast line\r\n.\r\n`), 7);
      assert.equal(count(sent, 'QUIT\r\n'), 1);
      // Only the first transaction is in the transcript; the repeats are summed up.
      assert.equal(r.transcript.filter((e) => e.dir === 'client' && e.text.startsWith('MAIL FROM')).length, 1);
    });
  }
}

test('the engine clock never goes backwards and counts milliseconds', async () => {
  const a = monotonicMs();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const b = monotonicMs();
  assert.ok(b - a >= 15 && b - a < 5000, `${b - a} ms`);
});

test('FdWriter: every byte in order, with partial writes; callbacks after the write', async () => {
  const file = join(dir, 'out.txt');
  const fd = openSync(file, 'w');
  try {
    // A descriptor that takes at most 3 bytes per call, as a full pipe may.
    const writes: number[] = [];
    const w = new FdWriter(fd, () => assert.fail('no fallback'), () => assert.fail('no broken pipe'), (f, bytes) => {
      const n = Math.min(3, bytes.length);
      writes.push(n);
      return writeSync(f, bytes, 0, n);
    });
    let called = false;
    w.write('héllo ', () => (called = true));
    assert.equal(called, false, 'the callback runs after write returns, as a stream’s would');
    w.write(Buffer.from('wörld\n'));
    await new Promise((resolve) => process.nextTick(resolve));
    assert.equal(called, true);
    assert.equal(w.isTTY, false);
    assert.ok(writes.length > 4);
  } finally {
    closeSync(fd);
  }
  assert.equal(readFileSync(file, 'utf8'), 'héllo wörld\n');
});

test('FdWriter: a descriptor that refuses a write (EAGAIN) hands the rest, in order, to the stream', async () => {
  const out: string[] = [];
  const stream = { write: (chunk: string | Uint8Array, cb?: () => void) => (out.push(Buffer.from(chunk).toString()), cb?.(), true) } as unknown as NodeJS.WriteStream;
  let calls = 0;
  const w = new FdWriter(
    1,
    () => stream,
    () => assert.fail('no broken pipe'),
    (_fd, bytes) => {
      calls++;
      if (calls === 1) return 2; // "ab" written
      throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
    },
  );
  w.write('abcdef');
  w.write('ghi');
  let flushed = false;
  w.flush(() => (flushed = true));
  assert.deepEqual(out, ['cdef', 'ghi', '']);
  assert.equal(flushed, true);
  assert.equal(calls, 2, 'after EAGAIN the descriptor is not tried again');
});

test('FdWriter: standard output and error fall back together, so the one never overtakes the other\'s queue', () => {
  const order: string[] = [];
  const queue = (name: string) => ({ write: (chunk: string | Uint8Array) => (order.push(`${name}:${Buffer.from(chunk).toString()}`), true) }) as unknown as NodeJS.WriteStream;
  const group = { fallen: false };
  const refuse = (): number => {
    throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
  };
  const direct: string[] = [];
  const out = new FdWriter(1, () => queue('stdout'), () => assert.fail('no broken pipe'), refuse, group);
  const err = new FdWriter(2, () => queue('stderr'), () => assert.fail('no broken pipe'), (_fd, bytes) => (direct.push(Buffer.from(bytes).toString()), bytes.length), group);
  err.write('e1');
  out.write('o1');
  err.write('e2');
  assert.deepEqual(direct, ['e1'], 'once standard output queues, standard error queues too');
  assert.deepEqual(order, ['stdout:o1', 'stderr:e2']);
});

test('FdWriter: a reader that went away (EPIPE) ends quietly through onBrokenPipe', () => {
  let broken = 0;
  const w = new FdWriter(
    1,
    () => assert.fail('no fallback'),
    () => broken++,
    () => {
      throw Object.assign(new Error('EPIPE'), { code: 'EPIPE' });
    },
  );
  assert.equal(w.write('x'), false);
  assert.equal(broken, 1);
  const other = new FdWriter(1, () => assert.fail('no fallback'), () => assert.fail('no broken pipe'), () => {
    throw Object.assign(new Error('EIO'), { code: 'EIO' });
  });
  assert.throws(() => other.write('x'), /EIO/);
});

/** Runs the built CLI; `preload` is required first (to watch what the process loads). */
function cli(args: string[], preload?: string, readFirstChunkOnly = false): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(preload ? ['--require', preload] : []), cliPath(), ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      // Like `| head -c N`: the reader goes away after the first chunk.
      if (readFirstChunkOnly) child.stdout.destroy();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('smtpwb run of a cleartext session loads neither TLS nor the DANE code, creates no stdout stream, and prints the whole transcript to a pipe', async () => {
  const script = join(dir, 'clear.smtp');
  writeFileSync(script, `### clear\nCONNECT smtp://127.0.0.1:${server.port}\nEHLO client.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\nSubject: clear\n\nhello\n.\nQUIT\n`);
  const preload = join(dir, 'modules.js');
  writeFileSync(
    preload,
    [
      // Whether anything asked for process.stdout: the CLI writes to descriptor 1 itself. (Node's
      // own net.Socket#destroy looks at process.stderr, so that one is created anyway.)
      "let created = false;",
      "const d = Object.getOwnPropertyDescriptor(process, 'stdout');",
      "Object.defineProperty(process, 'stdout', { configurable: true, enumerable: d.enumerable, get() { created = true; return d.get.call(process); } });",
      "process.on('exit', () => require('fs').writeSync(2, '\\nMODULES ' + JSON.stringify(process.moduleLoadList.filter((m) => /^NativeModule (tls|_tls_wrap|dgram|perf_hooks|crypto)$/.test(m))) + ' STREAMS ' + created + '\\n'));",
      '',
    ].join('\n'),
  );
  const r = await cli(['run', script], preload);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^### clear\n/);
  assert.match(r.stdout, /-> QUIT\n/);
  assert.match(r.stdout, /PASS clear \(/);
  assert.match(r.stderr, /MODULES \[\] STREAMS false/);
});

test('smtpwb run whose reader goes away ends quietly (no stack trace), with 141 (128 + SIGPIPE): a run cut short never passes', async () => {
  const script = join(dir, 'quiet.smtp');
  writeFileSync(script, `### quiet\nCONNECT smtp://127.0.0.1:${server.port}\nEHLO client.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\nSubject: quiet\n\n${'line\n'.repeat(2000)}.\nQUIT\n`);
  const r = await cli(['run', script, '--repeat', '50'], undefined, true);
  assert.equal(r.code, 141, `exit ${r.code}`);
  assert.doesNotMatch(r.stderr, /Error|at .*\.js:\d+/);
});
