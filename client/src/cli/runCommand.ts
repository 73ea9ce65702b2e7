/**
 * `smtpwb run FILE [--session NAME|--all] [--var NAME=VALUE]... [--env NAME] [--json]
 * [--timeout SECONDS] [--junit FILE] [--repeat N] [--parallel N] [--local HOST:PORT] [--inbox DIR]
 * [--dns-server HOST:PORT] [--bulk]`: runs the sessions of a `.smtp` script with the session engine and
 * prints a swaks-style transcript and a verdict per session, or one JSON object with `--json`.
 *
 * What runs, with which values and timeouts, is decided by `runs/runPreparation.ts`, as in the
 * editor; which sessions are blocked is the language service's word, per session.
 *
 * Exit codes: 0 every expectation held; 1 an expectation failed; 2 a usage or script error (a
 * session with errors is refused before anything is sent); 3 a connection, TLS, DNS, timeout or
 * protocol failure (the server could not be talked to properly); 130 interrupted (Ctrl+C). With
 * `--bulk`, each message sent is checked against the bulk-sender requirements
 * (reports/bulkCheck.ts), which decides the exit code with the run's (`runBulkOutcome`).
 */
import { promises as dnsPromises } from 'node:dns';
import { accessSync, constants as fsConstants, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { jsonText, visibleLine } from '../../../common/escape';
import { Masker } from '../../../common/masking';
import { secretEnvName } from '../../../common/variables';
import { LanguageService } from '../../../server/src/languageService';
import { runSession } from '../engine/session';
import { runParallel } from '../engine/parallel';
import type { EngineIo, RunOptions, SentMessage, SessionResult, TranscriptEvent } from '../engine/types';
import type { CaptureRules, CaptureServer, RuleNotes, StoredMessage } from '../localServer';
import { lazyBundle } from '../lazy/loader';
import { bulkCheckIo, checkSentMessages, formatRunBulkText, runBulkJson, runBulkJunitCases, runBulkOutcome, type BulkCheckIo, type BulkJunitCase, type RunBulkJson, type RunMessageCheck } from '../reports/bulkCheck';

/** The capture server (smtp-server, the message store, mailauth) is loaded only for sessions without CONNECT. */
const captureTools = lazyBundle<typeof import('../lazy/captureTools')>('captureTools');
/** Message authentication (mailauth) is loaded only for `--bulk`. */
const emlTools = lazyBundle<typeof import('../lazy/emlTools')>('emlTools');
import { findEnvironmentSettings, environmentNames, ignoredEnvironmentValues, SHARED_ENVIRONMENT } from '../runs/environments';
import { dotenvLookup } from '../runs/dotenvLookup';
import { namedFileProblem } from '../runs/namedFileAccess';
import {
  environmentOverrides,
  prepareSession,
  preparationSummary,
  selectSessions,
  type BlockedSession,
  type PreparationContext,
  type PreparedSession,
  type ReadySession,
  type SessionSource,
} from '../runs/runPreparation';
import type { CliIo } from './cliIo';
import { junitXml } from './junit';
import { DNS_SERVER_FORMAT, parseDuration, parseHostPort, parseOptions, resolveDnsServer, timeoutError, usageError, wantsHelp, type HostPort } from './options';
import { askLine, canAsk } from './prompt';
import { formatEvent, formatTls, formatVerdict } from '../output/transcriptText';

export { parseHostPort } from './options';

export const RUN_USAGE = `usage: smtpwb run FILE.smtp [--session NAME|--all] [--var NAME=VALUE]... [--env NAME] [--json]
                  [--timeout SECONDS] [--junit FILE] [--repeat N] [--parallel N]
                  [--local HOST:PORT] [--inbox DIR] [--rules FILE] [--dns-server HOST:PORT]
                  [--bulk] [--dry-run]

  --session NAME        run the session with this @name (or title); may be given more than once
  --all                 run every session of the script (the default when it has only one)
  --var NAME=VALUE      set a variable, overriding the script and the environment; also answers
                        {{$prompt NAME}}
  --env NAME            use the environment NAME of smtp.environments (smtpwb.json or
                        .vscode/settings.json, searched upwards from the script, then the
                        working folder)
  --json                print one JSON object instead of the transcript
  --timeout SECONDS     the timeout of every phase the script's "# @timeout" does not set
                        (also 1500ms, 2s); the defaults are RFC 5321's
  --junit FILE          also write JUnit XML, one testcase per session (with --bulk, one more per message)
  --repeat N            repeat each session's mail transactions N times on its connection
  --parallel N          run N copies of each session at once and report messages per second
  --local HOST:PORT     a running capture server for sessions without CONNECT (or CONNECT local);
                        without it, such sessions go to a capture server started for the run
  --inbox DIR           keep the messages that capture server receives in DIR (created if
                        needed); without it they are shown and then removed with the server
  --rules FILE          that capture server answers by these behaviour rules (capture-rules.json,
                        as smtpwb serve --rules); the transcript says which rule answered
  --dns-server HOST:PORT  the DNS server for CONNECT mx: lookups and --bulk (a host name is
                        resolved once)
  --bulk                check every message sent against the bulk-sender requirements (Gmail and
                        Yahoo 2024: TLS used, the sending IP's forward-confirmed reverse DNS, SPF,
                        DKIM, DMARC, alignment, RFC 8058 one-click unsubscribe); exit 1 when one
                        fails or when no message was sent, 3 when DNS does not answer
  --dry-run             send nothing: show which sessions would run, with which values (secrets
                        masked), timeouts and target, and which are blocked and why; asks nothing
  -h, --help            show this help

Secrets ({{$secret NAME}}) come from the environment variable SMTPWB_SECRET_<NAME>; {{$dotenv NAME}}
from a .env file beside the script, then in the working folder. {{$prompt NAME}} is asked on a
terminal (without echo when the name looks secret), or given with --var NAME=VALUE.
Exit codes: 0 all expectations held, 1 an expectation failed (with --bulk also: a message fails a
requirement, or no session sent one), 2 usage or script error (nothing is sent), 3 connection, TLS,
DNS, timeout or protocol failure (with --bulk also: the DNS server answered none of a message's
queries), 130 interrupted, 141 the reader of the output went away before the run finished.`;

export interface RunArgs {
  file: string;
  sessions: string[];
  all: boolean;
  vars: Record<string, string>;
  env?: string;
  json: boolean;
  timeoutSeconds?: number;
  junit?: string;
  repeat: number;
  parallel: number;
  local?: HostPort;
  /** Where the embedded capture server stores messages when this run starts one. */
  inbox?: string;
  /** `--rules`: the behaviour rules of the capture server started for the run. */
  rules?: string;
  /** `--dns-server` as given; resolved once before the run. */
  dnsServer?: string;
  /** Print the decisions (blocked sessions, values, timeouts, capture server) and send nothing. */
  dryRun: boolean;
  /** Check every message sent against the bulk-sender requirements. */
  bulk: boolean;
}

const RUN_OPTIONS = {
  session: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  var: { type: 'string', multiple: true },
  env: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  junit: { type: 'string' },
  repeat: { type: 'string' },
  parallel: { type: 'string' },
  inbox: { type: 'string' },
  rules: { type: 'string' },
  local: { type: 'string' },
  'dns-server': { type: 'string' },
  'dry-run': { type: 'boolean' },
  bulk: { type: 'boolean' },
} as const;

/** Parses `run`'s arguments, or returns a usage error message. */
export function parseRunArgs(args: string[]): RunArgs | string {
  const parsed = parseOptions(args, RUN_OPTIONS);
  if (!parsed.ok) return parsed.error;
  const v = parsed.values;
  const count = (name: string, text: string | undefined): number | string => {
    if (text === undefined) return 1;
    if (!/^\d+$/.test(text) || Number(text) < 1) return `--${name} needs a positive whole number`;
    return Number(text);
  };
  const vars: Record<string, string> = {};
  for (const pair of v.var ?? []) {
    // --var NAME=VALUE: the first "=" after the name separates it from the value.
    const eq = pair.indexOf('=');
    if (eq <= 0) return `--var needs NAME=VALUE, not "${pair}"`;
    vars[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const repeat = count('repeat', v.repeat);
  if (typeof repeat === 'string') return repeat;
  const parallel = count('parallel', v.parallel);
  if (typeof parallel === 'string') return parallel;
  const out: RunArgs = { file: '', sessions: [...(v.session ?? [])], all: v.all === true, vars, json: v.json === true, repeat, parallel, dryRun: v['dry-run'] === true, bulk: v.bulk === true };
  if (v.session?.some((s) => s === '')) return '--session needs a name';
  if (v.env !== undefined) {
    if (v.env === '') return '--env needs an environment name';
    out.env = v.env;
  }
  if (v.timeout !== undefined) {
    const ms = parseDuration(v.timeout, 's');
    if (ms === undefined) return timeoutError('s');
    out.timeoutSeconds = ms / 1000;
  }
  if (v.junit !== undefined) {
    if (v.junit === '') return '--junit needs a file';
    out.junit = v.junit;
  }
  if (v.inbox !== undefined) {
    if (v.inbox === '') return '--inbox needs a folder';
    out.inbox = v.inbox;
  }
  if (v.rules !== undefined) {
    if (v.rules === '') return '--rules needs a file';
    out.rules = v.rules;
  }
  if (v.local !== undefined) {
    const target = parseHostPort(v.local);
    if (!target) return `--local needs HOST:PORT (IPv6 as [::1]:PORT), not "${v.local}"`;
    out.local = target;
  }
  if (out.rules !== undefined && out.local !== undefined) return '--rules sets the rules of the capture server started for the run; the one --local names has its own (smtpwb serve --rules)';
  if (v['dns-server'] !== undefined) {
    if (!parseHostPort(v['dns-server'], 53)) return `--dns-server needs ${DNS_SERVER_FORMAT}, not "${v['dns-server']}"`;
    out.dnsServer = v['dns-server'];
  }
  // The engine reports the messages of a session, not of each parallel copy.
  if (out.bulk && parallel > 1) return '--bulk checks the messages of one run of each session; it cannot be combined with --parallel';
  if (parsed.positionals.length !== 1) return parsed.positionals.length === 0 ? 'a script file is needed' : 'give one script file';
  out.file = parsed.positionals[0];
  return out;
}

/**
 * Makes sure a folder exists or can be created, one level at a time (Node's recursive mkdir loops
 * on some paths, such as below /proc). Returns an error message, or undefined when the folder is
 * there and writable.
 */
export function ensureWritableFolder(path: string): string | undefined {
  const missing: string[] = [];
  let dir = path;
  for (;;) {
    try {
      const stat = statSync(dir);
      if (!stat.isDirectory()) return `${dir} is not a folder`;
      break;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') return `${dir}: ${code ?? (error as Error).message}`;
      const parent = dirname(dir);
      if (parent === dir) return `${dir} does not exist`;
      missing.unshift(dir);
      dir = parent;
    }
  }
  for (const folder of missing) {
    try {
      mkdirSync(folder);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(folder).isDirectory()) continue;
      return `cannot create ${folder} (${code ?? (error as Error).message})`;
    }
  }
  try {
    accessSync(path, fsConstants.W_OK);
  } catch (error) {
    return `cannot write into ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
  return undefined;
}

/**
 * Whether a file can be written (created or replaced) there, found without writing it: output
 * paths are checked before anything is sent. Returns an error message, or undefined when it can.
 */
export function writableFileProblem(path: string): string | undefined {
  try {
    if (statSync(path).isDirectory()) return `${path} is a folder`;
    accessSync(path, fsConstants.W_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return `cannot write ${path} (${code ?? (error as Error).message})`;
  }
  const folder = dirname(path);
  try {
    if (!statSync(folder).isDirectory()) return `${folder} is not a folder`;
    accessSync(folder, fsConstants.W_OK | fsConstants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `the folder ${folder} does not exist` : `cannot write into ${folder} (${code ?? (error as Error).message})`;
  }
  return undefined;
}

/** The exit code of a set of results (2 beats 3 beats 1 beats 0). */
export function exitCodeOf(results: readonly SessionResult[]): number {
  let code = 0;
  for (const r of results) {
    if (r.ok || !r.failure) continue;
    const k = r.failure.kind;
    const c = k === 'script' ? 2 : k === 'expectation' ? 1 : 3;
    if (c === 2 || (c === 3 && code !== 2) || (c === 1 && code === 0)) code = c;
  }
  return code;
}

interface JsonSession {
  name?: string;
  title: string;
  line: number;
  ok: boolean;
  failure?: SessionResult['failure'];
  steps: Array<{ line: number; command: string; reply: { code: number; enhanced: string | null; lines: string[] } | null; ok: boolean; message?: string }>;
  transcript: Array<{ t: number; dir: string; text: string }>;
  tls: SessionResult['tls'] | null;
  mx?: SessionResult['mx'];
  target?: SessionResult['target'];
  timings: SessionResult['timings'];
  repeat?: SessionResult['repeat'];
  parallel?: { copies: number; ok: number; messages: number; elapsedMs: number; perSecond: number };
  bulk?: RunBulkJson[];
}

function toJson(r: SessionResult): JsonSession {
  return {
    name: r.name,
    title: r.title,
    line: r.line + 1,
    ok: r.ok,
    failure: r.failure ? { ...r.failure, line: r.failure.line === undefined ? undefined : r.failure.line + 1 } : undefined,
    steps: r.steps.map((s) => ({
      line: s.line + 1,
      command: s.command,
      reply: s.reply ? { code: s.reply.code, enhanced: s.reply.enhanced ?? null, lines: s.reply.lines } : null,
      ok: s.ok,
      ...(s.message ? { message: s.message } : {}),
    })),
    transcript: r.transcript.map((e: TranscriptEvent) => ({ t: e.t, dir: e.dir, text: e.text })),
    tls: r.tls ?? null,
    mx: r.mx,
    target: r.target,
    timings: r.timings,
    repeat: r.repeat,
  };
}

/** Reads a file's text, or undefined when it cannot be read. */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Asks the language service about every session of a script: the only judge of what blocks one. */
export function sessionSources(file: string, text: string, overrides: Record<string, string>): SessionSource[] {
  const service = new LanguageService();
  service.setExternalVariables(Object.keys(overrides), overrides);
  const uri = pathToFileURL(file).toString();
  const document = TextDocument.create(uri, 'smtp', 1, text);
  return service.sessions(document).map((summary) => {
    const answer = service.sessionPlan(document, { uri, index: summary.index });
    return { index: summary.index, title: summary.title, ...(summary.name !== undefined ? { name: summary.name } : {}), plan: answer.plan, errors: answer.errors };
  });
}

function printBlocked(io: CliIo, file: string, blocked: readonly BlockedSession[], json: boolean): void {
  const flags: string[] = [];
  for (const b of blocked) {
    for (const p of b.problems) io.stderr.write(`${visibleLine(file)}:${p.line + 1}: error ${p.code} ${visibleLine(p.message)} (session ${visibleLine(b.name ?? b.title)})\n`);
    for (const name of b.missingPrompts) flags.push(`--var ${name}=VALUE`);
  }
  if (flags.length > 0) io.stderr.write(`smtpwb run: no terminal to ask on; pass ${[...new Set(flags)].join(' ')}\n`);
  const count = blocked.reduce((n, b) => n + b.problems.length, 0);
  io.stderr.write(`smtpwb run: ${blocked.length === 1 ? 'a session' : `${blocked.length} sessions`} cannot run (${count} error${count === 1 ? '' : 's'}); nothing was sent\n`);
  if (json) {
    const errors = blocked.flatMap((b) => b.problems.map((p) => ({ session: b.name ?? b.title, line: p.line + 1, code: p.code, message: p.message })));
    io.stdout.write(`${jsonText({ ok: false, file, errors, sessions: [] }, 2)}\n`);
  }
}

/** `--dry-run`: the decisions, as JSON or as lines; exit 0 when every session would run, else 2. */
function dryRun(io: CliIo, parsed: RunArgs, prepared: readonly PreparedSession[], rules?: CaptureRules): number {
  const summaries = prepared.map(preparationSummary);
  const ok = summaries.every((s) => s.status === 'ready');
  const ruleNames = rules?.rules.map((r) => r.name);
  if (parsed.json) {
    io.stdout.write(`${jsonText({ ok, file: parsed.file, dryRun: true, ...(ruleNames ? { rules: ruleNames } : {}), sessions: summaries }, 2)}\n`);
    return ok ? 0 : 2;
  }
  if (ruleNames) io.stdout.write(`=== the capture server started for the run answers by ${ruleNames.length} behaviour rule${ruleNames.length === 1 ? '' : 's'}: ${ruleNames.map((n) => `"${visibleLine(n)}"`).join(', ')}\n`);
  for (const s of summaries) {
    io.stdout.write(`### ${visibleLine(s.title)}${s.name ? ` [${visibleLine(s.name)}]` : ''}: ${s.status === 'ready' ? 'would run' : `blocked (${s.reason})`}\n`);
    for (const p of s.problems ?? []) io.stdout.write(`     line ${p.line}: ${p.code} ${visibleLine(p.message)}\n`);
    if (s.missingPrompts?.length) io.stdout.write(`     pass ${s.missingPrompts.map((n) => `--var ${visibleLine(n)}=VALUE`).join(' ')}\n`);
    if (s.status !== 'ready') continue;
    io.stdout.write(`     target: ${s.needsLocal ? (parsed.local ? `the capture server at ${parsed.local.host}:${parsed.local.port}` : 'a capture server started for the run') : visibleLine(s.connect ?? '')}\n`);
    io.stdout.write(`     timeouts (ms): ${Object.entries(s.timeouts ?? {}).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
    for (const c of s.commands ?? []) io.stdout.write(`     ${visibleLine(c)}\n`);
  }
  return ok ? 0 : 2;
}

export async function runCommand(args: string[], io: CliIo): Promise<number> {
  if (wantsHelp(args)) {
    io.stdout.write(`${RUN_USAGE}\n`);
    return 0;
  }
  const parsed = parseRunArgs(args);
  if (typeof parsed === 'string') return usageError(io, 'run', parsed, RUN_USAGE);
  const shown = visibleLine(parsed.file);
  if (extname(parsed.file).toLowerCase() === '.eml') {
    io.stderr.write(`smtpwb run: ${shown} is a message, not a session script. Send it from a .smtp script with "DATA < ${shown}", or check it with "smtpwb lint ${shown}".\n`);
    return 2;
  }
  const file = resolve(io.cwd, parsed.file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    io.stderr.write(`smtpwb run: cannot read ${shown}: ${visibleLine(e instanceof Error ? e.message : String(e))}\n`);
    return 2;
  }
  const scriptDir = dirname(file);
  // Where the results go is checked before anything is asked or sent: no mail goes out for a run whose results cannot be kept.
  if (parsed.junit !== undefined) {
    const problem = writableFileProblem(resolve(io.cwd, parsed.junit));
    if (problem) {
      io.stderr.write(`smtpwb run: --junit: ${visibleLine(problem)}; nothing was sent\n`);
      return 2;
    }
  }

  // Values from outside the file: the environment, then --var.
  let overrides: Record<string, string> = { ...parsed.vars };
  if (parsed.env) {
    const found = findEnvironmentSettings(scriptDir, readText) ?? findEnvironmentSettings(resolve(io.cwd), readText);
    const known = environmentNames(found?.environments);
    if (!found || parsed.env === SHARED_ENVIRONMENT || !known.includes(parsed.env)) {
      io.stderr.write(
        `smtpwb run: no environment "${visibleLine(parsed.env)}"${found ? ` in ${visibleLine(found.file)}` : ' (no smtpwb.json or .vscode/settings.json with smtp.environments found)'}${known.length ? `; known: ${known.map(visibleLine).join(', ')}` : ''}\n`,
      );
      return 2;
    }
    for (const ignored of ignoredEnvironmentValues(found.environments, parsed.env)) {
      io.stderr.write(`smtpwb run: ${visibleLine(found.file)}: ${visibleLine(ignored)} is not text, a number or a boolean; it is ignored\n`);
    }
    overrides = environmentOverrides(found.environments, parsed.env, parsed.vars);
  }

  const sources = sessionSources(file, text, overrides);
  const selection = selectSessions(sources, { names: parsed.sessions, all: parsed.all });
  if (!selection.ok) {
    const list = selection.reason === 'ambiguous' ? `:\n${sources.map((s) => `  ${visibleLine(s.name ?? '-')}\t${visibleLine(s.title)}`).join('\n')}` : '';
    io.stderr.write(`smtpwb run: ${shown}: ${visibleLine(selection.message)}${list}\n`);
    return 2;
  }
  const selected = selection.indexes.map((i) => sources.find((s) => s.index === i)!);
  const context = (prompt: PreparationContext['prompt']): PreparationContext => ({
    overrides,
    env: (name) => io.env[name],
    dotenv: dotenvLookup(file, resolve(io.cwd)),
    secret: (name) => io.env[secretEnvName(name)],
    prompt,
    hostname: hostname(),
    timeouts: parsed.timeoutSeconds !== undefined ? { all: Math.round(parsed.timeoutSeconds * 1000) } : {},
    fileProblem: namedFileProblem(scriptDir),
  });
  // --rules is read before anything is asked or sent (and by --dry-run): a file with errors stops the run.
  let rules: CaptureRules | undefined;
  if (parsed.rules !== undefined) {
    // Checked against the SIZE limit of the embedded server the run starts (its default).
    const loaded = await captureTools().loadRulesFile(resolve(io.cwd, parsed.rules), captureTools().DEFAULT_SIZE_LIMIT);
    for (const line of loaded.lines) io.stderr.write(`${line}\n`);
    if (!loaded.rules) {
      io.stderr.write('smtpwb run: --rules: the rules file has errors; nothing was sent\n');
      return 2;
    }
    rules = loaded.rules;
  }
  if (parsed.dryRun) return dryRun(io, parsed, await Promise.all(selected.map((s) => prepareSession(s, context(undefined)))), rules);
  // Every session is prepared once without asking: a run that cannot start for another reason
  // (script errors, a missing secret) asks nothing.
  const unasked = await Promise.all(selected.map((s) => prepareSession(s, context(undefined))));
  const hopeless = unasked.filter((p): p is BlockedSession => p.status === 'blocked' && p.missingPrompts.length === 0);
  if (hopeless.length > 0) {
    printBlocked(io, parsed.file, hopeless, parsed.json);
    return 2;
  }
  let prepared: ReadySession[] = unasked.filter((p): p is ReadySession => p.status === 'ready');
  const blocked: BlockedSession[] = [];
  // Only a run with a `{{$prompt}}` still unanswered prepares its sessions again, asking: standard
  // input is touched only then (reading `process.stdin` creates its stream, which costs a run
  // without prompts several milliseconds of start-up).
  if (prepared.length < unasked.length) {
    const stdin = io.stdin as (NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown }) | undefined;
    const promptStreams = { stdin, stderr: io.stderr };
    // A prompt is asked once per run, whichever sessions use it.
    const answers = new Map<string, Promise<string | undefined>>();
    const ask: PreparationContext['prompt'] = canAsk(promptStreams)
      ? (name, masked) => {
          let answer = answers.get(name);
          if (!answer) answers.set(name, (answer = askLine(promptStreams, `${name}${masked ? ' (not shown)' : ''}: `, masked)));
          return answer;
        }
      : undefined;
    prepared = [];
    for (const source of selected) {
      const p = await prepareSession(source, context(ask));
      if (p.status === 'ready') prepared.push(p);
      else blocked.push(p);
    }
  }
  if (blocked.length > 0) {
    printBlocked(io, parsed.file, blocked, parsed.json);
    return 2;
  }

  // CONNECT mx: lookups go to --dns-server when given; a host name is resolved once, here.
  let resolver: EngineIo['resolver'] | undefined;
  let dnsServer: string | undefined;
  if (parsed.dnsServer !== undefined) {
    const server = await resolveDnsServer(parsed.dnsServer);
    if ('error' in server) return usageError(io, 'run', server.error, RUN_USAGE);
    const r = new dnsPromises.Resolver({ timeout: 5000, tries: 2 });
    r.setServers([server.server]);
    resolver = r;
    dnsServer = server.server;
  }
  // --bulk: verification and DNS for the check of each message sent, through --dns-server.
  const bulk: BulkCheckIo | undefined = parsed.bulk ? bulkCheckIo(emlTools(), dnsServer) : undefined;

  // Sessions without CONNECT go to the embedded capture server: a running one given with --local,
  // or one started in this process for the run, storing into --inbox (or a temporary folder that
  // is removed, with the server's private key, when the run ends).
  const needsLocal = prepared.some((p) => p.needsLocal);
  let capture: CaptureServer | undefined;
  let temporary: string | undefined;
  if (rules !== undefined && !needsLocal) io.stderr.write('smtpwb run: warning: --rules: no session goes to the capture server (they all have CONNECT)\n');
  if (needsLocal && !parsed.local) {
    let dir: string;
    if (parsed.inbox) {
      dir = resolve(io.cwd, parsed.inbox);
      const problem = ensureWritableFolder(dir);
      if (problem) {
        io.stderr.write(`smtpwb run: --inbox: ${visibleLine(problem)}\n`);
        return 2;
      }
    } else {
      dir = temporary = mkdtempSync(join(tmpdir(), 'smtpwb-inbox-'));
    }
    try {
      capture = await captureTools().startCaptureServer({ dir, port: 0, ...(rules ? { rules } : {}) });
    } catch (e) {
      if (temporary) rmSync(temporary, { recursive: true, force: true });
      io.stderr.write(`smtpwb run: the embedded capture server could not start: ${visibleLine(e instanceof Error ? e.message : String(e))}\n`);
      return 3;
    }
    if (!parsed.json) {
      io.stdout.write(`=== embedded capture server on ${capture.address}, ${temporary ? 'messages are shown, not kept (keep them with --inbox DIR)' : `storing into ${visibleLine(capture.dir)}`}\n`);
    }
  }
  // Only what this run delivers is reported, even when --inbox names a folder with older mail.
  const receivedIds = new Set<string>();
  const subscription = capture?.onMessage((message) => receivedIds.add(message.id));
  // The transcript says which behaviour rule answered, beside the reply (only this process's server can tell).
  const notes = capture && rules ? captureTools().ruleNotes(capture) : undefined;
  try {
    const local = parsed.local ?? (capture ? { host: capture.host, port: capture.port } : undefined);
    return await runPrepared(parsed, prepared, { scriptDir, io, capture, receivedIds, local, resolver, bulk, kept: temporary === undefined, serverNotes: notes?.notes });
  } finally {
    notes?.dispose();
    subscription?.dispose();
    await capture?.stop();
    if (temporary) rmSync(temporary, { recursive: true, force: true });
  }
}

interface RunContext {
  scriptDir: string;
  io: CliIo;
  capture: CaptureServer | undefined;
  receivedIds: ReadonlySet<string>;
  local: HostPort | undefined;
  resolver: EngineIo['resolver'] | undefined;
  /** `--bulk`: what the bulk-sender check of each message sent needs. */
  bulk: BulkCheckIo | undefined;
  /** Whether the capture server's folder outlives the run (--inbox). */
  kept: boolean;
  /** With --rules: the rules that answered each connection of the capture server started for the run. */
  serverNotes: RuleNotes['notes'] | undefined;
}

/**
 * Reads the files a session names (`TLS ca=`, `cert=`, `key=`, `DATA < file`) for the engine, in
 * one synchronous call each: a process's first `fs.promises.readFile` loads fs/promises and starts
 * libuv's thread pool, 8–18 ms measured, more than a one-shot run spends reading a certificate.
 * The engine reads each file once, before connecting; an error still arrives as a rejection.
 */
async function readFileNow(path: string): Promise<Buffer> {
  return readFileSync(path);
}

/** Exit code of an interrupted run (128 + SIGINT), as shells report it. */
export const INTERRUPTED = 130;

/** A message the capture server received, as a run reports it. */
interface ReceivedMessage {
  from: string | undefined;
  to: string[] | undefined;
  subject: string | undefined;
  size: number;
  path: string;
}

/**
 * A received message with the run's secrets masked where the client's bytes appear (the envelope
 * sender and recipients, the subject: text the client sent, so every form is masked); the size and
 * the path are structured fields and kept (common/masking.ts).
 */
function maskReceived(m: StoredMessage, masker: Masker): ReceivedMessage {
  return {
    from: m.envelope === undefined ? undefined : masker.mask(m.envelope.mailFrom, 'sent'),
    to: m.envelope?.rcptTo.map((r) => masker.mask(r, 'sent')),
    subject: m.subject === undefined ? undefined : masker.mask(m.subject, 'sent'),
    size: m.size,
    path: m.path,
  };
}

async function runPrepared(parsed: RunArgs, prepared: readonly ReadySession[], ctx: RunContext): Promise<number> {
  const { io } = ctx;
  // Ctrl+C ends the running session politely (the engine sends QUIT where the protocol allows it)
  // and the run exits 130; a second Ctrl+C does not wait for the server.
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      io.stderr.write('\nsmtpwb run: interrupted; ending the session (Ctrl+C again to stop at once)\n');
      controller.abort();
    } else process.exit(INTERRUPTED);
  };
  process.on('SIGINT', onSigint);
  const results: SessionResult[] = [];
  const json: JsonSession[] = [];
  const bulkChecks: RunMessageCheck[] = [];
  const bulkCases: BulkJunitCase[] = [];
  try {
    for (const session of prepared) {
      if (controller.signal.aborted) break;
      const { plan, secrets, timeouts } = session;
      const header = `### ${visibleLine(plan.title)}${plan.name ? ` [${visibleLine(plan.name)}]` : ''}\n`;
      const options: RunOptions = {
        secrets,
        timeouts,
        signal: controller.signal,
        scriptDir: ctx.scriptDir,
        readFile: readFileNow,
        ...(ctx.local ? { localTarget: ctx.local } : {}),
        ...(ctx.serverNotes ? { serverNotes: ctx.serverNotes } : {}),
        ...(ctx.resolver ? { io: { resolver: ctx.resolver } } : {}),
        repeat: parsed.repeat,
      };
      if (parsed.parallel > 1) {
        if (!parsed.json) io.stdout.write(`${header}=== running ${parsed.parallel} copies in parallel; the transcript of the first follows\n`);
        const p = await runParallel(plan, options, parsed.parallel);
        const first = p.results.find((r) => !r.ok) ?? p.results[0];
        const okCount = p.results.filter((r) => r.ok).length;
        if (!parsed.json) {
          for (const e of first.transcript) io.stdout.write(formatEvent(e));
          io.stdout.write(formatTls(first));
          io.stdout.write(formatVerdict(first));
          io.stdout.write(`     ${okCount} of ${p.results.length} copies passed; ${p.messages} messages in ${p.elapsedMs.toFixed(0)} ms (${p.perSecond} msgs/s)\n`);
        }
        results.push(...p.results);
        json.push({ ...toJson(first), ok: p.ok, parallel: { copies: p.results.length, ok: okCount, messages: p.messages, elapsedMs: p.elapsedMs, perSecond: p.perSecond } });
        continue;
      }
      if (!parsed.json) io.stdout.write(header);
      const sent: SentMessage[] = [];
      const r = await runSession(plan, { ...options, onEvent: parsed.json ? undefined : (e) => io.stdout.write(formatEvent(e)), ...(ctx.bulk ? { onMessage: (m: SentMessage) => sent.push(m) } : {}) });
      if (!parsed.json) {
        io.stdout.write(formatTls(r));
        io.stdout.write(formatVerdict(r));
      }
      results.push(r);
      if (ctx.bulk && !controller.signal.aborted) {
        // Ctrl+C stops the check between messages, as it stops the run between sessions.
        const checks = await checkSentMessages(sent, ctx.bulk, { secrets, signal: controller.signal });
        bulkChecks.push(...checks);
        bulkCases.push(...runBulkJunitCases(r.name ? `${r.title} [${r.name}]` : r.title, checks));
        if (!parsed.json) io.stdout.write(formatRunBulkText(checks));
        json.push({ ...toJson(r), bulk: runBulkJson(checks) });
      } else json.push(toJson(r));
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  const interrupted = controller.signal.aborted;
  const runCode = interrupted ? INTERRUPTED : exitCodeOf(results);
  const outcome = ctx.bulk ? runBulkOutcome(runCode, bulkChecks) : { code: runCode, notes: [] };
  for (const note of outcome.notes) io.stderr.write(`smtpwb run: ${note}\n`);
  let code = outcome.code;
  // The JUnit file is written before the summary, so that `--json`'s "ok" agrees with the exit code
  // even when the file, checked before the run, cannot be written after it.
  if (parsed.junit) {
    try {
      writeFileSync(resolve(io.cwd, parsed.junit), junitXml(parsed.file, results, undefined, bulkCases));
    } catch (e) {
      io.stderr.write(`smtpwb run: cannot write ${visibleLine(parsed.junit)}: ${visibleLine(e instanceof Error ? e.message : String(e))}\n`);
      if (code === 0) code = 2;
    }
  }
  // What the capture server received was sent by this run's sessions: their secrets are masked in it, as in the transcript.
  const masker = new Masker(prepared.flatMap((p) => p.secrets));
  const received = ctx.capture ? (await ctx.capture.list()).filter((m) => ctx.receivedIds.has(m.id)).map((m) => maskReceived(m, masker)) : [];
  if (!parsed.json) {
    for (const m of received) {
      const to = (m.to ?? []).map((r) => `<${visibleLine(r)}>`).join(', ');
      io.stdout.write(`=== the capture server ${ctx.kept ? 'stored' : 'received'} a message from <${visibleLine(m.from ?? '')}> to ${to}${ctx.kept ? `: ${visibleLine(m.path)}` : ` (${m.size} octets, subject ${JSON.stringify(visibleLine(m.subject ?? ''))})`}\n`);
    }
  }
  if (parsed.json) {
    const inbox = ctx.capture
      ? { inbox: received.map((m) => ({ ...(ctx.kept ? { path: m.path } : {}), from: m.from, to: m.to, subject: m.subject, size: m.size })) }
      : {};
    io.stdout.write(`${jsonText({ ok: code === 0, file: parsed.file, ...(interrupted ? { interrupted: true } : {}), sessions: json, ...inbox }, 2)}\n`);
  } else if (prepared.length > 1 || parsed.parallel > 1) {
    const passed = results.filter((r) => r.ok).length;
    io.stdout.write(`\n${passed} of ${results.length} session${results.length === 1 ? '' : 's'} passed${interrupted ? ' (interrupted)' : ''}\n`);
  }
  return code;
}
