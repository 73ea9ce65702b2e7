import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeSmtp } from '../../../server/src/smtp/smtpService';
import { escapeBytes, escapeMarkdown, markdownCodeSpan } from '../../../common/escape';
import { smtpHover, smtpHoverStrict, type HoverEnvironment } from '../../../server/src/smtp/smtpHover';
import { analyzeAtCursor, BROKEN_SCRIPTS, cursor } from './cursor';

interface HoverCase {
  name: string;
  /** The script, with `|` where the mouse is. */
  script: string;
  markdownIncludes: string[];
  markdownExcludes?: string[];
  /** The text under the hover's range. */
  range: string;
  env?: HoverEnvironment;
}

const LONG_LOCAL = 'a'.repeat(70);

const CASES: HoverCase[] = [
  // Command verbs: syntax, summary, RFC link, replies by class.
  { name: 'EHLO verb', script: 'EH|LO client.example.test\n', markdownIncludes: ['**EHLO**', 'RFC 5321 §4.1.1.1', 'https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.1', 'EHLO domain', '2yz success: 250', '5yz permanent failure'], range: 'EHLO' },
  { name: 'MAIL verb lists its failures', script: 'EHLO x.test\nMA|IL FROM:<a@example.test>\n', markdownIncludes: ['**MAIL**', '4yz transient failure: 421', '552', 'reverse-path'], range: 'MAIL' },
  { name: 'lower-case verb', script: 'ehlo x.test\nrs|et\n', markdownIncludes: ['**RSET**', 'RFC 5321 §4.1.1.5'], range: 'rset' },
  { name: 'unknown verb', script: 'FO|OBAR x\n', markdownIncludes: ['not a known SMTP or LMTP command', '502'], range: 'FOOBAR' },
  { name: 'DATA verb', script: 'EHLO x.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nDA|TA\nhi\n.\n', markdownIncludes: ['**DATA**', '3yz intermediate: 354', 'dot-stuffing'], range: 'DATA' },
  { name: 'BDAT verb', script: 'EHLO x.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nBD|AT chunk=10\nhi\n.\n', markdownIncludes: ['**BDAT**', 'RFC 3030 §2', '`CHUNKING`', 'LAST'], range: 'BDAT' },
  { name: 'BDAT chunk option', script: 'EHLO x.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nBDAT chu|nk=1000\nhi\n.\n', markdownIncludes: ['chunk=N', '1000', 'RFC 3030'], range: 'chunk=1000' },
  { name: 'STARTTLS needs its keyword', script: 'EHLO x.test\nSTART|TLS\n', markdownIncludes: ['RFC 3207 §4', 'advertise `STARTTLS`', '454'], range: 'STARTTLS' },

  // CONNECT: the target explained, with default ports and TLS modes.
  { name: 'CONNECT smtp default port', script: 'CONNECT smtp://mail.exa|mple.test\nEHLO x.test\n', markdownIncludes: ['`mail.example.test`', '| port | 25 (the default of smtp://) |', 'STARTTLS'], range: 'smtp://mail.example.test' },
  { name: 'CONNECT smtps implicit TLS', script: 'CONN|ECT smtps://mail.example.test\n', markdownIncludes: ['465', 'implicit', 'RFC 8314 §3.3'], range: 'CONNECT' },
  { name: 'CONNECT submission', script: 'CONNECT submission://mail.example.te|st\nEHLO x\n', markdownIncludes: ['587', 'RFC 6409'], range: 'submission://mail.example.test' },
  { name: 'CONNECT lmtp explicit port', script: 'CONNECT lmtp://127.0.0.1:24|24\n', markdownIncludes: ['| port | 2424 |', 'LHLO', 'RFC 2033'], markdownExcludes: ['the default'], range: 'lmtp://127.0.0.1:2424' },
  { name: 'CONNECT mx', script: 'CONNECT mx:exam|ple.test\n', markdownIncludes: ['MX records', '`example.test`', 'RFC 5321 §5.1', 'port 25'], range: 'mx:example.test' },
  { name: 'CONNECT through a variable', script: '@host = 127.0.0.1\n@server = smtp://{{host}}:2525\nCON|NECT {{server}}\nEHLO x.test\n', markdownIncludes: ['Resolved: `smtp://127.0.0.1:2525`', '| port | 2525 |'], range: 'CONNECT' },
  { name: 'CONNECT invalid', script: 'CONNECT ftp://ho|st\n', markdownIncludes: ['**Invalid target**', 'unknown scheme'], range: 'ftp://host' },
  { name: 'CONNECT local', script: 'CONNECT lo|cal\n', markdownIncludes: ['embedded local capture server'], range: 'local' },

  // TLS options.
  { name: 'TLS verify=off', script: 'TLS ver|ify=off\n', markdownIncludes: ['`verify`', '**Warning**: certificate verification is off.'], range: 'verify=off' },
  { name: 'TLS min', script: 'TLS min=TLS|v1.2\n', markdownIncludes: ['min=VERSION', 'RFC 8996'], range: 'min=TLSv1.2' },
  { name: 'TLS keyword', script: 'T|LS sni=a.test\n', markdownIncludes: ['**TLS**', 'sni=NAME', 'ca=FILE'], range: 'TLS' },

  // AUTH mechanisms.
  { name: 'AUTH PLAIN sends the password in clear', script: 'EHLO x.test\nSTARTTLS\nEHLO x.test\nAUTH PL|AIN user {{$secret smtp-password}}\n', markdownIncludes: ['**AUTH PLAIN**', 'RFC 4616 §2', '**Sends the password in clear**'], range: 'PLAIN' },
  { name: 'AUTH CRAM-MD5 does not', script: 'EHLO x.test\nAUTH cram-m|d5 user {{$secret smtp-password}}\n', markdownIncludes: ['**AUTH CRAM-MD5**', 'Does not send the password', '**Deprecated**'], range: 'cram-md5' },
  { name: 'AUTH unsupported mechanism', script: 'EHLO x.test\nAUTH GSS|API user {{$secret p}}\n', markdownIncludes: ['does not perform GSSAPI'], range: 'GSSAPI' },
  { name: 'AUTH keyword', script: 'EHLO x.test\nAU|TH PLAIN user {{$secret p}}\n', markdownIncludes: ['(directive)', 'RFC 4954 §4', '235'], markdownExcludes: ['334'], range: 'AUTH' },
  { name: 'AUTH literal password is not shown', script: 'EHLO x.test\nAUTH PLAIN user hun|ter2\n', markdownIncludes: ['written literally', '`********`'], markdownExcludes: ['hunter2'], range: 'hunter2' },

  // EXPECT: codes, classes and enhanced codes.
  { name: 'EXPECT code after RCPT', script: 'EHLO x.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nEXPECT 5|50\n', markdownIncludes: ['**Reply 550**', 'mailbox unavailable', 'Permanent Negative Completion reply', 'Category x5z: Mail system', '`RCPT` can get this reply.'], range: '550' },
  { name: 'EXPECT code a command does not get', script: 'EHLO x.test\nQUIT\nEXPECT 35|4\n', markdownIncludes: ['**Reply 354**', '`QUIT` does not normally get this reply'], range: '354' },
  { name: 'EXPECT class', script: 'EHLO x.test\nEXPECT 2x|x\n', markdownIncludes: ['**Reply class 2xx**', 'Positive Completion reply', 'Matches the replies of `EHLO`: 250'], range: '2xx' },
  { name: 'EXPECT enhanced code', script: 'EHLO x.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nEXPECT 550 5.1|.1\n', markdownIncludes: ['Enhanced status code 5.1.1', 'Permanent Failure', 'Addressing Status', 'Bad destination mailbox address', 'https://www.iana.org/assignments/smtp-enhanced-status-codes', 'RFC 3463'], range: '5.1.1' },
  { name: 'EXPECT partial enhanced code', script: 'EHLO x.test\nEXPECT 5.7.|x\n', markdownIncludes: ['Matches any detail of the subject', 'Security or Policy Status'], range: '5.7.x' },
  { name: 'EXPECT keyword names its command', script: 'EHLO x.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nEXP|ECT 250\n', markdownIncludes: ['Checks the reply to `RCPT` on line 3', '251'], range: 'EXPECT' },
  { name: 'EXPECT orphan', script: 'EXP|ECT 250\n', markdownIncludes: ['**No command before it**'], range: 'EXPECT' },
  { name: 'EXPECT text', script: 'EHLO x\nEXPECT 250 "he|llo"\n', markdownIncludes: ['must contain `hello`'], markdownExcludes: ['With no reply code on the line'], range: '"hello"' },
  // A text alone does not widen the replies a step may get (the engine's `withStepNeed`).
  { name: 'EXPECT text alone keeps the reply the command needs', script: 'EHLO x\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nEXPECT "o|k"\n', markdownIncludes: ['must contain `ok`', 'With no reply code on the line, the reply must also be the one the command gets without EXPECT', '2xx for most commands'], range: '"ok"' },
  { name: 'EXPECT keyword of a text alone', script: 'EHLO x\nEXP|ECT /hello/i\n', markdownIncludes: ['a text alone is checked on top of the reply it needs without EXPECT', 'With no reply code on the line'], range: 'EXPECT' },

  // RAW: decoded bytes shown escaped.
  { name: 'RAW payload', script: 'EHLO x.test\nRAW Subject: a\\nb|\\r\\n.\\n\\x00\n', markdownIncludes: ['octets', 'Subject: a\\nb\\r\\n.\\n\\x00', 'a bare LF', 'SMTP smuggling'], range: 'Subject: a\\nb\\r\\n.\\n\\x00' },
  { name: 'RAW keyword', script: 'EHLO x.test\nR|AW NOOP\\r\\n\n', markdownIncludes: ['**RAW**', '6 octets', 'NOOP\\r\\n'], range: 'RAW' },

  // ESMTP parameters.
  { name: 'MAIL BODY parameter', script: 'EHLO x.test\nMAIL FROM:<a@b.test> BODY=8BIT|MIME\n', markdownIncludes: ['**MAIL parameter BODY**', 'RFC 6152 §2', '`8BITMIME` in its EHLO reply', '`7BIT`'], range: 'BODY=8BITMIME' },
  { name: 'MAIL SMTPUTF8 takes no value', script: 'EHLO x.test\nMAIL FROM:<a@b.test> SMTP|UTF8\n', markdownIncludes: ['RFC 6531 §3.4', 'without a value'], range: 'SMTPUTF8' },
  { name: 'RCPT NOTIFY', script: 'EHLO x.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test> NOTI|FY=SUCCESS,FAILURE\n', markdownIncludes: ['**RCPT parameter NOTIFY**', '`DSN`', 'RFC 3461 §4.1'], range: 'NOTIFY=SUCCESS,FAILURE' },
  { name: 'a MAIL parameter on RCPT', script: 'EHLO x.test\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test> SI|ZE=10\n', markdownIncludes: ['is a MAIL parameter, not a RCPT one'], range: 'SIZE=10' },
  { name: 'invalid parameter value', script: 'EHLO x.test\nMAIL FROM:<a@b.test> BODY=9B|IT\n', markdownIncludes: ['**Problem**', 'must be one of'], range: 'BODY=9BIT' },
  { name: 'unknown parameter', script: 'EHLO x.test\nMAIL FROM:<a@b.test> XF|OO=1\n', markdownIncludes: ['Unknown MAIL parameter', '555'], range: 'XFOO=1' },

  // Addresses and their limits.
  { name: 'address within limits', script: 'EHLO x.test\nMAIL FROM:<ali|ce@example.test>\n', markdownIncludes: ['Reverse-path', '| local-part | 5 | 64 | ok |', '| domain | 12 | 255 | ok |', '| reverse-path (with < >) | 20 | 256 | ok |'], range: '<alice@example.test>' },
  { name: 'local-part over the limit', script: `EHLO x.test\nMAIL FROM:<a@b.test>\nRCPT TO:<${LONG_LOCAL}|@example.test>\n`, markdownIncludes: ['Forward-path', '| local-part | 70 | 64 | **over the limit** |', 'RFC 5321 §4.5.3.1'], range: `<${LONG_LOCAL}@example.test>` },
  { name: 'null reverse-path', script: 'EHLO x.test\nMAIL FROM:<|>\n', markdownIncludes: ['null reverse-path'], range: '<>' },
  { name: 'address through a variable', script: '@from = alice@example.test\nEHLO x.test\nMAIL FROM:|<{{from}}>\n', markdownIncludes: ['Resolved: `alice@example.test`', '| local-part | 5 | 64 | ok |'], range: '<{{from}}>' },

  // Variables and built-ins.
  { name: 'variable reference', script: '@from = alice@example.test\nEHLO x.test\nMAIL FROM:<{{fr|om}}>\n', markdownIncludes: ['**Variable** `from`', 'Value: `alice@example.test`', 'Defined on line 1'], range: '{{from}}' },
  { name: 'nested references explained', script: '@host = 127.0.0.1\n@server = smtp://{{host}}:2525\nCONNECT {{ser|ver}}\n', markdownIncludes: ['Value: `smtp://127.0.0.1:2525`', 'Defined on line 2 as `smtp://{{host}}:2525`', '`{{host}}` → `127.0.0.1` (line 1)'], range: '{{server}}' },
  { name: 'session variable overrides the file', script: '@from = a@file.test\n### S\n@from = b@session.test\nEHLO x\nMAIL FROM:<{{f|rom}}>\n', markdownIncludes: ['`b@session.test`', 'line 3'], range: '{{from}}' },
  { name: 'secret-looking variable is masked', script: '@password = hunter2\nEHLO x.test\nNOOP {{pass|word}}\n', markdownIncludes: ['`********`', 'the name looks like a secret'], markdownExcludes: ['hunter2'], range: '{{password}}' },
  { name: 'variable holding a $secret is masked', script: '@login = {{$secret smtp-login}}\n@user = me-{{login}}\nEHLO x.test\nNOOP {{us|er}}\n', markdownIncludes: ['`********`', 'it holds a secret'], markdownExcludes: ['me-'], range: '{{user}}' },
  { name: 'definition line hover', script: '@f|rom = a@b.test\nEHLO x\nMAIL FROM:<{{from}}>\n', markdownIncludes: ['**Variable** `from`', 'Value: `a@b.test`'], range: '@from' },
  { name: 'definition value hover', script: '@host = 127.0.0.1\n@server = smtp://{{host}}:25|25\nCONNECT {{server}}\n', markdownIncludes: ['Value: `smtp://127.0.0.1:2525`'], range: 'smtp://{{host}}:2525' },
  { name: 'undefined variable', script: 'EHLO {{nob|ody}}\n', markdownIncludes: ['Not defined', '`@nobody = value`'], range: '{{nobody}}' },
  { name: 'environment overrides', script: '@server = smtp://a.test\nCONNECT {{ser|ver}}\n', env: { environment: { server: 'smtp://env.test:2525' } }, markdownIncludes: ['`smtp://env.test:2525`', 'selected environment'], range: '{{server}}' },
  { name: 'environment secret masked', script: 'NOOP {{api_to|ken}}\n', env: { environment: { api_token: 's3cr3t' } }, markdownIncludes: ['`********`'], markdownExcludes: ['s3cr3t'], range: '{{api_token}}' },
  { name: '$secret built-in', script: 'EHLO x\nAUTH PLAIN u {{$secret smtp-pa|ssword}}\n', markdownIncludes: ['SecretStorage', '`SMTPWB_SECRET_SMTP_PASSWORD`', 'never shown'], range: '{{$secret smtp-password}}' },
  { name: '$env shows the value', script: 'EHLO {{$env MY_HO|ST}}\n', env: { processEnv: { MY_HOST: 'client.example.test' } }, markdownIncludes: ['Value: `client.example.test`'], range: '{{$env MY_HOST}}' },
  { name: '$env of a secret is masked', script: 'NOOP {{$env API_TO|KEN}}\n', env: { processEnv: { API_TOKEN: 'xyz-123' } }, markdownIncludes: ['`********`', 'looks like a secret'], markdownExcludes: ['xyz-123'], range: '{{$env API_TOKEN}}' },
  { name: '$env unset', script: 'NOOP {{$env NOT_SE|T_X}}\n', env: { processEnv: {} }, markdownIncludes: ['not set in the environment'], range: '{{$env NOT_SET_X}}' },
  { name: '$uuid example', script: 'NOOP {{$uu|id}}\n', markdownIncludes: ['UUID', 'e.g.'], range: '{{$uuid}}' },
  { name: '$date example', script: 'NOOP {{$da|te}}\n', markdownIncludes: ['RFC 5322 §3.3', '+0000'], range: '{{$date}}' },
  // Issue 11: the examples come from the clock and UUIDs passed in, formatted as the engine formats them.
  { name: '$date example from the clock passed in, day padded', script: 'NOOP {{$da|te}}\n', markdownIncludes: ['`Fri, 02 Jan 2026 03:04:05 +0000`'], range: '{{$date}}', env: { now: () => new Date(Date.UTC(2026, 0, 2, 3, 4, 5)) } },
  { name: '$uuid example from the UUIDs passed in', script: 'NOOP {{$uu|id}}\n', markdownIncludes: ['`00000000-0000-4000-8000-000000000001`'], range: '{{$uuid}}', env: { uuid: () => '00000000-0000-4000-8000-000000000001' } },
  { name: '$messageId example', script: 'NOOP {{$messa|geId}}\n', markdownIncludes: ['`<00000000-0000-4000-8000-000000000001@mail.example.test>`'], range: '{{$messageId}}', env: { uuid: () => '00000000-0000-4000-8000-000000000001', hostname: 'mail.example.test' } },
  // Issue 10 §6: code in the facts' own texts is a code span, not escaped backticks.
  { name: 'MAIL summary shows MAIL FROM:<> as code', script: 'EHLO x.test\nMA|IL FROM:<a@example.test>\n', markdownIncludes: ['`MAIL FROM:<>`'], markdownExcludes: ['\\`'], range: 'MAIL' },
  // The hover describes the session's state from the fold the analyzer and completion share.
  { name: 'verb hover shows the state before it', script: 'EHLO x.test\nMAIL FROM:<a@example.test>\nRC|PT TO:<b@example.test>\n', markdownIncludes: ['Before this line: greeted, transaction open (MAIL FROM on line 2, 0 recipients)', 'May come next: `RCPT TO`'], range: 'RCPT' },
  { name: 'EXPECT of a refusal keeps the state', script: 'EHLO x.test\nMAIL FROM:<a@example.test>\nEXP|ECT 550\n', markdownIncludes: ['A refusal', 'After this reply: greeted, no transaction', '`MAIL FROM`'], markdownExcludes: ['`RCPT TO`'], range: 'EXPECT' },
  { name: '$prompt of a password', script: 'NOOP {{$prompt pass|word}}\n', markdownIncludes: ['masked'], range: '{{$prompt password}}' },

  // Metadata and sessions.
  { name: 'metadata timeout', script: '### S\n# @time|out data-end=600\nEHLO x\n', markdownIncludes: ['`@timeout`', 'RFC 5321 §4.5.3.2', 'data-end'], range: '# @timeout data-end=600' },
  { name: 'metadata pipelining', script: '### S\n# @pipel|ining\nEHLO x\n', markdownIncludes: ['RFC 2920 §3.1'], range: '# @pipelining' },
  { name: 'unknown metadata', script: '### S\n# @na|m x\nEHLO x\n', markdownIncludes: ['Unknown metadata', '`@name`'], range: '# @nam x' },
  { name: 'session title', script: '@server = smtp://127.0.0.1:2525\n### Sub|mit\n# @name submit\nCONNECT {{server}}\nEHLO x\nEXPECT 250\nMAIL FROM:<a@b.test>\nQUIT\n', markdownIncludes: ['**Session 1**: Submit', 'Name: `submit`', '3 steps, 1 with EXPECT', 'Target: `smtp://127.0.0.1:2525`', '`EHLO → MAIL → QUIT`'], range: '### Submit' },
  { name: 'session without CONNECT', script: '### A\nEHLO x\n### B|\nNOOP\n', markdownIncludes: ['**Session 2**: B', '1 step,', 'embedded local capture server'], range: '### B' },

  // User text is escaped.
  { name: 'title is escaped', script: '### `code` *bo|ld* [x](y) <b>\nEHLO x\n', markdownIncludes: ['\\`code\\` \\*bold\\* \\[x\\](y) \\<b\\>'], markdownExcludes: ['*bold*', '<b>'], range: '### `code` *bold* [x](y) <b>' },
  { name: 'code span with backticks', script: '@a = x`y\nNOOP {{|a}}\n', markdownIncludes: ['``x`y``'], range: '{{a}}' },
];

