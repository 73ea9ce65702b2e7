// CHUNKING and BDAT (RFC 3030) in the capture server: through the project's engine (one chunk and
// many), and raw: octets that look like commands or the end of DATA inside a chunk, BDAT outside a
// transaction (the chunk is still read), DATA after BDAT, RSET in the middle, the SIZE limit, a
// client that vanishes mid-chunk, and --no-chunking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { bdat } from '../engine/plan';
import { RawSmtp } from '../peers/rawSmtp';
import { cmd, data, makePlan, nextMessage, sendLocal, why, withCaptureServer } from './support';

const EHLO = cmd('EHLO client.example.test');

test('engine BDAT: one chunk and many store the same bytes as DATA for the same script body', async () => {
  await withCaptureServer({ tls: false }, async (server) => {
    const body = ['Subject: chunks', '', '..a line that starts with one dot', 'QUIT', 'end'];
    const stored: string[] = [];
    for (const step of [data(body), bdat(body), bdat(body, 7)]) {
      const arrived = nextMessage(server);
      const result = await sendLocal(server, makePlan({ steps: [EHLO, cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), step, cmd('QUIT')] }));
      assert.equal(result.ok, true, why(result));
      assert.ok('CHUNKING' in (result.capabilities?.keywords ?? {}));
      const message = await arrived;
      assert.equal(message.envelope?.transfer, step.kind === 'bdat' ? 'BDAT' : 'DATA');
      stored.push(readFileSync(message.path, 'latin1'));
    }
    assert.equal(stored[0], 'Subject: chunks\r\n\r\n.a line that starts with one dot\r\nQUIT\r\nend\r\n');
    assert.deepEqual(stored, [stored[0], stored[0], stored[0]]);
  });
});

test('raw BDAT: command-like octets inside a chunk, chunks split across writes, pipelined after it', async () => {
  await withCaptureServer({ tls: false }, async (server) => {
    const raw = await RawSmtp.connect(server.host, server.port);
    await raw.read();
    await raw.command('EHLO raw.example.test');
    const first = 'Subject: raw\r\n\r\nQUIT\r\n.\r\nRSET\r\n';
    const second = 'tail without CRLF';
    const arrived = nextMessage(server);
    raw.write(`MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nBDAT ${Buffer.byteLength(first)}\r\n${first.slice(0, 5)}`);
    assert.equal((await raw.read()).code, 250);
    assert.equal((await raw.read()).code, 250);
    raw.write(first.slice(5));
    const chunkReply = await raw.read();
    assert.equal(chunkReply.code, 250);
    assert.match(chunkReply.lines.join(''), new RegExp(`${Buffer.byteLength(first)} octets received`));
    raw.write(`BDAT ${second.length} LAST\r\n${second}NOOP\r\n`);
    assert.match((await raw.read()).lines.join(''), /captured as/);
    assert.equal((await raw.read()).code, 250, 'NOOP pipelined after the last chunk is answered');
    const message = await arrived;
    assert.equal(readFileSync(message.path, 'latin1'), first + second);
    await raw.quit();
  });
});

test('raw BDAT: outside a transaction the chunk is read and refused; DATA after BDAT is refused; RSET drops it', async () => {
  await withCaptureServer({ tls: false }, async (server) => {
    const raw = await RawSmtp.connect(server.host, server.port);
    await raw.read();
    await raw.command('EHLO raw.example.test');
    raw.write('BDAT 10\r\nMAIL FROM:');
    assert.equal((await raw.read()).code, 503, 'no MAIL yet, and the 10 octets are not taken as a command');
    assert.equal((await raw.command('NOOP')).code, 250);
    await raw.command('MAIL FROM:<a@example.test>');
    await raw.command('RCPT TO:<b@example.test>');
    raw.write('BDAT 3\r\nabc');
    assert.equal((await raw.read()).code, 250);
    assert.equal((await raw.command('DATA')).code, 503);
    assert.equal((await raw.command('RSET')).code, 250);
    raw.write('BDAT 3 LAST\r\nabc');
    assert.equal((await raw.read()).code, 503, 'RSET ended the transaction');
    assert.equal((await raw.command('BDAT x')).code, 501);
    raw.destroy();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await server.list()).length, 0);
  });
});

test('raw BDAT: over the SIZE limit gets 552 at the last chunk; a client gone mid-chunk leaves nothing', async () => {
  await withCaptureServer({ tls: false, sizeLimit: 10 }, async (server) => {
    const raw = await RawSmtp.connect(server.host, server.port);
    await raw.read();
    await raw.command('EHLO raw.example.test');
    await raw.command('MAIL FROM:<a@example.test>');
    await raw.command('RCPT TO:<b@example.test>');
    raw.write('BDAT 8\r\n12345678');
    assert.equal((await raw.read()).code, 250);
    raw.write('BDAT 8 LAST\r\n12345678');
    const reply = await raw.read();
    assert.equal(reply.code, 552, JSON.stringify(reply));
    await raw.command('MAIL FROM:<a@example.test>');
    await raw.command('RCPT TO:<b@example.test>');
    raw.write('BDAT 100 LAST\r\nonly part of it');
    await new Promise((r) => setTimeout(r, 50));
    raw.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await server.list()).length, 0);
    assert.deepEqual(readdirSync(join(server.dir, '.smtpwb-incoming')), []);
  });
});

test('chunking: false offers no CHUNKING and refuses BDAT with 502, reading its chunk', async () => {
  await withCaptureServer({ tls: false, chunking: false }, async (server) => {
    const result = await sendLocal(server, makePlan({ steps: [EHLO, cmd('QUIT')] }));
    assert.equal(result.ok, true, why(result));
    assert.ok(!('CHUNKING' in (result.capabilities?.keywords ?? {})));
    const raw = await RawSmtp.connect(server.host, server.port);
    await raw.read();
    await raw.command('EHLO raw.example.test');
    assert.equal((await raw.command('BDAT 0 LAST')).code, 502);
    await raw.quit();
  });
});
