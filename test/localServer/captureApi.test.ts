// The capture server's HTTP API for tests (docs/capture-api.yaml), through a real HTTP client
// (Node's fetch, and node:http where a Host header must be forged), and `smtpwb inbox` on top of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { inboxCommand } from '../../client/src/cli/inboxCommand';
import { serveCommand } from '../../client/src/cli/serveCommand';
import type { CliIo } from '../../client/src/cli/cliIo';
import { startCaptureApi } from '../../client/src/localServer/captureApi';
import type { CaptureServer } from '../../client/src/localServer';
import { runSession } from '../../client/src/engine';
import { makeTempDir, removeTempDir } from '../peers/process';
import { repoRoot } from '../peers/require';
import { cmd, data, makePlan, sendLocal, why, withCaptureServer } from './support';

// inboxCommand fits main.ts's command table.
const asMainCommand: (args: string[], io: CliIo) => Promise<number> = inboxCommand;
void asMainCommand;

function send(server: { host: string; port: number }, from: string, to: string, subject: string, extra: string[] = []) {
  return runSession(
    makePlan({ steps: [cmd('EHLO c.example.test'), cmd(`MAIL FROM:<${from}>`), cmd(`RCPT TO:<${to}>`), data([`From: <${from}>`, `To: <${to}>`, `Subject: ${subject}`, ...extra, '', 'body']), cmd('QUIT')] }),
    { localTarget: { host: server.host, port: server.port } },
  );
}

async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

interface Summary {
  id: string;
  subject: string | null;
  envelope: { mailFrom: string; rcptTo: string[] } | null;
  rules: Array<{ name: string }>;
}

async function withApi(fn: (server: CaptureServer, url: string) => Promise<void>, token?: string): Promise<void> {
  await withCaptureServer({ tls: false }, async (server) => {
    const api = await startCaptureApi(server, { port: 0, token });
    try {
      await fn(server, api.url);
    } finally {
      await api.stop();
    }
  });
}

test('API: list with filters, get, raw, parsed, delete and clear', async () => {
  await withApi(async (server, url) => {
    assert.deepEqual(await json(await fetch(`${url}/api/v1/messages`)), { messages: [] });
    assert.equal((await send(server, 'alice@example.test', 'bob@example.test', 'first')).ok, true);
    const second = await send(server, 'carol@example.test', 'dave@example.test', 'second =?UTF-8?Q?caf=C3=A9?=', ['MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8']);
    assert.equal(second.ok, true, why(second));
    const all = await json<{ messages: Summary[] }>(await fetch(`${url}/api/v1/messages`));
    assert.deepEqual(all.messages.map((m) => m.subject), ['second café', 'first']);
    const filtered = await json<{ messages: Summary[] }>(await fetch(`${url}/api/v1/messages?to=BOB@example&subject=fir`));
    assert.deepEqual(filtered.messages.map((m) => m.subject), ['first']);
    const id = filtered.messages[0].id;
    const one = await json<Summary>(await fetch(`${url}/api/v1/messages/${id}`));
    assert.equal(one.envelope?.mailFrom, 'alice@example.test');
    const raw = await fetch(`${url}/api/v1/messages/${id}/raw`);
    assert.equal(raw.headers.get('content-type'), 'message/rfc822');
    assert.equal(Buffer.from(await raw.arrayBuffer()).toString('latin1'), readFileSync((await server.get(id))!.path, 'latin1'));
    const parsed = await json<{ subject: string; from: Array<{ address: string }>; text: string; headers: Array<{ name: string }> }>(
      await fetch(`${url}/api/v1/messages/${all.messages[0].id}/parsed`),
    );
    assert.equal(parsed.subject, 'second café');
    assert.deepEqual(parsed.from.map((a) => a.address), ['carol@example.test']);
    assert.equal(parsed.text, 'body\n');
    assert.ok(parsed.headers.some((h) => h.name === 'mime-version'));
    assert.equal((await fetch(`${url}/api/v1/messages/${id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${url}/api/v1/messages/${id}`, { method: 'DELETE' })).status, 404);
    assert.equal((await fetch(`${url}/api/v1/messages/${id}/raw`)).status, 404);
    assert.equal((await fetch(`${url}/api/v1/messages/../../etc/passwd`)).status, 404);
    assert.deepEqual(await json(await fetch(`${url}/api/v1/messages`, { method: 'DELETE' })), { deleted: 1 });
    assert.equal((await fetch(`${url}/api/v1/rules`, { method: 'POST' })).status, 405);
  });
});

