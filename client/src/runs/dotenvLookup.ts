/** Finds `{{$dotenv NAME}}` values: a `.env` beside the script first, then at the workspace root. */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseDotenv } from './environments';

export function dotenvLookup(scriptPath: string | undefined, workspaceRoot: string | undefined): (name: string) => Promise<string | undefined> {
  const folders = [scriptPath ? dirname(scriptPath) : undefined, workspaceRoot].filter((f): f is string => f !== undefined);
  let loaded: Promise<Array<Record<string, string>>> | undefined;
  const load = () =>
    (loaded ??= Promise.all(
      [...new Set(folders)].map(async (folder) => {
        try {
          return parseDotenv(await readFile(join(folder, '.env'), 'utf8'));
        } catch {
          return {};
        }
      }),
    ));
  return async (name) => {
    for (const values of await load()) if (values[name] !== undefined) return values[name];
    return undefined;
  };
}
