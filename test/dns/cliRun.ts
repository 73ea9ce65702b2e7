// Runs `smtpwb dns` in process (dnsCommand) against the mail DNS test environment: the policy
// server's port and the test CA in its environment, the output captured.
import { after, before } from 'node:test';
import { dnsCommand } from '../../client/src/cli/dnsCommand';
import { startDnsTestEnv, type DnsTestEnv } from './env';

export interface DnsCliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runDnsCli(env: DnsTestEnv, args: string[], extraEnv: Record<string, string> = {}): Promise<DnsCliResult> {
  let stdout = '';
  let stderr = '';
  const code = await dnsCommand(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: { SMTPWB_DNS_HTTPS_PORT: String(env.httpsPort), SMTPWB_DNS_EXTRA_CA: env.caPath, ...extraEnv },
    cwd: process.cwd(),
  });
  return { code, stdout, stderr };
}

/**
 * Starts the test environment before the file's tests and stops it after them; `env` is the running
 * environment, `cli` runs `smtpwb dns` against it.
 */
export function useDnsCli(): { readonly env: DnsTestEnv; cli(args: string[], extraEnv?: Record<string, string>): Promise<DnsCliResult> } {
  let running: DnsTestEnv | undefined;
  before(async () => {
    running = await startDnsTestEnv();
  });
  after(async () => {
    await running?.stop();
  });
  return {
    get env(): DnsTestEnv {
      if (!running) throw new Error('the DNS test environment is not running');
      return running;
    },
    cli: (args, extraEnv = {}) => runDnsCli(running!, args, extraEnv),
  };
}
