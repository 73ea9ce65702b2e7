/** Runs 500 fuzzed messages through every entry point of the `.eml` service as part of the unit suite. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFuzz } from './fuzzCore';

test('500 mutated messages: no throw, ranges in bounds, each under 2 s', () => {
  const result = runFuzz(500, 20261123);
  assert.deepEqual(result.failed.map((f) => `#${f.index}: ${f.reason}`), []);
  assert.equal(result.passed, 500);
});
