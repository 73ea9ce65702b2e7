// runPreparation: ready
/**
 * One run preparation for `smtpwb run` and the editor's RunController: everything decided between
 * "the user asked to run these sessions" and "the engine starts". Pure: no `vscode`, no file
 * system; file contents, lookups and prompts come in as parameters.
 *
 * API (stable):
 *
 * - `SessionSource`: what the language service says about one session (`SessionsRequest` summary
 *   plus `SessionPlanRequest` answer, or `LanguageService.sessions()` / `.sessionPlan()` in the CLI).
 *   The language service is the only judge of what blocks a session, per session: errors in another
 *   session never block this one.
 * - `selectSessions(sources, { names, all })`: which sessions a request names (CLI `--session`/`--all`).
 * - `prepareSession(source, context)`: blocked (script errors, or variables that cannot be
 *   resolved, with the prompts that were missing) or ready (the resolved plan, its secrets, whether
 *   it needs the local capture server, the timeouts in force).
 * - `timeoutsInForce(plan, sources)`: the script's `# @timeout` > the front end's (CLI `--timeout`,
 *   editor settings) > the defaults (RFC 5321 §4.5.3.2).
 * - `needsLocalServer(plan)`: a session without `CONNECT` or with `CONNECT local` goes to the
 *   capture server.
 * - `environmentOverrides(settings, selected, vars)`: environment values (`$shared`, then the
 *   environment) then explicit variables (CLI `--var`), later wins.
 * - `preparationSummary(prepared)`: the decisions as plain JSON, secrets masked (`smtpwb run
 *   --dry-run --json` prints it; both front ends' tests compare it).
 */
import { DEFAULT_TIMEOUTS, filesNamedBy, type SessionPlan, type Timeouts } from '../../../common/sessionPlan';
import { maskSecrets, namesSecret, resolvePlan, type VariableProviders } from '../../../common/variables';
import { environmentValues, type EnvironmentSettings } from './environments';

/** One problem that keeps a session from running; lines are 0-based. */
export interface BlockingProblem {
  line: number;
  message: string;
  code: string;
}

/** What the language service says about one session. */
export interface SessionSource {
  index: number;
  title: string;
  name?: string;
  /** The session's plan; absent when the service could not build one. */
  plan?: SessionPlan;
  /** The blocking errors of this session (its own, and those before the first `###`). */
  errors: readonly BlockingProblem[];
}

/** Where timeouts come from besides the script. All in milliseconds. */
export interface TimeoutSources {
  /** One value for every phase (CLI `--timeout`). */
  all?: number;
  /** Per-phase values the user set (editor settings `smtp.timeouts.*`). */
  perPhase?: Partial<Timeouts>;
}

export interface PreparationContext {
  /** Values from outside the file: environment values, then explicit variables (later wins). */
  overrides: Record<string, string>;
  env?: (name: string) => string | undefined;
  dotenv?: (name: string) => Promise<string | undefined> | string | undefined;
  secret?: (name: string) => Promise<string | undefined> | string | undefined;
  /**
   * Asks for a `{{$prompt NAME}}` value that no override gives; undefined when it cannot ask (no
   * TTY, a cancelled input box). It is only called for a session that has no other problem.
   */
  prompt?: (name: string, masked: boolean) => Promise<string | undefined> | string | undefined;
  hostname?: string;
  now?: () => Date;
  uuid?: () => string;
  timeouts?: TimeoutSources;
  /**
   * Says why a file a session reads (`DATA < file`, `TLS ca=` and the like, as written; see
   * `filesNamedBy`) cannot be read, or undefined when it can. Asked for every session of a run
   * before any is sent, so a run whose third session names a missing file sends nothing at all.
   * The caller resolves the path as the engine will (against the script's folder).
   */
  fileProblem?: (path: string) => Promise<string | undefined> | string | undefined;
}

export interface ReadySession {
  status: 'ready';
  index: number;
  title: string;
  name?: string;
  /** The plan with every variable substituted. */
  plan: SessionPlan;
  /** Values to mask in every output. */
  secrets: string[];
  needsLocal: boolean;
  timeouts: Timeouts;
}

