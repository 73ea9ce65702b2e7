// Makes a test FAIL (never skip) when a test peer is missing, with the exact command that installs
// it. The Debian package list itself lives in scripts/install-peers.sh; PEER_PACKAGES below maps
// each binary to its package for the hint and must name the same packages.
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';

/** The Debian package that provides each binary the peers use. */
export const PEER_PACKAGES: Readonly<Record<string, string>> = {
  exim4: 'exim4-daemon-light',
  // swaks needs Net::SSLeay (libnet-ssleay-perl) for STARTTLS.
  swaks: 'swaks libnet-ssleay-perl',
  openssl: 'openssl',
  knotd: 'knot',
  knotc: 'knot',
  kdig: 'knot-dnsutils',
  keymgr: 'knot',
  unbound: 'unbound',
  'unbound-checkconf': 'unbound',
  'ldns-dane': 'ldnsutils',
  'ldns-keygen': 'ldnsutils',
  'ldns-signzone': 'ldnsutils',
  'opendkim-testkey': 'opendkim-tools',
  dkimverify: 'python3-dkim',
  dkimsign: 'python3-dkim',
  dovecot: 'dovecot-imapd',
  doveadm: 'dovecot-imapd',
  xmllint: 'libxml2-utils',
};

/**
 * Returns the repository root: $SMTPWB_REPO when set, else the nearest folder above this (possibly
 * bundled) file that has scripts/install-peers.sh. Tests find the checkout from their own location
 * only, never from the working directory or a fixed path, so they run from any folder and in any
 * clone; a test file built outside the checkout must say where it is with $SMTPWB_REPO.
 */
export function repoRoot(): string {
  const fromEnv = process.env.SMTPWB_REPO;
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  let dir = resolve(__dirname);
  for (;;) {
    if (existsSync(join(dir, 'scripts', 'install-peers.sh'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`cannot find the SMTP Workbench checkout (a folder with scripts/install-peers.sh) above ${__dirname}; set SMTPWB_REPO to it`);
}

/**
 * Throws an error that fails the test, telling the reader how to install the missing peer.
 * `installHint` is either Debian package names ("exim4-daemon-light swaks"), which become an apt
 * command, or a complete command to run.
 */
export function peerUnavailable(name: string, installHint: string): never {
  const isPackageList = /^[a-z0-9][a-z0-9.+\- ]*$/.test(installHint.trim());
  const command = isPackageList
    ? `sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${installHint.trim()}`
    : installHint;
  throw new Error(
    `Test peer "${name}" is not available, so this test cannot run (it fails rather than skips). ` +
      `Run scripts/install-peers.sh as root (sudo bash scripts/install-peers.sh), or as a non-root user run: ${command}`,
  );
}

/** Returns true when the file exists and is executable. */
function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds a binary on PATH or in the sbin directories (which a non-root PATH may lack). */
export function findBinary(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Returns the path of a binary, or fails the test with the install hint for its package. */
export function requireBinary(name: string, installHint?: string): string {
  const found = findBinary(name);
  if (found !== undefined) return found;
  return peerUnavailable(name, installHint ?? PEER_PACKAGES[name] ?? name);
}
