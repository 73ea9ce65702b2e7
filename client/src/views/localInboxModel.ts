/**
 * The pure part of the Local Inbox view: reading its settings and turning stored messages into the
 * text of tree items, tooltips and the status bar. No `vscode` import, so it is tested directly.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { CaptureAccount, StoredMessage } from '../localServer';

/** The `smtp.localServer.*` settings as the extension reads them. */
export interface LocalServerSettings {
  host: string;
  port: number;
  /** `smtp.localServer.folder`; empty or undefined for the extension's global storage. */
  dir?: string;
  /** `smtp.localServer.auth`: `any` (or empty) for any credentials, or `user:pass`. */
  auth?: string;
}

/** Reads `smtp.localServer.auth`: any credentials, or one account, or why the value is wrong. */
export function parseAuthSetting(value: string | undefined): { ok: true; auth: 'any' | CaptureAccount } | { ok: false; message: string } {
  const text = (value ?? '').trim();
  if (text === '' || text.toLowerCase() === 'any') return { ok: true, auth: 'any' };
  const colon = text.indexOf(':');
  if (colon <= 0) return { ok: false, message: `smtp.localServer.auth must be "any" or "user:pass", not "${text}"` };
  return { ok: true, auth: { user: text.slice(0, colon), pass: text.slice(colon + 1) } };
}

/**
 * The inbox folder: the setting when given (`~` is the home folder, a relative path is taken from
 * the first workspace folder, else from the home folder), otherwise the default.
 */
export function resolveInboxFolder(setting: string | undefined, context: { defaultDir: string; workspaceFolder?: string; home?: string }): string {
  const text = (setting ?? '').trim();
  if (text === '') return context.defaultDir;
  const home = context.home ?? homedir();
  if (text === '~') return home;
  if (text.startsWith('~/') || text.startsWith('~\\')) return join(home, text.slice(2));
  if (isAbsolute(text)) return resolve(text);
  return resolve(context.workspaceFolder ?? home, text);
}

/** The item's label: the subject, or a placeholder. */
export function messageLabel(message: StoredMessage): string {
  const subject = message.subject?.trim();
  return subject === undefined || subject === '' ? '(no subject)' : subject;
}

/** The sender to show: the From field's display part, else the envelope sender. */
export function senderText(message: StoredMessage): string {
  const from = message.from?.trim();
  if (from !== undefined && from !== '') {
    // `"Alice A." <alice@example.test>` shows as `Alice A.`; a bare address as itself.
    const named = /^\s*"?([^"<]*?)"?\s*<([^>]*)>/.exec(from);
    if (named) return named[1].trim() !== '' ? named[1].trim() : named[2];
    return from;
  }
  if (message.envelope) return message.envelope.mailFrom === '' ? '<>' : message.envelope.mailFrom;
  return '(unknown sender)';
}

/** The recipients to show: the envelope's (who the message was really sent to), else the To field. */
export function recipientsText(message: StoredMessage): string {
  const rcpts = message.envelope?.rcptTo ?? [];
  if (rcpts.length === 0) return message.to ?? '';
  return rcpts.length <= 2 ? rcpts.join(', ') : `${rcpts.slice(0, 2).join(', ')} +${rcpts.length - 2}`;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** A local time: `14:03:07` today, else `2026-11-22 14:03`. */
export function timeText(date: Date, now = new Date()): string {
  const sameDay = date.getFullYear() === now.getFullYear() && date.getMonth() === now.getMonth() && date.getDate() === now.getDate();
  const hms = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return sameDay ? hms : `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${hms.slice(0, 5)}`;
}

/** The item's description: sender → recipients · time. */
export function messageDescription(message: StoredMessage, now = new Date()): string {
  const to = recipientsText(message);
  return `${senderText(message)}${to === '' ? '' : ` → ${to}`} · ${timeText(message.receivedAt, now)}`;
}

/** Escapes text for Markdown, so header values show literally. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!<>|~]/g, (c) => `\\${c}`);
}

function sizeText(octets: number): string {
  if (octets < 1024) return `${octets} octets`;
  if (octets < 1024 * 1024) return `${(octets / 1024).toFixed(1)} KiB`;
  return `${(octets / 1024 / 1024).toFixed(1)} MiB`;
}

/** The tooltip as Markdown: header fields, envelope, TLS and AUTH, size and file. */
export function messageTooltip(message: StoredMessage): string {
  const rows: Array<[string, string | undefined]> = [
    ['Subject', message.subject],
    ['From', message.from],
    ['To', message.to],
    ['Date', message.date],
  ];
  const env = message.envelope;
  if (env) {
    rows.push(
      ['MAIL FROM', `<${env.mailFrom}>${Object.keys(env.mailParameters).length > 0 ? ` ${paramText(env.mailParameters)}` : ''}`],
      ['RCPT TO', env.rcptTo.map((r) => `<${r}>`).join(', ')],
      ['Client', `${env.helo ?? '(no EHLO)'} [${env.remoteAddress}]`],
      ['TLS', env.tls ? `${env.tls.protocol ?? 'TLS'} ${env.tls.cipher}` : 'none'],
      ['AUTH', env.auth ? `${env.auth.method} as ${env.auth.username}` : 'none'],
      ['Protocol', env.transmissionType],
    );
  }
  rows.push(['Received', message.receivedAt.toISOString()], ['Size', sizeText(message.size)], ['File', message.path]);
  return rows
    .filter((row): row is [string, string] => row[1] !== undefined)
    .map(([name, value]) => `**${name}:** ${escapeMarkdown(value)}`)
    .join('  \n');
}

function paramText(params: Record<string, string | true>): string {
  return Object.entries(params)
    .map(([k, v]) => (v === true ? k : `${k}=${v}`))
    .join(' ');
}

/** The status bar text while the server runs. */
export function statusText(address: string, count: number): string {
  return `$(mail) ${address}${count > 0 ? ` (${count})` : ''}`;
}
