// Shared fixtures for the mail authentication tests: keys, zone text and a capturing CommandIo.
import { generateKeyPairSync } from 'node:crypto';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { publicKeyRecord } from '../../client/src/mailAuth/sign';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyCommand, type CommandIo } from '../../client/src/cli/verifyCommand';
import type { AuthReport } from '../../client/src/mailAuth/verify';

/** Splits a TXT value into quoted character-strings of at most 255 octets (RFC 1035 §3.3.14). */
export function txt(value: string): string {
  const chunks: string[] = [];
  for (let i = 0; i < value.length; i += 200) chunks.push(`"${value.slice(i, i + 200)}"`);
  return `( ${chunks.join(' ')} )`;
}

export interface TestKeys {
  rsaPem: string;
  edPem: string;
}

/** Generates a 2048-bit RSA key and an Ed25519 key, PEM (PKCS#8). */
export function makeKeys(): TestKeys {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ed = generateKeyPairSync('ed25519');
  return {
    rsaPem: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    edPem: ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/**
 * The example.test zone: DKIM keys under rsa1 and ed1, SPF allowing 127.0.0.0/8 and failing the rest
 * (-all), DMARC p=reject with strict DKIM alignment. softfail.example.test ends in ~all and has no DMARC.
 */
export function exampleZone(keys: TestKeys): string {
  return [
    '$ORIGIN example.test.',
    '$TTL 300',
    '@ IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300',
    '@ IN NS ns1.example.test.',
    'ns1 IN A 127.0.0.1',
    '@ IN MX 10 mail.example.test.',
    'mail IN A 127.0.0.1',
    // 198.51.100.10 stands for the sending client in Received fields (loopback hops are internal).
    '@ IN TXT "v=spf1 ip4:127.0.0.0/8 ip4:198.51.100.10 -all"',
    'mail IN TXT "v=spf1 a -all"',
    '_dmarc IN TXT "v=DMARC1; p=reject; adkim=s; aspf=r"',
    `rsa1._domainkey IN TXT ${txt(publicKeyRecord(keys.rsaPem))}`,
    `ed1._domainkey IN TXT ${txt(publicKeyRecord(keys.edPem))}`,
    'softfail IN TXT "v=spf1 ip4:192.0.2.0/24 ~all"',
    'dup IN TXT "v=spf1 ip4:127.0.0.0/8 -all"',
    '_dmarc.dup IN TXT "v=DMARC1; p=reject; p=none"',
    '',
  ].join('\n');
}

/**
 * A root zone with nothing in it, served beside the test zones so that names outside them are
 * NXDOMAIN, as a recursive resolver answers; without it Knot refuses them and the DMARC tree walk
 * (RFC 9989 §4.10) cannot read the levels above the test zone.
 */
export const ROOT_ZONE = '. 300 IN SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 300\n. 300 IN NS ns.invalid.\n';

/** The same message in every test: CRLF line ends, one From address in example.test. */
export function sampleMessage(from = 'alice@example.test', extraHeaders: string[] = []): Buffer {
  return Buffer.from(
    [
      ...extraHeaders,
      `From: Alice <${from}>`,
      'To: Bob <bob@example.net>',
      'Subject: DKIM test',
      'Date: Mon, 23 Nov 2026 04:00:00 +0000',
      'Message-ID: <dkim-test-1@example.test>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Hello Bob,',
      'this message is signed.',
      '',
    ].join('\r\n'),
  );
}

/** A CommandIo whose output is collected. */
export function captureIo(cwd: string): { io: CommandIo; stdout(): Buffer; stderr(): string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  return {
    io: { stdout, stderr, env: {}, cwd },
    stdout: () => Buffer.concat(out),
    stderr: () => Buffer.concat(err).toString('utf8'),
  };
}

/**
 * Runs `smtpwb verify` on a dm.test message as the testers did: from 192.0.2.99 with MAIL FROM
 * u@ok.spf.test, which passes SPF (the zone's `ok.spf.test`) but is not aligned with dm.test, so
 * DMARC rests on DKIM. Returns the exit code and standard output (JSON with `json`).
 */
export async function verifyUnalignedSpf(dir: string, dnsServer: string, message: Buffer, json = true): Promise<{ code: number; out: string }> {
  const file = join(dir, 'verify.eml');
  writeFileSync(file, message);
  const cap = captureIo(dir);
  const code = await verifyCommand(
    [file, '--ip', '192.0.2.99', '--mail-from', 'u@ok.spf.test', '--dns-server', dnsServer, '--no-received', '--authserv-id', 'mx.test', ...(json ? ['--json'] : [])],
    cap.io,
  );
  return { code, out: cap.stdout().toString('utf8') };
}

/** `verifyUnalignedSpf` with `--json`, parsed. */
export async function verifyUnalignedSpfJson(dir: string, dnsServer: string, message: Buffer): Promise<{ code: number; report: AuthReport }> {
  const { code, out } = await verifyUnalignedSpf(dir, dnsServer, message);
  return { code, report: JSON.parse(out) as AuthReport };
}

/** The first DKIM-Signature field of a message, as written: folding and the final line end included. */
export function firstDkimSignatureField(message: Buffer): string {
  const m = /^DKIM-Signature:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*\r?\n/im.exec(message.toString('latin1'));
  assert.ok(m, 'the message is signed');
  return m[0];
}
