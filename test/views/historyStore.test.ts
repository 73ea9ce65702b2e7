// The history store: secrets are masked before anything is written, only the last N runs are kept,
// big records are cut, and a new store over the same storage restores the history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HistoryStore, capRecord, clampHistorySize, type HistoryChange, type HistoryStorage } from '../../client/src/history/historyStore';
import type { RunRecord } from '../../client/src/runs/runRecord';
import { goodSession, record, SECRET } from './fixtures';

/** A Memento that keeps values as JSON (as VS Code does) and records every write. */
class FakeMemento implements HistoryStorage {
  readonly values = new Map<string, string>();
  readonly writes: string[] = [];
  get<T>(key: string): T | undefined {
    const v = this.values.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }
  async update(key: string, value: unknown): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    if (value === undefined) {
      this.values.delete(key);
      this.writes.push(`delete ${key}`);
      return;
    }
    const json = JSON.stringify(value);
    this.values.set(key, json);
    this.writes.push(`${key}=${json}`);
  }
  /** Everything written, as bytes. */
  bytes(): Buffer {
    return Buffer.from(this.writes.join('\n'), 'utf8');
  }
}

function withId(id: string, overrides: Partial<RunRecord> = {}): RunRecord {
  return record({ id, ...overrides });
}

/**
 * A record with the secret everywhere secret bytes can appear: AUTH payloads and other sent text,
 * replies that echo it, step and failure messages, the run's error text, advertised parameters.
 */
function secretRecord(): RunRecord {
  const b64 = Buffer.from(`\0user\0${SECRET}`).toString('base64');
  const s = goodSession();
  return record({
    id: 'secret-run',
    label: 'Run with a secret',
    error: `could not log in as user/${SECRET}`,
    sessions: [
      {
        ...s,
        title: 'Login',
        failure: { kind: 'expectation', message: `expected 235, got 535: 535 bad password ${SECRET}`, line: 3 },
        steps: [{ line: 3, command: `AUTH PLAIN ${b64}`, reply: { code: 535, lines: [`535 bad password ${SECRET}`] }, ok: false, message: SECRET, durationMs: 1 }],
        transcript: [
          { t: 1, dir: 'client', text: `AUTH PLAIN ${b64}`, bytes: 60 },
          { t: 2, dir: 'client', text: Buffer.from(SECRET).toString('base64'), bytes: 30 },
          { t: 3, dir: 'server', text: `535 5.7.8 ${SECRET} rejected`, bytes: 30 },
        ],
        capabilities: { keywords: { 'X-ECHO': [SECRET] }, authMechanisms: [] },
      },
    ],
  });
}

test('add masks secrets before anything is stored: the secret is in no byte written', async () => {
  const memento = new FakeMemento();
  const store = new HistoryStore(memento);
  const original = secretRecord();
  const before = JSON.stringify(original);
  const stored = await store.add(original, [SECRET, 'user']);
  const written = memento.bytes();
  const forms = [SECRET, JSON.stringify(SECRET).slice(1, -1), Buffer.from(SECRET).toString('base64'), Buffer.from(`\0user\0${SECRET}`).toString('base64')];
  for (const form of forms) {
    assert.equal(written.indexOf(Buffer.from(form, 'utf8')), -1, `${form} was written`);
    assert.ok(!JSON.stringify(stored).includes(form), `${form} is in the returned record`);
    assert.ok(!JSON.stringify(store.get('secret-run')).includes(form));
    assert.ok(!JSON.stringify(store.list()).includes(form));
  }
  assert.ok(written.includes('********'));
  // Structured fields are kept as they are.
  assert.equal(store.get('secret-run')?.label, 'Run with a secret');
  assert.equal(store.get('secret-run')?.sessions[0].steps[0].reply?.code, 535);
  assert.equal(store.get('secret-run')?.sessions[0].steps[0].reply?.lines[0], '535 bad password ********');
  // The caller's record is left as it was.
  assert.equal(JSON.stringify(original), before);
});