export interface BlockedSession {
  status: 'blocked';
  index: number;
  title: string;
  name?: string;
  /**
   * `script`: the language service reports errors, or a file the session reads cannot be read;
   * `variables`: a value is missing or malformed.
   */
  reason: 'script' | 'variables';
  problems: BlockingProblem[];
  /** `{{$prompt NAME}}` names that got no value (so a front end can say which `--var` to pass). */
  missingPrompts: string[];
}

export type PreparedSession = ReadySession | BlockedSession;

/** The variables a run uses from outside the file: the environment's, then explicit ones. */
export function environmentOverrides(settings: EnvironmentSettings | undefined, selected: string | undefined, vars: Record<string, string> = {}): Record<string, string> {
  return { ...environmentValues(settings, selected), ...vars };
}

/** Whether a (resolved) plan goes to the local capture server. */
export function needsLocalServer(plan: SessionPlan): boolean {
  return !plan.connect || plan.connect.template.trim().toLowerCase() === 'local';
}

/** The timeouts in force: the script's `# @timeout` wins over the front end's, which win over the defaults. */
export function timeoutsInForce(plan: SessionPlan, sources: TimeoutSources = {}): Timeouts {
  const out: Timeouts = { ...DEFAULT_TIMEOUTS };
  for (const key of Object.keys(out) as Array<keyof Timeouts>) {
    const fromScript = plan.options.timeouts[key];
    const fromFrontEnd = sources.perPhase?.[key] ?? sources.all;
    if (fromScript !== undefined) out[key] = fromScript;
    else if (fromFrontEnd !== undefined && fromFrontEnd > 0) out[key] = fromFrontEnd;
  }
  return out;
}

/** Which sessions a request names: by `@name` (or title), every one with `all`, or the only one. */
export function selectSessions(
  sources: readonly Pick<SessionSource, 'index' | 'title' | 'name'>[],
  request: { names?: readonly string[]; all?: boolean },
): { ok: true; indexes: number[] } | { ok: false; reason: 'none' | 'unknown' | 'ambiguous'; message: string } {
  if (sources.length === 0) return { ok: false, reason: 'none', message: 'the script holds no session' };
  const names = request.names ?? [];
  if (names.length > 0) {
    const indexes: number[] = [];
    for (const want of names) {
      const found = sources.find((s) => s.name === want) ?? sources.find((s) => s.title === want);
      if (!found) {
        const known = sources.map((s) => s.name ?? JSON.stringify(s.title)).join(', ');
        return { ok: false, reason: 'unknown', message: `no session named "${want}" (sessions: ${known})` };
      }
      indexes.push(found.index);
    }
    return { ok: true, indexes };
  }
  if (request.all || sources.length === 1) return { ok: true, indexes: sources.map((s) => s.index) };
  return { ok: false, reason: 'ambiguous', message: `the script holds ${sources.length} sessions; choose with --session NAME or run them all with --all` };
}

const PROMPT_MISSING = 'prompt-missing';

/**
 * Prepares one session. Never throws. Prompts are asked only when nothing else blocks the session:
 * the first pass resolves with every prompt answered by a placeholder, and only a session whose
 * variables all resolve gets a second pass that asks.
 */
