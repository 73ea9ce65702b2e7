/**
 * Substitutes the `{{…}}` references of a session plan at run time (docs/smtp-language.md#variables).
 * Where values come from is injected: the CLI reads the process environment and
 * `SMTPWB_SECRET_<NAME>`; the extension reads SecretStorage and asks the user. Every value that
 * is secret is collected so that transcripts, logs and history can mask it.
 */
import type { PlanStep, SessionPlan, DataSource, Expectation } from './sessionPlan';

/** A random UUID; node:crypto is loaded when a UUID is first made, not at every CLI start. */
function randomUUID(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('node:crypto') as typeof import('node:crypto')).randomUUID();
}

export interface VariableProviders {
  /** Values from outside the file: the selected environment, then `--var` (later wins). */
  overrides?: Record<string, string>;
  env?: (name: string) => string | undefined;
  dotenv?: (name: string) => Promise<string | undefined> | string | undefined;
  secret?: (name: string) => Promise<string | undefined> | string | undefined;
  prompt?: (name: string, masked: boolean) => Promise<string | undefined> | string | undefined;
  now?: () => Date;
  uuid?: () => string;
  /** The host name used in `{{$messageId}}`. */
  hostname?: string;
}

export type ResolveResult =
  | { ok: true; plan: SessionPlan; secrets: string[] }
  | { ok: false; errors: Array<{ line: number; message: string }> };

/** Names that suggest a value is a secret: such values are masked even when not from `$secret`. */
export function namesSecret(name: string): boolean {
  return /pass|secret|token|key|credential|pwd/i.test(name);
}

