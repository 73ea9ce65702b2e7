/**
 * `smtpwb run FILE [--session NAME|--all] [--var NAME=VALUE]... [--env NAME] [--json]
 * [--timeout SECONDS] [--junit FILE] [--repeat N] [--parallel N] [--local HOST:PORT]`: runs the
 * sessions of a `.smtp` script with the session engine and prints a swaks-style transcript and a
 * verdict per session, or one JSON object with `--json`.
 *
 * Exit codes: 0 every expectation held; 1 an expectation failed; 2 a usage or script error (a
 * script with errors is refused before anything is sent); 3 a connection, TLS, DNS, timeout or
 * protocol failure (the server could not be talked to properly), or a cancelled run.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { resolvePlan, secretEnvName, type VariableProviders } from '../../../common/variables';
import { DEFAULT_TIMEOUTS, type SessionPlan, type Timeouts } from '../../../common/sessionPlan';
import type { Problem } from '../../../common/problem';
import { analyzeSmtpDocument } from '../../../server/src/smtp/smtpService';
import { runSession } from '../engine/session';
import { runParallel } from '../engine/parallel';
import type { SessionResult, TranscriptEvent } from '../engine/types';
import type { CliIo } from './cliIo';
import { startCaptureServer, type CaptureServer } from '../localServer';
import { junitXml } from './junit';
import { formatEvent, formatTls, formatVerdict } from './transcriptFormat';

export const RUN_USAGE = `usage: smtpwb run FILE [--session NAME|--all] [--var NAME=VALUE]... [--env NAME] [--json]
                  [--timeout SECONDS] [--junit FILE] [--repeat N] [--parallel N] [--local HOST:PORT] [--inbox DIR]

  --session NAME    run the session with this @name (or title); may be given more than once
  --all             run every session of the script (the default when it has only one)
  --var NAME=VALUE  set a variable, overriding the script and the environment
  --env NAME        use the environment NAME of smtp.environments (smtpwb.json or .vscode/settings.json)
  --json            print one JSON object instead of the transcript
  --timeout SECONDS cap every phase's timeout
  --junit FILE      also write JUnit XML, one testcase per session
  --repeat N        repeat each session's mail transactions N times on its connection
  --parallel N      run N copies of each session at once and report messages per second
  --local HOST:PORT a running capture server for sessions without CONNECT (or CONNECT local);
                    without it, such sessions go to a capture server started for the run
  --inbox DIR       where that capture server stores the messages (default: a temporary folder)

Secrets ({{$secret NAME}}) come from the environment variable SMTPWB_SECRET_<NAME>.
Exit codes: 0 all expectations held, 1 an expectation failed, 2 usage or script error,
3 connection, TLS, DNS, timeout or protocol failure.`;

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
  local?: { host: string; port: number };
  /** Where the embedded capture server stores messages when this run starts one. */
  inbox?: string;
}

