/**
 * "SMTP: Fetch Reports over IMAP…" (`smtp.reports.fetchImap`): the editor's face of
 * `smtpwb report fetch`. It asks for the server (host:port), the login name, the mailbox and how
 * the connection is protected, takes the password from SecretStorage (or asks for it once in a
 * password input and, after a successful login, offers in a modal dialog to store it), saves the
 * reports into a folder the user picks and opens the report view on what was fetched. The fetch
 * itself is reports/imapFetch.ts, shared with the CLI.
 *
 * A CA certificate to trust for a server with a private CA: the setting `smtp.reports.imapCa`
 * (a PEM file; relative to the first workspace folder).
 */
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { parseHostPort } from '../dns/serverAddress';
import type { ImapTlsMode } from '../reports/imapFetch';
import type * as EmlToolsModule from '../lazy/emlTools';
import { lazyBundle } from '../lazy/loader';
import { resolveInboxFolder } from './localInboxModel';
import type { ReportViewHandle } from './reportView';

/** The IMAP client (imapflow) lives in the emlTools feature bundle, loaded when a fetch starts. */
const emlTools = lazyBundle<typeof EmlToolsModule>('emlTools');

export const FETCH_REPORTS_COMMAND = 'smtp.reports.fetchImap';
/** What was typed last, so the next fetch starts from it (never the password). */
const STATE_LAST = 'smtp.reports.imapLast';

interface LastFetch {
  server?: string;
  user?: string;
  mailbox?: string;
  tls?: ImapTlsMode;
}

/** The SecretStorage key of one account's password. */
export function imapSecretKey(user: string, host: string, port: number): string {
  return `smtp.reports.imap:${user}@${host.toLowerCase()}:${port}`;
}

const TLS_CHOICES: Array<{ label: string; description: string; mode: ImapTlsMode }> = [
  { label: 'Implicit TLS', description: 'RFC 8314, port 993', mode: 'tls' },
  { label: 'STARTTLS', description: 'RFC 3501 §6.2.1, port 143; required, no fallback to plain text', mode: 'starttls' },
  { label: 'Plain text', description: 'only to a loopback address', mode: 'none' },
];

