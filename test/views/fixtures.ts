// Run records for the transcript and history tests: a realistic run and a hostile one, whose every
// string (server replies, TLS and MX details, capabilities, the script's titles) tries to break out
// of the panel's markup.
import type { RunRecord } from '../../client/src/runs/runRecord';
import type { SessionResult, TranscriptEvent } from '../../client/src/engine/types';

export const SECRET = 'hunter2-S3cr3t!"\\';

/** A realistic passing session: EHLO, STARTTLS, AUTH, one message, with TLS details. */
export function goodSession(overrides: Partial<SessionResult> = {}): SessionResult {
  const ev = (t: number, dir: TranscriptEvent['dir'], text: string): TranscriptEvent => ({ t, dir, text, bytes: dir === 'client' || dir === 'server' ? text.length + 2 : 0 });
  return {
    file: '/work/examples/submit.smtp',
    title: 'Submit a message over STARTTLS',
    line: 2,
    ok: true,
    steps: [
      { line: 4, command: '(greeting)', reply: { code: 220, lines: ['220 mx.example.net ESMTP ready'] }, ok: true, expected: '220', durationMs: 21.4 },
      { line: 5, command: 'EHLO client.example.org', reply: { code: 250, lines: ['250-mx.example.net', '250-PIPELINING', '250-SIZE 35882577', '250-STARTTLS', '250 8BITMIME'] }, ok: true, expected: '250', durationMs: 3.2 },
      { line: 6, command: 'STARTTLS', reply: { code: 220, enhanced: '2.0.0', lines: ['220 2.0.0 Ready to start TLS'] }, ok: true, expected: '220', durationMs: 2.1 },
      { line: 8, command: 'AUTH PLAIN ********', reply: { code: 235, enhanced: '2.7.0', lines: ['235 2.7.0 Authentication successful'] }, ok: true, expected: '235', durationMs: 8.7 },
      { line: 9, command: 'MAIL FROM:<alice@example.org>', reply: { code: 250, enhanced: '2.1.0', lines: ['250 2.1.0 Ok'] }, ok: true, expected: '2xx', durationMs: 1.3 },
      { line: 10, command: 'RCPT TO:<bob@example.net>', reply: { code: 250, enhanced: '2.1.5', lines: ['250 2.1.5 Ok'] }, ok: true, expected: '2xx', durationMs: 1.1 },
      { line: 11, command: 'DATA', reply: { code: 250, enhanced: '2.0.0', lines: ['250 2.0.0 Ok: queued as 4XyZ1'] }, replies: [{ code: 354, lines: ['354 End data with <CR><LF>.<CR><LF>'] }], ok: true, expected: '250', durationMs: 12.9 },
      { line: 18, command: 'QUIT', reply: { code: 221, enhanced: '2.0.0', lines: ['221 2.0.0 Bye'] }, ok: true, expected: '221', durationMs: 0.9 },
    ],
    transcript: [
      ev(0, 'info', 'connecting to mx.example.net [192.0.2.25]:587'),
      ev(4.2, 'info', 'connected'),
      ev(21.4, 'server', '220 mx.example.net ESMTP ready'),
      ev(21.9, 'client', 'EHLO client.example.org'),
      ev(25.1, 'server', '250-mx.example.net\n250-PIPELINING\n250-SIZE 35882577\n250-STARTTLS\n250 8BITMIME'),
      ev(25.4, 'client', 'STARTTLS'),
      ev(27.5, 'server', '220 2.0.0 Ready to start TLS'),
      ev(41.0, 'tls', 'TLS started (STARTTLS, RFC 3207): TLSv1.3 TLS_AES_256_GCM_SHA384'),
      ev(41.1, 'tls', 'certificate verified for mx.example.net'),
      ev(41.5, 'client', 'EHLO client.example.org'),
      ev(44.0, 'server', '250-mx.example.net\n250-PIPELINING\n250-SIZE 35882577\n250-AUTH PLAIN LOGIN\n250 8BITMIME'),
      ev(44.3, 'client', 'AUTH PLAIN ********'),
      ev(53.0, 'server', '235 2.7.0 Authentication successful'),
      ev(53.4, 'client', 'MAIL FROM:<alice@example.org>'),
      ev(54.7, 'server', '250 2.1.0 Ok'),
      ev(54.9, 'client', 'RCPT TO:<bob@example.net>'),
      ev(56.0, 'server', '250 2.1.5 Ok'),
      ev(56.2, 'client', 'DATA'),
      ev(57.1, 'server', '354 End data with <CR><LF>.<CR><LF>'),
      ev(57.6, 'client', 'From: Alice <alice@example.org>\nTo: Bob <bob@example.net>\nSubject: Hello\n\nHi Bob,\nthis is a test.\n.'),
      ev(69.1, 'server', '250 2.0.0 Ok: queued as 4XyZ1'),
      ev(69.4, 'client', 'QUIT'),
      ev(70.3, 'server', '221 2.0.0 Bye'),
      ev(70.5, 'info', 'connection closed'),
    ],
    target: { scheme: 'smtp', host: 'mx.example.net', address: '192.0.2.25', port: 587, lmtp: false },
    tls: {
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_256_GCM_SHA384',
      mode: 'starttls',
      servername: 'mx.example.net',
      subject: 'CN=mx.example.net',
      issuer: "C=US, O=Let's Encrypt, CN=R11",
      subjectAltNames: ['DNS:mx.example.net', 'DNS:smtp.example.net'],
      validFrom: 'Oct  1 00:00:00 2026 GMT',
      validTo: 'Dec 30 23:59:59 2026 GMT',
      fingerprint256: 'AB:CD:EF:01:23:45:67:89',
      verified: true,
      verifyDisabled: false,
    },
    capabilities: { keywords: { PIPELINING: [], SIZE: ['35882577'], AUTH: ['PLAIN', 'LOGIN'], '8BITMIME': [] }, size: 35882577, authMechanisms: ['PLAIN', 'LOGIN'] },
    timings: { connectMs: 4.2, greetingMs: 17.2, totalMs: 70.5 },
    ...overrides,
  };
}

