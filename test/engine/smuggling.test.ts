// SMTP smuggling: in the normal mode no bare CR or LF and no `<LF>.<LF>` reaches the wire,
// whatever the plan holds (RFC 5321 §2.3.8, §4.5.2); RAW sends exactly its bytes. The bytes are
// captured with a raw server.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSession } from '../../client/src/engine';
import { bdat, cmd, data, makePlan, raw } from './plan';
import { politeSmtp, rawServer, type RawServer } from './rawServer';

const servers: RawServer[] = [];
const dirs: string[] = [];
after(async () => {
  for (const s of servers) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Finds a CR not followed by LF, or an LF not preceded by CR. */
function bareLineEnding(bytes: Buffer): number {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] !== 10) return i;
    if (bytes[i] === 10 && (i === 0 || bytes[i - 1] !== 13)) return i;
  }
  return -1;
}

const count = (haystack: string, needle: string): number => haystack.split(needle).length - 1;

test('normal mode: hostile body lines and files never put bare CR/LF or an early end of data on the wire', async () => {
  const s = await rawServer((c) => void politeSmtp(c, ['PIPELINING', 'CHUNKING']));
  servers.push(s);
  const dir = mkdtempSync(join(tmpdir(), 'smuggle-'));
  dirs.push(dir);
  const file = join(dir, 'evil.eml');
  writeFileSync(file, 'Subject: file\n\nbody\n.\nMAIL FROM:<mallory@example.test>\r\n.\r\nlone\rcr\n\r\n.\n');
  const hostile = [
    'Subject: smuggling',
    '',
    'text\n.\nMAIL FROM:<mallory@example.test>',
    'cr only\r.\rRCPT TO:<victim@example.test>',
    '.',
    'ends with cr\r',
    '\n.\r\n',
  ];
  const r = await runSession(
    makePlan({
      connect: `smtp://127.0.0.1:${s.port}`,
      steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), data(hostile), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), data({ file }), cmd('QUIT')],
    }),
    { scriptDir: dir },
  );
  assert.ok(r.ok, r.failure?.message);
  const wire = s.received();
  assert.equal(bareLineEnding(wire), -1, `bare CR or LF at ${bareLineEnding(wire)}: ${JSON.stringify(wire.toString())}`);
  const text = wire.toString('latin1');
  assert.ok(!text.includes('\n.\n'));
  // Exactly two ends of data (one per message), and the smuggled commands stay inside the bodies.
  assert.equal(count(text, '\r\n.\r\n'), 2, JSON.stringify(text));
  assert.ok(text.includes('\r\n..\r\nMAIL FROM:<mallory@example.test>'));
});

test('normal mode: a command with CR or LF inside is refused before anything is sent', async () => {
  const s = await rawServer((c) => void politeSmtp(c));
  servers.push(s);
  const r = await runSession(makePlan({ connect: `smtp://127.0.0.1:${s.port}`, steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>\r\nRCPT TO:<x@example.test>')] }));
  assert.equal(r.failure?.kind, 'script');
  assert.match(r.failure?.message ?? '', /cannot contain CR or LF/);
  assert.ok(!s.received().toString().includes('RCPT'));
});

test('normal mode: BDAT with hostile lines sends CRLF only', async () => {
  const captured: Buffer[] = [];
  const s = await rawServer(async (c) => {
    c.send('220 hi\r\n');
    // A CHUNKING server that counts octets: reads BDAT headers and skips their payload.
    let buffered = Buffer.alloc(0);
    c.socket.removeAllListeners('data');
    c.socket.on('data', (chunk: Buffer) => {
      captured.push(chunk);
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const nl = buffered.indexOf('\r\n');
        if (nl < 0) return;
        const line = buffered.subarray(0, nl).toString();
        const m = /^BDAT (\d+)( LAST)?$/.exec(line);
        if (m) {
          const n = Number(m[1]);
          if (buffered.length < nl + 2 + n) return;
          buffered = buffered.subarray(nl + 2 + n);
          c.send(m[2] ? '250 done\r\n' : '250 more\r\n');
          continue;
        }
        buffered = buffered.subarray(nl + 2);
        if (line.startsWith('EHLO')) c.send('250-hi\r\n250 CHUNKING\r\n');
        else if (line === 'QUIT') c.send('221 bye\r\n');
        else c.send('250 ok\r\n');
      }
    });
  });
  servers.push(s);
  const r = await runSession(
    makePlan({
      connect: `smtp://127.0.0.1:${s.port}`,
      steps: [cmd('EHLO c'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), bdat(['Subject: b', '', 'x\n.\ny', 'bare\rcr'], 7), cmd('QUIT')],
    }),
  );
  assert.ok(r.ok, `${r.failure?.message}\n${r.transcript.map((e) => e.text).join('\n')}`);
  const wire = Buffer.concat(captured);
  assert.equal(bareLineEnding(wire), -1, JSON.stringify(wire.toString()));
  // Chunks never split a CRLF; with the BDAT headers removed, the message is CRLF throughout and un-stuffed.
  const message = wire.toString().replace(/BDAT \d+( LAST)?\r\n/g, '');
  assert.ok(message.includes('Subject: b\r\n\r\nx\r\n.\r\ny\r\nbare\r\ncr\r\n'), JSON.stringify(message));
});

test('RAW sends exactly its bytes, bare LF and <LF>.<LF> included, and reads one reply per EXPECT', async () => {
  const s = await rawServer(async (c) => {
    c.send('220 hi\r\n');
    let inData = false;
    for (;;) {
      const l = await c.nextLine();
      if (inData) {
        if (l === '.') {
          inData = false;
          c.send('250 first message\r\n');
        }
        continue;
      }
      if (l === 'DATA') {
        inData = true;
        c.send('354 go\r\n');
      } else if (l === 'QUIT') {
        c.send('221 bye\r\n');
        return;
      } else c.send('250 ok\r\n');
    }
  });
  servers.push(s);
  const r = await runSession(
    makePlan({
      connect: `smtp://127.0.0.1:${s.port}`,
      steps: [
        cmd('EHLO probe.example.test'),
        cmd('MAIL FROM:<alice@example.test>'),
        cmd('RCPT TO:<bob@example.test>'),
        cmd('DATA', '354'),
        raw('Subject: first\\r\\n\\r\\nbody\\n.\\nMAIL FROM:<mallory@example.test>\\r\\n', '250 "first message"', '250'),
        raw('\\x2e\\r\\n'),
      ],
    }),
    { timeouts: { command: 1000 } },
  );
  assert.ok(r.ok, `${r.failure?.message}\n${r.transcript.map((e) => `${e.dir} ${e.text}`).join('\n')}`);
  const text = s.received().toString('latin1');
  assert.ok(text.includes('body\n.\nMAIL FROM:<mallory@example.test>\r\n'), JSON.stringify(text));
  assert.ok(r.transcript.some((e) => e.dir === 'client' && e.text.includes('[raw] Subject: first\\r\\n\\r\\nbody\\n.\\n')));
});
