/**
 * The "Mail DNS" sidebar: a tree per domain with a node per check and a child per finding. It is the
 * only part of the mail DNS feature that imports `vscode`; the tree itself is built by the pure
 * module mailDnsTree.ts.
 *
 * In an untrusted workspace it sends nothing but DNS queries: MTA-STS policies are not fetched and the
 * STARTTLS probe is unavailable. Even in a trusted one, the probe asks before it connects.
 */
import { getServers } from 'node:dns';
import * as vscode from 'vscode';
import { visibleLine } from '../../../common/escape';
import type * as DnsToolsModule from '../lazy/dnsTools';
import { lazyBundle } from '../lazy/loader';
import type { DomainReport, HttpsFetcher, RawResolver, StartTlsProber } from '../dns/index';
import type { TlsChainProber } from '../dns/tlsChain';
import { CHECK_DKIM_KEY_COMMAND, checkDkimKeyFile, prefillFromRecordName, type DkimKeyFilePrefill } from './dkimKeyFileCheck';
import { buildDomainNode, type DomainState, type MailDnsNode, type NodeIcon, parseSelectorInput, rememberRecent } from './mailDnsTree';

/** Loaded on first use (see lazy/loader.ts). */
const dnsTools = lazyBundle<typeof DnsToolsModule>('dnsTools');


export const MAIL_DNS_VIEW_ID = 'smtp.mailDns';

export const MAIL_DNS_COMMANDS = {
  checkDomain: 'smtp.mailDns.checkDomain',
  refresh: 'smtp.mailDns.refresh',
  refreshAll: 'smtp.mailDns.refreshAll',
  remove: 'smtp.mailDns.remove',
  setSelectors: 'smtp.mailDns.setSelectors',
  openRfc: 'smtp.mailDns.openRfc',
  exportReport: 'smtp.mailDns.exportReport',
  probeStartTls: 'smtp.mailDns.probeStartTls',
  checkDkimKey: CHECK_DKIM_KEY_COMMAND,
} as const;

const STATE_RECENT = 'smtp.mailDns.recent';
const STATE_DOMAINS = 'smtp.mailDns.domains';
const STATE_SELECTORS = 'smtp.mailDns.selectors';

export interface MailDnsOptions {
  /** Where runs and failures are logged. */
  log?: vscode.LogOutputChannel;
  /** A resolver to use instead of the system's (tests); else the `smtp.dns.server` setting decides. */
  resolver?: RawResolver;
  /** An HTTPS fetcher for MTA-STS policies (tests); a verifying Node fetcher otherwise. */
  fetcher?: HttpsFetcher;
  /** A STARTTLS prober (tests); the session engine on port 25 otherwise. */
  prober?: StartTlsProber;
  /** The certificate-chain prober for DANE (tests); a plain STARTTLS client on port 25 otherwise. */
  chainProber?: TlsChainProber;
  /** The SMTP port the DANE chain probe connects to (tests); 25 otherwise. */
  smtpPort?: number;
}

const ICONS: Record<NodeIcon, vscode.ThemeIcon> = {
  error: new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground')),
  warning: new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground')),
  info: new vscode.ThemeIcon('info', new vscode.ThemeColor('problemsInfoIcon.foreground')),
  pass: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  skipped: new vscode.ThemeIcon('circle-slash'),
  // A check with no finding: neutral, neither pass nor a problem.
  empty: new vscode.ThemeIcon('circle-outline'),
  running: new vscode.ThemeIcon('loading~spin'),
  failed: new vscode.ThemeIcon('debug-disconnect', new vscode.ThemeColor('problemsErrorIcon.foreground')),
  record: new vscode.ThemeIcon('symbol-string'),
  tree: new vscode.ThemeIcon('list-tree'),
  domain: new vscode.ThemeIcon('globe'),
};

