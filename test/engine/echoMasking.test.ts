/**
 * A server may echo what the client sent: a rejected address, a bad AUTH payload. The secret must
 * still appear in no byte of the result: steps, replies, transcript, failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSession } from '../../client/src/engine';
import { auth, cmd, makePlan } from './plan';
import { rawServer } from './rawServer';

test('replies that echo a secret (plain and as its AUTH payload) are masked in the whole result', async () => {
  const secret = 's3cr3tpass';
  const server = await rawServer(async (c) => {
    c.send('220 echo.example.test\r\n');
    for (;;) {
      const line = await c.nextLine();
      if (line.startsWith('EHLO')) c.send('250-echo.example.test\r\n250 AUTH PLAIN\r\n');
      else if (line.startsWith('QUIT')) {
        c.send('221 bye\r\n');
        c.socket.end();
        return;
      } else c.send(`550 5.1.1 <${line}> rejected\r\n`);
    }
  });
  try {
    const plan = makePlan({
      connect: `smtp://127.0.0.1:${server.port}`,
      options: { allowCleartextAuth: true },
      steps: [cmd('EHLO c.example.test'), cmd(`MAIL FROM:<${secret}@example.test>`, '550'), auth('PLAIN', 'alice', secret, '5xx'), cmd('QUIT')],
    });
    const result = await runSession(plan, { secrets: [secret], timeouts: { greeting: 2000, command: 2000, mail: 2000 } });
    const everything = JSON.stringify(result);
    assert.ok(everything.includes('rejected'), 'the echoing replies are in the result');
    assert.doesNotMatch(everything, new RegExp(secret));
    assert.doesNotMatch(everything, new RegExp(Buffer.from(`\0alice\0${secret}`).toString('base64').slice(0, 16)));
  } finally {
    await server.close();
  }
});
