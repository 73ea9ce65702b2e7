/**
 * The transcript panel's stylesheet and script. They are inlined into the panel document under the
 * render's nonce (see transcriptHtml.ts), so the panel needs no files on disk and works the same in
 * the packaged extension, in tests and in a plain browser.
 *
 * The stylesheet uses VS Code's theme variables (`--vscode-…`) with light-theme fallbacks for a
 * browser outside VS Code. The script is plain ES2017 in a string (the project's tsconfig has no DOM
 * library): it forwards clicks on `[data-line]` and `[data-action]` elements to the extension,
 * replaces the content on `{type:'render'}` messages while following the end of a running
 * transcript, and keeps the record id and scroll position in the webview state so that the panel
 * serializer can restore it after a reload.
 */

export const TRANSCRIPT_CSS = `
:root{--pass:var(--vscode-testing-iconPassed,#388a34);--fail:var(--vscode-testing-iconFailed,#c72e0f);--muted:var(--vscode-descriptionForeground,#717171);--border:var(--vscode-panel-border,#d4d4d4);--c:var(--vscode-terminal-ansiBlue,#0451a5);--s:var(--vscode-foreground,#1f1f1f);--tls:var(--vscode-terminal-ansiMagenta,#a626a4);--info:var(--vscode-descriptionForeground,#717171);--err:var(--vscode-errorForeground,#c72e0f)}
*{box-sizing:border-box}
body{font-family:var(--vscode-font-family,system-ui,sans-serif);font-size:var(--vscode-font-size,13px);color:var(--vscode-foreground,#1f1f1f);background:var(--vscode-editor-background,#fff);margin:0;padding:0 14px 24px}
h1{font-size:1.25em;margin:0;font-weight:600;overflow-wrap:break-word}
h2{font-size:1.1em;margin:0;font-weight:600;overflow-wrap:break-word}
h3{font-size:.95em;margin:14px 0 4px;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.toolbar{position:sticky;top:0;z-index:1;display:flex;flex-wrap:wrap;gap:8px;align-items:center;padding:10px 0 8px;background:var(--vscode-editor-background,#fff);border-bottom:1px solid var(--border)}
.toolbar .spacer{flex:1}
button{font:inherit;cursor:pointer}
.toolbar button{color:var(--vscode-button-secondaryForeground,#1f1f1f);background:var(--vscode-button-secondaryBackground,#e5e5e5);border:1px solid var(--vscode-button-border,transparent);border-radius:2px;padding:3px 10px}
.toolbar button:hover{background:var(--vscode-button-secondaryHoverBackground,#d5d5d5)}
.toolbar button.primary{color:var(--vscode-button-foreground,#fff);background:var(--vscode-button-background,#005fb8)}
.toolbar button.primary:hover{background:var(--vscode-button-hoverBackground,#0258a8)}
button.line{color:var(--vscode-textLink-foreground,#005fb8);background:none;border:0;padding:0;text-decoration:underline dotted;font-family:inherit;font-size:inherit;white-space:nowrap}
button.line:hover{color:var(--vscode-textLink-activeForeground,#005fb8);text-decoration:underline}
button:focus-visible{outline:1px solid var(--vscode-focusBorder,#005fb8);outline-offset:1px}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:.85em;font-weight:600;color:#fff;background:var(--muted)}
.badge.passed{background:var(--pass)}.badge.failed,.badge.error{background:var(--fail)}.badge.running{background:var(--vscode-progressBar-background,#005fb8)}
.summary{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:10px 0;align-items:baseline}
.summary dt,.kv dt{color:var(--muted)}
.summary dd,.kv dd{margin:0;overflow-wrap:break-word}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:1px 12px;margin:0}
.ok{color:var(--pass)}.bad{color:var(--fail)}.muted{color:var(--muted)}
.mark{font-weight:700;width:1.2em;display:inline-block;text-align:center}
.error-box{border-left:3px solid var(--fail);background:var(--vscode-inputValidation-errorBackground,rgba(199,46,15,.08));padding:6px 10px;margin:8px 0;white-space:pre-wrap;overflow-wrap:break-word}
.note{border-left:3px solid var(--border);padding:4px 10px;margin:8px 0;color:var(--muted)}
section.session{border:1px solid var(--border);border-radius:4px;margin:14px 0;padding:10px 12px}
section.session>header{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
section.session.passed>header .mark{color:var(--pass)}section.session.failed>header .mark{color:var(--fail)}section.session.running>header .mark{color:var(--vscode-progressBar-background,#005fb8)}
.columns{display:flex;flex-wrap:wrap;gap:4px 28px}
.columns>div{min-width:min(260px,100%);flex:1}
table{border-collapse:collapse;width:100%}
table.steps th{text-align:left;font-weight:600;color:var(--muted);border-bottom:1px solid var(--border);padding:2px 8px 2px 0}
table.steps td{vertical-align:top;padding:2px 8px 2px 0;border-bottom:1px solid var(--vscode-editorWidget-border,rgba(128,128,128,.15))}
table.steps td.code{font-family:var(--vscode-editor-font-family,monospace);font-size:var(--vscode-editor-font-size,12px);white-space:pre-wrap;overflow-wrap:break-word;word-break:normal}
table.steps td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums;color:var(--muted)}
table.steps tr.failed td{background:var(--vscode-inputValidation-errorBackground,rgba(199,46,15,.06))}
.transcript{font-family:var(--vscode-editor-font-family,ui-monospace,monospace);font-size:var(--vscode-editor-font-size,12px);line-height:1.45;border:1px solid var(--border);border-radius:3px;padding:6px 8px;background:var(--vscode-textCodeBlock-background,rgba(128,128,128,.06));overflow-x:auto}
.ev{display:grid;grid-template-columns:6.5em 1.6em 1fr;column-gap:6px}
.ev .t{color:var(--muted);text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.ev .m{font-weight:700;white-space:nowrap}
.ev .x{white-space:pre-wrap;overflow-wrap:break-word;min-width:0}
.ev.client .m,.ev.client .x{color:var(--c)}
.ev.server .m{color:var(--s)}
.ev.tls .m,.ev.tls .x{color:var(--tls)}
.ev.info .m,.ev.info .x{color:var(--info);font-style:italic}
.ev.error .m,.ev.error .x{color:var(--err);font-weight:600}
.ev details summary{cursor:pointer}
.ctl{color:var(--vscode-editorWarning-foreground,#bf8803);border:1px solid currentColor;border-radius:2px;padding:0 1px;font-size:.85em}
.cut{color:var(--muted);font-style:italic}
ul.plain{list-style:none;padding:0;margin:0}
ul.plain li{overflow-wrap:break-word}
.caps{font-family:var(--vscode-editor-font-family,monospace);font-size:var(--vscode-editor-font-size,12px);overflow-wrap:break-word}
@media (max-width:640px){
body{padding:0 8px 16px}
.summary,.kv{grid-template-columns:1fr}
.summary dd,.kv dd{margin:0 0 4px}
table.steps thead{display:none}
table.steps,table.steps tbody{display:block;width:100%}
table.steps tr{display:grid;grid-template-columns:1.4em auto 1fr auto;gap:0 6px;padding:4px 0;border-bottom:1px solid var(--border)}
table.steps td{display:block;border:0;padding:0;min-width:0}
table.steps td:nth-child(3){grid-column:3/4}
table.steps td:nth-child(7){grid-column:4/5;grid-row:1}
table.steps td:nth-child(4),table.steps td:nth-child(5),table.steps td:nth-child(6){grid-column:1/-1;padding-left:1.6em}
table.steps td:nth-child(4):empty,table.steps td:nth-child(6):empty{display:none}
table.steps td.code:nth-child(5){white-space:pre-wrap;background:var(--vscode-textCodeBlock-background,rgba(128,128,128,.06));padding:2px 4px 2px 1.6em}
table.steps td:nth-child(4):not(:empty)::before{content:"expected ";color:var(--muted);font-family:var(--vscode-font-family,sans-serif)}
.ev{grid-template-columns:4.5em 1.4em 1fr}
}
`;

