/**
 * Builds the complete HTML document the .eml preview webview shows, from a PreviewModel. This is the
 * exact string the webview gets, so tests can load it in a real browser.
 *
 * Layers of defence:
 * 1. The message HTML is already sanitised (sanitize.ts).
 * 2. The panel's Content-Security-Policy (CSP Level 3): `default-src 'none'`, images only from the
 *    webview's own resources and data: (remote http/https only after "Load remote content"), no
 *    script except the panel's own nonce'd script, no frames, forms or base URL changes.
 * 3. The message HTML lives in an `<iframe sandbox="">` (HTML §4.8.5: no scripts, no forms, no
 *    popups, no navigation of the top page, a unique opaque origin) filled through `srcdoc`, which
 *    carries its own CSP meta element and also inherits the panel's policy.
 *
 * Style sources allow 'unsafe-inline' because message HTML is styled inline and the srcdoc document
 * inherits the panel's policy; CSS cannot run script, and every fetch it could cause is governed by
 * img-src/font-src, which stay closed.
 */
import { escapeHtml } from '../../../common/escape';
import { BLOCKED_IMAGE_CLASS } from './sanitize';
import { formatSize, type PreviewModel } from './model';

export interface WebviewHtmlOptions {
  /** `webview.cspSource`. */
  cspSource: string;
  /** A fresh random nonce for the panel script (base64 or hex, at least 128 bits). */
  nonce: string;
}

/** The Content-Security-Policy of the panel document. */
export function panelCsp(cspSource: string, nonce: string, allowRemote: boolean): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:${allowRemote ? ' https: http:' : ''}`,
    `style-src ${cspSource} 'unsafe-inline'`,
    `script-src 'nonce-${nonce}'`,
    "frame-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** The Content-Security-Policy of the sandboxed message document. */
export function messageCsp(allowRemote: boolean): string {
  return ["default-src 'none'", `img-src data:${allowRemote ? ' https: http:' : ''}`, "style-src 'unsafe-inline'", "form-action 'none'", "base-uri 'none'"].join('; ');
}

/** The document that goes into the iframe's srcdoc. */
export function messageDocument(model: PreviewModel): string {
  const body = model.html?.html ?? '';
  return [
    '<!DOCTYPE html><html><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(messageCsp(model.remoteAllowed))}">`,
    `<style>html,body{margin:0;padding:8px;background:#fff;color:#000;font-family:sans-serif}img.${BLOCKED_IMAGE_CLASS}{outline:1px dashed #999;min-width:16px;min-height:16px;background:#eee}</style>`,
    `</head><body>${body}</body></html>`,
  ].join('');
}

function headerRows(rows: Array<{ name: string; value: string }>): string {
  return rows.map((h) => `<tr><th scope="row">${escapeHtml(h.name)}</th><td>${escapeHtml(h.value)}</td></tr>`).join('');
}

const PANEL_STYLE = `
body{font-family:var(--vscode-font-family,sans-serif);font-size:var(--vscode-font-size,13px);color:var(--vscode-foreground,#222);background:var(--vscode-editor-background,#fff);margin:0;padding:12px}
h1{font-size:1.3em;margin:0 0 8px}
h2{font-size:1.05em;margin:16px 0 6px}
table.headers{border-collapse:collapse}
table.headers th{text-align:right;padding:1px 8px 1px 0;vertical-align:top;white-space:nowrap;opacity:.8}
table.headers td{padding:1px 0;word-break:break-all}
.bar{margin:8px 0;padding:6px 8px;border:1px solid var(--vscode-panel-border,#ccc);display:flex;gap:8px;align-items:center}
iframe.message{width:100%;height:70vh;border:1px solid var(--vscode-panel-border,#ccc);background:#fff;resize:vertical}
pre.text{white-space:pre-wrap;word-break:break-word;border:1px solid var(--vscode-panel-border,#ccc);padding:8px}
ul.attachments{padding-left:18px}
`;

/** Builds the full webview HTML for the model. */
export function renderPreviewHtml(model: PreviewModel, options: WebviewHtmlOptions): string {
  const { cspSource, nonce } = options;
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(nonce)) throw new Error('the nonce must be at least 16 base64 or hex characters');
  const parts: string[] = [];
  parts.push(
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(panelCsp(cspSource, nonce, model.remoteAllowed))}">`,
    `<title>${escapeHtml(model.subject || '(no subject)')}</title>`,
    `<style>${PANEL_STYLE}</style></head><body>`,
    `<h1>${escapeHtml(model.subject || '(no subject)')}</h1>`,
    `<table class="headers">${headerRows(model.headers)}</table>`,
    `<details><summary>All header fields (${model.allHeaders.length})</summary><table class="headers">${headerRows(model.allHeaders)}</table></details>`,
  );
  const html = model.html;
  if (html) {
    const removedTotal = Object.values(html.removed).reduce((a, b) => a + b, 0);
    const notes: string[] = [];
    if (html.blockedRemote > 0) notes.push(`${html.blockedRemote} remote resource${html.blockedRemote === 1 ? '' : 's'} blocked.`);
    if (model.remoteAllowed && html.remoteKept > 0) notes.push(`${html.remoteKept} remote resource${html.remoteKept === 1 ? '' : 's'} loaded.`);
    if (removedTotal > 0) {
      const kinds = Object.entries(html.removed).map(([k, v]) => `${escapeHtml(k)} ×${v}`).join(', ');
      notes.push(`Removed for safety: ${kinds}.`);
    }
    if (notes.length > 0 || html.blockedRemote > 0) {
      parts.push(
        `<div class="bar" role="status"><span>${notes.map((n) => (n.startsWith('Removed') ? n : escapeHtml(n))).join(' ')}</span>`,
        html.blockedRemote > 0 ? '<button id="load-remote" type="button">Load remote content</button>' : '',
        '</div>',
      );
    }
    parts.push(`<iframe class="message" sandbox="" title="HTML part" srcdoc="${escapeHtml(messageDocument(model))}"></iframe>`);
  }
  if (model.text !== undefined) {
    parts.push(html ? '<details><summary>Text part</summary>' : '<h2>Text part</h2>', `<pre class="text">${escapeHtml(model.text)}</pre>`, html ? '</details>' : '');
  }
  if (!html && model.text === undefined) parts.push('<p><em>The message has no text or HTML part.</em></p>');
  if (model.attachments.length > 0) {
    parts.push(
      `<h2>Attachments (${model.attachments.length})</h2><ul class="attachments">`,
      ...model.attachments.map(
        (a) => `<li>${escapeHtml(a.filename)} — ${escapeHtml(a.contentType)}, ${escapeHtml(formatSize(a.size))}${a.inline ? ' (inline)' : ''}</li>`,
      ),
      '</ul>',
    );
  }
  // The panel's only script: it asks the extension to re-render with remote content allowed.
  parts.push(
    `<script nonce="${nonce}">(function(){var b=document.getElementById('load-remote');if(!b)return;`,
    `var api=typeof acquireVsCodeApi==='function'?acquireVsCodeApi():undefined;`,
    `b.addEventListener('click',function(){if(api)api.postMessage({type:'loadRemote'});});})();</script>`,
    '</body></html>',
  );
  return parts.join('');
}
