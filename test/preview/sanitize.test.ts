// The sanitiser and the preview model without a browser: what is kept, dropped and counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sanitizeHtml } from '../../client/src/preview/sanitize';
import { buildPreviewModel } from '../../client/src/preview/model';
import { renderPreviewHtml } from '../../client/src/preview/webviewHtml';
import { hostileMessage } from './fixtures';

const REMOTE = 'http://127.0.0.1:9';

test('scripts, handlers, dangerous URLs and embedded content are gone', async () => {
  const model = await buildPreviewModel(hostileMessage(REMOTE, 9));
  const html = model.html?.html ?? '';
  assert.ok(html.includes('Visible paragraph'));
  for (const bad of [/<script/i, /\son\w+=/i, /javascript/i, /vbscript/i, /<iframe/i, /<object/i, /<embed/i, /<form/i, /<input/i, /<meta/i, /<base/i, /<link/i, /<svg/i, /<math/i, /<video/i, /<audio/i, /expression/i, /@import/i, /127\.0\.0\.1/, /data:image\/svg/i, /data:text/i]) {
    assert.doesNotMatch(html, bad);
  }
  // The split-tag trick survives only as escaped text, as in a browser (the tag name is "scr<script").
  assert.deepEqual(html.match(/\S*pwned\S*/g), ["ipt&gt;window.__pwned='split'"]);
  assert.match(html, /<img src="data:image\/png;base64,[^"]+" alt="inline logo">/);
  assert.match(html, /href="https:\/\/example\.test\/ok"/);
  assert.ok((model.html?.blockedRemote ?? 0) >= 8, JSON.stringify(model.html));
  assert.ok((model.html?.removed['event handler'] ?? 0) >= 4);
  assert.equal(model.attachments.length, 2);
  const pdf = model.attachments.find((a) => a.contentType === 'application/pdf');
  assert.equal(pdf?.size, 3000);
  assert.equal(pdf?.filename, 'report<1>.pdf');
  assert.equal(model.attachments.find((a) => a.contentType === 'image/png')?.inline, true);
  assert.equal(model.text?.trim(), 'Plain text <b>not bold</b> & more.');
});

test('remote content is kept only when allowed', () => {
  const src = '<img src="https://img.example/a.png"><div style="background:url(https://img.example/b.png)">x</div>';
  const blocked = sanitizeHtml(src, { allowRemote: false });
  assert.equal(blocked.blockedRemote, 2);
  assert.doesNotMatch(blocked.html, /img\.example/);
  assert.match(blocked.html, /data-smtpwb-blocked="remote"/);
  const allowed = sanitizeHtml(src, { allowRemote: true });
  assert.equal(allowed.remoteKept, 2);
  assert.match(allowed.html, /src="https:\/\/img\.example\/a\.png"/);
  assert.match(allowed.html, /url\(&quot;https:\/\/img\.example\/b\.png&quot;\)/);
});

test('CSS that could fetch without url() is dropped whole', () => {
  for (const css of ['background:image-set("https://x.test/a.png" 1x)', 'background:-webkit-image-set("https://x.test/a.png" 1x)', 'background:image("https://x.test/a.png")', 'background:src("https://x.test/a.png")', 'background:-webkit-cross-fade(url(a), url(b), 50%)', 'background:u\\72l(https://x.test/a.png)', 'width:expression(alert(1))', '-moz-binding:url(x)']) {
    const r = sanitizeHtml(`<div style='${css}'>x</div>`, { allowRemote: true });
    assert.equal(r.html, '<div>x</div>', css);
    assert.equal(r.removed['unsafe CSS'], 1, css);
  }
  // Ordinary CSS with "image" in a property name stays.
  assert.equal(sanitizeHtml('<p style="list-style-image:none;color:red">x</p>', { allowRemote: false }).html, '<p style="list-style-image:none;color:red">x</p>');
});

test('text and attribute values are escaped; unknown tags unwrap', () => {
  const r = sanitizeHtml('<p title="a&quot;b<c>">1 < 2 & <custom-el>x</custom-el></p><p>unclosed', { allowRemote: false });
  assert.equal(r.html, '<p title="a&quot;b&lt;c&gt;">1 &lt; 2 & x</p><p>unclosed</p>');
});

test('every header value is escaped in the webview document', async () => {
  const model = await buildPreviewModel(hostileMessage(REMOTE, 9));
  const page = renderPreviewHtml(model, { cspSource: 'https://webview.test', nonce: 'abcdefghijklmnop0123' });
  // The only <script> is the nonce'd panel script.
  assert.equal((page.match(/<script/g) ?? []).length, 1);
  assert.match(page, /<script nonce="abcdefghijklmnop0123">/);
  assert.match(page, /Mallory &lt;script&gt;/);
  assert.match(page, /<title>Hostile &lt;img src=x onerror=alert\(1\)&gt;<\/title>/);
  assert.match(page, /report&lt;1&gt;\.pdf/);
  assert.match(page, /<iframe class="message" sandbox="" title="HTML part" srcdoc="/);
  assert.match(page, /default-src &#39;none&#39;; img-src https:\/\/webview\.test data:;/);
  assert.throws(() => renderPreviewHtml(model, { cspSource: 'x', nonce: 'short' }));
});
