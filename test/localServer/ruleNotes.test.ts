// Which behaviour rule answered, in the transcript of a run (RunOptions.serverNotes, fed by
// localServer/ruleNotes.ts): the notes of the engine's own connection, each once, right after the
// reply the rule caused; a rule that closes without a reply is noted before the failure; notes of
// connections nobody asks about are bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSession } from '../../client/src/engine/session';
import type { TranscriptEvent } from '../../client/src/engine/types';
import { parseCaptureRules, ruleNotes, type CaptureRules, type FiredRuleEvent } from '../../client/src/localServer';
import { cmd, data, makePlan, why, withCaptureServer } from './support';

function rules(list: object[]): CaptureRules {
  const parsed = parseCaptureRules(JSON.stringify({ version: 1, rules: list }));
  assert.deepEqual(parsed.problems, []);
  return parsed.rules;
}

const fired = (port: number, name: string, address = '127.0.0.1'): FiredRuleEvent => ({
  remoteAddress: address,
  remotePort: port,
  rule: { rule: 0, name, command: 'RCPT', action: 'reply', reply: '550 5.1.1 no', at: '2026-12-06T12:00:00.000Z' },
});

test('ruleNotes: each note is taken once by its own connection; an IPv4-mapped address is the same client; old, overfull and other servers\' connections get nothing', () => {
  let listener: ((event: FiredRuleEvent) => void) | undefined;
  let disposed = false;
  let now = 0;
  const source = {
    port: 2525,
    onRule(l: (event: FiredRuleEvent) => void) {
      listener = l;
      return { dispose: () => (disposed = true) };
    },
  };
  const notes = ruleNotes(source, 2, () => now);
  listener!(fired(1000, 'a'));
  listener!(fired(1000, 'b', '::ffff:127.0.0.1'));
  listener!(fired(2000, 'c'));
  assert.deepEqual(notes.notes({ address: '127.0.0.1', port: 2000 }), ['capture server: rule "c" (reply) at RCPT: 550 5.1.1 no']);
  assert.deepEqual(notes.notes({ address: '127.0.0.1', port: 1000 }), ['capture server: rule "a" (reply) at RCPT: 550 5.1.1 no', 'capture server: rule "b" (reply) at RCPT: 550 5.1.1 no']);
  assert.deepEqual(notes.notes({ address: '127.0.0.1', port: 1000 }), [], 'taken once');
  // Three connections nobody asked about: the oldest is dropped.
  listener!(fired(1, 'x'));
  listener!(fired(2, 'y'));
  listener!(fired(3, 'z'));
  assert.deepEqual(notes.notes({ address: '127.0.0.1', port: 1 }), []);
  assert.equal(notes.notes({ address: '127.0.0.1', port: 3 }).length, 1);
  // A connection to another server never gets this server's notes.
  listener!(fired(4, 'w'));
  assert.deepEqual(notes.notes({ address: '127.0.0.1', port: 4, serverPort: 25 }), []);
  assert.equal(notes.notes({ address: '127.0.0.1', port: 4, serverPort: 2525 }).length, 1);
  // One connection keeps 64 notes at most; notes nobody took for a minute are dropped.
  for (let i = 0; i < 100; i++) listener!(fired(5, `n${i}`));
  assert.equal(notes.notes({ address: '127.0.0.1', port: 5 }).length, 64);
  listener!(fired(6, 'old'));
  now += 61_000;
  listener!(fired(7, 'new'));
  assert.deepEqual(notes.notes({ address: '127.0.0.1', port: 6 }), []);
  assert.equal(notes.notes({ address: '127.0.0.1', port: 7 }).length, 1);
  notes.dispose();
  assert.equal(disposed, true);
});