class MailDnsProvider implements vscode.TreeDataProvider<MailDnsNode> {
  private readonly changed = new vscode.EventEmitter<MailDnsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly states = new Map<string, DomainState>();

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(node: MailDnsNode): vscode.TreeItem {
    const collapsible =
      node.children.length === 0
        ? vscode.TreeItemCollapsibleState.None
        : node.kind === 'domain'
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(node.label, collapsible);
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.iconPath = ICONS[node.icon];
    // The DKIM check and its key records get their own context value, for "Check DKIM Key File…".
    item.contextValue = isDkimCheck(node) ? 'mailDnsCheckDkim' : isDkimRecord(node) ? 'mailDnsDkimRecord' : node.contextValue;
    if (node.kind === 'finding') {
      item.command = { command: MAIL_DNS_COMMANDS.openRfc, title: 'Open RFC section', arguments: [node] };
    }
    return item;
  }

  getChildren(node?: MailDnsNode): MailDnsNode[] {
    if (node) return node.children;
    return [...this.states.values()].map(buildDomainNode);
  }
}

function isDkimCheck(node: MailDnsNode): boolean {
  return node.kind === 'check' && node.checkId === 'dkim';
}

function isDkimRecord(node: MailDnsNode): boolean {
  return node.kind === 'record' && node.id.startsWith(`${node.domain}/dkim/records/`);
}

