/**
 * Activation and wiring only: each feature lives in its own module and registers itself here.
 */
import { appendFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { HistoryStore } from './history/historyStore';
import { sendSettings, startLanguageClient } from './languageClient';
import { EnvironmentState } from './runs/environmentState';
import { RunController } from './runs/runController';
import { SecretProvider } from './runs/secretProvider';
import { registerSessionTests } from './testing/sessionTests';
import { registerEmlCommands } from './views/emlCommands';
import { registerEmlPreview } from './views/emlPreview';
import { historySizeSetting, registerHistoryView } from './views/historyView';
import { registerLocalInbox } from './views/localInbox';
import { registerMailDns } from './views/mailDnsView';
import { registerReportFetch } from './views/reportFetch';
import { registerReportView } from './views/reportView';
import { registerRunBulkCheck } from './views/runBulkCheck';
import { SessionCodeLensProvider } from './views/sessionCodeLens';
import { TranscriptPanels, registerTranscriptSerializer } from './views/transcriptPanel';

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const activateStart = performance.now();
  // Per-phase times for bench/activation (cheap enough to keep always).
  const phases: Record<string, number> = {};
  let phaseStart = activateStart;
  const phase = (name: string) => {
    const now = performance.now();
    phases[name] = Math.round((now - phaseStart) * 10) / 10;
    phaseStart = now;
  };
  const log = vscode.window.createOutputChannel('SMTP Workbench', { log: true });
  context.subscriptions.push(log);

  const environments = new EnvironmentState(context);
  context.subscriptions.push(environments);
  const serverStart = performance.now();
  const client = await startLanguageClient(context, () => ({ externalVariables: environments.names(), environment: environments.values() }));
  const serverMs = performance.now() - serverStart;
  phase('environment+languageServer');


  const state = context.workspaceState;
  const history = new HistoryStore({ get: (key) => state.get(key), update: async (key, value) => state.update(key, value) }, { size: historySizeSetting });
  const panels = new TranscriptPanels(context, history);
  registerTranscriptSerializer(context, panels);
  phase('history+panels');
  const secrets = new SecretProvider(context);
  const inbox = registerLocalInbox(context, {
    log,
    getSettings: () => {
      const config = vscode.workspace.getConfiguration('smtp.localServer');
      return {
        host: config.get<string>('host') ?? '127.0.0.1',
        port: config.get<number>('port') ?? 2525,
        dir: config.get<string>('folder') || undefined,
        auth: config.get<string>('auth') || undefined,
        rules: config.get<string>('rules') || undefined,
        verify: config.get<boolean>('verify') ?? true,
        dnsServer: vscode.workspace.getConfiguration('smtp').get<string>('dns.server') || undefined,
      };
    },
  });

  const runs = new RunController({
    client,
    log,
    environments,
    secrets,
    ensureLocalServer: () => inbox.ensureServer(),
    showRecord: (record) => panels.show(record),
    updateRecord: (record) => panels.update(record),
    storeRecord: async (record, secretValues) => {
      const stored = await history.add(record, secretValues);
      panels.update(stored);
    },
    findRecord: (id) => history.get(id),
  });
  context.subscriptions.push(runs);
  registerRunBulkCheck(context, runs, log);
  registerHistoryView(context, history, panels);
  phase('inbox+runs+historyView');

  const lenses = new SessionCodeLensProvider(runs);
  context.subscriptions.push(vscode.languages.registerCodeLensProvider({ language: 'smtp' }, lenses));
  const tests = registerSessionTests(context, runs);
  // A new environment changes which variables are defined: diagnostics, CodeLenses and test items follow.
  context.subscriptions.push(
    environments.onDidChange(() => {
      sendSettings(client, { externalVariables: environments.names(), environment: environments.values() });
      lenses.refresh();
      void tests.refresh();
    }),
  );
  phase('codeLens+tests');

  const command = (id: string, handler: (...args: never[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, handler));
  command('smtp.runSession', (uri?: vscode.Uri, index?: number) =>
    uri && typeof index === 'number' ? runs.run(uri, [index]) : runs.runAtCursor(vscode.window.activeTextEditor),
  );
  command('smtp.runSessionAtCursor', () => runs.runAtCursor(vscode.window.activeTextEditor));
  command('smtp.runAllSessions', (uri?: vscode.Uri) => runs.runAll(uri));
  command('smtp.rerunLast', () => runs.rerunLast());
  command('smtp.rerunRecord', (id?: string) => (id ? runs.rerunRecord(id) : undefined));
  // With a record id (the transcript's Cancel button) only that run; without, every run.
  command('smtp.cancelRun', (id?: string) => (typeof id === 'string' ? runs.cancel(id) : runs.cancelAll()));
  command('smtp.selectEnvironment', () => environments.pick());
  command('smtp.setSecret', () => secrets.setInteractive());
  command('smtp.deleteSecret', () => secrets.deleteInteractive());
  command('smtp.showLog', () => log.show());
  command('smtp.walkthrough.openExample', async () => {
    const document = await vscode.workspace.openTextDocument({ language: 'smtp', content: WALKTHROUGH_EXAMPLE });
    const editor = await vscode.window.showTextDocument(document);
    editor.selection = new vscode.Selection(3, 0, 3, 0);
  });

  phase('commands');
  registerMailDns(context, { log });
  registerReportFetch(context, registerReportView(context));
  phase('mailDns');
  context.subscriptions.push(...registerEmlPreview(), ...registerEmlCommands(context, { localTarget: () => inbox.ensureServer() }));
  phase('eml');
  traceActivation(activateStart, serverMs, phases);
}

/**
 * For bench/activation: with SMTPWB_ACTIVATION_TRACE set, appends the times from the bundle's
 * first statement to the end of activate, the language server's start excluded.
 */
function traceActivation(activateStart: number, serverMs: number, phases: Record<string, number>): void {
  const file = process.env.SMTPWB_ACTIVATION_TRACE;
  if (!file) return;
  const marks = globalThis as { __smtpwbLoadStart?: number; __smtpwbLoadEnd?: number };
  const loadStart = marks.__smtpwbLoadStart ?? activateStart;
  const loadEnd = marks.__smtpwbLoadEnd ?? activateStart;
  const end = performance.now();
  const entry = {
    evaluateMs: loadEnd - loadStart,
    hostGapMs: activateStart - loadEnd,
    activateMs: end - activateStart - serverMs,
    serverStartMs: serverMs,
    phases,
    totalMs: end - loadStart - serverMs,
  };
  try {
    appendFileSync(file, `${JSON.stringify(entry)}\n`);
  } catch {
    // The trace is for benchmarks only; failing to write it must not break activation.
  }
}

/** The walkthrough's first script: no CONNECT, so it goes to the local capture server. */
const WALKTHROUGH_EXAMPLE = `# Sessions without CONNECT go to the embedded local capture server.

### Hello, local inbox
EHLO client.example.test
MAIL FROM:<alice@example.test>
RCPT TO:<bob@example.test>
DATA
From: Alice <alice@example.test>
To: Bob <bob@example.test>
Subject: Hello from SMTP Workbench
Date: {{$date}}
Message-ID: {{$messageId}}

Hi Bob! This message was captured by the local server.
.
EXPECT 250
QUIT
`;

export function deactivate(): void {
  // Everything is disposed through the context's subscriptions.
}
