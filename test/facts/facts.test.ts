import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AUTH_MECHANISMS,
  COMMANDS,
  ENGINE_AUTH_MECHANISMS,
  TIMEOUT_PHASES,
  TIMEOUT_PHASE_FIELDS,
  EHLO_KEYWORDS,
  ENHANCED_DETAILS,
  ENHANCED_SUBJECTS,
  MAIL_PARAMETER_FACTS,
  RCPT_PARAMETER_FACTS,
  REPLY_CODES,
  RFC_LINK_PATTERN,
  allRepliesOf,
  authMechanism,
  commandFact,
  decodeXtext,
  describeReplyCategory,
  describeReplyClass,
  describeReplyCode,
  ehloKeyword,
  encodeXtext,
  enhancedCodeFact,
  enhancedDetailFact,
  formatReference,
  isEnhancedCode,
  isXtext,
  mailParameter,
  rcptParameter,
  replyCodeFact,
  validateParameter,
} from '../../server/src/facts';
import { rfcLink } from '../../common/problem';
import { DEFAULT_TIMEOUTS } from '../../common/sessionPlan';

/** Links of RFC-defined facts must point at rfc-editor.org; others must at least be https. */
function assertLink(what: string, rfc: number | undefined, section: string, link: string): void {
  if (rfc === undefined) {
    assert.match(link, /^https:\/\/[a-z0-9.-]+\/\S+$/, `${what}: ${link}`);
    return;
  }
  assert.match(link, RFC_LINK_PATTERN, `${what}: ${link}`);
  assert.equal(link, rfcLink(rfc, section), `${what}: link does not match rfc/section`);
  assert.ok(link.includes(`rfc${rfc}`), `${what}: link names the wrong RFC`);
}

test('rfcLink builds section and appendix anchors', () => {
  assert.equal(rfcLink(5321, '4.1.1.1'), 'https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.1');
  assert.equal(rfcLink(5321, 'F.1'), 'https://www.rfc-editor.org/rfc/rfc5321#appendix-F.1');
  assert.equal(rfcLink(5321), 'https://www.rfc-editor.org/rfc/rfc5321');
  assert.equal(formatReference({ rfc: 5321, section: '4.2.2' }), 'RFC 5321 §4.2.2');
  assert.equal(formatReference({ rfc: 5321, section: 'F.1' }), 'RFC 5321 Appendix F.1');
});

test('commands: every verb of the language is known, case-insensitively', () => {
  for (const verb of ['HELO', 'EHLO', 'LHLO', 'MAIL', 'RCPT', 'DATA', 'BDAT', 'RSET', 'VRFY', 'EXPN', 'HELP', 'NOOP', 'QUIT', 'STARTTLS', 'AUTH', 'ETRN', 'TURN', 'ATRN', 'BURL']) {
    assert.ok(COMMANDS.has(verb), verb);
    assert.equal(commandFact(verb.toLowerCase())?.verb, verb);
  }
  assert.equal(commandFact('XYZZY'), undefined);
  assert.equal(commandFact(' ehlo ')?.verb, 'EHLO');
});

test('commands: entries are complete and consistent', () => {
  for (const [verb, fact] of COMMANDS) {
    assert.equal(verb, fact.verb);
    assert.ok(fact.syntax.length > 0 && fact.summary.length > 0, verb);
    assertLink(verb, fact.rfc, fact.section, fact.link);
    assert.ok(['none', 'optional', 'required'].includes(fact.args), verb);
    for (const code of fact.replies.success) assert.equal(Math.floor(code / 100), 2, `${verb} success ${code}`);
    for (const code of fact.replies.intermediate) assert.equal(Math.floor(code / 100), 3, `${verb} intermediate ${code}`);
    for (const code of fact.replies.temporary) assert.equal(Math.floor(code / 100), 4, `${verb} temporary ${code}`);
    for (const code of fact.replies.permanent) assert.equal(Math.floor(code / 100), 5, `${verb} permanent ${code}`);
    for (const code of allRepliesOf(fact)) assert.ok(REPLY_CODES.has(code), `${verb} can get ${code}, which has no reply code fact`);
    if (fact.requiresKeyword !== undefined) assert.ok(EHLO_KEYWORDS.has(fact.requiresKeyword), `${verb} requires unknown keyword ${fact.requiresKeyword}`);
    for (const note of fact.notes) assert.match(note, /RFC \d+|\.smtp script/, `${verb} note cites no RFC: ${note}`);
  }
});

