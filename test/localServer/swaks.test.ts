// swaks, a real independent SMTP client, sends into the capture server over STARTTLS with AUTH,
// verifying the generated certificate; the stored .eml must be exactly the message it meant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaptureServer } from '../../client/src/localServer';
import { makeTempDir, removeTempDir } from '../peers/process';
import { requireBinary } from '../peers/require';
import { nextMessage, withCaptureServer } from './support';

interface SwaksRun {
  code: number;
  output: string;
}

function swaks(server: CaptureServer, args: string[]): Promise<SwaksRun> {
  const bin = requireBinary('swaks');
  const all = ['--server', server.host, '--port', String(server.port), '--ehlo', 'swaks.example.test', '--timeout', '20', ...args];
  return new Promise((resolve) => {
    execFile(bin, all, { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** STARTTLS that must succeed and verify the server's certificate against the pinned one. */
function tlsArgs(server: CaptureServer): string[] {
  return ['--tls', '--tls-verify', '--tls-ca-path', server.certificatePath ?? '', '--tls-sni', 'localhost'];
}

test('swaks: STARTTLS (verified) + AUTH PLAIN, raw pre-stuffed DATA is stored unstuffed and byte-exact', async () => {
  const work = makeTempDir('swaks');
  try {
    await withCaptureServer({ auth: { user: 'user', pass: 'pass' } }, async (server) => {
      const intended = Buffer.from(
        'From: Swaks <swaks@example.test>\r\nTo: bob@example.test\r\nSubject: from swaks\r\n\r\n.\r\n..\r\n.leading\r\nplain\r\n \r\n\r\nend\r\n',
        'latin1',
      );
      // --no-data-fixup sends the file as it is, and swaks appends one CRLF: so the file holds the
      // stuffed message (RFC 5321 §4.5.2) and the final dot without its CRLF.
      const wire = `${intended.toString('latin1').replace(/^\./gm, '..')}.`;
      const file = join(work, 'raw.txt');
      writeFileSync(file, wire, 'latin1');
      const arrived = nextMessage(server);
      const run = await swaks(server, [
        ...tlsArgs(server),
        '--auth', 'PLAIN', '--auth-user', 'user', '--auth-password', 'pass',
        '--from', 'swaks@example.test', '--to', 'bob@example.test,carol@example.test',
        '--data', `@${file}`, '--no-data-fixup',
      ]);
      assert.equal(run.code, 0, run.output);
      assert.match(run.output, /235 /);
      const message = await arrived;
      assert.equal(readFileSync(message.path).toString('latin1'), intended.toString('latin1'));
      assert.deepEqual(message.envelope?.rcptTo, ['bob@example.test', 'carol@example.test']);
      assert.equal(message.envelope?.mailFrom, 'swaks@example.test');
      assert.deepEqual(message.envelope?.auth, { method: 'PLAIN', username: 'user' });
      assert.ok(message.envelope?.tls, 'the session was TLS');
      assert.equal(message.envelope?.helo, 'swaks.example.test');
      assert.equal(message.subject, 'from swaks');
    });
  } finally {
    removeTempDir(work);
  }
});

test('swaks: its own dot-stuffing and LF-to-CRLF, AUTH LOGIN and CRAM-MD5, PIPELINING', async () => {
  const work = makeTempDir('swaks');
  try {
    await withCaptureServer({ auth: { user: 'user', pass: 'pass' } }, async (server) => {
      // With data fixup swaks turns LF into CRLF, quotes leading dots and adds the final dot; the
      // message then ends with the CRLF before that dot.
      const file = join(work, 'lf.eml');
      writeFileSync(file, 'Subject: lf lines\nX-Test: 1\n\n.one\n..two\nlast', 'utf8');
      for (const mechanism of ['LOGIN', 'CRAM-MD5']) {
        const arrived = nextMessage(server);
        const run = await swaks(server, [
          ...tlsArgs(server),
          '--pipeline',
          '--auth', mechanism, '--auth-user', 'user', '--auth-password', 'pass',
          '--from', 'a@example.test', '--to', 'b@example.test',
          '--data', `@${file}`,
        ]);
        assert.equal(run.code, 0, run.output);
        const message = await arrived;
        assert.equal(readFileSync(message.path, 'utf8'), 'Subject: lf lines\r\nX-Test: 1\r\n\r\n.one\r\n..two\r\nlast\r\n');
        assert.equal(message.envelope?.auth?.method, mechanism);
      }
      // Wrong credentials: 535 and no message.
      const before = (await server.list()).length;
      const bad = await swaks(server, [...tlsArgs(server), '--auth', 'PLAIN', '--auth-user', 'user', '--auth-password', 'wrong', '--from', 'a@example.test', '--to', 'b@example.test']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.output, /535 /);
      assert.equal((await server.list()).length, before);
    });
  } finally {
    removeTempDir(work);
  }
});

test('swaks: a client that refuses the certificate (no pin) fails, and the server keeps going', async () => {
  await withCaptureServer({}, async (server) => {
    const refused = await swaks(server, ['--tls', '--tls-verify', '--tls-ca-path', '/etc/ssl/certs/ca-certificates.crt', '--from', 'a@example.test', '--to', 'b@example.test']);
    assert.notEqual(refused.code, 0, refused.output);
    const arrived = nextMessage(server);
    const ok = await swaks(server, [...tlsArgs(server), '--auth', 'PLAIN', '--auth-user', 'anyone', '--auth-password', 'anything', '--from', 'a@example.test', '--to', 'b@example.test']);
    assert.equal(ok.code, 0, ok.output);
    assert.equal((await arrived).envelope?.auth?.username, 'anyone');
  });
});
