/**
 * The "Local Inbox" view, its commands and status bar item: the `vscode` glue over the capture
 * server (client/src/localServer). The server starts on demand (`ensureServer`, called by the run
 * command for sessions without CONNECT, or by `smtp.localServer.start`) and the view lists what it
 * stored, newest first. The text of items and tooltips comes from the pure localInboxModel.ts.
 *
 * Each message shows its authentication results (with `smtp.localServer.verify`), the behaviour
 * rule that answered and how it came (DATA or BDAT). The rules in force (`smtp.localServer.rules`,
 * a file reloaded when it changes) are a node at the top of the tree.
 *
 * Reports that arrive (a DMARC aggregate or TLS-RPT attachment, a failure report) are recognised
 * and badged, and open in the report view ("Open in Report View"). "Check Bulk-Sender
 * Requirements" verifies a message as it arrived (the client IP, HELO and MAIL FROM of its
 * sidecar) and adds what only the capture server knows: whether TLS was used and the client IP's
 * forward-confirmed reverse DNS.
 */
import * as vscode from 'vscode';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { DNS_SERVER_FORMAT } from '../dns/serverAddress';
import { lineColumn } from '../reports/summary';
import type { MailauthResolver } from '../mailAuth';
import type * as EmlToolsModule from '../lazy/emlTools';
import { bulkCheckIo, checkBulkMessage } from '../reports/bulkCheck';
import type { BulkRequirement } from '../reports/bulkSender';
import { escapeMarkdown, visibleLine } from '../../../common/escape';
import type * as CaptureToolsModule from '../lazy/captureTools';
import { lazyBundle } from '../lazy/loader';
import type { CaptureLogEntry, CaptureRule, CaptureRules, CaptureServer, MessageStore, RuleNotes, StoredMessage } from '../localServer';
import {
  bulkFindingItem,
  mayHoldReport,
  messageDescription,
  messageIcon,
  reportBadge,
  type ReportCounts,
  messageLabel,
  ruleLine,
  rulesDescription,
  type RulesFileProblem,
  messageTooltip,
  parseAuthSetting,
  resolveInboxFolder,
  statusText,
  type LocalServerSettings,
} from './localInboxModel';

/** Loaded on first use (see lazy/loader.ts). */
const captureTools = lazyBundle<typeof CaptureToolsModule>('captureTools');
const emlTools = lazyBundle<typeof EmlToolsModule>('emlTools');

/** The report view's command (views/reportView.ts), which takes the file to open. */
const REPORT_VIEW_COMMAND = 'smtp.reports.open';
/** Messages larger than this are not parsed for reports when listed (they still open on demand). */
const REPORT_SNIFF_LIMIT = 16 * 1024 * 1024;


export const LOCAL_INBOX_VIEW_ID = 'smtp.localInbox';

export const LOCAL_INBOX_COMMANDS = {
  open: 'smtp.inbox.open',
  delete: 'smtp.inbox.delete',
  clear: 'smtp.inbox.clear',
  reveal: 'smtp.inbox.reveal',
  copyPath: 'smtp.inbox.copyPath',
  refresh: 'smtp.inbox.refresh',
  start: 'smtp.localServer.start',
  stop: 'smtp.localServer.stop',
  openReport: 'smtp.inbox.openReport',
  checkBulk: 'smtp.inbox.checkBulkSender',
} as const;

/** The context key that is true while the server runs (for menus: start or stop). */
export const RUNNING_CONTEXT_KEY = 'smtp.localServer.running';

export interface LocalInboxOptions {
  /** Reads the `smtp.localServer.*` settings. */
  getSettings(): LocalServerSettings;
  /** Where the server's log lines go. */
  log?: vscode.LogOutputChannel;
}

export interface LocalInbox {
  /** Starts the server unless it runs, and returns where it listens. */
  /**
   * Starts the server unless it runs; `notes` gives a run the rules that answered its connection
   * (`RunOptions.serverNotes`).
   */
  ensureServer(): Promise<{ host: string; port: number; notes: RuleNotes['notes'] }>;
  /** Stops the server (the stored messages stay). */
  stop(): Promise<void>;
  /** The running server, if any. */
  readonly server: CaptureServer | undefined;
  dispose(): void;
}

