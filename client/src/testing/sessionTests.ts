/**
 * Sessions as tests: every session of the workspace's `.smtp` files appears in the Test Explorer,
 * kept current as files change; a run reports each session's result, with the failing step's
 * message (expected versus actual reply) at its line in the script. Runs started elsewhere (the
 * CodeLens, the command palette, the transcript's Rerun) show their results here too.
 *
 * Test output is the transcript as `smtpwb run` prints it (one formatter, control characters made
 * visible), with CRLF line ends, which the Test Results terminal needs.
 */
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { SessionResult } from '../engine/types';
import type { RunController, RunHooks } from '../runs/runController';
import { visibleText } from '../../../common/escape';
import { formatEventForTestOutput, formatForTestOutput, formatVerdict } from '../output/transcriptText';

export function registerSessionTests(context: vscode.ExtensionContext, runs: RunController): { controller: vscode.TestController; refresh(): Promise<void> } {
  const controller = vscode.tests.createTestController('smtpSessions', 'SMTP Sessions');
  context.subscriptions.push(controller);

  const fileItem = (uri: vscode.Uri): vscode.TestItem => {
    const id = uri.toString();
    let item = controller.items.get(id);
    if (!item) {
      item = controller.createTestItem(id, vscode.workspace.asRelativePath(uri), uri);
      item.canResolveChildren = true;
      controller.items.add(item);
    }
    return item;
  };

  const refreshFile = async (uri: vscode.Uri): Promise<void> => {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    let text: string | undefined;
    if (!open) {
      try {
        text = await readFile(uri.fsPath, 'utf8');
      } catch {
        controller.items.delete(uri.toString());
        return;
      }
    }
    const sessions = await runs.sessions(uri, text);
    const parent = fileItem(uri);
    const children: vscode.TestItem[] = sessions.map((s) => {
      const child = controller.createTestItem(`${uri.toString()}#${s.index}`, s.title, uri);
      child.range = new vscode.Range(s.line, 0, s.endLine, 0);
      child.description = s.name ? `@name ${s.name}` : s.hasExpectations ? 'with expectations' : undefined;
      if (s.errors > 0) child.error = `${s.errors} error${s.errors === 1 ? '' : 's'} in the script`;
      return child;
    });
    parent.children.replace(children);
  };

  const discover = async (): Promise<void> => {
    const files = await vscode.workspace.findFiles('**/*.smtp', '**/node_modules/**', 2000);
    await Promise.all(files.map((uri) => refreshFile(uri).catch(() => undefined)));
  };

  controller.resolveHandler = async (item) => {
    if (!item) await discover();
    else if (item.uri) await refreshFile(item.uri);
  };
  controller.refreshHandler = async () => {
    controller.items.replace([]);
    await discover();
  };

  const watcher = vscode.workspace.createFileSystemWatcher('**/*.smtp');
  const timers = new Map<string, NodeJS.Timeout>();
  const later = (uri: vscode.Uri) => {
    const key = uri.toString();
    clearTimeout(timers.get(key));
    timers.set(key, setTimeout(() => void refreshFile(uri).catch(() => undefined), 300));
  };
  context.subscriptions.push(
    watcher,
    watcher.onDidCreate(later),
    watcher.onDidChange(later),
    watcher.onDidDelete((uri) => controller.items.delete(uri.toString())),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document.languageId === 'smtp') later(e.document.uri);
    }),
    vscode.workspace.onDidOpenTextDocument((d) => {
      if (d.languageId === 'smtp') later(d.uri);
    }),
    // An untitled script has no file to come back from: its tests go when it closes.
    vscode.workspace.onDidCloseTextDocument((d) => {
      if (d.uri.scheme !== 'file') controller.items.delete(d.uri.toString());
    }),
  );

  const runHandler = async (request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<void> => {
    const run = controller.createTestRun(request);
    const queue: Array<{ uri: vscode.Uri; items: Map<number, vscode.TestItem> }> = [];
    const add = (item: vscode.TestItem) => {
      if (request.exclude?.includes(item)) return;
      if (item.children.size > 0) {
        item.children.forEach(add);
        return;
      }
      const hash = item.id.lastIndexOf('#');
      if (hash < 0 || !item.uri) return;
      let entry = queue.find((q) => q.uri.toString() === item.uri!.toString());
      if (!entry) queue.push((entry = { uri: item.uri, items: new Map() }));
      entry.items.set(Number(item.id.slice(hash + 1)), item);
    };
    if (request.include) request.include.forEach(add);
    else {
      await discover();
      controller.items.forEach(add);
    }
    for (const entry of queue) for (const item of entry.items.values()) run.enqueued(item);
    for (const entry of queue) {
      if (token.isCancellationRequested) break;
      await runs.run(entry.uri, [...entry.items.keys()].sort((a, b) => a - b), {
        token,
        showPanel: false,
        fromTestExplorer: true,
        ...reporter(run, entry.uri, entry.items),
      });
    }
    run.end();
  };
  controller.createRunProfile('Run', vscode.TestRunProfileKind.Run, runHandler, true);

  // A run started from a CodeLens (or any command) becomes a test run of the sessions it runs.
  context.subscriptions.push(
    runs.observe(async (uri, indexes) => {
      await refreshFile(uri).catch(() => undefined);
      const parent = controller.items.get(uri.toString());
      if (!parent) return undefined;
      const items = new Map<number, vscode.TestItem>();
      for (const index of indexes) {
        const item = parent.children.get(`${uri.toString()}#${index}`);
        if (item) items.set(index, item);
      }
      if (items.size === 0) return undefined;
      const run = controller.createTestRun(new vscode.TestRunRequest([...items.values()]), undefined, true);
      for (const item of items.values()) run.enqueued(item);
      return { ...reporter(run, uri, items), onRunEnd: () => run.end() };
    }),
  );
  // Discovery starts when the Test Explorer asks (resolveHandler), not during activation.
  const refresh = async (): Promise<void> => {
    const known: vscode.Uri[] = [];
    controller.items.forEach((item) => {
      if (item.uri) known.push(item.uri);
    });
    await Promise.all(known.map((uri) => refreshFile(uri).catch(() => undefined)));
  };
  return { controller, refresh };
}