export function registerReportFetch(context: vscode.ExtensionContext, reports: ReportViewHandle): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(FETCH_REPORTS_COMMAND, async () => {
      // The extension declares that it connects nowhere in an untrusted workspace.
      if (!vscode.workspace.isTrusted) {
        void vscode.window.showErrorMessage('Fetching reports over IMAP needs a trusted workspace.');
        return;
      }
      const last = context.globalState.get<LastFetch>(STATE_LAST, {}) ?? {};
      const server = (
        await vscode.window.showInputBox({
          title: 'Fetch Reports over IMAP (1/4): server',
          prompt: 'host:port of the IMAP server (the port defaults to 993 with implicit TLS, else 143)',
          value: last.server ?? '',
          ignoreFocusOut: true,
          validateInput: (v) => (parseHostPort(v, 993) ? undefined : 'host:port, e.g. imap.example.com:993 or [2001:db8::1]:143'),
        })
      )?.trim();
      if (!server) return;
      const user = (await vscode.window.showInputBox({ title: 'Fetch Reports over IMAP (2/4): login name', value: last.user ?? '', ignoreFocusOut: true }))?.trim();
      if (!user) return;
      const mailbox = (await vscode.window.showInputBox({ title: 'Fetch Reports over IMAP (3/4): mailbox', value: last.mailbox ?? 'INBOX', ignoreFocusOut: true }))?.trim();
      if (!mailbox) return;
      const choice = (await vscode.window.showQuickPick(
        TLS_CHOICES.map((c) => ({ ...c, picked: c.mode === last.tls })),
        { title: 'Fetch Reports over IMAP (4/4): connection', ignoreFocusOut: true },
      )) as (typeof TLS_CHOICES)[number] | undefined;
      if (!choice) return;
      const target = parseHostPort(server, choice.mode === 'tls' ? 993 : 143);
      if (!target) {
        void vscode.window.showErrorMessage(`"${server}" is not host:port.`);
        return;
      }
      const refusal = emlTools().imapFetchRefusal({ host: target.host, tls: choice.mode });
      if (refusal) {
        void vscode.window.showErrorMessage(`Cannot fetch from ${target.host}: ${refusal}.`);
        return;
      }
      await context.globalState.update(STATE_LAST, { server, user, mailbox, tls: choice.mode } satisfies LastFetch);

      const key = imapSecretKey(user, target.host, target.port);
      const stored = await context.secrets.get(key);
      const password =
        stored ??
        (await vscode.window.showInputBox({ title: `Password of ${user} on ${target.host}`, prompt: 'Kept in memory for this fetch; you are asked afterwards whether to store it in the editor\'s secret storage.', password: true, ignoreFocusOut: true }));
      if (password === undefined || password === '') return;

      let ca: Buffer | undefined;
      const caSetting = (vscode.workspace.getConfiguration('smtp.reports').get<string>('imapCa', '') ?? '').trim();
      if (caSetting !== '') {
        const caPath = resolveInboxFolder(caSetting, { defaultDir: '', workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath });
        try {
          ca = await readFile(caPath);
        } catch (error) {
          void vscode.window.showErrorMessage(`Cannot read the CA certificate ${caPath} (setting smtp.reports.imapCa): ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
          return;
        }
      }

      const folder = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Save reports here', title: 'The folder the fetched reports are saved to' });
      if (!folder || folder.length === 0) return;
      const out = folder[0].fsPath;

      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Fetching reports from ${mailbox} on ${target.host}` },
        (progress) => emlTools().fetchReportsOverImap({ host: target.host, port: target.port, user, password, mailbox, tls: choice.mode, ...(ca ? { ca } : {}), out, onSaved: (path) => progress.report({ message: path }) }),
      );
      if (!result.ok) {
        if (result.authenticationFailed && stored !== undefined) {
          const answer = await vscode.window.showWarningMessage(
            `The login of ${user} on ${target.host} failed with the stored password.`,
            { modal: true, detail: result.message },
            'Forget the Stored Password',
          );
          if (answer === 'Forget the Stored Password') await context.secrets.delete(key);
          return;
        }
        void vscode.window.showErrorMessage(`Fetching reports from ${target.host} failed${result.authenticationFailed ? ' (login refused)' : ''}: ${result.message}`);
        return;
      }
      if (stored === undefined) {
        const answer = await vscode.window.showInformationMessage(
          `Store the password of ${user} on ${target.host} in the editor's secret storage?`,
          { modal: true, detail: 'The next fetch from this account then asks for no password. It is kept in the operating system\'s keychain, never in settings.' },
          'Store Password',
        );
        if (answer === 'Store Password') await context.secrets.store(key, password);
      }
      if (result.skipped.length > 0) {
        // The reasons are this program's text; UIDs and sizes are numbers (a notification shows no detail).
        const first = result.skipped.slice(0, 5).map((s) => `UID ${s.uid}: ${s.reason}`).join('; ');
        const more = result.skipped.length > 5 ? `; ${result.skipped.length - 5} more` : '';
        void vscode.window.showWarningMessage(`${result.skipped.length} message(s) in ${mailbox} on ${target.host} were not saved: ${first}${more}.`);
      }
      if (result.saved.length === 0) {
        void vscode.window.showInformationMessage(`${result.messages} message(s) read from ${mailbox} on ${target.host}: no reports among them.`);
        return;
      }
      vscode.window.setStatusBarMessage(`${result.saved.length} report(s) from ${result.messages} message(s) saved to ${out}`, 5000);
      await reports.open(result.saved, { title: `Reports: ${mailbox} on ${target.host}` });
    }),
  );
}
