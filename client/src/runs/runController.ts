/**
 * Runs sessions in the extension host: asks the language server for each session's plan (no
 * second parser here), resolves its variables (environment, .env, SecretStorage, prompts), runs it
 * with the engine, and feeds the transcript panel, the log, the history and the Test Explorer.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, basename } from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
// Requests go by method name (typed through the generics): the client library is a separate bundle
// whose vscode-jsonrpc would not recognise this bundle's RequestType objects.
import { SessionPlanRequest, SessionsRequest, type SessionPlanResult, type SessionsResult, type SessionSummary } from '../../../common/protocol';
import type { SessionPlan, Timeouts, TlsVersionName } from '../../../common/sessionPlan';
import { maskSecrets, resolvePlan } from '../../../common/variables';
import { runSession } from '../engine';
import type { SessionResult, TranscriptEvent } from '../engine/types';
import { dotenvLookup } from './dotenvLookup';
import type { EnvironmentState } from './environmentState';
import { statusOf, type RunRecord } from './runRecord';
import type { SecretProvider } from './secretProvider';

export interface RunHooks {
  /** Called when a session starts and ends, for the Test Explorer. */
  onSessionStart?(index: number): void;
  onSessionEnd?(index: number, result: SessionResult | undefined, error?: string): void;
  onEvent?(index: number, event: TranscriptEvent): void;
  token?: vscode.CancellationToken;
  /** Show the transcript panel (default true). */
  showPanel?: boolean;
}

export interface RunControllerDeps {
  client: LanguageClient;
  log: vscode.LogOutputChannel;
  environments: EnvironmentState;
  secrets: SecretProvider;
  ensureLocalServer(): Promise<{ host: string; port: number }>;
  showRecord(record: RunRecord): void;
  updateRecord(record: RunRecord): void;
  storeRecord(record: RunRecord, secrets: string[]): Promise<void>;
  findRecord(id: string): RunRecord | undefined;
}

const PHASES: Array<[keyof Timeouts, string]> = [
  ['connect', 'connect'],
  ['greeting', 'greeting'],
  ['command', 'command'],
  ['mail', 'mail'],
  ['rcpt', 'rcpt'],
  ['dataInit', 'dataInit'],
  ['dataBlock', 'dataBlock'],
  ['dataTermination', 'dataTermination'],
  ['tls', 'tls'],
];

export class RunController implements vscode.Disposable {
  private readonly running = new Set<vscode.CancellationTokenSource>();
  private last: { uri: string; indexes: number[] } | undefined;

  constructor(private readonly deps: RunControllerDeps) {}

  dispose(): void {
    this.cancelAll();
  }

  get isRunning(): boolean {
    return this.running.size > 0;
  }

  cancelAll(): void {
    for (const source of this.running) source.cancel();
  }

  async sessions(uri: vscode.Uri, text?: string): Promise<SessionSummary[]> {
    const result = await this.deps.client.sendRequest<SessionsResult>(SessionsRequest.method, { uri: uri.toString(), ...(text !== undefined ? { text } : {}) });
    return result.sessions;
  }

  async runAtCursor(editor: vscode.TextEditor | undefined): Promise<RunRecord | undefined> {
    if (!editor || editor.document.languageId !== 'smtp') {
      void vscode.window.showInformationMessage('Open a .smtp script and put the cursor in a session to run it.');
      return undefined;
    }
    const sessions = await this.sessions(editor.document.uri);
    const line = editor.selection.active.line;
    const session = [...sessions].reverse().find((s) => s.line <= line) ?? sessions[0];
    if (!session) {
      void vscode.window.showInformationMessage('This script has no session to run.');
      return undefined;
    }
    return this.run(editor.document.uri, [session.index]);
  }

  async runAll(uri: vscode.Uri | undefined): Promise<RunRecord | undefined> {
    const target = uri ?? vscode.window.activeTextEditor?.document.uri;
    if (!target) return undefined;
    const sessions = await this.sessions(target);
    return this.run(target, sessions.map((s) => s.index));
  }

  async rerunLast(): Promise<RunRecord | undefined> {
    if (!this.last) {
      void vscode.window.showInformationMessage('Nothing has run yet in this window.');
      return undefined;
    }
    return this.run(vscode.Uri.parse(this.last.uri), this.last.indexes);
  }

