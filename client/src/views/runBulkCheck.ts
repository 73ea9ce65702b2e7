/**
 * "Check Bulk-Sender Requirements" for a finished run (`smtp.runs.checkBulkSender`): the messages
 * the run's sessions sent (RunController keeps them in memory, from the engine's
 * `RunOptions.onMessage`) are checked against the bulk-sender requirements by the one home of that
 * check, reports/bulkCheck.ts (`checkSentMessages` with `bulkCheckIo`, as `smtpwb run --bulk` does):
 * TLS as it was when each message was sent, the sending IP's forward-confirmed reverse DNS, SPF with
 * the EHLO name and MAIL FROM the engine reported, the RFC 8058 headers, DKIM, alignment and DMARC.
 * DNS goes through `smtp.dns.server`, each question asked once per check. The progress notification
 * can be cancelled: no further message is checked, and the results say how many were not.
 *
 * The results are a list a person reads: a quick pick whose title says how the message went (script
 * line, TLS, sending IP) and how many requirements fail, a short heading per message when there
 * are several, and one row per requirement (its verdict, what was found, its source); picking a
 * row opens its source. What the message and DNS said is shown
 * as text (`visibleLine`), never as codicons or links of its own. The same text goes to the log.
 *
 * The transcript panel's "Check bulk-sender requirements" button passes its record id; from the
 * command palette the last run that sent a message is checked.
 */
import * as vscode from 'vscode';
import { visibleLine } from '../../../common/escape';
import { DNS_SERVER_FORMAT } from '../dns/serverAddress';
import type * as EmlToolsModule from '../lazy/emlTools';
import { lazyBundle } from '../lazy/loader';
import { bulkCheckIo, checkSentMessages, formatRunBulkText, type RunMessageCheck } from '../reports/bulkCheck';
import { SENT_BYTES_KEPT, type RunSentMessages } from '../runs/runController';
import { bulkFindingItem } from './localInboxModel';

const emlTools = lazyBundle<typeof EmlToolsModule>('emlTools');

export const RUN_BULK_COMMAND = 'smtp.runs.checkBulkSender';

/** One session's checks. */
export interface SessionBulkChecks {
  title: string;
  checks: RunMessageCheck[];
  /** The session sent more than was kept (RunController keeps SENT_MESSAGES_KEPT messages and SENT_BYTES_KEPT bytes a run). */
  truncated: boolean;
  /** Messages kept but not checked because the check was cancelled. */
  unchecked?: number;
}

/** A row of the results: a message's heading, or one requirement with the source it opens. */
export type RunBulkRow = { kind: 'heading'; label: string } | { kind: 'requirement'; label: string; description: string; detail: string; link: string };

/** What a message's check found, in a few words: `3 of 9 fail`, `none fails`. */
function failCount(check: RunMessageCheck): string {
  const failed = check.requirements.filter((r) => r.status === 'fail').length;
  return failed === 0 ? 'none fails' : `${failed} of ${check.requirements.length} fail`;
}

/** How a message went: `message at line 6, without TLS, from 127.0.0.1`. */
function messageFacts(check: RunMessageCheck): string {
  const parts = [`message at line ${check.line + 1}`, check.tls ? 'over TLS' : 'without TLS', `from ${check.clientIp ?? 'an unknown address'}`];
  if (check.dnsUnanswered) parts.push('the DNS server did not answer');
  return parts.join(', ');
}

/**
 * The rows of the results, in the order of the sessions and their messages. With more than one
 * message each gets a short heading (VS Code shows a separator's label at the right of its first
 * row, so it is kept short: `line 6: 3 of 9 fail`, with the session's title when there are several
 * sessions); one message is described by the title instead. Pure.
 */
export function runBulkRows(sessions: readonly SessionBulkChecks[]): RunBulkRow[] {
  const rows: RunBulkRow[] = [];
  const messages = sessions.reduce((n, s) => n + s.checks.length, 0);
  const named = sessions.length > 1;
  for (const s of sessions) {
    for (const check of s.checks) {
      if (messages > 1) rows.push({ kind: 'heading', label: visibleLine(`${named ? `${s.title} · ` : ''}line ${check.line + 1}: ${failCount(check)}`) });
      for (const r of check.requirements) {
        const item = bulkFindingItem(r);
        rows.push({ kind: 'requirement', label: item.label, description: item.description, detail: item.detail, link: item.link });
      }
    }
    if (s.truncated) rows.push({ kind: 'heading', label: visibleLine(`${named ? `${s.title}: ` : ''}only the first messages are kept and checked`) });
    if (s.unchecked) rows.push({ kind: 'heading', label: visibleLine(`${named ? `${s.title}: ` : ''}${notChecked(s.unchecked)} (cancelled)`) });
  }
  return rows;
}

/** `3 messages not checked`. */
function notChecked(count: number): string {
  return `${count} message${count === 1 ? '' : 's'} not checked`;
}

/** The quick pick's title: the run, how its one message went, or how many of its messages fail. */
export function runBulkTitle(label: string, sessions: readonly SessionBulkChecks[]): string {
  const checks = sessions.flatMap((s) => s.checks);
  const unchecked = sessions.reduce((n, s) => n + (s.unchecked ?? 0), 0);
  const cancelled = unchecked > 0 ? ` The check was cancelled: ${notChecked(unchecked)}.` : '';
  if (checks.length === 1) return visibleLine(`Bulk-sender requirements of "${label}" (${messageFacts(checks[0])}): ${failCount(checks[0])}.${cancelled} Select a row to open its source.`);
  const failing = checks.filter((c) => c.requirements.some((r) => r.status === 'fail')).length;
  const verdict = failing === 0 ? `no message fails (${checks.length} checked)` : `${failing} of ${checks.length} messages fail`;
  return visibleLine(`Bulk-sender requirements of "${label}": ${verdict}.${cancelled} Select a row to open its source.`);
}

