/**
 * The vocabulary of the `.smtp` language that the engine gives meaning to: the AUTH mechanisms it
 * performs, the TLS options and versions it accepts, the session metadata keys and the timeout
 * phases. It lives here once; the analyzer, completion, hover, the plan builder and the engine
 * (client/src/engine) all read it, so a word the linter accepts is a word the engine understands.
 */
import type { PlanStep, Timeouts, TlsVersionName } from '../../../common/sessionPlan';
import { AUTH_MECHANISMS } from './authMechanisms';

/** A mechanism the engine performs, as a session plan names it. */
export type EngineAuthMechanism = Extract<PlanStep, { kind: 'auth' }>['mechanism'];

/** Every mechanism of the plan's type, keyed so that the compiler finds one missing here. */
const ENGINE_MECHANISM_ORDER: Record<EngineAuthMechanism, number> = { PLAIN: 0, LOGIN: 1, 'CRAM-MD5': 2, XOAUTH2: 3 };

/**
 * The SASL mechanisms the engine performs (RFC 4954 §4), in the order completion offers them. The
 * facts of authMechanisms.ts mark the same set as `performed` (test/facts checks both agree).
 */
export const ENGINE_AUTH_MECHANISMS: readonly EngineAuthMechanism[] = (Object.keys(ENGINE_MECHANISM_ORDER) as EngineAuthMechanism[]).sort(
  (a, b) => ENGINE_MECHANISM_ORDER[a] - ENGINE_MECHANISM_ORDER[b],
);

/** True when the engine performs the mechanism (case-insensitive). */
export function isEngineAuthMechanism(name: string): name is EngineAuthMechanism {
  return (ENGINE_AUTH_MECHANISMS as readonly string[]).includes(name.toUpperCase());
}

/** Registered mechanisms the engine knows of but does not perform, for a precise message. */
export function isKnownUnperformedMechanism(name: string): boolean {
  const fact = AUTH_MECHANISMS.get(name.toUpperCase());
  return fact !== undefined && !isEngineAuthMechanism(fact.name);
}

/** The options of a `TLS` line (docs/smtp-language.md#tls). */
export const TLS_OPTIONS = ['verify', 'sni', 'ca', 'cert', 'key', 'min', 'dane'] as const;

/** The values of `TLS dane=` (RFC 7672 for SMTP). */
export const TLS_DANE_VALUES = ['on', 'only', 'off'] as const;
export type TlsOptionName = (typeof TLS_OPTIONS)[number];

/** The TLS options whose value names a file, read relative to the script before connecting. */
export const TLS_FILE_OPTIONS: readonly TlsOptionName[] = ['ca', 'cert', 'key'];

/** The protocol versions `TLS min=` accepts; RFC 8996 deprecates the first two. */
export const TLS_VERSIONS: readonly TlsVersionName[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** True when `min=` names a version the engine accepts. */
export function isTlsVersion(value: string): value is TlsVersionName {
  return (TLS_VERSIONS as readonly string[]).includes(value);
}

/** The keys of `# @key` session metadata lines. */
export const METADATA_KEYS = ['name', 'allow-cleartext-auth', 'pipelining', 'timeout'] as const;

/**
 * The phases of `# @timeout phase=seconds`, each with the field of the plan's timeouts it sets
 * (RFC 5321 §4.5.3.2 names the SMTP ones). `all` sets every field.
 */
export const TIMEOUT_PHASE_FIELDS: ReadonlyMap<string, keyof Timeouts> = new Map<string, keyof Timeouts>([
  ['connect', 'connect'],
  ['greeting', 'greeting'],
  ['command', 'command'],
  ['mail', 'mail'],
  ['rcpt', 'rcpt'],
  ['data-init', 'dataInit'],
  ['data-block', 'dataBlock'],
  ['data-end', 'dataTermination'],
  ['tls', 'tls'],
]);

/** Every phase name `# @timeout` accepts, `all` last. */
export const TIMEOUT_PHASES: readonly string[] = [...TIMEOUT_PHASE_FIELDS.keys(), 'all'];
