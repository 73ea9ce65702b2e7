// Exim 4 as a client of the capture server, through a manualroute to it (exim-client.conf):
// greylisting (451 at RCPT, the message stays queued, a forced queue run after the server's clock
// passed retryAfter delivers it), a recipient refused while the others are accepted (Exim bounces
// that one to the sender), and CHUNKING: Exim sends BDAT and the stored bytes are the message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { parseCaptureRules, type CaptureServer, type StoredMessage } from '../../client/src/localServer';
import { makeTempDir, removeTempDir } from '../peers/process';
import { repoRoot, requireBinary } from '../peers/require';
import { withCaptureServer } from './support';

/** The user Exim switches to: Debian-exim when run as root (as test/peers/exim.ts picks it). */
function eximUser(): { user: string; group: string; uid: number; gid: number } {
  const me = userInfo();
  const name = me.uid === 0 ? 'Debian-exim' : me.username;
  const id = (flag: string): string => execFileSync('id', [flag, name], { encoding: 'utf8' }).trim();
  return { user: name, group: id('-gn'), uid: Number(id('-u')), gid: Number(id('-g')) };
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), uid, gid);
}

/** An Exim that sends everything to the capture server; `send` submits and delivers at once. */
function eximClient(port: number): {
  send(from: string, to: string[], message: string): Promise<void>;
  runQueue(): Promise<void>;
  queued(): Promise<number>;
  log(): string;
  stop(): void;
} {
  let verbose = '';
  const exim = requireBinary('exim4');
  const base = makeTempDir('exim-client');
  for (const sub of ['spool', 'log']) mkdirSync(join(base, sub), { recursive: true });
  const who = eximUser();
  const config = readFileSync(join(repoRoot(), 'test', 'localServer', 'exim-client.conf'), 'utf8')
    .replaceAll('@BASE@', base)
    .replaceAll('@PORT@', String(port))
    .replaceAll('@USER@', who.user)
    .replaceAll('@GROUP@', who.group);
  const configPath = join(base, 'exim.conf');
  writeFileSync(configPath, config, { mode: 0o644 });
  if (userInfo().uid === 0) {
    chownTree(base, who.uid, who.gid);
    chownSync(configPath, 0, 0);
  }
  // Asynchronous: the capture server runs in this process and must go on answering meanwhile.
  const run = (args: string[], input?: string): Promise<string> =>
    new Promise((resolveRun, rejectRun) => {
      const child = execFile(exim, ['-C', configPath, ...args], { encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => {
        if (error) rejectRun(new Error(`exim ${args.join(' ')}: ${error.message}\n${stderr}`));
        else resolveRun(stdout);
      });
      // Exim reads no input for a queue run; a closed pipe then is no error.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(input ?? '');
    });
  return {
    send: async (from, to, message) => void (await run(['-odi', '-oi', '-v', '-f', from, '--', ...to], message).then((out) => (verbose += out))),
    runQueue: async () => void (await run(['-qff'])),
    queued: async () => Number((await run(['-bpc'])).trim()),
    log: () => {
      try {
        return `${readFileSync(join(base, 'log', 'mainlog'), 'utf8')}\n${verbose}`;
      } catch {
        return '(no log)';
      }
    },
    stop: () => removeTempDir(base),
  };
}

async function waitFor(server: CaptureServer, predicate: (m: StoredMessage) => boolean, what: string, log: () => string): Promise<StoredMessage> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const found = (await server.list()).find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no ${what} arrived\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const MESSAGE = 'From: Alice <alice@example.test>\nTo: Bob <bob@example.test>\nSubject: from Exim\nDate: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <exim-client@example.test>\n\nHello from Exim.\n..two dots\n';

test('Exim as client: greylisted at RCPT, queued, delivered by a queue run once the server clock passed retryAfter', async () => {
  let now = Date.UTC(2026, 10, 23, 10, 0, 0);
  const parsed = parseCaptureRules(JSON.stringify({ rules: [{ name: 'grey', greylist: { retryAfter: 600 } }] }));
  await withCaptureServer({ tls: false, clock: () => now, rules: parsed.rules }, async (server) => {
    const exim = eximClient(server.port);
    try {
      await exim.send('alice@example.test', ['bob@example.test'], MESSAGE);
      assert.equal(await exim.queued(), 1, `the message waits in Exim's queue\n${exim.log()}`);
      assert.match(exim.log(), /451 4\.7\.1 Greylisted/);
      assert.equal((await server.list()).length, 0);
      now += 601_000;
      await exim.runQueue();
      const stored = await waitFor(server, (m) => m.envelope?.mailFrom === 'alice@example.test', 'greylisted message', exim.log);
      assert.deepEqual(stored.envelope?.rcptTo, ['bob@example.test']);
      assert.deepEqual(stored.rules?.map((r) => [r.name, r.action]), [['grey', 'greylist-passed']]);
      assert.equal(await exim.queued(), 0, exim.log());
    } finally {
      exim.stop();
    }
  });
});

test('Exim as client: one recipient refused by a rule, the others stored; CHUNKING used (BDAT), bytes exact', async () => {
  const parsed = parseCaptureRules(JSON.stringify({ rules: [{ name: 'no such user', when: { command: 'RCPT', recipient: 'nobody@*' }, reply: '550 5.1.1 No such user' }] }));
  await withCaptureServer({ tls: false, rules: parsed.rules }, async (server) => {
    const exim = eximClient(server.port);
    try {
      await exim.send('alice@example.test', ['bob@example.test', 'nobody@example.test', 'carol@example.test'], MESSAGE);
      const stored = await waitFor(server, (m) => m.envelope?.mailFrom === 'alice@example.test', 'message', exim.log);
      assert.deepEqual([...(stored.envelope?.rcptTo ?? [])].sort(), ['bob@example.test', 'carol@example.test']);
      assert.equal(stored.envelope?.transfer, 'BDAT', `Exim used CHUNKING\n${exim.log()}`);
      assert.equal(readFileSync(stored.path, 'latin1'), MESSAGE.replaceAll('\n', '\r\n'));
      assert.deepEqual(stored.rules?.map((r) => r.reply), ['550 5.1.1 No such user']);
      assert.match(exim.log(), /nobody@example\.test.*550 5\.1\.1 No such user/);
      // Exim reports the refused recipient to the sender, through the same route.
      const bounce = await waitFor(server, (m) => m.envelope?.mailFrom === '', 'bounce', exim.log);
      assert.deepEqual(bounce.envelope?.rcptTo, ['alice@example.test']);
      assert.match(readFileSync(bounce.path, 'latin1'), /nobody@example\.test/);
    } finally {
      exim.stop();
    }
  });
});
