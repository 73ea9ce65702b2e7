// `smtpwb report fetch` against a server that breaks the protocol (tester report, session 22): a
// size listing that never ends or lists more messages than EXAMINE announced (bounded: exit 3 with a
// clear error), a UID given to two messages (the second is refused and named, never saved over the
// first, and the printed count is the number of files written), and a message listed but not
// delivered, answered without its body or left out (named on stderr, like the size limit's).
// Dovecot cannot be made to do these things, so they use the scripted loopback IMAP server
// (fetchStub.ts), a real TCP peer.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { captureCli, type CapturedRun } from '../support/cliCapture';
import { reportCommand } from '../../client/src/cli/reportCommand';
import { fetchReportsOverImap, MAX_LISTED_MESSAGES, uniqueName, type SkippedMessage } from '../../client/src/reports/imapFetch';
import { bodyAnswer, startImapStub, type ImapStub, type StubScript } from './fetchStub';
import { aggregateXml, gzip, randomAggregate } from './generate';

function run(args: string[], cwd: string): Promise<CapturedRun> {
  return captureCli(reportCommand, args, { cwd, env: { SMTPWB_IMAP_PASSWORD: 'stub-secret-42' } });
}

/** The gzip of one aggregate report (different for each seed). */
const report = (seed: number): Buffer => gzip(aggregateXml(randomAggregate(seed, 'rfc9990')));

/** A report mail whose one attachment is `report.xml.gz` holding `data`, and whose Subject names no domain. */
function reportMail(data: Buffer): string {
  const b = 'fetch-protocol-boundary';
  return [
    'From: r@receiver.example',
    'To: rua@example.com',
    'Subject: weekly report',
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: application/gzip; name="report.xml.gz"',
    'Content-Transfer-Encoding: base64',
    '',
    data.toString('base64').replace(/.{76}/g, '$&\r\n'),
    `--${b}--`,
    '',
  ].join('\r\n');
}

/** The listing of `uids[i]` as message i + 1, each of `size` bytes, then the tagged OK. */
function listingOf(uids: number[], size = 2000): StubScript['listing'] {
  return (a) => a.write(`${uids.map((uid, i) => `* ${i + 1} FETCH (UID ${uid} RFC822.SIZE ${size})\r\n`).join('')}${a.tag} OK done\r\n`);
}

describe('report fetch: saved names unique across the run (unit)', () => {
  it('gives a name once, then -2, -3 before the report extension, compared without case', () => {
    const taken = new Set<string>();
    assert.equal(uniqueName('2-failure-report.eml', taken), '2-failure-report.eml');
    assert.equal(uniqueName('2-Failure-Report.eml', taken), '2-Failure-Report-2.eml');
    assert.equal(uniqueName('2-failure-report.eml', taken), '2-failure-report-3.eml');
    assert.equal(uniqueName('2-report.xml.gz', taken), '2-report.xml.gz');
    assert.equal(uniqueName('2-report.xml.gz', taken), '2-report-2.xml.gz');
  });
});

