// `smtpwb report fetch` against a real Dovecot (Debian dovecot-imapd, test/peers/dovecot.ts):
// report attachments and failure reports are saved, other mail is not, the mailbox is read-only,
// and a wrong password is exit 3 without the password in the output.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { captureCli, type CapturedRun } from '../support/cliCapture';
import { reportCommand } from '../../client/src/cli/reportCommand';
import { openReportBytes } from '../../server/src/reports/open';
import { startDovecot, type DovecotPeer } from '../peers/dovecot';
import { aggregateReportMail, failureReportEml, randomAggregate } from './generate';

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CapturedRun> {
  return captureCli(reportCommand, args, { cwd, env });
}

describe('smtpwb report fetch (Dovecot)', () => {
  let peer: DovecotPeer;
  let dir = '';
  before(async () => {
    peer = await startDovecot();
    dir = mkdtempSync(join(tmpdir(), 'smtpwb-fetch-'));
    peer.deliver(aggregateReportMail(randomAggregate(31, 'rfc9990')));
    peer.deliver(aggregateReportMail(randomAggregate(32, 'rfc7489')));
    peer.deliver(failureReportEml({ reportedDomain: 'example.com', originalFromDomain: 'example.com', sourceIp: '192.0.2.9', authFailure: 'dmarc' }));
    peer.deliver('From: a@example.com\r\nTo: b@example.com\r\nSubject: not a report\r\n\r\nhello\r\n');
  });
  after(async () => {
    await peer?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ['--starttls', '--tls'] as const) {
    it(`saves the reports over ${mode}`, async () => {
      const out = join(dir, mode.slice(2));
      const port = mode === '--tls' ? peer.tlsPort : peer.port;
      const r = await run(['fetch', '--imap', `127.0.0.1:${port}`, '--user', peer.user, mode, '--ca', peer.caPath, '--out', out], dir, { SMTPWB_IMAP_PASSWORD: peer.pass });
      assert.equal(r.code, 0, r.err + peer.log());
      const files = readdirSync(out).sort();
      assert.equal(files.length, 3, files.join(' '));
      assert.ok(files.some((f) => f.endsWith('.xml.gz')));
      assert.ok(files.some((f) => f.endsWith('.eml')));
      const kinds = files.flatMap((f) => openReportBytes(f, readFileSync(join(out, f))).map((o) => o.report?.kind)).sort();
      assert.deepEqual(kinds, ['dmarc-aggregate', 'dmarc-aggregate', 'dmarc-failure']);
      assert.match(r.err, /4 message\(s\) read from INBOX, 3 report\(s\) saved/);
    });
  }

  it('a wrong password is exit 3 and the password is not printed', async () => {
    const r = await run(['fetch', '--imap', `127.0.0.1:${peer.port}`, '--user', peer.user, '--out', join(dir, 'x')], dir, { SMTPWB_IMAP_PASSWORD: 'wrong-secret-123' });
    assert.equal(r.code, 3);
    assert.ok(!r.err.includes('wrong-secret-123'));
  });

  it('without the environment variable it is a usage error', async () => {
    const r = await run(['fetch', '--imap', `127.0.0.1:${peer.port}`, '--user', peer.user], dir, {});
    assert.equal(r.code, 2);
    assert.match(r.err, /SMTPWB_IMAP_PASSWORD/);
  });
});
