// The outside tester's findings on the capture server's rules and API (session 22): a rule's SIZE
// over the server's limit, case-insensitive domains in greylisting and attempts, case-insensitive
// auth schemes and Host names, strict wait filters, a made-up Date, and reply text and codes the
// checker must refuse. Each test failed on the code before the fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { inboxCommand } from '../../client/src/cli/inboxCommand';
import { serveCommand } from '../../client/src/cli/serveCommand';
import type { CliIo } from '../../client/src/cli/cliIo';
import { startCaptureApi } from '../../client/src/localServer/captureApi';
import { parseRfc3339 } from '../../client/src/localServer/apiFilter';
import { CaptureRuleEngine, type RuleEvent } from '../../client/src/localServer/captureRuleEngine';
import type { CaptureServer } from '../../client/src/localServer';
import { parseCaptureRules, sizeLimitProblems } from '../../common/captureRules';
import { runSession } from '../../client/src/engine';
import { makeTempDir, removeTempDir } from '../peers/process';
import { cmd, data, makePlan, until, why, withCaptureServer } from './support';

function cliIo(cwd: string, signal?: AbortSignal): { io: CliIo & { signal?: AbortSignal }; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { io: { stdout, stderr, env: {}, cwd, signal }, out: () => out, err: () => err };
}

async function withApi(options: { token?: string; sizeLimit?: number; serverSizeLimit?: number }, fn: (server: CaptureServer, url: string) => Promise<void>): Promise<void> {
  await withCaptureServer({ tls: false, sizeLimit: options.serverSizeLimit }, async (server) => {
    const api = await startCaptureApi(server, { port: 0, token: options.token, sizeLimit: options.sizeLimit });
    try {
      await fn(server, api.url);
    } finally {
      await api.stop();
    }
  });
}

const sizeRule = JSON.stringify({ rules: [{ name: 'big size', extensions: { size: 20000 } }] });

test('rules-size-over-limit: a rule may not advertise a SIZE the server refuses (RFC 1870 §4, §6)', () => {
  const parsed = parseCaptureRules(sizeRule);
  assert.deepEqual(parsed.problems, [], 'without a known limit the file itself is fine (the language server cannot know the limit)');
  const problems = sizeLimitProblems(parsed.rules, 10000);
  assert.deepEqual(problems.map((p) => [p.code, p.severity]), [['rules-size-over-limit', 'error']]);
  assert.match(problems[0].message, /rule "big size" advertises SIZE 20000, but the server refuses messages over 10000 octets/);
  assert.deepEqual(sizeLimitProblems(parsed.rules, 20000), [], 'equal to the limit is truthful');
  assert.deepEqual(sizeLimitProblems(parsed.rules, 0), [], 'a server without a limit accepts any size');
  const advertised = parseCaptureRules(JSON.stringify({ rules: [{ extensions: { advertise: ['SIZE'] } }, { extensions: { advertise: ['SIZE 30000'] } }] }));
  assert.deepEqual(
    sizeLimitProblems(advertised.rules, 10000).map((p) => /advertises (SIZE[^,]*),/.exec(p.message)?.[1]),
    ['SIZE without a limit', 'SIZE 30000'],
    'a SIZE line in "advertise" is held to the limit too',
  );
});

test('serve --rules: a rule SIZE above --size-limit is a usage error at start, and a reload keeps the earlier rules', async () => {
  const dir = makeTempDir('rules-size');
  try {
    writeFileSync(join(dir, 'rules.json'), sizeRule);
    // Stopped if it starts after all, so the test fails rather than waits.
    const stop = new AbortController();
    const refused = cliIo(dir, stop.signal);
    let finished = false;
    const exit = serveCommand(['--port', '0', '--no-tls', '--no-verify', '--dir', 'box', '--size-limit', '10000', '--rules', 'rules.json'], refused.io).finally(() => (finished = true));
    while (!finished) {
      if (/listening/.test(refused.out())) stop.abort();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await exit, 2, refused.err());
    assert.match(refused.err(), /rules\.json:\d+:\d+ error rules-size-over-limit rule "big size" advertises SIZE 20000, but the server refuses messages over 10000 octets/);
    assert.doesNotMatch(refused.out(), /listening/);

    // Started with a truthful rule; a reload that goes over the limit is refused and logged.
    writeFileSync(join(dir, 'rules.json'), JSON.stringify({ rules: [{ name: 'small size', extensions: { size: 5000 } }] }));
    const controller = new AbortController();
    const serve = cliIo(dir, controller.signal);
    const running = serveCommand(['--port', '0', '--no-tls', '--no-verify', '--dir', 'box', '--size-limit', '10000', '--rules', 'rules.json'], serve.io);
    try {
      const [, host, port] = await until(serve.out, /listening on (\S+):(\d+)/);
      writeFileSync(join(dir, 'rules.json'), sizeRule);
      await until(serve.err, /has errors; the earlier rules stay in force/);
      assert.match(serve.err(), /error rules-size-over-limit/);
      const result = await runSession(makePlan({ steps: [cmd('EHLO c.example.test'), cmd('QUIT')] }), { localTarget: { host, port: Number(port) } });
      assert.equal(result.ok, true, why(result));
      const ehlo = result.steps[0].reply?.lines.join('\n') ?? '';
      assert.match(ehlo, /SIZE 5000/);
      assert.doesNotMatch(ehlo, /SIZE 20000/);
    } finally {
      controller.abort();
      assert.equal(await running, 0);
    }
  } finally {
    removeTempDir(dir);
  }
});

