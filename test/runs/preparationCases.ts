/**
 * The cases of the one run preparation, shared by every front end's test: the pure module
 * (test/runs/runPreparation.test.ts), the CLI process (`smtpwb run --dry-run --json`) and the
 * editor's run path. Each case is a script folder, a request, and the decisions expected (a subset
 * of `PreparationSummary` per selected session, in order).
 */
import type { PreparationSummary } from '../../client/src/runs/runPreparation';

export interface PreparationRequest {
  sessions?: string[];
  all?: boolean;
  vars?: Record<string, string>;
  /** The environment to select (smtp.environments). */
  env?: string;
  /** CLI `--timeout`, in seconds (the editor's settings give the same value per phase). */
  timeoutSeconds?: number;
}

export interface PreparationCase {
  name: string;
  /** The script, written as `script.smtp`. */
  script: string;
  /** Other files beside the script (`.env`, `smtpwb.json`). */
  files?: Record<string, string>;
  /** The process environment (secrets as SMTPWB_SECRET_*, `$env` values). */
  processEnv?: Record<string, string>;
  request: PreparationRequest;
  /** One entry per selected session; only the fields given are compared. */
  expect: Array<Partial<PreparationSummary> & { codes?: string[] }>;
}

const TWO_SESSIONS = `### good session
# @name good
CONNECT smtp://127.0.0.1:2525
EHLO a.example.test
QUIT

### bad session
# @name bad
EHLO
DATA
`;

