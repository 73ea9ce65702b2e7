// The behaviour-rules file: the checker (stable codes, exact ranges, never throws) and the pure
// engine driven with a fake clock (attempts, time windows, greylisting, extensions, sizes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CAPTURE_RULE_PROBLEMS, CaptureRuleEngine, parseCaptureRules, type RuleEvent } from '../../client/src/localServer';
import { repoRoot } from '../peers/require';

/** The text a problem's range covers. */
function covered(text: string, range: { start: number; end: number }): string {
  return text.slice(range.start, range.end);
}

// Each case: a rules file, and the problems expected as [code, the text the range covers].
const CASES: Array<{ name: string; text: string; problems: Array<[string, string]>; rules?: number }> = [
  { name: 'broken JSON', text: '{"rules": [ {"reply": "550 x"} ', problems: [['rules-json-syntax', '']] },
  { name: 'comments are not JSON', text: '{ // hi\n"rules": []}', problems: [['rules-json-syntax', '//']] },
  { name: 'not an object', text: '[]', problems: [['rules-structure', '[]']] },
  { name: 'no rules', text: '{"version": 1}', problems: [['rules-structure', '{']] },
  { name: 'wrong version', text: '{"version": 2, "rules": []}', problems: [['rules-version', '2']] },
  { name: 'unknown top-level property', text: '{"rulez": [], "rules": []}', problems: [['rules-unknown-property', '"rulez"']] },
  {
    name: 'a valid file with every action',
    text: JSON.stringify({
      $schema: './schemas/capture-rules.schema.json',
      version: 1,
      rules: [
        { name: 'unknown user', when: { command: 'RCPT', recipient: 'nobody@*' }, reply: '550 5.1.1 No such user' },
        { name: 'grey', greylist: { retryAfter: 30 } },
        { name: 'tls first', require: 'starttls' },
        { name: 'slow', when: { command: 'DATA' }, delay: 1.5 },
        { name: 'hang up', when: { command: 'QUIT' }, close: true },
        { name: 'small', extensions: { hide: ['CHUNKING'], advertise: ['DSN'], size: 1000 } },
        { name: 'busy', when: { command: 'CONNECT', attempt: { max: 2 } }, reply: '421 4.3.2 Busy', close: true },
      ],
    }),
    problems: [],
    rules: 7,
  },
  { name: 'a rule without action', text: '{"rules": [{"name": "x"}]}', problems: [['rules-no-action', '{"name": "x"}']], rules: 0 },
  {
    name: 'two actions',
    text: '{"rules": [{"when": {"command": "RCPT"}, "reply": "550 no", "greylist": true}]}',
    problems: [['rules-several-actions', '"greylist"']],
    rules: 0,
  },
  { name: 'reply without command', text: '{"rules": [{"reply": "550 no"}]}', problems: [['rules-command-missing', '{"reply": "550 no"}']], rules: 0 },
  {
    name: 'unknown command',
    text: '{"rules": [{"when": {"command": "ETRN"}, "reply": "550 no"}]}',
    problems: [['rules-unknown-command', '"ETRN"']],
    rules: 0,
  },
  {
    name: 'greylist on MAIL',
    text: '{"rules": [{"when": {"command": "MAIL"}, "greylist": true}]}',
    problems: [['rules-command-action', '"MAIL"']],
    rules: 0,
  },
  {
    name: 'reply syntax and code',
    text: '{"rules": [{"when": {"command": "RCPT"}, "reply": "55 no"}, {"when": {"command": "RCPT"}, "reply": "250 ok"}]}',
    problems: [
      ['rules-reply-syntax', '"55 no"'],
      ['rules-reply-code', '"250 ok"'],
    ],
    rules: 0,
  },
  {
    name: 'enhanced code of another class',
    text: '{"rules": [{"when": {"command": "RCPT"}, "reply": "550 4.1.1 no"}]}',
    problems: [['rules-reply-enhanced', '"550 4.1.1 no"']],
    rules: 1,
  },
  {
    name: 'odd reply at CONNECT',
    text: '{"rules": [{"when": {"command": "CONNECT"}, "reply": "450 later"}]}',
    problems: [['rules-connect-reply', '"450 later"']],
    rules: 1,
  },
  {
    name: 'ranges',
    text: '{"rules": [{"when": {"command": "RCPT", "attempt": {"min": 3, "max": 1}}, "reply": "450 x"}, {"when": {"command": "DATA"}, "delay": -1}]}',
    problems: [
      ['rules-range', '{"min": 3, "max": 1}'],
      ['rules-range', '-1'],
    ],
    rules: 0,
  },
  {
    name: 'a condition the command never has',
    text: '{"rules": [{"when": {"command": "MAIL", "recipient": "a@b"}, "reply": "550 x"}, {"when": {"command": ["CONNECT"], "sender": "a@b"}, "reply": "554 x"}, {"when": {"command": "RCPT", "size": {"min": 1}}, "reply": "552 x"}]}',
    problems: [
      ['rules-condition-command', '"MAIL"'],
      ['rules-condition-command', '["CONNECT"]'],
      ['rules-condition-command', '"RCPT"'],
    ],
    rules: 3,
  },
  {
    // The capture server passes the open transaction's sender and recipients at every command, so
    // these rules fire when a transaction is open (captureRulesKnown.test.ts shows it on the wire).
    name: 'a condition known while a transaction is open',
    text: '{"rules": [{"name": "hang up on QUIT", "when": {"command": "QUIT", "sender": "hang@*"}, "close": true}, {"when": {"command": ["RSET", "NOOP"], "recipient": "b@*"}, "reply": "450 x"}, {"when": {"command": ["CONNECT", "MESSAGE"], "size": {"min": 10}}, "reply": "554 x"}]}',
    problems: [],
    rules: 3,
  },
  {
    name: 'unknown extension and condition',
    text: '{"rules": [{"extensions": {"hide": ["XFOO"]}, "when": {"colour": "red"}}]}',
    problems: [
      ['rules-unknown-extension', '["XFOO"]'],
      ['rules-unknown-property', '"colour"'],
    ],
    rules: 1,
  },
  {
    name: 'types',
    text: '{"rules": [{"when": {"command": "RCPT", "tls": "yes"}, "reply": 550}]}',
    problems: [
      ['rules-type', '"yes"'],
      ['rules-type', '550'],
    ],
    rules: 0,
  },
  {
    name: 'duplicate names',
    text: '{"rules": [{"name": "a", "when": {"command": "RCPT"}, "reply": "550 x"}, {"name": "a", "when": {"command": "MAIL"}, "reply": "550 y"}]}',
    problems: [['rules-duplicate-name', '{"name": "a", "when": {"command": "MAIL"}, "reply": "550 y"}']],
    rules: 2,
  },
];