test('commands: spot checks of RFC 5321 §4.3.2', () => {
  assert.deepEqual(commandFact('DATA')?.replies.intermediate, [354]);
  assert.deepEqual(commandFact('QUIT')?.replies.success, [221]);
  assert.deepEqual(commandFact('STARTTLS')?.replies.success, [220]);
  assert.deepEqual(commandFact('AUTH')?.replies.intermediate, [334]);
  assert.ok(commandFact('RCPT')?.replies.success.includes(251));
  assert.equal(commandFact('BDAT')?.requiresKeyword, 'CHUNKING');
  assert.equal(commandFact('STARTTLS')?.requiresKeyword, 'STARTTLS');
  assert.equal(commandFact('AUTH')?.requiresKeyword, 'AUTH');
  assert.equal(commandFact('ETRN')?.requiresKeyword, 'ETRN');
  assert.equal(commandFact('TURN')?.insecure, true);
  assert.equal(commandFact('LHLO')?.lmtpOnly, true);
  assert.equal(commandFact('QUIT')?.args, 'none');
  assert.equal(commandFact('HELP')?.args, 'optional');
  assert.equal(commandFact('MAIL')?.args, 'required');
  assert.equal(commandFact('MAIL')?.link, 'https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.2');
  assert.match(commandFact('VRFY')?.notes.join(' ') ?? '', /harvest/);
  // RFC 2920 §3.1: MAIL and RCPT may be pipelined, EHLO and DATA end a group.
  assert.equal(commandFact('MAIL')?.endsPipelineGroup, false);
  assert.equal(commandFact('RCPT')?.endsPipelineGroup, false);
  assert.equal(commandFact('EHLO')?.endsPipelineGroup, true);
  assert.equal(commandFact('DATA')?.endsPipelineGroup, true);
});

test('reply codes: every basic code of RFC 5321 §4.2.2 and §4.2.3 is known', () => {
  const basic = [211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455, 500, 501, 502, 503, 504, 550, 551, 552, 553, 554, 555];
  for (const code of basic) assert.ok(REPLY_CODES.has(code), String(code));
  for (const code of [235, 334, 432, 454, 530, 534, 535, 538, 521, 556]) assert.ok(REPLY_CODES.has(code), String(code));
});

test('reply codes: entries are complete, unique and well linked', () => {
  const seen = new Set<number>();
  for (const [code, fact] of REPLY_CODES) {
    assert.equal(code, fact.code);
    assert.ok(!seen.has(code));
    seen.add(code);
    assert.ok(code >= 200 && code <= 599, String(code));
    assert.ok(fact.meaning.length > 0);
    assertLink(String(code), fact.rfc, fact.section, fact.link);
    for (const use of fact.uses) {
      assertLink(`${code} ${use.context}`, use.rfc, use.section, use.link);
      if (use.enhanced !== undefined) {
        assert.ok(isEnhancedCode(use.enhanced), `${code}: ${use.enhanced}`);
        assert.equal(use.enhanced[0], String(code)[0], `${code}: enhanced class ${use.enhanced} differs`);
        assert.ok(enhancedDetailFact(use.enhanced) !== undefined, `${code}: ${use.enhanced} is not registered`);
      }
    }
  }
  assert.equal(seen.size, REPLY_CODES.size);
});

test('reply codes: lookups and spot checks', () => {
  assert.match(replyCodeFact(550)?.meaning ?? '', /mailbox unavailable/);
  assert.match(replyCodeFact('354')?.meaning ?? '', /Start mail input/);
  assert.equal(replyCodeFact('354')?.link, 'https://www.rfc-editor.org/rfc/rfc5321#section-4.2.2');
  assert.equal(replyCodeFact(455)?.section, '4.2.3');
  assert.equal(replyCodeFact(535)?.rfc, 4954);
  assert.ok(replyCodeFact(220)?.uses.some((u) => u.rfc === 3207));
  assert.equal(replyCodeFact(999), undefined);
  assert.equal(replyCodeFact('25'), undefined);
  assert.equal(replyCodeFact(299), undefined);
});

