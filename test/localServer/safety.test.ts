// Bad input and safety: a client that never finishes DATA or BDAT is cut off after the idle timeout
// with nothing stored; many connections at once are served; over maxClients a client gets 421; the
// store never shows half a message or half a sidecar.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as net from 'node:net';
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
