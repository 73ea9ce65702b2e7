/**
 * SASL mechanisms seen in the AUTH keyword of EHLO replies (RFC 4954 §3), and what SMTP Workbench
 * knows of each: where it is specified, whether the engine performs it, and whether it puts the
 * password on the wire in a form anyone reading the connection can recover.
 */
import { rfcLink } from '../../../common/problem';

export interface AuthMechanismFact {
  /** The mechanism name as registered with IANA, upper case. */
  readonly name: string;
  /** The RFC that specifies the mechanism; absent for mechanisms defined outside the RFC series. */
  readonly rfc?: number;
  readonly section: string;
  /** A link to the specification. */
  readonly link: string;
  readonly summary: string;
  /** Whether the engine performs the exchange (`AUTH MECHANISM user secret`). */
  readonly performed: boolean;
  /**
   * Whether the exchange carries the password, or a bearer token, in a form that anyone who reads
   * the connection can reuse; such mechanisms must only be used over TLS (RFC 4954 §4).
   */
  readonly cleartext: boolean;
  /** Set for mechanisms that should no longer be used. */
  readonly deprecated?: boolean;
  readonly notes: readonly string[];
}

const FACTS: AuthMechanismFact[] = [
  {
    name: 'PLAIN',
    rfc: 4616,
    section: '2',
    link: rfcLink(4616, '2'),
    summary: 'Sends the authorization identity, user name and password in one base64 message.',
    performed: true,
    cleartext: true,
    notes: ['Base64 is an encoding, not encryption: PLAIN must only be used over TLS (RFC 4616).'],
  },
  {
    name: 'LOGIN',
    section: '',
    link: 'https://datatracker.ietf.org/doc/html/draft-murchison-sasl-login-00',
    summary: 'Sends the user name and then the password, each base64-encoded, in answer to "Username:" and "Password:" challenges.',
    performed: true,
    cleartext: true,
    deprecated: true,
    notes: ['LOGIN was never standardised (draft-murchison-sasl-login); prefer PLAIN, and use either only over TLS.'],
  },
  {
    name: 'CRAM-MD5',
    rfc: 2195,
    section: '2',
    link: rfcLink(2195, '2'),
    summary: 'Answers a server challenge with the user name and an HMAC-MD5 of the challenge keyed by the password.',
    performed: true,
    cleartext: false,
    deprecated: true,
    notes: [
      'The password is not sent, but a recorded exchange allows an offline dictionary attack, and the server must store the password in a reusable form (RFC 2195).',
      'CRAM-MD5 was moved to Historic status; prefer PLAIN over TLS or SCRAM.',
    ],
  },
  {
    name: 'XOAUTH2',
    section: '',
    link: 'https://developers.google.com/workspace/gmail/imap/xoauth2-protocol',
    summary: "Google's and Microsoft's OAuth 2.0 mechanism: sends the user and an OAuth access token in one base64 message.",
    performed: true,
    cleartext: true,
    notes: ['The access token is a bearer credential: anyone who reads it can use it until it expires, so XOAUTH2 must only be used over TLS.', 'OAUTHBEARER (RFC 7628) is the standard successor.'],
  },
  {
    name: 'OAUTHBEARER',
    rfc: 7628,
    section: '3',
    link: rfcLink(7628, '3'),
    summary: 'The standard OAuth 2.0 bearer token mechanism.',
    performed: false,
    cleartext: true,
    notes: ['Like XOAUTH2 it carries a bearer token and requires TLS (RFC 7628).'],
  },
  {
    name: 'SCRAM-SHA-1',
    rfc: 5802,
    section: '3',
    link: rfcLink(5802, '3'),
    summary: 'Salted Challenge Response Authentication: proves knowledge of the password without sending it, and authenticates the server too.',
    performed: false,
    cleartext: false,
    notes: [],
  },
  {
    name: 'SCRAM-SHA-256',
    rfc: 7677,
    section: '3',
    link: rfcLink(7677, '3'),
    summary: 'SCRAM with SHA-256 instead of SHA-1.',
    performed: false,
    cleartext: false,
    notes: [],
  },
  {
    name: 'EXTERNAL',
    rfc: 4422,
    section: 'A',
    link: rfcLink(4422, 'A'),
    summary: 'Authenticates with credentials established outside SASL, typically the TLS client certificate.',
    performed: false,
    cleartext: false,
    notes: [],
  },
  {
    name: 'GSSAPI',
    rfc: 4752,
    section: '3',
    link: rfcLink(4752, '3'),
    summary: 'Kerberos V5 authentication through GSS-API.',
    performed: false,
    cleartext: false,
    notes: [],
  },
  {
    name: 'ANONYMOUS',
    rfc: 4505,
    section: '2',
    link: rfcLink(4505, '2'),
    summary: 'Anonymous access, with optional trace information.',
    performed: false,
    cleartext: false,
    notes: [],
  },
  {
    name: 'DIGEST-MD5',
    rfc: 2831,
    section: '2',
    link: rfcLink(2831, '2'),
    summary: 'An HTTP Digest style challenge-response mechanism.',
    performed: false,
    cleartext: false,
    deprecated: true,
    notes: ['DIGEST-MD5 is Historic (RFC 6331) because of its security problems.'],
  },
];

/** Every known mechanism, keyed by its upper-case name. */
export const AUTH_MECHANISMS: ReadonlyMap<string, AuthMechanismFact> = new Map(FACTS.map((f) => [f.name, f]));

/** The mechanism of that name (case-insensitive), or undefined when it is unknown. */
export function authMechanism(name: string): AuthMechanismFact | undefined {
  return AUTH_MECHANISMS.get(name.trim().toUpperCase());
}