export const PREPARATION_CASES: PreparationCase[] = [
  {
    name: 'errors in another session do not block the one asked for',
    script: TWO_SESSIONS,
    request: { sessions: ['good'] },
    expect: [{ name: 'good', status: 'ready', commands: ['EHLO a.example.test', 'QUIT'], needsLocal: false, connect: 'smtp://127.0.0.1:2525' }],
  },
  {
    name: 'the session with errors is blocked by its own problems',
    script: TWO_SESSIONS,
    request: { sessions: ['bad'] },
    expect: [{ name: 'bad', status: 'blocked', reason: 'script', codes: ['smtp-syntax-argument', 'smtp-data-unterminated', 'smtp-order-data-before-rcpt'] }],
  },
  {
    name: '--all: each session is judged on its own',
    script: TWO_SESSIONS,
    request: { all: true },
    expect: [
      { name: 'good', status: 'ready' },
      { name: 'bad', status: 'blocked', reason: 'script' },
    ],
  },
  {
    name: 'an error among the file variables blocks every session',
    script: '@server = smtp://{{host}}:2525\n\n### one\n# @name one\nCONNECT {{server}}\nEHLO a.example.test\nQUIT\n',
    request: {},
    expect: [{ name: 'one', status: 'blocked', reason: 'script' }],
  },
  {
    name: 'advice about the message body does not block (a probe may send a malformed message)',
    script: '### probe\nEHLO a.example.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\nSubject: no From\n\nhi\n.\nQUIT\n',
    request: {},
    expect: [{ status: 'ready', needsLocal: true, commands: ['EHLO a.example.test', 'MAIL FROM:<a@example.test>', 'RCPT TO:<b@example.test>', 'DATA', 'QUIT'] }],
  },
  {
    name: '.env: " #" starts a comment in an unquoted value',
    script: '### greet\nEHLO {{$dotenv greeting}}\nQUIT\n',
    files: { '.env': 'greeting=hello # a comment\n' },
    request: {},
    expect: [{ status: 'ready', commands: ['EHLO hello', 'QUIT'] }],
  },
  {
    name: '.env: quoted values keep "#", and a "#" inside a word is no comment',
    script: '### greet\nEHLO {{$dotenv quoted}}\nNOOP {{$dotenv word}}\nQUIT\n',
    files: { '.env': 'quoted="hello # kept" # this goes\nword=a#b\n' },
    request: {},
    expect: [{ status: 'ready', commands: ['EHLO hello # kept', 'NOOP a#b', 'QUIT'] }],
  },
  {
    name: 'environments: $shared, then the environment, then --var; numbers and booleans are text',
    script: '### env\nCONNECT smtp://{{host}}:{{port}}\nEHLO {{helo}}\nNOOP {{flag}}\nQUIT\n',
    files: {
      'smtpwb.json': `{
  // JSON with comments, as VS Code's settings.
  "smtp.environments": {
    "$shared": { "port": 2525, "helo": "shared.example.test", "flag": true, "nothing": null },
    "dev": { "host": "127.0.0.1", "helo": "dev.example.test" },
  },
}`,
    },
    request: { env: 'dev', vars: { helo: 'cli.example.test' } },
    expect: [{ status: 'ready', connect: 'smtp://127.0.0.1:2525', needsLocal: false, commands: ['EHLO cli.example.test', 'NOOP true', 'QUIT'] }],
  },
  {
    name: "timeouts: the script's # @timeout wins over --timeout, which wins over the defaults",
    script: '### slow\n# @timeout greeting=7 data-end=9\nEHLO a.example.test\nQUIT\n',
    request: { timeoutSeconds: 3 },
    expect: [
      {
        status: 'ready',
        timeouts: { connect: 3000, greeting: 7000, command: 3000, mail: 3000, rcpt: 3000, dataInit: 3000, dataBlock: 3000, dataTermination: 9000, tls: 3000 },
      },
    ],
  },
  {
    name: 'timeouts: without --timeout, the defaults of RFC 5321 §4.5.3.2',
    script: '### plain\nEHLO a.example.test\nQUIT\n',
    request: {},
    expect: [
      {
        status: 'ready',
        timeouts: { connect: 30000, greeting: 300000, command: 300000, mail: 300000, rcpt: 300000, dataInit: 120000, dataBlock: 180000, dataTermination: 600000, tls: 60000 },
      },
    ],
  },
  {
    name: 'the capture server is needed without CONNECT and for CONNECT local',
    script: '### none\n# @name none\nEHLO a.example.test\nQUIT\n\n### local\n# @name local\nCONNECT local\nEHLO a.example.test\nQUIT\n\n### remote\n# @name remote\nCONNECT smtp://192.0.2.1:25\nEHLO a.example.test\nQUIT\n',
    request: { all: true },
    expect: [
      { name: 'none', needsLocal: true },
      { name: 'local', needsLocal: true },
      { name: 'remote', needsLocal: false },
    ],
  },
  {
    name: '$prompt: --var answers it',
    script: '### ask\nEHLO {{$prompt greeting}}\nQUIT\n',
    request: { vars: { greeting: 'typed.example.test' } },
    expect: [{ status: 'ready', commands: ['EHLO typed.example.test', 'QUIT'] }],
  },
  {
    name: '$prompt: without a value and without a way to ask, the session is blocked and says which prompt',
    script: '### ask\nEHLO {{$prompt greeting}}\nQUIT\n',
    request: {},
    expect: [{ status: 'blocked', reason: 'variables', missingPrompts: ['greeting'] }],
  },
  {
    name: '$prompt is not asked for a session that fails on another value anyway',
    script: '### ask\nEHLO {{$prompt greeting}}\nNOOP {{$env SMTPWB_TEST_UNSET_VARIABLE}}\nQUIT\n',
    request: {},
    expect: [{ status: 'blocked', reason: 'variables', codes: ['variable'] }],
  },
  {
    name: 'secrets come from SMTPWB_SECRET_* and are masked in every decision',
    script: '### auth\n# @allow-cleartext-auth\nCONNECT smtp://127.0.0.1:2525\nEHLO a.example.test\nAUTH PLAIN user {{$secret smtp-password}}\nNOOP {{$secret smtp-password}}\nQUIT\n',
    processEnv: { SMTPWB_SECRET_SMTP_PASSWORD: 'hunter2-secret' },
    request: {},
    expect: [{ status: 'ready', commands: ['EHLO a.example.test', 'AUTH PLAIN user ********', 'NOOP ********', 'QUIT'] }],
  },
  {
    name: 'a missing secret blocks the session and names the environment variable',
    script: '### auth\n# @allow-cleartext-auth\nCONNECT smtp://127.0.0.1:2525\nEHLO a.example.test\nAUTH PLAIN user {{$secret other}}\nQUIT\n',
    request: {},
    expect: [{ status: 'blocked', reason: 'variables', codes: ['variable'] }],
  },
];

/** Compares a summary with the expected subset; returns the differences. */
export function differences(actual: PreparationSummary | undefined, expected: PreparationCase['expect'][number]): string[] {
  if (!actual) return ['no session'];
  const out: string[] = [];
  for (const [key, want] of Object.entries(expected)) {
    const got = key === 'codes' ? actual.problems?.map((p) => p.code) : (actual as unknown as Record<string, unknown>)[key];
    if (JSON.stringify(got) !== JSON.stringify(want)) out.push(`${key}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }
  return out;
}
