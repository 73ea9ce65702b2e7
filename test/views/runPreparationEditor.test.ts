// The editor's half of the one run preparation (issue 11): every case of test/runs/preparationCases.ts
// (shared with the CLI's test, which runs `smtpwb run --dry-run --json`) goes through the
// extension's run path: RunController.prepare, the code `run` uses, with the fake `vscode` module
// and the real language server. The decisions must be those the table expects, so the CodeLens and
// the CLI agree. What the CLI takes from its command line comes from the editor's own sources:
// `--var` and smtpwb.json from the selected environment (smtp.environments), SMTPWB_SECRET_* from
// SecretStorage, `--timeout` from the smtp.timeouts.* settings; a prompt that nothing answers is
// asked, and the test dismisses it, as a CLI without a TTY cannot ask.
import { closeAll, recorded, Uri } from './fakeVscode';
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as vscode from 'vscode';
import { SettingsNotification } from '../../common/protocol';
import { secretEnvName } from '../../common/variables';
import { environmentsFromSettingsText, environmentValues, type EnvironmentSettings } from '../../client/src/runs/environments';
import { preparationSummary, selectSessions } from '../../client/src/runs/runPreparation';
import { PREPARATION_CASES, differences, type PreparationCase } from '../runs/preparationCases';
import { startLspClient, type LspClient } from '../support/lspClient';
import { runHarness } from './runHarness';

const TIMEOUT_PHASES = ['connect', 'greeting', 'command', 'mail', 'rcpt', 'dataInit', 'dataBlock', 'dataTermination', 'tls'];

let lsp: LspClient;
let root: string;

before(async () => {
  lsp = await startLspClient();
  root = mkdtempSync(join(tmpdir(), 'smtpwb-prep-editor-'));
});

after(async () => {
  await lsp.stop();
  rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  closeAll();
  recorded.settings.clear();
  recorded.inputs.length = 0;
  recorded.inputAnswers.length = 0;
});

/** The editor's environments for a case: smtpwb.json's, with the CLI's --var as the selected environment's last word. */
function environmentsFor(c: PreparationCase): { settings: EnvironmentSettings; selected?: string } {
  const fromFile = c.files?.['smtpwb.json'] ? (environmentsFromSettingsText(c.files['smtpwb.json']) ?? {}) : {};
  const settings: EnvironmentSettings = JSON.parse(JSON.stringify(fromFile)) as EnvironmentSettings;
  const vars = c.request.vars ?? {};
  if (Object.keys(vars).length === 0) return { settings, selected: c.request.env };
  const selected = c.request.env ?? 'cli-vars';
  settings[selected] = { ...((settings[selected] as Record<string, unknown> | undefined) ?? {}), ...vars };
  return { settings, selected };
}

for (const [n, c] of PREPARATION_CASES.entries()) {
  test(`editor run path: ${c.name}`, async () => {
    const dir = join(root, `case-${n}`);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'script.smtp');
    writeFileSync(path, c.script);
    for (const [name, text] of Object.entries(c.files ?? {})) writeFileSync(join(dir, name), text);
    const uri = Uri.file(path) as unknown as vscode.Uri;

    // Settings: environments and timeouts, as a user would set them.
    const { settings, selected } = environmentsFor(c);
    recorded.settings.set('smtp.environments', settings);
    if (c.request.timeoutSeconds !== undefined) for (const phase of TIMEOUT_PHASES) recorded.settings.set(`smtp.timeouts.${phase}`, c.request.timeoutSeconds);
    const processEnv = c.processEnv ?? {};
    const h = runHarness(lsp, processEnv);
    if (selected) await h.context.workspaceState.update('smtp.selectedEnvironment', selected);
    // The language server learns the environment's names, as extension.ts tells it.
    const values = environmentValues(settings, selected);
    await lsp.connection.sendNotification(SettingsNotification.method, { externalVariables: Object.keys(values), environment: values });
    // Secrets the CLI reads from SMTPWB_SECRET_* are in SecretStorage in the editor.
    for (const m of c.script.matchAll(/\{\{\s*\$secret\s+([\w.-]+)\s*\}\}/g)) {
      const value = processEnv[secretEnvName(m[1])];
      if (value !== undefined) await h.secrets.set(m[1], value);
    }

    const summaries = await h.runs.sessions(uri, await h.runs.scriptText(uri));
    const selection = selectSessions(summaries, { names: c.request.sessions, all: c.request.all });
    assert.ok(selection.ok, `the request selects sessions: ${selection.ok ? '' : selection.message}`);
    const prepared = await h.runs.prepare(uri, selection.indexes);
    const decisions = prepared.map(preparationSummary);
    assert.equal(decisions.length, c.expect.length, 'one decision per selected session');
    const problems = c.expect.flatMap((want, i) => differences(decisions[i], want).map((d) => `session ${i + 1}: ${d}`));
    assert.deepEqual(problems, [], JSON.stringify(decisions, null, 2));
    await lsp.connection.sendNotification(SettingsNotification.method, { externalVariables: [], environment: {} });
  });
}

test('a prompt is not asked for a session that fails on another value anyway (editor side)', async () => {
  const c = PREPARATION_CASES.find((x) => /not asked for a session that fails/.test(x.name));
  assert.ok(c, 'the shared table has the case');
  const dir = join(root, 'no-ask');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'script.smtp'), c.script);
  const h = runHarness(lsp, {});
  const prepared = await h.runs.prepare(Uri.file(join(dir, 'script.smtp')) as unknown as vscode.Uri, [0]);
  assert.equal(prepared[0].status, 'blocked');
  assert.equal(recorded.inputs.length, 0, 'no input box was shown');
});