for (const c of CASES) {
  test(`hover: ${c.name}`, () => {
    const { analysis, offset } = analyzeAtCursor(c.script);
    const hover = smtpHoverStrict(analysis, offset, c.env ?? {});
    assert.ok(hover, `no hover for ${JSON.stringify(c.script)}`);
    for (const part of c.markdownIncludes) assert.ok(hover.markdown.includes(part), `missing ${JSON.stringify(part)} in:\n${hover.markdown}`);
    for (const part of c.markdownExcludes ?? []) assert.ok(!hover.markdown.includes(part), `unexpected ${JSON.stringify(part)} in:\n${hover.markdown}`);
    assert.equal(analysis.text.slice(hover.range.start, hover.range.end), c.range);
    assert.ok(hover.range.start <= offset && offset <= hover.range.end, 'the range holds the cursor');
  });
}

test('hover: nothing on comments, blank lines and message bodies', () => {
  for (const script of ['# a com|ment\nEHLO x\n', 'EHLO x\n|\nNOOP\n', 'EHLO x\nMAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\nDATA\nSubj|ect: hi\n.\n']) {
    const { analysis, offset } = analyzeAtCursor(script);
    assert.equal(smtpHoverStrict(analysis, offset, {}), undefined, script);
  }
});

test('hover: the cursor helper', () => {
  assert.deepEqual(cursor('ab|c'), { text: 'abc', offset: 2 });
  assert.throws(() => cursor('abc'));
  assert.throws(() => cursor('a|b|c'));
});

