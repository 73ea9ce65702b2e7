/**
 * The .eml commands: "Send", "Verify authentication" and "Sign with DKIM". This is the vscode glue;
 * the work happens in pure modules: preview/envelope.ts and preview/sendPlan.ts with the session
 * engine (client/src/engine) for sending, mailAuth/verify.ts for verification and mailAuth/sign.ts
 * for signing.
 */
import * as vscode from 'vscode';
import type * as EmlToolsModule from '../lazy/emlTools';
import { lazyBundle } from '../lazy/loader';
import { hostname } from 'node:os';
import { runSession } from '../engine';
import { visibleLine } from '../../../common/escape';
import { formatEventLines } from '../output/transcriptText';
import { readMessageBytes, targetUri } from './emlPreview';
import { DNS_SERVER_FORMAT } from '../dns/serverAddress';

/** Loaded on first use (see lazy/loader.ts). */
const emlTools = lazyBundle<typeof EmlToolsModule>('emlTools');


export const EML_COMMANDS = {
  send: 'smtp.eml.send',
  verify: 'smtp.eml.verify',
  sign: 'smtp.eml.sign',
} as const;

/** What the extension provides to the commands. */
export interface EmlCommandDeps {
  /** The local capture server's address, starting it if needed; undefined when it is not available. */
  localTarget?: () => Promise<{ host: string; port: number } | undefined>;
  /** Where send transcripts go; one is created when absent. */
  output?: vscode.OutputChannel;
}

/** Arguments a caller (or a test) may pass to the verify command instead of the defaults. */
export interface VerifyCommandArgs {
  ip?: string;
  helo?: string;
  mailFrom?: string;
}

const SECRET_PREFIX = 'smtp.dkimKey:';

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('smtp');
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Asks for an address until it is plausible or the user cancels. */
async function askAddress(prompt: string, value: string | undefined): Promise<string | undefined> {
  return vscode.window.showInputBox({
    prompt,
    value: value ?? '',
    ignoreFocusOut: true,
    validateInput: (text) => (text === '' || emlTools().isPlausibleAddress(text.trim()) ? undefined : 'Enter an address such as user@example.com, or nothing for the null reverse-path <>'),
  });
}

