import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeSmtp } from '../../../server/src/smtp/smtpService';
import { smtpCompletion, smtpCompletionStrict, type CompletionItem } from '../../../server/src/smtp/smtpCompletion';
import { analyzeAtCursor, BROKEN_SCRIPTS, snippetDefault } from '../hover/cursor';

interface CompletionCase {
  name: string;
  /** The script, with `|` where the cursor is. */
  script: string;
  expect: { contains: string[]; excludes?: string[] };
}

const TRANSACTION = 'EHLO client.example.test\nMAIL FROM:<alice@example.test>\nRCPT TO:<bob@example.test>\n';

const CASES: CompletionCase[] = [
  // At the start of a line: the commands the session's state allows next (RFC 5321 §4.1.4).
  { name: 'empty script', script: '|', expect: { contains: ['EHLO', 'HELO', 'CONNECT', 'TLS', 'RAW', '###', '@var = ', 'QUIT'], excludes: ['LHLO', 'MAIL FROM', 'RCPT TO', 'DATA', 'BDAT', 'STARTTLS', 'AUTH', 'EXPECT'] } },
  { name: 'LMTP greets with LHLO', script: 'CONNECT lmtp://127.0.0.1:2424\n|', expect: { contains: ['LHLO'], excludes: ['EHLO', 'HELO', 'CONNECT'] } },
  { name: 'after EHLO', script: 'EHLO client.example.test\n|', expect: { contains: ['STARTTLS', 'AUTH', 'MAIL FROM', 'EXPECT', 'QUIT', 'RSET', 'VRFY'], excludes: ['RCPT TO', 'DATA', 'BDAT', 'CONNECT'] } },
  { name: 'after HELO no extension', script: 'HELO client.example.test\n|', expect: { contains: ['MAIL FROM', 'EXPECT', 'QUIT', 'EHLO'], excludes: ['STARTTLS', 'AUTH'] } },
  { name: 'after HELO no BDAT', script: 'HELO x.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\n|', expect: { contains: ['DATA', 'RCPT TO'], excludes: ['BDAT'] } },
  { name: 'BODY=BINARYMIME offers BDAT, not DATA', script: 'EHLO x.test\nMAIL FROM:<a@b.test> BODY=BINARYMIME\nRCPT TO:<c@d.test>\n|', expect: { contains: ['BDAT'], excludes: ['DATA'] } },
  { name: 'smtps has no STARTTLS', script: 'CONNECT smtps://mail.example.test\nEHLO x.test\n|', expect: { contains: ['AUTH', 'MAIL FROM'], excludes: ['STARTTLS'] } },
  { name: 'STARTTLS needs EHLO again', script: 'EHLO x.test\nSTARTTLS\n|', expect: { contains: ['EHLO', 'EXPECT'], excludes: ['MAIL FROM', 'STARTTLS', 'AUTH', 'RCPT TO'] } },
  { name: 'no second STARTTLS', script: 'EHLO x.test\nSTARTTLS\nEHLO x.test\n|', expect: { contains: ['AUTH', 'MAIL FROM'], excludes: ['STARTTLS', 'TLS'] } },
  { name: 'no second AUTH', script: 'EHLO x.test\nSTARTTLS\nEHLO x.test\nAUTH PLAIN u {{$secret p}}\n|', expect: { contains: ['MAIL FROM', 'EXPECT'], excludes: ['AUTH', 'STARTTLS'] } },
  { name: 'after MAIL', script: 'EHLO x.test\nMAIL FROM:<a@b.test>\n|', expect: { contains: ['RCPT TO', 'RSET', 'EXPECT'], excludes: ['DATA', 'BDAT', 'MAIL FROM', 'AUTH', 'STARTTLS'] } },
  { name: 'after RCPT', script: TRANSACTION + '|', expect: { contains: ['RCPT TO', 'DATA', 'BDAT', 'EXPECT'], excludes: ['MAIL FROM', 'EHLO'] } },
  { name: 'after DATA a new transaction', script: TRANSACTION + 'DATA\nSubject: x\n\nhi\n.\n|', expect: { contains: ['MAIL FROM', 'EXPECT', 'QUIT'], excludes: ['RCPT TO', 'DATA'] } },
  { name: 'after RSET', script: TRANSACTION + 'RSET\n|', expect: { contains: ['MAIL FROM'], excludes: ['RCPT TO', 'DATA'] } },
  { name: 'after QUIT only ###', script: 'EHLO x.test\nQUIT\n|', expect: { contains: ['###'], excludes: ['EHLO', 'MAIL FROM', 'NOOP', 'RAW', 'EXPECT', 'TLS', '@var = '] } },
  { name: 'no EXPECT after EXPECT', script: 'EHLO x.test\nEXPECT 250\n|', expect: { contains: ['MAIL FROM'], excludes: ['EXPECT'] } },
  { name: 'EXPECT after a comment still pairs', script: 'EHLO x.test\n# a note\n|', expect: { contains: ['EXPECT'] } },
  { name: 'no CONNECT after a command', script: 'EHLO x.test\nNOOP\n|', expect: { contains: ['NOOP'], excludes: ['CONNECT'] } },
  { name: 'no second CONNECT', script: 'CONNECT local\n|', expect: { contains: ['EHLO', 'TLS'], excludes: ['CONNECT', 'EXPECT'] } },
  { name: 'after RAW anything goes', script: 'EHLO x.test\nRAW QUIT\\r\\n\n|', expect: { contains: ['MAIL FROM', 'RCPT TO', 'DATA', 'EXPECT', 'EHLO'] } },
  { name: 'metadata inside a session', script: '### S\n|', expect: { contains: ['# @name', '# @timeout', '# @pipelining', '# @allow-cleartext-auth', 'EHLO'] } },
  { name: 'no metadata in the preamble of titled sessions', script: '@a = 1\n|\n### S\nEHLO x\n', expect: { contains: ['@var = ', '###'], excludes: ['# @name'] } },
  { name: 'partial word', script: 'EHLO x.test\nMA|', expect: { contains: ['MAIL FROM'] } },
  { name: 'partial ###', script: 'EHLO x.test\n##|', expect: { contains: ['###'] } },
  { name: 'each session has its own state', script: 'EHLO x.test\nMAIL FROM:<a@b.test>\n### Second\n|', expect: { contains: ['EHLO', 'CONNECT'], excludes: ['RCPT TO', 'MAIL FROM'] } },

  // Inside `{{`: the variables in scope and the built-ins.
  { name: 'variables and built-ins', script: '@from = alice@example.test\nEHLO x.test\nMAIL FROM:<{{|', expect: { contains: ['from', '$env', '$dotenv', '$secret', '$prompt', '$uuid', '$date', '$messageId'] } },
  { name: 'session scope', script: '### A\n@a1 = x\nEHLO x\n### B\n@b1 = y\nEHLO {{|}}\n', expect: { contains: ['b1'], excludes: ['a1'] } },
  { name: 'variables inside a body', script: '@name = Bob\n' + TRANSACTION + 'DATA\nHello {{na|\n.\n', expect: { contains: ['name', '$date'] } },

  // After MAIL FROM:<…> and RCPT TO:<…>: their parameters.
  { name: 'MAIL parameters', script: 'EHLO x.test\nMAIL FROM:<a@b.test> |', expect: { contains: ['SIZE', 'BODY', 'SMTPUTF8', 'RET', 'ENVID', 'AUTH', 'REQUIRETLS'], excludes: ['NOTIFY', 'ORCPT'] } },
  { name: 'used MAIL parameters are not offered again', script: 'EHLO x.test\nMAIL FROM:<a@b.test> SIZE=100 |', expect: { contains: ['BODY'], excludes: ['SIZE'] } },
  { name: 'BODY values', script: 'EHLO x.test\nMAIL FROM:<a@b.test> BODY=|', expect: { contains: ['7BIT', '8BITMIME', 'BINARYMIME'], excludes: ['SIZE'] } },
  { name: 'RCPT parameters', script: 'EHLO x.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test> |', expect: { contains: ['NOTIFY', 'ORCPT', 'RRVS'], excludes: ['SIZE', 'BODY'] } },
  { name: 'NOTIFY values', script: 'EHLO x.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test> NOTIFY=|', expect: { contains: ['NEVER', 'SUCCESS,FAILURE,DELAY'] } },
  { name: 'FROM: after MAIL', script: 'EHLO x.test\nMAIL |', expect: { contains: ['FROM:<>'] } },

  // After EXPECT: the replies the previous command can get, then enhanced codes.
  { name: 'EXPECT after RCPT', script: TRANSACTION + 'EXPECT |', expect: { contains: ['250', '251', '450', '550', '553', '2xx', '4xx', '5xx', '"text"', '/regex/'], excludes: ['354', '221', '3xx'] } },
  { name: 'EXPECT after DATA', script: TRANSACTION + 'DATA\nhi\n.\nEXPECT |', expect: { contains: ['250', '554', '452'], excludes: ['354'] } },
  { name: 'EXPECT after STARTTLS', script: 'EHLO x.test\nSTARTTLS\nEXPECT |', expect: { contains: ['220', '454'], excludes: ['250'] } },
  { name: 'EXPECT after AUTH', script: 'EHLO x.test\nSTARTTLS\nEHLO x.test\nAUTH PLAIN u {{$secret p}}\nEXPECT 5|', expect: { contains: ['235', '535', '534'], excludes: ['334'] } },
  { name: 'enhanced codes after a code', script: TRANSACTION + 'EXPECT 550 |', expect: { contains: ['5.1.1', '5.7.1', '5.1.x', '"text"'], excludes: ['2.1.5', '4.1.1'] } },
  { name: 'success enhanced codes after 250', script: TRANSACTION + 'EXPECT 250 |', expect: { contains: ['2.1.5', '2.0.0'], excludes: ['5.1.1'] } },

  // Directives' arguments.
  { name: 'TLS options', script: 'TLS |', expect: { contains: ['verify=', 'sni=', 'ca=', 'cert=', 'key=', 'min='] } },
  { name: 'TLS options not repeated', script: 'TLS verify=off |', expect: { contains: ['sni='], excludes: ['verify='] } },
  { name: 'TLS verify values', script: 'TLS verify=|', expect: { contains: ['on', 'off'], excludes: ['sni='] } },
  { name: 'TLS min values', script: 'TLS min=|', expect: { contains: ['TLSv1.2', 'TLSv1.3', 'TLSv1'] } },
  { name: 'CONNECT schemes and target variables', script: '@server = smtp://127.0.0.1:2525\n@from = a@b.test\nCONNECT |', expect: { contains: ['smtp://', 'smtps://', 'submission://', 'lmtp://', 'mx:', 'local', '{{server}}'], excludes: ['{{from}}'] } },
  { name: 'AUTH mechanisms', script: 'EHLO x.test\nAUTH |', expect: { contains: ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'], excludes: ['GSSAPI', 'EHLO'] } },
  { name: 'metadata keys', script: '### S\n# @|', expect: { contains: ['name', 'timeout', 'pipelining', 'allow-cleartext-auth'] } },
  { name: 'timeout phases', script: '### S\n# @timeout |', expect: { contains: ['connect', 'greeting', 'data-end', 'all'] } },
  { name: 'BDAT options', script: TRANSACTION + 'BDAT |', expect: { contains: ['< file', 'chunk='] } },

  // Inside a message body: message text, no commands.
  { name: 'body blank line offers the terminator', script: TRANSACTION + 'DATA\nSubject: x\n|\n.\n', expect: { contains: ['.'], excludes: ['EHLO', 'MAIL FROM', 'EXPECT'] } },
  { name: 'body text offers nothing', script: TRANSACTION + 'DATA\nSub|\n.\n', expect: { contains: [], excludes: ['EHLO', 'MAIL FROM', '.'] } },
  { name: 'unterminated body', script: TRANSACTION + 'DATA\nSubject: x\n\n|', expect: { contains: ['.'], excludes: ['EHLO', 'QUIT'] } },
];

function labels(items: CompletionItem[]): string[] {
  return items.map((i) => i.label);
}

for (const c of CASES) {
  test(`completion: ${c.name}`, () => {
    const { analysis, offset } = analyzeAtCursor(c.script);
    const items = smtpCompletionStrict(analysis, offset);
    const found = labels(items);
    for (const label of c.expect.contains) assert.ok(found.includes(label), `missing ${JSON.stringify(label)} in ${JSON.stringify(found)}`);
    for (const label of c.expect.excludes ?? []) assert.ok(!found.includes(label), `unexpected ${JSON.stringify(label)} in ${JSON.stringify(found)}`);
    for (const item of items) {
      if (item.replaceRange) {
        assert.ok(item.replaceRange.start <= offset && offset <= item.replaceRange.end, `${item.label}: the replace range holds the cursor`);
        assert.ok(!analysis.text.slice(item.replaceRange.start, item.replaceRange.end).includes('\n'), `${item.label}: the replace range stays on the line`);
      }
    }
  });
}

function find(script: string, label: string): CompletionItem {
  const { analysis, offset } = analyzeAtCursor(script);
  const item = smtpCompletionStrict(analysis, offset).find((i) => i.label === label);
  assert.ok(item, `no ${label}`);
  return item;
}

test('completion: snippets and insert texts', () => {
  const body = find('EHLO x.test\nMAIL FROM:<a@b.test> |', 'BODY');
  assert.equal(body.insertText, 'BODY=${1|7BIT,8BITMIME,BINARYMIME|}');
  assert.equal(body.snippet, true);
  assert.match(body.documentation ?? '', /RFC 6152/);
  const notify = find('EHLO x\nMAIL FROM:<a@b>\nRCPT TO:<c@d> |', 'NOTIFY');
  assert.match(notify.insertText ?? '', /SUCCESS\\,FAILURE/);
  assert.equal(find('EHLO x.test\nMAIL FROM:<a@b.test> |', 'SMTPUTF8').snippet, false);
  const mail = find('EHLO x.test\n|', 'MAIL FROM');
  assert.equal(mail.insertText, 'MAIL FROM:<${1:alice@example.test}>');
  assert.equal(mail.kind, 'command');
  const plain = find('EHLO x.test\nAUTH |', 'PLAIN');
  assert.equal(plain.insertText, 'PLAIN ${1:user} {{\\$secret ${2:smtp-password}}}');
  assert.match(plain.detail ?? '', /clear/);
  const expect = find('EHLO x.test\nSTARTTLS\n|', 'EXPECT');
  assert.equal(expect.insertText, 'EXPECT ${1:220}');
  // In a snippet a backslash is doubled, so the RAW line is inserted with a literal \r\n.
  assert.equal(find('EHLO x.test\n|', 'RAW').insertText, 'RAW ${1:text}\\\\r\\\\n');
});

test('completion: replace ranges', () => {
  const { analysis, offset } = analyzeAtCursor('EHLO x.test\n  MA|IL');
  const mail = smtpCompletionStrict(analysis, offset).find((i) => i.label === 'MAIL FROM');
  assert.deepEqual(analysis.text.slice(mail!.replaceRange!.start, mail!.replaceRange!.end), 'MAIL');
  const value = find('EHLO x.test\nMAIL FROM:<a@b.test> BODY=8B|', '8BITMIME');
  assert.ok(value.replaceRange);
  assert.equal(value.replaceRange.end - value.replaceRange.start, 2);
});

test('completion: variable references close their braces when needed', () => {
  const open = find('@from = a@b.test\nEHLO {{fr|', 'from');
  assert.equal(open.insertText, 'from}}');
  const closed = find('@from = a@b.test\nEHLO {{fr|}}', 'from');
  assert.equal(closed.insertText, 'from');
  const env = find('EHLO {{|', '$env');
  assert.equal(env.insertText, '\\$env ${1:NAME}}}');
  assert.equal(env.snippet, true);
});

test('completion: secret values are masked in details', () => {
  const item = find('@password = hunter2\n@login = {{$secret smtp-login}}\nEHLO {{|', 'password');
  assert.equal(item.detail, '********');
  assert.equal(find('@password = hunter2\n@login = {{$secret smtp-login}}\nEHLO {{|', 'login').detail, '********');
});

test('completion: a value that reaches an AUTH secret through an alias is masked, as hover masks it', () => {
  const script = '@login = hunter2xyz\n@alias = {{login}}\n@mailbox = alice@example.test\n### s\nCONNECT smtps://mail.example.test\nEHLO x.example.test\nAUTH PLAIN user {{alias}}\nNOOP {{|\n';
  assert.equal(find(script, 'login').detail, '********');
  assert.equal(find(script, 'alias').detail, '********');
  assert.equal(find(script, 'mailbox').detail, 'alice@example.test');
});

/**
 * Accepts the completion `label` at the `|` cursor: applies its edit (a snippet with its defaults)
 * and returns the line the cursor was on.
 */
function accept(script: string, label: string): string {
  const { analysis, offset } = analyzeAtCursor(script);
  const item = smtpCompletionStrict(analysis, offset).find((i) => i.label === label);
  assert.ok(item, `no ${label} at ${JSON.stringify(script)}`);
  const range = item.replaceRange ?? { start: offset, end: offset };
  const inserted = item.insertText === undefined ? item.label : item.snippet ? snippetDefault(item.insertText) : item.insertText;
  const text = analysis.text.slice(0, range.start) + inserted + analysis.text.slice(range.end);
  const lineStart = analysis.text.lastIndexOf('\n', offset - 1) + 1;
  const lineEnd = text.indexOf('\n', lineStart);
  return text.slice(lineStart, lineEnd < 0 ? text.length : lineEnd);
}

interface AcceptCase {
  name: string;
  script: string;
  label: string;
  line: string;
}

const ACCEPT_CASES: AcceptCase[] = [
  // The tester's cases: the address after FROM: and the arguments after the mechanism stay as written.
  { name: 'the missing colon typed before an address', script: 'EHLO x.test\nMAIL FROM:|<alice@example.test> SIZE=100', label: 'FROM:<>', line: 'MAIL FROM:<alice@example.test> SIZE=100' },
  { name: 'the keyword without its colon before an address', script: 'EHLO x.test\nMAIL FROM|<alice@example.test> SIZE=100', label: 'FROM:<>', line: 'MAIL FROM:<alice@example.test> SIZE=100' },
  { name: 'the keyword in the middle', script: 'EHLO x.test\nMAIL FR|OM:<alice@example.test>', label: 'FROM:<>', line: 'MAIL FROM:<alice@example.test>' },
  { name: 'the keyword before parameters but no address', script: 'EHLO x.test\nMAIL FROM| SIZE=100', label: 'FROM:<>', line: 'MAIL FROM:<> SIZE=100' },
  { name: 'FROM:<> at the end of the line', script: 'EHLO x.test\nMAIL F|', label: 'FROM:<>', line: 'MAIL FROM:<>' },
  { name: 'an AUTH mechanism before its arguments', script: 'EHLO x.test\nSTARTTLS\nEHLO x.test\nAUTH LOG| user {{$secret pw}}', label: 'LOGIN', line: 'AUTH LOGIN user {{$secret pw}}' },
  { name: 'an AUTH mechanism at the end of the line', script: 'EHLO x.test\nSTARTTLS\nEHLO x.test\nAUTH LOG|', label: 'LOGIN', line: 'AUTH LOGIN user {{$secret smtp-password}}' },
  // The other completions follow the same rule.
  { name: 'a parameter name before its value', script: 'EHLO x.test\nMAIL FROM:<a@b.test> SI|ZE=100', label: 'SIZE', line: 'MAIL FROM:<a@b.test> SIZE=100' },
  { name: 'a parameter name at the end', script: 'EHLO x.test\nMAIL FROM:<a@b.test> SI|', label: 'SIZE', line: 'MAIL FROM:<a@b.test> SIZE=12345' },
  { name: 'a parameter before another parameter', script: 'EHLO x.test\nMAIL FROM:<a@b.test> SI| BODY=8BITMIME', label: 'SIZE', line: 'MAIL FROM:<a@b.test> SIZE=12345 BODY=8BITMIME' },
  { name: 'a parameter value', script: 'EHLO x.test\nMAIL FROM:<a@b.test> BODY=8B| SIZE=1', label: '8BITMIME', line: 'MAIL FROM:<a@b.test> BODY=8BITMIME SIZE=1' },
  { name: 'a command verb before its arguments', script: 'EHLO x.test\nMA|IL FROM:<a@b.test>', label: 'MAIL FROM', line: 'MAIL FROM:<a@b.test>' },
  { name: 'a command verb alone', script: 'EHLO x.test\nMA|', label: 'MAIL FROM', line: 'MAIL FROM:<alice@example.test>' },
  { name: 'a directive before its arguments', script: 'CONN| smtp://127.0.0.1:2525', label: 'CONNECT', line: 'CONNECT smtp://127.0.0.1:2525' },
  { name: 'a TLS option before its value', script: 'TLS ver|ify=off', label: 'verify=', line: 'TLS verify=off' },
  { name: 'a CONNECT scheme before its host', script: 'CONNECT smt|p://mail.example.test:2525', label: 'smtp://', line: 'CONNECT smtp://mail.example.test:2525' },
  { name: 'a built-in before its argument', script: 'EHLO {{$en| HOME}}', label: '$env', line: 'EHLO {{$env HOME}}' },
  { name: 'a built-in alone', script: 'EHLO {{$en|', label: '$env', line: 'EHLO {{$env NAME}}' },
  { name: 'a metadata key before its value', script: '### S\n# @na| session-1', label: 'name', line: '# @name session-1' },
  { name: 'a timeout phase before its value', script: '### S\n# @timeout con|=30', label: 'connect', line: '# @timeout connect=30' },
  { name: 'a BDAT option before its value', script: 'EHLO x.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nBDAT chu|=100\nhi\n.\n', label: 'chunk=', line: 'BDAT chunk=100' },
];

for (const c of ACCEPT_CASES) {
  test(`completion accepted: ${c.name}`, () => {
    assert.equal(accept(c.script, c.label), c.line);
  });
}

test('completion accepted: AUTH LOGIN before its arguments lints as it did, without a new smtp-auth-arguments', () => {
  const script = 'CONNECT smtps://mail.example.test\nEHLO x.test\nAUTH LOG| user {{$secret pw}}';
  const { analysis, offset } = analyzeAtCursor(script);
  const item = smtpCompletionStrict(analysis, offset).find((i) => i.label === 'LOGIN')!;
  const text = analysis.text.slice(0, item.replaceRange!.start) + (item.snippet ? snippetDefault(item.insertText!) : item.insertText) + analysis.text.slice(item.replaceRange!.end);
  assert.ok(!analyzeSmtp(text, '/tmp/accept.smtp').problems.some((p) => p.code === 'smtp-auth-arguments'), text);
});

test('completion: EXPECT codes come in the order of the facts, with paired enhanced codes first', () => {
  const { analysis, offset } = analyzeAtCursor(TRANSACTION + 'EXPECT 550 |');
  const items = smtpCompletionStrict(analysis, offset).filter((i) => /^5\.\d+\.\d+$/.test(i.label));
  const sorted = [...items].sort((a, b) => (a.sortText ?? '').localeCompare(b.sortText ?? ''));
  assert.equal(sorted[0].label, '5.1.1');
});

test('completion: never throws on broken input, at every offset', () => {
  for (const script of BROKEN_SCRIPTS) {
    const analysis = analyzeSmtp(script, '/tmp/broken.smtp');
    for (let offset = -1; offset <= script.length + 1; offset++) {
      const items = smtpCompletionStrict(analysis, offset);
      assert.ok(Array.isArray(items));
      for (const item of items) assert.equal(typeof item.label, 'string');
      smtpCompletion(analysis, offset);
    }
  }
});
