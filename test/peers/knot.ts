// Starts a real Knot DNS server on a loopback port for tests: authoritative for the zones given as
// plain zone-file text, reloadable with setZone().
//
// Usage:
//   const knot = await startKnot({ zones: { 'example.test': zoneText } });
//   const resolver = new dns.promises.Resolver({ timeout: 1000, tries: 1 });
//   resolver.setServers([knot.address]);
//
// Zone text is loaded with the zone's origin as the default origin, so relative names work. When
// the text has no SOA record, a SOA (and, when missing too, an NS) record is put in front of it,
// with a serial that grows on every setZone(). Knot refuses a zone whose text does not parse;
// startKnot() and setZone() then fail with Knot's log.
import { execFile } from 'node:child_process';
import * as dns from 'node:dns';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, ipv6LoopbackAvailable } from './ports';
import { logTail, makeTempDir, removeTempDir, spawnPeer, PeerProcess, startWithRetries } from './process';
import { requireBinary } from './require';

const run = promisify(execFile);

/** Options for startKnot(). */
export interface KnotOptions {
  /** Zone origin (e.g. 'example.test', with or without the final dot) to zone-file text. */
  zones: Record<string, string>;
  /** Milliseconds to wait for the server and its zones (default 10000). */
  startTimeoutMs?: number;
  /**
   * Origins that Knot signs with automatic DNSSEC signing (ECDSA P-256, keys made on first load).
   * Their DS records, for a parent zone or a resolver's trust anchor, come from `ds()`.
   */
  signed?: string[];
}

