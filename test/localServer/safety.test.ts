// Bad input and safety: a client that never finishes DATA or BDAT is cut off after the idle timeout
// with nothing stored; many connections at once are served; over maxClients a client gets 421; the
// store never shows half a message or half a sidecar.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { join } from 'node:path';
import { bdat } from '../engine/plan';
import { RawSmtp } from '../peers/rawSmtp';
import { cmd, data, makePlan, sendLocal, why, withCaptureServer } from './support';

for (const transfer of ['DATA', 'BDAT'] as const) {
  test(`a client that never finishes ${transfer} gets 421 after the idle timeout; nothing is stored`, async () => {
    await withCaptureServer({ tls: false, idleTimeoutMs: 300 }, async (server) => {
      const raw = await RawSmtp.connect(server.host, server.port);
      await raw.read();
      await raw.command('EHLO slow.example.test');
      await raw.command('MAIL FROM:<a@example.test>');
      await raw.command('RCPT TO:<b@example.test>');
      if (transfer === 'DATA') {
        assert.equal((await raw.command('DATA')).code, 354);
        raw.write('Subject: never ends\r\n\r\npart');
      } else raw.write('BDAT 1000 LAST\r\nSubject: never ends\r\n\r\npart');
      const reply = await raw.read(10_000);
      assert.equal(reply.code, 421, JSON.stringify(reply));
      raw.destroy();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await server.list()).length, 0);
      assert.deepEqual(readdirSync(join(server.dir, '.smtpwb-incoming')), []);
      const ok = await sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), data(['Subject: after', '', 'x']), cmd('QUIT')] }));
      assert.equal(ok.ok, true, why(ok));
    });
  });
}

/** Opens a connection and resolves with its first reply line. */
function greeting(port: number, host: string): Promise<{ socket: net.Socket; line: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end >= 0) resolve({ socket, line: text.slice(0, end) });
    });
    socket.on('error', reject);
  });
}

test('300 connections at once are all greeted; over maxClients a client gets 421; the server still serves', async () => {
  await withCaptureServer({ tls: false, maxClients: 300 }, async (server) => {
    const open = await Promise.all(Array.from({ length: 300 }, () => greeting(server.port, server.host)));
    try {
      assert.ok(open.every((c) => c.line.startsWith('220 ')), open.find((c) => !c.line.startsWith('220 '))?.line);
      const extra = await greeting(server.port, server.host);
      assert.match(extra.line, /^421 .*Too many connected clients/);
      extra.socket.destroy();
    } finally {
      for (const c of open) c.socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    const ok = await sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), data(['Subject: after', '', 'x']), cmd('QUIT')] }));
    assert.equal(ok.ok, true, why(ok));
    // The reply comes once the message is journaled; list() waits until its files are in place.
    assert.equal((await server.list()).length, 1);
    const names = readdirSync(server.dir).filter((n) => !n.startsWith('.'));
    assert.equal(names.filter((n) => n.endsWith('.eml')).length, 1);
    assert.equal(names.filter((n) => n.endsWith('.envelope.json')).length, 1, 'one complete sidecar, no partial files');
  });
});

test('messages larger than what is kept in memory (1 MiB) are streamed to disk and stored exactly; over the limit nothing stays', async () => {
  await withCaptureServer({ tls: false, sizeLimit: 3 * 1024 * 1024 }, async (server) => {
    const line = 'x'.repeat(998);
    const lines = ['Subject: big', '', ...Array.from({ length: 2100 }, (_, i) => `${String(i).padStart(6, '0')}${line.slice(6)}`)];
    const expected = `${lines.join('\r\n')}\r\n`;
    for (const step of [data(lines), bdat(lines, 300_000)]) {
      const result = await sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), step, cmd('QUIT')] }));
      assert.equal(result.ok, true, why(result));
    }
    const stored = await server.list();
    assert.equal(stored.length, 2);
    for (const m of stored) assert.equal(readFileSync(m.path, 'latin1'), expected);
    const tooBig = Array.from({ length: 3300 }, () => line);
    const refused = await sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), data(['Subject: too big', '', ...tooBig], '552'), cmd('QUIT')] }));
    assert.equal(refused.ok, true, why(refused));
    assert.equal((await server.list()).length, 2);
    assert.deepEqual(readdirSync(join(server.dir, '.smtpwb-incoming')), []);
  });
});

/**
 * The server's sockets on `port` in CLOSE-WAIT (the client closed its side, the server has not
 * closed its own), read from /proc/net/tcp and /proc/net/tcp6 as `ss -tn state close-wait` does.
 */
function closeWaitCount(port: number): number {
  let count = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const row of text.split('\n').slice(1)) {
      const fields = row.trim().split(/\s+/);
      if (fields.length < 4) continue;
      // Field 1 is the local address as HEX_IP:HEX_PORT; field 3 is the state, 08 for CLOSE-WAIT.
      if (fields[3] === '08' && parseInt(fields[1].split(':')[1] ?? '', 16) === port) count++;
    }
  }
  return count;
}

/** Reads from a socket until the text holds a complete reply whose last line starts with `code `. */
function readReply(socket: net.Socket, code: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      if (new RegExp(`(^|\\r\\n)${code} [^\\r\\n]*\\r\\n$`).test(text)) {
        socket.removeListener('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed before a ${code} reply: ${JSON.stringify(text)}`)));
  });
}

/** Waits until `check` holds, for `timeoutMs` at most; reports whether it held. */
async function within(timeoutMs: number, check: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

for (const ending of ['end', 'destroy'] as const) {
  const how = ending === 'end' ? 'with close_notify and FIN (end)' : 'with a FIN and no close_notify (destroy)';
  test(`a TLS session closed without QUIT ${how} is gone within seconds and frees its maxClients slot`, async () => {
    await withCaptureServer({ maxClients: 1 }, async (server) => {
      const plain = net.connect(server.port, server.host);
      await readReply(plain, '220');
      plain.write('EHLO tls.example.test\r\n');
      await readReply(plain, '250');
      plain.write('STARTTLS\r\n');
      await readReply(plain, '220');
      plain.removeAllListeners('data');
      plain.removeAllListeners('close');
      plain.removeAllListeners('error');
      const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const socket = tls.connect({ socket: plain, ca: server.certificatePem, servername: 'localhost' }, () => resolve(socket));
        socket.once('error', reject);
      });
      secure.write('EHLO tls.example.test\r\n');
      assert.match(await readReply(secure, '250'), /^250-/);
      const closed = new Promise<void>((resolve) => secure.once('close', () => resolve()));
      secure.on('error', () => undefined);
      if (ending === 'end') secure.end();
      else secure.destroy();
      if (ending === 'end') {
        // The client waits for the server's side to close: that happens within seconds, not after
        // the idle timeout.
        assert.ok(await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]), 'the server closed its side');
      }
      assert.ok(await within(3000, () => closeWaitCount(server.port) === 0), `${closeWaitCount(server.port)} socket(s) of the server still in CLOSE-WAIT`);
      // The one slot is free again: the next client is greeted, not refused with 421.
      const next = await greeting(server.port, server.host);
      next.socket.destroy();
      assert.match(next.line, /^220 /);
    });
  });
}
