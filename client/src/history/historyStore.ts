/**
 * The run history: the last N runs with their transcripts, kept in a Memento-like storage (the
 * extension passes `context.workspaceState`). Pure: no `vscode`; the storage, the size and the limits
 * are injected.
 *
 * Secrets never reach the storage: `add` masks the record (`maskRecord`, with the secrets' base64
 * forms, as the engine does) before anything is written, and caps its size
 * (over-long strings and, past that, the middle of long transcripts and step lists are cut, with a
 * note in the transcript saying so).
 *
 * Layout: one key holds the index (newest first, a summary per run, enough for the history tree),
 * and each record lives under its own key, so listing the history never parses the transcripts.
 * Writes are queued, so the storage sees them in the order they were made.
 */
import { maskRecord, type RunRecord, type RunStatus } from '../runs/runRecord';
import type { SessionResult, StepResult, TranscriptEvent } from '../engine/types';

/** The part of `vscode.Memento` the store uses. */
export interface HistoryStorage {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Promise<void>;
}

export interface HistorySessionSummary {
  title: string;
  name?: string;
  line: number;
  ok: boolean;
  failure?: string;
}

/** What the index keeps of a run: enough to list it without reading the record. */
export interface HistoryEntry {
  id: string;
  startedAt: string;
  uri: string;
  fileName: string;
  label: string;
  status: RunStatus;
  durationMs: number;
  environment?: string;
  sessions: HistorySessionSummary[];
  /** The stored record's size in bytes (UTF-8 JSON). */
  bytes: number;
  /** True when the stored record was cut to fit `maxRecordBytes`. */
  truncated: boolean;
}

export interface HistoryChange {
  kind: 'add' | 'delete' | 'clear' | 'prune';
  ids: string[];
}

export interface HistoryOptions {
  /** How many runs to keep: a number or a function read on every add (the `smtp.history.size` setting). */
  size?: number | (() => number);
  /** The most bytes of JSON one stored record may take (default 2 MiB). */
  maxRecordBytes?: number;
  /** The prefix of the storage keys (default `smtp.history`). */
  keyPrefix?: string;
}

export interface Disposable {
  dispose(): void;
}

export const DEFAULT_HISTORY_SIZE = 50;
export const MAX_HISTORY_SIZE = 1000;
export const DEFAULT_MAX_RECORD_BYTES = 2 * 1024 * 1024;
/** Strings longer than this are cut first when a record is over its size cap. */
const LONG_STRING = 16 * 1024;

const STATUSES: readonly RunStatus[] = ['running', 'passed', 'failed', 'cancelled', 'error'];

/** Clamps a configured history size to 0..MAX_HISTORY_SIZE (0 keeps nothing); bad values give the default. */
export function clampHistorySize(size: unknown): number {
  if (typeof size !== 'number' || !Number.isFinite(size)) return DEFAULT_HISTORY_SIZE;
  return Math.max(0, Math.min(MAX_HISTORY_SIZE, Math.floor(size)));
}

function byteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** Applies a function to every string in a JSON value (keys included), returning a new value. */
function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[f(k)] = mapStrings(v, f);
    return out;
  }
  return value;
}

/**
 * Masks the secrets of a record (`maskRecord`: where secret bytes can appear, with their base64
 * forms; never the status, codes, titles or counts). The result is a fresh copy that shares
 * nothing with the input.
 */
export function maskForStorage(record: RunRecord, secrets: readonly string[]): RunRecord {
  // The session in progress belongs to the live panel only.
  const { current: _live, ...finished } = record;
  return JSON.parse(JSON.stringify(maskRecord(finished, secrets))) as RunRecord;
}

function cutString(s: string, max: number): string {
  if (s.length <= max) return s;
  return `${s.slice(0, max)} … [${(s.length - max).toLocaleString('en-US')} more characters not kept in the history]`;
}

/** Keeps the first and last `keep/2` items of a list, reporting how many were dropped. */
function keepEnds<T>(items: T[], keep: number): { items: T[]; dropped: number; at: number } {
  if (items.length <= keep) return { items, dropped: 0, at: -1 };
  const head = Math.ceil(keep / 2);
  const tail = keep - head;
  return { items: [...items.slice(0, head), ...items.slice(items.length - tail)], dropped: items.length - keep, at: head };
}

function note(t: number, text: string): TranscriptEvent {
  return { t, dir: 'info', text, bytes: 0 };
}

