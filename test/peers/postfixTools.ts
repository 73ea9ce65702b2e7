// Postfix's smtp-sink (a fast test SMTP server with fault injection) and smtp-source (a C load
// generator, the throughput reference), unpacked by scripts/install-peers.sh into .peers/postfix.
// They link against Postfix's private libraries, so they need postfixEnv() (LD_LIBRARY_PATH).
//
// smtp-sink options worth knowing (pass them in `faults`; see .peers/postfix/usr/share/man/man1/
// smtp-sink.1.gz): `-r RCPT` answers RCPT with 450 (and implies -p), `-Q DATA` answers DATA with
// 421 and disconnects, `-q MAIL` disconnects without a reply, `-W MAIL:2` waits 2 s before
// answering MAIL, `-A 0` aborts DATA with 550, `-d DIR/%Y%m%d%H/%M.` dumps each message (give a
// template under SmtpSinkPeer.dir, which the sink's user may write), `-p` hides PIPELINING,
// `-e` hides ESMTP, `-8` hides 8BITMIME, `-a` hides AUTH, `-N` hides DSN, `-c` prints counters.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { freePort, waitForTcp } from './ports';
import { logTail, makeTempDir, removeTempDir, spawnPeer } from './process';
import { peerUnavailable, repoRoot } from './require';

/** The folder Postfix's deb is unpacked into. */
export function postfixRoot(): string {
  return join(repoRoot(), '.peers', 'postfix');
}

/** The install hint when the unpacked Postfix is missing. */
const POSTFIX_HINT =
  'sudo bash scripts/install-peers.sh (it runs apt-get download postfix and dpkg -x into .peers/postfix)';

/** Returns the path of a Postfix binary from .peers/postfix, or fails the test with the install hint. */
function postfixBinary(name: string): string {
  const path = join(postfixRoot(), 'usr', 'sbin', name);
  if (!existsSync(path)) peerUnavailable(name, POSTFIX_HINT);
  return path;
}

/** The path of smtp-source (fails the test when it is not installed). */
export function smtpSourcePath(): string {
  return postfixBinary('smtp-source');
}

/** The path of smtp-sink (fails the test when it is not installed). */
export function smtpSinkPath(): string {
  return postfixBinary('smtp-sink');
}

/** The environment for running smtp-sink and smtp-source: process.env plus LD_LIBRARY_PATH. */
export function postfixEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const lib = join(postfixRoot(), 'usr', 'lib', 'postfix');
  const existing = base.LD_LIBRARY_PATH;
  return { ...base, LD_LIBRARY_PATH: existing ? `${lib}:${existing}` : lib };
}

/** Options for startSmtpSink(). */
export interface SmtpSinkOptions {
  /** Extra smtp-sink options before the address, e.g. ['-r', 'RCPT'] or ['-W', 'MAIL:2']. */
  faults?: string[];
  /** The listen backlog (the last smtp-sink argument; default 256). */
  backlog?: number;
  /** Milliseconds to wait for the port (default 10000). */
  startTimeoutMs?: number;
}

/** A running smtp-sink. */
export interface SmtpSinkPeer {
  host: '127.0.0.1';
  port: number;
  /** '127.0.0.1:PORT', the form smtp-source takes. */
  address: string;
  /** A temp dir owned by this sink, e.g. for a `-d` dump template. */
  dir: string;
  /** smtp-sink's stdout and stderr. */
  logPath: string;
  /** Startup time in milliseconds. */
  startupMs: number;
  /** Stops smtp-sink and removes its temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts smtp-sink on a free loopback port and resolves once it listens. */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSinkPeer> {
  const bin = smtpSinkPath();
  const started = Date.now();
  const asRoot = userInfo().uid === 0;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    // Each attempt gets its own dir, because stopping a failed attempt removes its dir.
    const dir = makeTempDir('sink');
    const logPath = join(dir, 'smtp-sink.log');
    // As root smtp-sink must switch to an unprivileged user, which must be able to write dumps here.
    if (asRoot) {
      const id = (flag: string): number => Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }).trim());
      chownSync(dir, id('-u'), id('-g'));
    }
    const port = await freePort();
    const userArgs = asRoot ? ['-u', 'nobody'] : [];
    const child = spawnPeer(
      bin,
      [...userArgs, ...(options.faults ?? []), `127.0.0.1:${port}`, String(options.backlog ?? 256)],
      { env: postfixEnv(), logFile: logPath, cwd: dir, removeOnDeath: dir },
    );
    try {
      await waitForTcp('127.0.0.1', port, options.startTimeoutMs ?? 10000, child.running);
    } catch (error) {
      const log = logTail(logPath);
      await child.stop();
      removeTempDir(dir);
      lastError = new Error(`startSmtpSink: ${(error as Error).message}\n${log}`);
      continue;
    }
    let stopped = false;
    return {
      host: '127.0.0.1',
      port,
      address: `127.0.0.1:${port}`,
      dir,
      logPath,
      startupMs: Date.now() - started,
      async stop(): Promise<void> {
        if (stopped) return;
        stopped = true;
        await child.stop();
        removeTempDir(dir);
      },
    };
  }
  throw lastError;
}

/** The outcome of runSmtpSource(). */
export interface SmtpSourceResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds. */
  ms: number;
}

/**
 * Runs smtp-source with the arguments (the last one is normally HOST:PORT) and resolves with its
 * output; it does not reject on a non-zero exit, so check `code`. Example:
 * `runSmtpSource(['-s', '10', '-m', '1000', '-l', '1024', '-d', sink.address])`.
 */
export function runSmtpSource(args: string[], options: { timeoutMs?: number } = {}): Promise<SmtpSourceResult> {
  const bin = smtpSourcePath();
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      bin,
      args,
      { env: postfixEnv(), timeout: options.timeoutMs ?? 120000, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}
