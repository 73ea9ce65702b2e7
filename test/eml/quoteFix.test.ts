/**
 * The quick fix of `eml-address-obsolete` for an unquoted `.` in a display name keeps the name
 * readers show (RFC 5322 §3.2.4, §3.4, §4.1; RFC 2047 §5): encoded words stay outside quotes,
 * quoted parts are merged without their quotes showing, comments stay comments, and where no edit
 * can keep the name there is no fix at all. Each case is a field, the field after the fix (or
 * `undefined` for no fix); the fixed message must lint without `eml-address-obsolete` or
 * `eml-ew-in-quoted`, and without any other new problem.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lintMessage } from '../../server/src/eml/lint';
import type { Problem } from '../../common/problem';

const BASE: Record<string, string> = {
  Date: 'Mon, 23 Nov 2026 10:00:00 +0000',
  From: 'Alice <alice@example.org>',
  To: 'bob@example.net',
  'Message-ID': '<q.1@example.org>',
  Subject: 'test',
};

/** A whole message with `field` in place of the base field of the same name. */
function message(field: string): string {
  const name = field.slice(0, field.indexOf(':'));
  const lines = Object.entries(BASE).filter(([n]) => n !== name).map(([n, v]) => `${n}: ${v}`);
  return [...lines, field, '', 'Body', ''].join('\r\n');
}

function applyFix(text: string, problem: Problem): string {
  const edits = [...(problem.fixes?.[0]?.edits ?? [])].sort((a, b) => b.range.start - a.range.start);
  let out = text;
  for (const e of edits) out = out.slice(0, e.range.start) + e.newText + out.slice(e.range.end);
  return out;
}

const CASES: Array<[field: string, fixed: string | undefined]> = [
  ['To: John Q. Public <jqp@example.net>', 'To: "John Q. Public" <jqp@example.net>'],
  ['From: =?utf-8?q?J=C3=B6rg?= Q. Smith <a@example.org>', 'From: =?utf-8?q?J=C3=B6rg?= "Q. Smith" <a@example.org>'],
  ['To: "A" B. C <b@example.net>', 'To: "A B. C" <b@example.net>'],
  ['To: "Back\\\\slash \\"Q\\"" B. C <b@example.net>', 'To: "Back\\\\slash \\"Q\\" B. C" <b@example.net>'],
  ['Cc: John (the boss) Q. Public <c@example.net>', 'Cc: John (the boss) "Q. Public" <c@example.net>'],
  ['To: J. (junior) Q. Public <c@example.net>', 'To: "J." (junior) "Q. Public" <c@example.net>'],
  ['To: John Q.\r\n Public <jqp@example.net>', 'To: "John Q.\r\n Public" <jqp@example.net>'],
  ['To: =?utf-8?q?J=C3=B6rg?= Q. =?utf-8?q?M=C3=BCller?= <a@example.org>', 'To: =?utf-8?q?J=C3=B6rg?= "Q." =?utf-8?q?M=C3=BCller?= <a@example.org>'],
  // A `.` that touches an encoded word cannot be quoted apart from it, nor with it.
  ['From: =?utf-8?q?J=C3=B6rg?=. Smith <a@example.org>', undefined],
];

for (const [field, fixed] of CASES) {
  test(`quoting ${JSON.stringify(field)} keeps the displayed name`, () => {
    const text = message(field);
    const before = lintMessage(text);
    const obsolete = before.find((p) => p.code === 'eml-address-obsolete');
    assert.ok(obsolete, 'the . is reported');
    if (fixed === undefined) {
      assert.equal(obsolete.fixes, undefined, 'no fix that would change the name');
      return;
    }
    const after = applyFix(text, obsolete);
    assert.equal(after, message(fixed));
    const problems = lintMessage(after);
    assert.deepEqual(problems.filter((p) => p.code === 'eml-address-obsolete' || p.code === 'eml-ew-in-quoted').map((p) => p.message), []);
    const others = (list: Problem[]): string[] => list.filter((p) => p.code !== 'eml-address-obsolete').map((p) => p.code).sort();
    assert.deepEqual(others(problems), others(before), 'the fix adds no problem');
  });
}
