/**
 * Environments, as REST Client users know them: `smtp.environments` maps environment names to
 * variables, and `$shared` holds variables every environment inherits (an environment's own value
 * wins). Pure (file contents and readers come in as parameters), so the CLI (`smtpwb run --env
 * NAME`) and the extension read environments and `.env` files by the same rules.
 *
 * The value rule: a variable's value is text. A JSON string is taken as it is; a JSON number or
 * boolean is taken as JSON writes it (`2525`, `true`), since settings editors type ports as
 * numbers; `null`, objects and arrays are not values and are left out (`ignoredEnvironmentValues`
 * names them, so a front end can say so).
 */
import { dirname, join } from 'node:path';

/** `smtp.environments` as settings hold it: values may be any JSON. */
export type EnvironmentSettings = Record<string, Record<string, unknown>>;

export const SHARED_ENVIRONMENT = '$shared';

/** The text of one environment value by the value rule above, or undefined when it is not a value. */
export function environmentValueText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return undefined;
}

/** The names of the selectable environments (without `$shared`), sorted. */
export function environmentNames(settings: EnvironmentSettings | undefined): string[] {
  return Object.keys(settings ?? {}).filter((name) => name !== SHARED_ENVIRONMENT).sort();
}

/** The variables of an environment: `$shared` first, then the environment's own. */
export function environmentValues(settings: EnvironmentSettings | undefined, selected: string | undefined): Record<string, string> {
  const shared = asRecord(settings?.[SHARED_ENVIRONMENT]);
  const own = selected && selected !== SHARED_ENVIRONMENT ? asRecord(settings?.[selected]) : {};
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...shared, ...own })) {
    const text = environmentValueText(value);
    if (text !== undefined) out[key] = text;
  }
  return out;
}

/** The `environment.variable` names whose values the value rule leaves out. */
export function ignoredEnvironmentValues(settings: EnvironmentSettings | undefined, selected: string | undefined): string[] {
  const out: string[] = [];
  for (const name of [SHARED_ENVIRONMENT, ...(selected && selected !== SHARED_ENVIRONMENT ? [selected] : [])]) {
    for (const [key, value] of Object.entries(asRecord(settings?.[name]))) if (environmentValueText(value) === undefined) out.push(`${name}.${key}`);
  }
  return out;
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/**
 * Removes `//` and `/* *\/` comments and trailing commas outside strings: VS Code's settings files
 * are JSON with comments.
 */
export function stripJsonComments(text: string): string {
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

/**
 * Reads `smtp.environments` from the text of a settings file (`"smtp.environments": {…}` as in
 * `.vscode/settings.json`, or `"smtp": {"environments": {…}}`). Undefined when the file is not JSON
 * with comments or holds no environments.
 */
export function environmentsFromSettingsText(text: string): EnvironmentSettings | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stripJsonComments(text.replace(/^\uFEFF/, '')));
  } catch {
    return undefined;
  }
  const record = asRecord(parsed);
  const envs = record['smtp.environments'] ?? asRecord(record.smtp).environments;
  if (typeof envs !== 'object' || envs === null || Array.isArray(envs)) return undefined;
  const out: EnvironmentSettings = {};
  for (const [name, values] of Object.entries(envs as Record<string, unknown>)) {
    if (typeof values === 'object' && values !== null && !Array.isArray(values)) out[name] = values as Record<string, unknown>;
  }
  return out;
}

/** The files that may hold environments outside the editor, in the order they are looked at per folder. */
export const ENVIRONMENT_FILES = ['smtpwb.json', join('.vscode', 'settings.json')];

/**
 * Finds the nearest settings file with environments, searching from a folder up to the root:
 * `smtpwb.json`, then `.vscode/settings.json`, per folder. `read` returns a file's text or
 * undefined when it does not exist.
 */
export function findEnvironmentSettings(startDir: string, read: (path: string) => string | undefined): { file: string; environments: EnvironmentSettings } | undefined {
  let dir = startDir;
  for (;;) {
    for (const name of ENVIRONMENT_FILES) {
      const file = join(dir, name);
      const text = read(file);
      if (text === undefined) continue;
      const environments = environmentsFromSettingsText(text);
      if (environments) return { file, environments };
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Parses a `.env` file as the dotenv package and Docker Compose read it: `NAME=value` lines,
 * `#` comment lines, optional `export `. An unquoted value ends at ` #` (a `#` after white space
 * starts a comment; `a#b` keeps its `#`) and is trimmed. Single quotes keep everything literally;
 * double quotes understand `\n`, `\r`, `\t`, `\"` and `\\`; both keep `#`, and what follows the
 * closing quote (a comment) is ignored. Malformed lines are skipped; a later line wins.
 */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][\w.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    out[m[1]] = dotenvValue(m[2]);
  }
  return out;
}

function dotenvValue(value: string): string {
  const quote = value[0];
  if (quote === '"' || quote === "'") {
    let end = -1;
    for (let i = 1; i < value.length; i++) {
      if (quote === '"' && value[i] === '\\') {
        i++;
        continue;
      }
      if (value[i] === quote) {
        end = i;
        break;
      }
    }
    // An unclosed quote is taken literally, as dotenv does.
    if (end < 0) return value.replace(/\s+#.*$/, '').trim();
    const inner = value.slice(1, end);
    return quote === "'" ? inner : inner.replace(/\\([nrt"\\])/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' })[c] ?? c);
  }
  return value.replace(/(^|\s+)#.*$/, '').trim();
}

/**
 * The `{{$dotenv NAME}}` lookup over the texts of `.env` files in order of precedence (beside the
 * script first, then the workspace root); undefined texts are files that do not exist.
 */
export function dotenvFromTexts(texts: ReadonlyArray<string | undefined>): (name: string) => string | undefined {
  const files = texts.filter((t): t is string => t !== undefined).map(parseDotenv);
  return (name) => {
    for (const values of files) if (values[name] !== undefined) return values[name];
    return undefined;
  };
}
