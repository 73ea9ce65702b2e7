// Issue 10 §7: every example in examples/ runs green against the peer its comments name: the
// embedded capture server, Exim as test/peers starts it (with Knot for the MX example), or an LMTP
// server (smtp-server's LMTP mode); or its first lines say why it cannot run here. Each session of
// each example goes through the language service's plan, variable resolution and the engine, the
// same path as `smtpwb run` and the editor. The security probes of examples/security run in
// test/engine/security.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as dns from 'node:dns';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { startExim, type EximPeer } from '../peers/exim';
import { startKnot, type KnotPeer } from '../peers/knot';
import { repoRoot } from '../peers/require';
import { analyzeSmtpDocument } from '../../server/src/smtp/smtpService';
import { resolvePlan, type VariableProviders } from '../../common/variables';
import { runSession, type SessionResult } from '../../client/src/engine';
import { startCaptureServer, type CaptureServer } from '../../client/src/localServer';
import { runCommand } from '../../client/src/cli/runCommand';
import { captureCli } from '../support/cliCapture';
import { explain } from './plan';

const examplesDir = join(repoRoot(), 'examples');

let exim: EximPeer;
let knot: KnotPeer;
let capture: CaptureServer;
let captureDir: string;
let lmtp: SMTPServer;
let lmtpPort: number;
const lmtpMessages: Buffer[] = [];

before(async () => {
  captureDir = mkdtempSync(join(tmpdir(), 'engine-examples-'));
  [exim, capture] = await Promise.all([startExim(), startCaptureServer({ dir: captureDir, port: 0 })]);
  // The MX example's domain: its MX is mail.example.test, which is Exim on loopback.
  knot = await startKnot({ zones: { 'example.test': 'example.test. 300 IN MX 10 mail.example.test.\nmail.example.test. 300 IN A 127.0.0.1\n' } });
  lmtp = new SMTPServer({
    lmtp: true,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        lmtpMessages.push(Buffer.concat(chunks));
        callback();
      });
    },
  });
  lmtp.on('error', () => undefined);
  await new Promise<void>((resolve) => lmtp.listen(0, '127.0.0.1', resolve));
  lmtpPort = (lmtp.server.address() as { port: number }).port;
});

after(async () => {
  await Promise.all([exim?.stop(), knot?.stop(), capture?.stop(), lmtp ? new Promise<void>((resolve) => lmtp.close(() => resolve())) : undefined]);
  if (captureDir) rmSync(captureDir, { recursive: true, force: true });
});

interface Peer {
  /** What the example's comments name, checked against its first lines. */
  named: RegExp;
  vars?: () => Record<string, string>;
  secrets?: () => Record<string, string>;
  prompts?: Record<string, string>;
  dotenv?: Record<string, string>;
  env?: Record<string, string>;
  /** Needs a resolver that asks Knot. */
  dns?: boolean;
  /** Sessions (by title) that cannot run here, with the reason the example gives for them. */
  skipSessions?: Record<string, RegExp>;
}

const eximServer = (): string => `smtp://127.0.0.1:${exim.port}`;

/** How each runnable example is run; an example missing here must say in its first lines why it cannot run. */
const runs: Record<string, Peer> = {
  '01-hello-local.smtp': { named: /capture server/i },
  '02-submission-starttls-auth.smtp': {
    named: /Exim/,
    vars: () => ({ server: eximServer(), ca: exim.caPath }),
    secrets: () => ({ 'smtp-password': exim.pass }),
  },
  '03-implicit-tls-and-ipv6.smtp': {
    named: /Exim/,
    vars: () => ({ 'tls-server': `smtps://127.0.0.1:${exim.tlsPort}`, ca: exim.caPath, 'ipv6-server': `smtp://[::1]:${exim.port}` }),
  },
  '04-expectations.smtp': { named: /Exim/, vars: () => ({ server: eximServer() }) },
  '05-bdat-chunking.smtp': { named: /capture server/i, vars: () => ({ server: `smtp://${capture.host}:${capture.port}` }) },
  '06-international.smtp': { named: /capture server/i, vars: () => ({ server: `smtp://${capture.host}:${capture.port}` }) },
  '07-dsn-and-pipelining.smtp': { named: /Exim/, vars: () => ({ server: eximServer() }) },
  '08-mx-delivery.smtp': { named: /Exim/, vars: () => ({ 'mx-port': String(exim.port) }), dns: true },
  '09-lmtp.smtp': { named: /LMTP server/i, vars: () => ({ server: `lmtp://127.0.0.1:${lmtpPort}` }) },
  '10-variables-and-environments.smtp': {
    named: /capture server/i,
    vars: () => ({ host: capture.host, port: String(capture.port) }),
    prompts: { subject: 'Hello from the examples test' },
    dotenv: { SMTP_TEST_RECIPIENT: 'bob@example.test' },
    env: { USER: 'tester' },
  },
};


