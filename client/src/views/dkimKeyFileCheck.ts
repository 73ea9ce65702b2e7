/**
 * "Mail DNS: Check DKIM Key File…": the editor's side of `smtpwb dkim check`. It asks for the domain
 * and selector (prefilled from the Mail DNS item it was started on), lets the user pick a private
 * key file, and shows whether that key matches the key record published at
 * `<selector>._domainkey.<domain>`. The decision is mailAuth/dkimKeyCheck.ts's (`checkDkimKey`, the
 * CLI's too); this module only asks, reads the file and shows the answer. The record text and the
 * findings come from DNS, so every line shown or logged is escaped.
 */
import * as vscode from 'vscode';
import { visibleLine } from '../../../common/escape';
import type { RawResolver } from '../dns/resolver';
import type * as DnsToolsModule from '../lazy/dnsTools';
import { lazyBundle } from '../lazy/loader';

/** The key check and its parsers live in the Mail DNS feature bundle, loaded on first use. */
const dnsTools = lazyBundle<typeof DnsToolsModule>('dnsTools');

export const CHECK_DKIM_KEY_COMMAND = 'smtp.mailDns.checkDkimKey';

export interface DkimKeyFilePrefill {
  domain?: string;
  selector?: string;
}

/** The selector and domain of a key record name, `<selector>._domainkey.<domain>`. */
export function prefillFromRecordName(name: string): DkimKeyFilePrefill {
  const m = /^(.+?)\._domainkey\.(.+?)\.?$/i.exec(name.trim());
  return m ? { selector: m[1], domain: m[2] } : {};
}

/** Runs the check; returns the verdict shown (undefined when the user cancelled or it could not run). */
export async function checkDkimKeyFile(prefill: DkimKeyFilePrefill, resolver: RawResolver, log?: vscode.LogOutputChannel): Promise<boolean | undefined> {
  const domain = await vscode.window.showInputBox({
    title: 'Check a DKIM key file (1/3): domain',
    prompt: 'The signing domain (d=) whose key record the private key should match.',
    value: prefill.domain ?? '',
    validateInput: (v) => (dnsTools().isDkimName(v.trim()) ? undefined : 'Enter a domain name such as example.com'),
  });
  if (domain === undefined || !dnsTools().isDkimName(domain.trim())) return undefined;
  const selector = await vscode.window.showInputBox({
    title: 'Check a DKIM key file (2/3): selector',
    prompt: `The selector (s=); the key record is <selector>._domainkey.${domain.trim()}.`,
    value: prefill.selector ?? '',
    validateInput: (v) => (dnsTools().isDkimName(v.trim()) ? undefined : 'Enter a selector such as default or mail2025'),
  });
  if (selector === undefined || !dnsTools().isDkimName(selector.trim())) return undefined;
  const picked = await vscode.window.showOpenDialog({
    title: 'Check a DKIM key file (3/3): the private key',
    openLabel: 'Check Key',
    canSelectMany: false,
    canSelectFolders: false,
    filters: { 'PEM private keys': ['pem', 'key', 'private'], 'All files': ['*'] },
  });
  const file = picked?.[0];
  if (!file) return undefined;
  let pem: string;
  try {
    pem = Buffer.from(await vscode.workspace.fs.readFile(file)).toString('utf8');
  } catch (err) {
    void vscode.window.showErrorMessage(visibleLine(`Cannot read ${file.fsPath}: ${(err as Error).message}`));
    return undefined;
  }
  const checked = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Checking the DKIM key at ${selector.trim()}._domainkey.${domain.trim()}` },
    () => dnsTools().checkDkimKey(pem, domain.trim(), selector.trim(), (name) => resolver.resolveTxt(name)),
  );
  const fileName = file.path.split('/').pop() ?? file.fsPath;
  if ('error' in checked) {
    const text = visibleLine(`DKIM key check: ${checked.error}`);
    log?.error(text);
    void vscode.window.showErrorMessage(text);
    return undefined;
  }
  const message = visibleLine(checked.message.replace('the private key', `the private key in ${fileName}`));
  const problems = checked.findings.filter((f) => f.severity !== 'pass' && f.severity !== 'info');
  const detail = [
    checked.record !== undefined ? `Record: ${visibleLine(checked.record)}` : '',
    ...problems.map((f) => visibleLine(`${f.severity} ${f.code}: ${f.message}`)),
  ].filter(Boolean).join('\n');
  log?.info(`DKIM key check ${visibleLine(checked.name)}: ${checked.ok ? 'OK' : 'FAIL'}: ${message}`);
  if (checked.record !== undefined) log?.info(`  record: ${visibleLine(checked.record)}`);
  for (const f of checked.findings.filter((x) => x.severity !== 'pass')) log?.info(visibleLine(`  ${f.severity} ${f.code}: ${f.message}`));
  const headline = checked.ok ? `The key matches: ${message}.` : `The key does not match: ${message}.`;
  if (checked.ok) void vscode.window.showInformationMessage(headline, { modal: true, detail });
  else void vscode.window.showErrorMessage(headline, { modal: true, detail });
  return checked.ok;
}