test('API: wait returns a stored match at once, waits for a new one, and times out with 408', async () => {
  await withApi(async (server, url) => {
    assert.equal((await send(server, 'a@example.test', 'b@example.test', 'already here')).ok, true);
    const present = await json<Summary>(await fetch(`${url}/api/v1/wait?subject=already&timeout=5000`));
    assert.equal(present.subject, 'already here');
    const pending = fetch(`${url}/api/v1/wait?to=late@example.test&timeout=20000`);
    // The wait is registered before the message is sent: let the request reach the server.
    await new Promise((r) => setTimeout(r, 100));
    let stored: Date | undefined;
    const subscription = server.onMessage((m) => (stored ??= new Date()));
    assert.equal((await send(server, 'a@example.test', 'late@example.test', 'late one')).ok, true);
    const late = await pending;
    const answered = new Date();
    subscription.dispose();
    assert.equal(late.status, 200);
    assert.equal((await json<Summary>(late)).subject, 'late one');
    assert.ok(stored !== undefined && answered >= stored);
    const timeout = await fetch(`${url}/api/v1/wait?subject=never&timeout=50`);
    assert.equal(timeout.status, 408);
    assert.match((await json<{ error: string }>(timeout)).error, /no matching message within 50 ms/);
    assert.equal((await fetch(`${url}/api/v1/wait?timeout=abc`)).status, 400);
  });
});

