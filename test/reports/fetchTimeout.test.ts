// `smtpwb report fetch` against a server that misbehaves: one that stops answering after the login
// or in the middle of a message (a timeout on every wait, exit 3, a clear message, nothing
// half-written), one that sends more than the RFC822.SIZE it announced (the report-size limit
// still holds), and one whose refusal holds control characters (escaped). Dovecot cannot be made
// to stall or lie on purpose, so these use a scripted IMAP server on loopback (fetchStub.ts), a
// real TCP peer; everything a real server can show is tested against Dovecot (fetch*.test.ts).
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { captureCli, type CapturedRun } from '../support/cliCapture';
import { reportCommand } from '../../client/src/cli/reportCommand';
import { fetchReportsOverImap } from '../../client/src/reports/imapFetch';
import { startImapStub, type ImapStub } from './fetchStub';

function run(args: string[], cwd: string): Promise<CapturedRun> {
  return captureCli(reportCommand, args, { cwd, env: { SMTPWB_IMAP_PASSWORD: 'stub-secret-42' } });
}

describe('report fetch: a server that stops answering or sends too much (loopback IMAP stub)', () => {
  let dir = '';
  let stub: ImapStub | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'smtpwb-fetch-timeout-'));
  });
  afterEach(async () => {
    await stub?.stop();
    stub = undefined;
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a server that greets and then never answers the login: exit 3 after --timeout', async () => {
    stub = await startImapStub('stall-login');
    const r = await run(['fetch', '--imap', `127.0.0.1:${stub.port}`, '--user', 'u', '--out', join(dir, 'login'), '--timeout', '3'], dir);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /^smtpwb report fetch: cannot connect: the server did not answer the connection, greeting or login within 3 s\n$/);
    assert.ok(stub.commands.length > 0, 'the client sent nothing');
  });

  it('a server that answers the login and then not EXAMINE: exit 3 after --timeout, saying what it waited for', async () => {
    stub = await startImapStub('stall-examine');
    const out = join(dir, 'examine');
    const r = await run(['fetch', '--imap', `127.0.0.1:${stub.port}`, '--user', 'u', '--out', out, '--timeout', '3'], dir);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /^smtpwb report fetch: the server did not answer EXAMINE within 3 s\n$/);
    assert.ok(stub.commands.some((c) => /^LOGIN /i.test(c)), stub.commands.join(' | '));
    assert.ok(!r.err.includes('stub-secret-42'));
  });

  it('a server that stalls in the middle of a message: exit 3, and no file, whole or partial, is left', async () => {
    stub = await startImapStub('stall-body', { bytes: 300 });
    const out = join(dir, 'body');
    const r = await run(['fetch', '--imap', `127.0.0.1:${stub.port}`, '--user', 'u', '--out', out, '--timeout', '3'], dir);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /the server did not answer FETCH \(BODY\.PEEK\[\]\) within 3 s/);
    assert.deepEqual(existsSync(out) ? readdirSync(out) : [], []);
  });

  it('a message larger than announced is cut at the limit and skipped, not saved', async () => {
    stub = await startImapStub('lie-size', { bytes: 4097 });
    const out = join(dir, 'lie');
    const seen: number[] = [];
    const r = await fetchReportsOverImap({ host: '127.0.0.1', port: stub.port, user: 'u', password: 'p', tls: 'none', out, timeoutMs: 10_000, maxMessageBytes: 4096, onSkipped: (s) => seen.push(s.uid) });
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.deepEqual(r.skipped.map((s) => [s.uid, s.size]), [[1, 4097]]);
    assert.match(r.skipped[0].reason, /more than the 4096-byte limit/);
    assert.deepEqual(seen, [1]);
    assert.deepEqual(r.saved, []);
    // The download was asked for one byte more than the limit, not the whole message.
    assert.ok(stub.commands.some((c) => /BODY\.PEEK\[\]<0\.4097>/i.test(c)), stub.commands.join(' | '));
  });

  it('a server that sends more than it was asked for is stopped before the message is buffered', async () => {
    stub = await startImapStub('overflow', { bytes: 100_000 });
    const out = join(dir, 'overflow');
    const r = await fetchReportsOverImap({ host: '127.0.0.1', port: stub.port, user: 'u', password: 'p', tls: 'none', out, timeoutMs: 10_000, maxMessageBytes: 4096 });
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.stage === 'fetch');
    assert.match(r.ok ? '' : r.message, /the server sent more than the 4096-byte limit/);
    assert.deepEqual(existsSync(out) ? readdirSync(out) : [], []);
  });

  it("the server's refusal is printed with its control characters escaped", async () => {
    stub = await startImapStub('hostile-no');
    const r = await run(['fetch', '--imap', `127.0.0.1:${stub.port}`, '--user', 'u', '--out', join(dir, 'no'), '--timeout', '5'], dir);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /login failed/);
    assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(r.err), JSON.stringify(r.err));
  });

  it('--timeout takes a unit like the other commands, and a bad one is a usage error', async () => {
    stub = await startImapStub('stall-examine');
    const ms = await run(['fetch', '--imap', `127.0.0.1:${stub.port}`, '--user', 'u', '--out', join(dir, 'ms'), '--timeout', '2500ms'], dir);
    assert.equal(ms.code, 3, ms.err);
    assert.match(ms.err, /did not answer EXAMINE within 2\.5 s/);
    const bad = await run(['fetch', '--imap', `127.0.0.1:${stub.port}`, '--user', 'u', '--timeout', 'soon'], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--timeout needs a number of seconds/);
  });
});
