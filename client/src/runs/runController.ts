/**
 * Runs sessions in the extension host: asks the language server for each session's plan (no
 * second parser here), resolves its variables (environment, .env, SecretStorage, prompts), runs it
 * with the engine, and feeds the transcript panel, the log, the history and the Test Explorer.
 *
 * Everything a run must ask (missing secrets, `$prompt` values) is asked before the first session
 * starts, one input at a time that stays open until answered (never a notification that can slip
 * into the notification centre). A session that fails anyway (script errors, an undefined
 * variable) is not asked for anything. The panel sees each event as it happens (`record.current`),
 * and Cancel ends the session politely: the engine sends QUIT where the protocol state allows it.
 *
 * Every run, also one started from a CodeLens or the command palette, is offered to the run
 * observers (the Test Explorer registers one), so its result shows there too.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, basename } from 'node:path';
import * as vscode from 'vscode';
// Requests go by method name (typed through the generics): the client library is a separate bundle
// whose vscode-jsonrpc would not recognise this bundle's RequestType objects.
import { SessionPlanRequest, SessionsRequest, type SessionPlanResult, type SessionsResult, type SessionSummary } from '../../../common/protocol';
import type { SessionPlan, Timeouts, TlsVersionName } from '../../../common/sessionPlan';
import { visibleLine } from '../../../common/escape';
import { runSession } from '../engine';
import { Masker, maskEvent } from '../engine/mask';
import type { SentMessage, ServerNotes, SessionResult, StepResult, TranscriptEvent } from '../engine/types';
import { formatEventLines, formatVerdict } from '../output/transcriptText';
import { dotenvLookup } from './dotenvLookup';
import { namedFileProblem } from './namedFileAccess';
import type { EnvironmentState } from './environmentState';
import { prepareSession, type BlockedSession, type PreparationContext, type PreparedSession, type SessionSource } from './runPreparation';
import { statusOf, type LiveSession, type RunRecord } from './runRecord';
import type { SecretProvider } from './secretProvider';

export interface RunHooks {
  /** Called when a session starts and ends, for the Test Explorer. */
  onSessionStart?(index: number): void;
  onSessionEnd?(index: number, result: SessionResult | undefined, error?: string): void;
  onEvent?(index: number, event: TranscriptEvent): void;
  /** Called once when the run has ended (after the last session). */
  onRunEnd?(record: RunRecord): void;
  token?: vscode.CancellationToken;
  /** Show the transcript panel (default true). */
  showPanel?: boolean;
  /** True for runs the Test Explorer started itself: observers leave them alone. */
  fromTestExplorer?: boolean;
}

/** Gives a run started elsewhere (CodeLens, command) to an observer such as the Test Explorer. */
export type RunObserver = (uri: vscode.Uri, indexes: readonly number[], token: vscode.CancellationToken) => Promise<RunHooks | undefined>;

/** The part of the language client the controller uses (a real client, or a test's connection). */
export interface PlanSource {
  sendRequest<R>(method: string, params: unknown): Promise<R>;
}

export interface RunControllerDeps {
  /** The language client (or, in tests, a connection to the real language server). */
  client: PlanSource;
  log: vscode.LogOutputChannel;
  environments: EnvironmentState;
  secrets: SecretProvider;
  /** Starts the Local Inbox's server unless it runs; `notes` tells a run which rules answered it. */
  ensureLocalServer(): Promise<{ host: string; port: number; notes?: ServerNotes }>;
  showRecord(record: RunRecord): void;
  updateRecord(record: RunRecord): void;
  storeRecord(record: RunRecord, secrets: string[]): Promise<void>;
  findRecord(id: string): RunRecord | undefined;
  /** The process environment for `{{$env NAME}}` (default: the extension host's). */
  env?: (name: string) => string | undefined;
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

/** A value the run must ask the user for. */
interface Question {
  kind: 'secret' | 'prompt';
  name: string;
  masked: boolean;
}

/**
 * The messages one finished run sent, per session, for "Check Bulk-Sender Requirements" (the
 * engine reports each through `RunOptions.onMessage`). They are kept in memory only, for the last
 * few runs of this window, and never stored: a message may hold a secret the script put in it.
 */
export interface RunSentMessages {
  recordId: string;
  label: string;
  fileName: string;
  sessions: Array<{ title: string; sent: SentMessage[]; secrets: string[]; truncated: boolean }>;
}

/**
 * How many runs keep their messages, and how many messages and bytes a run keeps (a load test sends
 * thousands, a size test a few large ones): the first ones, the rest are counted as left out.
 */
export const SENT_RUNS_KEPT = 5;
export const SENT_MESSAGES_KEPT = 100;
export const SENT_BYTES_KEPT = 32 * 1024 * 1024;

/** Stands for a value still to be asked in the first resolution pass; never sent anywhere. */
const TO_ASK = '\u0000smtpwb-to-ask\u0000';

export class RunController implements vscode.Disposable {
  private readonly running = new Map<string, vscode.CancellationTokenSource>();
  private readonly observers = new Set<RunObserver>();
  private last: { uri: string; indexes: number[] } | undefined;
  /** The messages of the last runs that sent any, newest last (SENT_RUNS_KEPT at most). */
  private readonly sentRuns: RunSentMessages[] = [];

