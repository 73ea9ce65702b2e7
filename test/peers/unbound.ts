// Starts a real Unbound on a loopback port for tests: a validating resolver (validator + iterator)
// with the given trust anchors, that sends the given zones to stub servers (usually Knot, see
// knot.ts, which signs them). Gotchas from /work/shared/reference/test-peers/dnssec.md: `.test`
// names need `local-zone: "test." nodefault`, and querying 127.0.0.1 needs
// `do-not-query-localhost: no`.
//
// Usage:
//   const knot = await startKnot({ zones, signed: ['example.test'] });
//   const unbound = await startUnbound({ trustAnchors: await knot.ds('example.test'), stubs: { 'example.test': knot.address } });
//   ... query unbound.address with DO set and read AD ...
//   await unbound.stop();
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as dns from 'node:dns';
import { freePort } from './ports';
import { logTail, makeTempDir, removeTempDir, spawnPeer, type PeerProcess, startWithRetries } from './process';
import { requireBinary } from './require';

const run = promisify(execFile);

export interface UnboundOptions {
  /** Trust anchors as DS (or DNSKEY) presentation lines, e.g. from KnotPeer.ds(). */
  trustAnchors: string[];
  /** Zone origin to `IP:PORT` of its authoritative server. */
  stubs: Record<string, string>;
  /** Milliseconds to wait for it to answer (default 10000). */
  startTimeoutMs?: number;
}

export interface UnboundPeer {
  host: '127.0.0.1';
  port: number;
  /** '127.0.0.1:PORT'. */
  address: string;
  logPath: string;
  stop(): Promise<void>;
}

function stubAddr(address: string): string {
  const i = address.lastIndexOf(':');
  return `${address.slice(0, i)}@${address.slice(i + 1)}`;
}

function unboundConfig(base: string, port: number, options: UnboundOptions): string {
  const stubs = Object.entries(options.stubs).map(([zone, addr]) => ['stub-zone:', `    name: "${zone.replace(/\.$/, '')}."`, `    stub-addr: ${stubAddr(addr)}`].join('\n'));
  return [
    'server:',
    `    interface: 127.0.0.1@${port}`,
    `    port: ${port}`,
    '    do-daemonize: no',
    '    username: ""',
    '    chroot: ""',
    `    directory: "${base}"`,
    `    pidfile: "${base}/unbound.pid"`,
    '    use-syslog: no',
    `    logfile: "${base}/unbound.log"`,
    '    verbosity: 1',
    '    do-not-query-localhost: no',
    '    do-ip6: no',
    '    local-zone: "test." nodefault',
    '    module-config: "validator iterator"',
    // Extended DNS Errors tell why an answer is bogus (RFC 8914); Unbound sends them only when asked.
    '    ede: yes',
    '    val-log-level: 2',
    // Tests change zones between queries; nothing may be cached for long.
    '    cache-max-ttl: 1',
    '    cache-max-negative-ttl: 1',
    '    num-threads: 1',
    ...options.trustAnchors.map((a) => `    trust-anchor: "${a.replace(/"/g, '')}"`),
    ...stubs,
    'remote-control:',
    '    control-enable: no',
    '',
  ].join('\n');
}

async function tryStart(options: UnboundOptions): Promise<UnboundPeer> {
  const unbound = requireBinary('unbound');
  const checkconf = requireBinary('unbound-checkconf');
  const base = makeTempDir('unbound');
  const port = await freePort({ udp: true });
  const configPath = join(base, 'unbound.conf');
  const logPath = join(base, 'unbound.log');
  writeFileSync(configPath, unboundConfig(base, port, options));
  try {
    await run(checkconf, [configPath]);
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    removeTempDir(base);
    throw new Error(`unbound-checkconf rejected the configuration: ${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
  const child: PeerProcess = spawnPeer(unbound, ['-d', '-c', configPath], { logFile: join(base, 'unbound.out'), marker: base, removeOnDeath: base });
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 10000);
  const resolver = new dns.promises.Resolver({ timeout: 300, tries: 1 });
  resolver.setServers([address]);
  for (;;) {
    const zone = Object.keys(options.stubs)[0] ?? 'test';
    try {
      await resolver.resolveSoa(zone);
      break;
    } catch (error) {
      const code = (error as { code?: string }).code;
      // Any DNS answer (even SERVFAIL for a bogus zone) means Unbound is up.
      if (code !== 'ETIMEOUT' && code !== 'ECONNREFUSED') break;
    }
    if (!child.running()) {
      removeTempDir(base);
      throw new Error(`unbound exited\n${logTail(join(base, 'unbound.out'))}${logTail(logPath)}`);
    }
    if (Date.now() > deadline) {
      await child.stop();
      removeTempDir(base);
      throw new Error(`unbound did not answer within the timeout\n${logTail(logPath)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    address,
    logPath,
    async stop() {
      if (stopped) return;
      stopped = true;
      await child.stop();
      removeTempDir(base);
    },
  };
}

/** Starts unbound in the foreground in its own temp dir on a free port; resolves once it answers. */
export function startUnbound(options: UnboundOptions): Promise<UnboundPeer> {
  return startWithRetries(() => tryStart(options));
}