test('PUT /api/v1/rules: a rule SIZE above the server limit is 422 with rules-size-over-limit, and the earlier rules stay', async () => {
  await withApi({ sizeLimit: 10000, serverSizeLimit: 10000 }, async (server, url) => {
    const response = await fetch(`${url}/api/v1/rules`, { method: 'PUT', body: sizeRule });
    assert.equal(response.status, 422);
    const body = (await response.json()) as { problems: Array<{ code: string; message: string }> };
    assert.deepEqual(body.problems.map((p) => p.code), ['rules-size-over-limit']);
    assert.match(body.problems[0].message, /SIZE 20000.*10000 octets/);
    assert.equal(server.rules.rules.length, 0);
    const fits = await fetch(`${url}/api/v1/rules`, { method: 'PUT', body: JSON.stringify({ rules: [{ extensions: { size: 9000 } }] }) });
    assert.equal(fits.status, 200);
  });
});

test('greylisting and attempt counts treat the domain case-insensitively, the local part as written (RFC 5321 §2.4)', () => {
  let now = 0;
  const rules = parseCaptureRules(
    JSON.stringify({
      rules: [
        { name: 'grey', greylist: { retryAfter: 0 } },
        { name: 'second MAIL', when: { command: 'MAIL', attempt: 2 }, reply: '451 4.3.0 Second time' },
      ],
    }),
  );
  assert.deepEqual(rules.problems, []);
  const engine = new CaptureRuleEngine(rules.rules.rules, () => now);
  const rcpt = (sender: string, recipient: string): string | undefined =>
    engine.decide({ command: 'RCPT', client: '127.0.0.1', sender, recipient, tls: false, authenticated: false }).reply?.text;
  assert.match(rcpt('a@sender.example', 'b@partner.example') ?? '', /Greylisted/);
  now = 1000;
  assert.equal(rcpt('a@SENDER.Example', 'b@PARTNER.EXAMPLE'), undefined, 'the same triplet with the domains in another case has passed');
  assert.match(rcpt('a@sender.example', 'B@partner.example') ?? '', /Greylisted/, 'another local part is another recipient');

  const mail = (sender: string): string | undefined => engine.decide({ command: 'MAIL', client: '127.0.0.1', sender, tls: false, authenticated: false } as RuleEvent).reply?.text;
  assert.equal(mail('x@Example.TEST'), undefined);
  assert.equal(mail('x@example.test'), '451 4.3.0 Second time'.slice(4), 'the second attempt, with the domain in another case');
});

/** A GET with headers of our choosing (fetch does not let one set Host). */
function rawGet(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((done, fail) => {
    const req = request(`${url}/api/v1/messages`, { headers }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('error', fail);
    req.end();
  });
}

test('API: the bearer scheme and the Host name are case-insensitive (RFC 7235 §2.1, RFC 3986 §3.2.2)', async () => {
  await withApi({ token: 'S3cret-token' }, async (_server, url) => {
    const port = new URL(url).port;
    const host = `localhost:${port}`;
    assert.equal(await rawGet(url, { host, authorization: 'bearer S3cret-token' }), 200);
    assert.equal(await rawGet(url, { host, authorization: 'BEARER S3cret-token' }), 200);
    assert.equal(await rawGet(url, { host: `LOCALHOST:${port}`, authorization: 'Bearer S3cret-token' }), 200);
    assert.equal(await rawGet(url, { host: `LocalHost:${port}`, authorization: 'Bearer S3cret-token' }), 200);
    // The token itself stays case-sensitive, and a shorter or longer one is refused the same way.
    assert.equal(await rawGet(url, { host, authorization: 'Bearer s3cret-token' }), 401);
    assert.equal(await rawGet(url, { host, authorization: 'Bearer S3cret-tok' }), 401);
    assert.equal(await rawGet(url, { host, authorization: 'Bearer S3cret-token-and-more' }), 401);
    assert.equal(await rawGet(url, { host, authorization: 'Basic S3cret-token' }), 401);
    assert.equal(await rawGet(url, { host: `evil.example:${port}`, authorization: 'Bearer S3cret-token' }), 403);
  });
});

function send(server: CaptureServer, subject: string, date = 'Sun, 06 Dec 2026 09:15:00 +0000') {
  return runSession(
    makePlan({
      steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), data(['From: <a@example.test>', 'To: <b@example.test>', `Subject: ${subject}`, `Date: ${date}`, '', 'body']), cmd('QUIT')],
    }),
    { localTarget: { host: server.host, port: server.port } },
  );
}

