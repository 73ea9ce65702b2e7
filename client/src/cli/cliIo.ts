/** What a CLI command gets from the process, injected so commands can be tested in process. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Standard input, for commands that ask (absent when not interactive). */
  stdin?: NodeJS.ReadableStream;
}
