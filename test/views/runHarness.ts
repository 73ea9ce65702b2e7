// The extension's run path for tests: a RunController wired as extension.ts wires it, with the fake
// `vscode` module, a real language server connection (test/support/lspClient.ts) for sessions and
// plans, the real EnvironmentState and SecretProvider, and recorders for what the panel and the
// history are given. Import './fakeVscode' before this file.
import { fakeContext, window, type FakeLog } from './fakeVscode';
import type * as vscode from 'vscode';
import { RunController, type RunControllerDeps } from '../../client/src/runs/runController';
import { EnvironmentState } from '../../client/src/runs/environmentState';
import { SecretProvider } from '../../client/src/runs/secretProvider';
import type { RunRecord } from '../../client/src/runs/runRecord';
import type { LspClient } from '../support/lspClient';

export interface RunHarness {
  runs: RunController;
  context: ReturnType<typeof fakeContext>;
  log: FakeLog;
  secrets: SecretProvider;
  /** Every state the panel was given, as it was at that moment. */
  updates: RunRecord[];
  stored: Array<{ record: RunRecord; secrets: string[] }>;
}

/**
 * `env` answers `{{$env NAME}}` (the extension host's environment stays out of tests); `local` is
 * what the Local Inbox's `ensureServer` gives sessions without CONNECT (by default, none).
 */
export function runHarness(
  lsp: LspClient,
  env: Record<string, string> = { SMTPWB_TEST_SET: 'set-value' },
  local?: () => Promise<Awaited<ReturnType<RunControllerDeps['ensureLocalServer']>>>,
): RunHarness {
  const context = fakeContext();
  const log = window.createOutputChannel('SMTP Workbench');
  const updates: RunRecord[] = [];
  const stored: RunHarness['stored'] = [];
  const snapshot = (r: RunRecord) => updates.push(JSON.parse(JSON.stringify(r)) as RunRecord);
  const secrets = new SecretProvider(context as unknown as vscode.ExtensionContext);
  const deps: RunControllerDeps = {
    client: { sendRequest: <R>(method: string, params: unknown) => lsp.connection.sendRequest(method, params) as Promise<R> },
    log: log as unknown as vscode.LogOutputChannel,
    environments: new EnvironmentState(context as unknown as vscode.ExtensionContext),
    secrets,
    ensureLocalServer: async () => {
      if (local) return local();
      throw new Error('these scripts name their server');
    },
    showRecord: snapshot,
    updateRecord: snapshot,
    storeRecord: async (record, values) => {
      stored.push({ record: JSON.parse(JSON.stringify(record)) as RunRecord, secrets: values });
    },
    findRecord: () => undefined,
    env: (name) => env[name],
  };
  return { runs: new RunController(deps), context, log, secrets, updates, stored };
}