/** A running Knot. */
export interface KnotPeer {
  host: '127.0.0.1';
  /** '::1' when Knot also listens on IPv6 loopback (same port), else undefined. */
  host6: string | undefined;
  port: number;
  /** '127.0.0.1:PORT', ready for Resolver.setServers([address]). */
  address: string;
  /** Knot's log (stdout and stderr). */
  logPath: string;
  /** Startup time in milliseconds (spawn until every zone is served). */
  startupMs: number;
  /** Writes a zone (new or existing), reloads it and resolves once Knot serves the new text. */
  setZone(origin: string, text: string): Promise<void>;
  /** The DS records (presentation lines, `origin. DS tag 13 2 hex`) of a signed zone, from keymgr. */
  ds(origin: string): Promise<string[]>;
  /** Stops Knot and removes its temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Normalises an origin to the form without the final dot, lower case. */
function normalise(origin: string): string {
  return origin.replace(/\.$/, '').toLowerCase();
}

/** A file name for the zone that is safe for any origin. */
function zoneFileName(origin: string): string {
  return `${encodeURIComponent(origin === '' ? 'root' : origin)}.zone`;
}

/** Returns true when the zone text has a SOA record (a record whose type field is SOA). */
function hasRecord(text: string, type: string): boolean {
  const withoutComments = text.replace(/;[^\n]*/g, '');
  return new RegExp(`(^|\\s)${type}(\\s|\\()`, 'im').test(withoutComments);
}

/** Puts a SOA (and NS) in front of zone text that lacks them. */
function completeZone(origin: string, text: string, serial: number): string {
  const head: string[] = [];
  if (!hasRecord(text, 'SOA')) {
    head.push(`@ 300 IN SOA ns1.${origin}. hostmaster.${origin}. ${serial} 3600 600 86400 300`);
    if (!hasRecord(text, 'NS')) head.push(`@ 300 IN NS ns1.${origin}.`);
  }
  if (head.length === 0) return text.endsWith('\n') ? text : `${text}\n`;
  // $ORIGIN resets to the zone's origin so that the added lines mean the apex whatever the text does.
  return `$ORIGIN ${origin}.\n${head.join('\n')}\n${text}${text.endsWith('\n') ? '' : '\n'}`;
}

/** Builds knot.conf for one instance. */
function knotConfig(base: string, port: number, ipv6: boolean, origins: string[], signed: ReadonlySet<string> = new Set()): string {
  const listen = [`127.0.0.1@${port}`, ...(ipv6 ? [`::1@${port}`] : [])];
  return [
    'server:',
    `    listen: [ ${listen.join(', ')} ]`,
    `    rundir: "${base}/run"`,
    // A few workers are plenty on loopback and start faster than one per core and more.
    '    udp-workers: 2',
    '    tcp-workers: 2',
    '    background-workers: 1',
    'log:',
    '  - target: stderr',
    '    any: info',
    'control:',
    `    listen: "${base}/run/knot.sock"`,
    'database:',
    `    storage: "${base}/db"`,
    ...(signed.size > 0
      ? [
          'keystore:',
          '  - id: default',
          `    config: "${base}/keys"`,
          'policy:',
          '  - id: auto',
          '    algorithm: ecdsap256sha256',
          '    ksk-lifetime: 0',
          '    zsk-lifetime: 0',
        ]
      : []),
    'template:',
    '  - id: default',
    `    storage: "${base}/zones"`,
    '    zonefile-sync: -1',
    '    zonefile-load: whole',
    '    journal-content: none',
    'zone:',
    ...origins.map(
      (o) =>
        `  - domain: "${o === '' ? '.' : `${o}.`}"\n    file: "${zoneFileName(o)}"` +
        (signed.has(o) ? '\n    dnssec-signing: on\n    dnssec-policy: auto' : ''),
    ),
    '',
  ].join('\n');
}

/** Asks Knot over DNS for the zone's SOA serial; undefined while it does not answer. */
async function servedSerial(address: string, origin: string): Promise<number | undefined> {
  const resolver = new dns.promises.Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([address]);
  try {
    const soa = await resolver.resolveSoa(origin === '' ? '.' : origin);
    return soa.serial;
  } catch {
    return undefined;
  }
}

/** Starts Knot once with the given port; throws when it does not come up. */
async function tryStart(options: KnotOptions): Promise<KnotPeer> {
  const knotd = requireBinary('knotd');
  const knotc = requireBinary('knotc');
  const started = Date.now();
  const ipv6 = await ipv6LoopbackAvailable();
  const port = await freePort({ ipv6, udp: true });
  const base = makeTempDir('knot');
  for (const sub of ['run', 'db', 'zones']) mkdirSync(join(base, sub));
  const zones = new Map<string, string>();
  let serial = Math.floor(Date.now() / 1000);
  for (const [origin, text] of Object.entries(options.zones)) zones.set(normalise(origin), text);
  const writeZone = (origin: string): void => {
    serial += 1;
    writeFileSync(join(base, 'zones', zoneFileName(origin)), completeZone(origin, zones.get(origin) ?? '', serial));
  };
  const signed = new Set((options.signed ?? []).map(normalise));
  const writeConfig = (): void => writeFileSync(join(base, 'knot.conf'), knotConfig(base, port, ipv6, [...zones.keys()], signed));
  for (const origin of zones.keys()) writeZone(origin);
  writeConfig();
  const configPath = join(base, 'knot.conf');
  const logPath = join(base, 'knot.log');
  const address = `127.0.0.1:${port}`;
  const child: PeerProcess = spawnPeer(knotd, ['-c', configPath], { logFile: logPath, marker: base, removeOnDeath: base });
  const knotcRun = async (args: string[]): Promise<string> => {
    try {
      const { stdout } = await run(knotc, ['-c', configPath, '-t', '10', ...args]);
      return stdout;
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string };
      throw new Error(`knotc ${args.join(' ')} failed: ${e.stderr ?? ''}${e.stdout ?? ''}\n${logTail(logPath)}`);
    }
  };
  /** Waits until each zone answers SOA over DNS. */
  const waitServed = async (origins: string[], timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (const origin of origins) {
      for (;;) {
        const s = await servedSerial(address, origin);
        if (s !== undefined) break;
        if (!child.running()) throw new Error(`knotd exited\n${logTail(logPath)}`);
        if (Date.now() > deadline) throw new Error(`knot did not serve ${origin} within ${timeoutMs} ms\n${logTail(logPath)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  try {
    const timeout = options.startTimeoutMs ?? 10000;
    // `knotc status` answers once the server is up; the zones load right after.
    const deadline = Date.now() + timeout;
    for (;;) {
      try {
        await run(knotc, ['-c', configPath, '-t', '1', 'status']);
        break;
      } catch {
        if (!child.running()) throw new Error(`knotd exited\n${logTail(logPath)}`);
        if (Date.now() > deadline) throw new Error(`knotd did not start within ${timeout} ms\n${logTail(logPath)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    // A blocking reload of each zone reports a zone that does not load at once, with Knot's error.
    for (const origin of zones.keys()) await knotcRun(['-b', 'zone-reload', `${origin === '' ? '.' : `${origin}.`}`]);
    await waitServed([...zones.keys()], Math.max(100, deadline - Date.now()));
  } catch (error) {
    await child.stop();
    removeTempDir(base);
    throw new Error(`startKnot: ${(error as Error).message}`);
  }
  const startupMs = Date.now() - started;
  let stopped = false;
  let queue: Promise<void> = Promise.resolve();

  const setZoneNow = async (originIn: string, text: string): Promise<void> => {
    const origin = normalise(originIn);
    const isNew = !zones.has(origin);
    zones.set(origin, text);
    writeZone(origin);
    if (isNew) {
      writeConfig();
      await knotcRun(['reload']);
    }
    // -b blocks until the zone is loaded, and fails when Knot cannot load the text (Knot then keeps
    // serving the old zone). A reload loads the file even when its SOA serial did not change.
    await knotcRun(['-b', 'zone-reload', `${origin === '' ? '.' : `${origin}.`}`]);
    await waitServed([origin], 10000);
  };

  return {
    host: '127.0.0.1',
    host6: ipv6 ? '::1' : undefined,
    port,
    address,
    logPath,
    startupMs,
    setZone(origin: string, text: string): Promise<void> {
      // Reloads run one at a time so that their serials and waits do not interleave.
      const next = queue.then(() => setZoneNow(origin, text));
      queue = next.catch(() => undefined);
      return next;
    },
    async ds(origin: string): Promise<string[]> {
      const keymgr = requireBinary('keymgr', 'knot');
      const o = normalise(origin);
      try {
        const { stdout } = await run(keymgr, ['-c', configPath, `${o}.`, 'ds']);
        return stdout.split('\n').map((l) => l.trim()).filter((l) => /\sDS\s/.test(l));
      } catch (error) {
        const e = error as { stdout?: string; stderr?: string };
        throw new Error(`keymgr ${o}. ds failed: ${e.stderr ?? ''}${e.stdout ?? ''}`);
      }
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await child.stop();
      removeTempDir(base);
    },
  };
}

/**
 * Starts knotd in the foreground as a child in its own process group, with its own temp dir and
 * a free port (UDP and TCP) on 127.0.0.1 (and [::1]), and resolves once every zone is served.
 */
export async function startKnot(options: KnotOptions): Promise<KnotPeer> {
  return startWithRetries(() => tryStart(options));
}