/** Formats a date as RFC 5322 §3.3 date-time, e.g. `Mon, 23 Nov 2026 04:19:27 +0000`. */
export function rfc5322Date(date: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  return `${days[date.getUTCDay()]}, ${two(date.getUTCDate())} ${months[date.getUTCMonth()]} ${date.getUTCFullYear()} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;
}

class Resolver {
  readonly secrets = new Set<string>();
  readonly errors: Array<{ line: number; message: string }> = [];
  private readonly cache = new Map<string, string>();
  private readonly builtinCache = new Map<string, string>();

  constructor(
    private readonly definitions: Map<string, { template: string; line: number }>,
    private readonly providers: VariableProviders,
  ) {}

  async text(template: string, line: number, stack: string[] = []): Promise<string> {
    if (!template.includes('{{')) return template;
    let out = '';
    let from = 0;
    for (;;) {
      const open = template.indexOf('{{', from);
      if (open < 0) break;
      const close = template.indexOf('}}', open + 2);
      if (close < 0) {
        this.errors.push({ line, message: 'a variable reference "{{" has no closing "}}"' });
        return out + template.slice(from);
      }
      out += template.slice(from, open) + (await this.reference(template.slice(open + 2, close).trim(), line, stack));
      from = close + 2;
    }
    return out + template.slice(from);
  }

  private async reference(inner: string, line: number, stack: string[]): Promise<string> {
    if (inner.startsWith('$')) return this.builtin(inner, line);
    const override = this.providers.overrides?.[inner];
    if (override !== undefined) {
      if (namesSecret(inner) && override !== '') this.secrets.add(override);
      return override;
    }
    const cached = this.cache.get(inner);
    if (cached !== undefined) return cached;
    if (stack.includes(inner)) {
      this.errors.push({ line, message: `the variable "${inner}" references itself: ${[...stack, inner].join(' → ')}` });
      return '';
    }
    const definition = this.definitions.get(inner);
    if (!definition) {
      this.errors.push({ line, message: `the variable "${inner}" is not defined` });
      return '';
    }
    const value = await this.text(definition.template, definition.line, [...stack, inner]);
    if (namesSecret(inner) && value !== '') this.secrets.add(value);
    this.cache.set(inner, value);
    return value;
  }

  private async builtin(inner: string, line: number): Promise<string> {
    const m = /^\$([A-Za-z]+)(?:\s+(\S+))?$/.exec(inner);
    if (!m) {
      this.errors.push({ line, message: `malformed built-in reference "{{${inner}}}"` });
      return '';
    }
    const [, name, arg] = m;
    // $uuid, $date and $messageId are fresh per reference; the others are looked up once per run.
    const key = `${name} ${arg ?? ''}`;
    if (name !== 'uuid' && name !== 'messageId' && name !== 'date') {
      const cached = this.builtinCache.get(key);
      if (cached !== undefined) return cached;
    }
    const need = (what: string): string | undefined => {
      if (!arg) this.errors.push({ line, message: `$${name} needs a name: {{$${name} NAME}}` });
      return arg ? what : undefined;
    };
    let value: string | undefined;
    switch (name) {
      case 'env':
        if (need('env') !== undefined) {
          value = this.providers.env?.(arg!) ?? undefined;
          if (value === undefined) this.errors.push({ line, message: `the environment variable ${arg} is not set` });
          else if (namesSecret(arg!)) this.secrets.add(value);
        }
        break;
      case 'dotenv':
        if (need('dotenv') !== undefined) {
          value = (await this.providers.dotenv?.(arg!)) ?? undefined;
          if (value === undefined) this.errors.push({ line, message: `${arg} is not set in a .env file beside the script or at the workspace root` });
          else if (namesSecret(arg!)) this.secrets.add(value);
        }
        break;
      case 'secret':
        if (need('secret') !== undefined) {
          value = (await this.providers.secret?.(arg!)) ?? undefined;
          if (value === undefined) {
            this.errors.push({ line, message: `the secret "${arg}" is not set (in the CLI: the environment variable ${secretEnvName(arg!)}; in VS Code: "SMTP: Set Secret")` });
          } else this.secrets.add(value);
        }
        break;
      case 'prompt':
        if (need('prompt') !== undefined) {
          const masked = namesSecret(arg!);
          value = (await this.providers.prompt?.(arg!, masked)) ?? undefined;
          if (value === undefined) this.errors.push({ line, message: `no value was given for the prompt "${arg}"` });
          else if (masked) this.secrets.add(value);
        }
        break;
      case 'uuid':
        value = (this.providers.uuid ?? randomUUID)();
        break;
      case 'date':
        value = rfc5322Date((this.providers.now ?? (() => new Date()))());
        break;
      case 'messageId':
        value = `<${(this.providers.uuid ?? randomUUID)()}@${this.providers.hostname ?? 'smtp-workbench.invalid'}>`;
        break;
      default:
        this.errors.push({ line, message: `unknown built-in "$${name}"` });
    }
    if (value !== undefined) this.builtinCache.set(key, value);
    return value ?? '';
  }
}

/** The environment variable that holds a secret for the CLI: `SMTPWB_SECRET_<NAME>`, `-` as `_`. */
export function secretEnvName(name: string): string {
  return `SMTPWB_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** Substitutes every template of a plan. Never throws; problems come back as errors with their lines. */
export async function resolvePlan(plan: SessionPlan, providers: VariableProviders): Promise<ResolveResult> {
  const definitions = new Map<string, { template: string; line: number }>();
  for (const v of plan.variables) definitions.set(v.name, { template: v.template, line: v.line });
  const r = new Resolver(definitions, providers);

  const expectation = async (e: Expectation): Promise<Expectation> =>
    e.text?.kind === 'substring' ? { ...e, text: { kind: 'substring', value: await r.text(e.text.value, e.line) } } : e;
  const body = async (b: DataSource, line: number): Promise<DataSource> =>
    b.kind === 'file'
      ? { kind: 'file', path: await r.text(b.path, line) }
      : { kind: 'inline', firstLine: b.firstLine, lines: await Promise.all(b.lines.map((l, i) => r.text(l, b.firstLine + i))) };

  const steps: PlanStep[] = [];
  for (const step of plan.steps) {
    switch (step.kind) {
      case 'command':
        steps.push({ ...step, template: await r.text(step.template, step.line), expect: await expectation(step.expect) });
        break;
      case 'starttls':
        steps.push({ ...step, expect: await expectation(step.expect) });
        break;
      case 'auth': {
        const user = await r.text(step.user, step.line);
        const secret = await r.text(step.secret, step.line);
        if (secret !== '') r.secrets.add(secret);
        steps.push({ ...step, user, secret, expect: await expectation(step.expect) });
        break;
      }
      case 'data':
        steps.push({ ...step, body: await body(step.body, step.line), expect: await expectation(step.expect) });
        break;
      case 'bdat':
        steps.push({ ...step, body: await body(step.body, step.line), expect: await expectation(step.expect) });
        break;
      case 'raw':
        steps.push({ ...step, template: await r.text(step.template, step.line), expects: await Promise.all(step.expects.map(expectation)) });
        break;
    }
  }
  const tls = { ...plan.tls };
  for (const key of ['sni', 'ca', 'cert', 'key'] as const) {
    const value = tls[key];
    if (value !== undefined) tls[key] = await r.text(value, tls.line ?? plan.line);
  }
  const resolved: SessionPlan = {
    ...plan,
    ...(plan.connect ? { connect: { template: await r.text(plan.connect.template, plan.connect.line), line: plan.connect.line } } : {}),
    tls,
    steps,
  };
  if (r.errors.length > 0) return { ok: false, errors: r.errors };
  // Values under 3 characters cannot be told from innocent text; they are still never written by
  // AUTH steps, which the engine masks as whole payloads (common/masking.ts).
  return { ok: true, plan: resolved, secrets: [...r.secrets].filter((s) => s.length >= 3) };
}

// Masking lives in common/masking.ts; `maskSecrets` is re-exported for the callers that resolve
// variables and mask in one place.
export { maskSecrets } from './masking';