/** The node at the top that lists the rules in force, and one node per rule under it. */
interface RulesNode {
  kind: 'rules';
  rules: CaptureRules;
  file: string;
  /** Where each rule starts in the file (0-based line and character), by rule index. */
  positions: ReadonlyArray<{ line: number; character: number }>;
  /** Set when the file's latest version was refused: the rules shown are the last good ones. */
  problem?: RulesFileProblem;
}
interface RuleNode {
  kind: 'rule';
  rule: CaptureRule;
  file: string;
  position: { line: number; character: number };
}

/** The tree's nodes: the rules in force (when a rules file is set) and the stored messages themselves. */
type InboxNode = StoredMessage | RulesNode | RuleNode;

function isRulesNode(node: InboxNode): node is RulesNode | RuleNode {
  return (node as RulesNode).kind === 'rules' || (node as RuleNode).kind === 'rule';
}

class InboxTreeProvider implements vscode.TreeDataProvider<InboxNode> {
  private readonly changed = new vscode.EventEmitter<InboxNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private timer: NodeJS.Timeout | undefined;
  /** The messages of the last listing, for the status bar count. */
  count = 0;
  /** What the tree showed last (ids and sizes, in order), to skip refreshes that change nothing. */
  private shown: string | undefined;

  /** The rules in force and their file, shown at the top while set. */
  rules: Omit<RulesNode, 'kind'> | undefined;

  /** The reports each message holds (null: none), by id and size, filled when listed. */
  private readonly reports = new Map<string, ReportCounts | null>();

  /** The reports a message holds, as last found (undefined before it was looked at). */
  reportCounts(message: StoredMessage): ReportCounts | null | undefined {
    return this.reports.get(`${message.id}:${message.size}`);
  }

  /** Reads the messages not looked at yet and finds their reports (the parsers of the report view). */
  private async findReports(messages: readonly StoredMessage[]): Promise<void> {
    for (const m of messages) {
      const key = `${m.id}:${m.size}`;
      if (this.reports.has(key)) continue;
      let counts: ReportCounts | null = null;
      try {
        if (m.size <= REPORT_SNIFF_LIMIT) {
          const raw = await readFile(m.path);
          if (mayHoldReport(raw.toString('latin1'))) {
            const summary = await emlTools().summariseReportFiles([m.path]);
            const c = { aggregate: summary.counts.aggregate, tlsRpt: summary.counts.tlsRpt, failure: summary.counts.failure };
            if (c.aggregate + c.tlsRpt + c.failure > 0) counts = c;
          }
        }
      } catch {
        // A message that cannot be read or parsed is shown as a plain message.
      }
      this.reports.set(key, counts);
    }
    // Deleted messages leave the cache with the listing.
    const current = new Set(messages.map((m) => `${m.id}:${m.size}`));
    for (const key of [...this.reports.keys()]) if (!current.has(key)) this.reports.delete(key);
  }

  constructor(private readonly storeOf: () => MessageStore, private readonly onCount: (count: number) => void) {}

  /** Shows other rules at the top at once. */
  setRules(rules: Omit<RulesNode, 'kind'> | undefined): void {
    this.rules = rules;
    this.changed.fire(undefined);
  }

