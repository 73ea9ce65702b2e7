/**
 * Sessions as tests: every session of the workspace's `.smtp` files appears in the Test Explorer,
 * kept current as files change; a run reports each session's result, with the failing step's
 * message (expected versus actual reply) at its line in the script.
 */
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { SessionResult } from '../engine/types';
import type { RunController } from '../runs/runController';

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
        onSessionStart: (index) => {
          const item = entry.items.get(index);
          if (item) run.started(item);
        },
        onEvent: (index, event) => {
          const item = entry.items.get(index);
          const marker = { client: ' -> ', server: '<-  ', tls: '=== ', info: '  * ', error: '*** ' }[event.dir];
          run.appendOutput(`${marker}${event.text}\r\n`, undefined, item);
        },
        onSessionEnd: (index, result, error) => {
          const item = entry.items.get(index);
          if (!item) return;
          report(run, item, entry.uri, result, error);
        },
      });
    }
    run.end();
  };
  controller.createRunProfile('Run', vscode.TestRunProfileKind.Run, runHandler, true);
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

function report(run: vscode.TestRun, item: vscode.TestItem, uri: vscode.Uri, result: SessionResult | undefined, error: string | undefined): void {
  if (!result) {
    run.errored(item, new vscode.TestMessage(error ?? 'the session did not run'));
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
  const failing = result.steps.find((s) => !s.ok);
  const line = failing?.line ?? result.failure?.line ?? result.line;
  const actual = failing?.reply ? failing.reply.lines.join('\n') : undefined;
  const message = failing?.expected && actual !== undefined
    ? vscode.TestMessage.diff(`${failing.command}: ${failing.message ?? 'unexpected reply'}`, failing.expected, actual)
    : new vscode.TestMessage(`${result.failure?.kind ?? 'failure'}: ${result.failure?.message ?? failing?.message ?? 'the session failed'}`);
  message.location = new vscode.Location(uri, new vscode.Position(line, 0));
  if (result.failure?.kind === 'expectation' || failing) run.failed(item, message, duration);
  else run.errored(item, message, duration);
}
