/**
 * CONNECT targets: a host is an LDH name whose `xn--` labels are valid A-labels, an internationalised
 * name that converts to one, or an IP literal. The linter, the language service and the engine all
 * read the target with the one parser (common/connectTarget.ts), so a host the linter refuses never
 * reaches a socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHostName, parseConnectTarget } from '../../common/connectTarget';
import { runSession } from '../../client/src/engine';
import { LanguageService } from '../../server/src/languageService';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { cmd, makePlan } from './plan';

const VALID = [
  'mail.example.test',
  'MAIL.Example.Test.',
  'xn--bcher-kva.example',
  'XN--BCHER-KVA.example',
  'bücher.example',
  'münchen.example',
  'é',
  '_submission._tcp.example.test',
  'a-b.example',
  `${'a'.repeat(63)}.example`,
];

const INVALID = [
  'xn--!!!$$$%%%',
  'é|**DANE-verified**|',
  'xn--',
  'xn--a',
  'xn--abc.example',
  // Decodes to "ab", which holds no non-ASCII character: no U-label, so no A-label either.
  'xn--ab-.example',
  'xn--bcher-kva-.example',
  'é*.example',
  'bü!cher.example',
  'a*b.example',
  '-a.example',
  'a-.example',
  'a..example',
  // Two labels from one: the ideographic full stop maps to "." in UTS #46.
  'a\u3002b',
  `${'a'.repeat(64)}.example`,
  // 61 characters, but its A-label has 68.
  `${'a'.repeat(60)}é.example`,
  `${'abcdefghi.'.repeat(26)}example`,
];

test('host names: LDH labels, valid A-labels and U-labels that convert to one are accepted', () => {
  for (const host of VALID) assert.equal(checkHostName(host), undefined, host);
});

test('host names: an xn-- label that is no A-label, or a non-ASCII label with other characters, is refused', () => {
  for (const host of INVALID) assert.notEqual(checkHostName(host), undefined, host);
});

test('CONNECT: the reported targets fail with the syntax problem, at the host; IP literals still pass', () => {
  for (const url of ['smtp://xn--!!!$$$%%%', 'smtps://é|**DANE-verified**|', 'mx:xn--zz', 'submission://xn--bcher-kva-.example:587']) {
    const parsed = parseConnectTarget(url);
    assert.equal(parsed.ok, false, url);
    if (!parsed.ok) assert.ok(parsed.start >= url.indexOf(':') && parsed.end <= url.length, `${url}: ${parsed.start}-${parsed.end}`);
  }
  for (const url of ['smtp://127.0.0.1:2525', 'smtps://[::1]', 'smtp://xn--bcher-kva.example', 'smtps://bücher.example', 'mx:bücher.example']) {
    assert.equal(parseConnectTarget(url).ok, true, url);
  }
});

test('CONNECT: the linter reports smtp-connect-url for the reported scripts', () => {
  const service = new LanguageService();
  for (const [i, url] of ['smtp://xn--!!!$$$%%%', 'smtps://é|**DANE-verified**|'].entries()) {
    const document = TextDocument.create(`file:///tmp/connect-${i}.smtp`, 'smtp', 1, `CONNECT ${url}\nEHLO a.example.test\nQUIT\n`);
    const codes = service.problems(document).map((p) => p.code);
    assert.ok(codes.includes('smtp-connect-url'), `${url}: ${codes.join(', ')}`);
  }
});

test('CONNECT: the engine refuses the host as a script error and never connects', async () => {
  for (const connect of ['smtp://xn--!!!$$$%%%', 'smtps://é|**DANE-verified**|']) {
    const result = await runSession(makePlan({ connect, steps: [cmd('EHLO a.example.test')] }), { timeouts: { connect: 1000 } });
    assert.equal(result.failure?.kind, 'script', `${connect}: ${result.failure?.kind}: ${result.failure?.message}`);
    assert.match(result.failure?.message ?? '', /CONNECT/);
    assert.ok(!result.transcript.some((e) => e.dir === 'server' || e.dir === 'client'), JSON.stringify(result.transcript));
  }
});