test('reply classes and categories of RFC 5321 §4.2.1', () => {
  assert.match(describeReplyClass(2).name, /Positive Completion/);
  assert.match(describeReplyClass(3).name, /Positive Intermediate/);
  assert.match(describeReplyClass(4).name, /Transient Negative/);
  assert.match(describeReplyClass(5).name, /Permanent Negative/);
  assert.equal(describeReplyClass(1), undefined);
  assert.equal(describeReplyCategory(0)?.name, 'Syntax');
  assert.equal(describeReplyCategory(1)?.name, 'Information');
  assert.equal(describeReplyCategory(2)?.name, 'Connections');
  assert.equal(describeReplyCategory(5)?.name, 'Mail system');
  const unknown = describeReplyCode(259);
  assert.equal(unknown?.class.digit, 2);
  assert.equal(unknown?.category?.name, 'Mail system');
  assert.equal(unknown?.fact, undefined);
  assert.equal(describeReplyCode('612'), undefined);
});

test('enhanced codes: spot checks of the IANA registry', () => {
  const bad = enhancedCodeFact('5.1.1');
  assert.equal(bad?.class.title, 'Permanent Failure');
  assert.equal(bad?.subject?.title, 'Addressing Status');
  assert.equal(bad?.detail?.title, 'Bad destination mailbox address');
  assert.equal(bad?.detail?.rfc, 3463);
  assert.equal(bad?.partial, false);
  assert.match(enhancedCodeFact('5.7.8')?.detail?.title ?? '', /Authentication credentials invalid/);
  assert.equal(enhancedCodeFact('5.7.8')?.detail?.rfc, 4954);
  assert.equal(enhancedCodeFact('4.2.2')?.detail?.title, 'Mailbox full');
  assert.equal(enhancedCodeFact('5.1.10')?.detail?.rfc, 7505);
  assert.equal(enhancedCodeFact('5.7.27')?.detail?.rfc, 7505);
  assert.equal(enhancedCodeFact('5.7.30')?.detail?.rfc, 8689);
  assert.equal(enhancedCodeFact('2.6.10')?.detail?.deprecated, true);
  assert.equal(enhancedCodeFact('2.0.0')?.class.title, 'Success');
});

test('enhanced codes: partial forms, unknown details and invalid text', () => {
  const partial = enhancedCodeFact('5.1.x');
  assert.equal(partial?.partial, true);
  assert.equal(partial?.code, '5.1.x');
  assert.equal(partial?.subject?.title, 'Addressing Status');
  assert.equal(partial?.detail, undefined);
  assert.equal(enhancedCodeFact('4.7.X')?.subject?.title, 'Security or Policy Status');
  const unknown = enhancedCodeFact('5.7.999');
  assert.equal(unknown?.detail, undefined);
  assert.equal(unknown?.subject?.subject, 7);
  assert.equal(enhancedCodeFact('5.9.1')?.subject, undefined);
  for (const text of ['3.1.1', '5.1', '5.01.1', '5.1.1000', 'x.1.1', '', '5.1.1.1']) assert.equal(enhancedCodeFact(text), undefined, text);
  assert.equal(enhancedDetailFact('X.1.1')?.title, 'Bad destination mailbox address');
  assert.ok(isEnhancedCode('2.1.5'));
  assert.ok(!isEnhancedCode('2.1.x'));
});

