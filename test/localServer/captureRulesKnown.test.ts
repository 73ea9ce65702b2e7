// The rules checker and the running capture server agree on when a rule's `sender`, `recipient` and
// `size` conditions can hold: for every point of a session and each of those conditions, a rule
// either draws the checker's rules-condition-command warning ("never fires") or fires on the wire,
// never both and never neither. The server is driven over a raw socket with every command sent
// while a transaction (a sender, a SIZE parameter and an accepted recipient) is open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONDITION_KNOWN_AT, type DataCondition } from '../../common/captureRules';
import { parseCaptureRules, RULE_COMMANDS, type FiredRuleEvent, type RuleCommand } from '../../client/src/localServer';
import { RawSmtp } from '../peers/rawSmtp';
import { withCaptureServer } from './support';

const CONDITIONS: Record<DataCondition, unknown> = {
  sender: 'alice@*',
  recipient: 'bob@*',
  size: { min: 1 },
};

/** One rule per point and condition, each a delay of 0 s, so all of them can fire and none changes a reply. */
function everyRule(): string {
  const rules: object[] = [];
  for (const condition of Object.keys(CONDITIONS) as DataCondition[]) {
    for (const command of RULE_COMMANDS) {
      rules.push({ name: `${condition} at ${command}`, when: { command, [condition]: CONDITIONS[condition] }, delay: 0 });
    }
  }
  return JSON.stringify({ version: 1, rules }, null, 1);
}

/** Opens a connection with a transaction open: EHLO, MAIL with a SIZE parameter, an accepted RCPT. */
async function inTransaction(host: string, port: number): Promise<RawSmtp> {
  const client = await RawSmtp.connect(host, port);
  assert.equal((await client.read()).code, 220);
  assert.equal((await client.command('EHLO client.example.test')).code, 250);
  assert.equal((await client.command('MAIL FROM:<alice@example.test> SIZE=100')).code, 250);
  assert.equal((await client.command('RCPT TO:<bob@example.test>')).code, 250);
  return client;
}

test('rules checker and capture server agree on when sender, recipient and size are known, at every point of a session', async () => {
  const text = everyRule();
  const parsed = parseCaptureRules(text);
  assert.equal(parsed.rules.rules.length, RULE_COMMANDS.length * Object.keys(CONDITIONS).length, JSON.stringify(parsed.problems));
  assert.ok(parsed.problems.every((p) => p.code === 'rules-condition-command'), JSON.stringify(parsed.problems));
  // Which rules the checker says never fire: the rule whose range holds the warning's range.
  const warned = new Set<string>();
  for (const problem of parsed.problems) {
    const rule = parsed.rules.rules.find((r) => r.range.start <= problem.range.start && problem.range.end <= r.range.end);
    assert.ok(rule, JSON.stringify(problem));
    warned.add(rule.name);
    assert.match(problem.message, /is never known at [A-Z]+, so this rule never fires \(it is known at [A-Z, ]+\)$/);
  }
  const fired = new Set<string>();
  // TLS on, so STARTTLS is offered: a command the server does not offer is refused (502) before any rule.
  await withCaptureServer({ rules: parsed.rules }, async (server) => {
    const subscription = server.onRule((event: FiredRuleEvent) => fired.add(event.rule.name));
    try {
      // Each command that leaves the transaction open or ends it, on a connection of its own.
      for (const line of ['NOOP', 'VRFY bob@example.test', 'RSET', 'HELO client.example.test', 'EHLO client.example.test', 'STARTTLS', 'AUTH PLAIN AHVzZXIAcGFzcw==']) {
        const client = await inTransaction(server.host, server.port);
        await client.command(line);
        client.destroy();
      }
      const quitting = await inTransaction(server.host, server.port);
      await quitting.quit();
      // DATA and the end of its message.
      const data = await inTransaction(server.host, server.port);
      assert.equal((await data.command('DATA')).code, 354);
      assert.equal((await data.command('Subject: known\r\n\r\nbody\r\n.')).code, 250);
      await data.quit();
      // BDAT (RFC 3030) and the end of its message.
      const chunked = await inTransaction(server.host, server.port);
      const body = 'Subject: known\r\n\r\nbody\r\n';
      chunked.write(`BDAT ${Buffer.byteLength(body)} LAST\r\n${body}`);
      assert.equal((await chunked.read()).code, 250);
      await chunked.quit();
    } finally {
      subscription.dispose();
    }
  });
  const disagreements: string[] = [];
  for (const condition of Object.keys(CONDITIONS) as DataCondition[]) {
    for (const command of RULE_COMMANDS) {
      const name = `${condition} at ${command}`;
      const known = (CONDITION_KNOWN_AT[condition] as Partial<Record<RuleCommand, string>>)[command] !== undefined;
      if (warned.has(name) === fired.has(name) || known !== fired.has(name)) {
        disagreements.push(`${name}: checker ${warned.has(name) ? 'warns' : 'is silent'}, table says ${known ? 'known' : 'never'}, server ${fired.has(name) ? 'fired' : 'did not fire'}`);
      }
    }
  }
  assert.deepEqual(disagreements, []);
  // The tester's case: a sender at QUIT is known while a transaction is open.
  assert.ok(fired.has('sender at QUIT') && !warned.has('sender at QUIT'));
});
