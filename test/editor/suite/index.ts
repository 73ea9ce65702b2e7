// The in-editor suite: checks that use the vscode API from inside the extension host. The same
// bundle runs under @vscode/test-electron on a desktop (which calls run()) and inside code-server
// through the harness extension (which calls runSuite()). The workspace is a copy of
// test/editor-fixtures/basic: hello.smtp (a valid session), broken.smtp (an undefined variable)
// and sample.eml.
import * as vscode from 'vscode';
import { formatReport, runTests, SuiteReport, SuiteTest, waitFor } from './miniTest';

/** The extension under test. */
export const EXTENSION_ID = 'smtp-workbench.smtp-workbench';

/** Finds a file of the workspace by name and returns its URI, or throws naming what is missing. */
async function workspaceFile(name: string): Promise<vscode.Uri> {
  const found = await vscode.workspace.findFiles(`**/${name}`, '**/node_modules/**', 1);
  const uri = found[0];
  if (uri === undefined) {
    const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath).join(', ');
    throw new Error(`the workspace (${folders || 'no folder open'}) has no ${name}; open a copy of test/editor-fixtures/basic`);
  }
  return uri;
}

/** Opens a workspace file in an editor and returns its document. */
async function openInEditor(name: string): Promise<vscode.TextDocument> {
  const document = await vscode.workspace.openTextDocument(await workspaceFile(name));
  await vscode.window.showTextDocument(document, { preview: false });
  return document;
}

/** Activates the extension (idempotent) and returns it. */
async function activeExtension(): Promise<vscode.Extension<unknown>> {
  const extension = vscode.extensions.getExtension(EXTENSION_ID);
  if (extension === undefined) {
    const ids = vscode.extensions.all.filter((e) => !e.id.startsWith('vscode.')).map((e) => e.id);
    throw new Error(`extension ${EXTENSION_ID} is not installed (non-builtin extensions: ${ids.join(', ') || 'none'})`);
  }
  await extension.activate();
  return extension;
}

/** Strips codicon markers like "$(play) " from a CodeLens title. */
function plainTitle(title: string): string {
  return title.replace(/\$\([^)]*\)\s*/g, '').trim();
}

/** Returns the titles of a document's resolved CodeLenses, waiting until some exist. */
async function codeLensTitles(uri: vscode.Uri, ms: number): Promise<string[]> {
  return waitFor(
    async () => {
      const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 100);
      const titles = (lenses ?? []).flatMap((lens) => (lens.command?.title !== undefined ? [plainTitle(lens.command.title)] : []));
      return titles.length > 0 ? titles : undefined;
    },
    ms,
    `no CodeLens on ${uri.fsPath} within ${ms / 1000} s`,
  );
}

/** The tests, in order. Each is independent, but they share the opened workspace. */
export const TESTS: SuiteTest[] = [
  {
    name: 'the extension is installed and activates',
    timeoutMs: 30_000,
    fn: async () => {
      const extension = await activeExtension();
      if (!extension.isActive) throw new Error(`${EXTENSION_ID} did not become active`);
    },
  },
  {
    name: 'the languages smtp and eml are registered',
    timeoutMs: 10_000,
    fn: async () => {
      const languages = await vscode.languages.getLanguages();
      const missing = ['smtp', 'eml'].filter((id) => !languages.includes(id));
      if (missing.length > 0) throw new Error(`languages not registered: ${missing.join(', ')}`);
    },
  },
  {
    name: 'a .smtp file opens in language mode smtp',
    timeoutMs: 10_000,
    fn: async () => {
      const document = await openInEditor('hello.smtp');
      if (document.languageId !== 'smtp') throw new Error(`hello.smtp has language "${document.languageId}", expected "smtp"`);
    },
  },
  {
    name: 'a .eml file opens in language mode eml',
    timeoutMs: 10_000,
    fn: async () => {
      const document = await openInEditor('sample.eml');
      if (document.languageId !== 'eml') throw new Error(`sample.eml has language "${document.languageId}", expected "eml"`);
    },
  },
  {
    name: 'a broken script gets diagnostics from the language server',
    timeoutMs: 30_000,
    fn: async () => {
      await activeExtension();
      const document = await openInEditor('broken.smtp');
      const diagnostics = await waitFor(
        () => {
          const list = vscode.languages.getDiagnostics(document.uri);
          return list.length > 0 ? list : undefined;
        },
        20_000,
        'no diagnostics for broken.smtp within 20 s',
      );
      const codes = diagnostics.map((d) => (typeof d.code === 'object' ? String(d.code.value) : String(d.code)));
      if (!codes.includes('smtp-variable-undefined')) {
        throw new Error(`broken.smtp has diagnostics ${codes.join(', ')} but not smtp-variable-undefined`);
      }
    },
  },
  {
    name: 'a valid script has no error diagnostics',
    timeoutMs: 30_000,
    fn: async () => {
      await activeExtension();
      const document = await openInEditor('hello.smtp');
      // Give the server the time to publish (an empty list is also a publication).
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const errors = vscode.languages.getDiagnostics(document.uri).filter((d) => d.severity === vscode.DiagnosticSeverity.Error);
      if (errors.length > 0) throw new Error(`hello.smtp has errors: ${errors.map((e) => e.message).join('; ')}`);
    },
  },
  {
    name: 'CodeLens: "Run" on the session of a one-session file',
    timeoutMs: 30_000,
    fn: async () => {
      await activeExtension();
      const document = await openInEditor('hello.smtp');
      const titles = await codeLensTitles(document.uri, 20_000);
      if (!titles.some((t) => /^Run$/i.test(t))) throw new Error(`no CodeLens "Run" on hello.smtp (titles: ${titles.join(' | ')})`);
    },
  },
  {
    name: 'CodeLens: "Run all" at the top and "Run" on each session of a two-session file',
    timeoutMs: 30_000,
    fn: async () => {
      await activeExtension();
      const document = await openInEditor('pair.smtp');
      const titles = await codeLensTitles(document.uri, 20_000);
      const runs = titles.filter((t) => /^Run$/i.test(t)).length;
      if (!titles.some((t) => /^Run all\b/i.test(t))) throw new Error(`no CodeLens "Run all" on pair.smtp (titles: ${titles.join(' | ')})`);
      if (runs !== 2) throw new Error(`expected 2 CodeLenses "Run" on pair.smtp, found ${runs} (titles: ${titles.join(' | ')})`);
    },
  },
];

/** Runs the suite and returns its report (used by the harness extension). */
export async function runSuite(host: string, filter?: RegExp): Promise<SuiteReport> {
  return runTests(TESTS, host, filter);
}

/**
 * The entry point @vscode/test-electron calls: runs the suite, prints the report, and rejects when
 * a test failed so that the runner exits non-zero. SMTPWB_SUITE_FILTER selects tests by name.
 */
export async function run(): Promise<void> {
  const filter = process.env.SMTPWB_SUITE_FILTER ? new RegExp(process.env.SMTPWB_SUITE_FILTER, 'i') : undefined;
  const report = await runSuite('desktop', filter);
  console.log(formatReport(report));
  if (!report.ok) throw new Error(`${report.failed} in-editor test(s) failed`);
}