test('keeps only the last N runs, newest first, and deletes the dropped records', async () => {
  const memento = new FakeMemento();
  const store = new HistoryStore(memento, { size: 3 });
  for (let i = 1; i <= 5; i++) await store.add(withId(`run-${i}`), []);
  assert.deepEqual(store.list().map((e) => e.id), ['run-5', 'run-4', 'run-3']);
  assert.equal(store.get('run-1'), undefined);
  assert.equal(memento.get('smtp.history.record.run-1'), undefined);
  assert.equal(memento.get('smtp.history.record.run-2'), undefined);
  assert.ok(memento.get('smtp.history.record.run-3'));
  assert.equal([...memento.values.keys()].length, 4, 'the index and three records');
  // Adding a run again replaces it and moves it to the top.
  await store.add(withId('run-3', { status: 'passed' }), []);
  assert.deepEqual(store.list().map((e) => e.id), ['run-3', 'run-5', 'run-4']);
  assert.equal(store.list()[0].status, 'passed');
});

test('the size can come from a setting, and prune applies a smaller one', async () => {
  const memento = new FakeMemento();
  let size = 5;
  const store = new HistoryStore(memento, { size: () => size });
  for (let i = 1; i <= 5; i++) await store.add(withId(`run-${i}`), []);
  assert.equal(store.list().length, 5);
  size = 2;
  const changes: HistoryChange[] = [];
  store.onDidChange((c) => changes.push(c));
  await store.prune();
  assert.deepEqual(store.list().map((e) => e.id), ['run-5', 'run-4']);
  assert.deepEqual(changes, [{ kind: 'prune', ids: ['run-3', 'run-2', 'run-1'] }]);
  assert.equal(memento.values.size, 3);
  size = 0;
  await store.add(withId('run-6'), []);
  assert.equal(store.list().length, 0);
  assert.equal(memento.values.size, 1, 'only the (empty) index');
  assert.equal(clampHistorySize(undefined), 50);
  assert.equal(clampHistorySize(-3), 0);
  assert.equal(clampHistorySize(1e9), 1000);
  assert.equal(clampHistorySize(7.9), 7);
});

test('a new store over the same storage restores the history', async () => {
  const memento = new FakeMemento();
  const store = new HistoryStore(memento);
  await store.add(withId('a'), []);
  await store.add(withId('b', { status: 'passed', sessions: [goodSession()] }), []);
  const restored = new HistoryStore(memento);
  assert.deepEqual(restored.list(), store.list());
  assert.deepEqual(restored.get('b'), JSON.parse(JSON.stringify(withId('b', { status: 'passed', sessions: [goodSession()] }))));
  const entry = restored.list()[0];
  assert.equal(entry.label, 'All sessions');
  assert.deepEqual(entry.sessions.map((s) => [s.title, s.ok]), [['Submit a message over STARTTLS', true]]);
  // A damaged index is ignored entry by entry.
  await memento.update('smtp.history.index', [{ nonsense: true }, ...(memento.get<unknown[]>('smtp.history.index') ?? [])]);
  assert.equal(new HistoryStore(memento).list().length, 2);
  await memento.update('smtp.history.index', 'garbage');
  assert.equal(new HistoryStore(memento).list().length, 0);
});

test('delete and clear remove records and notify listeners', async () => {
  const memento = new FakeMemento();
  const store = new HistoryStore(memento);
  const changes: HistoryChange[] = [];
  const sub = store.onDidChange((c) => changes.push(c));
  await store.add(withId('a'), []);
  await store.add(withId('b'), []);
  await store.add(withId('c'), []);
  assert.equal(await store.delete('b'), true);
  assert.equal(await store.delete('nope'), false);
  assert.deepEqual(store.list().map((e) => e.id), ['c', 'a']);
  assert.equal(memento.get('smtp.history.record.b'), undefined);
  await store.clear();
  assert.deepEqual(store.list(), []);
  assert.deepEqual([...memento.values.keys()], ['smtp.history.index']);
  assert.deepEqual(changes.map((c) => c.kind), ['add', 'add', 'add', 'delete', 'clear']);
  sub.dispose();
  await store.add(withId('d'), []);
  assert.equal(changes.length, 5);
});