/** The hooks that report a run's sessions to a test run. */
function reporter(run: vscode.TestRun, uri: vscode.Uri, items: ReadonlyMap<number, vscode.TestItem>): Pick<RunHooks, 'onSessionStart' | 'onEvent' | 'onSessionEnd'> {
  return {
    onSessionStart: (index) => {
      const item = items.get(index);
      if (item) run.started(item);
    },
    onEvent: (index, event) => {
      run.appendOutput(formatEventForTestOutput(event), undefined, items.get(index));
    },
    onSessionEnd: (index, result, error) => {
      const item = items.get(index);
      // The verdict line `smtpwb run` prints, or why the session did not run.
      run.appendOutput(formatForTestOutput(result ? formatVerdict(result) : `${error ?? 'the session did not run'}\n`), undefined, item);
      if (item) report(run, item, uri, result, error);
    },
  };
}

function report(run: vscode.TestRun, item: vscode.TestItem, uri: vscode.Uri, result: SessionResult | undefined, error: string | undefined): void {
  if (!result) {
    run.errored(item, new vscode.TestMessage(visibleText(error ?? 'the session did not run')));
    return;
  }
  const duration = result.timings.totalMs;
  if (result.ok) {
    run.passed(item, duration);
    return;
  }
  if (result.failure?.kind === 'cancelled') {
    run.skipped(item);
    return;
  }
  // What the server said is data: control characters are shown, never interpreted.
  const failing = result.steps.find((s) => !s.ok);
  const line = failing?.line ?? result.failure?.line ?? result.line;
  const actual = failing?.reply ? visibleText(failing.reply.lines.join('\n')) : undefined;
  const message = failing?.expected && actual !== undefined
    ? vscode.TestMessage.diff(visibleText(`${failing.command}: ${failing.message ?? 'unexpected reply'}`), visibleText(failing.expected), actual)
    : new vscode.TestMessage(visibleText(`${result.failure?.kind ?? 'failure'}: ${result.failure?.message ?? failing?.message ?? 'the session failed'}`));
  message.location = new vscode.Location(uri, new vscode.Position(line, 0));
  if (result.failure?.kind === 'expectation' || failing) run.failed(item, message, duration);
  else run.errored(item, message, duration);
}
