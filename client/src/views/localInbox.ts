/**
 * The "Local Inbox" view, its commands and status bar item: the `vscode` glue over the capture
 * server (client/src/localServer). The server starts on demand (`ensureServer`, called by the run
 * command for sessions without CONNECT, or by `smtp.localServer.start`) and the view lists what it
 * stored, newest first. The text of items and tooltips comes from the pure localInboxModel.ts.
 */
import * as vscode from 'vscode';
import type * as CaptureToolsModule from '../lazy/captureTools';
import { lazyBundle } from '../lazy/loader';
import type { CaptureLogEntry, CaptureServer, MessageStore, StoredMessage } from '../localServer';
import {
  messageDescription,
  messageLabel,
  messageTooltip,
  parseAuthSetting,
  resolveInboxFolder,
  statusText,
  type LocalServerSettings,
} from './localInboxModel';

/** Loaded on first use (see lazy/loader.ts). */
const captureTools = lazyBundle<typeof CaptureToolsModule>('captureTools');


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
  ensureServer(): Promise<{ host: string; port: number }>;
  /** Stops the server (the stored messages stay). */
  stop(): Promise<void>;
  /** The running server, if any. */
  readonly server: CaptureServer | undefined;
  dispose(): void;
}

/** The tree's nodes are the stored messages themselves. */
class InboxTreeProvider implements vscode.TreeDataProvider<StoredMessage> {
  private readonly changed = new vscode.EventEmitter<StoredMessage | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private timer: NodeJS.Timeout | undefined;
  /** The messages of the last listing, for the status bar count. */
  count = 0;

  constructor(private readonly storeOf: () => MessageStore, private readonly onCount: (count: number) => void) {}

  /** Refreshes soon; a burst of messages makes one refresh. */
  refresh(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.changed.fire(undefined);
      // The tree asks for its children only while it is visible; the status bar counts regardless.
      this.storeOf()
        .list()
        .then(
          (messages) => this.setCount(messages.length),
          () => undefined,
        );
    }, 100);
  }

  getTreeItem(message: StoredMessage): vscode.TreeItem {
    const item = new vscode.TreeItem(messageLabel(message), vscode.TreeItemCollapsibleState.None);
    item.id = message.id;
    item.description = messageDescription(message);
    item.tooltip = new vscode.MarkdownString(messageTooltip(message));
    item.iconPath = new vscode.ThemeIcon(message.envelope?.tls ? 'mail-read' : 'mail');
    item.resourceUri = vscode.Uri.file(message.path);
    item.contextValue = 'smtpInboxMessage';
    item.command = { command: LOCAL_INBOX_COMMANDS.open, title: 'Open Message', arguments: [message] };
    return item;
  }

  async getChildren(parent?: StoredMessage): Promise<StoredMessage[]> {
    if (parent !== undefined) return [];
    const messages = await this.storeOf().list();
    this.setCount(messages.length);
    return messages;
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

function isStoredMessage(value: unknown): value is StoredMessage {
  return typeof value === 'object' && value !== null && typeof (value as StoredMessage).id === 'string' && typeof (value as StoredMessage).path === 'string';
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
    const text = `local server: ${entry.remoteAddress ? `${entry.remoteAddress}: ` : ''}${entry.message}`;
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

  const start = async (): Promise<CaptureServer> => {
    const settings = options.getSettings();
    const auth = parseAuthSetting(settings.auth);
    if (!auth.ok) throw new Error(auth.message);
    const dir = folderOf(settings);
    const common = { host: settings.host, dir, auth: auth.auth, logger: logEntry };
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
    updateViewMessage();
    updateStatus(provider.count);
    provider.refresh();
    return started;
  };

  const ensureServer = async (): Promise<{ host: string; port: number }> => {
    if (server) return { host: server.host, port: server.port };
    // The extension declares that it connects and listens nowhere in an untrusted workspace.
    if (!vscode.workspace.isTrusted) throw new Error('the local capture server needs a trusted workspace');
    starting ??= start().finally(() => {
      starting = undefined;
    });
    const running = await starting;
    return { host: running.host, port: running.port };
  };

  const stop = async (): Promise<void> => {
    if (starting) await starting.catch(() => undefined);
    const running = server;
    server = undefined;
    serverSubscription?.dispose();
    serverSubscription = undefined;
    updateViewMessage();
    updateStatus(0);
    if (running) await running.stop();
  };

  /** The messages a command applies to: the clicked one and the selection, or the selection. */
  const targets = (node?: unknown, nodes?: unknown): StoredMessage[] => {
    if (Array.isArray(nodes) && nodes.every(isStoredMessage) && nodes.length > 0) return nodes;
    if (isStoredMessage(node)) return [node];
    return [...view.selection];
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
    const count = (await store().list()).length;
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
      void stop();
      for (const d of disposables.splice(0)) d.dispose();
    },
  };
  context.subscriptions.push(inbox);
  return inbox;
}
