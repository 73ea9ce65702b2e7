/**
 * Finds `{{$dotenv NAME}}` values for the CLI and the extension alike: a `.env` beside the script
 * first, then at the workspace root (the CLI's working folder). Parsing is `parseDotenv`'s.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dotenvFromTexts } from './environments';

/**
 * Reads a `.env` file, or undefined when it cannot be read. Synchronous on purpose: a process's
 * first `fs.promises` call loads more modules and starts the thread pool, which every run would pay.
 */
function readText(file: string): Promise<string | undefined> {
  try {
    return Promise.resolve(readFileSync(file, 'utf8'));
  } catch {
    return Promise.resolve(undefined);
  }
}

/** The `.env` files looked at, in order of precedence, without duplicates. */
export function dotenvFiles(scriptPath: string | undefined, workspaceRoot: string | undefined): string[] {
  const folders = [scriptPath ? dirname(scriptPath) : undefined, workspaceRoot].filter((f): f is string => f !== undefined);
  return [...new Set(folders)].map((folder) => join(folder, '.env'));
}

export function dotenvLookup(scriptPath: string | undefined, workspaceRoot: string | undefined): (name: string) => Promise<string | undefined> {
  let loaded: Promise<(name: string) => string | undefined> | undefined;
  const load = () => (loaded ??= Promise.all(dotenvFiles(scriptPath, workspaceRoot).map((file) => readText(file))).then(dotenvFromTexts));
  return async (name) => (await load())(name);
}
