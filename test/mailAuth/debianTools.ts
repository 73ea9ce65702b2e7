// Runs Debian's DKIM tools from python3-dkim against the tests' zones.
//
// dkimverify reads DNS through dnspython, which only knows the servers in /etc/resolv.conf (port
// 53). So it runs in a private network and mount namespace (`unshare -mn`, root): loopback is
// brought up, a resolv.conf naming 127.0.0.1 is bind-mounted over /etc/resolv.conf, and a second
// knotd serving the same zone text listens on 127.0.0.1:53 inside that namespace only.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from '../peers/require';

const NAMESPACE_SCRIPT = `
set -u
ip link set lo up
mount --bind "$DIR/resolv.conf" /etc/resolv.conf
"$KNOTD" -c "$DIR/knot.conf" >"$DIR/knot.log" 2>&1 &
KP=$!
i=0
until "$KDIG" +short +time=1 +tries=1 @127.0.0.1 SOA "$ORIGIN" 2>/dev/null | grep -q .; do
  i=$((i+1)); if [ $i -gt 500 ]; then echo "knotd did not start" >&2; cat "$DIR/knot.log" >&2; kill $KP; exit 99; fi
  sleep 0.01
done
# TOOL_ARGS holds plain words only (options such as "-v" or "--index 1"), split on spaces here.
"$TOOL" $TOOL_ARGS < "$DIR/message.eml"; rc=$?
kill $KP; wait $KP 2>/dev/null
exit $rc
`;

function knotConf(dir: string, origin: string): string {
  return [
    'server:',
    '    listen: 127.0.0.1@53',
    `    rundir: "${dir}"`,
    'log:',
    '  - target: stderr',
    '    any: info',
    'database:',
    `    storage: "${dir}/db"`,
    'template:',
    '  - id: default',
    `    storage: "${dir}"`,
    '    zonefile-sync: -1',
    '    journal-content: none',
    'zone:',
    `  - domain: "${origin}."`,
    '    file: "zone"',
    '',
  ].join('\n');
}

/** Runs `dkimverify` on the message with DNS served from the zone text; resolves with its exit code and output. */
export async function dkimverifyInNamespace(zoneText: string, origin: string, message: Buffer, args: string[] = []): Promise<{ code: number; output: string }> {
  return python3DkimInNamespace('dkimverify', args, zoneText, origin, message);
}

/**
 * Runs `arcverify` (python3-dkim's ARC verifier, RFC 8617) on the message with DNS served from the
 * zone text. It prints `arc verification: cv=<pass|fail|none> <comment>` and exits 0 either way.
 */
export async function arcverifyInNamespace(zoneText: string, origin: string, message: Buffer): Promise<{ code: number; output: string }> {
  return python3DkimInNamespace('arcverify', [], zoneText, origin, message);
}

/** Runs one of python3-dkim's tools (`dkimverify`, `arcverify`) in the private namespace described above. */
async function python3DkimInNamespace(toolName: string, args: string[], zoneText: string, origin: string, message: Buffer): Promise<{ code: number; output: string }> {
  const dkimverify = requireBinary(toolName, 'python3-dkim');
  const knotd = requireBinary('knotd');
  const kdig = requireBinary('kdig');
  const unshare = requireBinary('unshare', 'util-linux');
  const dir = mkdtempSync(join(tmpdir(), 'smtpwb-dkimverify-'));
  try {
    writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
    writeFileSync(join(dir, 'knot.conf'), knotConf(dir, origin));
    writeFileSync(join(dir, 'zone'), zoneText);
    writeFileSync(join(dir, 'message.eml'), message);
    return await new Promise((resolve, reject) => {
      const child = spawn(unshare, ['-mn', 'sh', '-c', NAMESPACE_SCRIPT], {
        env: { ...process.env, DIR: dir, KNOTD: knotd, KDIG: kdig, ORIGIN: origin, TOOL: dkimverify, TOOL_ARGS: args.join(' ') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, output }));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Signs with Debian's `dkimsign` (relaxed/simple, rsa-sha256 unless `options` say otherwise); the key
 * must be PKCS#1 PEM. `identity` becomes i=, `algorithm` a= (dkimsign also signs rsa-sha1).
 */
export async function dkimsign(message: Buffer, selector: string, domain: string, keyFile: string, options: { identity?: string; algorithm?: 'rsa-sha256' | 'rsa-sha1' } = {}): Promise<Buffer> {
  const tool = requireBinary('dkimsign');
  const extra = [...(options.identity !== undefined ? ['--identity', options.identity] : []), ...(options.algorithm !== undefined ? ['--signalg', options.algorithm] : [])];
  return new Promise((resolve, reject) => {
    const child = execFile(tool, [...extra, selector, domain, keyFile], { encoding: 'buffer', maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`dkimsign failed: ${err.message} ${stderr.toString('utf8')}`));
      else resolve(stdout);
    });
    child.stdin?.end(message);
  });
}

/**
 * Runs `opendkim-testkey` (opendkim-tools): it fetches `<selector>._domainkey.<domain>` through
 * libunbound, configured with a stub zone pointing at the tests' Knot (`local-zone: "test."
 * nodefault` lifts unbound's built-in refusal of the .test TLD), and checks that the published key
 * matches the private key file.
 */
export async function opendkimTestkey(knotPort: number, domain: string, selector: string, keyFile: string): Promise<{ code: number; output: string }> {
  const tool = requireBinary('opendkim-testkey');
  const dir = mkdtempSync(join(tmpdir(), 'smtpwb-opendkim-'));
  try {
    const unbound = join(dir, 'unbound.conf');
    writeFileSync(
      unbound,
      ['server:', '    do-not-query-localhost: no', '    local-zone: "test." nodefault', `    domain-insecure: "${domain}"`, 'stub-zone:', `    name: "${domain}"`, `    stub-addr: 127.0.0.1@${knotPort}`, ''].join('\n'),
    );
    const conf = join(dir, 'opendkim-testkey.conf');
    writeFileSync(conf, `ResolverConfiguration ${unbound}\n`);
    return await new Promise((resolve) => {
      execFile(tool, ['-x', conf, '-d', domain, '-s', selector, '-k', keyFile, '-vvv'], { encoding: 'utf8' }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
