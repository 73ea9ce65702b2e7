/**
 * The report view: "SMTP: Open Report View" reads DMARC aggregate, TLS-RPT and failure reports
 * (one file, several, or folders; compressed ones too) and shows their summary in a webview
 * rendered by reports/reportHtml.ts: a strict CSP under a fresh nonce, no local resources, nothing
 * fetched, every string from a report inert text. The view posts two messages back, which are
 * checked here before anything acts on them:
 *
 * - `{ type: 'export', format: 'csv' | 'json' }`: the summary to a file the user picks;
 * - `{ type: 'dnsCheck', domain }`: the Mail DNS check of a failing source's domain
 *   (`smtp.mailDns.checkDomain`, which takes the domain as its argument);
 * - `{ type: 'reverseDns' }`: look up the source IPs' PTR names and whether they are
 *   forward-confirmed (reports/fcrdns.ts, through `smtp.dns.server` or the system's resolver; only
 *   in a trusted workspace), then draw the view again with them. With the setting
 *   `smtp.reports.reverseDnsOnOpen` the lookups start when the view opens. Results are kept per IP
 *   for the window, so that opening the view again asks nothing twice.
 *
 * The parsing and rendering live in the emlTools feature bundle, loaded on the first use.
 *
 * "Show Reports for This Domain" (`smtp.reports.showForDomain`, on a Mail DNS domain node) opens
 * the view on the reports that concern one domain (reports/reportDomain.ts), read from the files
 * and folders opened in the view in this window and the folder of the setting
 * `smtp.reports.folder`; when neither has any, it asks for a folder.
 */
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import * as vscode from 'vscode';
import type * as EmlToolsModule from '../lazy/emlTools';
import { lazyBundle } from '../lazy/loader';
import type { OpenedReport } from '../../../server/src/reports/open';
import { reportAboutDomain } from '../reports/reportDomain';
import { addReverseDns, type ReverseDnsResult } from '../reports/fcrdns';
import type { ReportSummary } from '../reports/summary';
import { resolveInboxFolder } from './localInboxModel';

const emlTools = lazyBundle<typeof EmlToolsModule>('emlTools');

export const REPORT_VIEW_COMMAND = 'smtp.reports.open';
export const REPORT_VIEW_TYPE = 'smtpWorkbench.reports';
export const REPORTS_FOR_DOMAIN_COMMAND = 'smtp.reports.showForDomain';
/** The setting with a folder of reports that "Show Reports for This Domain" always reads. */
export const REPORTS_FOLDER_SETTING = 'smtp.reports.folder';
const MAIL_DNS_CHECK = 'smtp.mailDns.checkDomain';
/** The setting that starts the reverse DNS lookups when the view opens (else the view's button does). */
export const REVERSE_DNS_ON_OPEN_SETTING = 'smtp.reports.reverseDnsOnOpen';
/** Per source IP: all of one IP's lookups (PTR, then A or AAAA) may take this long. */
const REVERSE_DNS_TIMEOUT_MS = 3000;

/** A message from the view, as it arrives (unknown until checked). */
export type ReportViewMessage = { type: 'export'; format: 'csv' | 'json' } | { type: 'dnsCheck'; domain: string } | { type: 'reverseDns' };

/** Checks a message from the webview: only the two known shapes, a domain that is a host name. */
export function parseReportViewMessage(message: unknown): ReportViewMessage | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as Record<string, unknown>;
  if (m.type === 'export' && (m.format === 'csv' || m.format === 'json')) return { type: 'export', format: m.format };
  if (m.type === 'reverseDns') return { type: 'reverseDns' };
  if (m.type === 'dnsCheck' && typeof m.domain === 'string') {
    const domain = m.domain.trim().toLowerCase().replace(/\.$/, '');
    // A DNS name of LDH labels (RFC 1035 §2.3.1, RFC 5890 A-labels): what a report's header_from
    // holds when it is a domain at all. Anything else is not passed to the Mail DNS check.
    if (domain.length <= 253 && /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(domain)) return { type: 'dnsCheck', domain };
  }
  return undefined;
}

function nonce(): string {
  return randomBytes(18).toString('base64');
}