test('hover: markdown helpers escape user text', () => {
  assert.equal(escapeMarkdown('a*b_c`d[e]<f>|g'), 'a\\*b\\_c\\`d\\[e\\]\\<f\\>\\|g');
  assert.equal(markdownCodeSpan('plain'), '`plain`');
  assert.equal(markdownCodeSpan('a`b'), '``a`b``');
  assert.equal(markdownCodeSpan('`x`'), '`` `x` ``');
  assert.equal(escapeBytes(Buffer.from([65, 13, 10, 9, 92, 0, 255])), 'A\\r\\n\\t\\\\\\x00\\xFF');
});

test('hover: secrets never appear anywhere in the hovers of a script', () => {
  const script = '@password = hunter2\n@token = {{password}}-x\n### S\nEHLO x\nAUTH PLAIN user {{token}}\nNOOP {{password}} {{token}} {{$env API_KEY}}\n';
  const analysis = analyzeSmtp(script, '/tmp/s.smtp');
  for (let offset = 0; offset <= script.length; offset++) {
    const hover = smtpHoverStrict(analysis, offset, { processEnv: { API_KEY: 'envsecret' } });
    if (!hover) continue;
    assert.ok(!hover.markdown.includes('hunter2'), `offset ${offset}: ${hover.markdown}`);
    assert.ok(!hover.markdown.includes('envsecret'), `offset ${offset}: ${hover.markdown}`);
  }
});