/** Shortens one session to keep at most `keep` events and `keep` steps (failed steps first to go last). */
function shortenSession(s: SessionResult, keep: number): SessionResult {
  const events = Array.isArray(s.transcript) ? s.transcript : [];
  const steps = Array.isArray(s.steps) ? s.steps : [];
  const ev = keepEnds(events, keep);
  let transcript = ev.items;
  if (ev.dropped > 0) {
    const at = transcript[ev.at - 1]?.t ?? 0;
    transcript = [...transcript.slice(0, ev.at), note(at, `[${ev.dropped.toLocaleString('en-US')} transcript events not kept in the history: the record was over its size limit]`), ...transcript.slice(ev.at)];
  }
  let keptSteps: StepResult[] = steps;
  if (steps.length > keep) {
    // Failed steps are the interesting ones: keep them, then the ends of the list.
    const failed = new Set(steps.filter((x) => !x.ok));
    const head = Math.ceil(keep / 2);
    keptSteps = steps.filter((x, i) => i < head || i >= steps.length - (keep - head) || failed.has(x));
    const dropped = steps.length - keptSteps.length;
    if (dropped > 0) transcript = [...transcript, note(transcript[transcript.length - 1]?.t ?? 0, `[${dropped.toLocaleString('en-US')} passing steps not kept in the history: the record was over its size limit]`)];
  }
  return { ...s, transcript, steps: keptSteps };
}

/**
 * Caps a record's JSON size: first strings over 16 KiB are cut, then the middles of transcripts and
 * step lists, keeping as many events as fit (a binary search on the number kept per session).
 */