/** The paths the command reads: the explorer's selection, the active file, or a picked one. */
async function pathsToOpen(uri: unknown, selected: unknown): Promise<string[] | undefined> {
  const isUri = (u: unknown): u is vscode.Uri => typeof u === 'object' && u !== null && typeof (u as vscode.Uri).fsPath === 'string' && (u as vscode.Uri).scheme === 'file';
  if (Array.isArray(selected) && selected.length > 0 && selected.every(isUri)) return selected.map((u) => u.fsPath);
  if (isUri(uri)) return [uri.fsPath];
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active && active.scheme === 'file' && /\.(xml|gz|zip|json|eml)$/i.test(active.fsPath)) return [active.fsPath];
  const picked = await vscode.window.showOpenDialog({
    canSelectFiles: true,
    canSelectFolders: true,
    canSelectMany: true,
    openLabel: 'Open reports',
    title: 'DMARC aggregate, TLS-RPT or failure reports (files or folders)',
  });
  return picked && picked.length > 0 ? picked.map((u) => u.fsPath) : undefined;
}

/** The name a file has in the view's tables: relative to its workspace folder when it is in one. */
function shownName(path: string): string {
  return vscode.workspace.asRelativePath(path, false);
}

export interface ReportViewOptions {
  /** Only the reports that concern this domain (reports/reportDomain.ts). */
  domain?: string;
  /** The panel's title, instead of one made of the paths. */
  title?: string;
}

export interface ReportViewHandle {
  /** Opens the view for the given paths (files or folders); resolves with the panel. */
  open(paths: string[], options?: ReportViewOptions): Promise<vscode.WebviewPanel | undefined>;
  /** The files and folders opened in the view in this window, oldest first. */
  openedPaths(): string[];
}

/** The domain a command was given: a Mail DNS node (with a `domain`) or the domain itself. */
function domainArgument(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (typeof arg === 'object' && arg !== null && typeof (arg as { domain?: unknown }).domain === 'string') return (arg as { domain: string }).domain;
  return undefined;
}