test('hover: never throws on broken input, at every offset', () => {
  for (const script of BROKEN_SCRIPTS) {
    const analysis = analyzeSmtp(script, '/tmp/broken.smtp');
    for (let offset = -1; offset <= script.length + 1; offset++) {
      const hover = smtpHoverStrict(analysis, offset, { environment: { a: '1' }, processEnv: {} });
      if (hover) {
        assert.ok(hover.range.start <= hover.range.end);
        assert.equal(typeof hover.markdown, 'string');
      }
      smtpHover(analysis, offset);
    }
  }
});

test('a variable that feeds an AUTH secret is masked even when its name does not look secret', () => {
  const text = '@login = {{$env SMTP_AUTH}}\n### s\nCONNECT smtps://mail.example.test\nEHLO x.example.test\nAUTH PLAIN user {{login}}\n';
  const analysis = analyzeSmtp(text, 'x.smtp');
  for (const needle of ['{{login}}', '@login', 'SMTP_AUTH']) {
    const offset = text.indexOf(needle) + 3;
    const hover = smtpHover(analysis, offset, { processEnv: { SMTP_AUTH: 'hunter2-from-env' } });
    assert.doesNotMatch(hover?.markdown ?? '', /hunter2/, needle);
  }
});

test('hover: invisible and bidi characters of a script are shown escaped in code spans, never raw', () => {
  const script = '@rcpt = admin\u202Etset.elpmaxe@evil\u200B.test\nEHLO x.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<{{rcpt}}>\nNOOP {{rcpt}}\n';
  const analysis = analyzeSmtp(script, '/tmp/bidi.smtp');
  let shown = 0;
  for (let offset = 0; offset <= script.length; offset++) {
    const hover = smtpHoverStrict(analysis, offset, {});
    if (!hover) continue;
    assert.doesNotMatch(hover.markdown, /[\u202E\u200B]/, `offset ${offset}: ${hover.markdown}`);
    if (hover.markdown.includes('\\u202E')) shown++;
  }
  assert.ok(shown > 0, 'the variable and address hovers show the character escaped');
  const { offset } = cursor('@rcpt = admin\u202Etset.elpmaxe@evil\u200B.test\nEHLO x.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<{{rc|pt}}>\nNOOP {{rcpt}}\n');
  assert.match(smtpHoverStrict(analysis, offset, {})?.markdown ?? '', /`admin\\u202Etset\.elpmaxe@evil\\u200B\.test`/);
});

test('hover: a value that reaches an AUTH secret through an alias is masked for that reason', () => {
  const script = '@login = hunter2xyz\n@alias = {{login}}\n### s\nCONNECT smtps://mail.example.test\nEHLO x.example.test\nAUTH PLAIN user {{alias}}\n';
  const analysis = analyzeSmtp(script, '/tmp/alias.smtp');
  for (const needle of ['@login', '@alias', '{{alias}}']) {
    const markdown = smtpHoverStrict(analysis, script.indexOf(needle) + 2, {})?.markdown ?? '';
    assert.match(markdown, /`\*{8}`/, needle);
    assert.doesNotMatch(markdown, /hunter2xyz/, needle);
    assert.doesNotMatch(markdown, /the name looks like a secret/, needle);
  }
  assert.match(smtpHoverStrict(analysis, script.indexOf('@login') + 2, {})?.markdown ?? '', /the value is used as an AUTH secret/);
});
