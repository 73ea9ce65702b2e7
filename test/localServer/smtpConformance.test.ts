// The capture server's SMTP front end against RFC 5321 where smtp-server alone differs: DATA
// transparency (§4.5.2), parameters of extensions that were not advertised (§4.1.1.11), commands out
// of sequence answered before any rule (§4.1.4), a 554 greeting that waits for QUIT (§3.1), and the
// idle timeout that does not run while the server delays its own reply (§4.5.3.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseCaptureRules, type CaptureRules, type CaptureServer, type FiredRuleEvent } from '../../client/src/localServer';
import { RawSmtp } from '../peers/rawSmtp';
import { nextMessage, withCaptureServer } from './support';

function rules(list: object[]): CaptureRules {
  const parsed = parseCaptureRules(JSON.stringify({ version: 1, rules: list }));
  assert.deepEqual(parsed.problems, []);
  return parsed.rules;
}

/** Connects, reads the greeting and says EHLO; returns the connection. */
async function greeted(host: string, port: number): Promise<RawSmtp> {
  const raw = await RawSmtp.connect(host, port);
  assert.equal((await raw.read()).code, 220);
  assert.equal((await raw.command('EHLO client.example.test')).code, 250);
  return raw;
}

/** Runs `fn` on a connection (greeted with EHLO unless `greet` is false), then closes it. */
async function session(server: CaptureServer, fn: (raw: RawSmtp) => Promise<void>, greet = true): Promise<void> {
  const raw = greet ? await greeted(server.host, server.port) : await RawSmtp.connect(server.host, server.port);
  try {
    await fn(raw);
  } finally {
    raw.destroy();
  }
}

/** Sends one message whose DATA bytes are given as they go on the wire, and returns what was stored. */
async function storedFrom(host: string, port: number, wire: string[], waitFor: Promise<{ path: string }>): Promise<string> {
  const raw = await greeted(host, port);
  try {
    assert.equal((await raw.command('MAIL FROM:<a@example.test>')).code, 250);
    assert.equal((await raw.command('RCPT TO:<b@example.test>')).code, 250);
    assert.equal((await raw.command('DATA')).code, 354);
    // Each piece is its own write, a moment apart, so the state between chunks is exercised too.
    for (const piece of wire) {
      raw.write(piece);
      await new Promise((done) => setTimeout(done, 20));
    }
    const reply = await raw.read();
    assert.equal(reply.code, 250, reply.raw);
    await raw.quit();
  } finally {
    raw.destroy();
  }
  return readFileSync((await waitFor).path, 'latin1');
}

test('DATA transparency (RFC 5321 §4.5.2): a leading period is deleted from every line with more on it; only CRLF ends a line', async () => {
  await withCaptureServer({ tls: false }, async (server) => {
    // One piece: `.x` loses its period as `..y` does; a bare LF is not a line end, so `\n..` keeps
    // both periods and `<LF>.<LF>` does not end the data.
    const whole = await storedFrom(
      server.host,
      server.port,
      ['.first\r\nSubject: dots\r\n\r\n.x\r\n..y\r\n...\r\nbare\n..lf\r\nz\n.\nstill\r\n.\rcr\r\nend\r\n.\r\n'],
      nextMessage(server),
    );
    assert.equal(whole, 'first\r\nSubject: dots\r\n\r\nx\r\n.y\r\n..\r\nbare\n..lf\r\nz\n.\nstill\r\n\rcr\r\nend\r\n');
    // The same bytes split at every awkward place: after a period, between a period and CR, between
    // CR and LF, and the end sequence in three parts.
    const split = await storedFrom(
      server.host,
      server.port,
      ['.', 'first\r', '\nSubject: dots\r\n\r\n.', 'x\r\n.', '.y\r\n.', '\r', 'cr\r\nend\r', '\n', '.', '\r', '\n'],
      nextMessage(server),
    );
    assert.equal(split, 'first\r\nSubject: dots\r\n\r\nx\r\n.y\r\n\rcr\r\nend\r\n');
    // A message that is only the end sequence is empty, and what follows it is read as commands.
    await session(server, async (raw) => {
      assert.equal((await raw.command('MAIL FROM:<a@example.test>')).code, 250);
      assert.equal((await raw.command('RCPT TO:<b@example.test>')).code, 250);
      assert.equal((await raw.command('DATA')).code, 354);
      const arrived = nextMessage(server);
      raw.write('.\r\nNOOP\r\n');
      assert.equal((await raw.read()).code, 250);
      assert.equal((await raw.read()).code, 250, 'NOOP after the end of the data');
      assert.equal(readFileSync((await arrived).path, 'latin1'), '');
      await raw.quit();
    });
  });
});

