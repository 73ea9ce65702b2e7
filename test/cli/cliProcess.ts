/**
 * Runs the real CLI bundle (`SMTPWB_DIST/cli.js`, defined by the build) as a process, with its own
 * temporary folder (TMPDIR) so a test can see what a run leaves behind.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export function cliPath(): string {
  const cli = resolve(process.env.SMTPWB_DIST ?? 'dist', 'cli.js');
  assert.ok(existsSync(cli), `${cli} is not built: run node scripts/build.mjs`);
  return cli;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Text written to stdin, which is then closed (stdin is closed at once otherwise). */
  input?: string;
  /** Called once the process runs, to interact with it (send a signal, read output). */
  interact?: (child: ChildProcess, output: { stdout(): string; stderr(): string }) => void | Promise<void>;
}

/** A private folder for one test file; `remove()` deletes it. */
export function scratch(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** What a folder holds (for leak checks). */
export function entries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

export function runCli(args: string[], options: CliOptions): Promise<CliResult> {
  const child = spawn(process.execPath, [cliPath(), ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, HOME: options.cwd, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin!.on('error', () => undefined);
  if (options.input !== undefined) child.stdin!.end(options.input);
  else if (!options.interact) child.stdin!.end();
  const done = new Promise<CliResult>((resolveDone) => child.on('close', (code, signal) => resolveDone({ code, signal, stdout, stderr })));
  if (options.interact) void Promise.resolve(options.interact(child, { stdout: () => stdout, stderr: () => stderr })).catch((e: unknown) => {
    stderr += `\n[test interaction failed: ${String(e)}]`;
    child.kill('SIGKILL');
  });
  return done;
}

/** Waits until a condition holds, polling; fails after `ms`. */
export async function waitFor(what: string, condition: () => boolean, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
