// Starts peer processes in their own process groups and makes sure that none outlives the test
// process: stop() kills the group, and an 'exit' handler kills whatever is left as a safety net.
import { spawn, ChildProcess, SpawnOptions } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A started peer process and what is needed to stop it. */
export interface PeerProcess {
  child: ChildProcess;
  pid: number;
  /** Whether the process is still running. */
  running(): boolean;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Kills the process group (TERM, then KILL after graceMs) and resolves when the leader exited. */
  stop(graceMs?: number): Promise<void>;
}

interface Registered {
  pid: number;
  /** A string unique to the peer (its temp dir); processes whose command line has it are killed. */
  marker?: string;
}

const processes = new Set<Registered>();
const tempDirs = new Set<string>();
let handlersInstalled = false;

/** Sends a signal to a process group, ignoring a group that is already gone. */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/**
 * Lists processes whose command line contains the marker. Exim re-executes itself for deliveries
 * and some of those children may leave the process group, so stop() looks for them by the unique
 * temp dir that is on their command line.
 */
export function pidsWithMarker(marker: string): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'latin1');
      if (cmdline.includes(marker)) pids.push(pid);
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** Kills everything that is registered, synchronously; used by the exit and signal handlers. */
function cleanupSync(): void {
  for (const entry of processes) {
    killGroup(entry.pid, 'SIGKILL');
    if (entry.marker !== undefined) {
      for (const pid of pidsWithMarker(entry.marker)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
  }
  processes.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Installs the exit and signal handlers once per process. */
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      cleanupSync();
      // Re-raise the signal with its default action when nobody else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.once(signal, handler);
  }
}

/** Creates a temp dir that is removed by removeTempDir() or, at the latest, when the process exits. */
export function makeTempDir(prefix: string): string {
  installHandlers();
  const dir = mkdtempSync(join(tmpdir(), `smtpwb-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

/** Removes a temp dir made by makeTempDir(). */
export function removeTempDir(dir: string): void {
  tempDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

/** Options for spawnPeer(). */
export interface SpawnPeerOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A file that receives stdout and stderr. */
  logFile?: string;
  /** See Registered.marker. */
  marker?: string;
  /** A temp dir the wrapper removes if the test process dies without cleaning up. */
  removeOnDeath?: string;
}

/** setpriv lets the wrapper below learn that the test process died (see spawnPeer()). */
const setprivPath = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/**
 * The wrapper that leads the peer's process group when setpriv is available: a root (or same-user)
 * shell that gets SIGTERM when the test process dies, even by SIGKILL, and then kills the peer,
 * removes the peer's temp dir ($1, when not empty) and kills the whole group. The peer cannot get
 * that signal itself because Exim and smtp-sink switch users, which clears the parent-death signal.
 * stop() sends SIGTERM to the group, which ends the same way.
 */
const WRAPPER =
  'd=$1; shift; trap \'kill -KILL $c 2>/dev/null; [ -n "$d" ] && rm -rf "$d"; kill -KILL 0\' TERM INT HUP; ' +
  '"$@" & c=$!; wait $c';

/**
 * Spawns a peer in its own process group with stdout and stderr sent to a log file, so that no
 * peer outlives the test process: stop() kills the group, the 'exit' and signal handlers kill it
 * synchronously, and (with setpriv) the wrapper kills it when the test process is SIGKILLed.
 */
export function spawnPeer(command: string, args: string[], options: SpawnPeerOptions = {}): PeerProcess {
  installHandlers();
  const fd = options.logFile !== undefined ? openSync(options.logFile, 'a') : undefined;
  const spawnOptions: SpawnOptions = {
    detached: true,
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
  };
  const child =
    setprivPath !== undefined
      ? spawn(
          setprivPath,
          ['--pdeathsig', 'TERM', '--', '/bin/sh', '-c', WRAPPER, 'peer-wrapper', options.removeOnDeath ?? '', command, ...args],
          spawnOptions,
        )
      : spawn(command, args, spawnOptions);
  if (fd !== undefined) closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${command}`);
  const entry: Registered = { pid, marker: options.marker };
  processes.add(entry);
  let alive = true;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      resolve(code ?? signal ?? -1);
    });
    child.once('error', () => {
      alive = false;
      resolve(-1);
    });
  });
  // The peer must not keep the test process alive.
  child.unref();
  const stop = async (graceMs = 2000): Promise<void> => {
    killGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    // Kill what is left in the group (children that ignored TERM) and strays found by marker.
    killGroup(pid, 'SIGKILL');
    if (entry.marker !== undefined) {
      for (let round = 0; round < 50; round++) {
        const strays = pidsWithMarker(entry.marker);
        if (strays.length === 0) break;
        for (const stray of strays) {
          try {
            process.kill(stray, round === 0 ? 'SIGTERM' : 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    processes.delete(entry);
  };
  return { child, pid, running: () => alive, exited, stop };
}

/** Returns the last `maxChars` characters of a log file, or '' when it cannot be read. */
export function logTail(path: string, maxChars = 2000): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.length > maxChars ? text.slice(-maxChars) : text;
  } catch {
    return '';
  }
}

/**
 * Starts a peer, trying again (up to three times) when a port it picked was taken by another
 * process in the meantime, or the peer exited at once: tests start peers in parallel processes.
 */
export async function startWithRetries<T>(start: () => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await start();
    } catch (error) {
      lastError = error;
      if (!/in use|exited/i.test(String(error))) break;
    }
  }
  throw lastError;
}