test('writes are queued in order even when not awaited', async () => {
  const memento = new FakeMemento();
  const store = new HistoryStore(memento, { size: 2 });
  await Promise.all([store.add(withId('a'), []), store.add(withId('b'), []), store.add(withId('c'), []), store.delete('b')]);
  assert.deepEqual(store.list().map((e) => e.id), ['c']);
  assert.deepEqual(new HistoryStore(memento).list().map((e) => e.id), ['c']);
  assert.deepEqual([...memento.values.keys()].sort(), ['smtp.history.index', 'smtp.history.record.c']);
});

test('records over the size cap are cut with a note', async () => {
  const s = goodSession();
  const events = Array.from({ length: 20_000 }, (_, i) => ({ t: i, dir: 'server' as const, text: `250 line ${i} ${'x'.repeat(100)}`, bytes: 110 }));
  const big = record({ id: 'big', sessions: [{ ...s, transcript: [...events, { t: 99_999, dir: 'server', text: 'y'.repeat(3_000_000), bytes: 3_000_000 }] }] });
  const memento = new FakeMemento();
  const store = new HistoryStore(memento, { maxRecordBytes: 2 * 1024 * 1024 });
  const stored = await store.add(big, []);
  const bytes = Buffer.byteLength(JSON.stringify(stored));
  assert.ok(bytes <= 2 * 1024 * 1024, `${bytes} bytes`);
  assert.ok(bytes > 1024 * 1024, 'keeps as much as fits');
  const transcript = stored.sessions[0].transcript;
  assert.equal(transcript[0].text.slice(0, 10), '250 line 0');
  assert.match(transcript.at(-1)?.text ?? '', /^y+ … \[2,983,616 more characters not kept in the history\]$/);
  assert.ok(transcript.some((e) => /transcript events not kept in the history/.test(e.text)));
  assert.equal(store.list()[0].truncated, true);
  assert.ok(store.list()[0].bytes <= 2 * 1024 * 1024);
  // Small records are stored as they are.
  const small = capRecord(record(), 2 * 1024 * 1024);
  assert.equal(small.truncated, false);
  assert.deepEqual(small.record, record());
  // Many steps (a repeated run): failing steps are kept.
  const steps = Array.from({ length: 30_000 }, (_, i) => ({ line: 5, command: `RCPT TO:<u${i}@example.net>`, ok: i !== 15_000, durationMs: 1 }));
  const capped = capRecord(record({ sessions: [{ ...s, steps }] }), 256 * 1024).record;
  assert.ok(Buffer.byteLength(JSON.stringify(capped)) <= 256 * 1024);
  assert.ok(capped.sessions[0].steps.some((x) => !x.ok));
  assert.ok(capped.sessions[0].transcript.some((e) => /passing steps not kept/.test(e.text)));
});

test('short, numeric and common-word secrets never rewrite structured fields of the stored record', async () => {
  const { maskRecord } = await import('../../client/src/runs/runRecord');
  const r = record();
  for (const secret of ['1', '12', 'true', 'a', 'null', 'pass', 'passed', 'test', '250', 'example', 'Submit', r.id]) {
    const masked = maskRecord(r, [secret]);
    assert.equal(masked.id, r.id);
    assert.equal(masked.status, r.status);
    assert.equal(masked.label, r.label);
    assert.equal(masked.fileName, r.fileName);
    assert.equal(masked.uri, r.uri);
    assert.equal(masked.startedAt, r.startedAt);
    assert.equal(typeof masked.durationMs, 'number');
    assert.deepEqual(Object.keys(masked).sort(), Object.keys(r).sort());
    masked.sessions.forEach((s, i) => {
      const o = r.sessions[i];
      assert.deepEqual([s.title, s.name, s.ok, s.line, s.target, s.tls, s.mx, s.timings, s.repeat], [o.title, o.name, o.ok, o.line, o.target, o.tls, o.mx, o.timings, o.repeat]);
      assert.deepEqual(s.steps.map((x) => [x.line, x.ok, x.expected, x.reply?.code, x.reply?.enhanced, x.durationMs]), o.steps.map((x) => [x.line, x.ok, x.expected, x.reply?.code, x.reply?.enhanced, x.durationMs]));
      assert.deepEqual(Object.keys(s.capabilities?.keywords ?? {}), Object.keys(o.capabilities?.keywords ?? {}));
    });
  }
});