export function parseRunArgs(args: string[]): RunArgs | string {
  const out: RunArgs = { file: '', sessions: [], all: false, vars: {}, json: false, repeat: 1, parallel: 1 };
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): string | undefined => {
      const eq = a.indexOf('=');
      if (a.startsWith('--') && eq > 0) return a.slice(eq + 1);
      i++;
      return args[i];
    };
    const flag = a.startsWith('--') && a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    const count = (name: string): number | string => {
      const v = value();
      if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1) return `${name} needs a positive whole number`;
      return Number(v);
    };
    switch (flag) {
      case '--session': {
        const v = value();
        if (!v) return '--session needs a name';
        out.sessions.push(v);
        break;
      }
      case '--all':
        out.all = true;
        break;
      case '--var': {
        // --var NAME=VALUE: the first "=" after the name separates it from the value.
        const v = a.startsWith('--var=') ? a.slice(6) : (i++, args[i]);
        const eq = v?.indexOf('=') ?? -1;
        if (!v || eq <= 0) return '--var needs NAME=VALUE';
        out.vars[v.slice(0, eq)] = v.slice(eq + 1);
        break;
      }
      case '--env': {
        const v = value();
        if (!v) return '--env needs an environment name';
        out.env = v;
        break;
      }
      case '--json':
        out.json = true;
        break;
      case '--timeout': {
        const v = value();
        if (v === undefined || !/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0) return '--timeout needs a number of seconds';
        out.timeoutSeconds = Number(v);
        break;
      }
      case '--junit': {
        const v = value();
        if (!v) return '--junit needs a file';
        out.junit = v;
        break;
      }
      case '--repeat': {
        const n = count('--repeat');
        if (typeof n === 'string') return n;
        out.repeat = n;
        break;
      }
      case '--parallel': {
        const n = count('--parallel');
        if (typeof n === 'string') return n;
        out.parallel = n;
        break;
      }
      case '--inbox': {
        const dir = value();
        if (!dir) return '--inbox needs a folder';
        out.inbox = dir;
        break;
      }
      case '--local': {
        const v = value();
        const target = v ? parseHostPort(v) : undefined;
        if (!target) return '--local needs HOST:PORT (IPv6 as [::1]:PORT)';
        out.local = target;
        break;
      }
      default:
        if (a.startsWith('-') && a !== '-') return `unknown option ${a}`;
        files.push(a);
    }
  }
  if (files.length !== 1) return files.length === 0 ? 'a script file is needed' : 'give one script file';
  out.file = files[0];
  return out;
}

export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1], port };
}