  async rerunRecord(id: string): Promise<RunRecord | undefined> {
    const record = this.deps.findRecord(id);
    if (!record) {
      void vscode.window.showWarningMessage('That run is no longer in the history.');
      return undefined;
    }
    return this.run(vscode.Uri.parse(record.uri), record.sessionIndexes);
  }

  /** Explains why nothing runs in an untrusted workspace (Workspace Trust), with a way out. */
  private refuseUntrusted(): boolean {
    if (vscode.workspace.isTrusted) return false;
    void vscode.window
      .showWarningMessage(
        'SMTP Workbench does not connect to servers from an untrusted workspace: a script could send mail or credentials anywhere. Trust this workspace to run sessions; linting, hovers and completion work without it.',
        'Manage Workspace Trust',
      )
      .then((choice) => {
        if (choice) void vscode.commands.executeCommand('workbench.trust.manage');
      });
    return true;
  }

  async run(uri: vscode.Uri, indexes: number[], hooks: RunHooks = {}): Promise<RunRecord | undefined> {
    if (this.refuseUntrusted()) return undefined;
    this.last = { uri: uri.toString(), indexes };
    const opened = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    const text = opened ? undefined : await readFile(uri.fsPath, 'utf8').catch(() => undefined);
    const sessions = await this.sessions(uri, text);
    const record: RunRecord = {
      id: randomUUID(),
      startedAt: new Date().toISOString(),
      uri: uri.toString(),
      fileName: basename(uri.fsPath),
      label: indexes.length === 1 ? (sessions[indexes[0]]?.title ?? 'Session') : `${indexes.length} sessions`,
      sessionIndexes: indexes,
      status: 'running',
      sessions: [],
      durationMs: 0,
      environment: this.deps.environments.selected(),
    };
    const started = Date.now();
    const source = new vscode.CancellationTokenSource();
    hooks.token?.onCancellationRequested(() => source.cancel());
    this.running.add(source);
    void vscode.commands.executeCommand('setContext', 'smtp.running', true);
    if (hooks.showPanel !== false) this.deps.showRecord(record);
    const allSecrets: string[] = [];
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `SMTP: running ${record.label}`, cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => source.cancel());
          for (const [n, index] of indexes.entries()) {
            if (source.token.isCancellationRequested) break;
            // The title already names a single session; several get a counter.
            if (indexes.length > 1) progress.report({ message: `${n + 1} of ${indexes.length}: ${sessions[index]?.title ?? `session ${index + 1}`}`, increment: n === 0 ? 0 : 100 / indexes.length });
            hooks.onSessionStart?.(index);
            const outcome = await this.runOne(uri, text, index, record, source.token, hooks);
            allSecrets.push(...outcome.secrets);
            if (outcome.result) record.sessions.push(outcome.result);
            hooks.onSessionEnd?.(index, outcome.result, outcome.error);
            if (outcome.error && !outcome.result) {
              record.error = record.error ? `${record.error}\n${outcome.error}` : outcome.error;
            }
            this.deps.updateRecord(record);
          }
        },
      );
    } finally {
      this.running.delete(source);
      source.dispose();
      void vscode.commands.executeCommand('setContext', 'smtp.running', this.running.size > 0);
    }
    record.durationMs = Date.now() - started;
    record.status = record.error && record.sessions.length === 0 ? 'error' : source.token.isCancellationRequested ? 'cancelled' : record.error ? 'failed' : statusOf(record.sessions);
    this.deps.updateRecord(record);
    await this.deps.storeRecord(record, allSecrets);
    const failed = record.sessions.filter((s) => !s.ok).length;
    this.deps.log.info(`run ${record.label}: ${record.status} in ${record.durationMs} ms (${record.sessions.length - failed} passed, ${failed} failed)`);
    return record;
  }

  private async runOne(
    uri: vscode.Uri,
    text: string | undefined,
    index: number,
    record: RunRecord,
    token: vscode.CancellationToken,
    hooks: RunHooks,
  ): Promise<{ result?: SessionResult; error?: string; secrets: string[] }> {
    const answer = await this.deps.client.sendRequest<SessionPlanResult>(SessionPlanRequest.method, { uri: uri.toString(), index, ...(text !== undefined ? { text } : {}) });
    if (!answer.plan || answer.errors.length > 0) {
      const list = answer.errors.slice(0, 5).map((e) => `line ${e.line + 1}: ${e.message}`).join('; ');
      return { error: `The session has errors and was not run: ${list || 'no plan'}`, secrets: [] };
    }
    const workspaceRoot = vscode.workspace.getWorkspaceFolder(uri)?.uri.fsPath;
    const resolved = await resolvePlan(answer.plan, {
      overrides: this.deps.environments.values(),
      env: (name) => process.env[name],
      dotenv: dotenvLookup(uri.scheme === 'file' ? uri.fsPath : undefined, workspaceRoot),
      secret: (name) => this.deps.secrets.get(name),
      prompt: async (name, masked) => vscode.window.showInputBox({ prompt: `Value for {{$prompt ${name}}}`, password: masked, ignoreFocusOut: true }),
      hostname: 'smtp-workbench.local',
    });
    if (!resolved.ok) {
      return { error: `The session could not be prepared: ${resolved.errors.map((e) => `line ${e.line + 1}: ${e.message}`).join('; ')}`, secrets: [] };
    }
    const plan = this.applyTlsDefaults(resolved.plan);
    const needsLocal = !plan.connect || /^\s*local\s*$/i.test(plan.connect.template);
    let localTarget: { host: string; port: number } | undefined;
    if (needsLocal) {
      try {
        localTarget = await this.deps.ensureLocalServer();
      } catch (error) {
        return { error: `The local capture server could not start: ${(error as Error).message}`, secrets: resolved.secrets };
      }
    }
    const controller = new AbortController();
    const subscription = token.onCancellationRequested(() => controller.abort());
    const title = plan.title;
    this.deps.log.info(`running "${title}" from ${basename(uri.fsPath)}`);
    try {
      const result = await runSession(plan, {
        secrets: resolved.secrets,
        signal: controller.signal,
        timeouts: this.timeouts(plan),
        readFile: (path) => readFile(path),
        scriptDir: uri.scheme === 'file' ? dirname(uri.fsPath) : undefined,
        ...(localTarget ? { localTarget } : {}),
        onEvent: (event) => {
          const line = maskSecrets(event.text, resolved.secrets);
          const marker = { client: ' -> ', server: '<-  ', tls: '=== ', info: '  * ', error: '*** ' }[event.dir];
          if (event.dir === 'error') this.deps.log.error(`${marker}${line}`);
          else this.deps.log.info(`${marker}${line}`);
          hooks.onEvent?.(index, event);
        },
      });
      return { result, secrets: resolved.secrets };
    } catch (error) {
      return { error: `The engine failed: ${maskSecrets((error as Error).message, resolved.secrets)}`, secrets: resolved.secrets };
    } finally {
      subscription.dispose();
    }
  }

  /**
   * The timeouts the user set in settings (not their defaults, which are the engine's own), for
   * the phases the script's `# @timeout` leaves alone: the script's word wins, as the settings say.
   */
  private timeouts(plan: SessionPlan): Partial<Timeouts> {
    const config = vscode.workspace.getConfiguration('smtp.timeouts');
    const out: Partial<Timeouts> = {};
    for (const [key, setting] of PHASES) {
      if (plan.options.timeouts[key] !== undefined) continue;
      const inspected = config.inspect<number>(setting);
      const seconds = inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
      if (typeof seconds === 'number' && seconds > 0) out[key] = seconds * 1000;
    }
    return out;
  }

  /** Applies the TLS defaults from settings where the script sets nothing. */
  private applyTlsDefaults(plan: SessionPlan): SessionPlan {
    const config = vscode.workspace.getConfiguration('smtp.tls');
    const minVersion = config.get<string>('minVersion');
    const ca = config.get<string>('caFile');
    const tls = { ...plan.tls };
    if (!tls.minVersion && minVersion && /^TLSv1(\.[123])?$/.test(minVersion)) tls.minVersion = minVersion as TlsVersionName;
    if (!tls.ca && ca) tls.ca = ca;
    return { ...plan, tls };
  }
}
