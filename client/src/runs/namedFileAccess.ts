/**
 * The file check a run's preparation asks for (`PreparationContext.fileProblem`), shared by the CLI
 * and the editor: whether a file a session reads can be read, resolved as the engine resolves it
 * (against the script's folder, or the working folder for a script without one).
 */
import { constants, promises as fs } from 'node:fs';
import { resolve } from 'node:path';

export function namedFileProblem(scriptDir: string | undefined): (file: string) => Promise<string | undefined> {
  return async (file) => {
    const full = resolve(scriptDir ?? process.cwd(), file);
    try {
      if ((await fs.stat(full)).isDirectory()) return 'it is a folder';
      await fs.access(full, constants.R_OK);
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  };
}