test('MAIL and RCPT parameters: 555 for those of extensions not advertised (RFC 5321 §4.1.1.11); the advertised ones are accepted', async () => {
  await withCaptureServer({ tls: false }, async (server) => {
    await session(server, async (raw) => {
      for (const parameters of ['FOO=bar', 'RET=HDRS', 'ENVID=abc', 'REQUIRETLS', 'SIZE=10 FOO']) {
        const reply = await raw.command(`MAIL FROM:<a@example.test> ${parameters}`);
        assert.equal(reply.code, 555, `${parameters}: ${reply.raw}`);
        assert.match(reply.raw, /^555 5\.5\.4 [A-Z]+ parameter not recognized/);
      }
      // A name that is not an esmtp-keyword is not echoed.
      const odd = await raw.command('MAIL FROM:<a@example.test> X\x1b[31m=1');
      assert.equal(odd.raw, '555 5.5.4 Parameter not recognized\r\n');
      // A path without angle brackets is a syntax error first (501), whatever its parameters.
      assert.equal((await raw.command('MAIL FROM:a@example.test FOO=bar')).code, 501);
      const all = await raw.command('MAIL FROM:<a@example.test> SIZE=10 BODY=8BITMIME SMTPUTF8 AUTH=<>');
      assert.equal(all.code, 250, all.raw);
      for (const parameters of ['NOTIFY=SUCCESS', 'ORCPT=rfc822;b@example.test', 'X=1']) {
        const reply = await raw.command(`RCPT TO:<b@example.test> ${parameters}`);
        assert.equal(reply.code, 555, `${parameters}: ${reply.raw}`);
      }
      assert.equal((await raw.command('RCPT TO:<b@example.test>')).code, 250);
      assert.equal((await raw.command('RSET')).code, 250);
      // After HELO no extension is in force, so no parameter is either.
      assert.equal((await raw.command('HELO client.example.test')).code, 250);
      assert.equal((await raw.command('MAIL FROM:<a@example.test> BODY=8BITMIME')).code, 555);
      assert.equal((await raw.command('MAIL FROM:<a@example.test>')).code, 250);
      await raw.quit();
    });
  });
  // Without a size limit SIZE is not advertised; with DSN advertised by a rule, its parameters pass.
  await withCaptureServer({ tls: false, sizeLimit: 0, rules: rules([{ name: 'dsn', extensions: { advertise: ['DSN'] } }]) }, async (server) => {
    await session(server, async (raw) => {
      assert.equal((await raw.command('MAIL FROM:<a@example.test> SIZE=10')).code, 555);
      assert.equal((await raw.command('MAIL FROM:<a@example.test> RET=HDRS ENVID=abc')).code, 250);
      assert.equal((await raw.command('RCPT TO:<b@example.test> NOTIFY=SUCCESS')).code, 250);
      await raw.quit();
    });
  });
});

