// The security probes of examples/security run with `smtpwb run` against Exim from test/peers, in
// a safe configuration (every verdict passes) and in unsafe ones (the right sessions fail).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startExim, type EximPeer } from '../peers/exim';
import { repoRoot } from '../peers/require';
import { runCommand } from '../../client/src/cli/runCommand';
import { captureCli } from '../support/cliCapture';
import { politeSmtp, rawServer, type RawServer } from './rawServer';

let exim: EximPeer;
let eximVrfy: EximPeer;
const servers: RawServer[] = [];

before(async () => {
  [exim, eximVrfy] = await Promise.all([startExim(), startExim({ vrfy: true })]);
});
after(async () => {
  for (const s of servers) await s.close();
  await Promise.all([exim?.stop(), eximVrfy?.stop()]);
});

interface Verdicts {
  code: number;
  sessions: Record<string, { ok: boolean; failure?: { kind: string; message: string } }>;
  raw: string;
}

async function probe(example: string, vars: Record<string, string>): Promise<Verdicts> {
  const file = join(repoRoot(), 'examples', 'security', example);
  const args = [file, '--all', '--json', '--timeout', '5', ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}=${v}`])];
  const { code, out, err } = await captureCli(runCommand, args, { env: {}, cwd: repoRoot() });
  if (code === 2) throw new Error(`${example}: ${err}`);
  const json = JSON.parse(out) as { sessions: Array<{ name: string; ok: boolean; failure?: { kind: string; message: string } }> };
  return { code, sessions: Object.fromEntries(json.sessions.map((s) => [s.name, { ok: s.ok, failure: s.failure }])), raw: out };
}

const okNames = (v: Verdicts): string[] => Object.keys(v.sessions).filter((n) => v.sessions[n].ok).sort();
const failedNames = (v: Verdicts): string[] => Object.keys(v.sessions).filter((n) => !v.sessions[n].ok).sort();

test('open-relay: Exim refuses to relay for an unauthenticated client (every session passes)', async () => {
  const v = await probe('open-relay.smtp', { server: `smtp://127.0.0.1:${exim.port}`, local: 'example.test' });
  assert.equal(v.code, 0, v.raw);
  assert.deepEqual(okNames(v), ['local-to-outside', 'null-sender', 'outside-to-outside', 'upper-case-domain']);
});

test('open-relay: a server that accepts every recipient is reported as an open relay', async () => {
  const s = await rawServer((c) => void politeSmtp(c));
  servers.push(s);
  const v = await probe('open-relay.smtp', { server: `smtp://127.0.0.1:${s.port}` });
  assert.equal(v.code, 1);
  assert.deepEqual(failedNames(v), ['local-to-outside', 'null-sender', 'outside-to-outside', 'upper-case-domain']);
  assert.match(v.sessions['outside-to-outside'].failure?.message ?? '', /RCPT TO:<victim@relay-probe\.invalid>: expected 5xx, got 250/);
});

test('address-harvesting: VRFY and EXPN refused by default; disclosed when enabled', async () => {
  const safe = await probe('address-harvesting.smtp', { server: `smtp://127.0.0.1:${exim.port}`, user: 'postmaster@example.test' });
  assert.equal(safe.code, 0, safe.raw);
  const open = await probe('address-harvesting.smtp', { server: `smtp://127.0.0.1:${eximVrfy.port}`, user: 'postmaster@example.test' });
  assert.equal(open.code, 1, open.raw);
  assert.ok(failedNames(open).includes('vrfy'), open.raw);
  assert.match(open.sessions.vrfy.failure?.message ?? '', /expected 252 or 5xx, got 25[01]/);
});

test('smtp-smuggling: Exim does not take bare line ends as the end of data', async () => {
  const v = await probe('smtp-smuggling.smtp', { server: `smtp://127.0.0.1:${exim.port}`, from: 'probe@example.test', rcpt: 'bob@example.test' });
  assert.equal(v.code, 0, v.raw);
  assert.deepEqual(okNames(v), ['cr-dot-cr', 'crlf-dot-lf', 'lf-dot-crlf', 'lf-dot-lf']);
});

test('smtp-smuggling: a server that ends data at <LF>.<LF> is reported as vulnerable', async () => {
  // A line-based server that splits on bare LF, as vulnerable MTAs did.
  const s = await rawServer((c) => void politeSmtp(c));
  servers.push(s);
  const v = await probe('smtp-smuggling.smtp', { server: `smtp://127.0.0.1:${s.port}` });
  assert.equal(v.code, 1, v.raw);
  assert.ok(failedNames(v).includes('lf-dot-lf'), v.raw);
  assert.ok(failedNames(v).includes('crlf-dot-lf'), v.raw);
  assert.match(v.sessions['lf-dot-lf'].failure?.message ?? '', /QUIT: .*expected 221, got 250/);
});

test('cleartext-auth: Exim neither offers nor takes AUTH before TLS on its submission port', async () => {
  const v = await probe('cleartext-auth.smtp', { server: `smtp://127.0.0.1:${exim.port}` });
  assert.equal(v.code, 0, v.raw);
  assert.deepEqual(okNames(v), ['not-advertised', 'offered-after-tls', 'refused']);
});

test('cleartext-auth: a port that offers AUTH in cleartext fails the probe', async () => {
  const v = await probe('cleartext-auth.smtp', { server: `smtp://127.0.0.1:${exim.clearAuthPort}` });
  assert.equal(v.code, 1, v.raw);
  assert.deepEqual(failedNames(v), ['not-advertised', 'refused']);
  assert.match(v.sessions.refused.failure?.message ?? '', /expected 503 or 530 or 538, got 535/);
  assert.ok(!v.raw.includes('not-a-real-password'), 'the probe password is masked');
});