  /**
   * Refreshes soon; a burst of messages makes one refresh, and a listing that has not changed
   * (the file watcher and the server both report each message) makes none, so that the rows a
   * user is clicking are not replaced for nothing. Rows keep their ids (the message's) across
   * refreshes.
   */
  refresh(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // The tree asks for its children only while it is visible; the status bar counts regardless.
      // Counting needs no files: the server writes them when it is quiet, not for each refresh
      // during a burst (the rows, drawn by getChildren, do need them, to open and sniff).
      this.storeOf()
        .list({ write: false })
        .then(
          (messages) => {
            this.setCount(messages.length);
            if (listingKey(messages) !== this.shown) this.changed.fire(undefined);
          },
          () => this.changed.fire(undefined),
        );
    }, 100);
  }

  getTreeItem(node: InboxNode): vscode.TreeItem {
    if (isRulesNode(node)) return ruleTreeItem(node);
    const message = node;
    const item = new vscode.TreeItem(messageLabel(message), vscode.TreeItemCollapsibleState.None);
    item.id = message.id;
    const badge = reportBadge(this.reportCounts(message) ?? undefined);
    item.description = badge ? `${badge} · ${messageDescription(message)}` : messageDescription(message);
    const tooltip = new vscode.MarkdownString(messageTooltip(message));
    // The verdict and rule lines start with codicons ($(pass), $(error), $(law)).
    tooltip.supportThemeIcons = true;
    item.tooltip = tooltip;
    const icon = messageIcon(message);
    item.iconPath = new vscode.ThemeIcon(icon.id, icon.color ? new vscode.ThemeColor(icon.color) : undefined);
    item.resourceUri = vscode.Uri.file(message.path);
    item.contextValue = badge ? 'smtpInboxReport' : 'smtpInboxMessage';
    if (badge) item.iconPath = new vscode.ThemeIcon('graph', icon.color ? new vscode.ThemeColor(icon.color) : undefined);
    item.command = { command: LOCAL_INBOX_COMMANDS.open, title: 'Open Message', arguments: [message] };
    return item;
  }

  async getChildren(parent?: InboxNode): Promise<InboxNode[]> {
    if (parent !== undefined) {
      if (isRulesNode(parent) && parent.kind === 'rules') return parent.rules.rules.map((rule, i) => ({ kind: 'rule', rule, file: parent.file, position: parent.positions[i] ?? { line: 0, character: 0 } }));
      return [];
    }
    const messages = await this.storeOf().list();
    await this.findReports(messages);
    this.setCount(messages.length);
    this.shown = listingKey(messages);
    return this.rules ? [{ kind: 'rules', ...this.rules }, ...messages] : messages;
  }

  private setCount(count: number): void {
    this.count = count;
    this.onCount(count);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.changed.dispose();
  }
}

/** A listing's identity: the messages' ids and sizes, and whether their envelopes and authentication are known, in order. */
function listingKey(messages: readonly StoredMessage[]): string {
  return messages.map((m) => `${m.id}:${m.size}:${m.envelope ? 1 : 0}:${m.authentication ? 1 : 0}`).join('\n');
}

/** The 0-based line and character of an offset (the one home for offsets to lines is reports/summary.ts). */
function offsetPosition(text: string, offset: number): { line: number; character: number } {
  const at = lineColumn(text, offset);
  return { line: at.line - 1, character: at.column - 1 };
}