/** A session that fails at RCPT, reached through MX. */
export function failingSession(): SessionResult {
  const base = goodSession();
  return {
    ...base,
    title: 'Unknown recipient is refused',
    line: 21,
    ok: false,
    failure: { kind: 'expectation', message: 'RCPT TO:<nobody@example.net>: expected 250, got 550 5.1.1 User unknown', line: 27 },
    steps: [
      base.steps[0],
      { ...base.steps[1], line: 24 },
      { line: 26, command: 'MAIL FROM:<alice@example.org>', reply: { code: 250, lines: ['250 2.1.0 Ok'] }, ok: true, expected: '250', durationMs: 1.2 },
      { line: 27, command: 'RCPT TO:<nobody@example.net>', reply: { code: 550, enhanced: '5.1.1', lines: ['550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown'] }, ok: false, expected: '250', message: 'expected 250, got 550', durationMs: 2.4 },
    ],
    transcript: [
      { t: 0, dir: 'info', text: 'MX for example.net: 10 mx.example.net, 20 backup.example.net', bytes: 0 },
      { t: 0.8, dir: 'error', text: 'backup.example.net [192.0.2.26]:25: connect ECONNREFUSED', bytes: 0 },
      { t: 3.9, dir: 'server', text: '220 mx.example.net ESMTP', bytes: 26 },
      { t: 4.1, dir: 'client', text: 'EHLO client.example.org', bytes: 25 },
      { t: 6.0, dir: 'server', text: '250-mx.example.net\n250 PIPELINING', bytes: 36 },
      { t: 6.3, dir: 'client', text: 'MAIL FROM:<alice@example.org>', bytes: 31 },
      { t: 7.5, dir: 'server', text: '250 2.1.0 Ok', bytes: 14 },
      { t: 7.7, dir: 'client', text: 'RCPT TO:<nobody@example.net>', bytes: 30 },
      { t: 10.1, dir: 'server', text: '550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown', bytes: 74 },
      { t: 10.2, dir: 'error', text: 'expectation failed at line 28: expected 250, got 550', bytes: 0 },
    ],
    target: { scheme: 'smtp', host: 'mx.example.net', address: '192.0.2.25', port: 25, lmtp: false },
    tls: undefined,
    mx: {
      domain: 'example.net',
      candidates: [
        { host: 'backup.example.net', preference: 20, implicit: false },
        { host: 'mx.example.net', preference: 10, implicit: false },
      ],
      attempts: [
        { host: 'backup.example.net', address: '192.0.2.26', port: 25, error: 'connect ECONNREFUSED' },
        { host: 'mx.example.net', address: '192.0.2.25', port: 25 },
      ],
      chosen: { host: 'mx.example.net', address: '192.0.2.25', port: 25 },
    },
    timings: { connectMs: 3.1, greetingMs: 0.8, totalMs: 10.2 },
  };
}

export function record(overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    id: '6c1f3a57-0d8e-4a8e-9a55-3f1b2c9d0e11',
    startedAt: '2026-11-23T04:42:01.123Z',
    uri: 'file:///work/examples/submit.smtp',
    fileName: 'submit.smtp',
    label: 'All sessions',
    sessionIndexes: [0, 1],
    status: 'failed',
    sessions: [goodSession(), failingSession()],
    durationMs: 83.2,
    environment: 'staging',
    ...overrides,
  };
}

