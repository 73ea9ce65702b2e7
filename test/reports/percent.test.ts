// Shares in report output never round a failure or a pass away: 19,999 of 20,000 passing used to
// read "100.0%", and `--min-pass 1` then said "100.00% is below 100.00%".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { percent } from '../../client/src/reports/render';

test('percent: one decimal, but never 100.0% for less than the whole nor 0.0% for more than nothing', () => {
  const cases: Array<[number, number, string]> = [
    [20000, 20000, '100.0%'],
    [19999, 20000, '>99.9%'],
    [19980, 20000, '99.9%'],
    [19990, 20000, '>99.9%'],
    [0, 20000, '0.0%'],
    [1, 20000, '<0.1%'],
    [20, 20000, '0.1%'],
    [1, 3, '33.3%'],
    [0, 0, 'n/a'],
  ];
  for (const [part, whole, want] of cases) assert.equal(percent(part, whole), want, `${part} of ${whole}`);
});