/** The rules node (collapsed by default) or one rule's node, which opens the file at the rule. */
function ruleTreeItem(node: RulesNode | RuleNode): vscode.TreeItem {
  const file = vscode.Uri.file(node.file);
  if (node.kind === 'rules') {
    const item = new vscode.TreeItem('Rules in force', node.rules.rules.length > 0 ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    item.id = 'smtp.localInbox.rules';
    item.description = rulesDescription(node.rules, basename(node.file), node.problem);
    const tooltip = new vscode.MarkdownString(
      [
        `**Behaviour rules** from ${escapeMarkdown(node.file)}:`,
        ...(node.problem ? ["$(warning) The file's latest version was refused (see the Problems panel); these are the last good rules, still in force."] : []),
        ...node.rules.rules.map((r) => `$(law) ${escapeMarkdown(ruleLine(r))}`),
      ].join('  \n'),
    );
    tooltip.supportThemeIcons = true;
    item.tooltip = tooltip;
    item.iconPath = new vscode.ThemeIcon(node.problem ? 'warning' : 'law');
    item.contextValue = 'smtpInboxRules';
    item.command = { command: 'vscode.open', title: 'Open Rules File', arguments: [file] };
    return item;
  }
  const item = new vscode.TreeItem(node.rule.name, vscode.TreeItemCollapsibleState.None);
  item.id = `smtp.localInbox.rule.${node.rule.index}`;
  const line = ruleLine(node.rule);
  item.description = line.slice(line.indexOf(': ') + 2);
  item.tooltip = line;
  item.iconPath = new vscode.ThemeIcon('debug-breakpoint-log-unverified');
  item.contextValue = 'smtpInboxRule';
  const at = new vscode.Position(node.position.line, node.position.character);
  item.command = { command: 'vscode.open', title: 'Go to Rule', arguments: [file, { selection: new vscode.Range(at, at) }] };
  return item;
}

function isStoredMessage(value: unknown): value is StoredMessage {
  return typeof value === 'object' && value !== null && typeof (value as StoredMessage).id === 'string' && typeof (value as StoredMessage).path === 'string';
}

/**
 * The bulk-sender check of a captured message: verified as it arrived (the sidecar's client IP,
 * HELO and MAIL FROM), with the transport the capture server saw (TLS, and the client IP's
 * forward-confirmed reverse DNS looked up through `smtp.dns.server`); the check itself is
 * reports/bulkCheck.ts, as for `smtpwb verify --bulk` and `smtpwb run --bulk`. A message without a
 * sidecar is checked with the transport unknown. Returns why it could not be checked as a string.
 */
async function bulkCheck(message: StoredMessage, settings: LocalServerSettings): Promise<BulkRequirement[] | string> {
  let raw: Buffer;
  try {
    raw = await readFile(message.path);
  } catch (error) {
    return `cannot read ${message.path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  }
  const tools = emlTools();
  const dns = (settings.dnsServer ?? '').trim();
  if (dns !== '' && tools.parseDnsServer(dns) === undefined) return `the DNS server setting "${dns}" must be ${DNS_SERVER_FORMAT}`;
  const env = message.envelope;
  const envelope = env
    ? { ip: env.remoteAddress, helo: env.helo ?? undefined, mailFrom: env.mailFrom, useReceived: false, transport: { tls: env.tls !== null, clientIp: env.remoteAddress } }
    : { useReceived: true };
  // mailauth stays in the lazily loaded bundle: the check is given its verifyMessage.
  return (await checkBulkMessage(raw, envelope, bulkCheckIo(tools, dns === '' ? undefined : dns))).requirements;
}

/** Registers the view, its commands and the status bar item; call once from `activate`. */
export function registerLocalInbox(context: vscode.ExtensionContext, options: LocalInboxOptions): LocalInbox {
  const disposables: vscode.Disposable[] = [];
  const defaultDir = vscode.Uri.joinPath(context.globalStorageUri, 'inbox').fsPath;
  const folderOf = (settings: LocalServerSettings): string =>
    resolveInboxFolder(settings.dir, { defaultDir, workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath });

  // The store (and with it the capture bundle) is created when the inbox is first listed or used,
  // not during activation.
  let storeDir = folderOf(options.getSettings());
  let storeInstance: MessageStore | undefined;
  const store = (): MessageStore => (storeInstance ??= new (captureTools().MessageStore)(storeDir));
  let server: CaptureServer | undefined;
  let starting: Promise<CaptureServer> | undefined;
  let serverSubscription: { dispose(): void } | undefined;
  let serverNotes: RuleNotes | undefined;

  const status = vscode.window.createStatusBarItem('smtp.localServer', vscode.StatusBarAlignment.Left, 20);
  status.name = 'SMTP Local Capture Server';
  status.command = `${LOCAL_INBOX_VIEW_ID}.focus`;
  disposables.push(status);

  const updateStatus = (count: number): void => {
    if (!server) {
      status.hide();
      return;
    }
    status.text = statusText(server.address, count);
    status.tooltip = `SMTP Workbench local capture server on ${server.address}: ${count} message${count === 1 ? '' : 's'} in ${server.dir}. Click to show the Local Inbox.`;
    status.show();
  };

  const provider = new InboxTreeProvider(store, updateStatus);
  disposables.push(provider);
  const view = vscode.window.createTreeView(LOCAL_INBOX_VIEW_ID, { treeDataProvider: provider, canSelectMany: true, showCollapseAll: false });
  disposables.push(view);

  const updateViewMessage = (): void => {
    view.message = server ? undefined : 'The local capture server is stopped. Sessions without CONNECT start it.';
    void vscode.commands.executeCommand('setContext', RUNNING_CONTEXT_KEY, server !== undefined);
  };
  updateViewMessage();

  const logEntry = (entry: CaptureLogEntry): void => {
    // Capture-server messages quote what an SMTP client sent: shown, never interpreted.
    const text = visibleLine(`local server: ${entry.remoteAddress ? `${entry.remoteAddress}: ` : ''}${entry.message}`);
    if (entry.level === 'error') options.log?.error(text);
    else if (entry.level === 'warn') options.log?.warn(text);
    else options.log?.info(text);
  };

  // A watcher on the folder picks up messages that another process (`smtpwb serve`) stores there.
  let watcher: vscode.FileSystemWatcher | undefined;
  const watchFolder = (dir: string): void => {
    watcher?.dispose();
    watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dir), '*.eml'));
    watcher.onDidCreate(() => provider.refresh());
    watcher.onDidDelete(() => provider.refresh());
  };
  watchFolder(storeDir);

  /** The rules file of `smtp.localServer.rules`, resolved like the folder (relative to the first workspace folder). */
  const rulesFileOf = (settings: LocalServerSettings): string | undefined => {
    if ((settings.rules ?? '').trim() === '') return undefined;
    return resolveInboxFolder(settings.rules, { defaultDir: '', workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath });
  };

  /** The verifier for `smtp.localServer.verify`, with the resolver of `smtp.dns.server`. */
  const verifyOf = (settings: LocalServerSettings): { resolver: MailauthResolver } | undefined => {
    if (settings.verify !== true) return undefined;
    const dns = (settings.dnsServer ?? '').trim();
    if (dns !== '' && captureTools().parseDnsServer(dns) === undefined) throw new Error(`the DNS server setting "${visibleLine(dns)}" must be ${DNS_SERVER_FORMAT}`);
    return { resolver: captureTools().createResolver({ server: dns === '' ? undefined : dns, timeoutMs: 1500, tries: 1 }) };
  };

  // The rules in force are a node at the top of the tree. (Not the view's description: in VS Code
  // 1.100 a tree view with a description showed no title in its pane header.)
  const showRules = (rules: Omit<RulesNode, 'kind'> | undefined): void => provider.setRules(rules);

  /**
   * Reads the rules file into the running server. A file with errors (or one that cannot be read)
   * changes nothing: the rules in force stay, as with `smtpwb serve --rules`.
   */
  const loadRules = async (target: CaptureServer): Promise<void> => {
    const file = rulesFileOf(options.getSettings());
    if (file === undefined) {
      showRules(undefined);
      return;
    }
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      void vscode.window.showWarningMessage(visibleLine(`Cannot read the capture server's rules file ${file}: ${error instanceof Error ? error.message : String(error)} (setting smtp.localServer.rules).`));
      // The node says that the rules shown are the last good ones, not the file's.
      if (server === target) showRules({ ...(provider.rules ?? { rules: { version: 1, rules: [] }, file, positions: [] }), problem: { errors: 1 } });
      return;
    }
    const parsed = captureTools().parseCaptureRules(text);
    // The Local Inbox's server has the default SIZE limit: a rule may not advertise more (RFC 1870 §4).
    parsed.problems.push(...captureTools().sizeLimitProblems(parsed.rules, captureTools().DEFAULT_SIZE_LIMIT));
    const errors = parsed.problems.filter((p) => p.severity === 'error');
    if (errors.length > 0) {
      const first = offsetPosition(text, errors[0].range.start);
      options.log?.warn(visibleLine(`local server: ${file} has ${errors.length} error${errors.length === 1 ? '' : 's'}; the rules in force stay`));
      void vscode.window.showWarningMessage(
        `${basename(file)}:${first.line + 1}:${first.character + 1}: ${visibleLine(errors[0].message)}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}. The rules in force stay.`,
      );
      if (server === target) showRules({ ...(provider.rules ?? { rules: { version: 1, rules: [] }, file, positions: [] }), problem: { errors: errors.length, line: first.line + 1 } });
      return;
    }
    if (server !== target) return;
    target.setRules(parsed.rules);
    showRules({ rules: parsed.rules, file, positions: parsed.rules.rules.map((r) => offsetPosition(text, r.range.start)) });
  };

  // The rules file is watched while a server runs, and read again when it changes.
  let rulesWatcher: vscode.FileSystemWatcher | undefined;
  const watchRules = (file: string | undefined): void => {
    rulesWatcher?.dispose();
    rulesWatcher = undefined;
    if (file === undefined) return;
    rulesWatcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dirname(file)), basename(file)));
    const reload = (): void => {
      if (server) void loadRules(server);
    };
    rulesWatcher.onDidChange(reload);
    rulesWatcher.onDidCreate(reload);
    // A deleted file cannot be read: the last good rules stay in force and the Local Inbox says so.
    rulesWatcher.onDidDelete(reload);
  };

  const start = async (): Promise<CaptureServer> => {
    const settings = options.getSettings();
    const auth = parseAuthSetting(settings.auth);
    if (!auth.ok) throw new Error(auth.message);
    const dir = folderOf(settings);
    const verify = verifyOf(settings);
    const common = { host: settings.host, dir, auth: auth.auth, logger: logEntry, ...(verify ? { verify } : {}) };
    let started: CaptureServer;
    try {
      started = await captureTools().startCaptureServer({ ...common, port: settings.port });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || settings.port === 0) throw error;
      // Another window (or program) has the port; a free one serves sessions just as well.
      started = await captureTools().startCaptureServer({ ...common, port: 0 });
      void vscode.window.showWarningMessage(
        `Port ${settings.port} is in use, so the local capture server listens on ${started.address} instead (setting smtp.localServer.port).`,
      );
    }
    server = started;
    if (storeDir !== dir) {
      storeDir = dir;
      storeInstance = undefined;
      watchFolder(dir);
    }
    serverSubscription = started.onChange(() => provider.refresh());
    serverNotes = captureTools().ruleNotes(started);
    watchRules(rulesFileOf(settings));
    await loadRules(started);
    updateViewMessage();
    updateStatus(provider.count);
    provider.refresh();
    return started;
  };

  // The notes are asked for by the connection's local end, so one function serves every start.
  const notes: RuleNotes['notes'] = (local) => serverNotes?.notes(local) ?? [];
  const ensureServer = async (): Promise<{ host: string; port: number; notes: RuleNotes['notes'] }> => {
    if (server) return { host: server.host, port: server.port, notes };
    // The extension declares that it connects and listens nowhere in an untrusted workspace.
    if (!vscode.workspace.isTrusted) throw new Error('the local capture server needs a trusted workspace');
    starting ??= start().finally(() => {
      starting = undefined;
    });
    const running = await starting;
    return { host: running.host, port: running.port, notes };
  };

  const stop = async (): Promise<void> => {
    if (starting) await starting.catch(() => undefined);
    const running = server;
    server = undefined;
    serverSubscription?.dispose();
    serverSubscription = undefined;
    serverNotes?.dispose();
    serverNotes = undefined;
    watchRules(undefined);
    showRules(undefined);
    updateViewMessage();
    updateStatus(0);
    if (running) await running.stop();
  };

  /** The messages a command applies to: the clicked one and the selection, or the selection. */
  const targets = (node?: unknown, nodes?: unknown): StoredMessage[] => {
    if (Array.isArray(nodes) && nodes.every(isStoredMessage) && nodes.length > 0) return nodes;
    if (isStoredMessage(node)) return [node];
    return view.selection.filter(isStoredMessage);
  };

  const register = (id: string, handler: (...args: unknown[]) => unknown): void => {
    disposables.push(vscode.commands.registerCommand(id, handler));
  };

  register(LOCAL_INBOX_COMMANDS.open, async (node, nodes) => {
    const chosen = targets(node, nodes);
    for (const message of chosen) {
      // A single message opens in the preview tab; several open side by side as tabs.
      await vscode.window.showTextDocument(vscode.Uri.file(message.path), { preview: chosen.length === 1 });
    }
  });
  register(LOCAL_INBOX_COMMANDS.delete, async (node, nodes) => {
    const chosen = targets(node, nodes);
    for (const message of chosen) {
      if (server) await server.delete(message.id);
      else await store().delete(message.id);
    }
    provider.refresh();
  });
  register(LOCAL_INBOX_COMMANDS.clear, async () => {
    const count = (await store().list({ write: false })).length;
    if (count === 0) return;
    const answer = await vscode.window.showWarningMessage(
      `Delete all ${count} message${count === 1 ? '' : 's'} in the Local Inbox?`,
      { modal: true, detail: storeDir },
      'Delete All',
    );
    if (answer !== 'Delete All') return;
    if (server) await server.clear();
    else await store().clear();
    provider.refresh();
  });
  register(LOCAL_INBOX_COMMANDS.reveal, async (node, nodes) => {
    const [message] = targets(node, nodes);
    await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(message ? message.path : storeDir));
  });
  register(LOCAL_INBOX_COMMANDS.copyPath, async (node, nodes) => {
    const chosen = targets(node, nodes);
    if (chosen.length > 0) await vscode.env.clipboard.writeText(chosen.map((m) => m.path).join('\n'));
  });
  register(LOCAL_INBOX_COMMANDS.refresh, () => provider.refresh());
  register(LOCAL_INBOX_COMMANDS.start, async () => {
    try {
      const { host, port } = await ensureServer();
      void vscode.window.showInformationMessage(`The local capture server listens on ${server?.address ?? `${host}:${port}`}.`);
    } catch (error) {
      void vscode.window.showErrorMessage(`Cannot start the local capture server: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  register(LOCAL_INBOX_COMMANDS.stop, () => stop());
  register(LOCAL_INBOX_COMMANDS.openReport, async (node, nodes) => {
    const chosen = targets(node, nodes);
    if (chosen.length === 0) return;
    // The stored .eml is opened as it is: the report parsers take the attachments out of it.
    if (chosen.length === 1) await vscode.commands.executeCommand(REPORT_VIEW_COMMAND, vscode.Uri.file(chosen[0].path));
    else await vscode.commands.executeCommand(REPORT_VIEW_COMMAND, vscode.Uri.file(chosen[0].path), chosen.map((m) => vscode.Uri.file(m.path)));
  });
  register(LOCAL_INBOX_COMMANDS.checkBulk, async (node, nodes) => {
    const [message] = targets(node, nodes);
    if (!message) return;
    const results = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Checking "${visibleLine(messageLabel(message))}" against the bulk-sender requirements` }, () =>
      bulkCheck(message, options.getSettings()),
    );
    if (typeof results === 'string') {
      void vscode.window.showErrorMessage(`Cannot check the bulk-sender requirements: ${visibleLine(results)}`);
      return;
    }
    const failing = results.filter((r) => r.status === 'fail').length;
    // What the message and DNS said is shown as text, never as codicons or links of its own.
    const items = results.map(bulkFindingItem);
    const picked = (await vscode.window.showQuickPick(items, {
      title: `Bulk-sender requirements: ${failing === 0 ? 'none fails' : `${failing} of ${results.length} fail`} (select one to open its source)`,
      matchOnDetail: true,
      ignoreFocusOut: true,
    })) as (typeof items)[number] | undefined;
    if (picked) await vscode.commands.executeCommand('vscode.open', vscode.Uri.parse(picked.link));
  });

  // Settings that change where or how the server listens take effect at once when it runs.
  disposables.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!event.affectsConfiguration('smtp.localServer')) return;
      const dir = folderOf(options.getSettings());
      if (!server) {
        if (dir !== storeDir) {
          storeDir = dir;
          storeInstance = undefined;
          watchFolder(dir);
          provider.refresh();
        }
        return;
      }
      await stop();
      try {
        await ensureServer();
      } catch (error) {
        void vscode.window.showErrorMessage(`Cannot restart the local capture server: ${error instanceof Error ? error.message : String(error)}`);
      }
    }),
  );

  const inbox: LocalInbox = {
    ensureServer,
    stop,
    get server() {
      return server;
    },
    dispose(): void {
      watcher?.dispose();
      rulesWatcher?.dispose();
      void stop();
      for (const d of disposables.splice(0)) d.dispose();
    },
  };
  context.subscriptions.push(inbox);
  return inbox;
}