/** Registers the Mail DNS view and its commands. */
export function registerMailDns(context: vscode.ExtensionContext, options: MailDnsOptions = {}): void {
  const provider = new MailDnsProvider();
  const view = vscode.window.createTreeView(MAIL_DNS_VIEW_ID, { treeDataProvider: provider, showCollapseAll: true });
  context.subscriptions.push(view);
  const state = context.workspaceState;
  const selectorsOf = (domain: string): string[] => state.get<Record<string, string[]>>(STATE_SELECTORS, {})[domain] ?? [];
  for (const domain of state.get<string[]>(STATE_DOMAINS, [])) {
    provider.states.set(domain, { domain, running: false, selectors: selectorsOf(domain) });
  }
  const saveDomains = (): Thenable<void> => state.update(STATE_DOMAINS, [...provider.states.keys()]);

  const resolver = (): RawResolver => {
    if (options.resolver) return options.resolver;
    // `smtp.dns.server` is shared with MX lookups and verification; it is a restricted setting, so an
    // untrusted workspace cannot point it anywhere.
    const server = vscode.workspace.getConfiguration('smtp.dns').get<string>('server')?.trim();
    return dnsTools().createNodeResolver({ server: server ? server : undefined });
  };

  /** The extra CAs of `smtp.tls.caFile`, for the MTA-STS fetch and the STARTTLS probe (trusted only). */
  const extraCa = async (): Promise<string[]> => {
    const file = vscode.workspace.getConfiguration('smtp.tls').get<string>('caFile')?.trim();
    if (!file) return [];
    try {
      const base = vscode.workspace.workspaceFolders?.[0]?.uri;
      const uri = file.startsWith('/') || /^[A-Za-z]:[\\/]/.test(file) || !base ? vscode.Uri.file(file) : vscode.Uri.joinPath(base, file);
      return [Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8')];
    } catch (err) {
      options.log?.warn(visibleLine(`Mail DNS: cannot read smtp.tls.caFile ${file}: ${(err as Error).message}`));
      return [];
    }
  };

  /**
   * DNSSEC, DANE and transport consistency (RFC 7672): with the STARTTLS probe, or whenever
   * `smtp.dns.dnssecResolver` names a validating resolver. Its AD bit decides what is secure; the
   * default is `smtp.dns.server`, else the system's first resolver. Only DNS is sent unless `probe`
   * (then each MX's certificate chain is fetched and matched against its TLSA records).
   */
  const transportOptions = (probe: boolean): { dnssec?: { server: string }; chainProber?: TlsChainProber; smtpPort?: number } => {
    const dns = vscode.workspace.getConfiguration('smtp.dns');
    const explicit = dns.get<string>('dnssecResolver')?.trim();
    if (!explicit && !probe) return {};
    const server = explicit || dns.get<string>('server')?.trim() || getServers()[0];
    if (!server) return {};
    return { dnssec: { server }, ...(probe ? { chainProber: options.chainProber ?? dnsTools().createTlsChainProber(), smtpPort: options.smtpPort } : {}) };
  };

  /** Runs the report for a domain, with progress in the view. */
  const run = async (domain: string, probe: boolean): Promise<DomainReport | undefined> => {
    const s = provider.states.get(domain) ?? { domain, running: false, selectors: selectorsOf(domain) };
    provider.states.set(domain, { ...s, running: true, error: undefined });
    provider.refresh();
    try {
      // Untrusted workspaces send nothing but DNS queries: no HTTPS fetch, no SMTP connection.
      const trusted = vscode.workspace.isTrusted;
      const ca = trusted ? await extraCa() : [];
      const report = await vscode.window.withProgress(
        { location: { viewId: MAIL_DNS_VIEW_ID }, title: `Checking ${domain}` },
        () =>
          dnsTools().runReport(domain, {
            resolver: resolver(),
            fetcher: trusted ? (options.fetcher ?? dnsTools().createNodeHttpsFetcher({ extraCa: ca })) : undefined,
            prober: trusted && probe ? (options.prober ?? dnsTools().createEngineStartTlsProber({ extraCa: ca })) : undefined,
            selectors: s.selectors,
            ...transportOptions(trusted && probe),
          }),
      );
      provider.states.set(domain, { ...s, running: false, report });
      const all = report.checks.flatMap((c) => c.findings);
      options.log?.info(
        `Mail DNS ${visibleLine(domain)}: ${all.filter((f) => f.severity === 'error').length} error(s), ${all.filter((f) => f.severity === 'warning').length} warning(s); ${report.queries} queries, depth ${report.depth}, ${report.durationMs} ms${trusted ? '' : ' (untrusted workspace: DNS only)'}`,
      );
      return report;
    } catch (err) {
      // Domain names and errors can carry what a DNS answer or an HTTPS body held.
      options.log?.error(visibleLine(`Mail DNS ${domain}: ${(err as Error).message}`));
      provider.states.set(domain, { ...s, running: false, error: (err as Error).message });
      return undefined;
    } finally {
      provider.refresh();
    }
  };

  const domainOf = (node: MailDnsNode | undefined): string | undefined => node?.domain ?? view.selection[0]?.domain;

  const register = (id: string, fn: (...args: never[]) => unknown): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, fn as (...args: unknown[]) => unknown));
  };

  register(MAIL_DNS_COMMANDS.checkDomain, async (given?: string) => {
    let input = typeof given === 'string' ? given : undefined;
    if (input === undefined) {
      const recent = state.get<string[]>(STATE_RECENT, []);
      const pick = vscode.window.createQuickPick();
      pick.title = 'Check a domain\'s mail DNS';
      pick.placeholder = 'example.com';
      const recentItems = recent.map((d) => ({ label: d, description: 'recent' }));
      pick.items = recentItems;
      // What the user typed comes first, so Enter checks it rather than a recent domain it resembles.
      pick.onDidChangeValue((value) => {
        const typed = value.trim();
        pick.items = typed && !recent.includes(typed.toLowerCase()) ? [{ label: typed, description: 'check this domain' }, ...recentItems] : recentItems;
      });
      input = await new Promise<string | undefined>((resolve) => {
        pick.onDidAccept(() => {
          resolve(pick.selectedItems[0]?.label ?? pick.value);
          pick.hide();
        });
        pick.onDidHide(() => {
          resolve(undefined);
          pick.dispose();
        });
        pick.show();
      });
    }
    if (!input) return;
    const n = dnsTools().normalizeDomain(input);
    if ('error' in n) {
      void vscode.window.showErrorMessage(`Mail DNS: ${n.error}.`);
      return;
    }
    await state.update(STATE_RECENT, rememberRecent(state.get<string[]>(STATE_RECENT, []), n.domain));
    if (!provider.states.has(n.domain)) {
      provider.states.set(n.domain, { domain: n.domain, running: false, selectors: selectorsOf(n.domain) });
      await saveDomains();
    }
    return run(n.domain, false);
  });

  register(MAIL_DNS_COMMANDS.refresh, async (node?: MailDnsNode) => {
    const domain = domainOf(node);
    if (domain) await run(domain, false);
  });

  register(MAIL_DNS_COMMANDS.refreshAll, async () => {
    await Promise.all([...provider.states.keys()].map((d) => run(d, false)));
  });

  register(MAIL_DNS_COMMANDS.remove, async (node?: MailDnsNode) => {
    const domain = domainOf(node);
    if (!domain) return;
    provider.states.delete(domain);
    await saveDomains();
    provider.refresh();
  });

  register(MAIL_DNS_COMMANDS.setSelectors, async (node?: MailDnsNode) => {
    const domain = domainOf(node);
    if (!domain) return;
    const current = selectorsOf(domain);
    const text = await vscode.window.showInputBox({
      title: `DKIM selectors for ${domain}`,
      prompt: 'Selector names, separated by commas. Common names are probed as well.',
      value: current.join(', '),
      validateInput: (v) => {
        const parsed = parseSelectorInput(v, domain);
        return 'error' in parsed ? parsed.error : undefined;
      },
    });
    if (text === undefined) return;
    const parsed = parseSelectorInput(text, domain);
    if ('error' in parsed) return;
    const all = state.get<Record<string, string[]>>(STATE_SELECTORS, {});
    await state.update(STATE_SELECTORS, { ...all, [domain]: parsed.selectors });
    const s = provider.states.get(domain);
    if (s) provider.states.set(domain, { ...s, selectors: parsed.selectors });
    await run(domain, false);
  });

  register(MAIL_DNS_COMMANDS.openRfc, async (node?: MailDnsNode) => {
    const target = node ?? view.selection[0];
    if (target?.kind === 'finding') await vscode.env.openExternal(vscode.Uri.parse(target.link));
  });

  register(MAIL_DNS_COMMANDS.probeStartTls, async (node?: MailDnsNode) => {
    const domain = domainOf(node);
    if (!domain) return;
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('The STARTTLS probe is unavailable in an untrusted workspace: it connects to mail servers, and only DNS queries are allowed here.');
      return;
    }
    const go = 'Connect';
    const answer = await vscode.window.showWarningMessage(
      `Probe STARTTLS on the MX hosts of ${domain}? This opens SMTP connections to port 25 of each host (EHLO, STARTTLS, QUIT); no mail is sent.`,
      { modal: true },
      go,
    );
    if (answer === go) await run(domain, true);
  });

  register(MAIL_DNS_COMMANDS.exportReport, async (node?: MailDnsNode) => {
    const domain = domainOf(node);
    const reports = [...provider.states.values()]
      .filter((s) => s.report && (!domain || s.domain === domain))
      .map((s) => s.report as DomainReport);
    if (reports.length === 0) {
      void vscode.window.showInformationMessage('Mail DNS: check a domain first.');
      return;
    }
    const format = await vscode.window.showQuickPick(['Markdown', 'JSON'], { title: 'Export the mail DNS report as' });
    if (!format) return;
    const content = format === 'Markdown' ? dnsTools().renderMarkdown(reports) : `${JSON.stringify(reports.map((r) => dnsTools().reportToJson(r)), null, 2)}\n`;
    const ext = format === 'Markdown' ? 'md' : 'json';
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const name = `mail-dns-${reports.length === 1 ? reports[0].domain : 'report'}.${ext}`;
    const target = await vscode.window.showSaveDialog({
      title: 'Export the mail DNS report',
      defaultUri: folder ? vscode.Uri.joinPath(folder, name) : undefined,
      filters: format === 'Markdown' ? { Markdown: ['md'] } : { JSON: ['json'] },
    });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, Buffer.from(content, 'utf8'));
    await vscode.window.showTextDocument(target);
  });

  register(MAIL_DNS_COMMANDS.checkDkimKey, async (node?: MailDnsNode) => {
    const target = node ?? view.selection[0];
    const domain = domainOf(target);
    let prefill: DkimKeyFilePrefill = { domain };
    if (target && isDkimRecord(target)) prefill = { domain, ...prefillFromRecordName((target.description ?? '').split(' ')[0]) };
    else if (domain) {
      // The first selector whose key record the last check found, else the first one the user named.
      const found = provider.states.get(domain)?.report?.checks.find((c) => c.id === 'dkim')?.records[0]?.name;
      prefill = found ? { domain, ...prefillFromRecordName(found) } : { domain, selector: selectorsOf(domain)[0] };
    }
    let raw: RawResolver;
    try {
      raw = resolver();
    } catch (err) {
      void vscode.window.showErrorMessage(visibleLine(`Mail DNS: ${(err as Error).message}`));
      return undefined;
    }
    return checkDkimKeyFile(prefill, raw, options.log);
  });

  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => provider.refresh()),
  );
}