describe('report fetch: a server that breaks the protocol (loopback IMAP stub)', () => {
  let dir = '';
  let stub: ImapStub | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'smtpwb-fetch-protocol-'));
  });
  afterEach(async () => {
    await stub?.stop();
    stub = undefined;
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // Each of these ran for ever on the old code, its memory growing; now each is exit 3 at once.
  const endless: Array<{ name: string; exists: number; line: (n: number) => string; error: RegExp }> = [
    { name: 'messages beyond the one EXAMINE announced', exists: 1, line: (n) => `* ${n} FETCH (UID ${n} RFC822.SIZE 10)\r\n`, error: /the server listed message 2, but EXAMINE announced 1 message\(s\) \(RFC 3501 §6\.4\.5\): the fetch was stopped/ },
    { name: 'the same message over and over', exists: 1, line: () => '* 1 FETCH (UID 1 RFC822.SIZE 10)\r\n', error: /the server listed message 1 twice in the size listing/ },
    { name: 'answers without a UID', exists: 2, line: () => '* 1 FETCH (FLAGS (\\Seen))\r\n', error: /the server sent more than 2 answer\(s\) without a UID or size to the size listing of 2 message\(s\)/ },
  ];
  for (const c of endless) {
    it(`an endless size listing of ${c.name}: exit 3 with a clear error`, { timeout: 60_000 }, async () => {
      stub = await startImapStub('scripted', { script: { exists: c.exists, listing: (a) => a.stream(c.line, { everyMs: 5, perTick: 50 }) } });
      const out = join(dir, `endless-${c.exists}-${endless.indexOf(c)}`);
      const r = await run(['fetch', '--imap', `127.0.0.1:${stub.port}`, '--user', 'u', '--out', out, '--timeout', '20'], dir);
      assert.equal(r.code, 3, r.err);
      assert.match(r.err, c.error);
      assert.ok(stub.commands.some((cmd) => /FETCH 1:\d+ \(UID RFC822\.SIZE\)/i.test(cmd)), stub.commands.join(' | '));
    });
  }

  it('a size listing that keeps answering within --timeout but never ends is stopped after --timeout as a whole', { timeout: 60_000 }, async () => {
    // A hundred messages announced, one listed every half second: each well within the 4-second
    // wait, fifty seconds in all (the old code took them all, then waited for the tagged OK for ever).
    stub = await startImapStub('scripted', { script: { exists: 100, listing: (a) => a.stream((n) => `* ${n} FETCH (UID ${n} RFC822.SIZE 10)\r\n`, { everyMs: 500, perTick: 1 }) } });
    const r = await run(['fetch', '--imap', `127.0.0.1:${stub.port}`, '--user', 'u', '--out', join(dir, 'slow'), '--timeout', '4'], dir);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /^smtpwb report fetch: the server did not finish the size listing \(FETCH \(UID RFC822\.SIZE\)\) of 100 message\(s\) within 4 s\n$/);
  });

  it('a mailbox announcing more messages than one fetch lists is refused before the listing', { timeout: 60_000 }, async () => {
    stub = await startImapStub('scripted', { script: { exists: 4_294_967_295, listing: (a) => a.stream((n) => `* ${n} FETCH (UID ${n} RFC822.SIZE 10)\r\n`, { everyMs: 5, perTick: 50 }) } });
    const r = await run(['fetch', '--imap', `127.0.0.1:${stub.port}`, '--user', 'u', '--out', join(dir, 'huge'), '--timeout', '20'], dir);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, new RegExp(`^smtpwb report fetch: INBOX holds 4294967295 messages, more than the ${MAX_LISTED_MESSAGES} one fetch lists`));
    assert.ok(!stub.commands.some((cmd) => /FETCH/i.test(cmd)), stub.commands.join(' | '));
  });

  it('a UID given to two messages: the second is refused and named, the first is saved, and the count is the files written', { timeout: 60_000 }, async () => {
    const first = reportMail(report(301));
    const second = reportMail(report(302));
    stub = await startImapStub('scripted', {
      script: {
        exists: 3,
        listing: listingOf([1, 2, 2]),
        // Whatever is asked for, UID 2 comes twice with a same-named attachment holding another report.
        bodies: (a) => a.write(Buffer.concat([bodyAnswer(1, 1, reportMail(report(300))), bodyAnswer(2, 2, first), bodyAnswer(3, 2, second), Buffer.from(`${a.tag} OK done\r\n`)])),
      },
    });
    const out = join(dir, 'twice');
    const r = await run(['fetch', '--imap', `127.0.0.1:${stub.port}`, '--user', 'u', '--out', out, '--timeout', '20'], dir);
    assert.equal(r.code, 0, r.err);
    const files = readdirSync(out).sort();
    assert.deepEqual(files, ['1-report.xml.gz', '2-report.xml.gz']);
    assert.match(r.err, /3 message\(s\) read from INBOX, 2 report\(s\) saved/);
    assert.match(r.err, /UID 2 skipped: the server gave UID 2 to a second message \(message 3; a UID names one message, RFC 3501 §2\.3\.1\.1\): the second was not downloaded\n/);
    assert.match(r.err, /UID 2 skipped: the server sent UID 2 a second time \(a server fault\): the second message was refused, not saved\n/);
    // The first message's report is the one kept.
    assert.deepEqual(readFileSync(join(out, '2-report.xml.gz')), report(301));
    // The download asked for UID 2 once.
    assert.ok(stub.commands.some((cmd) => /^UID FETCH 1,2 /i.test(cmd)), stub.commands.join(' | '));
  });

  it('a message answered without its body or left out of the answer is named as skipped, with a reason', { timeout: 60_000 }, async () => {
    stub = await startImapStub('scripted', {
      script: {
        exists: 4,
        // An unsolicited flag change (RFC 3501 §7.4.2) in the listing, with or without the UID, is no fault.
        listing: (a) => a.write(`* 1 FETCH (FLAGS (\\Seen))\r\n${[1, 2, 3, 4].map((n) => `* ${n} FETCH (UID ${n} RFC822.SIZE 2000)\r\n`).join('')}* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n${a.tag} OK done\r\n`),
        // UID 1 is sent (after a flag change carrying its UID), UID 3 without a body, UID 2 and 4 not at all.
        bodies: (a) => a.write(Buffer.concat([Buffer.from('* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n'), bodyAnswer(1, 1, reportMail(report(310))), Buffer.from(`* 3 FETCH (UID 3)\r\n${a.tag} OK done\r\n`)])),
      },
    });
    const out = join(dir, 'nobody');
    const seen: SkippedMessage[] = [];
    const r = await fetchReportsOverImap({ host: '127.0.0.1', port: stub.port, user: 'u', password: 'p', tls: 'none', out, timeoutMs: 20_000, onSkipped: (s) => seen.push(s) });
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.equal(r.messages, 4);
    assert.deepEqual(readdirSync(out), ['1-report.xml.gz']);
    assert.deepEqual(
      r.skipped.map((s) => [s.uid, s.reason]),
      [
        [2, 'the server left this message out of its answer to FETCH (BODY.PEEK[]): not saved'],
        [3, 'the server answered without the message body (BODY[]): not saved'],
        [4, 'the server left this message out of its answer to FETCH (BODY.PEEK[]): not saved'],
      ],
    );
    assert.deepEqual(seen, r.skipped);
    // The CLI names them on stderr.
    const cli = await run(['fetch', '--imap', `127.0.0.1:${stub.port}`, '--user', 'u', '--out', join(dir, 'nobody-cli'), '--timeout', '20'], dir);
    assert.equal(cli.code, 0, cli.err);
    assert.match(cli.err, /UID 3 skipped: the server answered without the message body/);
    assert.match(cli.err, /UID 2 skipped: the server left this message out/);
  });

  it('a download answered with an endless stream of one message: exit 3 with a clear error', { timeout: 60_000 }, async () => {
    const mail = reportMail(report(320));
    stub = await startImapStub('scripted', {
      script: { exists: 1, listing: listingOf([1]), bodies: (a) => a.stream((n) => bodyAnswer(n, 1, mail).toString('latin1'), { everyMs: 5, perTick: 5 }) },
    });
    const out = join(dir, 'flood');
    const r = await fetchReportsOverImap({ host: '127.0.0.1', port: stub.port, user: 'u', password: 'p', tls: 'none', out, timeoutMs: 20_000 });
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.message, /the server sent more than 2 answers to a download of 1 message\(s\)/);
    // The first was saved whole before the fault; the repeat was refused.
    assert.deepEqual(r.saved.map((p) => p.slice(out.length + 1)), ['1-report.xml.gz']);
    assert.deepEqual(r.skipped.map((s) => s.uid), [1]);
  });
});