/** Reads `smtp.environments` from `smtpwb.json` or `.vscode/settings.json`, searching up from the script's folder. */
export function loadEnvironments(startDir: string): { file: string; environments: Record<string, Record<string, string>> } | undefined {
  let dir = resolve(startDir);
  for (;;) {
    for (const candidate of [join(dir, 'smtpwb.json'), join(dir, '.vscode', 'settings.json')]) {
      if (!existsSync(candidate)) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(stripJsonComments(readFileSync(candidate, 'utf8')));
      } catch {
        continue;
      }
      if (typeof parsed !== 'object' || parsed === null) continue;
      const record = parsed as Record<string, unknown>;
      const nested = record.smtp;
      const envs = record['smtp.environments'] ?? (typeof nested === 'object' && nested !== null ? (nested as Record<string, unknown>).environments : undefined);
      if (typeof envs === 'object' && envs !== null) {
        const environments: Record<string, Record<string, string>> = {};
        for (const [name, values] of Object.entries(envs as Record<string, unknown>)) {
          if (typeof values !== 'object' || values === null) continue;
          environments[name] = Object.fromEntries(Object.entries(values as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
        }
        return { file: candidate, environments };
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Removes // and /* *\/ comments and trailing commas outside strings (VS Code's settings are JSONC). */
function stripJsonComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      i += 2;
      while (i < text.length && !(text[i] === '*' && text[i + 1] === '/')) i++;
      i++;
    } else out += c;
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}

/** Reads `NAME` from a `.env` file (KEY=VALUE lines, optional quotes). */
function readDotenv(path: string, name: string): string | undefined {
  if (!existsSync(path)) return undefined;
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || m[1] !== name) continue;
    const v = m[2];
    return /^(["']).*\1$/.test(v) ? v.slice(1, -1) : v;
  }
  return undefined;
}

function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 0;
  let last = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i + 1;
    }
  }
  return { line: line + 1, col: offset - last + 1 };
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

export async function runCommand(args: string[], io: CliIo): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    io.stdout.write(`${RUN_USAGE}\n`);
    return 0;
  }
  const parsed = parseRunArgs(args);
  if (typeof parsed === 'string') {
    io.stderr.write(`smtpwb run: ${parsed}\n${RUN_USAGE}\n`);
    return 2;
  }
  const file = resolve(io.cwd, parsed.file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    io.stderr.write(`smtpwb run: cannot read ${parsed.file}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const scriptDir = dirname(file);

  // Values from outside the file: the environment, then --var.
  let overrides: Record<string, string> = {};
  if (parsed.env) {
    const found = loadEnvironments(scriptDir) ?? loadEnvironments(io.cwd);
    const envs = found?.environments;
    if (!envs || !envs[parsed.env] || parsed.env === '$shared') {
      const known = envs ? Object.keys(envs).filter((k) => k !== '$shared') : [];
      io.stderr.write(`smtpwb run: no environment "${parsed.env}"${found ? ` in ${found.file}` : ' (no smtpwb.json or .vscode/settings.json with smtp.environments found)'}${known.length ? `; known: ${known.join(', ')}` : ''}\n`);
      return 2;
    }
    overrides = { ...envs.$shared, ...envs[parsed.env] };
  }
  overrides = { ...overrides, ...parsed.vars };
  // A script with errors is refused before anything is sent.
  const analysis = analyzeSmtpDocument(text, parsed.file, { externalVariables: new Set(Object.keys(overrides)) });
  const errors = analysis.problems.filter((p: Problem) => p.severity === 'error');
  if (errors.length > 0) {
    for (const p of errors) {
      const at = lineCol(text, p.range.start);
      io.stderr.write(`${parsed.file}:${at.line}:${at.col} error ${p.code} ${p.message}\n`);
    }
    io.stderr.write(`smtpwb run: the script has ${errors.length} error${errors.length === 1 ? '' : 's'}; nothing was sent\n`);
    if (parsed.json) {
      const list = errors.map((p) => ({ ...lineCol(text, p.range.start), code: p.code, message: p.message }));
      io.stdout.write(`${JSON.stringify({ ok: false, file: parsed.file, errors: list, sessions: [] }, null, 2)}\n`);
    }
    return 2;
  }
  const plans = analysis.plans;
  if (plans.length === 0) {
    io.stderr.write(`smtpwb run: ${parsed.file} holds no session\n`);
    return 2;
  }
  let selected: SessionPlan[];
  if (parsed.sessions.length > 0) {
    selected = [];
    for (const want of parsed.sessions) {
      const found = plans.find((p) => p.name === want) ?? plans.find((p) => p.title === want);
      if (!found) {
        const names = plans.map((p) => p.name ?? JSON.stringify(p.title)).join(', ');
        io.stderr.write(`smtpwb run: no session named "${want}" (sessions: ${names})\n`);
        return 2;
      }
      selected.push(found);
    }
  } else if (parsed.all || plans.length === 1) {
    selected = plans;
  } else {
    const names = plans.map((p) => `  ${p.name ?? '-'}\t${p.title}`).join('\n');
    io.stderr.write(`smtpwb run: ${parsed.file} holds ${plans.length} sessions; choose with --session NAME or run them all with --all:\n${names}\n`);
    return 2;
  }

  const providers: VariableProviders = {
    overrides,
    env: (name) => io.env[name],
    dotenv: (name) => readDotenv(join(scriptDir, '.env'), name) ?? readDotenv(join(io.cwd, '.env'), name),
    secret: (name) => io.env[secretEnvName(name)],
    hostname: hostname(),
  };
  const resolved: Array<{ plan: SessionPlan; secrets: string[] }> = [];
  for (const plan of selected) {
    const r = await resolvePlan(plan, providers);
    if (!r.ok) {
      for (const e of r.errors) io.stderr.write(`${parsed.file}:${e.line + 1}: error ${e.message}\n`);
      io.stderr.write('smtpwb run: variables could not be resolved; nothing was sent\n');
      if (parsed.json) {
        const list = r.errors.map((e) => ({ line: e.line + 1, code: 'variable', message: e.message }));
        io.stdout.write(`${JSON.stringify({ ok: false, file: parsed.file, errors: list, sessions: [] }, null, 2)}\n`);
      }
      return 2;
    }
    resolved.push({ plan: r.plan, secrets: r.secrets });
  }
  // Sessions without CONNECT go to the embedded capture server: a running one given with --local,
  // or one started in this process for the run, storing into --inbox (a temporary folder by default).
  const needsLocal = resolved.some(({ plan }) => !plan.connect || plan.connect.template.trim().toLowerCase() === 'local');
  let capture: CaptureServer | undefined;
  if (needsLocal && !parsed.local) {
    const dir = parsed.inbox ? resolve(io.cwd, parsed.inbox) : mkdtempSync(join(tmpdir(), 'smtpwb-inbox-'));
    try {
      capture = await startCaptureServer({ dir, port: 0 });
    } catch (e) {
      io.stderr.write(`smtpwb run: the embedded capture server could not start: ${e instanceof Error ? e.message : String(e)}\n`);
      return 3;
    }
    parsed.local = { host: capture.host, port: capture.port };
    if (!parsed.json) io.stdout.write(`=== embedded capture server on ${capture.address}, storing into ${capture.dir}\n`);
  }
  // Only what this run delivers is reported, even when --inbox names a folder with older mail.
  const receivedIds = new Set<string>();
  const subscription = capture?.onMessage((message) => receivedIds.add(message.id));
  try {
    return await runResolved(parsed, resolved, scriptDir, io, capture, receivedIds);
  } finally {
    subscription?.dispose();
    await capture?.stop();
  }
}

async function runResolved(
  parsed: RunArgs,
  resolved: Array<{ plan: SessionPlan; secrets: string[] }>,
  scriptDir: string,
  io: CliIo,
  capture: CaptureServer | undefined,
  receivedIds: ReadonlySet<string>,
): Promise<number> {

  /** --timeout caps every phase: the script's `@timeout` values and the defaults above it are lowered to it. */
  const capTimeouts = (plan: SessionPlan): Partial<Timeouts> | undefined => {
    if (parsed.timeoutSeconds === undefined) return undefined;
    const cap = Math.round(parsed.timeoutSeconds * 1000);
    const merged: Timeouts = { ...DEFAULT_TIMEOUTS, ...plan.options.timeouts };
    const out: Partial<Timeouts> = {};
    for (const k of Object.keys(merged) as Array<keyof Timeouts>) out[k] = Math.min(merged[k], cap);
    return out;
  };
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  const results: SessionResult[] = [];
  const json: JsonSession[] = [];
  try {
    for (const { plan, secrets } of resolved) {
      const header = `### ${plan.title}${plan.name ? ` [${plan.name}]` : ''}\n`;
      const options = {
        secrets,
        timeouts: capTimeouts(plan),
        signal: controller.signal,
        scriptDir,
        localTarget: parsed.local,
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
      const r = await runSession(plan, { ...options, onEvent: parsed.json ? undefined : (e) => io.stdout.write(formatEvent(e)) });
      if (!parsed.json) {
        io.stdout.write(formatTls(r));
        io.stdout.write(formatVerdict(r));
      }
      results.push(r);
      json.push(toJson(r));
      if (controller.signal.aborted) break;
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  const code = exitCodeOf(results);
  const received = capture ? (await capture.list()).filter((m) => receivedIds.has(m.id)) : [];
  if (!parsed.json) {
    for (const m of received) io.stdout.write(`=== the capture server stored a message from <${m.envelope?.mailFrom ?? ''}> to ${(m.envelope?.rcptTo ?? []).map((r) => `<${r}>`).join(', ')}: ${m.path}\n`);
  }
  if (parsed.json) {
    const inbox = capture ? { inbox: received.map((m) => ({ path: m.path, from: m.envelope?.mailFrom, to: m.envelope?.rcptTo, subject: m.subject, size: m.size })) } : {};
    io.stdout.write(`${JSON.stringify({ ok: code === 0, file: parsed.file, sessions: json, ...inbox }, null, 2)}\n`);
  } else if (resolved.length > 1 || parsed.parallel > 1) {
    const passed = results.filter((r) => r.ok).length;
    io.stdout.write(`\n${passed} of ${results.length} session${results.length === 1 ? '' : 's'} passed\n`);
  }
  if (parsed.junit) {
    try {
      writeFileSync(resolve(io.cwd, parsed.junit), junitXml(parsed.file, results));
    } catch (e) {
      io.stderr.write(`smtpwb run: cannot write ${parsed.junit}: ${e instanceof Error ? e.message : String(e)}\n`);
      return code === 0 ? 2 : code;
    }
  }
  return code;
}
