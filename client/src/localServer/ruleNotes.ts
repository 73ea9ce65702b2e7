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
 * Notes of connections nobody asks about (other clients of the server) are kept for a bounded
 * number of connections, oldest dropped first.
 */
import { describeFiredRule } from './captureRuleEngine';
import type { FiredRuleEvent } from './captureServer';

/** The notes of one client connection, drained by `notes`. */
export interface RuleNotes {
  /** The notes not yet taken for the connection whose client end is `local`; each is taken once. */
  notes(local: { address?: string; port?: number }): string[];
  /** Stops listening to the server. */
  dispose(): void;
}

/** How many client connections keep notes nobody has taken. */
const KEPT_CONNECTIONS = 256;

/** One key for a client end: the address without an IPv4-mapped prefix, and the port. */
function endpointKey(address: string | undefined, port: number | undefined): string {
  return `${(address ?? '').replace(/^::ffff:(?=\d+\.)/i, '')}|${port ?? 0}`;
}

/** Listens to a capture server's fired rules and keeps them, per client connection, as notes. */
export function ruleNotes(server: { onRule(listener: (event: FiredRuleEvent) => void): { dispose(): void } }, kept = KEPT_CONNECTIONS): RuleNotes {
  // A Map keeps insertion order: the first key is the oldest connection.
  const pending = new Map<string, string[]>();
  const subscription = server.onRule((event) => {
    const key = endpointKey(event.remoteAddress, event.remotePort);
    const list = pending.get(key);
    const note = `capture server: ${describeFiredRule(event.rule)}`;
    if (list) list.push(note);
    else {
      pending.set(key, [note]);
      if (pending.size > kept) pending.delete(pending.keys().next().value as string);
    }
  });
  return {
    notes(local) {
      if (pending.size === 0) return [];
      const key = endpointKey(local.address, local.port);
      const list = pending.get(key);
      if (!list) return [];
      pending.delete(key);
      return list;
    },
    dispose: () => {
      subscription.dispose();
      pending.clear();
    },
  };
}
