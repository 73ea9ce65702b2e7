/**
 * `{{$secret NAME}}` in the editor: values live only in VS Code's SecretStorage. A missing secret
 * is asked for once, before the run starts (masked input, then a modal "store it?"), and stored
 * when the user agrees; "SMTP: Set Secret" and
 * "SMTP: Delete Secret" manage them.
 */
import * as vscode from 'vscode';

const KEY_PREFIX = 'smtp.secret.';
const INDEX_KEY = 'smtp.secretNames';

export class SecretProvider {
  /** Secrets typed during this window's life but not stored, so a run does not ask twice. */
  private readonly session = new Map<string, string>();

  constructor(private readonly context: vscode.ExtensionContext) {}

  private names(): string[] {
    return this.context.globalState.get<string[]>(INDEX_KEY) ?? [];
  }

  /** The secret's value when it is stored or was typed in this window; never asks. */
  async known(name: string): Promise<string | undefined> {
    const stored = await this.context.secrets.get(KEY_PREFIX + name);
    if (stored !== undefined) return stored;
    return this.session.get(name);
  }

  /**
   * Asks for a secret a run needs, before the run starts: a masked input that stays open until it is
   * answered or dismissed, then a modal question whether to store it (never a notification, which
   * could slip into the notification centre while the run waits). Undefined when dismissed.
   */
  async ask(name: string): Promise<string | undefined> {
    const value = await vscode.window.showInputBox({
      title: `SMTP secret "${name}"`,
      prompt: `The script needs {{$secret ${name}}}. Its value is kept in VS Code's SecretStorage, never in the script.`,
      password: true,
      ignoreFocusOut: true,
    });
    if (value === undefined) return undefined;
    const store = await vscode.window.showInformationMessage(
      `Store the secret "${name}" in SecretStorage for later runs?`,
      { modal: true, detail: 'Otherwise it is kept only until this window closes.' },
      'Store',
      'Only for this window',
    );
    if (store === 'Store') await this.set(name, value);
    else this.session.set(name, value);
    return value;
  }

  async set(name: string, value: string): Promise<void> {
    await this.context.secrets.store(KEY_PREFIX + name, value);
    const names = new Set(this.names());
    names.add(name);
    await this.context.globalState.update(INDEX_KEY, [...names].sort());
  }

  async delete(name: string): Promise<void> {
    await this.context.secrets.delete(KEY_PREFIX + name);
    this.session.delete(name);
    await this.context.globalState.update(INDEX_KEY, this.names().filter((n) => n !== name));
  }

  async setInteractive(): Promise<void> {
    const name = await vscode.window.showInputBox({ title: 'SMTP: Set Secret', prompt: 'Name of the secret, as in {{$secret NAME}}', validateInput: (v) => (/^[\w.-]+$/.test(v) ? undefined : 'letters, digits, "-", "_" and "."') });
    if (!name) return;
    const value = await vscode.window.showInputBox({ title: `SMTP: Set Secret "${name}"`, password: true, ignoreFocusOut: true });
    if (value === undefined) return;
    await this.set(name, value);
    void vscode.window.showInformationMessage(`The secret "${name}" is stored in SecretStorage.`);
  }

  async deleteInteractive(): Promise<void> {
    const names = this.names();
    if (names.length === 0) {
      void vscode.window.showInformationMessage('No SMTP secrets are stored.');
      return;
    }
    const name = await vscode.window.showQuickPick(names, { title: 'SMTP: Delete Secret' });
    if (!name) return;
    await this.delete(name);
    void vscode.window.showInformationMessage(`The secret "${name}" is deleted.`);
  }
}