test('enhanced codes: entries are complete, unique and well linked', () => {
  const seen = new Set<string>();
  for (const [code, fact] of ENHANCED_DETAILS) {
    assert.equal(code, fact.code);
    assert.equal(code, `X.${fact.subject}.${fact.detail}`);
    assert.ok(!seen.has(code), code);
    seen.add(code);
    assert.ok(ENHANCED_SUBJECTS.has(fact.subject), code);
    assert.ok(fact.title.length > 0 && fact.description.length > 0, code);
    assertLink(code, fact.rfc, fact.section, fact.link);
    for (const reply of fact.replyCodes ?? []) assert.ok(reply >= 200 && reply <= 599, `${code}: ${reply}`);
  }
  // Every subject has its X.s.0 "other" detail, and the registry runs X.7.0 to X.7.30 without gaps.
  for (const s of ENHANCED_SUBJECTS.keys()) assert.ok(ENHANCED_DETAILS.has(`X.${s}.0`), `X.${s}.0`);
  for (let d = 0; d <= 30; d++) assert.ok(ENHANCED_DETAILS.has(`X.7.${d}`), `X.7.${d}`);
  for (let d = 0; d <= 10; d++) assert.ok(ENHANCED_DETAILS.has(`X.1.${d}`), `X.1.${d}`);
  for (const s of ENHANCED_SUBJECTS.values()) assertLink(`X.${s.subject}`, s.rfc, s.section, s.link);
});

test('EHLO keywords: lookups and completeness', () => {
  for (const name of ['SIZE', 'PIPELINING', '8BITMIME', 'SMTPUTF8', 'DSN', 'CHUNKING', 'BINARYMIME', 'ENHANCEDSTATUSCODES', 'STARTTLS', 'AUTH', 'ETRN', 'DELIVERBY', 'REQUIRETLS', 'MT-PRIORITY', 'FUTURERELEASE', 'LIMITS', 'PRDR']) {
    assert.equal(ehloKeyword(name.toLowerCase())?.keyword, name, name);
  }
  assert.equal(ehloKeyword('X-UNKNOWN'), undefined);
  for (const [name, fact] of EHLO_KEYWORDS) {
    assert.equal(name, fact.keyword);
    assertLink(name, fact.rfc, fact.section, fact.link);
    assert.equal(fact.status === 'rfc', fact.rfc !== undefined, name);
  }
  assert.deepEqual(ehloKeyword('DSN')?.mailParameters, ['RET', 'ENVID']);
  assert.deepEqual(ehloKeyword('DSN')?.rcptParameters, ['NOTIFY', 'ORCPT']);
  assert.deepEqual(ehloKeyword('CHUNKING')?.commands, ['BDAT']);
});

test('MAIL and RCPT parameters: lookups and required keywords', () => {
  for (const name of ['SIZE', 'BODY', 'SMTPUTF8', 'RET', 'ENVID', 'AUTH', 'REQUIRETLS', 'MT-PRIORITY', 'HOLDFOR', 'BY']) {
    assert.equal(mailParameter(name.toLowerCase())?.name, name, name);
  }
  assert.equal(mailParameter('size=')?.name, 'SIZE');
  assert.equal(rcptParameter('notify')?.keyword, 'DSN');
  assert.equal(rcptParameter('ORCPT')?.keyword, 'DSN');
  assert.equal(mailParameter('NOTIFY'), undefined);
  assert.equal(mailParameter('BODY')?.keyword, '8BITMIME');
  for (const fact of [...MAIL_PARAMETER_FACTS.values(), ...RCPT_PARAMETER_FACTS.values()]) {
    assertLink(fact.name, fact.rfc, fact.section, fact.link);
    assert.ok(EHLO_KEYWORDS.has(fact.keyword), `${fact.name} needs unknown keyword ${fact.keyword}`);
    assert.equal(fact.value === 'none', fact.valueSyntax === '', fact.name);
    for (const value of fact.values ?? []) assert.equal(fact.validate(value), undefined, `${fact.name}=${value}`);
  }
});

