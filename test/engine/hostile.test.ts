// Hostile and broken servers: every behaviour must end the session with a clear error of the right
// kind, within its timeout, with the transcript kept, and never crash or hang the engine.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type * as tls from 'node:tls';
import { expiredCert, selfSignedCert, serverCert, testCa, wrongNameCert } from '../peers/certs';
import { runSession, type FailureKind, type SessionResult } from '../../client/src/engine';
import type { PlanStep, Timeouts } from '../../common/sessionPlan';
import { cmd, data, explain, makePlan, starttls, type PlanSpec } from './plan';
import { politeSmtp, rawServer, type LineConnection, type RawServer } from './rawServer';

const SHORT: Partial<Timeouts> = {
  connect: 1000,
  greeting: 400,
  command: 400,
  mail: 400,
  rcpt: 400,
  dataInit: 400,
  dataBlock: 400,
  dataTermination: 400,
  tls: 600,
};

const servers: RawServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function serve(handler: (c: LineConnection) => void | Promise<void>, secure?: tls.TlsOptions): Promise<RawServer> {
  const s = await rawServer(handler, secure);
  servers.push(s);
  return s;
}

const basic = [cmd('EHLO client.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), data(['Subject: x', '', 'body']), cmd('QUIT')];

async function expectFailure(
  server: RawServer,
  kind: FailureKind,
  pattern: RegExp,
  spec: Partial<PlanSpec> = {},
  budgetMs = 1500,
  signal?: AbortSignal,
): Promise<SessionResult> {
  const started = Date.now();
  const r = await runSession(makePlan({ connect: `smtp://127.0.0.1:${server.port}`, steps: basic, ...spec }), { timeouts: SHORT, signal });
  const took = Date.now() - started;
  const shown = `${r.failure?.kind}: ${r.failure?.message}\n${r.transcript.map((e) => `${e.t.toFixed(0)} ${e.dir} ${e.text.slice(0, 200)}`).join('\n')}`;
  assert.equal(r.ok, false, shown);
  assert.equal(r.failure?.kind, kind, shown);
  assert.match(r.failure?.message ?? '', pattern, shown);
  // The budget only proves that the short timeout applied instead of the RFC 5321 default (minutes);
  // it is not a speed test, so it leaves room for a loaded machine.
  assert.ok(took < budgetMs * 4, `took ${took} ms: ${shown}`);
  assert.ok(r.transcript.length > 0, 'the transcript is kept');
  assert.ok(r.transcript.some((e) => e.dir === 'error'), `an error event is in the transcript: ${shown}`);
  return r;
}

test('1. a 554 greeting refuses the session; QUIT is sent', async () => {
  const s = await serve(async (c) => {
    c.send('554 5.3.2 go away\r\n');
    const l = await c.nextLine();
    if (l === 'QUIT') c.send('221 bye\r\n');
  });
  const r = await expectFailure(s, 'connection', /refused the session in its greeting: 554 5\.3\.2 go away/);
  assert.ok(r.transcript.some((e) => e.dir === 'client' && e.text === 'QUIT'));
});

test('2. 421 in the middle of the session', async () => {
  const s = await serve(async (c) => {
    c.send('220 hi\r\n');
    await c.nextLine();
    c.send('250 hi\r\n');
    await c.nextLine();
    c.send('421 4.3.2 shutting down\r\n');
    c.socket.end();
  });
  const r = await expectFailure(s, 'expectation', /421 4\.3\.2 shutting down/);
  assert.equal(r.steps[1].reply?.enhanced, '4.3.2');
});

test('3. the server closes the connection during DATA', async () => {
  const s = await serve(async (c) => {
    c.send('220 hi\r\n');
    for (;;) {
      const l = await c.nextLine();
      if (l === 'DATA') {
        c.send('354 go\r\n');
        await c.nextLine();
        c.socket.destroy();
        return;
      }
      c.send('250 ok\r\n');
    }
  });
  await expectFailure(s, 'connection', /closed the connection|ECONNRESET|EPIPE/);
});

test('4. a 1 MB reply line without CRLF', async () => {
  const s = await serve((c) => {
    c.send('220 ' + 'x'.repeat(1024 * 1024));
  });
  await expectFailure(s, 'protocol', /more than 65536 octets without ending the line/);
});

test('5. a garbage reply code', async () => {
  const s = await serve((c) => c.send('hello there\r\n'));
  await expectFailure(s, 'protocol', /not an SMTP reply line.*hello there/);
});

test('6. a code out of range (600)', async () => {
  const s = await serve((c) => c.send('600 weird\r\n'));
  await expectFailure(s, 'protocol', /not an SMTP reply line/);
});

test('7. never answering the end of DATA', async () => {
  const s = await serve(async (c) => {
    c.send('220 hi\r\n');
    for (;;) {
      const l = await c.nextLine();
      if (l === 'DATA') {
        c.send('354 go\r\n');
        return;
      }
      c.send('250 ok\r\n');
    }
  });
  await expectFailure(s, 'timeout', /no reply to the end of data within 400 ms/);
});

test('8. a slow-drip greeting that never completes in time', async () => {
  const s = await serve((c) => {
    const text = '220 slowly dripping greeting\r\n';
    let i = 0;
    const timer = setInterval(() => {
      if (i >= text.length || c.socket.destroyed) return clearInterval(timer);
      c.send(text[i++]);
    }, 50);
    c.socket.on('close', () => clearInterval(timer));
  });
  await expectFailure(s, 'timeout', /no greeting within 400 ms; a partial line arrived without CRLF \("220 s/);
});

test('9. STARTTLS answered 220, then plain text', async () => {
  const s = await serve(async (c) => {
    c.send('220 hi\r\n');
    await c.nextLine();
    c.send('250-hi\r\n250 STARTTLS\r\n');
    await c.nextLine();
    c.send('220 go ahead\r\n');
    setTimeout(() => c.send('this is not TLS at all\r\n'), 20);
  });
  await expectFailure(s, 'tls', /TLS handshake failed/, { tls: { verify: false }, steps: [cmd('EHLO c.example.test'), starttls(), cmd('EHLO c.example.test')] });
});

test('10. STARTTLS answered 220 with an injected reply in the same packet', async () => {
  const s = await serve(async (c) => {
    c.send('220 hi\r\n');
    await c.nextLine();
    c.send('250-hi\r\n250 STARTTLS\r\n');
    await c.nextLine();
    c.send('220 go ahead\r\n250 injected before TLS\r\n');
  });
  await expectFailure(s, 'protocol', /after its 220 reply to STARTTLS, before TLS started/, {
    tls: { verify: false },
    steps: [cmd('EHLO c.example.test'), starttls(), cmd('EHLO c.example.test')],
  });
});

test('11. an expired certificate', async () => {
  const cert = await expiredCert();
  const ca = await testCa();
  const s = await serve((c) => void politeSmtp(c), { cert: cert.certPem, key: cert.keyPem });
  const r = await expectFailure(s, 'tls', /expired on .*CERT_HAS_EXPIRED/, {
    connect: `smtps://127.0.0.1:${s.port}`,
    tls: { ca: ca.caPath, sni: 'mail.example.test' },
  });
  assert.equal(r.tls?.verified, false);
  assert.equal(r.tls?.verifyError, 'CERT_HAS_EXPIRED');
  assert.ok(r.tls?.validTo);
});

test('12. a certificate for the wrong name', async () => {
  const cert = await wrongNameCert();
  const ca = await testCa();
  const s = await serve((c) => void politeSmtp(c), { cert: cert.certPem, key: cert.keyPem });
  const r = await expectFailure(s, 'tls', /not for this name.*ERR_TLS_CERT_ALTNAME_INVALID/, {
    connect: `smtps://127.0.0.1:${s.port}`,
    tls: { ca: ca.caPath, sni: 'mail.example.test' },
  });
  assert.equal(r.tls?.verifyError, 'ERR_TLS_CERT_ALTNAME_INVALID');
});

test('13. a self-signed certificate fails verification, and passes with verify=off', async () => {
  const cert = await selfSignedCert();
  const s = await serve((c) => void politeSmtp(c), { cert: cert.certPem, key: cert.keyPem });
  await expectFailure(s, 'tls', /self-signed/, { connect: `smtps://127.0.0.1:${s.port}`, tls: { sni: 'mail.example.test' } });
  const r = await runSession(makePlan({ connect: `smtps://127.0.0.1:${s.port}`, tls: { verify: false }, steps: basic }), { timeouts: SHORT });
  assert.ok(r.ok, r.failure?.message);
  assert.equal(r.tls?.verifyDisabled, true);
  assert.ok(r.transcript.some((e) => e.dir === 'tls' && /NOT verified/.test(e.text)));
});

test('14. the final line of a multi-line reply never comes', async () => {
  const s = await serve(async (c) => {
    c.send('220 hi\r\n');
    await c.nextLine();
    c.send('250-first\r\n250-second\r\n');
  });
  await expectFailure(s, 'timeout', /no reply to EHLO within 400 ms; the multi-line reply never ended \(last line "250-second"\)/);
});

test('15. the server closes in the middle of a multi-line reply', async () => {
  const s = await serve(async (c) => {
    c.send('220 hi\r\n');
    await c.nextLine();
    c.send('250-first\r\n250-second\r\n');
    c.socket.end();
  });
  await expectFailure(s, 'protocol', /closed the connection in the middle of a multi-line reply/);
});

test('16. inconsistent codes in a multi-line reply', async () => {
  const s = await serve(async (c) => {
    c.send('220 hi\r\n');
    await c.nextLine();
    c.send('250-first\r\n251 second\r\n');
  });
  await expectFailure(s, 'protocol', /inconsistent codes in a multi-line reply: 250 then 251/);
});

test('17. a reply to nothing', async () => {
  const s = await serve(async (c) => {
    c.send('220 hi\r\n250 surprise\r\n');
    for (;;) {
      await c.nextLine();
      c.send('250 ok\r\n');
    }
  });
  await expectFailure(s, 'protocol', /reply that answers no command \(250 surprise\)/);
});

test('18. the server accepts but never greets', async () => {
  const s = await serve(() => undefined);
  await expectFailure(s, 'timeout', /no greeting within 400 ms/);
});

test('19. the server closes at once without a greeting', async () => {
  const s = await serve((c) => {
    c.socket.end();
  });
  await expectFailure(s, 'connection', /closed the connection/);
});

test('20. a connection reset in the middle of a reply', async () => {
  const s = await serve(async (c) => {
    c.send('220 hi\r\n');
    await c.nextLine();
    c.send('250-partial');
    setTimeout(() => c.socket.resetAndDestroy(), 20);
  });
  await expectFailure(s, 'connection', /ECONNRESET/);
});

test('21. nothing listens on the port', async () => {
  const s = await serve(() => undefined);
  const port = s.port;
  await s.close();
  await expectFailure({ ...s, port }, 'connection', /could not connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
});

test('22. an endless multi-line reply', async () => {
  const s = await serve(async (c) => {
    c.send('220 hi\r\n');
    await c.nextLine();
    const lines = '250-again and again\r\n'.repeat(20_000);
    c.send(lines);
  });
  await expectFailure(s, 'protocol', /multi-line reply of more than 10000 lines/);
});

test('23. the server stops reading during DATA', async () => {
  const s = await serve(async (c) => {
    c.send('220 hi\r\n');
    for (;;) {
      const l = await c.nextLine();
      if (l === 'DATA') {
        c.send('354 go\r\n');
        c.socket.pause();
        return;
      }
      c.send('250 ok\r\n');
    }
  });
  const big = Array.from({ length: 40_000 }, (_, i) => `line ${i} ${'y'.repeat(900)}`);
  await expectFailure(s, 'timeout', /could not send a block of the message data within 400 ms/, {
    steps: [cmd('EHLO c'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), data(big), cmd('QUIT')],
  }, 3000);
});

test('24. STARTTLS answered 220, then silence (the handshake never completes)', async () => {
  const s = await serve(async (c) => {
    c.send('220 hi\r\n');
    await c.nextLine();
    c.send('250-hi\r\n250 STARTTLS\r\n');
    await c.nextLine();
    c.send('220 go ahead\r\n');
  });
  await expectFailure(s, 'timeout', /TLS handshake did not finish within 600 ms/, { tls: { verify: false }, steps: [cmd('EHLO c'), starttls(), cmd('EHLO c')] });
});

test('25. binary garbage with NUL bytes', async () => {
  const s = await serve((c) => {
    c.socket.write(Buffer.from([0x32, 0x00, 0xff, 0xfe, 0x0d, 0x0a]));
  });
  await expectFailure(s, 'protocol', /not an SMTP reply line/);
});

test('26. cancellation before the greeting closes the connection at once (test/engine/cancel.test.ts has the polite cases)', async () => {
  const s = await serve(() => undefined);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  const started = Date.now();
  const r = await runSession(makePlan({ connect: `smtp://127.0.0.1:${s.port}`, steps: basic }), { signal: ac.signal });
  assert.equal(r.failure?.kind, 'cancelled');
  assert.ok(Date.now() - started < 500);
});

test('27. a 5xx to DATA with no EXPECT stops the session before the body is sent', async () => {
  const s = await serve(async (c) => {
    c.send('220 hi\r\n');
    for (;;) {
      const l = await c.nextLine();
      if (l === 'DATA') c.send('554 5.5.1 no valid recipients\r\n');
      else if (l === 'QUIT') {
        c.send('221 bye\r\n');
        return;
      } else c.send('250 ok\r\n');
    }
  });
  await expectFailure(s, 'expectation', /554 5\.5\.1 no valid recipients/);
  assert.ok(!s.received().toString().includes('body'));
});

test('28. a STARTTLS server certificate that verifies against the given CA (control case)', async () => {
  const cert = await serverCert();
  const ca = await testCa();
  const s = await serve((c) => void politeSmtp(c), { cert: cert.certPem, key: cert.keyPem });
  const r = await runSession(makePlan({ connect: `smtps://127.0.0.1:${s.port}`, tls: { ca: ca.caPath, sni: 'mail.example.test', minVersion: 'TLSv1.2' }, steps: basic }), { timeouts: SHORT });
  assert.ok(r.ok, r.failure?.message);
  assert.equal(r.tls?.verified, true);
});

/** A pipelined transaction whose second recipient is refused (no EXPECT allows the 550), with a body, then `tail`. */
function failedPipelined(tail: PlanStep[]): { steps: PlanStep[]; refused: PlanStep } {
  const refused = cmd('RCPT TO:<reject@example.test>');
  return {
    steps: [cmd('EHLO client.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), refused, data(['Subject: x', '', 'BODY-MARKER']), ...tail],
    refused,
  };
}

test('29. a failed pipelined transaction that the server still opens with 354 is not ended with a dot while a recipient was accepted', async () => {
  // The server accepts b@, refuses reject@, answers DATA with 354 anyway, and would take a lone "." as an empty message for b@.
  const s = await serve((c) => politeSmtp(c, ['PIPELINING'], 'raw.example.test', (line) => (/^RCPT TO:<reject@/i.test(line) ? '550 5.1.1 no such user' : undefined)));
  const { steps, refused } = failedPipelined([cmd('QUIT')]);
  const r = await runSession(makePlan({ connect: `smtp://127.0.0.1:${s.port}`, options: { pipelining: true }, steps }), { timeouts: SHORT });
  const shown = explain(r);
  assert.equal(r.ok, false, shown);
  assert.equal(r.failure?.kind, 'expectation', shown);
  assert.equal(r.failure?.line, refused.line, shown);
  assert.match(r.failure?.message ?? '', /550 5\.1\.1 no such user/, shown);
  // RFC 5321 §4.1.1.4: without the end-of-data indication the transaction is not completed.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const received = s.received().toString('latin1');
  assert.ok(received.endsWith('DATA\r\n'), `nothing is sent after DATA: ${JSON.stringify(received)}`);
  assert.ok(!r.transcript.some((e) => e.dir === 'server' && e.text.includes('queued')), shown);
  assert.ok(!r.transcript.some((e) => e.dir === 'client' && (e.text === '.' || e.text === 'QUIT')), shown);
  const notes = r.transcript.filter((e) => e.dir === 'info' && /without the end-of-data dot/.test(e.text));
  assert.equal(notes.length, 1, shown);
  assert.match(notes[0].text, /1 accepted recipient;.*nothing is delivered/, shown);
});

test('30. a failed pipelined transaction with no accepted recipient that the server opens with 354 ends with a lone dot, shown in the transcript', async () => {
  const s = await serve((c) => politeSmtp(c, ['PIPELINING'], 'raw.example.test', (line) => (/^RCPT /i.test(line) ? '550 5.1.1 no such user' : undefined)));
  const { steps } = failedPipelined([cmd('QUIT')]);
  const r = await runSession(makePlan({ connect: `smtp://127.0.0.1:${s.port}`, options: { pipelining: true }, steps }), { timeouts: SHORT });
  const shown = explain(r);
  assert.equal(r.ok, false, shown);
  assert.equal(r.failure?.kind, 'expectation', shown);
  // Every line the engine sends is in the transcript: the dot, then the reply it got, then the polite QUIT.
  const sent = r.transcript.filter((e) => e.dir === 'client').map((e) => e.text);
  assert.deepEqual(sent.slice(-2), ['.', 'QUIT'], shown);
  const dot = r.transcript.findIndex((e) => e.dir === 'client' && e.text === '.');
  assert.match(r.transcript[dot + 1]?.text ?? '', /^250 2\.0\.0 queued/, shown);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(!s.received().toString('latin1').includes('BODY-MARKER'), 'no body was sent');
});

/**
 * A server that answers the end of data with 250 and then sends `extra`: at once, in the same write,
 * or (`late`) only when the QUIT arrives, just before its 221, as a reply that was still on its way
 * when the client sent QUIT.
 */
function extraAfterData(extra: string, late = false): (c: LineConnection) => Promise<void> {
  return async (c) => {
    c.send('220 hi\r\n');
    for (;;) {
      const line = await c.nextLine();
      if (line === 'DATA') {
        c.send('354 go ahead\r\n');
        while ((await c.nextLine()) !== '.') {
          // The message text.
        }
        c.send(late ? '250 ok\r\n' : `250 ok\r\n${extra}`);
      } else if (line === 'QUIT') {
        c.send(`${late ? extra : ''}221 bye\r\n`);
        c.socket.end();
        return;
      } else c.send('250 ok\r\n');
    }
  };
}

for (const quit of [true, false]) {
  test(`31. an extra reply after the end of data fails the session ${quit ? 'before the script\'s QUIT' : 'when the script ends without QUIT'}`, async () => {
    const s = await serve(extraAfterData('452 full\r\n'));
    const steps = [...basic.slice(0, 4), ...(quit ? [cmd('QUIT')] : [])];
    const r = await runSession(makePlan({ connect: `smtp://127.0.0.1:${s.port}`, steps }), { timeouts: SHORT });
    const shown = explain(r);
    assert.equal(r.ok, false, shown);
    assert.equal(r.failure?.kind, 'protocol', shown);
    assert.match(r.failure?.message ?? '', /reply that answers no command \(452 full\)/, shown);
    assert.ok(r.transcript.some((e) => e.dir === 'error' && /answers no command/.test(e.text)), shown);
  });
}

test('31. an extra reply that comes after the engine\'s own QUIT was sent, before its 221, fails the session too', async () => {
  const s = await serve(extraAfterData('452 full\r\n', true));
  const r = await runSession(makePlan({ connect: `smtp://127.0.0.1:${s.port}`, steps: basic.slice(0, 4) }), { timeouts: SHORT });
  const shown = explain(r);
  assert.equal(r.ok, false, shown);
  assert.equal(r.failure?.kind, 'protocol', shown);
  assert.match(r.failure?.message ?? '', /reply that answers no command \(452 full\).*before the 221/, shown);
  // The same server with the script's own QUIT: the 452 is read as QUIT's reply, which needs 2xx.
  const own = await runSession(makePlan({ connect: `smtp://127.0.0.1:${s.port}`, steps: basic }), { timeouts: SHORT });
  assert.equal(own.ok, false, explain(own));
});

test('32. a script without QUIT still passes when the server answers the engine\'s QUIT with 221 alone (control case)', async () => {
  const s = await serve(extraAfterData(''));
  const r = await runSession(makePlan({ connect: `smtp://127.0.0.1:${s.port}`, steps: basic.slice(0, 4) }), { timeouts: SHORT });
  assert.ok(r.ok, explain(r));
  assert.ok(r.transcript.some((e) => e.dir === 'client' && e.text === 'QUIT'), explain(r));
});