for (const c of CASES) {
  test(`rules checker: ${c.name}`, () => {
    const result = parseCaptureRules(c.text);
    assert.deepEqual(
      result.problems.map((p) => [p.code, covered(c.text, p.range)]),
      c.problems,
      JSON.stringify(result.problems),
    );
    if (c.rules !== undefined) assert.equal(result.rules.rules.length, c.rules);
    const codes = new Set(CAPTURE_RULE_PROBLEMS.map((d) => d.code));
    for (const p of result.problems) {
      assert.ok(codes.has(p.code), `${p.code} is in the catalogue`);
      assert.equal(p.severity, CAPTURE_RULE_PROBLEMS.find((d) => d.code === p.code)?.severity);
    }
  });
}

test('rules checker never throws, whatever the input', () => {
  const inputs = ['', ' ', '\uFEFF{"rules":[]}', '{'.repeat(10_000), '"\\u12"', '{"rules": [1, null, true, "x", []]}', '\0\x1b[31m', '{"rules":[{"when":{"command":[1]},"reply":"550 x"}]}'];
  for (let i = 0; i < 300; i++) inputs.push(String.fromCharCode(...Array.from({ length: 40 }, (_, j) => ((i * 7919 + j * 104729) % 126) + 1)));
  for (const input of inputs) {
    const result = parseCaptureRules(input);
    assert.ok(Array.isArray(result.problems));
  }
  assert.deepEqual(parseCaptureRules('\uFEFF{"rules":[]}').problems, []);
});

