/**
 * The selected environment (REST Client style), kept per workspace, with a status-bar picker.
 * The language server is told which names the environment defines, so they are not "undefined".
 */
import * as vscode from 'vscode';
import { environmentNames, environmentValues, type EnvironmentSettings } from './environments';

const STATE_KEY = 'smtp.selectedEnvironment';

export class EnvironmentState implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly context: vscode.ExtensionContext) {
    this.item = vscode.window.createStatusBarItem('smtp.environment', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'SMTP Environment';
    this.item.command = 'smtp.selectEnvironment';
    this.subscriptions.push(
      this.item,
      this.changed,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('smtp.environments') || e.affectsConfiguration('smtp.defaultEnvironment')) {
          this.refresh();
          // The language server learns the new names and values.
          this.changed.fire();
        }
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.refresh()),
    );
    this.refresh();
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
  }

  private settings(): EnvironmentSettings {
    return vscode.workspace.getConfiguration('smtp').get<EnvironmentSettings>('environments') ?? {};
  }

  selected(): string | undefined {
    const stored = this.context.workspaceState.get<string | null>(STATE_KEY);
    if (stored === null) return undefined;
    const name = stored ?? vscode.workspace.getConfiguration('smtp').get<string>('defaultEnvironment') ?? '';
    return name && environmentNames(this.settings()).includes(name) ? name : undefined;
  }

  values(): Record<string, string> {
    return environmentValues(this.settings(), this.selected());
  }

  names(): string[] {
    return Object.keys(this.values());
  }

  async pick(): Promise<void> {
    const names = environmentNames(this.settings());
    const current = this.selected();
    const items: Array<vscode.QuickPickItem & { value: string | null }> = [
      { label: 'No Environment', description: current === undefined ? 'selected' : undefined, value: null },
      ...names.map((name) => ({ label: name, description: name === current ? 'selected' : undefined, detail: Object.keys(environmentValues(this.settings(), name)).join(', '), value: name })),
    ];
    const choice = await vscode.window.showQuickPick(items, { placeHolder: names.length ? 'Select the SMTP environment' : 'No environments yet: add them in the setting smtp.environments' });
    if (!choice) return;
    await this.context.workspaceState.update(STATE_KEY, choice.value);
    this.refresh();
    this.changed.fire();
  }

  private refresh(): void {
    const name = this.selected();
    this.item.text = `$(server-environment) SMTP: ${name ?? 'No Environment'}`;
    this.item.tooltip = 'Select the environment whose variables SMTP sessions use';
    const language = vscode.window.activeTextEditor?.document.languageId;
    if (language === 'smtp') this.item.show();
    else this.item.hide();
  }
}
