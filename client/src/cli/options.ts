/**
 * The one argument parser of every `smtpwb` subcommand: `node:util.parseArgs` in strict mode, with
 * the options every command shares (`-h`/`--help`, `--dns-server`, `--timeout`) defined once, and
 * usage errors worded for people (exit 2, the help follows).
 */
import { resolveDnsServer as resolveServerName, type HostLookup } from '../dns/serverAddress';
import { systemHostLookup } from '../dns/resolver';
import { readInputFileSync as readNamedFile } from '../../../common/inputFile';
import { parseArgs } from 'node:util';
import { visibleLine } from '../../../common/escape';

/** A parseArgs option: a flag or a valued option, optionally repeatable. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** The values parseArgs gives for a set of specs. */
export type OptionValues<T extends OptionSpecs> = {
  [K in keyof T]?: T[K]['type'] extends 'string' ? (T[K]['multiple'] extends true ? string[] : string) : T[K]['multiple'] extends true ? boolean[] : boolean;
};

export type Parsed<T extends OptionSpecs> = { ok: true; values: OptionValues<T>; positionals: string[] } | { ok: false; error: string };

/** Whether the arguments ask for help (`-h`, `--help`, before a `--`), whatever else they hold. */
export function wantsHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '-h' || arg === '--help') return true;
  }
  return false;
}

/**
 * Parses a subcommand's arguments strictly: unknown options, missing values and values given to
 * flags are usage errors with a message that names the option.
 */
export function parseOptions<T extends OptionSpecs>(args: readonly string[], options: T): Parsed<T> {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
    return { ok: true, values: values as OptionValues<T>, positionals };
  } catch (error) {
    return { ok: false, error: describeParseError(error) };
  }
}

function describeParseError(error: unknown): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'(-[^' ]*)/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/argument missing/.test(message)) return `${quoted ?? 'an option'} needs a value`;
      if (/does not take an argument/.test(message)) return `${quoted ?? 'a flag'} takes no value`;
      if (/ambiguous/.test(message)) return `${quoted ?? 'an option'} needs a value; a value that starts with "-" is written ${quoted ?? '--option'}=VALUE`;
      return message.split('\n')[0];
    default:
      return message.split('\n')[0];
  }
}

/** Writes a usage error and the command's help to stderr; returns exit code 2. */
export function usageError(io: { stderr: { write(text: string): unknown } }, command: string, message: string, usage: string): number {
  io.stderr.write(`smtpwb ${command}: ${message}\n\n${usage.endsWith('\n') ? usage : `${usage}\n`}`);
  return 2;
}

// ---------------------------------------------------------------------------------------------
// --dns-server HOST[:PORT]: the grammar has one home, dns/serverAddress.ts (the editor's setting and
// `serve --verify` use it too); the CLI adds the system's lookup for host names.

export { DNS_SERVER_FORMAT, parseHostPort, type HostLookup, type HostPort } from '../dns/serverAddress';


/**
 * Validates `--dns-server` and resolves a host name once, with the system's resolver, to the
 * address the DNS queries then go to. Returns the server as `dns.Resolver#setServers` takes it
 * (`IP:PORT` or `[IPv6]:PORT`), or an error message.
 */
export function resolveDnsServer(text: string, lookup: HostLookup = systemHostLookup): Promise<{ server: string; address: string; port: number } | { error: string }> {
  return resolveServerName(text, lookup);
}

// ---------------------------------------------------------------------------------------------
// --timeout

/**
 * The longest duration a command takes: what one Node timer can wait (2^31 − 1 ms, about 24.8 days).
 * A longer one would fire at once (Node warns and waits 1 ms), so it is refused as a usage error.
 */
export const MAX_DURATION_MS = 2_147_483_647;

/**
 * Parses a duration: a positive number in the command's unit, or with an explicit unit (`1500ms`,
 * `1.5s`), at most MAX_DURATION_MS. Returns milliseconds, or undefined when the text is not such a
 * duration.
 */
export function parseDuration(text: string, unit: 'ms' | 's'): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Math.round(Number(m[1]) * ((m[2] ?? unit) === 's' ? 1000 : 1));
  return ms >= 1 && ms <= MAX_DURATION_MS ? ms : undefined;
}

/** The usage error of a duration option (`--timeout` unless named) in a command's unit. */
export function timeoutError(unit: 'ms' | 's', option = '--timeout'): string {
  return unit === 's' ? `${option} needs a number of seconds (or 1500ms, 2s), at most 24 days` : `${option} needs a number of milliseconds (or 2s, 1500ms), at most 24 days`;
}

/**
 * The DNS options of a command that asks DNS (`verify`, `dkim check`, `report`): `--dns-server`,
 * validated and resolved once (`resolveDnsServer`), and a timeout in milliseconds from the option
 * `timeout.option` (its text in `timeout.text`, `timeout.defaultMs` when absent). Returns the values,
 * or the usage error's message (peer-free: the user's own text is escaped).
 */
