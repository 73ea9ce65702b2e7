// A hostile HTML message for the preview tests. Every trick points at a counting HTTP server on
// 127.0.0.1 (REMOTE) or sets a flag, so a test can see whether anything ran or was fetched.

/** A 1×1 red PNG. */
export const PNG_1X1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');

/** The hostile HTML; REMOTE is replaced by http://127.0.0.1:PORT. */
export const HOSTILE_HTML = `<!DOCTYPE html>
<html><head>
<meta http-equiv="refresh" content="0;url=REMOTE/meta-refresh">
<base href="REMOTE/base/">
<title>pwned-title</title>
<link rel="stylesheet" href="REMOTE/link.css">
<style>body { background-image: url('REMOTE/style-bg.png'); } .x { color: red }</style>
<style>@import url(REMOTE/import.css); p { color: blue }</style>
<style>div { width: expression(alert('expr')) }</style>
<script>window.__pwned = 'script'; document.title = 'pwned'; fetch('REMOTE/script'); alert('script');</script>
</head>
<body onload="window.__pwned='onload'; fetch('REMOTE/onload'); alert('onload')">
<p id="visible">Visible paragraph</p>
<SCRIPT SRC="REMOTE/external.js"></SCRIPT>
<img src="x" onerror="window.__pwned='onerror'; fetch('REMOTE/onerror'); alert('onerror')">
<img src="REMOTE/remote.png" alt="remote image">
<img srcset="REMOTE/srcset-1x.png 1x, REMOTE/srcset-2x.png 2x" alt="srcset">
<img src="//127.0.0.1:PORT/scheme-relative.png">
<img src="cid:logo@example.test" alt="inline logo" id="logo">
<img src="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'%3E%3C/svg%3E" alt="data url">
<img src="JaVaScRiPt:alert('img-js')">
<a href="javascript:window.__pwned='link';fetch('REMOTE/jslink');alert('jslink')">js link</a>
<a href="jav&#x61;script&colon;fetch('REMOTE/jslink2')">encoded js link</a>
<a href=" &#14; javascript:fetch('REMOTE/jslink3')">spaced js link</a>
<a href="vbscript:msgbox(1)">vb link</a>
<a href="data:text/html,<script>alert(1)</script>">data link</a>
<a href="https://example.test/ok">https link</a>
<table background="REMOTE/table-bg.png"><tr><td background="REMOTE/td-bg.png" style="background: url(REMOTE/td-style.png) no-repeat">cell</td></tr></table>
<div style="background-image:url(&quot;REMOTE/attr-style.png&quot;)">styled div</div>
<div style="background:u\\72l(REMOTE/escaped.png)">escaped css</div>
<div style="list-style-image: image-set('REMOTE/image-set.png' 1x)">image-set</div>
<iframe src="REMOTE/iframe"></iframe>
<object data="REMOTE/object"></object>
<embed src="REMOTE/embed">
<form action="REMOTE/form"><input type="image" src="REMOTE/input.png"><button formaction="REMOTE/button">go</button></form>
<video poster="REMOTE/poster.png" src="REMOTE/video.mp4"></video>
<audio src="REMOTE/audio.mp3" autoplay></audio>
<svg><script>window.__pwned='svg'</script><image href="REMOTE/svg-image.png"/></svg>
<math><mtext><table><mglyph><style><img src=x onerror="window.__pwned='mxss'"></style></mglyph></table></mtext></math>
<scr<script>ipt>window.__pwned='split'</script>
<div onclick="window.__pwned='click'" onmouseover="window.__pwned='hover'">hover me</div>
<details open ontoggle="window.__pwned='toggle'"><summary>s</summary>d</details>
<noscript><img src="REMOTE/noscript.png"></noscript>
<img src=REMOTE/unquoted.png>
</body></html>`;

/** Builds a multipart message with a text part, the HTML part, an inline PNG (cid) and a PDF attachment. */
export function hostileMessage(remote: string, port: number): Buffer {
  const html = HOSTILE_HTML.replace(/REMOTE/g, remote).replace(/PORT/g, String(port));
  const b64 = (b: Buffer): string => b.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      'From: "Mallory <script>" <mallory@example.test>',
      'To: Bob <bob@example.test>',
      'Subject: =?utf-8?Q?Hostile_<img_src=3Dx_onerror=3Dalert(1)>?=',
      'Date: Mon, 23 Nov 2026 04:00:00 +0000',
      'Message-ID: <hostile@example.test>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="mixed"',
      '',
      '--mixed',
      'Content-Type: multipart/related; boundary="related"',
      '',
      '--related',
      'Content-Type: multipart/alternative; boundary="alt"',
      '',
      '--alt',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Plain text <b>not bold</b> & more.',
      '--alt',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      b64(Buffer.from(html, 'utf8')),
      '--alt--',
      '--related',
      'Content-Type: image/png',
      'Content-Transfer-Encoding: base64',
      'Content-ID: <logo@example.test>',
      'Content-Disposition: inline; filename="logo.png"',
      '',
      b64(PNG_1X1),
      '--related--',
      '--mixed',
      'Content-Type: application/pdf',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment; filename="report<1>.pdf"',
      '',
      b64(Buffer.alloc(3000, 0x25)),
      '--mixed--',
      '',
    ].join('\r\n'),
  );
}