test('the transcript says which rule answered, right after its reply; CONNECT, RCPT and a close without a reply', async () => {
  await withCaptureServer(
    {
      tls: false,
      rules: rules([
        { name: 'busy at first', when: { command: 'CONNECT', attempt: 1 }, reply: '421 4.3.2 Busy, come back' },
        { name: 'no such user', when: { command: 'RCPT', recipient: 'nobody@*' }, reply: '550 5.1.1 No such user <b>' },
        { name: 'drop at DATA', when: { command: 'DATA', sender: 'drop@*' }, close: true },
      ]),
    },
    async (server) => {
      const notes = ruleNotes(server);
      try {
        const run = async (steps: ReturnType<typeof cmd>[] | Parameters<typeof makePlan>[0]['steps']): Promise<{ ok: boolean; events: TranscriptEvent[]; why: string }> => {
          const events: TranscriptEvent[] = [];
          const result = await runSession(makePlan({ steps }), { localTarget: { host: server.host, port: server.port }, serverNotes: notes.notes, onEvent: (e) => events.push(e) });
          return { ok: result.ok, events, why: why(result) };
        };
        const line = (events: TranscriptEvent[], dir: string, pattern: RegExp): number => events.findIndex((e) => e.dir === dir && pattern.test(e.text));

        // The first connection is refused at CONNECT: the note follows the 421 greeting.
        const first = await run([cmd('EHLO client.example.test'), cmd('QUIT')]);
        assert.equal(first.ok, false);
        const greeting = line(first.events, 'server', /^421 4\.3\.2 Busy/);
        assert.ok(greeting >= 0, JSON.stringify(first.events));
        assert.equal(first.events[greeting + 1]?.dir, 'info');
        assert.equal(first.events[greeting + 1]?.text, 'capture server: rule "busy at first" (reply) at CONNECT: 421 4.3.2 Busy, come back');

        // RCPT refused by a rule: the note is the event after the 550, once, and only there.
        const second = await run([cmd('EHLO client.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<nobody@example.test>', '550'), cmd('RCPT TO:<bob@example.test>'), data(['Subject: x', '', 'x']), cmd('QUIT')]);
        assert.equal(second.ok, true, second.why);
        const refused = line(second.events, 'server', /^550 5\.1\.1 No such user/);
        assert.equal(second.events[refused + 1]?.text, 'capture server: rule "no such user" (reply) at RCPT: 550 5.1.1 No such user <b>');
        assert.equal(second.events.filter((e) => e.text.startsWith('capture server:')).length, 1, 'no note where no rule fired');

        // A rule that closes the connection at DATA sends no reply: its note comes before the failure.
        const third = await run([cmd('EHLO client.example.test'), cmd('MAIL FROM:<drop@example.test>'), cmd('RCPT TO:<bob@example.test>'), data(['Subject: x', '', 'x']), cmd('QUIT')]);
        assert.equal(third.ok, false);
        const note = line(third.events, 'info', /^capture server: rule "drop at DATA" \(close\) at DATA$/);
        const error = third.events.findIndex((e) => e.dir === 'error');
        assert.ok(note >= 0 && error > note, JSON.stringify(third.events));
      } finally {
        notes.dispose();
      }
    },
  );
});

test('pipelined (RFC 2920): the server decides the group before the client reads a reply, so the group\'s notes follow its replies, never an earlier one', async () => {
  await withCaptureServer({ tls: false, rules: rules([{ name: 'no such user', when: { command: 'RCPT', recipient: 'nobody@*' }, reply: '550 5.1.1 No such user' }]) }, async (server) => {
    const notes = ruleNotes(server);
    try {
      const events: TranscriptEvent[] = [];
      const plan = makePlan({
        options: { pipelining: true },
        steps: [cmd('EHLO client.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<nobody@example.test>', '550'), cmd('RCPT TO:<bob@example.test>'), data(['Subject: x', '', 'x']), cmd('QUIT')],
      });
      const result = await runSession(plan, { localTarget: { host: server.host, port: server.port }, serverNotes: notes.notes, onEvent: (e) => events.push(e) });
      assert.equal(result.ok, true, why(result));
      assert.ok(events.some((e) => e.dir === 'info' && /pipelining \d+ commands/.test(e.text)), 'the commands went as one group');
      const note = events.findIndex((e) => e.text === 'capture server: rule "no such user" (reply) at RCPT: 550 5.1.1 No such user');
      const refused = events.findIndex((e) => e.dir === 'server' && e.text.startsWith('550 5.1.1'));
      const goAhead = events.findIndex((e) => e.dir === 'server' && e.text.startsWith('354'));
      assert.ok(refused >= 0 && goAhead > refused && note > goAhead, JSON.stringify(events.map((e) => `${e.dir} ${e.text}`)));
    } finally {
      notes.dispose();
    }
  });
});

test('without serverNotes nothing is asked and the transcript is as before', async () => {
  await withCaptureServer({ tls: false, rules: rules([{ name: 'no such user', when: { command: 'RCPT', recipient: 'nobody@*' }, reply: '550 5.1.1 No such user' }]) }, async (server) => {
    const events: TranscriptEvent[] = [];
    const result = await runSession(makePlan({ steps: [cmd('EHLO client.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<nobody@example.test>', '550'), cmd('QUIT')] }), {
      localTarget: { host: server.host, port: server.port },
      onEvent: (e) => events.push(e),
    });
    assert.equal(result.ok, true, why(result));
    assert.equal(events.filter((e) => e.text.startsWith('capture server:')).length, 0);
  });
});