export async function readDnsOptions(dnsServer: string | undefined, timeout: { option: string; text: string | undefined; defaultMs: number }): Promise<{ server?: string; timeoutMs: number } | { error: string }> {
  let timeoutMs = timeout.defaultMs;
  if (timeout.text !== undefined) {
    const ms = parseDuration(timeout.text, 'ms');
    if (ms === undefined) return { error: timeoutError('ms', timeout.option) };
    timeoutMs = ms;
  }
  if (dnsServer === undefined) return { timeoutMs };
  const resolved = await resolveDnsServer(dnsServer);
  if ('error' in resolved) return { error: visibleLine(resolved.error) };
  return { server: resolved.server, timeoutMs };
}

// ---------------------------------------------------------------------------------------------
// A deadline for DNS work

/**
 * Runs DNS work against one budget of waiting time: every query started through `wrap` fails with
 * `ETIMEOUT` once the command has waited `ms` in all for DNS answers, so a silent server costs the
 * stated timeout, not the timeout times the number of dependent queries. Only time with a query
 * outstanding counts: time the command spends on its own work (mailauth parsing a large header
 * section for seconds, say) is not charged to DNS, which would turn a slow parse into "the DNS
 * server did not answer" (exit 3).
 */
export class Deadline {
  private readonly expired: Promise<never>;
  private fail: (error: Error) => void = () => undefined;
  private timer: NodeJS.Timeout | undefined;
  private passed = false;
  /** Queries outstanding now. */
  private inFlight = 0;
  /** Waiting time spent before the current stretch with queries outstanding began. */
  private used = 0;
  /** When the current stretch with queries outstanding began. */
  private since = 0;

  constructor(readonly ms: number) {
    this.expired = new Promise<never>((_, reject) => {
      this.fail = reject;
    });
    this.expired.catch(() => undefined);
  }

  private begin(): void {
    if (this.inFlight++ > 0) return;
    this.since = performance.now();
    this.timer = setTimeout(() => {
      this.passed = true;
      this.fail(Object.assign(new Error(`no answer within ${this.ms} ms`), { code: 'ETIMEOUT' }));
    }, Math.max(0, this.ms - this.used));
  }

  private end(): void {
    if (--this.inFlight > 0) return;
    clearTimeout(this.timer);
    this.used += performance.now() - this.since;
  }

  /** Races one operation against the deadline; its waiting time counts while it is outstanding. */
  race<T>(operation: () => Promise<T>): Promise<T> {
    if (this.passed) return this.expired;
    this.begin();
    const done = Promise.resolve().then(operation);
    done.then(
      () => this.end(),
      () => this.end(),
    );
    return Promise.race([done, this.expired]);
  }

  /**
   * Runs one operation that takes its own timeout and answers failures as values (a fetch, a probe,
   * a raw DNS query): it gets at most the waiting time left as its timeout, its waiting time counts
   * as a query's does, and once the deadline has passed it is answered `late` (at once when it had
   * passed before). A rejection of the operation itself before then is passed on.
   */
  bounded<T>(operation: (timeoutMs: number) => Promise<T>, timeoutMs: number, late: T): Promise<T> {
    if (this.passed) return Promise.resolve(late);
    const left = this.ms - this.used - (this.inFlight > 0 ? performance.now() - this.since : 0);
    const limit = Math.max(1, Math.min(timeoutMs, left));
    return this.race(() => operation(limit)).catch((error: unknown) => {
      if (this.passed) return late;
      throw error;
    });
  }

  /** Wraps every function-valued property of an object (a resolver) so its calls race the deadline. */
  wrap<T extends object>(target: T): T {
    return new Proxy(target, {
      get: (object, key) => {
        const value = Reflect.get(object, key, object) as unknown;
        if (typeof value !== 'function' || key === 'cancel' || key === 'setServers') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(object) : value;
        return (...callArgs: unknown[]) => this.race(() => Promise.resolve((value as (...a: unknown[]) => unknown).apply(object, callArgs)));
      },
    });
  }

  /** Wraps one function (a mailauth resolver) so its calls race the deadline. */
  wrapFunction<A extends unknown[], R>(fn: (...a: A) => Promise<R>): (...a: A) => Promise<R> {
    return (...a: A) => this.race(() => fn(...a));
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Files a user names

/** The largest file a command reads whole (a message, a script, a key): 512 MiB. */
export const MAX_INPUT_BYTES = 512 * 1024 * 1024;

/**
 * Reads a file a user named, whole, by the rule of common/inputFile.ts (a regular file only, opened
 * without blocking), at most MAX_INPUT_BYTES. Throws like `readFileSync` (ENOENT, EACCES, ...) or
 * with a sentence saying why the file is not read.
 */
export function readInputFileSync(path: string): Buffer {
  const read = readNamedFile(path, MAX_INPUT_BYTES);
  if (read.kind === 'folder') throw new Error('it is a folder');
  if (read.kind === 'not-regular') throw new Error('it is not a regular file (a FIFO, a socket or a device)');
  if (read.kind === 'too-large') throw new Error(`it is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MiB`);
  return read.bytes;
}
