/**
 * The behaviour rules that answered a client of the capture server, for that client's transcript.
 *
 * A run and the capture server it talks to share a process in the editor (the Local Inbox's server)
 * and in `smtpwb run` (the embedded server, with `--rules`). The server reports each rule that
 * fires with the client's address and port, before the reply the rule causes is sent; the engine
 * asks for the notes of its own connection (its local address and port) each time it has read a
 * reply, and shows them beside it (`RunOptions.serverNotes`). So a transcript says which rule
 * answered, as the Local Inbox and the server's log do.
 *
 * Notes of connections nobody asks about (other clients of the server) are bounded: a minute at
 * most, 256 connections, 64 notes each, oldest dropped first; a run asks only about connections to
 * this server's port, so a stale note of another client cannot reach a connection elsewhere. In an
 * RFC 2920 group the engine shows the group's notes after its replies (each names its command).
 */
import type { ServerNotes } from '../engine/types';
import { describeFiredRule } from './captureRuleEngine';
import type { FiredRuleEvent } from './captureServer';

/** The notes of one client connection, drained by `notes`. */
export interface RuleNotes {
  /** The notes not yet taken for the connection whose client end is given; each is taken once. */
  notes: ServerNotes;
  /** Stops listening to the server. */
  dispose(): void;
}

/** How many client connections keep notes nobody has taken. */
const KEPT_CONNECTIONS = 256;
/** How many notes one connection keeps until it asks. */
const KEPT_NOTES = 64;
/** How long a note nobody took is kept (ms). */
const KEPT_MS = 60_000;

/** One key for a client end: the address without an IPv4-mapped prefix, and the port. */
function endpointKey(address: string | undefined, port: number | undefined): string {
  return `${(address ?? '').replace(/^::ffff:(?=\d+\.)/i, '')}|${port ?? 0}`;
}

/**
 * Listens to a capture server's fired rules and keeps them, per client connection, as notes.
 * `clock` (ms) only ages notes nobody took.
 */
export function ruleNotes(
  server: { readonly port: number; onRule(listener: (event: FiredRuleEvent) => void): { dispose(): void } },
  kept = KEPT_CONNECTIONS,
  clock: () => number = Date.now,
): RuleNotes {
  // A Map keeps insertion order: the first key is the connection that fired first.
  const pending = new Map<string, { notes: string[]; since: number }>();
  const subscription = server.onRule((event) => {
    const now = clock();
    // Drop what nobody took within the minute, oldest first.
    for (const [key, entry] of pending) {
      if (now - entry.since <= KEPT_MS) break;
      pending.delete(key);
    }
    const key = endpointKey(event.remoteAddress, event.remotePort);
    const note = `capture server: ${describeFiredRule(event.rule)}`;
    const entry = pending.get(key);
    if (entry) {
      if (entry.notes.length < KEPT_NOTES) entry.notes.push(note);
    } else {
      pending.set(key, { notes: [note], since: now });
      if (pending.size > kept) pending.delete(pending.keys().next().value as string);
    }
  });
  return {
    notes(local) {
      if (pending.size === 0) return [];
      if (local.serverPort !== undefined && local.serverPort !== server.port) return [];
      const key = endpointKey(local.address, local.port);
      const entry = pending.get(key);
      if (!entry) return [];
      pending.delete(key);
      return entry.notes;
    },
    dispose: () => {
      subscription.dispose();
      pending.clear();
    },
  };
}
