// The wire's fast paths (one read timer for every read, the reused read buffer of `ReadTap`, writes
// that need no timer) keep the behaviour of the plain ones: each read still times out on its own
// deadline, bytes that arrive before the wire exists are kept, and a reply split across reads into
// the reused buffer is parsed whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { EngineError, ReadTap, Wire, waitConnect } from '../../client/src/engine/wire';
import { rawServer, type LineConnection } from './rawServer';

const hooks = { onReply: () => undefined, onFailure: () => undefined };

async function connect(port: number, tap?: ReadTap): Promise<net.Socket> {
  const socket = net.connect(tap ? { host: '127.0.0.1', port, onread: tap.onread } : { host: '127.0.0.1', port });
  await waitConnect(socket, 5000, `127.0.0.1:${port}`);
  return socket;
}

for (const withTap of [false, true]) {
  const how = withTap ? 'through ReadTap' : 'through data events';

  test(`wire ${how}: a short read after a long one times out on its own deadline`, async () => {
    const server = await rawServer(async (c: LineConnection) => {
      c.send('220 ready\r\n');
      await c.nextLine();
      // The second command is never answered.
    });
    const tap = withTap ? new ReadTap() : undefined;
    const wire = new Wire(await connect(server.port, tap), hooks, tap);
    try {
      const greeting = await wire.read(60_000, 'greeting');
      assert.equal(greeting.code, 220);
      await wire.write('NOOP\r\n');
      const started = Date.now();
      await assert.rejects(wire.read(150, 'reply to NOOP'), (e: unknown) => e instanceof EngineError && e.kind === 'timeout' && /no reply to NOOP within/.test(e.message));
      const waited = Date.now() - started;
      // Not the 60 s of the first read: the timer was moved to the earlier deadline.
      assert.ok(waited >= 140 && waited < 10_000, `waited ${waited} ms`);
    } finally {
      wire.destroy();
      await server.close();
    }
  });

  test(`wire ${how}: a multi-line reply split across many reads, and bytes sent before the wire exists`, async () => {
    const server = await rawServer(async (c: LineConnection) => {
      // The greeting arrives before the wire is made; the EHLO reply comes a few octets at a time.
      c.send('220-first\r\n220 second\r\n');
      await c.nextLine();
      const reply = '250-mail.example.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n';
      for (let i = 0; i < reply.length; i += 5) {
        c.send(reply.slice(i, i + 5));
        await new Promise((r) => setTimeout(r, 2));
      }
    });
    const tap = withTap ? new ReadTap() : undefined;
    const socket = await connect(server.port, tap);
    await new Promise((r) => setTimeout(r, 100));
    const wire = new Wire(socket, hooks, tap);
    try {
      const greeting = await wire.read(5000, 'greeting');
      assert.deepEqual(greeting.lines, ['220-first', '220 second']);
      await wire.write('EHLO c.example.test\r\n', 5000, 'command');
      const ehlo = await wire.read(5000, 'reply to EHLO');
      assert.deepEqual(ehlo.lines, ['250-mail.example.test', '250-PIPELINING', '250 SIZE 1000']);
    } finally {
      wire.destroy();
      await server.close();
    }
  });
}

test('wire: a write of a large payload to a server that stops reading times out', async () => {
  const server = await rawServer(async (c: LineConnection) => {
    c.socket.pause();
    c.send('220 ready\r\n');
  });
  const wire = new Wire(await connect(server.port), hooks);
  try {
    await wire.read(5000, 'greeting');
    const big = Buffer.alloc(64 * 1024 * 1024, 0x78);
    await assert.rejects(wire.write(big, 300, 'message data'), (e: unknown) => e instanceof EngineError && e.kind === 'timeout');
  } finally {
    wire.destroy();
    await server.close();
  }
});