export const TRANSCRIPT_SCRIPT = `
(function () {
  'use strict';
  var api = typeof acquireVsCodeApi === 'function' ? acquireVsCodeApi() : { postMessage: function () {}, getState: function () { return undefined; }, setState: function () {} };
  var ACTIONS = ['copy', 'exportText', 'exportJson', 'rerun', 'cancel', 'checkBulk'];
  var STATUSES = ['running', 'passed', 'failed', 'cancelled', 'error'];
  // The nonce of this document identifies it to the extension, which may have replaced it since.
  var doc = (document.currentScript && document.currentScript.nonce) || '';
  var body = document.body;
  var content = document.getElementById('content');
  function recordId() { return body.getAttribute('data-record-id') || ''; }
  function running() { return body.getAttribute('data-status') === 'running'; }
  function atEnd() { return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 40; }
  function save() { api.setState({ recordId: recordId(), scrollY: window.scrollY, follow: atEnd() }); }

  var previous = api.getState();
  if (previous && previous.recordId === recordId() && typeof previous.scrollY === 'number') {
    if (previous.follow && running()) window.scrollTo(0, document.documentElement.scrollHeight);
    else window.scrollTo(0, previous.scrollY);
  }
  save();

  var saveTimer = 0;
  window.addEventListener('scroll', function () {
    if (saveTimer) return;
    saveTimer = setTimeout(function () { saveTimer = 0; save(); }, 200);
  }, { passive: true });

  document.addEventListener('click', function (event) {
    var target = event.target;
    if (!target || typeof target.closest !== 'function') return;
    var el = target.closest('[data-line],[data-action]');
    if (!el) return;
    var line = el.getAttribute('data-line');
    if (line !== null) {
      var n = Number(line);
      if (Number.isInteger(n) && n >= 0) api.postMessage({ type: 'reveal', line: n });
      event.preventDefault();
      return;
    }
    var action = el.getAttribute('data-action');
    if (ACTIONS.indexOf(action) >= 0) api.postMessage({ type: action });
    event.preventDefault();
  });

  window.addEventListener('message', function (event) {
    var m = event.data;
    if (!m || m.type !== 'render' || typeof m.html !== 'string' || typeof m.recordId !== 'string') return;
    if (STATUSES.indexOf(m.status) < 0 || !content) return;
    var follow = atEnd();
    var sameRecord = m.recordId === recordId();
    var y = window.scrollY;
    body.setAttribute('data-record-id', m.recordId);
    body.setAttribute('data-status', m.status);
    if (typeof m.title === 'string') document.title = m.title;
    // The HTML was built and escaped by the extension (transcriptHtml.ts); nothing in it can run:
    // scripts inserted this way never execute, and the policy blocks inline handlers.
    content.innerHTML = m.html;
    if (!sameRecord) window.scrollTo(0, 0);
    else if (follow) window.scrollTo(0, document.documentElement.scrollHeight);
    else window.scrollTo(0, y);
    save();
  });

  api.postMessage({ type: 'ready', recordId: recordId(), doc: doc });
})();
`;