test('commands out of sequence get 503 before any rule answers or greylists (RFC 5321 §4.1.4)', async () => {
  const fired: FiredRuleEvent[] = [];
  await withCaptureServer(
    {
      tls: false,
      rules: rules([
        { name: 'no eve', when: { command: 'MAIL', sender: 'eve@*' }, reply: '550 5.7.1 Not you' },
        { name: 'no such user', when: { command: 'RCPT', recipient: 'nobody@*' }, reply: '550 5.1.1 No such user' },
        { name: 'no data', when: { command: 'DATA' }, reply: '554 5.6.0 No data today' },
        { name: 'grey', when: { command: 'RCPT' }, greylist: { retryAfter: 300 } },
      ]),
    },
    async (server) => {
      server.onRule((event) => fired.push(event));
      await session(server, async (raw) => {
        assert.equal((await raw.read()).code, 220);
        assert.equal((await raw.command('RCPT TO:<nobody@example.test>')).code, 503, 'before EHLO');
        assert.equal((await raw.command('MAIL FROM:<a@example.test>')).code, 503, 'before EHLO');
        assert.equal((await raw.command('EHLO client.example.test')).code, 250);
        assert.equal((await raw.command('MAIL FROM:<a@example.test>')).code, 250);
        assert.equal((await raw.command('MAIL FROM:<a@example.test>')).code, 503, 'nested MAIL');
        assert.equal((await raw.command('RSET')).code, 250);
        assert.equal((await raw.command('DATA')).code, 503, 'DATA after RSET');
        assert.equal(fired.length, 0, JSON.stringify(fired));
        // A pipelined group whose MAIL is refused: RCPT and DATA are out of sequence.
        raw.write('MAIL FROM:<eve@example.test>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n');
        assert.equal((await raw.read()).code, 550);
        assert.equal((await raw.read()).code, 503);
        assert.equal((await raw.read()).code, 503);
        assert.equal((await raw.read()).code, 503);
        assert.deepEqual(fired.map((e) => e.rule.name), ['no eve'], 'no recipient rule and no greylisting answered');
        // The greylist has no entry for b@: the first real attempt is greylisted afresh.
        assert.equal((await raw.command('MAIL FROM:<a@example.test>')).code, 250);
        const grey = await raw.command('RCPT TO:<b@example.test>');
        assert.equal(grey.code, 451, grey.raw);
        assert.match(grey.raw, /try again in 300 seconds/);
        await raw.quit();
      }, false);
    },
  );
});

test('a CONNECT rule replying 554 keeps the connection until QUIT, answering 503 (RFC 5321 §3.1); 421 closes it', async () => {
  await withCaptureServer({ tls: false, rules: rules([{ name: 'closed shop', when: { command: 'CONNECT' }, reply: '554 5.3.2 Not accepting mail' }]) }, async (server) => {
    await session(server, async (raw) => {
      const greeting = await raw.read();
      assert.equal(greeting.code, 554, greeting.raw);
      assert.equal((await raw.command('EHLO client.example.test')).code, 503);
      assert.equal((await raw.command('MAIL FROM:<a@example.test>')).code, 503);
      assert.equal((await raw.command('NOOP')).code, 503);
      assert.equal((await raw.command('QUIT')).code, 221);
      await assert.rejects(raw.read(), /connection closed/);
    }, false);
  });
  await withCaptureServer({ tls: false, rules: rules([{ name: 'busy', when: { command: 'CONNECT' }, reply: '421 4.3.2 Busy' }]) }, async (server) => {
    await session(server, async (raw) => {
      assert.equal((await raw.read()).code, 421);
      await assert.rejects(raw.read(), /connection closed/);
    }, false);
  });
});

test("the server's own delay does not count against the client's idle timeout (RFC 5321 §4.5.3.2)", async () => {
  await withCaptureServer(
    {
      tls: false,
      idleTimeoutMs: 300,
      rules: rules([
        { name: 'slow greeting', when: { command: 'CONNECT' }, delay: 0.9 },
        { name: 'slow mail', when: { command: 'MAIL' }, delay: 0.9 },
      ]),
    },
    async (server) => {
      await session(server, async (raw) => {
        assert.equal((await raw.read()).code, 220);
        assert.equal((await raw.command('EHLO client.example.test')).code, 250);
        const mail = await raw.command('MAIL FROM:<a@example.test>');
        assert.equal(mail.code, 250, mail.raw);
        await raw.quit();
      }, false);
    },
  );
});

