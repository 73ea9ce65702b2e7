/**
 * Writes session results as JUnit XML: one `<testsuite>` per script, one `<testcase>` per session.
 * A failed expectation is a `<failure>`; a connection, TLS, DNS, timeout, protocol or script
 * problem is an `<error>`, as CI systems distinguish "the test failed" from "the test could not run".
 * Further test cases (the bulk-sender check of each message `smtpwb run --bulk` sent) follow the
 * sessions' in the same suite.
 */
import { visibleText } from '../../../common/escape';
import type { SessionResult } from '../engine/types';
import { formatTranscript } from '../output/transcriptText';

/**
 * Escapes text for XML content and attributes (XML 1.0 §2.4). Control characters (what a server
 * sent is data) are first shown as visible escapes, as on the terminal; the two noncharacters XML
 * 1.0 cannot hold are dropped.
 */
export function xmlEscape(text: string): string {
  return visibleText(text)
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A test case beside the sessions' (no duration of its own), with a `<failure>` or an `<error>`. */
export interface JunitExtraCase {
  name: string;
  verdict?: { tag: 'failure' | 'error'; type: string; message: string; text: string };
  out: string;
}

export function junitXml(file: string, results: readonly SessionResult[], timestamp: Date = new Date(), extra: readonly JunitExtraCase[] = []): string {
  const failures = results.filter((r) => !r.ok && r.failure?.kind === 'expectation').length + extra.filter((c) => c.verdict?.tag === 'failure').length;
  const errors = results.filter((r) => !r.ok && r.failure?.kind !== 'expectation').length + extra.filter((c) => c.verdict?.tag === 'error').length;
  const tests = results.length + extra.length;
  const seconds = (ms: number): string => (ms / 1000).toFixed(3);
  const total = results.reduce((n, r) => n + r.timings.totalMs, 0);
  const cases = results.map((r) => {
    const name = xmlEscape(r.name ? `${r.title} [${r.name}]` : r.title);
    const out = `      <system-out>${xmlEscape(formatTranscript(r.transcript))}</system-out>\n`;
    let verdict = '';
    if (!r.ok && r.failure) {
      const tag = r.failure.kind === 'expectation' ? 'failure' : 'error';
      const where = r.failure.line !== undefined ? ` (line ${r.failure.line + 1})` : '';
      verdict = `      <${tag} message="${xmlEscape(r.failure.message + where)}" type="${r.failure.kind}">${xmlEscape(r.failure.message + where)}</${tag}>\n`;
    }
    return `    <testcase classname="${xmlEscape(file)}" name="${name}" time="${seconds(r.timings.totalMs)}">\n${verdict}${out}    </testcase>\n`;
  });
  for (const c of extra) {
    const v = c.verdict;
    const verdict = v ? `      <${v.tag} message="${xmlEscape(v.message)}" type="${xmlEscape(v.type)}">${xmlEscape(v.text)}</${v.tag}>\n` : '';
    cases.push(`    <testcase classname="${xmlEscape(file)}" name="${xmlEscape(c.name)}" time="0.000">\n${verdict}      <system-out>${xmlEscape(c.out)}</system-out>\n    </testcase>\n`);
  }
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites tests="${tests}" failures="${failures}" errors="${errors}" time="${seconds(total)}">\n` +
    `  <testsuite name="${xmlEscape(file)}" tests="${tests}" failures="${failures}" errors="${errors}" skipped="0" time="${seconds(total)}" timestamp="${timestamp.toISOString().replace(/\.\d+Z$/, '')}">\n` +
    cases.join('') +
    '  </testsuite>\n</testsuites>\n'
  );
}
