// Issue 10 §3: files a script names are read before connecting (a missing one is a script error,
// exit 2, and nothing is sent, not even a connection); after a failed TLS handshake no cleartext
// byte is written (RFC 3207 §4.1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { selfSignedCert } from '../peers/certs';
import { runSession } from '../../client/src/engine';
import type { PlanStep, TlsOptionsTemplate } from '../../common/sessionPlan';
import { runCommand } from '../../client/src/cli/runCommand';
import { captureCli } from '../support/cliCapture';
import { bdat, cmd, data, explain, makePlan, PATIENT, starttls } from './plan';
import { politeSmtp, rawServer, type RawServer } from './rawServer';


let dir: string;
const servers: RawServer[] = [];
const closers: Array<() => Promise<void>> = [];
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'engine-files-'));
  writeFileSync(join(dir, 'present.eml'), 'Subject: present\r\n\r\nbody\r\n');
  mkdirSync(join(dir, 'a-folder.pem'));
});
after(async () => {
  for (const s of servers) await s.close();
  for (const close of closers) await close();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw server that counts connections and answers politely. */
async function countingServer(): Promise<{ server: RawServer; connections: () => number }> {
  let n = 0;
  const server = await rawServer((c) => {
    n++;
    return politeSmtp(c, ['STARTTLS', 'PIPELINING']);
  });
  servers.push(server);
  return { server, connections: () => n };
}


const send = (body: PlanStep): PlanStep[] => [cmd('EHLO c.example.test'), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), body, cmd('QUIT')];

const cases: Array<{ name: string; tls?: Partial<TlsOptionsTemplate>; steps: () => PlanStep[]; shows: RegExp }> = [
  { name: 'TLS ca= names a missing file', tls: { line: 7, ca: 'missing-ca.pem', verify: true }, steps: () => [cmd('EHLO c.example.test'), starttls(), cmd('EHLO c.example.test')], shows: /line 8: cannot read missing-ca\.pem/ },
  { name: 'TLS cert= names a missing file', tls: { line: 3, cert: 'missing-cert.pem', key: 'missing-key.pem' }, steps: () => [cmd('EHLO c.example.test'), cmd('QUIT')], shows: /cannot read missing-cert\.pem/ },
  { name: 'TLS key= names a folder', tls: { line: 3, key: 'a-folder.pem' }, steps: () => [cmd('EHLO c.example.test'), cmd('QUIT')], shows: /cannot read a-folder\.pem.*EISDIR/ },
  { name: 'DATA < file names a missing file', steps: () => send(data({ file: 'missing.eml' })), shows: /cannot read missing\.eml/ },
  { name: 'BDAT < file names a missing file (after a DATA < file that exists)', steps: () => [...send(data({ file: 'present.eml' })).slice(0, 4), cmd('MAIL FROM:<a@example.test>'), cmd('RCPT TO:<b@example.test>'), bdat({ file: 'missing.eml' }), cmd('QUIT')], shows: /cannot read missing\.eml/ },
];

for (const c of cases) {
  test(`files before connecting: ${c.name} is a script error and nothing is sent`, async () => {
    const { server, connections } = await countingServer();
    const steps = c.steps();
    const r = await runSession(makePlan({ connect: `smtp://127.0.0.1:${server.port}`, tls: c.tls, steps }), { scriptDir: dir, timeouts: PATIENT });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(r.ok, false, explain(r));
    assert.equal(r.failure?.kind, 'script', explain(r));
    assert.match(r.failure?.message ?? '', c.shows, explain(r));
    const fileStep = steps.find((s) => (s.kind === 'data' || s.kind === 'bdat') && s.body.kind === 'file' && s.body.path.startsWith('missing'));
    assert.equal(r.failure?.line, c.tls?.line ?? fileStep?.line, 'the failure points at the line that names the file');
    assert.equal(connections(), 0, 'no connection was opened');
    assert.equal(server.received().length, 0, 'not a byte was sent');
    assert.ok(!r.transcript.some((e) => e.dir === 'client'), explain(r));
  });
}

test('files before connecting: smtpwb run exits 2 for a missing ca= file and never connects', async () => {
  const { server, connections } = await countingServer();
  const script = join(dir, 'missing-ca.smtp');
  writeFileSync(script, `### missing CA\nCONNECT smtp://127.0.0.1:${server.port}\nTLS ca=nowhere-ca.pem\nEHLO c.example.test\nSTARTTLS\nEHLO c.example.test\nQUIT\n`);
  const { code, out, err } = await captureCli(runCommand, [script, '--timeout', '5'], { env: {}, cwd: dir });
  assert.equal(code, 2, `${out}\n${err}`);
  assert.match(`${out}\n${err}`, /nowhere-ca\.pem/);
  assert.equal(connections(), 0, 'no connection was opened');
});

/**
 * Parses what the client sent after `STARTTLS\r\n` as TLS records (RFC 8446 §5.1: type, version,
 * 16-bit length). Returns the record types, or throws when a byte does not belong to a record.
 */
function tlsRecords(sent: Buffer): number[] {
  const marker = Buffer.from('STARTTLS\r\n');
  const at = sent.indexOf(marker);
  assert.ok(at >= 0, 'STARTTLS was sent');
  const types: number[] = [];
  let i = at + marker.length;
  while (i < sent.length) {
    const type = sent[i];
    assert.ok(type >= 20 && type <= 23 && sent[i + 1] === 3, `a cleartext byte after the handshake began, at offset ${i - at - marker.length}: ${JSON.stringify(sent.subarray(i, i + 40).toString('latin1'))}`);
    const length = sent.readUInt16BE(i + 3);
    types.push(type);
    i += 5 + length;
  }
  assert.ok(i === sent.length || i > sent.length, 'records end at the end of what was sent');
  return types;
}

test('TLS failure: garbage after the 220 to STARTTLS fails the handshake; nothing but TLS records follows, and the connection is closed', async () => {
  let closed!: Promise<void>;
  const server = await rawServer(async (c) => {
    closed = new Promise((resolve) => c.socket.on('close', () => resolve()));
    c.send('220 hi\r\n');
    await c.nextLine();
    c.send('250-hi\r\n250 STARTTLS\r\n');
    await c.nextLine();
    c.send('220 go ahead\r\n');
    // Wait for the ClientHello, then answer with text instead of a ServerHello.
    await new Promise<void>((resolve) => c.socket.once('data', () => resolve()));
    c.send('554 this is not TLS at all\r\n');
  });
  servers.push(server);
  const r = await runSession(makePlan({ connect: `smtp://127.0.0.1:${server.port}`, tls: { verify: false }, steps: [cmd('EHLO c.example.test'), starttls(), cmd('EHLO c.example.test'), cmd('QUIT')] }), {
    timeouts: PATIENT,
  });
  assert.equal(r.failure?.kind, 'tls', explain(r));
  await closed;
  const types = tlsRecords(server.received());
  assert.equal(types[0], 22, 'the first record is the ClientHello');
  assert.ok(!server.received().includes('QUIT'), 'no cleartext QUIT');
});

test('TLS failure: a certificate that fails verification after STARTTLS: no cleartext byte; QUIT goes over TLS (RFC 3207 §4.1)', async () => {
  const cert = await selfSignedCert();
  const decrypted: string[] = [];
  let sessionEnded!: () => void;
  const ended = new Promise<void>((resolve) => (sessionEnded = resolve));
  // The SMTP server: cleartext until STARTTLS, then TLS with a self-signed certificate.
  const smtp = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.write('220 upstream ESMTP\r\n');
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('latin1');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).replace(/\r$/, '');
        buffered = buffered.slice(nl + 1);
        if (/^EHLO/i.test(line)) socket.write('250-upstream\r\n250 STARTTLS\r\n');
        else if (line === 'STARTTLS') {
          socket.off('data', onData);
          socket.write('220 go ahead\r\n');
          const secure = new tls.TLSSocket(socket, { isServer: true, cert: cert.certPem, key: cert.keyPem });
          secure.on('error', () => undefined);
          secure.on('data', (d: Buffer) => {
            decrypted.push(d.toString('latin1'));
            if (d.toString().startsWith('QUIT')) secure.end('221 bye\r\n');
          });
          secure.on('close', () => sessionEnded());
          return;
        } else socket.write('250 ok\r\n');
      }
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => smtp.close(() => resolve())));
  // A recording proxy in front of it sees every byte the client writes.
  const sent: Buffer[] = [];
  const proxy = net.createServer((client) => {
    const upstream = net.connect((smtp.address() as net.AddressInfo).port, '127.0.0.1');
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('data', (d: Buffer) => {
      sent.push(d);
      upstream.write(d);
    });
    upstream.pipe(client);
    client.on('close', () => upstream.end());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  const port = (proxy.address() as net.AddressInfo).port;
  const r = await runSession(makePlan({ connect: `smtp://127.0.0.1:${port}`, tls: { sni: 'mail.example.test' }, steps: [cmd('EHLO c.example.test'), starttls(), cmd('EHLO c.example.test'), cmd('QUIT')] }), {
    timeouts: PATIENT,
  });
  assert.equal(r.failure?.kind, 'tls', explain(r));
  assert.match(r.failure?.message ?? '', /self-signed/);
  await ended;
  tlsRecords(Buffer.concat(sent));
  assert.deepEqual(decrypted.join('').split('\r\n').filter((l) => l !== ''), ['QUIT'], 'the only command after the handshake is QUIT, over TLS');
  assert.ok(r.transcript.some((e) => e.dir === 'client' && e.text === 'QUIT'), explain(r));
});
