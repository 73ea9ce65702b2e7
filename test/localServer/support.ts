// Shared helpers for the capture server's tests: a server in a fresh temp folder, and a session
// plan sent to it through the project's own engine as "the embedded local capture server".
import { runSession, type SessionResult } from '../../client/src/engine';
import { startCaptureServer, type CaptureServer, type CaptureServerOptions, type StoredMessage } from '../../client/src/localServer';
import type { SessionPlan } from '../../common/sessionPlan';
import { makeTempDir, removeTempDir } from '../peers/process';

export { cmd, data, auth, starttls, raw, makePlan, expectation } from '../engine/plan';

/** Runs `fn` with a capture server in a new temp folder, then stops it and removes the folder. */
export async function withCaptureServer(
  options: Partial<CaptureServerOptions>,
  fn: (server: CaptureServer) => Promise<void>,
): Promise<void> {
  const dir = options.dir ?? makeTempDir('inbox');
  const server = await startCaptureServer({ ...options, dir });
  try {
    await fn(server);
  } finally {
    await server.stop();
    if (options.dir === undefined) removeTempDir(dir);
  }
}

/** Sends a plan without CONNECT, which the engine sends to the local target. */
export function sendLocal(server: CaptureServer, plan: SessionPlan, readFile?: (path: string) => Promise<Buffer>): Promise<SessionResult> {
  return runSession(plan, { localTarget: { host: server.host, port: server.port }, readFile });
}

/**
 * Resolves with the next stored message (or rejects after `timeoutMs`), with its `.eml` and sidecar
 * in the folder: the store journals a message at once and writes its files once the server is
 * quiet, or when `get` asks for it, as here.
 */
export async function nextMessage(server: CaptureServer, timeoutMs = 10_000): Promise<StoredMessage> {
  const stored = await new Promise<StoredMessage>((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.dispose();
      reject(new Error('no message arrived'));
    }, timeoutMs);
    const subscription = server.onMessage((message) => {
      clearTimeout(timer);
      subscription.dispose();
      resolve(message);
    });
  });
  const written = await server.get(stored.id);
  if (!written) throw new Error(`message ${stored.id} is gone`);
  return written;
}

/** A short description of a failed session, for assertion messages. */
export function why(result: SessionResult): string {
  return JSON.stringify({ failure: result.failure, steps: result.steps.map((s) => `${s.command} -> ${s.reply?.lines.join(' / ') ?? s.message}`) }, null, 1);
}

/** Waits (up to 15 s, polling every 50 ms) until `read()` matches `re`; the match, or an error naming what was read. */
export async function until(read: () => string, re: RegExp): Promise<RegExpExecArray> {
  for (let i = 0; i < 300; i++) {
    const m = re.exec(read());
    if (m) return m;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${re} in ${read()}`);
}