/** Where the run's messages come from (RunController.sentMessages). */
export interface RunBulkSource {
  sentMessages(recordId?: string): RunSentMessages | undefined;
}

/** Registers the command; call once from `activate`. */
export function registerRunBulkCheck(context: vscode.ExtensionContext, runs: RunBulkSource, log: vscode.LogOutputChannel): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(RUN_BULK_COMMAND, async (recordId?: unknown) => {
      // The check sends DNS queries: like every network action, only in a trusted workspace.
      if (!vscode.workspace.isTrusted) {
        void vscode.window.showWarningMessage('Checking the bulk-sender requirements sends DNS queries, which SMTP Workbench does not do from an untrusted workspace.');
        return;
      }
      const run = runs.sentMessages(typeof recordId === 'string' ? recordId : undefined);
      if (!run) {
        void vscode.window.showInformationMessage(
          typeof recordId === 'string'
            ? 'The messages of this run are no longer at hand: they are kept in memory for the last runs of this window only, never stored. Run it again to check them.'
            : 'No run in this window has sent a message yet. Run a session that sends one (DATA or BDAT), then check it.',
        );
        return;
      }
      const tools = emlTools();
      const dns = (vscode.workspace.getConfiguration('smtp').get<string>('dns.server') ?? '').trim();
      if (dns !== '' && tools.parseDnsServer(dns) === undefined) {
        void vscode.window.showErrorMessage(`Cannot check the bulk-sender requirements: the DNS server setting "${visibleLine(dns)}" must be ${DNS_SERVER_FORMAT}.`);
        return;
      }
      const count = run.sessions.reduce((n, s) => n + s.sent.length, 0);
      if (count === 0) {
        // The run sent messages (else there would be no run here), but none was small enough to keep.
        void vscode.window.showInformationMessage(
          visibleLine(`The messages "${run.label}" sent are too large to keep in memory for the check (a run keeps ${SENT_BYTES_KEPT / (1024 * 1024)} MiB of them at most), so none was checked. Check a message as it arrived: send it to the Local Inbox and use "Check Bulk-Sender Requirements" there, or run smtpwb run --bulk.`),
        );
        return;
      }
      let sessions: SessionBulkChecks[];
      try {
        sessions = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: visibleLine(`Checking ${count} message${count === 1 ? '' : 's'} of "${run.label}" against the bulk-sender requirements`), cancellable: true },
          async (progress, token) => {
            // One I/O for the whole check, so each DNS question is asked once across its messages.
            const io = bulkCheckIo(tools, dns === '' ? undefined : dns);
            const stop = new AbortController();
            const cancelling = token.onCancellationRequested(() => stop.abort());
            if (token.isCancellationRequested) stop.abort();
            try {
              const out: SessionBulkChecks[] = [];
              let done = 0;
              for (const s of run.sessions) {
                const before = done;
                const checks = await checkSentMessages(s.sent, io, {
                  secrets: s.secrets,
                  signal: stop.signal,
                  onChecked: (n) => {
                    done = before + n;
                    progress.report({ message: `${done} of ${count}`, increment: 100 / count });
                  },
                });
                done = before + checks.length;
                out.push({ title: s.title, checks, truncated: s.truncated, ...(checks.length < s.sent.length ? { unchecked: s.sent.length - checks.length } : {}) });
              }
              return out;
            } finally {
              cancelling.dispose();
            }
          },
        );
      } catch (error) {
        void vscode.window.showErrorMessage(`Cannot check the bulk-sender requirements: ${visibleLine(error instanceof Error ? error.message : String(error))}`);
        return;
      }
      const unchecked = sessions.reduce((n, s) => n + (s.unchecked ?? 0), 0);
      if (unchecked === count) {
        log.info(visibleLine(`bulk-sender requirements of the run "${run.label}" (${run.fileName}): cancelled before any message was checked`));
        void vscode.window.showInformationMessage(visibleLine(`The bulk-sender check of "${run.label}" was cancelled before any message was checked.`));
        return;
      }
      log.info(visibleLine(`bulk-sender requirements of the run "${run.label}" (${run.fileName})${unchecked > 0 ? `: cancelled, ${unchecked} of ${count} messages not checked` : ''}:`));
      for (const s of sessions) {
        const lines = s.checks.length > 0 ? formatRunBulkText(s.checks).replace(/\n$/, '').split('\n') : [];
        if (s.unchecked) lines.push(`=== ${notChecked(s.unchecked)} (cancelled)`);
        for (const line of lines) log.info(`  ${line}`);
      }
      const items = runBulkRows(sessions).map((row) =>
        row.kind === 'heading'
          ? { label: row.label, kind: vscode.QuickPickItemKind.Separator, link: undefined }
          : { label: row.label, description: row.description, detail: row.detail, link: row.link },
      );
      const picked = await vscode.window.showQuickPick(items, { title: runBulkTitle(run.label, sessions), matchOnDescription: true, matchOnDetail: true, ignoreFocusOut: true });
      if (picked?.link) await vscode.commands.executeCommand('vscode.open', vscode.Uri.parse(picked.link));
    }),
  );
}