test('the example rules file (fixtures, shown in the docs) and the JSON Schema agree with the checker', () => {
  const root = repoRoot();
  const schema = JSON.parse(readFileSync(join(root, 'schemas', 'capture-rules.schema.json'), 'utf8')) as {
    properties: { rules: { items: { properties: Record<string, unknown>; }; }; };
    definitions: { when: { properties: Record<string, unknown> } };
  };
  assert.deepEqual(Object.keys(schema.properties.rules.items.properties).sort(), ['close', 'delay', 'extensions', 'greylist', 'name', 'note', 'reply', 'require', 'when'].sort());
  assert.deepEqual(
    Object.keys(schema.definitions.when.properties).sort(),
    ['after', 'attempt', 'authenticated', 'before', 'client', 'command', 'recipient', 'sender', 'size', 'tls'].sort(),
  );
  const example = readFileSync(join(root, 'test', 'localServer', 'fixtures', 'capture-rules.json'), 'utf8');
  assert.deepEqual(parseCaptureRules(example).problems, []);
  // The docs show the same file.
  const docs = readFileSync(join(root, 'docs', 'local-capture-server.md'), 'utf8');
  const shown = /```json\n(\{\n {2}"\$schema": "\.\/schemas\/capture-rules\.schema\.json"[\s\S]*?)```/.exec(docs)?.[1];
  assert.ok(shown, 'the docs show an example rules file');
  assert.deepEqual(parseCaptureRules(shown).problems, []);
  const strip = (text: string): unknown => {
    const value = JSON.parse(text) as Record<string, unknown>;
    delete value.$schema;
    return value;
  };
  assert.deepEqual(strip(shown), strip(example));
});

function clock(): { now: () => number; advance(seconds: number): void } {
  let t = Date.UTC(2026, 10, 23, 10, 0, 0);
  return { now: () => t, advance: (s) => (t += s * 1000) };
}

const base = { client: '127.0.0.1', tls: false, authenticated: false };

function engineOf(rules: object[], now: () => number): CaptureRuleEngine {
  const parsed = parseCaptureRules(JSON.stringify({ rules }));
  assert.deepEqual(parsed.problems, []);
  return new CaptureRuleEngine(parsed.rules.rules, now);
}

test('engine: greylisting defers the first attempt of a triplet and accepts after retryAfter', () => {
  const c = clock();
  const engine = engineOf([{ name: 'grey', greylist: { retryAfter: 60 } }], c.now);
  const rcpt: RuleEvent = { ...base, command: 'RCPT', sender: 'a@example.test', recipient: 'b@example.test' };
  const first = engine.decide(rcpt);
  assert.deepEqual(first.reply, { code: 451, text: '4.7.1 Greylisted: try again in 60 seconds (rule "grey")' });
  assert.equal(first.fired[0].action, 'greylist');
  c.advance(30);
  assert.equal(engine.decide(rcpt).reply?.code, 451, 'too early');
  assert.equal(engine.decide({ ...rcpt, recipient: 'c@example.test' }).reply?.code, 451, 'another triplet starts its own wait');
  c.advance(31);
  const later = engine.decide(rcpt);
  assert.equal(later.reply, undefined);
  assert.equal(later.fired[0].action, 'greylist-passed');
});