test('API wait and list: unknown or repeated parameters and a since that is not RFC 3339 with an offset are 400', async () => {
  await withApi({}, async (server, url) => {
    assert.equal((await send(server, 'one')).ok, true);
    const status = async (query: string): Promise<[number, string]> => {
      const response = await fetch(`${url}/api/v1/${query}`);
      return [response.status, ((await response.json()) as { error?: string }).error ?? ''];
    };
    const [typo, typoText] = await status('wait?recipient=x&timeout=0');
    assert.equal(typo, 400);
    assert.match(typoText, /unknown query parameter "recipient"/);
    assert.equal((await status('messages?form=a'))[0], 400);
    assert.match((await status('wait?to=a&to=b&timeout=0'))[1], /"to" is given twice/);
    for (const since of ['0', 'Dec 6 2026', '2026-12-06T09:15:00', '2026-12-06', '2026-02-30T00:00:00Z', '2026-12-06T24:00:00Z']) {
      const [code, text] = await status(`wait?since=${encodeURIComponent(since)}&timeout=0`);
      assert.equal(code, 400, since);
      assert.match(text, /RFC 3339 date-time with an offset/, since);
    }
    assert.equal((await status(`wait?since=${encodeURIComponent('2000-01-01T00:00:00+01:00')}&timeout=0`))[0], 200);
    assert.equal((await status(`messages?since=${encodeURIComponent('2000-01-01T00:00:00.5Z')}`))[0], 200);
  });
  assert.equal(parseRfc3339('2026-12-06T10:15:00+01:00')?.toISOString(), '2026-12-06T09:15:00.000Z');
  assert.equal(parseRfc3339('2026-12-06t09:15:00.25z')?.toISOString(), '2026-12-06T09:15:00.250Z');
  assert.equal(parseRfc3339('2024-02-29T00:00:00-00:30')?.toISOString(), '2024-02-29T00:30:00.000Z');
});

test('smtpwb inbox wait --since yesterday is a usage error (2), found before the API is called', async () => {
  const dir = makeTempDir('inbox-since');
  try {
    const run = cliIo(dir);
    // No API listens on port 9 (discard): a call would be exit 3.
    assert.equal(await inboxCommand(['wait', '--since', 'yesterday', '--api', 'http://127.0.0.1:9'], run.io), 2, run.err());
    assert.match(run.err(), /--since must be an RFC 3339 date-time with an offset.*"yesterday"/);
  } finally {
    removeTempDir(dir);
  }
});

test('GET …/parsed: date is null when the Date header does not parse (RFC 5322 §3.3), the header time when it does', async () => {
  await withApi({}, async (server, url) => {
    assert.equal((await send(server, 'bad date', 'not a date')).ok, true);
    assert.equal((await send(server, 'good date', 'Sun, 6 Dec 2026 10:15:00 +0100')).ok, true);
    const list = (await (await fetch(`${url}/api/v1/messages`)).json()) as { messages: Array<{ id: string; subject: string }> };
    const dateOf = async (subject: string): Promise<unknown> => {
      const id = list.messages.find((m) => m.subject === subject)?.id;
      return ((await (await fetch(`${url}/api/v1/messages/${id}/parsed`)).json()) as { date: unknown }).date;
    };
    assert.equal(await dateOf('bad date'), null);
    assert.equal(await dateOf('good date'), '2026-12-06T09:15:00.000Z');
  });
});

test('the rules checker refuses non-ASCII reply text and codes with a second digit over 5 (RFC 5321 §4.2, §4.2.1)', () => {
  const check = (reply: string): Array<[string, string]> => parseCaptureRules(JSON.stringify({ rules: [{ when: { command: 'RCPT' }, reply }] })).problems.map((p) => [p.code, p.message]);
  const ascii = check('550 5.1.1 Adresse inconnue: café');
  assert.deepEqual(ascii.map(([c]) => c), ['rules-reply-ascii']);
  assert.match(ascii[0][1], /"é" \(U\+00E9\) at character 28 of the text/);
  const code = check('599 5.9.9 Odd');
  assert.deepEqual(code.map(([c]) => c), ['rules-reply-code']);
  assert.match(code[0][1], /599 is not a reply code: its second digit is a category from 0 to 5/);
  assert.deepEqual(check('554 5.9.9 Odd subject').map(([c]) => c), ['rules-reply-enhanced'], 'an undefined enhanced subject is a warning');
  assert.deepEqual(check('451 4.7.1 Try\tlater'), [], 'a tab is allowed in textstring');
  assert.deepEqual(check('550 5.1.1 No such user'), []);
});

test('a server-worded reply names a rule with a non-ASCII name in ASCII', () => {
  const rules = parseCaptureRules(JSON.stringify({ rules: [{ name: 'Grauliste für Partner', greylist: true }] }));
  const engine = new CaptureRuleEngine(rules.rules.rules, () => 0);
  const text = engine.decide({ command: 'RCPT', client: '127.0.0.1', sender: 'a@x.example', recipient: 'b@y.example', tls: false, authenticated: false }).reply?.text ?? '';
  assert.match(text, /\(rule "Grauliste f\?r Partner"\)$/);
  assert.match(text, /^[\t\x20-\x7e]*$/);
});