async function sendEml(uri: vscode.Uri, deps: EmlCommandDeps, output: vscode.OutputChannel): Promise<void> {
  const raw = await readMessageBytes(uri);
  const envelope = emlTools().envelopeFromHeaders(raw);
  let mailFrom = envelope.mailFrom;
  if (mailFrom === undefined) {
    mailFrom = await askAddress('Envelope sender (MAIL FROM): the message has no Return-Path, Sender or From address', undefined);
    if (mailFrom === undefined) return;
  }
  let recipients = envelope.recipients;
  if (recipients.length === 0) {
    const typed = await vscode.window.showInputBox({
      prompt: 'Envelope recipients (RCPT TO), separated by commas: the message has no To, Cc or Bcc address',
      ignoreFocusOut: true,
      validateInput: (text) => {
        const list = text.split(/[,\s]+/).filter((a) => a !== '');
        if (list.length === 0) return 'Enter at least one recipient';
        const bad = list.find((a) => !emlTools().isPlausibleAddress(a));
        return bad ? `"${bad}" is not an address` : undefined;
      },
    });
    if (typed === undefined) return;
    recipients = typed.split(/[,\s]+/).filter((a) => a !== '');
  }

  const targetSetting = config().get<string>('eml.sendTarget', 'local').trim() || 'local';
  const isLocal = targetSetting.toLowerCase() === 'local';
  if (!isLocal && !vscode.workspace.isTrusted) {
    void vscode.window.showErrorMessage('Sending to a remote server needs a trusted workspace. Trust the workspace, or send to the local capture server.');
    return;
  }
  let localTarget: { host: string; port: number } | undefined;
  if (isLocal) {
    localTarget = await deps.localTarget?.();
    if (!localTarget) {
      void vscode.window.showErrorMessage('The local capture server is not running. Start it, or set "smtp.eml.sendTarget" to a URL such as smtp://127.0.0.1:2525.');
      return;
    }
  }
  const plan = emlTools().buildSendPlan({
    file: uri.fsPath,
    mailFrom,
    recipients,
    ehloName: config().get<string>('eml.ehloName', '') || hostname(),
    connect: isLocal ? undefined : targetSetting,
    starttls: !isLocal && config().get<boolean>('eml.starttls', false),
  });
  // Paths and addresses come from the file and the message: shown, never interpreted.
  output.appendLine(visibleLine(`--- Send ${uri.fsPath} to ${isLocal ? `local capture server ${localTarget?.host}:${localTarget?.port}` : targetSetting}`));
  output.appendLine(visibleLine(`MAIL FROM:<${mailFrom}>  RCPT TO: ${recipients.map((r) => `<${r}>`).join(' ')}`));
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Sending ${uri.path.split('/').pop() ?? 'message'}`, cancellable: true },
    (_progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return runSession(plan, {
        signal: abort.signal,
        localTarget,
        // The file is read through the editor so unsaved changes are sent too, without its Bcc field.
        readFile: async () => emlTools().withoutBcc(raw),
        // What the server says is data: the one transcript formatter escapes it.
        onEvent: (e) => {
          for (const line of formatEventLines(e)) output.appendLine(line);
        },
        keepTranscript: false,
      });
    },
  );
  if (result.ok) {
    const last = result.steps.find((s) => s.command.startsWith('DATA'))?.reply;
    void vscode.window.showInformationMessage(visibleLine(`Sent to ${recipients.length} recipient${recipients.length === 1 ? '' : 's'}${last ? `: ${last.lines.join(' ')}` : ''}`));
  } else {
    output.show(true);
    void vscode.window.showErrorMessage(visibleLine(`Sending failed (${result.failure?.kind ?? 'error'}): ${result.failure?.message ?? 'unknown error'}`));
  }
}

/** Menus pass the selected URIs as the second argument; only a plain object with strings counts as VerifyCommandArgs. */
function verifyArgs(value: unknown): VerifyCommandArgs {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof vscode.Uri) return {};
  const v = value as Record<string, unknown>;
  const pick = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  return { ip: pick('ip'), helo: pick('helo'), mailFrom: pick('mailFrom') };
}

async function verifyEml(uri: vscode.Uri, argValue: unknown): Promise<void> {
  const args = verifyArgs(argValue);
  const raw = await readMessageBytes(uri);
  const server = config().get<string>('dns.server', '');
  if (server !== '' && emlTools().parseDnsServer(server) === undefined) {
    void vscode.window.showErrorMessage(`The DNS server setting "${visibleLine(server)}" must be ${DNS_SERVER_FORMAT}.`);
    return;
  }
  const report = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Verifying DKIM, SPF, DMARC, ARC and BIMI' }, () =>
    emlTools().verifyMessage(raw, { resolver: emlTools().createResolver({ server: server === '' ? undefined : server }), ip: args.ip, helo: args.helo, mailFrom: args.mailFrom }),
  );
  let markdown = emlTools().formatReportMarkdown(report, `Authentication of ${uri.path.split('/').pop() ?? 'message'}`);
  if (report.dnsUnreachable.length > 0) markdown = `> **The DNS server did not answer** (${report.dnsUnreachable[0].code}); the results below are not meaningful.\n\n${markdown}`;
  const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: markdown });
  await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true });
}

/** The From domain, as a default signing domain. */
function fromDomain(raw: Buffer): string | undefined {
  const from = emlTools().firstField(emlTools().parseHeaderFields(raw), 'from')?.value;
  return from ? /@([a-z0-9.-]+)/i.exec(from)?.[1]?.toLowerCase() : undefined;
}

async function chooseKey(secrets: vscode.SecretStorage, domain: string, selector: string): Promise<string | undefined> {
  const secretName = `${SECRET_PREFIX}${selector}._domainkey.${domain}`;
  const stored = await secrets.get(secretName);
  type Pick = vscode.QuickPickItem & { id: 'stored' | 'file' | 'store' | 'forget' };
  const items: Pick[] = [
    ...(stored ? [{ id: 'stored' as const, label: '$(key) Use the stored key', description: `${selector}._domainkey.${domain}` }] : []),
    { id: 'file', label: '$(file) Read the private key from a PEM file…' },
    { id: 'store', label: '$(lock) Paste a private key and keep it in SecretStorage…' },
    ...(stored ? [{ id: 'forget' as const, label: '$(trash) Forget the stored key' }] : []),
  ];
  const pick = await vscode.window.showQuickPick(items, { placeHolder: `Private key for ${selector}._domainkey.${domain}`, ignoreFocusOut: true });
  if (!pick) return undefined;
  switch (pick.id) {
    case 'stored':
      return stored;
    case 'forget':
      await secrets.delete(secretName);
      void vscode.window.showInformationMessage('The stored DKIM key was removed.');
      return undefined;
    case 'file': {
      const files = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Use this key', filters: { 'PEM keys': ['pem', 'key'], 'All files': ['*'] } });
      if (!files || files.length === 0) return undefined;
      return Buffer.from(await vscode.workspace.fs.readFile(files[0])).toString('utf8');
    }
    case 'store': {
      const pem = await vscode.window.showInputBox({
        prompt: 'Paste the private key (PEM; newlines may be replaced by spaces)',
        password: true,
        ignoreFocusOut: true,
        validateInput: (text) => {
          try {
            emlTools().keyAlgorithm(normalisePem(text));
            return undefined;
          } catch (err) {
            return errorText(err);
          }
        },
      });
      if (pem === undefined) return undefined;
      const key = normalisePem(pem);
      await secrets.store(secretName, key);
      return key;
    }
  }
}

/** Restores the line breaks of a PEM block pasted into a single-line input box. */
export function normalisePem(text: string): string {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text.trim());
  if (!m) return text;
  const body = m[2].replace(/\s+/g, '');
  return `-----BEGIN ${m[1]}-----\n${body.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${m[1]}-----\n`;
}

async function signEml(uri: vscode.Uri, secrets: vscode.SecretStorage): Promise<void> {
  const raw = await readMessageBytes(uri);
  const domain = await vscode.window.showInputBox({ prompt: 'Signing domain (d=)', value: fromDomain(raw) ?? '', ignoreFocusOut: true, validateInput: (t) => (/^[a-z0-9_.-]+$/i.test(t.trim()) ? undefined : 'Enter a domain') });
  if (!domain) return;
  const selector = await vscode.window.showInputBox({ prompt: 'Selector (s=)', value: config().get<string>('eml.dkimSelector', 'default'), ignoreFocusOut: true, validateInput: (t) => (/^[a-z0-9_.-]+$/i.test(t.trim()) ? undefined : 'Enter a selector') });
  if (!selector) return;
  const key = await chooseKey(secrets, domain.trim(), selector.trim());
  if (key === undefined) return;
  let signed: Buffer;
  try {
    signed = await emlTools().signMessage(raw, { domain: domain.trim(), selector: selector.trim(), privateKeyPem: key });
  } catch (err) {
    void vscode.window.showErrorMessage(`DKIM signing failed: ${err instanceof emlTools().DkimSignError ? err.message : errorText(err)}`);
    return;
  }
  // What `smtpwb sign` warns about (more than one From field), the editor says too.
  for (const warning of emlTools().signWarnings(raw)) void vscode.window.showWarningMessage(`DKIM signing: ${visibleLine(warning)}`);
  const name = uri.path.split('/').pop() ?? 'message.eml';
  const signedName = name.toLowerCase().endsWith('.eml') ? `${name.slice(0, -4)}.signed.eml` : `${name}.signed.eml`;
  const target = vscode.Uri.joinPath(uri, '..', signedName);
  await vscode.workspace.fs.writeFile(target, signed);
  await vscode.window.showTextDocument(target, { preview: false });
  const record = emlTools().publicKeyRecord(key);
  const copy = 'Copy DNS record';
  const choice = await vscode.window.showInformationMessage(`Signed ${signedName}. Publish the key as TXT at ${selector.trim()}._domainkey.${domain.trim()}.`, copy);
  if (choice === copy) await vscode.env.clipboard.writeText(record);
}

/**
 * Registers the three commands. Call from activate():
 * `context.subscriptions.push(...registerEmlCommands(context, { localTarget }))`.
 */
export function registerEmlCommands(context: vscode.ExtensionContext, deps: EmlCommandDeps = {}): vscode.Disposable[] {
  const disposables: vscode.Disposable[] = [];
  let output = deps.output;
  const channel = (): vscode.OutputChannel => {
    if (!output) {
      output = vscode.window.createOutputChannel('SMTP Workbench: Send');
      disposables.push(output);
    }
    return output;
  };
  const withUri =
    <A extends unknown[]>(fn: (uri: vscode.Uri, ...rest: A) => Promise<void>) =>
    async (arg?: unknown, ...rest: A): Promise<void> => {
      const uri = targetUri(arg);
      if (!uri) {
        void vscode.window.showWarningMessage('Open an .eml file first.');
        return;
      }
      try {
        await fn(uri, ...rest);
      } catch (err) {
        void vscode.window.showErrorMessage(errorText(err));
      }
    };
  disposables.push(
    vscode.commands.registerCommand(EML_COMMANDS.send, withUri((uri) => sendEml(uri, deps, channel()))),
    vscode.commands.registerCommand(EML_COMMANDS.verify, withUri((uri, args?: unknown) => verifyEml(uri, args))),
    vscode.commands.registerCommand(EML_COMMANDS.sign, withUri((uri) => signEml(uri, context.secrets))),
  );
  return disposables;
}
