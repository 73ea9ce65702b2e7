// The test side of the harness extension's control channel (see harnessExtension/extension.ts):
// it waits for a control-<pid>.json, then sends JSON requests that run in the extension host.
//
// code-server starts one extension host per browser window, and calls that need the window
// (opening an editor, running most commands) hang once the window is gone. So a client belongs to
// one Workbench: it ignores the control files that existed before its page opened.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SuiteReport } from './suite/miniTest';

/** A diagnostic as the harness reports it. */
export interface HarnessDiagnostic {
  path: string;
  line: number;
  severity: 'error' | 'warning' | 'information' | 'hint';
  code: string | null;
  source: string | null;
  message: string;
}

/** A CodeLens as the harness reports it. */
export interface HarnessCodeLens {
  line: number;
  title: string | null;
  command: string | null;
}

/** What `ping` answers. */
export interface HarnessState {
  trusted: boolean;
  uiKind: 'web' | 'desktop';
  remoteName: string | null;
  version: string;
  folders: string[];
  extensions: { id: string; active: boolean }[];
}

/** The control channel into the extension host. */
export interface HarnessClient {
  /** The process id of the extension host the harness runs in. */
  pid: number;
  /** Sends one raw request; rejects with the extension host's error. */
  request<T>(body: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  ping(): Promise<HarnessState>;
  /** Runs a command by id, e.g. executeCommand('smtpWorkbench.inbox.focus'). Pass {$uri: path} for a URI. */
  executeCommand<T = unknown>(command: string, ...args: unknown[]): Promise<T>;
  /** Lists the registered command ids matching a regular expression. */
  commands(filter?: string): Promise<string[]>;
  /** Reports (and with activate=true activates) an extension. */
  extension(id: string, activate?: boolean): Promise<{ installed: boolean; active: boolean; version?: string }>;
  /** Opens a file (relative to the workspace) in an editor. */
  openFile(path: string): Promise<{ path: string; languageId: string }>;
  /** The diagnostics of one file (relative to the workspace), or of all files. */
  diagnostics(path?: string): Promise<HarnessDiagnostic[]>;
  /** The resolved CodeLenses of a file. */
  codeLenses(path: string): Promise<HarnessCodeLens[]>;
  /** Runs the in-editor suite and returns its report (also written to results.json). */
  runSuite(filter?: string): Promise<SuiteReport>;
}

/** The contents of control.json. */
interface ControlFile {
  port: number;
  token: string;
  pid: number;
}

/** Lists the control files in ioDir (one per extension host that ran the harness). */
export function controlFiles(ioDir: string): string[] {
  try {
    return readdirSync(ioDir).filter((name) => /^control-\d+\.json$/.test(name));
  } catch {
    return [];
  }
}

/**
 * Waits for an extension host's harness to publish a control file in ioDir that is not among
 * `ignore` (the files that existed before the window opened), then returns a client for it.
 */
export async function connectHarness(ioDir: string, timeoutMs: number, ignore: ReadonlySet<string> = new Set()): Promise<HarnessClient> {
  const deadline = Date.now() + timeoutMs;
  let controlPath: string | undefined;
  for (;;) {
    const fresh = controlFiles(ioDir)
      .filter((name) => !ignore.has(name))
      .map((name) => join(ioDir, name))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    controlPath = fresh[0];
    if (controlPath !== undefined) break;
    if (Date.now() > deadline) {
      throw new Error(
        `the harness extension did not start within ${timeoutMs / 1000} s (no new control file in ${ioDir}); ` +
          'is the extension host running? See code-server.log and the exthost log in the artifacts',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const control = JSON.parse(readFileSync(controlPath, 'utf8')) as ControlFile;
  const url = `http://127.0.0.1:${control.port}/`;

  const request = async <T>(body: Record<string, unknown>, ms = 60_000): Promise<T> => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-harness-token': control.token },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(ms),
    });
    const answer = (await response.json()) as { result?: T; error?: string };
    if (!response.ok || answer.error !== undefined) {
      throw new Error(`harness ${String(body.op)} failed: ${answer.error ?? `HTTP ${response.status}`}`);
    }
    return answer.result as T;
  };

  return {
    pid: control.pid,
    request,
    ping: () => request<HarnessState>({ op: 'ping' }),
    executeCommand: <T>(command: string, ...args: unknown[]) => request<T>({ op: 'command', command, args }),
    commands: (filter?: string) => request<string[]>({ op: 'commands', filter }),
    extension: (id: string, activate = false) => request({ op: 'extension', id, args: activate ? ['activate'] : [] }),
    openFile: (path: string) => request({ op: 'openFile', path }),
    diagnostics: (path?: string) => request<HarnessDiagnostic[]>({ op: 'diagnostics', path }),
    codeLenses: (path: string) => request<HarnessCodeLens[]>({ op: 'codeLenses', path }),
    runSuite: (filter?: string) => request<SuiteReport>({ op: 'suite', filter }, 300_000),
  };
}