test('parameter validators', () => {
  const ok = (p: string, v: string | undefined): void => assert.equal((mailParameter(p) ?? rcptParameter(p))?.validate(v), undefined, `${p}=${v}`);
  const bad = (p: string, v: string | undefined): void => assert.equal(typeof (mailParameter(p) ?? rcptParameter(p))?.validate(v), 'string', `${p}=${v}`);
  ok('SIZE', '1000');
  bad('SIZE', '10k');
  bad('SIZE', undefined);
  bad('SIZE', '123456789012345678901');
  ok('BODY', '8bitmime');
  bad('BODY', '8BIT');
  ok('SMTPUTF8', undefined);
  bad('SMTPUTF8', 'yes');
  ok('RET', 'HDRS');
  bad('RET', 'ALL');
  ok('ENVID', 'QQ314159+2B1');
  bad('ENVID', 'has space');
  bad('ENVID', 'a=b');
  bad('ENVID', 'x'.repeat(101));
  ok('AUTH', '<>');
  ok('AUTH', 'alice@example.test');
  bad('AUTH', 'a+b@example.test');
  ok('MT-PRIORITY', '-3');
  bad('MT-PRIORITY', '10');
  ok('HOLDFOR', '3600');
  ok('HOLDUNTIL', '2030-01-01T12:00:00Z');
  bad('HOLDUNTIL', 'tomorrow');
  ok('BY', '120;R');
  ok('BY', '-5;NT');
  bad('BY', '120');
  ok('NOTIFY', 'NEVER');
  ok('NOTIFY', 'SUCCESS,FAILURE,DELAY');
  ok('NOTIFY', 'failure');
  bad('NOTIFY', 'NEVER,SUCCESS');
  bad('NOTIFY', 'SUCCESS,SUCCESS');
  bad('NOTIFY', 'ALWAYS');
  bad('NOTIFY', undefined);
  ok('ORCPT', 'rfc822;bob@example.test');
  ok('ORCPT', 'utf-8;bob@example.test');
  bad('ORCPT', 'bob@example.test');
  bad('ORCPT', 'rfc822;');
  ok('RRVS', '2014-04-03T23:01:00Z;C');
  bad('RRVS', '2014-04-03T23:01:00Z;X');
  assert.match(validateParameter('RCPT', 'NOTIFY=NEVER,SUCCESS') ?? '', /NEVER/);
  assert.equal(validateParameter('MAIL', 'SIZE=12'), undefined);
  assert.match(validateParameter('MAIL', 'FOO=1') ?? '', /not a known MAIL parameter/);
});

test('xtext encoding (RFC 3461 §4)', () => {
  assert.ok(isXtext('abc+2B'));
  assert.ok(!isXtext('abc+2b'));
  assert.ok(!isXtext('a b'));
  assert.equal(decodeXtext('a+2Bb+3Dc'), 'a+b=c');
  assert.equal(decodeXtext('a b'), undefined);
  assert.equal(encodeXtext('a+b=c d'), 'a+2Bb+3Dc+20d');
  assert.equal(decodeXtext(encodeXtext('ü@example.test')), Buffer.from('ü@example.test', 'utf8').toString('latin1'));
});

test('AUTH mechanisms', () => {
  assert.equal(authMechanism('plain')?.cleartext, true);
  assert.equal(authMechanism('LOGIN')?.cleartext, true);
  assert.equal(authMechanism('CRAM-MD5')?.cleartext, false);
  assert.equal(authMechanism('XOAUTH2')?.performed, true);
  assert.equal(authMechanism('SCRAM-SHA-256')?.performed, false);
  assert.equal(authMechanism('OAUTHBEARER')?.rfc, 7628);
  assert.equal(authMechanism('NOPE'), undefined);
  for (const [name, fact] of AUTH_MECHANISMS) {
    assert.equal(name, fact.name);
    assertLink(name, fact.rfc, fact.section, fact.link);
  }
});

test('the script vocabulary: the engine performs exactly the mechanisms the facts mark as performed', () => {
  const performed = [...AUTH_MECHANISMS.values()].filter((f) => f.performed).map((f) => f.name).sort();
  assert.deepEqual([...ENGINE_AUTH_MECHANISMS].sort(), performed);
});

test('the script vocabulary: every timeout phase but "all" sets one field of the plan, each field once', () => {
  assert.deepEqual(TIMEOUT_PHASES.filter((p) => !TIMEOUT_PHASE_FIELDS.has(p)), ['all']);
  const fields = [...TIMEOUT_PHASE_FIELDS.values()];
  assert.equal(new Set(fields).size, fields.length);
  assert.deepEqual([...fields].sort(), Object.keys(DEFAULT_TIMEOUTS).sort());
});
