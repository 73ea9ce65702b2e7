/**
 * Delivers one message to a real capture server that verifies what it stores (against the DNS
 * server given), over a raw SMTP connection, and returns the authentication results it stored.
 */
import assert from 'node:assert/strict';
import { startCaptureServer, type CapturedAuthentication, type StoredMessage } from '../../client/src/localServer';
import { createResolver } from '../../client/src/mailAuth/resolver';
import { makeTempDir, removeTempDir } from '../peers/process';
import { RawSmtp } from '../peers/rawSmtp';

export async function verifiedByCaptureServer(
  message: Buffer,
  options: { dnsServer: string; authServId: string; helo: string; mailFrom: string; rcptTo: string },
): Promise<CapturedAuthentication | undefined> {
  const inbox = makeTempDir('verified-inbox');
  const server = await startCaptureServer({ dir: inbox, tls: false, verify: { resolver: createResolver({ server: options.dnsServer, timeoutMs: 2000, tries: 2 }), authServId: options.authServId } });
  try {
    const verified = new Promise<StoredMessage>((resolve) => {
      const subscription = server.onAuthenticated((m) => {
        subscription.dispose();
        resolve(m);
      });
    });
    const client = await RawSmtp.connect(server.host, server.port);
    assert.equal((await client.read()).code, 220);
    assert.equal((await client.command(`EHLO ${options.helo}`)).code, 250);
    assert.equal((await client.command(`MAIL FROM:<${options.mailFrom}>`)).code, 250);
    assert.equal((await client.command(`RCPT TO:<${options.rcptTo}>`)).code, 250);
    assert.equal((await client.command('DATA')).code, 354);
    client.write(Buffer.concat([message, Buffer.from('.\r\n')]));
    assert.equal((await client.read()).code, 250);
    await client.quit();
    return (await verified).authentication;
  } finally {
    await server.stop();
    removeTempDir(inbox);
  }
}
