/**
 * What the `.eml` language service knows of header fields: where each is defined, whether it may
 * occur only once in a message (RFC 5322 §3.6, table at the end of the section), and how its value
 * is structured so the linter knows which parser to apply.
 */

/** How a field's value is parsed. */
export type HeaderKind =
  | 'unstructured'
  | 'date'
  | 'mailbox-list'
  | 'mailbox'
  | 'address-list'
  | 'msg-id'
  | 'msg-id-list'
  | 'mime-version'
  | 'content-type'
  | 'content-disposition'
  | 'cte'
  | 'received'
  | 'dkim'
  | 'auth-results'
  | 'arc-seal'
  | 'arc-message-signature'
  | 'arc-auth-results'
  | 'other';

export interface HeaderFact {
  /** The canonical spelling of the name. */
  readonly name: string;
  readonly rfc: number;
  readonly section: string;
  /** True when RFC 5322 §3.6 allows the field at most once. */
  readonly once?: boolean;
  /** True when RFC 5322 §3.6 requires the field. */
  readonly required?: boolean;
  readonly kind: HeaderKind;
  /** One sentence saying what the field is for. */
  readonly description: string;
}

const HEADER_FACTS: readonly HeaderFact[] = [
  { name: 'Date', rfc: 5322, section: '3.6.1', once: true, required: true, kind: 'date', description: 'The origination date: when the author indicated the message was complete and ready to be sent.' },
  { name: 'From', rfc: 5322, section: '3.6.2', once: true, required: true, kind: 'mailbox-list', description: 'The author or authors of the message.' },
  { name: 'Sender', rfc: 5322, section: '3.6.2', once: true, kind: 'mailbox', description: 'The mailbox of the agent responsible for the actual transmission; required when From lists several mailboxes.' },
  { name: 'Reply-To', rfc: 5322, section: '3.6.2', once: true, kind: 'address-list', description: 'Where the author suggests replies be sent.' },
  { name: 'To', rfc: 5322, section: '3.6.3', once: true, kind: 'address-list', description: 'The primary recipients of the message.' },
  { name: 'Cc', rfc: 5322, section: '3.6.3', once: true, kind: 'address-list', description: 'Recipients who receive a copy of the message without being its primary recipients.' },
  { name: 'Bcc', rfc: 5322, section: '3.6.3', once: true, kind: 'address-list', description: 'Recipients whose addresses are not to be revealed to the other recipients; usually removed before transmission.' },
  { name: 'Message-ID', rfc: 5322, section: '3.6.4', once: true, kind: 'msg-id', description: 'A worldwide unique identifier of this version of the message.' },
  { name: 'In-Reply-To', rfc: 5322, section: '3.6.4', once: true, kind: 'msg-id-list', description: 'The Message-ID of the message or messages this one replies to.' },
  { name: 'References', rfc: 5322, section: '3.6.4', once: true, kind: 'msg-id-list', description: 'The Message-IDs of the thread this message belongs to, oldest first.' },
  { name: 'Subject', rfc: 5322, section: '3.6.5', once: true, kind: 'unstructured', description: 'A short string identifying the topic of the message.' },
  { name: 'Comments', rfc: 5322, section: '3.6.5', kind: 'unstructured', description: 'Additional comments on the text of the body.' },
  { name: 'Keywords', rfc: 5322, section: '3.6.5', kind: 'other', description: 'A comma-separated list of important words and phrases.' },
  { name: 'Resent-Date', rfc: 5322, section: '3.6.6', kind: 'date', description: 'When a message was reintroduced into the transport system by a user.' },
  { name: 'Resent-From', rfc: 5322, section: '3.6.6', kind: 'mailbox-list', description: 'Who reintroduced the message.' },
  { name: 'Resent-Sender', rfc: 5322, section: '3.6.6', kind: 'mailbox', description: 'The agent that reintroduced the message on behalf of Resent-From.' },
  { name: 'Resent-To', rfc: 5322, section: '3.6.6', kind: 'address-list', description: 'The recipients of the resent message.' },
  { name: 'Resent-Cc', rfc: 5322, section: '3.6.6', kind: 'address-list', description: 'The copy recipients of the resent message.' },
  { name: 'Resent-Bcc', rfc: 5322, section: '3.6.6', kind: 'address-list', description: 'The blind copy recipients of the resent message.' },
  { name: 'Resent-Message-ID', rfc: 5322, section: '3.6.6', kind: 'msg-id', description: 'The identifier of the resent message.' },
  { name: 'Return-Path', rfc: 5322, section: '3.6.7', kind: 'other', description: 'The reverse-path (envelope sender) added by the final delivery agent.' },
  { name: 'Received', rfc: 5321, section: '4.4', kind: 'received', description: 'A trace record added by each SMTP server that relayed the message, newest at the top.' },
  { name: 'MIME-Version', rfc: 2045, section: '4', once: true, kind: 'mime-version', description: 'Declares that the message follows MIME; the only defined value is 1.0.' },
  { name: 'Content-Type', rfc: 2045, section: '5', once: true, kind: 'content-type', description: 'The media type of the body, with parameters such as charset and boundary.' },
  { name: 'Content-Transfer-Encoding', rfc: 2045, section: '6', once: true, kind: 'cte', description: 'How the body is encoded for transport: 7bit, 8bit, binary, quoted-printable or base64.' },
  { name: 'Content-ID', rfc: 2045, section: '7', once: true, kind: 'msg-id', description: 'A unique identifier of a body part, used by cid: URLs in HTML.' },
  { name: 'Content-Description', rfc: 2045, section: '8', once: true, kind: 'unstructured', description: 'A human-readable description of a body part.' },
  { name: 'Content-Disposition', rfc: 2183, section: '2', once: true, kind: 'content-disposition', description: 'Whether a part is shown inline or as an attachment, and its file name.' },
  { name: 'Content-Language', rfc: 3282, section: '2', kind: 'other', description: 'The language of the content, as language tags.' },
  { name: 'DKIM-Signature', rfc: 6376, section: '3.5', kind: 'dkim', description: 'A DomainKeys Identified Mail signature: the signing domain vouches for the listed header fields and the body.' },
  { name: 'Authentication-Results', rfc: 8601, section: '2', kind: 'auth-results', description: 'The results of authentication checks (SPF, DKIM, DMARC, …) made by a server in the same administrative domain.' },
  { name: 'ARC-Seal', rfc: 8617, section: '4.1.3', kind: 'arc-seal', description: 'Seals an ARC set and the chain before it; cv= states the validation of the previous chain.' },
  { name: 'ARC-Message-Signature', rfc: 8617, section: '4.1.2', kind: 'arc-message-signature', description: 'A DKIM-like signature of the message as an intermediary saw it.' },
  { name: 'ARC-Authentication-Results', rfc: 8617, section: '4.1.1', kind: 'arc-auth-results', description: 'A copy of the Authentication-Results an intermediary saw, with its instance number.' },
  { name: 'Received-SPF', rfc: 7208, section: '9.1', kind: 'other', description: 'The result of an SPF check recorded by the receiver.' },
  { name: 'List-Unsubscribe', rfc: 2369, section: '3.2', kind: 'other', description: 'URLs (in angle brackets) that unsubscribe the recipient from the list.' },
  { name: 'List-Unsubscribe-Post', rfc: 8058, section: '3.1', kind: 'other', description: 'Signals that the HTTPS List-Unsubscribe URL supports one-click unsubscription by POST.' },
  { name: 'List-Id', rfc: 2919, section: '2', kind: 'other', description: 'The identifier of the mailing list the message was sent through.' },
  { name: 'Auto-Submitted', rfc: 3834, section: '5', kind: 'other', description: 'Marks automatically generated or auto-replied messages.' },
  { name: 'Disposition-Notification-To', rfc: 8098, section: '2.1', kind: 'mailbox-list', description: 'Requests a read receipt (message disposition notification).' },
  { name: 'Thread-Index', rfc: 5322, section: '3.6.8', kind: 'other', description: 'A Microsoft Outlook threading field (not standardised; an optional field).' },
  { name: 'Thread-Topic', rfc: 5322, section: '3.6.8', kind: 'unstructured', description: 'A Microsoft Outlook threading field holding the original subject (an optional field).' },
  { name: 'User-Agent', rfc: 5322, section: '3.6.8', kind: 'unstructured', description: 'The program that wrote the message (an optional field, not standardised).' },
  { name: 'X-Mailer', rfc: 5322, section: '3.6.8', kind: 'unstructured', description: 'The program that wrote the message (an optional field, not standardised).' },
];

const BY_NAME = new Map(HEADER_FACTS.map((f) => [f.name.toLowerCase(), f]));

/** Returns what is known of a header field name, case-insensitively. */
export function headerFact(name: string): HeaderFact | undefined {
  return BY_NAME.get(name.toLowerCase());
}