/** The example's opening comment block. */
function header(text: string): string {
  const lines: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith('#') || line.startsWith('###')) break;
    lines.push(line);
  }
  return lines.join('\n');
}

async function runExample(file: string, peer: Peer): Promise<SessionResult[]> {
  const path = join(examplesDir, file);
  const text = readFileSync(path, 'utf8');
  const analysis = analyzeSmtpDocument(text, path);
  const errors = analysis.problems.filter((p) => p.severity === 'error');
  assert.deepEqual(errors, [], `${file} has errors`);
  const providers: VariableProviders = {
    overrides: peer.vars?.() ?? {},
    env: (name) => peer.env?.[name],
    dotenv: (name) => peer.dotenv?.[name],
    secret: (name) => peer.secrets?.()[name],
    prompt: (name) => peer.prompts?.[name],
    hostname: 'examples.test',
  };
  let resolver: dns.promises.Resolver | undefined;
  if (peer.dns) {
    resolver = new dns.promises.Resolver({ timeout: 2000, tries: 2 });
    resolver.setServers([knot.address]);
  }
  const results: SessionResult[] = [];
  for (const plan of analysis.plans) {
    const resolved = await resolvePlan(plan, providers);
    assert.ok(resolved.ok, `${file}, ${plan.title}: ${resolved.ok ? '' : JSON.stringify(resolved.errors)}`);
    const r = await runSession(resolved.plan, {
      secrets: resolved.secrets,
      scriptDir: examplesDir,
      localTarget: { host: capture.host, port: capture.port },
      timeouts: { connect: 10_000, greeting: 10_000, command: 10_000, mail: 10_000, rcpt: 10_000, dataInit: 10_000, dataTermination: 20_000 },
      ...(resolver ? { io: { resolver } } : {}),
    });
    results.push(r);
  }
  return results;
}

test('examples: every top-level example is run here, or says in its first lines why it cannot', () => {
  const files = readdirSync(examplesDir).filter((f) => f.endsWith('.smtp'));
  assert.ok(files.length >= 10, files.join(', '));
  for (const file of files) {
    const top = header(readFileSync(join(examplesDir, file), 'utf8'));
    const peer = runs[file];
    if (peer) assert.match(top, peer.named, `${file}: its first lines name the peer it runs against`);
    else assert.match(top, /cannot run (here|in the tests)/i, `${file}: not run by this test, and its first lines do not say why`);
  }
});

test('examples: every security probe is run by test/engine/security.test.ts', () => {
  const probes = readdirSync(join(examplesDir, 'security')).filter((f) => f.endsWith('.smtp'));
  const suite = readFileSync(join(repoRoot(), 'test', 'engine', 'security.test.ts'), 'utf8');
  for (const probe of probes) assert.ok(suite.includes(`'${probe}'`), `${probe} is run by security.test.ts`);
});

for (const [file, peer] of Object.entries(runs)) {
  test(`examples: ${file} runs green against the peer it names`, async () => {
    const results = await runExample(file, peer);
    assert.ok(results.length > 0, `${file} holds sessions`);
    for (const r of results) {
      assert.ok(r.ok, explain(r));
      assert.ok(r.steps.length > 0 && r.steps.every((s) => s.ok), explain(r));
    }
    if (file === '09-lmtp.smtp') assert.ok(lmtpMessages.some((m) => m.includes('Delivered by LMTP.')), 'the LMTP server received the message');
    if (file === '08-mx-delivery.smtp') assert.equal(results[0].mx?.chosen?.host, 'mail.example.test');
  });
}

test('examples: 10-variables-and-environments.smtp runs from the CLI too (--var satisfies $prompt, .env gives $dotenv)', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'engine-examples-cli-'));
  try {
    writeFileSync(join(cwd, '.env'), 'SMTP_TEST_RECIPIENT=bob@example.test\n');
    const file = join(examplesDir, '10-variables-and-environments.smtp');
    const args = [file, '--all', '--json', '--var', `host=${capture.host}`, '--var', `port=${capture.port}`, '--var', 'subject=Hello from the CLI'];
    const { code, out, err } = await captureCli(runCommand, args, { env: { USER: 'tester' }, cwd });
    assert.equal(code, 0, `${out}\n${err}`);
    const json = JSON.parse(out) as { sessions: Array<{ ok: boolean }> };
    assert.equal(json.sessions.length, 2, out);
    assert.ok(json.sessions.every((s) => s.ok), out);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