/** Strings that would run script, fetch or restyle if they reached the markup unescaped. `REMOTE` is replaced by a URL. */
export const HOSTILE = [
  '<script>alert(1);window.__pwned=1</script>',
  '<img src=REMOTE/img onerror="alert(2);window.__pwned=2">',
  '"><svg onload=alert(3)>',
  "'><svg/onload=window.__pwned=3>",
  'javascript:alert(4)',
  '</style><script>window.__pwned=5</script>',
  '</title><script>window.__pwned=6</script>',
  '<iframe src=REMOTE/iframe></iframe>',
  '<meta http-equiv="refresh" content="0;url=REMOTE/refresh">',
  '<base href="REMOTE/base/">',
  '<link rel=stylesheet href=REMOTE/css>',
  '<a href="javascript:window.__pwned=7">click me</a>',
  '<style>body{background:url(REMOTE/bg)}</style>',
  '<!-- <textarea> ]]> &lt; &amp;',
  'NUL\u0000BEL\u0007ESC\u001b[31mred\u001b[0m DEL\u007f',
  'bidi \u202Eevil.exe\u202C zero\u200Bwidth \u2066iso\u2069',
];

export function hostileText(remote: string): string {
  return HOSTILE.map((h) => h.replace(/REMOTE/g, remote)).join(' ');
}

/** A run whose every string is hostile; `hugeLine` adds a 1 MB server line. */
export function hostileRecord(remote: string, options: { hugeLine?: boolean } = {}): RunRecord {
  const h = hostileText(remote);
  const good = goodSession();
  const events: TranscriptEvent[] = [
    { t: 0, dir: 'info', text: `connecting ${h}`, bytes: 0 },
    { t: 1.5, dir: 'server', text: `220 ${h}`, bytes: 300 },
    { t: 2, dir: 'client', text: 'EHLO <script>window.__pwned=8</script>', bytes: 40 },
    { t: 3, dir: 'server', text: HOSTILE.map((x) => `250-${x.replace(/REMOTE/g, remote)}`).join('\n') + '\n250 OK', bytes: 500 },
    { t: 4, dir: 'tls', text: `TLS ${h}`, bytes: 0 },
    { t: 5, dir: 'error', text: `error ${h}`, bytes: 0 },
  ];
  if (options.hugeLine) events.push({ t: 6, dir: 'server', text: `250 ${'<img src=x onerror=alert(9)>'.repeat(Math.ceil(1_048_576 / 28))}`, bytes: 1_048_576 });
  const session: SessionResult = {
    ...good,
    title: `Title ${h}`,
    name: `name ${h}`,
    ok: false,
    failure: { kind: 'protocol', message: `failure ${h}`, line: 3 },
    steps: [
      { line: 1, command: `(greeting) ${h}`, reply: { code: 220, enhanced: '<b>', lines: [`220 ${h}`] }, ok: true, expected: `220 ${h}`, durationMs: 1 },
      { line: 3, command: 'EHLO x', reply: { code: 250, lines: [`250 ${h}`] }, replies: [{ code: 250, lines: [h] }], ok: false, expected: '250', message: `message ${h}`, durationMs: 2 },
    ],
    transcript: events,
    target: { scheme: 'smtp', host: `host ${h}`, address: `addr ${h}`, port: 25, lmtp: false },
    tls: {
      protocol: `TLSv1.3 ${h}`,
      cipher: `cipher ${h}`,
      mode: 'starttls',
      servername: `sn ${h}`,
      subject: `CN=${h}`,
      issuer: `CN=issuer ${h}`,
      subjectAltNames: [`DNS:${h}`, 'DNS:<svg onload=alert(10)>'],
      validFrom: `from ${h}`,
      validTo: `to ${h}`,
      fingerprint256: `fp ${h}`,
      verified: false,
      verifyError: `ERR ${h}`,
      verifyDisabled: false,
    },
    mx: {
      domain: `domain ${h}`,
      candidates: [{ host: `mx ${h}`, preference: 10, implicit: false }],
      attempts: [{ host: `mx ${h}`, address: `a ${h}`, port: 25, error: `err ${h}` }],
      chosen: { host: `chosen ${h}`, address: `b ${h}`, port: 25 },
    },
    capabilities: { keywords: { [`KEY${h}`]: [`v ${h}`] }, authMechanisms: [] },
    repeat: { transactions: 10, delivered: 9, elapsedMs: 500, perSecond: 18 },
  };
  return record({
    id: `id"><img src=x onerror=alert(11)>`,
    label: `Label ${h}`,
    fileName: `file ${h}.smtp`,
    environment: `env ${h}`,
    error: `error ${h}`,
    sessions: [session],
    sessionIndexes: [0],
  });
}
