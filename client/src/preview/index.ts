/** The .eml preview: parse, sanitise and render (pure; the vscode glue is in views/emlPreview.ts). */
export * from './model';
export * from './sanitize';
export * from './webviewHtml';
