/**
 * A HOME and XDG folders of its own for a program a test starts (a browser, an editor, an install
 * check), so that what it reads or writes never depends on, or lands in, the user's HOME. The
 * folders live in a temporary folder made by test/peers/process.ts, which removes it at the latest
 * when the test process exits.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, removeTempDir } from '../peers/process';

/** The variables that point a program at its own HOME and XDG folders. */
export interface PrivateHomeVariables {
  HOME: string;
  XDG_CONFIG_HOME: string;
  XDG_DATA_HOME: string;
  XDG_CACHE_HOME: string;
  XDG_STATE_HOME: string;
}

/** A private HOME: its folder, the variables to merge into a child's environment, and cleanup. */
export interface PrivateHome {
  /** The temporary folder that holds all of it. */
  base: string;
  variables: PrivateHomeVariables;
  /** process.env with the variables above (the caller's HOME and XDG folders replaced). */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Removes the folder; safe to call twice. */
  remove(): void;
}

/** Creates the folders of a private HOME under `base` and returns the variables that name them. */
export function privateHomeVariables(base: string): PrivateHomeVariables {
  const variables: PrivateHomeVariables = {
    HOME: join(base, 'home'),
    XDG_CONFIG_HOME: join(base, 'xdg', 'config'),
    XDG_DATA_HOME: join(base, 'xdg', 'data'),
    XDG_CACHE_HOME: join(base, 'xdg', 'cache'),
    XDG_STATE_HOME: join(base, 'xdg', 'state'),
  };
  for (const dir of Object.values(variables)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  return variables;
}

/** Makes a private HOME in a new temporary folder named after `prefix`. */
export function makePrivateHome(prefix: string): PrivateHome {
  const base = makeTempDir(`${prefix}-home`);
  const variables = privateHomeVariables(base);
  let removed = false;
  return {
    base,
    variables,
    env: (extra = {}) => ({ ...process.env, ...variables, ...extra }),
    remove: () => {
      if (removed) return;
      removed = true;
      removeTempDir(base);
    },
  };
}
