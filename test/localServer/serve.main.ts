// Runs `serveCommand` as a process, the way main.ts will once `serve` is dispatched there; the
// serve tests start it as a child to check the address line, the message lines and the signals.
import { serveCommand } from '../../client/src/cli/serveCommand';

serveCommand(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`serve.main: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 2;
  },
);