test('a quoted local part with a space is a valid path (RFC 5321 §4.1.2); SMTPUTF8 is named UTF8SMTP (RFC 6531 §3.7.3)', async () => {
  await withCaptureServer({ tls: false }, async (server) => {
    await session(server, async (raw) => {
      const arrived = nextMessage(server);
      const mail = await raw.command('MAIL FROM:<"john smith"@example.test> SMTPUTF8');
      assert.equal(mail.code, 250, mail.raw);
      assert.equal((await raw.command('RCPT TO:<"a\\"b c"@example.test>')).code, 250);
      assert.equal((await raw.command('DATA')).code, 354);
      raw.write('Subject: quoted\r\n\r\nx\r\n.\r\n');
      assert.equal((await raw.read()).code, 250);
      const message = await arrived;
      assert.equal(message.envelope?.mailFrom, '"john smith"@example.test');
      assert.deepEqual(message.envelope?.rcptTo, ['"a\\"b c"@example.test']);
      assert.equal(message.envelope?.transmissionType, 'UTF8SMTP');
      await raw.quit();
    });
  });
});

test('the rules stored with a message keep those that fired before a refused nested MAIL', async () => {
  await withCaptureServer({ tls: false, rules: rules([{ name: 'slow rcpt', when: { command: 'RCPT' }, delay: 0.01 }]) }, async (server) => {
    await session(server, async (raw) => {
      const arrived = nextMessage(server);
      assert.equal((await raw.command('MAIL FROM:<a@example.test>')).code, 250);
      assert.equal((await raw.command('RCPT TO:<b@example.test>')).code, 250);
      assert.equal((await raw.command('MAIL FROM:<a@example.test>')).code, 503);
      assert.equal((await raw.command('DATA')).code, 354);
      raw.write('Subject: nested\r\n\r\nx\r\n.\r\n');
      assert.equal((await raw.read()).code, 250);
      assert.deepEqual((await arrived).rules?.map((r) => r.name), ['slow rcpt']);
      await raw.quit();
    });
  });
});

test('commands not offered get 502 whether a rule hides them or the server has them off; a BDAT chunk is read either way', async () => {
  await withCaptureServer({ tls: false, auth: 'none', chunking: false }, async (server) => {
    await session(server, async (raw) => {
      assert.equal((await raw.command('STARTTLS')).code, 502);
      assert.equal((await raw.command('AUTH PLAIN AGFAYg==')).code, 502);
      assert.equal((await raw.command('MAIL FROM:<a@example.test>')).code, 250);
      assert.equal((await raw.command('RCPT TO:<b@example.test>')).code, 250);
      // The six octets of the chunk are `NOOP\r\n`: read as data, not run as a command.
      raw.write('BDAT 6 LAST\r\nNOOP\r\nRSET\r\n');
      const bdat = await raw.read();
      assert.equal(bdat.code, 502, bdat.raw);
      assert.match(bdat.raw, /^502 5\.5\.1 BDAT is not offered here/);
      const rset = await raw.read();
      assert.match(rset.raw, /^250 /);
      assert.equal((await raw.command('NOOP')).code, 250);
      await raw.quit();
    });
    assert.equal((await server.list()).length, 0);
  });
  await withCaptureServer({ tls: false, rules: rules([{ name: 'lean', extensions: { hide: ['STARTTLS', 'CHUNKING'] } }]) }, async (server) => {
    await session(server, async (raw) => {
      assert.equal((await raw.command('MAIL FROM:<a@example.test>')).code, 250);
      assert.equal((await raw.command('RCPT TO:<b@example.test>')).code, 250);
      raw.write('BDAT 6 LAST\r\nNOOP\r\nRSET\r\n');
      assert.equal((await raw.read()).code, 502);
      assert.match((await raw.read()).raw, /^250 /);
      await raw.quit();
    });
  });
});

test('a BDAT line without a valid size gets 501, then 421 before the connection closes (RFC 5321 §3.8)', async () => {
  await withCaptureServer({ tls: false }, async (server) => {
    await session(server, async (raw) => {
      assert.equal((await raw.command('BDAT many')).code, 501);
      const closing = await raw.read();
      assert.equal(closing.code, 421, closing.raw);
      await assert.rejects(raw.read(), /connection closed/);
    });
  });
});