test('API: rules can be read and replaced; rules with errors are refused with their problems (422)', async () => {
  await withApi(async (server, url) => {
    const good = JSON.stringify({ rules: [{ name: 'no bob', when: { command: 'RCPT', recipient: 'bob@*' }, reply: '550 5.1.1 No bob here' }] });
    const put = await fetch(`${url}/api/v1/rules`, { method: 'PUT', body: good, headers: { 'content-type': 'application/json' } });
    assert.equal(put.status, 200);
    assert.deepEqual(await json(put), { rules: 1, problems: [] });
    assert.equal((await json<{ rules: unknown[] }>(await fetch(`${url}/api/v1/rules`))).rules.length, 1);
    const refused = await sendLocal(server, makePlan({ steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<bob@example.test>', '550 5.1.1'), cmd('QUIT')] }));
    assert.equal(refused.ok, true, why(refused));
    const bad = await fetch(`${url}/api/v1/rules`, { method: 'PUT', body: '{"rules": [{"reply": "250 ok"}]}' });
    assert.equal(bad.status, 422);
    const body = await json<{ problems: Array<{ code: string }> }>(bad);
    assert.deepEqual(body.problems.map((p) => p.code), ['rules-reply-code']);
    assert.equal(server.rules.rules.length, 1, 'the earlier rules stay');
  });
});

/** A request with a Host header of our choosing (fetch does not let one set it). */
function rawGet(url: string, host: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((done, fail) => {
    const req = request(`${url}/api/v1/messages`, { headers: { host, ...headers } }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('error', fail);
    req.end();
  });
}

test('API safety: a foreign Host header is refused (DNS rebinding); a token is required when set', async () => {
  await withApi(async (_server, url) => {
    assert.equal(await rawGet(url, 'evil.example:80'), 403);
    assert.equal(await rawGet(url, `localhost:${new URL(url).port}`), 200);
    assert.equal(await rawGet(url, `[::1]:${new URL(url).port}`), 200);
    const noCors = await fetch(`${url}/api/v1/messages`, { headers: { origin: 'https://evil.example' } });
    assert.equal(noCors.headers.get('access-control-allow-origin'), null);
  });
  await withApi(async (_server, url) => {
    const without = await fetch(`${url}/api/v1/messages`);
    assert.equal(without.status, 401);
    assert.equal(without.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await fetch(`${url}/api/v1/messages`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    assert.equal((await fetch(`${url}/api/v1/messages`, { headers: { authorization: 'Bearer t0ken' } })).status, 200);
  }, 't0ken');
});

function io(cwd: string, env: NodeJS.ProcessEnv = {}, signal?: AbortSignal): { io: CliIo & { signal?: AbortSignal }; out: () => string; err: () => string; waitOut(re: RegExp): Promise<RegExpExecArray> } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString('latin1')));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return {
    io: { stdout, stderr, env, cwd, signal },
    out: () => out,
    err: () => err,
    async waitOut(re) {
      for (let i = 0; i < 300; i++) {
        const m = re.exec(out);
        if (m) return m;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no ${re} in ${out} / ${err}`);
    },
  };
}

test('smtpwb serve --api with --rules, and smtpwb inbox list, get, wait, delete and clear through it', async () => {
  const dir = makeTempDir('inbox-cli');
  const controller = new AbortController();
  const serve = io(dir, {}, controller.signal);
  writeFileSync(join(dir, 'rules.json'), readFileSync(join(repoRoot(), 'test', 'localServer', 'fixtures', 'capture-rules.json')));
  writeFileSync(join(dir, 'token'), 'tok-123\n');
  const running = serveCommand(['--port', '0', '--no-tls', '--dir', 'box', '--no-verify', '--api', '0', '--api-token-file', 'token', '--rules', 'rules.json'], serve.io);
  try {
    const [, host, port] = await serve.waitOut(/listening on (\S+):(\d+)/);
    const [, api] = await serve.waitOut(/API on (http:\/\/\S+) \(bearer token required\)/);
    assert.match(serve.out(), /9 behaviour rules from .*rules\.json/);
    const env = { SMTPWB_API_URL: api };
    const withToken = ['--token-file', join(dir, 'token')];
    const denied = io(dir, env);
    assert.equal(await inboxCommand(['list'], denied.io), 3);
    assert.match(denied.err(), /401.*bearer token/);

    // The fixture requires STARTTLS before MAIL (this server has none, so a rule answers 530) and
    // hangs up on QUIT without a reply.
    const refused = await runSession(makePlan({ steps: [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>', '530 5.7.0'), cmd('QUIT')] }), {
      localTarget: { host, port: Number(port) },
    });
    assert.equal(refused.steps[1].reply?.code, 530, why(refused));
    assert.equal(refused.failure?.kind, 'connection', 'QUIT was answered by closing the connection');
    assert.match(serve.err(), /rule "TLS first" \(require\) at MAIL: 530 5\.7\.0/);
    assert.match(serve.err(), /rule "hang up on QUIT" \(close\) at QUIT/);
    const apiUrl = new URL(api);
    assert.equal((await fetch(`${api}/api/v1/rules`, { method: 'PUT', body: '{"rules": []}', headers: { authorization: 'Bearer tok-123', host: apiUrl.host } })).status, 200);

    const waiting = io(dir, env);
    const waited = inboxCommand(['wait', '--to', 'bob@example.test', '--timeout', '20000', ...withToken], waiting.io);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await send({ host, port: Number(port) }, 'alice@example.test', 'bob@example.test', 'for \u001b[31mbob')).ok, true);
    assert.equal(await waited, 0, waiting.err());
    assert.match(waiting.out(), /^[0-9a-f]+ \S+ from <alice@example\.test> to <bob@example\.test> subject "for \\u001b\[31mbob"/);
    assert.ok(!waiting.out().includes('\u001b'), 'terminal controls from the message are escaped');
    const id = waiting.out().split(' ')[0];

    const list = io(dir, env);
    assert.equal(await inboxCommand(['list', '--json', ...withToken], list.io), 0);
    const listed = JSON.parse(list.out()) as Summary[];
    assert.deepEqual(listed.map((m) => m.id), [id]);
    const raw = io(dir, env);
    assert.equal(await inboxCommand(['get', id, '--raw', ...withToken], raw.io), 0);
    assert.match(raw.out(), /^From: <alice@example\.test>\r\n/);
    const timeout = io(dir, env);
    assert.equal(await inboxCommand(['wait', '--subject', 'never', '--timeout', '50', ...withToken], timeout.io), 1);
    assert.match(timeout.err(), /no matching message within 50 ms/);
    const del = io(dir, env);
    assert.equal(await inboxCommand(['delete', id, ...withToken], del.io), 0);
    const gone = io(dir, env);
    assert.equal(await inboxCommand(['get', id, ...withToken], gone.io), 1);
    const clear = io(dir, env);
    assert.equal(await inboxCommand(['clear', ...withToken], clear.io), 0);
    assert.equal(clear.out(), 'deleted 0 messages\n');
    const usage = io(dir, env);
    assert.equal(await inboxCommand(['frobnicate'], usage.io), 2);
    const unreachable = io(dir, {});
    assert.equal(await inboxCommand(['list', '--api', 'http://127.0.0.1:1'], unreachable.io), 3);
    assert.match(unreachable.err(), /cannot reach the API/);
  } finally {
    controller.abort();
    assert.equal(await running, 0);
    removeTempDir(dir);
  }
});

test('serve --api on a non-loopback address without a token is a usage error; a rules file with errors starts nothing', async () => {
  const dir = makeTempDir('inbox-cli');
  try {
    const open = io(dir);
    assert.equal(await serveCommand(['--port', '0', '--api', '0', '--api-host', '0.0.0.0'], open.io), 2);
    assert.match(open.err(), /not loopback: it needs a token/);
    writeFileSync(join(dir, 'bad.json'), '{\n  "rules": [\n    {"when": {"command": "RCPT"}, "reply": "250 fine"}\n  ]\n}\n');
    const bad = io(dir);
    assert.equal(await serveCommand(['--port', '0', '--dir', 'box', '--rules', 'bad.json'], bad.io), 2);
    assert.match(bad.err(), /bad\.json:3:44 error rules-reply-code a rule refuses or defers/);
    assert.deepEqual(
      (await import('node:fs')).readdirSync(dir).sort(),
      ['bad.json'],
      'nothing was created',
    );
  } finally {
    removeTempDir(dir);
  }
});

test('every path and method in docs/capture-api.yaml is served, and nothing else under /api/v1', async () => {
  const yaml = readFileSync(join(repoRoot(), 'docs', 'capture-api.yaml'), 'utf8');
  const documented: Array<[string, string]> = [];
  let current: string | undefined;
  for (const line of yaml.split('\n')) {
    const path = /^ {2}(\/api\/v1\/\S+):$/.exec(line);
    if (path) current = path[1];
    else if (/^\S/.test(line)) current = undefined;
    const method = /^ {4}(get|put|delete|post):$/.exec(line);
    if (current && method) documented.push([method[1].toUpperCase(), current]);
  }
  assert.equal(documented.length, 9, JSON.stringify(documented));
  await withApi(async (server, url) => {
    for (const [method, path] of documented) {
      // A fresh message for each request, since some delete it.
      assert.equal((await send(server, 'a@example.test', 'b@example.test', 'x')).ok, true);
      const id = (await server.list())[0].id;
      const target = `${url}${path.replace('{id}', id)}${path.endsWith('wait') ? '?timeout=0' : ''}`;
      const response = await fetch(target, { method, body: method === 'PUT' ? '{"rules": []}' : undefined });
      assert.ok(response.status < 300, `${method} ${path}: ${response.status}`);
      await response.arrayBuffer();
    }
    assert.equal((await fetch(`${url}/api/v1/nothing`)).status, 404);
  });
});

/** A request with any method and a path sent exactly as given (fetch and URL would resolve its dot segments). */
function rawRequest(url: string, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const { hostname, port } = new URL(url);
    const req = request({ host: hostname, port, method, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

test('API: a request for one message never reaches the collection (an empty id, a dot segment, a backslash)', async () => {
  await withApi(async (server, url) => {
    for (const subject of ['one', 'two']) assert.equal((await send(server, 'a@example.test', 'b@example.test', subject)).ok, true);
    const id = (await server.list())[0].id;
    const refused: Array<[string, number]> = [
      ['/api/v1/messages/', 404],
      ['/api/v1/messages//', 404],
      ['/api/v1/messages/.', 400],
      ['/api/v1/messages/./', 400],
      ['/api/v1/messages/%2e', 400],
      ['/api/v1/messages/%2E/', 400],
      ['/api/v1/messages/x/..', 400],
      ['/api/v1/messages\\', 400],
      ['/api/v1/messages/.\\', 400],
      ['/api/v1/messages/ABC', 404],
      ['/api/v1/messages/a%2fb', 404],
    ];
    for (const [path, status] of refused) {
      const answer = await rawRequest(url, 'DELETE', path);
      assert.equal(answer.status, status, `DELETE ${path}: ${answer.body}`);
      assert.equal((await server.list()).length, 2, `DELETE ${path} deleted nothing`);
      assert.equal((await rawRequest(url, 'GET', path)).status, status, `GET ${path}`);
    }
    assert.deepEqual(JSON.parse((await rawRequest(url, 'DELETE', '/api/v1/messages/')).body), { error: 'no message with id ""' });
    // A trailing slash after a name is still allowed where it cannot turn into the collection.
    assert.equal((await rawRequest(url, 'GET', `/api/v1/messages/${id}/`)).status, 200);
    assert.equal((await rawRequest(url, 'GET', `/api/v1/messages/${id}/raw/`)).status, 200);
    assert.equal((await rawRequest(url, 'GET', '/api/v1/rules/')).status, 200);
    assert.equal((await rawRequest(url, 'POST', `/api/v1/messages/${id}`)).status, 405);
    assert.equal((await rawRequest(url, 'DELETE', `/api/v1/messages/${id}/raw`)).status, 405);
    assert.equal((await rawRequest(url, 'DELETE', `/api/v1/messages/${id}/`)).status, 204);
    assert.equal((await server.list()).length, 1);
    assert.equal((await rawRequest(url, 'DELETE', '/api/v1/messages')).status, 200, 'the collection itself is still cleared by its own path');
    assert.equal((await server.list()).length, 0);
  });
});

test('smtpwb inbox get and delete refuse an id that is not a message id (usage error, nothing deleted)', async () => {
  const dir = makeTempDir('inbox-cli');
  try {
    await withApi(async (server, url) => {
      for (const subject of ['one', 'two']) assert.equal((await send(server, 'a@example.test', 'b@example.test', subject)).ok, true);
      for (const action of ['delete', 'get']) {
        for (const id of ['', '.', '..', './', '../x', 'ABC', 'a b', '%2e']) {
          const run = io(dir);
          assert.equal(await inboxCommand([action, id, '--api', url], run.io), 2, `${action} "${id}": ${run.out()} ${run.err()}`);
          assert.equal(run.out(), '', `${action} "${id}" prints nothing on standard output`);
          assert.match(run.err(), id === '' ? new RegExp(`${action} needs a message id, not an empty string`) : /is not a message id/);
          assert.equal((await server.list()).length, 2, `${action} "${id}" deleted nothing`);
        }
      }
      const id = (await server.list())[0].id;
      const get = io(dir);
      assert.equal(await inboxCommand(['get', id, '--api', url], get.io), 0, get.err());
      assert.match(get.out(), new RegExp(`^${id} `));
      const del = io(dir);
      assert.equal(await inboxCommand(['delete', id, '--api', url], del.io), 0, del.err());
      assert.equal(del.out(), `deleted ${id}\n`);
      assert.equal((await server.list()).length, 1);
      const again = io(dir);
      assert.equal(await inboxCommand(['delete', id, '--api', url], again.io), 1);
      assert.match(again.err(), /no message with id/);
    });
  } finally {
    removeTempDir(dir);
  }
});

test('smtpwb inbox: an answer that is not what was asked for is a clear error (exit 3), never a crash', async () => {
  // Another HTTP service where --api points: each path answers with the wrong shape.
  const answers: Record<string, [number, string]> = {
    'GET /api/v1/messages/abc': [200, '{"messages": []}'],
    'GET /api/v1/messages/abd': [200, '{"id": "other", "receivedAt": "2026-01-01T00:00:00Z", "size": 1, "envelope": null, "rules": []}'],
    'GET /api/v1/messages/abe': [200, 'not json'],
    'GET /api/v1/messages/abf': [200, '{"id": "abf", "receivedAt": "2026-01-01T00:00:00Z", "size": 1, "envelope": {"mailFrom": "a@b"}, "rules": []}'],
    'GET /api/v1/messages/abc/parsed': [200, '[]'],
    'GET /api/v1/messages': [200, '{"messages": [{"id": 1}]}'],
    'GET /api/v1/wait': [200, 'null'],
    'DELETE /api/v1/messages': [200, '{}'],
    'DELETE /api/v1/messages/abc': [200, '{"deleted": 2}'],
  };
  const other = createServer((req, res) => {
    const [status, body] = answers[`${req.method} ${(req.url ?? '').split('?')[0]}`] ?? [404, '<html>not found</html>'];
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((done) => other.listen(0, '127.0.0.1', done));
  const dir = makeTempDir('inbox-cli');
  try {
    const address = other.address();
    const api = `http://127.0.0.1:${address !== null && typeof address === 'object' ? address.port : 0}`;
    const cases: Array<[string[], number, RegExp]> = [
      [['get', 'abc'], 3, /GET \/api\/v1\/messages\/abc with something unexpected \(not a message\)/],
      [['get', 'abc', '--json'], 3, /not a message/],
      [['get', 'abd'], 3, /\(message other\)/],
      [['get', 'abe'], 3, /\(no JSON\)/],
      [['get', 'abf'], 3, /not a message/],
      [['get', 'abc', '--parsed'], 3, /not the parsed message/],
      [['list'], 3, /not a list of messages/],
      [['wait', '--timeout', '10'], 3, /not a message/],
      [['clear'], 3, /no count of deleted messages/],
      [['delete', 'abc'], 3, /DELETE \/api\/v1\/messages\/abc with something unexpected \(HTTP 200\)/],
      [['get', 'zzz'], 1, /HTTP 404/],
    ];
    for (const [args, code, message] of cases) {
      const run = io(dir);
      assert.equal(await inboxCommand([...args, '--api', api], run.io), code, `${args.join(' ')}: ${run.err()}`);
      assert.match(run.err(), message, args.join(' '));
      assert.equal(run.out(), '', `${args.join(' ')} prints nothing`);
    }
  } finally {
    await new Promise<void>((done) => other.close(() => done()));
    removeTempDir(dir);
  }
});

test('API: GET /rules answers a rules file, which PUT takes back unchanged', async () => {
  await withApi(async (server, url) => {
    const fixture = JSON.parse(readFileSync(join(repoRoot(), 'test', 'localServer', 'fixtures', 'capture-rules.json'), 'utf8')) as { rules: unknown[] };
    // The fixture's rules, and the conditions and actions it does not have.
    const file = JSON.stringify({
      version: 1,
      rules: [
        ...fixture.rules,
        { name: 'going away', when: { command: ['MAIL', 'RCPT'], client: '127.*', after: 0.5, before: 100, tls: false, authenticated: false }, reply: '421 4.3.2 Going away', close: true, delay: 0.25 },
        { when: { command: 'NOOP' }, reply: '550' },
        { name: 'advertise', extensions: { advertise: ['XFOO bar'] } },
        { name: 'grey by default', greylist: true },
        { name: 'auth to VRFY', when: { command: 'VRFY' }, require: 'auth' },
      ],
    });
    const first = await fetch(`${url}/api/v1/rules`, { method: 'PUT', body: file });
    assert.equal(first.status, 200, await first.clone().text());
    const inForce = server.rules;
    const got = await fetch(`${url}/api/v1/rules`);
    const text = await got.text();
    const rules = JSON.parse(text) as { version: number; rules: Array<Record<string, unknown>> };
    assert.equal(rules.version, 1);
    assert.equal(rules.rules.length, inForce.rules.length);
    for (const rule of rules.rules) {
      for (const internal of ['index', 'action', 'delayMs', 'range']) assert.equal(internal in rule, false, `no "${internal}" in ${JSON.stringify(rule)}`);
      assert.equal(typeof rule.name, 'string');
    }
    // Every kind of action and condition comes back: the same rules are in force after the round trip.
    const back = await fetch(`${url}/api/v1/rules`, { method: 'PUT', body: text });
    assert.equal(back.status, 200, await back.clone().text());
    assert.deepEqual(((await back.json()) as { problems: unknown[] }).problems, []);
    const strip = (r: typeof inForce) => r.rules.map(({ range: _range, ...rest }) => rest);
    assert.deepEqual(strip(server.rules), strip(inForce));
    assert.equal(await (await fetch(`${url}/api/v1/rules`)).text(), text, 'GET after the PUT answers the same file');
  });
});

test('API: a rules body over 1 MiB gets 413 with its JSON error, then the connection is closed', async () => {
  await withApi(async (server, url) => {
    const body = Buffer.alloc(1024 * 1024 + 4096, 0x20);
    const answer = await new Promise<{ status: number; connection: string | undefined; body: string; closed: boolean }>((done, fail) => {
      const req = request(`${url}/api/v1/rules`, { method: 'PUT', headers: { 'content-length': String(body.length) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const finish = (closed: boolean) => done({ status: res.statusCode ?? 0, connection: res.headers.connection, body: Buffer.concat(chunks).toString('utf8'), closed });
          if (res.socket.destroyed) finish(true);
          else res.socket.once('close', () => finish(true));
        });
      });
      req.on('error', fail);
      req.end(body);
    });
    assert.equal(answer.status, 413);
    assert.equal(answer.connection, 'close');
    assert.match((JSON.parse(answer.body) as { error: string }).error, /over 1048576 octets/);
    assert.equal(answer.closed, true);
    assert.equal(server.rules.rules.length, 0, 'the rules in force stay');
  });
});
