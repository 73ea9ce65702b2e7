/**
 * Test helpers for editor features: a script is written with one `|` where the cursor is, and the
 * helper returns the text without it and the cursor's offset.
 */
import { analyzeSmtp, type SmtpAnalysis } from '../../../server/src/smtp/smtpService';

export interface Cursor {
  text: string;
  offset: number;
}

/** Removes the single `|` of a script and returns the offset where it was. */
export function cursor(script: string): Cursor {
  const offset = script.indexOf('|');
  if (offset < 0 || script.indexOf('|', offset + 1) >= 0) throw new Error(`the script must hold exactly one "|": ${JSON.stringify(script)}`);
  return { text: script.slice(0, offset) + script.slice(offset + 1), offset };
}

/** Analyses a script written with a `|` cursor. */
export function analyzeAtCursor(script: string): { analysis: SmtpAnalysis; offset: number } {
  const { text, offset } = cursor(script);
  return { analysis: analyzeSmtp(text, '/tmp/test.smtp'), offset };
}

/** Scripts that are broken in many ways at once, for the never-throws loops. */
export const BROKEN_SCRIPTS: readonly string[] = [
  '@\n@=\n@x =\n{{\nCONNECT\nCONNECT smtp://[::1\nTLS\nTLS =\nAUTH\nEXPECT\nEXPECT "abc\nRAW\nRAW \\q\\x4\nMAIL\nMAIL FROM\nMAIL FROM:<\nRCPT TO:<a@b> NOTIFY=\n',
  '### \n# @\n# @timeout\n# @timeout x=\nDATA\nno terminator {{from\n###\nBDAT chunk=\n .\n',
  'EHLO {{}}\nMAIL FROM:<"\\"@x> BODY=\nRCPT TO:<{{$env}}> ORCPT=;\nEXPECT 9xx 5.x 5.1.x /(/\nQUIT\nEHLO again\n{{$secret}}\n@a = {{b}}\n@b = {{a}}\nEHLO {{a}}',
  '\r\n\r###\rEHLO x\r\nMAIL FROM:<a@b>\rDATA < \r\n.\r\nAUTH PLAIN u p\r\n`code` *bold* [x](y)\n',
];

/** The text a snippet inserts when every placeholder keeps its default (its first choice). */
export function snippetDefault(snippet: string): string {
  let out = '';
  for (let i = 0; i < snippet.length; i++) {
    const c = snippet[i];
    if (c === '\\' && i + 1 < snippet.length) {
      out += snippet[++i];
      continue;
    }
    if (c === '$') {
      const rest = snippet.slice(i);
      const choice = /^\$\{\d+\|((?:[^|\\]|\\.)*?)(?:,(?:[^|\\]|\\.)*)*\|\}/.exec(rest);
      if (choice) {
        out += choice[1].replace(/\\(.)/g, '$1');
        i += choice[0].length - 1;
        continue;
      }
      const placeholder = /^\$\{\d+:((?:[^}\\]|\\.)*)\}/.exec(rest);
      if (placeholder) {
        out += placeholder[1].replace(/\\(.)/g, '$1');
        i += placeholder[0].length - 1;
        continue;
      }
      const tab = /^\$(?:\d+|\{\d+\})/.exec(rest);
      if (tab) {
        i += tab[0].length - 1;
        continue;
      }
    }
    out += c;
  }
  return out;
}