export function registerReportView(context: vscode.ExtensionContext): ReportViewHandle {
  const opened: string[] = [];
  // One answer per source IP for the window; a lookup the server did not answer is asked again when a view opens.
  const reverseDnsCache = new Map<string, Promise<ReverseDnsResult>>();
  const open = async (paths: string[], options: ReportViewOptions = {}): Promise<vscode.WebviewPanel | undefined> => {
    const tools = emlTools();
    let files: string[];
    try {
      files = await tools.reportFilesOf(paths);
    } catch (error) {
      void vscode.window.showErrorMessage(`Cannot read the reports: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      return undefined;
    }
    if (files.length === 0) {
      void vscode.window.showInformationMessage('No report files there (.xml, .xml.gz, .zip, .json, .json.gz, .eml).');
      return undefined;
    }
    const domain = options.domain;
    for (const p of paths) if (!opened.includes(p)) opened.push(p);
    const first = await tools.summariseReportFiles(files, {
      shownName,
      ...(domain !== undefined
        ? {
            // A TLS-RPT report about several policy domains keeps only this domain's policies.
            include: (o: OpenedReport) => {
              const kept = o.report && reportAboutDomain(o.report, domain);
              if (!kept) return false;
              o.report = kept;
              return true;
            },
          }
        : {}),
    });
    if (domain !== undefined && first.counts.aggregate + first.counts.tlsRpt + first.counts.failure === 0) {
      void vscode.window.showInformationMessage(`No report about ${domain} among ${files.length} report file(s) (those opened in the report view in this window and the folder of ${REPORTS_FOLDER_SETTING}).`);
      return undefined;
    }
    const title = options.title ?? (paths.length === 1 ? `Reports: ${basename(paths[0])}` : `Reports: ${files.length} files`);
    // Ctrl+F finds in the view (a source IP, a domain) as in an editor.
    const panel = vscode.window.createWebviewPanel(REPORT_VIEW_TYPE, title, vscode.ViewColumn.Active, { enableScripts: true, enableForms: false, enableCommandUris: false, localResourceRoots: [], retainContextWhenHidden: false, enableFindWidget: true });
    let summary: ReportSummary = first;
    let disposed = false;
    const stop = new AbortController();
    const draw = (): void => {
      panel.webview.html = tools.renderReportHtml(summary, { cspSource: panel.webview.cspSource, nonce: nonce(), actions: true });
    };
    draw();
    // The lookups of this view: made once; a second click while they run waits for the same ones.
    let lookingUp: Promise<void> | undefined;
    const lookUpReverseDns = async (): Promise<void> => {
      if (lookingUp) return lookingUp;
      if (!vscode.workspace.isTrusted) {
        void vscode.window.showWarningMessage('Reverse DNS lookups send DNS queries: trust the workspace first.');
        // The button said "Looking up…": the view is drawn again with it ready.
        if (!disposed) draw();
        return;
      }
      const server = (vscode.workspace.getConfiguration('smtp').get<string>('dns.server') ?? '').trim();
      let resolver: ReturnType<typeof tools.createResolver>;
      try {
        resolver = tools.createResolver({ ...(server !== '' ? { server } : {}), timeoutMs: REVERSE_DNS_TIMEOUT_MS, tries: 1 });
      } catch (error) {
        void vscode.window.showErrorMessage(`smtp.dns.server: ${error instanceof Error ? error.message : String(error)}`);
        if (!disposed) draw();
        return;
      }
      lookingUp = (async () => {
        const looked = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Reverse DNS of ${summary.aggregate.sources.length} source(s)` }, () =>
          addReverseDns(summary, resolver, { timeoutMs: REVERSE_DNS_TIMEOUT_MS, concurrency: 8, limit: 1000, cache: reverseDnsCache, signal: stop.signal }),
        );
        if (disposed) return;
        summary = looked;
        draw();
      })();
      return lookingUp;
    };
    const subscription = panel.webview.onDidReceiveMessage(async (raw: unknown) => {
      const message = parseReportViewMessage(raw);
      if (!message) return;
      if (message.type === 'reverseDns') {
        await lookUpReverseDns();
        return;
      }
      if (message.type === 'dnsCheck') {
        await vscode.commands.executeCommand(MAIL_DNS_CHECK, message.domain);
        return;
      }
      const csv = message.format === 'csv';
      const target = await vscode.window.showSaveDialog({
        title: `Export the report summary as ${csv ? 'CSV' : 'JSON'}`,
        filters: csv ? { CSV: ['csv'] } : { JSON: ['json'] },
        ...(vscode.workspace.workspaceFolders?.[0] ? { defaultUri: vscode.Uri.joinPath(vscode.workspace.workspaceFolders[0].uri, csv ? 'report-summary.csv' : 'report-summary.json') } : {}),
      });
      if (!target) return;
      const text = csv ? tools.summaryCsv(summary) : tools.summaryJson(summary);
      await vscode.workspace.fs.writeFile(target, Buffer.from(text, 'utf8'));
      vscode.window.setStatusBarMessage(`Report summary saved to ${basename(target.fsPath)}`, 5000);
    });
    panel.onDidDispose(() => {
      disposed = true;
      stop.abort();
      subscription.dispose();
    });
    if (summary.aggregate.sources.length > 0 && vscode.workspace.isTrusted && vscode.workspace.getConfiguration('smtp').get<boolean>(REVERSE_DNS_ON_OPEN_SETTING.slice('smtp.'.length), false) === true) void lookUpReverseDns();
    return panel;
  };
  context.subscriptions.push(
    vscode.commands.registerCommand(REPORT_VIEW_COMMAND, async (uri?: unknown, selected?: unknown) => {
      const paths = await pathsToOpen(uri, selected);
      if (paths) await open(paths);
    }),
    vscode.commands.registerCommand(REPORTS_FOR_DOMAIN_COMMAND, async (node?: unknown) => {
      let domain = domainArgument(node)?.trim().toLowerCase().replace(/\.$/, '');
      domain ??= (await vscode.window.showInputBox({ title: 'Show Reports for a Domain', prompt: 'The domain (reports on it and its subdomains are shown)', ignoreFocusOut: true }))?.trim().toLowerCase();
      if (!domain) return;
      const setting = vscode.workspace.getConfiguration('smtp.reports').get<string>('folder', '');
      const sources = [...opened];
      if ((setting ?? '').trim() !== '') {
        const folder = resolveInboxFolder(setting, { defaultDir: '', workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath });
        if (!sources.includes(folder)) sources.push(folder);
      }
      if (sources.length === 0) {
        const picked = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Read reports', title: `Reports for ${domain}: a folder of DMARC and TLS-RPT reports (or set ${REPORTS_FOLDER_SETTING})` });
        if (!picked || picked.length === 0) return;
        sources.push(picked[0].fsPath);
      }
      await open(sources, { domain, title: `Reports: ${domain}` });
    }),
  );
  return { open, openedPaths: () => [...opened] };
}
