/**
 * Environments, as REST Client users know them: `smtp.environments` maps environment names to
 * variables, and `$shared` holds variables every environment inherits (an environment's own value
 * wins). Pure, so the CLI (`smtpwb run --env NAME`) and the extension agree.
 */
export type EnvironmentSettings = Record<string, Record<string, string>>;

export const SHARED_ENVIRONMENT = '$shared';

/** The names of the selectable environments (without `$shared`), sorted. */
export function environmentNames(settings: EnvironmentSettings | undefined): string[] {
  return Object.keys(settings ?? {}).filter((name) => name !== SHARED_ENVIRONMENT).sort();
}

/** The variables of an environment: `$shared` first, then the environment's own. */
export function environmentValues(settings: EnvironmentSettings | undefined, selected: string | undefined): Record<string, string> {
  const shared = settings?.[SHARED_ENVIRONMENT] ?? {};
  const own = selected && selected !== SHARED_ENVIRONMENT ? settings?.[selected] ?? {} : {};
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...shared, ...own })) if (typeof value === 'string') out[key] = value;
  return out;
}

/**
 * Parses a `.env` file: `NAME=value` lines, `#` comments, optional `export `, single or double
 * quotes (double quotes understand \n, \t, \" and \\). Malformed lines are skipped.
 */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][\w.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    if (value.startsWith('"')) {
      const end = value.lastIndexOf('"');
      value = (end > 0 ? value.slice(1, end) : value.slice(1)).replace(/\\([nt"\\])/g, (_, c: string) => ({ n: '\n', t: '\t', '"': '"', '\\': '\\' })[c] ?? c);
    } else if (value.startsWith("'")) {
      const end = value.lastIndexOf("'");
      value = end > 0 ? value.slice(1, end) : value.slice(1);
    } else {
      value = value.replace(/\s+#.*$/, '').trim();
    }
    out[m[1]] = value;
  }
  return out;
}
