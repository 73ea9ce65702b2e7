// Symbolic links and special files in a folder of reports (session 22). Links are followed as
// `grep -R` and parsedmarc follow them: a link to a report file is read, a link to a folder is read
// as the folder. Nothing is dropped without a word, and nothing loops: a folder reached again (a
// link to an ancestor) is a `report-link-loop` warning, a link to nothing and a report-named FIFO
// are `report-unreadable` findings (the FIFO is never opened for a blocking read).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listReportFiles, reportFilesOf, summariseReportFiles } from '../../client/src/reports/collect';
import { reportCommand } from '../../client/src/cli/reportCommand';
import { captureCli } from '../support/cliCapture';
import { aggregateXml, randomAggregate } from './generate';

function report(id: string): string {
  const spec = randomAggregate(2204, 'rfc9990');
  spec.reportId = id;
  return aggregateXml(spec);
}

describe('report folders with symbolic links and special files', () => {
  let root = '';
  let dir = '';
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'smtpwb-files-links-'));
    dir = join(root, 'reports');
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    mkdirSync(join(elsewhere, 'more'), { recursive: true });
    writeFileSync(join(dir, 'a.xml'), report('a'));
    writeFileSync(join(dir, 'sub', 'b.xml'), report('b'));
    writeFileSync(join(elsewhere, 'c.xml'), report('c'));
    writeFileSync(join(elsewhere, 'more', 'd.xml'), report('d'));
    // A link to a report file elsewhere, a link to a folder elsewhere, a link back to the folder
    // itself (a loop), a link to nothing, and a FIFO with a report's name.
    symlinkSync(join(elsewhere, 'c.xml'), join(dir, 'c-link.xml'));
    symlinkSync(join(elsewhere, 'more'), join(dir, 'more-link'));
    symlinkSync('..', join(dir, 'sub', 'loop'));
    symlinkSync(join(elsewhere, 'missing.xml'), join(dir, 'dangling.xml'));
    const fifo = spawnSync('mkfifo', [join(dir, 'pipe.xml')]);
    assert.equal(fifo.status, 0, `mkfifo failed: ${fifo.error?.message ?? fifo.stderr.toString()}`);
  });
  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('listReportFiles follows links to files and folders, once, and lists what it cannot read', async () => {
    const files = (await listReportFiles(dir)).map((f) => f.slice(dir.length + 1));
    assert.deepEqual(files, ['a.xml', 'c-link.xml', 'dangling.xml', 'more-link/d.xml', 'pipe.xml', 'sub/b.xml', 'sub/loop']);
  });

  it('the summary counts every report behind a link and names each file it could not read', async () => {
    const summary = await summariseReportFiles(await reportFilesOf([dir]));
    assert.equal(summary.counts.aggregate, 4, JSON.stringify(summary.findings));
    const byCode = (code: string): string[] => summary.findings.filter((f) => f.code === code).map((f) => `${f.source.slice(dir.length + 1)}: ${f.message}`);
    assert.deepEqual(byCode('report-link-loop'), ['sub/loop: a folder already read (reached again through a symbolic link, or given twice): its files are read once']);
    assert.deepEqual(byCode('report-unreadable'), [
      'dangling.xml: cannot read the file: ENOENT (a symbolic link whose target does not exist)',
      'pipe.xml: not a regular file (a FIFO, a socket or a device): not read',
    ]);
    assert.equal(summary.counts.unreadable, 2);
    // The loop is not a file: a.xml, c-link.xml, dangling.xml, d.xml, pipe.xml, b.xml.
    assert.equal(summary.files, 6);
  });

  it('a folder given twice, or inside another one given, is read once', async () => {
    const summary = await summariseReportFiles(await reportFilesOf([dir, join(dir, 'sub')]));
    assert.equal(summary.counts.aggregate, 4);
    assert.equal(summary.findings.filter((f) => f.code === 'report-link-loop').length, 2);
  });

  // A reader that waits on the FIFO never returns: the timeout makes that a failure, not a hang.
  it('a FIFO given by name is refused, not waited on', { timeout: 30_000 }, async () => {
    const summary = await summariseReportFiles([join(dir, 'pipe.xml'), join(dir, 'a.xml')]);
    assert.equal(summary.counts.aggregate, 1);
    assert.deepEqual(
      summary.findings.map((f) => f.code),
      ['report-unreadable'],
    );
  });

  it('smtpwb report DIR reads the linked reports and prints the skipped ones', async () => {
    const run = await captureCli(reportCommand, [dir, '--no-dns', '--json'], { cwd: root });
    assert.equal(run.code, 0, run.err);
    const json = JSON.parse(run.out) as { counts: { aggregate: number }; findings: Array<{ code: string; source: string }> };
    assert.equal(json.counts.aggregate, 4);
    assert.deepEqual(json.findings.map((f) => `${f.code} ${f.source}`).sort(), [
      'report-link-loop reports/sub/loop',
      'report-unreadable reports/dangling.xml',
      'report-unreadable reports/pipe.xml',
    ]);
  });
});

// Session 22, second wave: a link to nothing is listed only when its name is a report file's (the
// name rule files have), and a socket (whose open(2) fails with ENXIO) is refused in the same words
// as a FIFO or a device.
describe('dangling links without a report name, and sockets', () => {
  let root = '';
  let dir = '';
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'smtpwb-files-special-'));
    dir = join(root, 'reports');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.xml'), report('a'));
    // A link back to a folder that is gone, a dangling link named like a report, and a socket
    // named like a report (bound by Python, which leaves the socket file behind when it exits).
    symlinkSync(join(root, 'gone'), join(dir, 'back'));
    symlinkSync(join(root, 'gone.xml'), join(dir, 'gone.xml'));
    const bound = spawnSync('/usr/bin/python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', join(dir, 'sock.xml')]);
    assert.equal(bound.status, 0, `python3 failed to bind a socket: ${bound.error?.message ?? bound.stderr.toString()}`);
  });
  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('a dangling link whose name is not a report file\'s is left out, as a file of that name is', async () => {
    const files = (await listReportFiles(dir)).map((f) => f.slice(dir.length + 1));
    assert.deepEqual(files, ['a.xml', 'gone.xml', 'sock.xml']);
  });

  it('a socket is "not a regular file", in a folder and by name, and the other files are read', async () => {
    const summary = await summariseReportFiles(await reportFilesOf([dir, join(dir, 'sock.xml')]));
    assert.equal(summary.counts.aggregate, 1, JSON.stringify(summary.findings));
    const unreadable = summary.findings.filter((f) => f.code === 'report-unreadable').map((f) => `${f.source.slice(dir.length + 1)}: ${f.message}`);
    assert.deepEqual(unreadable, [
      'gone.xml: cannot read the file: ENOENT (a symbolic link whose target does not exist)',
      'sock.xml: not a regular file (a FIFO, a socket or a device): not read',
      'sock.xml: not a regular file (a FIFO, a socket or a device): not read',
    ]);
  });

  it('smtpwb report DIR names no dangling link but the report-named one', async () => {
    const run = await captureCli(reportCommand, [dir, '--no-dns', '--json'], { cwd: root });
    assert.equal(run.code, 0, run.err);
    const json = JSON.parse(run.out) as { findings: Array<{ code: string; source: string; message: string }> };
    assert.deepEqual(json.findings.map((f) => `${f.code} ${f.source}`).sort(), ['report-unreadable reports/gone.xml', 'report-unreadable reports/sock.xml']);
    assert.ok(!run.out.includes('ENXIO'), run.out);
  });
});
