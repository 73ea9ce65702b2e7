// `smtpwb dns` end to end: dnsCommand() against Knot, the local MTA-STS server and Exim, with the
// exit codes 0, 1, 2 and 3; and the CLI bundle too once main.ts dispatches `dns`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dnsCommand } from '../../client/src/cli/dnsCommand';
import type { DomainReportJson } from '../../client/src/dns/index';
import { startExim } from '../peers/exim';
import { startDnsTestEnv, type DnsTestEnv } from './env';
import { startFakeDns } from './fakeDns';

let env: DnsTestEnv;
before(async () => {
  env = await startDnsTestEnv();
});
after(async () => {
  await env?.stop();
});

async function cli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await dnsCommand(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: { SMTPWB_DNS_HTTPS_PORT: String(env.httpsPort), SMTPWB_DNS_EXTRA_CA: env.caPath, ...extraEnv },
    cwd: process.cwd(),
  });
  return { code, stdout, stderr };
}

test('the good domain: exit 0, one JSON object with checks, findings and raw records', async () => {
  const r = await cli(['example.test', '--selector', 'ed', '--dns-server', env.knot.address, '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const report = JSON.parse(lines[0]) as DomainReportJson;
  assert.equal(report.domain, 'example.test');
  assert.equal(report.errors, 0);
  assert.deepEqual(report.checks.map((c) => c.id), ['mx', 'ptr', 'spf', 'dkim', 'dmarc', 'mta-sts', 'tls-rpt', 'bimi', 'starttls']);
  const mtaSts = report.checks.find((c) => c.id === 'mta-sts')!;
  assert.equal(mtaSts.status, 'pass');
  assert.ok(mtaSts.records.some((x) => x.type === 'HTTPS' && /mode: enforce/.test(x.data)));
  assert.ok(report.checks.find((c) => c.id === 'mx')!.records.some((x) => x.data === '10 mail.example.test.'));
});

test('findings with errors: exit 1; one JSON line per domain with codes and ranges', async () => {
  const r = await cli(['spf-syntax.test', 'dmarc-dup.test', '--dns-server', env.knot.address, '--json', '--no-selector-probe']);
  assert.equal(r.code, 1);
  const reports = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as DomainReportJson);
  assert.deepEqual(reports.map((x) => x.domain), ['spf-syntax.test', 'dmarc-dup.test']);
  const syntax = reports[0].checks.find((c) => c.id === 'spf')!.findings.find((f) => f.code === 'spf-syntax')!;
  assert.equal(syntax.severity, 'error');
  assert.deepEqual(syntax.record?.range, { start: 11, end: 22 });
  const dup = reports[1].checks.find((c) => c.id === 'dmarc')!.findings.find((f) => f.code === 'dmarc-duplicate-tag')!;
  assert.equal(dup.record?.text.slice(dup.record.range!.start, dup.record.range!.end), 'p=reject');
});

test('the readable report', async () => {
  const r = await cli(['spf-syntax.test', '--dns-server', env.knot.address]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /spf-syntax: Syntax error at column 12/);
  assert.match(r.stdout, /✗ error/);
});

test('the Markdown report', async () => {
  const r = await cli(['dmarc-dup.test', '--dns-server', env.knot.address, '--markdown', '--no-selector-probe']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^# Mail DNS report for dmarc-dup\.test/);
  assert.match(r.stdout, /\*\*error\*\* `dmarc-duplicate-tag`/);
  assert.match(r.stdout, /\| DMARC \| error \|/);
});

test('usage errors exit 2', async () => {
  assert.equal((await cli([])).code, 2);
  assert.equal((await cli(['example.test', '--frobnicate'])).code, 2);
  assert.equal((await cli(['example.test', '--dns-server', 'ns example.test'])).code, 2);
  assert.equal((await cli(['example.test', '--dns-server', '::1:53'])).code, 2);
  assert.equal((await cli(['not a domain'])).code, 2);
  assert.equal((await cli(['example.test', '--json', '--markdown'])).code, 2);
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: smtpwb dns/);
});

test('DNS that cannot be reached exits 3', async () => {
  const silent = await startFakeDns('silent');
  try {
    const r = await cli(['example.test', '--dns-server', silent.address, '--timeout', '300', '--json']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /DNS could not be reached/);
    assert.equal((JSON.parse(r.stdout.trim().split('\n')[0]) as DomainReportJson).dnsUnreachable, true);
  } finally {
    await silent.stop();
  }
  // SERVFAIL reaches a server: it is an error finding (exit 1), not "unreachable".
  const servfail = await startFakeDns('servfail');
  try {
    const r = await cli(['example.test', '--dns-server', servfail.address, '--json']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /mx-dns-error/);
  } finally {
    await servfail.stop();
  }
});

test('--probe-starttls against Exim', async () => {
  const exim = await startExim();
  try {
    const r = await cli(['tls.test', '--dns-server', env.knot.address, '--probe-starttls', '--json', '--no-selector-probe'], {
      SMTPWB_DNS_SMTP_PORT: String(exim.port),
      SMTPWB_DNS_EXTRA_CA: exim.caPath,
    });
    const report = JSON.parse(r.stdout.trim()) as DomainReportJson;
    const starttls = report.checks.find((c) => c.id === 'starttls')!;
    assert.equal(starttls.status, 'pass', JSON.stringify(starttls.findings));
    assert.match(starttls.findings[0].message, /TLSv1\.[23]/);
  } finally {
    await exim.stop();
  }
});

test('the CLI bundle runs `smtpwb dns`', async (t) => {
  const cliJs = join(process.env.SMTPWB_DIST ?? 'dist', 'cli.js');
  assert.ok(existsSync(cliJs), `${cliJs} is not built: run node scripts/build.mjs`);
  void t;
  const result = await promisify(execFile)(process.execPath, [cliJs, 'dns', 'example.test', '--dns-server', env.knot.address, '--json', '--selector', 'ed'], {
    env: { ...process.env, SMTPWB_DNS_HTTPS_PORT: String(env.httpsPort), SMTPWB_DNS_EXTRA_CA: env.caPath },
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
  );
  assert.ok(result.stdout.startsWith('{'), `smtpwb dns printed no JSON (exit ${result.code}: ${result.stderr.slice(0, 200)})`);
  assert.equal(result.code, 0, result.stderr);
  assert.equal((JSON.parse(result.stdout) as DomainReportJson).domain, 'example.test');
});