export function capRecord(record: RunRecord, maxBytes: number): { record: RunRecord; truncated: boolean } {
  if (byteLength(record) <= maxBytes) return { record, truncated: false };
  const cut = mapStrings(record, (s) => cutString(s, LONG_STRING)) as RunRecord;
  if (byteLength(cut) <= maxBytes) return { record: cut, truncated: true };
  const sessions = Array.isArray(cut.sessions) ? cut.sessions : [];
  const most = Math.max(0, ...sessions.map((s) => Math.max(Array.isArray(s.transcript) ? s.transcript.length : 0, Array.isArray(s.steps) ? s.steps.length : 0)));
  const build = (keep: number): RunRecord => ({ ...cut, sessions: sessions.map((s) => shortenSession(s, keep)) });
  let lo = 0;
  let hi = most;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (byteLength(build(mid)) <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  let result = build(lo);
  if (byteLength(result) > maxBytes) {
    // Even without events the record is too big (a huge error text or many sessions): cut harder.
    result = mapStrings(result, (s) => cutString(s, 256)) as RunRecord;
  }
  return { record: result, truncated: true };
}

function summarize(record: RunRecord, bytes: number, truncated: boolean): HistoryEntry {
  const sessions = Array.isArray(record.sessions) ? record.sessions : [];
  return {
    id: String(record.id),
    startedAt: String(record.startedAt),
    uri: String(record.uri),
    fileName: String(record.fileName),
    label: String(record.label),
    status: STATUSES.includes(record.status) ? record.status : 'error',
    durationMs: typeof record.durationMs === 'number' ? record.durationMs : 0,
    ...(record.environment !== undefined ? { environment: String(record.environment) } : {}),
    sessions: sessions.map((s) => ({
      title: cutString(String(s.title), 200),
      ...(s.name !== undefined ? { name: cutString(String(s.name), 200) } : {}),
      line: typeof s.line === 'number' ? s.line : 0,
      ok: s.ok === true,
      ...(s.failure ? { failure: cutString(`${s.failure.kind}: ${s.failure.message}`, 500) } : {}),
    })),
    bytes,
    truncated,
  };
}

function isEntry(value: unknown): value is HistoryEntry {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Partial<HistoryEntry>;
  return typeof e.id === 'string' && typeof e.startedAt === 'string' && typeof e.label === 'string' && Array.isArray(e.sessions);
}

export class HistoryStore {
  private readonly storage: HistoryStorage;
  private readonly sizeOf: () => number;
  private readonly maxRecordBytes: number;
  private readonly indexKey: string;
  private readonly recordPrefix: string;
  private index: HistoryEntry[];
  private writes: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<(change: HistoryChange) => void>();

  constructor(storage: HistoryStorage, options: HistoryOptions = {}) {
    this.storage = storage;
    const size = options.size ?? DEFAULT_HISTORY_SIZE;
    this.sizeOf = typeof size === 'function' ? () => clampHistorySize(size()) : () => clampHistorySize(size);
    this.maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    const prefix = options.keyPrefix ?? 'smtp.history';
    this.indexKey = `${prefix}.index`;
    this.recordPrefix = `${prefix}.record.`;
    // A damaged or foreign index is ignored entry by entry rather than failing the extension.
    const stored = storage.get<unknown>(this.indexKey);
    this.index = Array.isArray(stored) ? stored.filter(isEntry) : [];
  }

  /** Subscribes to changes; returns a disposable (the shape of a `vscode.Event`). */
  readonly onDidChange = (listener: (change: HistoryChange) => void): Disposable => {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  };

  /** The runs, newest first. */
  list(): HistoryEntry[] {
    return this.index.map((e) => ({ ...e, sessions: e.sessions.map((s) => ({ ...s })) }));
  }

  /** The stored (masked, possibly cut) record, or undefined when it is not in the history. */
  get(id: string): RunRecord | undefined {
    if (!this.index.some((e) => e.id === id)) return undefined;
    const record = this.storage.get<RunRecord>(this.recordPrefix + id);
    return record && typeof record === 'object' ? record : undefined;
  }

  /**
   * Masks and caps a record, then stores it as the newest run (replacing a run with the same id, so a
   * run can be added when it starts and again when it ends), and drops the oldest runs beyond the
   * size. Returns the record as stored.
   */
  async add(record: RunRecord, secrets: readonly string[]): Promise<RunRecord> {
    // Masking comes first: nothing below sees the unmasked record.
    const masked = maskForStorage(record, secrets);
    const { record: stored, truncated } = capRecord(masked, this.maxRecordBytes);
    const id = String(stored.id);
    const entry = summarize(stored, byteLength(stored), truncated);
    const size = this.sizeOf();
    const rest = this.index.filter((e) => e.id !== id);
    const dropped = size === 0 ? [entry, ...rest] : rest.slice(size - 1);
    const kept = size === 0 ? [] : [entry, ...rest.slice(0, size - 1)];
    this.index = kept;
    await this.enqueue(async () => {
      if (size > 0) await this.storage.update(this.recordPrefix + id, stored);
      for (const e of dropped) await this.storage.update(this.recordPrefix + e.id, undefined);
      await this.storage.update(this.indexKey, kept);
    });
    this.fire({ kind: 'add', ids: [id] });
    if (dropped.length > 0) this.fire({ kind: 'prune', ids: dropped.map((e) => e.id) });
    return stored;
  }

  /** Deletes one run; returns false when it was not there. */
  async delete(id: string): Promise<boolean> {
    if (!this.index.some((e) => e.id === id)) return false;
    this.index = this.index.filter((e) => e.id !== id);
    const kept = this.index;
    await this.enqueue(async () => {
      await this.storage.update(this.recordPrefix + id, undefined);
      await this.storage.update(this.indexKey, kept);
    });
    this.fire({ kind: 'delete', ids: [id] });
    return true;
  }

  /** Deletes every run. */
  async clear(): Promise<void> {
    const ids = this.index.map((e) => e.id);
    this.index = [];
    await this.enqueue(async () => {
      for (const id of ids) await this.storage.update(this.recordPrefix + id, undefined);
      await this.storage.update(this.indexKey, []);
    });
    this.fire({ kind: 'clear', ids });
  }

  /** Drops the oldest runs beyond the current size (call when the setting changes). */
  async prune(): Promise<void> {
    const size = this.sizeOf();
    if (this.index.length <= size) return;
    const dropped = this.index.slice(size);
    this.index = this.index.slice(0, size);
    const kept = this.index;
    await this.enqueue(async () => {
      for (const e of dropped) await this.storage.update(this.recordPrefix + e.id, undefined);
      await this.storage.update(this.indexKey, kept);
    });
    this.fire({ kind: 'prune', ids: dropped.map((e) => e.id) });
  }

  /** Runs a write after the ones before it; a failed write does not stop the later ones. */
  private enqueue(write: () => Promise<void>): Promise<void> {
    const next = this.writes.then(write);
    this.writes = next.catch(() => undefined);
    return next;
  }

  private fire(change: HistoryChange): void {
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch {
        // A failing listener must not break the store or the other listeners.
      }
    }
  }
}