test('engine: attempts, time windows, patterns, sizes and delays', () => {
  const c = clock();
  const engine = engineOf(
    [
      { name: 'two fails', when: { command: 'MAIL', sender: '*@retry.test', attempt: { max: 2 } }, reply: '451 4.3.0 Try later' },
      { name: 'warm-up', when: { command: 'CONNECT', before: 10 }, reply: '421 4.3.2 Warming up' },
      { name: 'big', when: { command: 'MESSAGE', size: { min: 1000 } }, reply: '552 5.3.4 Too big for this test' },
      { name: 'slow', when: { command: 'DATA' }, delay: 2 },
      { name: 'no bob', when: { command: 'RCPT', recipient: ['BOB@*', 'eve@example.test'] }, reply: '550 5.1.1 No such user' },
      { name: 'plain', when: { command: 'RCPT', tls: false, recipient: 'secure@*' }, reply: '550 no enhanced' },
    ],
    c.now,
  );
  const mail: RuleEvent = { ...base, command: 'MAIL', sender: 'x@retry.test' };
  assert.equal(engine.decide(mail).reply?.code, 451);
  assert.equal(engine.decide(mail).reply?.code, 451);
  assert.equal(engine.decide(mail).reply, undefined, 'the third attempt passes');
  assert.equal(engine.decide({ ...mail, sender: 'x@other.test' }).reply, undefined);
  const connect: RuleEvent = { ...base, command: 'CONNECT' };
  const early = engine.decide(connect);
  assert.equal(early.reply?.code, 421);
  assert.equal(early.close, true, '421 closes (RFC 5321 §3.8)');
  c.advance(10);
  assert.equal(engine.decide(connect).reply, undefined);
  assert.equal(engine.decide({ ...base, command: 'MESSAGE', size: 999 }).reply, undefined);
  assert.equal(engine.decide({ ...base, command: 'MESSAGE', size: 1000 }).reply?.code, 552);
  const data = engine.decide({ ...base, command: 'DATA' });
  assert.equal(data.delayMs, 2000);
  assert.equal(data.reply, undefined);
  assert.equal(engine.decide({ ...base, command: 'RCPT', recipient: 'bob@Example.Test' }).reply?.text, '5.1.1 No such user');
  assert.equal(engine.decide({ ...base, command: 'RCPT', recipient: 'carol@example.test' }).reply, undefined);
  assert.equal(engine.decide({ ...base, command: 'RCPT', recipient: 'secure@x' }).reply?.text, '5.0.0 no enhanced', 'RFC 3463 code added');
  assert.equal(engine.decide({ ...base, tls: true, command: 'RCPT', recipient: 'secure@x' }).reply, undefined);
});

test('engine: require, extensions and what hidden extensions refuse', () => {
  const c = clock();
  const engine = engineOf(
    [
      { require: 'starttls' },
      { name: 'lean', extensions: { hide: ['CHUNKING', 'SMTPUTF8', 'STARTTLS'], size: 500 } },
      { name: 'lean under tls', when: { tls: true }, extensions: { advertise: ['STARTTLS'] } },
    ],
    c.now,
  );
  const keywords = ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'STARTTLS', 'SIZE 52428800', 'CHUNKING'];
  const ehlo = engine.ehlo(base, keywords);
  assert.deepEqual(ehlo.keywords, ['PIPELINING', '8BITMIME', 'SIZE 500']);
  assert.deepEqual([...ehlo.session.hidden].sort(), ['CHUNKING', 'SMTPUTF8', 'STARTTLS']);
  assert.equal(ehlo.session.sizeLimit, 500);
  const session = ehlo.session;
  assert.equal(engine.decide({ ...base, command: 'STARTTLS', session }).reply?.code, 502);
  assert.equal(engine.decide({ ...base, command: 'BDAT', session }).reply?.code, 502);
  assert.equal(engine.decide({ ...base, command: 'MAIL', sender: 'a@b', parameters: { SMTPUTF8: true }, session }).reply?.code, 555);
  assert.equal(engine.decide({ ...base, command: 'MAIL', sender: 'a@b', size: 501, parameters: { SIZE: '501' }, session }).reply?.code, 552);
  assert.equal(engine.decide({ ...base, command: 'MESSAGE', size: 501, session }).reply?.code, 552);
  const mail = engine.decide({ ...base, command: 'MAIL', sender: 'a@b', session });
  assert.deepEqual(mail.reply, { code: 530, text: '5.7.0 Must issue a STARTTLS command first (rule "rule 1")' });
  assert.equal(engine.decide({ ...base, tls: true, command: 'MAIL', sender: 'a@b', session }).reply, undefined);
  const secure = engine.ehlo({ ...base, tls: true }, keywords);
  assert.ok(secure.keywords.includes('STARTTLS'), 'a later rule can advertise what an earlier one hid');
  assert.deepEqual(
    secure.fired.map((f) => f.name),
    ['lean', 'lean under tls'],
  );
});