export async function prepareSession(source: SessionSource, context: PreparationContext): Promise<PreparedSession> {
  const head = { index: source.index, title: source.title, ...(source.name !== undefined ? { name: source.name } : {}) };
  if (!source.plan || source.errors.length > 0) {
    const problems = source.errors.length > 0 ? [...source.errors] : [{ line: 0, message: 'the language service gave no plan for this session', code: 'no-plan' }];
    return { status: 'blocked', ...head, reason: 'script', problems, missingPrompts: [] };
  }
  const providers = (prompt: VariableProviders['prompt']): VariableProviders => ({
    overrides: context.overrides,
    env: context.env,
    dotenv: context.dotenv,
    secret: context.secret,
    prompt,
    hostname: context.hostname,
    now: context.now,
    uuid: context.uuid,
  });
  // An override (an environment value or --var) answers a prompt of the same name.
  const fromOverride = (name: string): string | undefined => context.overrides[name];
  const dry = await resolvePlan(source.plan, providers((name) => fromOverride(name) ?? PROMPT_MISSING));
  if (!dry.ok) return { status: 'blocked', ...head, reason: 'variables', problems: dry.errors.map((e) => ({ ...e, code: 'variable' })), missingPrompts: [] };
  const missingPrompts: string[] = [];
  const asked = new Map<string, string | undefined>();
  const resolved = await resolvePlan(
    source.plan,
    providers(async (name, masked) => {
      const given = fromOverride(name);
      if (given !== undefined) return given;
      if (!asked.has(name)) asked.set(name, context.prompt ? await context.prompt(name, masked || namesSecret(name)) : undefined);
      const value = asked.get(name);
      if (value === undefined && !missingPrompts.includes(name)) missingPrompts.push(name);
      return value;
    }),
  );
  if (!resolved.ok) return { status: 'blocked', ...head, reason: 'variables', problems: resolved.errors.map((e) => ({ ...e, code: 'variable' })), missingPrompts };
  // Every file the session reads, once its variables are resolved (a path may use one).
  if (context.fileProblem) {
    const problems: BlockingProblem[] = [];
    for (const file of filesNamedBy(resolved.plan)) {
      const why = await context.fileProblem(file.path);
      if (why !== undefined) problems.push({ line: file.line, message: `cannot read ${file.path}: ${why}`, code: 'file-unreadable' });
    }
    if (problems.length > 0) return { status: 'blocked', ...head, reason: 'script', problems, missingPrompts };
  }
  // A value typed at a prompt under a secret-looking name is a secret (resolvePlan collects it).
  return {
    status: 'ready',
    ...head,
    plan: resolved.plan,
    secrets: resolved.secrets,
    needsLocal: needsLocalServer(resolved.plan),
    timeouts: timeoutsInForce(source.plan, context.timeouts),
  };
}

/** The decisions of a preparation as plain JSON, with secrets masked; lines are 1-based. */
export interface PreparationSummary {
  index: number;
  title: string;
  name?: string;
  status: 'ready' | 'blocked';
  reason?: 'script' | 'variables';
  problems?: Array<{ line: number; code: string; message: string }>;
  missingPrompts?: string[];
  needsLocal?: boolean;
  connect?: string;
  timeouts?: Timeouts;
  /** What each step sends, as a line (secrets and AUTH credentials masked, bodies as `DATA`). */
  commands?: string[];
}

export function preparationSummary(prepared: PreparedSession): PreparationSummary {
  const head = { index: prepared.index, title: prepared.title, ...(prepared.name !== undefined ? { name: prepared.name } : {}) };
  if (prepared.status === 'blocked') {
    return {
      ...head,
      status: 'blocked',
      reason: prepared.reason,
      problems: prepared.problems.map((p) => ({ line: p.line + 1, code: p.code, message: p.message })),
      ...(prepared.missingPrompts.length > 0 ? { missingPrompts: prepared.missingPrompts } : {}),
    };
  }
  const mask = (text: string): string => maskSecrets(text, prepared.secrets);
  const commands = prepared.plan.steps.map((step) => {
    switch (step.kind) {
      case 'command':
      case 'raw':
        return mask(step.template);
      case 'starttls':
        return 'STARTTLS';
      case 'auth':
        return `AUTH ${step.mechanism} ${mask(step.user)} ********`;
      case 'data':
        return step.body.kind === 'file' ? `DATA < ${mask(step.body.path)}` : 'DATA';
      case 'bdat':
        return step.body.kind === 'file' ? `BDAT < ${mask(step.body.path)}` : 'BDAT';
    }
  });
  return {
    ...head,
    status: 'ready',
    needsLocal: prepared.needsLocal,
    ...(prepared.plan.connect ? { connect: mask(prepared.plan.connect.template) } : {}),
    timeouts: prepared.timeouts,
    commands,
  };
}