  constructor(private readonly deps: RunControllerDeps) {}

  dispose(): void {
    this.cancelAll();
  }

  get isRunning(): boolean {
    return this.running.size > 0;
  }

  cancelAll(): void {
    for (const source of this.running.values()) source.cancel();
  }

  /** Cancels the run with this record id (the transcript panel's Cancel); false when it is not running. */
  cancel(recordId: string): boolean {
    const source = this.running.get(recordId);
    source?.cancel();
    return source !== undefined;
  }

  /**
   * The messages a run sent: the run with this record id, or without one the last run that sent
   * any. Undefined when that run is not among the last SENT_RUNS_KEPT (or sent nothing).
   */
  sentMessages(recordId?: string): RunSentMessages | undefined {
    if (recordId === undefined) return this.sentRuns[this.sentRuns.length - 1];
    return this.sentRuns.find((r) => r.recordId === recordId);
  }

  /** Registers an observer that is offered every run not started by the Test Explorer itself. */
  observe(observer: RunObserver): vscode.Disposable {
    this.observers.add(observer);
    return { dispose: () => void this.observers.delete(observer) };
  }

  /** The script's text for the language server when the editor has not opened it (else undefined: the server has it). */
  async scriptText(uri: vscode.Uri): Promise<string | undefined> {
    const opened = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    return opened ? undefined : readFile(uri.fsPath, 'utf8').catch(() => undefined);
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

  async run(uri: vscode.Uri, indexes: number[], given: RunHooks = {}): Promise<RunRecord | undefined> {
    if (this.refuseUntrusted()) return undefined;
    this.last = { uri: uri.toString(), indexes };
    const text = await this.scriptText(uri);
    const sessions = await this.sessions(uri, text);
    const record: RunRecord = {
      id: randomUUID(),
      startedAt: new Date().toISOString(),
      uri: uri.toString(),
      fileName: basename(uri.fsPath),
      label: indexes.length === 1 ? (sessions.find((s) => s.index === indexes[0])?.title ?? 'Session') : `${indexes.length} sessions`,
      sessionIndexes: indexes,
      status: 'running',
      sessions: [],
      durationMs: 0,
      environment: this.deps.environments.selected(),
    };
    const started = Date.now();
    const source = new vscode.CancellationTokenSource();
    given.token?.onCancellationRequested(() => source.cancel());
    this.running.set(record.id, source);
    const hooks = given.fromTestExplorer ? given : await this.observed(uri, indexes, given, source.token);
    void vscode.commands.executeCommand('setContext', 'smtp.running', true);
    if (hooks.showPanel !== false) this.deps.showRecord(record);
    const allSecrets: string[] = [];
    const sent: RunSentMessages = { recordId: record.id, label: record.label, fileName: record.fileName, sessions: [] };
    const budget = { messages: SENT_MESSAGES_KEPT, bytes: SENT_BYTES_KEPT };
    let cancelled = false;
    try {
      // Everything the run must ask is asked now, before the first session connects anywhere.
      const prepared = await this.prepare(uri, indexes, { text, token: source.token });
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `SMTP: running ${record.label}`, cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => source.cancel());
          for (const [n, index] of indexes.entries()) {
            if (source.token.isCancellationRequested) break;
            // The title already names a single session; several get a counter.
            const title = sessions.find((s) => s.index === index)?.title ?? `session ${index + 1}`;
            if (indexes.length > 1) progress.report({ message: `${n + 1} of ${indexes.length}: ${title}`, increment: n === 0 ? 0 : 100 / indexes.length });
            hooks.onSessionStart?.(index);
            const outcome = await this.runOne(uri, prepared[n], record, source.token, hooks, budget);
            allSecrets.push(...outcome.secrets);
            delete record.current;
            if (outcome.result) record.sessions.push(outcome.result);
            if (outcome.result && (outcome.sent.length > 0 || outcome.truncated)) {
              sent.sessions.push({ title: outcome.result.title, sent: outcome.sent, secrets: outcome.secrets, truncated: outcome.truncated });
            }
            hooks.onSessionEnd?.(index, outcome.result, outcome.error);
            if (outcome.error && !outcome.result) {
              record.error = record.error ? `${record.error}\n${outcome.error}` : outcome.error;
              this.deps.log.warn(visibleLine(outcome.error));
            }
            this.deps.updateRecord(record);
          }
        },
      );
    } catch (error) {
      // The language server went away or a request failed: the run ends with the reason, never hangs.
      record.error = `The run could not be prepared: ${(error as Error).message}`;
    } finally {
      cancelled = source.token.isCancellationRequested;
      this.running.delete(record.id);
      source.dispose();
      void vscode.commands.executeCommand('setContext', 'smtp.running', this.running.size > 0);
    }
    delete record.current;
    record.durationMs = Date.now() - started;
    if (sent.sessions.length > 0) {
      this.sentRuns.push(sent);
      this.sentRuns.splice(0, Math.max(0, this.sentRuns.length - SENT_RUNS_KEPT));
    }
    record.status = record.error && record.sessions.length === 0 ? 'error' : cancelled ? 'cancelled' : record.error ? 'failed' : statusOf(record.sessions);
    this.deps.updateRecord(record);
    await this.deps.storeRecord(record, allSecrets);
    const failed = record.sessions.filter((s) => !s.ok).length;
    // Titles come from the script: shown, never interpreted, like everything in the log.
    this.deps.log.info(visibleLine(`run ${record.label}: ${record.status} in ${record.durationMs} ms (${record.sessions.length - failed} passed, ${failed} failed)`));
    hooks.onRunEnd?.(record);
    return record;
  }

  /** Lets the observers (the Test Explorer) follow a run they did not start, alongside the caller's hooks. */
  private async observed(uri: vscode.Uri, indexes: number[], given: RunHooks, token: vscode.CancellationToken): Promise<RunHooks> {
    const all: RunHooks[] = [given];
    for (const observer of this.observers) {
      try {
        const hooks = await observer(uri, indexes, token);
        if (hooks) all.push(hooks);
      } catch (error) {
        this.deps.log.warn(visibleLine(`a run observer failed: ${(error as Error).message}`));
      }
    }
    if (all.length === 1) return given;
    return {
      ...given,
      onSessionStart: (index) => all.forEach((h) => h.onSessionStart?.(index)),
      onSessionEnd: (index, result, error) => all.forEach((h) => h.onSessionEnd?.(index, result, error)),
      onEvent: (index, event) => all.forEach((h) => h.onEvent?.(index, event)),
      onRunEnd: (record) => all.forEach((h) => h.onRunEnd?.(record)),
    };
  }

  /**
   * Prepares every session of the run before any of them runs, with the one run preparation that
   * `smtpwb run` uses (runPreparation.ts): the language service judges each session alone, then its
   * variables resolve. It runs twice. The first time nothing is asked: an unknown secret or prompt
   * is a placeholder, noted as a question, and a session blocked there is final and asked nothing.
   * The questions of the others are asked once each, in order; the second time resolves with the
   * answers (a dismissed one blocks its sessions, saying what to set). `run` calls it; tests call it
   * to compare the editor's decisions with the CLI's (`smtpwb run --dry-run`).
   */
  async prepare(uri: vscode.Uri, indexes: readonly number[], options: { text?: string; token?: vscode.CancellationToken } = {}): Promise<PreparedSession[]> {
    const token = options.token;
    const text = 'text' in options ? options.text : await this.scriptText(uri);
    const summaries = await this.sessions(uri, text);
    const sources: SessionSource[] = [];
    for (const index of indexes) {
      const answer = await this.deps.client.sendRequest<SessionPlanResult>(SessionPlanRequest.method, { uri: uri.toString(), index, ...(text !== undefined ? { text } : {}) });
      const summary = summaries.find((s) => s.index === index);
      sources.push({
        index,
        title: answer.plan?.title ?? summary?.title ?? `session ${index + 1}`,
        ...(summary?.name !== undefined ? { name: summary.name } : {}),
        ...(answer.plan ? { plan: answer.plan } : {}),
        errors: answer.errors,
      });
    }
    const workspaceRoot = vscode.workspace.getWorkspaceFolder(uri)?.uri.fsPath;
    const base: PreparationContext = {
      overrides: this.deps.environments.values(),
      env: this.deps.env ?? ((name) => process.env[name]),
      dotenv: dotenvLookup(uri.scheme === 'file' ? uri.fsPath : undefined, workspaceRoot),
      hostname: 'smtp-workbench.local',
      timeouts: { perPhase: this.timeoutSettings() },
      // Checked for every session before any is sent; resolved as runOne's scriptDir is.
      fileProblem: namedFileProblem(uri.scheme === 'file' ? dirname(uri.fsPath) : undefined),
    };

    // First time: nothing is asked; what would be asked is noted.
    const questions: Question[] = [];
    const note = (q: Question) => {
      if (!questions.some((x) => x.kind === q.kind && x.name === q.name)) questions.push(q);
    };
    const first: PreparedSession[] = [];
    for (const source of sources) {
      const noted: Question[] = [];
      const dry = await prepareSession(source, {
        ...base,
        secret: async (name) => {
          const known = await this.deps.secrets.known(name);
          if (known !== undefined) return known;
          noted.push({ kind: 'secret', name, masked: true });
          return TO_ASK;
        },
        prompt: (name, masked) => {
          noted.push({ kind: 'prompt', name, masked });
          return TO_ASK;
        },
      });
      first.push(dry);
      // Asked in the order the script uses them (the preparation looks secrets up before prompts).
      const text = JSON.stringify(source.plan ?? '');
      const at = (q: Question) => text.indexOf(`$${q.kind} ${q.name}`);
      if (dry.status === 'ready') noted.sort((a, b) => at(a) - at(b)).forEach(note);
    }

    // The questions, once each, before anything connects.
    const answers = new Map<string, string | undefined>();
    for (const q of questions) {
      if (token?.isCancellationRequested) break;
      answers.set(`${q.kind}:${q.name}`, q.kind === 'secret' ? await this.deps.secrets.ask(q.name) : await askPrompt(q.name, q.masked));
    }

    // Second time, with the answers; a session blocked the first time stays as it was.
    const out: PreparedSession[] = [];
    for (const [n, source] of sources.entries()) {
      if (first[n].status === 'blocked') {
        out.push(first[n]);
        continue;
      }
      out.push(
        await prepareSession(source, {
          ...base,
          secret: async (name) => (await this.deps.secrets.known(name)) ?? answers.get(`secret:${name}`),
          prompt: (name) => answers.get(`prompt:${name}`),
        }),
      );
    }
    return out;
  }

  private async runOne(
    uri: vscode.Uri,
    prepared: PreparedSession,
    record: RunRecord,
    token: vscode.CancellationToken,
    hooks: RunHooks,
    budget: { messages: number; bytes: number },
  ): Promise<{ result?: SessionResult; error?: string; secrets: string[]; sent: SentMessage[]; truncated: boolean }> {
    const index = prepared.index;
    const sent: SentMessage[] = [];
    let truncated = false;
    if (prepared.status === 'blocked') return { error: blockedMessage(prepared), secrets: [], sent, truncated };
    const plan = this.applyTlsDefaults(prepared.plan);
    let localTarget: { host: string; port: number } | undefined;
    let serverNotes: ServerNotes | undefined;
    if (prepared.needsLocal) {
      try {
        const local = await this.deps.ensureLocalServer();
        localTarget = { host: local.host, port: local.port };
        serverNotes = local.notes;
      } catch (error) {
        return { error: `The local capture server could not start: ${(error as Error).message}`, secrets: prepared.secrets, sent, truncated };
      }
    }
    const controller = new AbortController();
    const subscription = token.onCancellationRequested(() => controller.abort());
    if (token.isCancellationRequested) controller.abort();
    const live: LiveSession = { index, title: plan.title, line: plan.line, events: [] };
    record.current = live;
    this.deps.updateRecord(record);
    const masker = new Masker(prepared.secrets);
    // The title is a structured field (never masked), escaped because it is script text.
    this.deps.log.info(`running "${visibleLine(plan.title)}" from ${visibleLine(basename(uri.fsPath))}`);
    try {
      const result = await runSession(plan, {
        secrets: prepared.secrets,
        signal: controller.signal,
        timeouts: prepared.timeouts,
        readFile: (path) => readFile(path),
        scriptDir: uri.scheme === 'file' ? dirname(uri.fsPath) : undefined,
        ...(localTarget ? { localTarget } : {}),
        // The Local Inbox's server says which behaviour rule answered, beside the reply.
        ...(serverNotes ? { serverNotes } : {}),
        // Each message sent, for the bulk-sender check of the run (kept in memory, never stored).
        onMessage: (message) => {
          if (budget.messages > 0 && budget.bytes >= message.message.length) {
            sent.push(message);
            budget.messages -= 1;
            budget.bytes -= message.message.length;
          } else truncated = true;
        },
        onEvent: (raw) => {
          // Masked where secret bytes can appear, by direction (a secret never sent does not mask a reply).
          const event = maskEvent(raw, masker);
          live.events.push(event);
          for (const line of formatEventLines(event)) {
            if (event.dir === 'error') this.deps.log.error(line);
            else this.deps.log.info(line);
          }
          hooks.onEvent?.(index, event);
          record.durationMs = Date.now() - Date.parse(record.startedAt);
          this.deps.updateRecord(record);
        },
      });
      for (const line of formatVerdict(result).replace(/\n$/, '').split('\n')) {
        if (result.ok) this.deps.log.info(line);
        else this.deps.log.warn(line);
      }
      return { result, secrets: prepared.secrets, sent, truncated };
    } catch (error) {
      return { error: `The engine failed: ${masker.mask((error as Error).message, 'note')}`, secrets: prepared.secrets, sent, truncated };
    } finally {
      subscription.dispose();
    }
  }

  /**
   * The timeouts the user set in settings (not their defaults, which are the engine's own); the
   * run preparation lets the script's `# @timeout` win over them, as the settings say.
   */
  private timeoutSettings(): Partial<Timeouts> {
    const config = vscode.workspace.getConfiguration('smtp.timeouts');
    const out: Partial<Timeouts> = {};
    for (const [key, setting] of PHASES) {
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

/** Asks a `{{$prompt NAME}}` value in an input that stays open until answered or dismissed. */
async function askPrompt(name: string, masked: boolean): Promise<string | undefined> {
  return vscode.window.showInputBox({
    title: `SMTP: value for {{$prompt ${name}}}`,
    prompt: masked ? 'The value is masked in transcripts, the log and the history.' : 'Asked once for this run.',
    password: masked,
    ignoreFocusOut: true,
  });
}

/** Why a session was not run, with what to set when a value is missing. */
function blockedMessage(blocked: BlockedSession): string {
  const list = blocked.problems.slice(0, 5).map((p) => `line ${p.line + 1}: ${p.message}`).join('; ');
  if (blocked.reason === 'script') return `The session has errors and was not run: ${list}`;
  const prompts = blocked.missingPrompts.map((name) => `no value was given for {{$prompt ${name}}}: run again and answer, or define "${name}" in the selected environment`);
  return `The session was not run: ${[list, ...prompts].filter((x) => x !== '').join('; ')}`;
}
