// `smtpwb report`: formats, --min-pass exit codes, usage errors, and escaping of report text.
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { captureCli, type CapturedRun } from '../support/cliCapture';
import { parseRate, reportCommand, safeReportFileName } from '../../client/src/cli/reportCommand';
import { aggregateXml, failureReportEml, gzip, randomAggregate, reportFileName, tlsRptJson, zipFiles, type AggregateSpec } from './generate';

/**
 * Runs `smtpwb report` without the sources' reverse DNS lookups (their sources are documentation
 * addresses with no DNS server to ask; test/reports/reverseDns.test.ts covers the lookups against
 * Knot). A `report fetch` or a help run takes its arguments as given.
 */
function run(args: string[], cwd: string): Promise<CapturedRun> {
  const summarising = args[0] !== 'fetch' && !args.includes('--help') && !args.includes('-h');
  return captureCli(reportCommand, summarising ? [...args, '--no-dns'] : args, { cwd });
}

describe('smtpwb report', () => {
  let dir = '';
  let spec: AggregateSpec;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'smtpwb-report-cli-'));
    mkdirSync(join(dir, 'in', 'sub'), { recursive: true });
    spec = randomAggregate(5, 'rfc9990');
    // One source that fails completely, with a hostile org name.
    spec.orgName = 'Evil\u001b[31m\u202eCorp';
    spec.records.push({
      sourceIp: '198.51.100.66',
      count: 1000,
      disposition: 'reject',
      dkim: 'fail',
      spf: 'fail',
      headerFrom: 'example.com',
      envelopeFrom: 'spoof.example',
      spfDomain: 'spoof.example',
      spfResult: 'fail',
    });
    writeFileSync(join(dir, 'in', `${reportFileName('evil', 'example.com', spec.begin, spec.end)}.xml.gz`), gzip(aggregateXml(spec)));
    writeFileSync(join(dir, 'in', 'sub', 'b.zip'), zipFiles([{ name: 'b.xml', data: Buffer.from(aggregateXml(randomAggregate(6, 'rfc7489'))) }]));
    writeFileSync(
      join(dir, 'in', 'sub', 'tls.json'),
      tlsRptJson({ organizationName: 'R', reportId: '1', policyDomain: 'example.com', policyType: 'sts', successful: 10, failures: [{ resultType: 'certificate-expired', mx: 'mx1.example.com', ip: '192.0.2.1', count: 2 }] }),
    );
    writeFileSync(join(dir, 'in', 'sub', 'ruf.eml'), failureReportEml({ reportedDomain: 'example.com', originalFromDomain: 'example.com', sourceIp: '192.0.2.9', authFailure: 'dmarc' }));
    writeFileSync(join(dir, 'in', 'notes.txt'), 'not a report');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('summarises a folder, escaping report text in the terminal output', async () => {
    const r = await run(['in'], dir);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /4 file\(s\): 2 DMARC aggregate, 1 TLS-RPT, 1 failure report/);
    assert.match(r.out, /198\.51\.100\.66\s+1000 of 1000/);
    assert.ok(!r.out.includes('\u001b'), 'no raw ESC');
    assert.ok(!r.out.includes('\u202e'), 'no raw bidi override');
    assert.ok(r.out.includes('Evil\\x1B[31m\\u202ECorp'));
    assert.match(r.out, /certificate-expired 2/);
  });

  it('prints findings with the line and column in the decompressed text', async () => {
    const bad = aggregateXml(randomAggregate(9, 'rfc9990')).replace(/<count>\d+<\/count>/, '<count>x</count>');
    writeFileSync(join(dir, 'bad.xml.gz'), gzip(bad));
    const r = await run(['bad.xml.gz'], dir);
    const line = bad.slice(0, bad.indexOf('<count>x')).split('\n').length;
    const column = bad.indexOf('<count>x') + '<count>'.length - bad.lastIndexOf('\n', bad.indexOf('<count>x'));
    assert.ok(r.out.includes(`bad.xml.gz:${line}:${column}: error dmarc-agg-value`), r.out);
  });

  it('--json is exact', async () => {
    const r = await run(['in', '--json'], dir);
    const s = JSON.parse(r.out);
    assert.equal(s.counts.aggregate, 2);
    assert.ok(s.aggregate.reporters.some((x: { orgName: string }) => x.orgName === 'Evil\u001b[31m\u202eCorp'));
    assert.equal(s.aggregate.topFailing[0].sourceIp, '198.51.100.66');
  });

  it('--csv neutralises formulas and --markdown escapes', async () => {
    const csv = await run(['in', '--csv'], dir);
    assert.match(csv.out.split('\r\n')[0], /^section,domain,source,messages/);
    assert.ok(csv.out.includes('dmarc-source,example.com,198.51.100.66,1000,0,0,0,1000,reject 1000'));
    const md = await run(['in', '--markdown'], dir);
    assert.match(md.out, /\| Source IP \| Failing \|/);
    assert.ok(!md.out.includes('\u001b'));
  });

  it('--min-pass exits 1 below the rate and 0 at or above it', async () => {
    const json = JSON.parse((await run(['in', '--json'], dir)).out);
    const rate = json.aggregate.passRate as number;
    assert.ok(rate > 0 && rate < 1);
    assert.equal((await run(['in', '--min-pass', String(Math.min(1, rate + 0.01))], dir)).code, 1);
    assert.equal((await run(['in', '--min-pass', `${Math.floor(rate * 100) - 1}%`], dir)).code, 0);
    // Only a TLS-RPT report: nothing to measure is a failure, never a pass by default.
    assert.equal((await run(['in/sub/tls.json', '--min-pass', '0.5'], dir)).code, 1);
  });

  it('--domain keeps only the reports about a domain', async () => {
    const noneRun = await run(['in', '--json', '--domain', 'other.example'], dir);
    const none = JSON.parse(noneRun.out);
    assert.equal(none.counts.aggregate, 0);
    // A mistyped domain is not a quiet week: stderr says what was left out.
    assert.match(noneRun.err, /--domain left out [1-9]\d* report\(s\) about other domains/);
    assert.equal((await run(['in', '--domain', ''], dir)).code, 2);
    const some = JSON.parse((await run(['in', '--json', '--domain', 'EXAMPLE.com.'], dir)).out);
    assert.equal(some.counts.aggregate, 2);
  });

  it('usage errors exit 2', async () => {
    assert.equal((await run([], dir)).code, 2);
    assert.equal((await run(['in', '--min-pass', 'lots'], dir)).code, 2);
    assert.equal((await run(['in', '--json', '--csv'], dir)).code, 2);
    assert.equal((await run(['missing-folder'], dir)).code, 2);
    assert.equal((await run(['fetch', '--imap', '127.0.0.1:1'], dir)).code, 2);
    assert.equal((await run(['fetch', '--imap', 'imap.example.com:143', '--user', 'u'], dir)).code, 2, 'plain text to a remote host is refused');
  });

  it('exits 2 when no report was read: an empty folder, or only unreadable files (as lint with nothing to lint)', async () => {
    mkdirSync(join(dir, 'empty'));
    const empty = await run(['empty'], dir);
    assert.equal(empty.code, 2, empty.out + empty.err);
    assert.match(empty.err, /no report file found in empty/);
    assert.equal((await run(['empty', '--json'], dir)).code, 2);
    mkdirSync(join(dir, 'broken'));
    writeFileSync(join(dir, 'broken', 'corrupt.zip'), Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(64, 0x41)]));
    writeFileSync(join(dir, 'broken', 'bomb.xml.gz'), gzip(Buffer.alloc(60 * 1024 * 1024, 0x20)));
    writeFileSync(join(dir, 'broken', 'odd.xml'), '<note>not a report</note>\n');
    for (const args of [['broken'], ['broken', '--markdown'], ['broken', '--min-pass', '0.5']]) {
      const r = await run(args, dir);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}${r.err}`);
      assert.match(r.err, /no report could be read: 3 file\(s\), \d+ unreadable/, args.join(' '));
    }
    const text = await run(['broken'], dir);
    assert.match(text.out, /0 DMARC aggregate, 0 TLS-RPT, 0 failure report\(s\), [1-9]\d* unreadable/, 'the summary and its findings are still printed');
    assert.match(text.out, /report-archive-limit/);
    // One readable report among the broken files: the run read something, so the exit status is the reports'.
    const mixed = await run(['broken', 'in/sub/tls.json'], dir);
    assert.equal(mixed.code, 0, mixed.out + mixed.err);
    // Reports left out by --domain were read, so they are not "nothing read".
    const other = await run(['in', '--domain', 'other.example'], dir);
    assert.equal(other.code, 0, other.out + other.err);
  });

  it('names saved reports safely, whatever the attachment claims', () => {
    assert.equal(safeReportFileName(7, '../../etc/cron.d/x', 'r'), '7-x');
    assert.equal(safeReportFileName(7, 'google.com!example.com!1!2.xml.gz', 'r'), '7-google.com!example.com!1!2.xml.gz');
    assert.equal(safeReportFileName(7, '..', 'fallback'), '7-fallback');
    assert.equal(safeReportFileName(7, 'a\u202eb\u0000.xml', 'r'), '7-a_b_.xml');
  });

  it('parses rates', () => {
    assert.equal(parseRate('0.95'), 0.95);
    assert.equal(parseRate('95%'), 0.95);
    assert.equal(parseRate('95'), 0.95);
    assert.equal(parseRate('101%'), undefined);
    assert.equal(parseRate('-1'), undefined);
  });
});
