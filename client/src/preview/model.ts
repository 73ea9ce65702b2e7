/**
 * Turns a raw message into a preview model: a summary of the main header fields (RFC 5322 §3.6),
 * the text part, the HTML part sanitised (see sanitize.ts) and the attachments with their sizes.
 * mailparser does the MIME work (RFC 2045–2049); it is used for previews only, because it repairs
 * what it reads (an invalid Date becomes "now"), so raw field values are shown where that matters.
 */
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { sanitizeHtml, type SanitizeResult } from './sanitize';

export interface PreviewHeader {
  name: string;
  value: string;
}

export interface PreviewAttachment {
  filename: string;
  contentType: string;
  size: number;
  /** Content-ID without angle brackets (RFC 2392), when the part has one. */
  contentId?: string;
  /** Whether the part is shown inline in the HTML (a cid: image). */
  inline: boolean;
}

export interface PreviewModel {
  /** The summary fields in a fixed order: From, Sender, Reply-To, To, Cc, Bcc, Subject, Date, Message-ID. */
  headers: PreviewHeader[];
  /** Every header field as written (unfolded, decoded only as far as mailparser's header lines go). */
  allHeaders: PreviewHeader[];
  subject: string;
  text?: string;
  html?: SanitizeResult;
  attachments: PreviewAttachment[];
  remoteAllowed: boolean;
}

export interface PreviewOptions {
  /** Keep remote images and CSS (the user chose "Load remote content"). */
  allowRemote?: boolean;
  /** Largest inline image turned into a data: URL, in bytes (default 2 MB). */
  maxInlineImageBytes?: number;
}

/** Raster image types that may become data: URLs; SVG is excluded because it is a document format. */
const INLINE_IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/jpg', 'image/gif', 'image/webp', 'image/bmp', 'image/x-icon', 'image/avif']);

function addressText(value: AddressObject | AddressObject[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  const text = list.map((a) => a.text).filter((t) => t !== '').join(', ');
  return text === '' ? undefined : text;
}

/** The raw (unfolded) value of the first header line with the name, from mailparser's header lines. */
function rawHeader(mail: ParsedMail, name: string): string | undefined {
  const line = mail.headerLines.find((l) => l.key === name.toLowerCase());
  if (!line) return undefined;
  const colon = line.line.indexOf(':');
  return line.line.slice(colon + 1).replace(/\r?\n[ \t]/g, ' ').trim();
}

/** Builds the preview model of a raw message. */
export async function buildPreviewModel(raw: Buffer, options: PreviewOptions = {}): Promise<PreviewModel> {
  const allowRemote = options.allowRemote === true;
  const maxInline = options.maxInlineImageBytes ?? 2 * 1024 * 1024;
  // keepCidLinks stops mailparser from inlining every cid: part itself; the sanitiser decides.
  const mail = await simpleParser(raw, { keepCidLinks: true, skipTextToHtml: true, skipImageLinks: true });

  const headers: PreviewHeader[] = [];
  const push = (name: string, value: string | undefined): void => {
    if (value !== undefined && value !== '') headers.push({ name, value });
  };
  push('From', addressText(mail.from));
  push('Sender', rawHeader(mail, 'sender'));
  push('Reply-To', addressText(mail.replyTo));
  push('To', addressText(mail.to));
  push('Cc', addressText(mail.cc));
  push('Bcc', addressText(mail.bcc));
  push('Subject', mail.subject);
  // The Date as written: mailparser turns an invalid date into the current time.
  push('Date', rawHeader(mail, 'date'));
  push('Message-ID', mail.messageId);

  const allHeaders: PreviewHeader[] = mail.headerLines.map((l) => {
    const colon = l.line.indexOf(':');
    return { name: colon > 0 ? l.line.slice(0, colon) : l.key, value: colon > 0 ? l.line.slice(colon + 1).replace(/\r?\n[ \t]/g, ' ').trim() : '' };
  });

  const cidImages = new Map<string, string>();
  const inlineCids = new Set<string>();
  for (const att of mail.attachments) {
    const type = att.contentType.toLowerCase();
    if (att.cid && INLINE_IMAGE_TYPES.has(type) && att.content.length <= maxInline) {
      cidImages.set(att.cid.toLowerCase(), `data:${type};base64,${att.content.toString('base64')}`);
    }
  }
  let html: SanitizeResult | undefined;
  if (typeof mail.html === 'string' && mail.html !== '') {
    html = sanitizeHtml(mail.html, { allowRemote, cidImages });
    for (const cid of cidImages.keys()) if (new RegExp(`cid:<?${cid.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'i').test(mail.html)) inlineCids.add(cid);
  }

  const attachments: PreviewAttachment[] = mail.attachments.map((att, i) => {
    const a: PreviewAttachment = {
      filename: att.filename ?? `part-${att.partId ?? i + 1}`,
      contentType: att.contentType,
      size: att.size ?? att.content.length,
      inline: att.cid !== undefined && inlineCids.has(att.cid.toLowerCase()),
    };
    if (att.cid) a.contentId = att.cid;
    return a;
  });

  const model: PreviewModel = { headers, allHeaders, subject: mail.subject ?? '', attachments, remoteAllowed: allowRemote };
  if (typeof mail.text === 'string' && mail.text !== '') model.text = mail.text;
  if (html) model.html = html;
  return model;
}

/** Formats a byte count for people (1 KiB = 1024 bytes). */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
