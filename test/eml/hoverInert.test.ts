/**
 * Hostile messages against the `.eml` hovers: whatever a message holds (encoded words that decode to
 * Markdown, field names that are links, RFC 2231 parameters with line breaks, `|` in a Received hop,
 * backticks in a DKIM `h=` tag, fences in a body) is shown as text and never becomes a link, an image,
 * a heading, a rule, HTML or an extra table column. Each case is a message with `¦` marking the
 * cursor, the text the hover must still show (escaped), and the table rows it must keep intact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emlHover } from '../../server/src/eml/emlService';

const HEAD = 'From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nMessage-ID: <1@example.org>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n';

interface Case {
  name: string;
  source: string;
  /** Fragments the Markdown must contain: the message's text, shown escaped. */
  shows: string[];
}

const CASES: Case[] = [
  {
    name: 'an encoded word that decodes to a blank line, an image and a link',
    source: `${HEAD}Subject: =?utf-8?q?hi=0A=0A![pixel](https://evil.test/p.png)_[cli¦ck_me](https://evil.test/x)?=\r\n\r\nx\r\n`,
    shows: ['`hi\\x0A\\x0A![pixel](https://evil.test/p.png) [click me](https://evil.test/x)`', 'Whole field: hi\\\\x0A\\\\x0A!\\[pixel\\](https://evil.test/p.png) \\[click me\\](https://evil.test/x)'],
  },
  {
    name: 'an unknown field name that is a link',
    source: `${HEAD}[Op¦en](https&#58;//evil.test/login)X-Link: v\r\n\r\nx\r\n`,
    shows: ['**\\[Open\\](https\\&\\#58;//evil.test/login)X-Link**'],
  },
  {
    name: 'an unknown field name that is an image',
    source: `${HEAD}![t¦](https&#58;//evil.test/t.png)X-Img: v\r\n\r\nx\r\n`,
    shows: ['**!\\[t\\](https\\&\\#58;//evil.test/t.png)X-Img**'],
  },
  {
    name: 'an RFC 2231 Content-Type parameter with line breaks, a heading, a rule and a link',
    source: `${HEAD}MIME-Version: 1.0\r\nContent-Type: text/plain; name*=utf-8''a%0A%0A%23%20Verified%20by%20your%20IT%20team%0A%0A---%0Ahttps%3A%2F%2Fevil.test%2F¦login\r\n\r\nx\r\n`,
    shows: ['`name` = a\\\\x0A\\\\x0A\\# Verified by your IT team\\\\x0A\\\\x0A---\\\\x0Ahttps://evil.test/login (RFC 2231, utf-8)'],
  },
  {
    name: 'an RFC 2231 Content-Disposition parameter with line breaks and a heading',
    source: `${HEAD}MIME-Version: 1.0\r\nContent-Disposition: attachment; filename*=utf-8''a%0A%23%20Head%0A%3Cimg%20src%3Dx%3E¦.pdf\r\n\r\nx\r\n`,
    shows: ['`filename` = a\\\\x0A\\# Head\\\\x0A\\<img src=x\\>.pdf'],
  },
  {
    name: 'a Received hop whose names hold `|`',
    source: `Received: from evil|spoofed.example|01:02:03 by m¦x.example.net; Mon, 23 Nov 2026 10:00:45 +0000\r\n${HEAD}\r\nx\r\n`,
    shows: ['| evil\\|spoofed.example\\|01:02:03 | mx.example.net |'],
  },
  {
    name: 'a DKIM h= tag with backticks',
    source: `${HEAD}DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel;\r\n h=fr¦om\`(www.evil.test)\`:to; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n\r\nx\r\n`,
    shows: ['Signed fields: `` from`(www.evil.test)` ``, `to`'],
  },
  {
    name: 'a quoted-printable body that tries to close the preview fence',
    source: `${HEAD}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nfi¦rst\r\n\`\`\`\r\n# [x](https://evil.test/)\r\n`,
    shows: ['````text\nfirst\n```\n# [x](https://evil.test/)\n'],
  },
];

/** Removes the code spans (CommonMark §6.1) and fenced code blocks (§4.5), whose content is inert. */
function withoutCode(markdown: string): string {
  const noFences = markdown.replace(/^(`{3,})[^\n]*\n[\s\S]*?\n\1\s*$/gm, '');
  return noFences.replace(/(?<!`)(`+)(?!`)(?:(?!\n[ \t]*\n)[\s\S])*?(?<!`)\1(?!`)/g, '');
}

/** The problems a hover's Markdown has: live markup outside code that did not come from the hover itself. */
function liveMarkup(markdown: string): string[] {
  const found: string[] = [];
  const prose = withoutCode(markdown);
  for (const m of prose.matchAll(/(?<!\\)\[([^\]]*)\]\(([^)]*)\)/g)) {
    if (!m[2].startsWith('https://www.rfc-editor.org/')) found.push(`link ${m[0]}`);
  }
  if (/(?<!\\)</.test(prose)) found.push('raw HTML');
  for (const line of prose.split('\n')) {
    if (/^\s{0,3}#/.test(line)) found.push(`heading ${line}`);
    if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line) || /^\s{0,3}=+\s*$/.test(line)) found.push(`rule or setext underline ${line}`);
  }
  // Every row of a table has as many unescaped `|` as its header row.
  const lines = markdown.split('\n');
  const pipes = (line: string): number => (line.match(/(?<!\\)\|/g) ?? []).length;
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!/^\|[-| ]+\|$/.test(lines[i + 1]) || !lines[i].startsWith('|')) continue;
    const width = pipes(lines[i]);
    for (let j = i + 2; j < lines.length && lines[j].startsWith('|'); j++) {
      if (pipes(lines[j]) !== width) found.push(`table row with ${pipes(lines[j])} separators instead of ${width}: ${lines[j]}`);
    }
  }
  return found;
}

for (const c of CASES) {
  test(`hover on ${c.name} is inert and shows the text`, () => {
    const offset = c.source.indexOf('¦');
    assert.ok(offset !== -1, 'the case needs a ¦ cursor');
    const text = c.source.slice(0, offset) + c.source.slice(offset + 1);
    const hover = emlHover(text, offset, { timeZone: 'UTC' });
    assert.ok(hover, 'a hover');
    assert.deepEqual(liveMarkup(hover.markdown), [], hover.markdown);
    for (const fragment of c.shows) assert.ok(hover.markdown.includes(fragment), `missing ${JSON.stringify(fragment)} in\n${hover.markdown}`);
  });
}

test('the checker itself finds live markup, so the cases above test something', () => {
  assert.deepEqual(liveMarkup('`hi\n\n![pixel](https://evil.test/p.png)`').length > 0, true);
  assert.deepEqual(liveMarkup('a\n\n# Verified\n\n---\n').length, 2);
  assert.deepEqual(liveMarkup('| a | b |\n|---|---|\n| x|y | z |').length, 1);
  assert.deepEqual(liveMarkup('see [RFC 5322 §3.6](https://www.rfc-editor.org/rfc/rfc5322#section-3.6)'), []);
});
