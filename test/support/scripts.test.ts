/**
 * The test scripts' own promises (issue 10 §1): the editor's install check reads the version
 * whatever code-server logs first and never touches the caller's HOME, the Node versions install is
 * idempotent without the network, and the suite guard fails, with a listing, on a leftover file or
 * process, and passes on a clean run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir, removeTempDir } from '../peers/process';
import { repoRoot } from '../peers/require';

const dirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = makeTempDir(prefix);
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) removeTempDir(dir);
});

/** Writes an executable shell script. */
function script(path: string, body: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

/** A fake code-server that behaves like the real one on its first start in a HOME. */
function fakeCodeServer(editorDir: string, version: string): void {
  script(
    join(editorDir, 'node_modules', '.bin', 'code-server'),
    [
      'config="${XDG_CONFIG_HOME:-$HOME/.config}/code-server/config.yaml"',
      'if [ ! -f "$config" ]; then',
      '  mkdir -p "$(dirname "$config")" && echo "bind-addr: 127.0.0.1:8080" >"$config"',
      '  echo "[2026-12-06T06:13:04.828Z] info  Wrote default config file to $config"',
      'fi',
      `echo "${version} 409c64e0df4d53530e59c16acc2b5d5766f717b0 with Code 1.100.3"`,
    ].join('\n'),
  );
}

/** Runs the install check of scripts/install-editor.sh (no install) against a code-server folder. */
function editorCheck(editorDir: string, home: string): { status: number | null; out: string } {
  const result = spawnSync('bash', [join(repoRoot(), 'scripts', 'install-editor.sh')], {
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), SMTPWB_EDITOR_DIR: editorDir, SMTPWB_EDITOR_CHECK_ONLY: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

test('install-editor: a first start that logs before the version still passes, in a HOME of its own', () => {
  const home = tempDir('fresh-home');
  const editorDir = tempDir('editor');
  fakeCodeServer(editorDir, '4.100.3');
  for (let run = 1; run <= 2; run++) {
    const { status, out } = editorCheck(editorDir, home);
    assert.equal(status, 0, `run ${run}: ${out}`);
    assert.match(out, /code-server 4\.100\.3 is installed/);
  }
  // The check ran in a private HOME: the caller's stays empty, so every run is a "first" run.
  assert.deepEqual(readdirSync(home), []);
});

test('install-editor: another version, or none, is not taken for the pinned one', () => {
  const home = tempDir('fresh-home');
  const editorDir = tempDir('editor');
  let { status, out } = editorCheck(editorDir, home);
  assert.equal(status, 1, out);
  fakeCodeServer(editorDir, '4.99.0');
  ({ status, out } = editorCheck(editorDir, home));
  assert.equal(status, 1, out);
  assert.match(out, /not installed .*reports '4\.99\.0'/);
});

test('install-node-versions: returns at once, without the network, when the version is there', () => {
  const dir = tempDir('node-versions');
  script(join(dir, '22', 'bin', 'node'), 'echo v22.0.1');
  const started = Date.now();
  const result = spawnSync('bash', [join(repoRoot(), 'scripts', 'install-node-versions.sh')], {
    env: { ...process.env, SMTPWB_NODE_VERSIONS_DIR: dir, SMTPWB_NODE_VERSIONS: '22.0.1', npm_config_registry: 'http://127.0.0.1:9/' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
  assert.match(result.stdout, /node v22\.0\.1 already in/);
  assert.ok(Date.now() - started < 30_000);
});

/** Runs the suite guard on a folder with a marker and returns its exit status and output. */
function guard(tmp: string, marker: string): { status: number | null; out: string } {
  const result = spawnSync(process.execPath, [join(repoRoot(), 'scripts', 'suite-guard.mjs'), '--tmp', tmp, '--marker', marker, '--grace-ms', '300'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

test('suite guard: a clean folder and no process pass', () => {
  const tmp = tempDir('guard-clean');
  const { status, out } = guard(tmp, `clean-${process.pid}-${Date.now()}`);
  assert.equal(status, 0, out);
  assert.match(out, /no process left running, nothing left/);
});

test('suite guard: a leftover file fails with its name', () => {
  const tmp = tempDir('guard-file');
  mkdirSync(join(tmp, 'engine-cli-abc123'));
  writeFileSync(join(tmp, 'engine-cli-abc123', 'bulk.smtp'), 'QUIT\n');
  const { status, out } = guard(tmp, `file-${process.pid}-${Date.now()}`);
  assert.equal(status, 1, out);
  assert.match(out, /"engine-cli-abc123" \(5 bytes\): "bulk\.smtp"/);
});

test('suite guard: a process left running fails and is ended, found by its environment or its command line', async () => {
  const tmp = tempDir('guard-process');
  const marker = `proc-${process.pid}-${Date.now()}`;
  const byEnv = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { env: { ...process.env, SMTPWB_SUITE_ID: marker }, detached: true, stdio: 'ignore' });
  // Exim clears its environment; the guard knows it by the suite's folder on its command line.
  const byCmdline = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', join(tmp, 'exim.conf')], { detached: true, stdio: 'ignore' });
  const exits = [byEnv, byCmdline].map((child) => new Promise<void>((resolve) => child.once('exit', () => resolve())));
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { status, out } = guard(tmp, marker);
    assert.equal(status, 1, out);
    assert.match(out, new RegExp(`pid ${byEnv.pid}:`));
    assert.match(out, new RegExp(`pid ${byCmdline.pid}:`));
    assert.match(out, /ended them/);
    await Promise.all(exits);
  } finally {
    for (const child of [byEnv, byCmdline]) {
      try {
        if (child.pid !== undefined && existsSync(`/proc/${child.pid}`)) process.kill(child.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  }
});
