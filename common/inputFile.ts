/**
 * How a file a user names is read, the one rule for the CLI's commands (scripts, messages, keys) and
 * for report files in the CLI and the editor. Only a regular file is read: a FIFO would block for
 * ever and a device (`/dev/zero`, or a symbolic link to it) never ends. The file is opened without
 * blocking, so a FIFO is refused rather than waited on, and it is checked through the open
 * descriptor, so what is read is what was checked. A file over the caller's limit is refused before
 * anything is read. Errors of the file system (ENOENT, EACCES, ...) are thrown as Node throws them.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** What reading a named file gives: its bytes, or why it was not read. */
export type InputFile = { kind: 'file'; bytes: Buffer } | { kind: 'folder' } | { kind: 'not-regular' } | { kind: 'too-large'; size: number };

/** Read only, and never blocking on a FIFO's open (O_NONBLOCK does not exist on Windows). */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** Why the file behind `st` is not read, or undefined when it is read. */
function refusal(st: Stats, limit: number): InputFile | undefined {
  if (st.isDirectory()) return { kind: 'folder' };
  if (!st.isFile()) return { kind: 'not-regular' };
  if (st.size > limit) return { kind: 'too-large', size: st.size };
  return undefined;
}

/**
 * Whether an open failed because the path is a special file open(2) refuses with ENXIO (a Unix
 * domain socket, a device with no driver): not a regular file either.
 */
function isSocketOpen(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENXIO';
}

/** Reads a named file whole, if it is a regular file of at most `limit` bytes (see the module). */
export function readInputFileSync(path: string, limit: number): InputFile {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (error) {
    if (isSocketOpen(error)) return { kind: 'not-regular' };
    throw error;
  }
  try {
    return refusal(fstatSync(fd), limit) ?? { kind: 'file', bytes: readFileSync(fd) };
  } finally {
    closeSync(fd);
  }
}

/** The same, without blocking the event loop (the editor reads report folders with it). */
export async function readInputFile(path: string, limit: number): Promise<InputFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (error) {
    if (isSocketOpen(error)) return { kind: 'not-regular' };
    throw error;
  }
  try {
    return refusal(await handle.stat(), limit) ?? { kind: 'file', bytes: await handle.readFile() };
  } finally {
    await handle.close().catch(() => undefined);
  }
}
