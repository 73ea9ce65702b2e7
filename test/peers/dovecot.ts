// Starts Debian's Dovecot (dovecot-imapd) in the foreground on loopback for tests: IMAP with
// STARTTLS on `port` and implicit TLS on `tlsPort`, one passwd-file account, and a Maildir under
// the instance's temp dir that tests fill with deliver() before or while the server runs.
//
// The configuration is the instance's own (dovecot -F -c FILE): nothing of /etc/dovecot is read,
// base_dir, state_dir and the logs live in the temp dir. Run as root, Dovecot's login processes
// use Debian's dovenull and dovecot users and the mail is owned by nobody (65534), so the temp dir
// is made traversable and the Maildir is given to that user; run as another user, every process
// and the mail run as that user.
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { serverCert, testCa } from './certs';
import { freePorts, waitForTcp } from './ports';
import { logTail, makeTempDir, removeTempDir, spawnPeer, startWithRetries } from './process';
import { requireBinary } from './require';

export interface DovecotPeer {
  host: string;
  /** IMAP with STARTTLS (plain-text login also allowed, for loopback tests). */
  port: number;
  /** IMAP over implicit TLS. */
  tlsPort: number;
  user: string;
  pass: string;
  /** The test CA that issued the server certificate (SANs: localhost, 127.0.0.1, mail.example.test). */
  caPath: string;
  /** Puts a message into the account's INBOX (Maildir new/). */
  deliver(message: string | Buffer): void;
  /** The Dovecot log so far. */
  log(): string;
  stop(): Promise<void>;
}

let sequence = 0;

/** The uid and gid of a system user from /etc/passwd. */
function systemUser(name: string): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) return undefined;
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

async function tryStart(): Promise<DovecotPeer> {
  const dovecot = requireBinary('dovecot', 'dovecot-imapd');
  const base = makeTempDir('dovecot');
  const root = process.getuid?.() === 0;
  const mailUid = root ? 65534 : userInfo().uid;
  const mailGid = root ? 65534 : userInfo().gid;
  const user = 'reports';
  const pass = `pw-${process.pid}-${Date.now()}`;
  const [port, tlsPort] = await freePorts(2);
  const cert = await serverCert();
  const ca = await testCa();
  chmodSync(base, 0o755);
  for (const dir of ['run', 'state', 'home', 'mail', `mail/${user}/new`, `mail/${user}/cur`, `mail/${user}/tmp`]) mkdirSync(join(base, dir), { recursive: true });
  const logFile = join(base, 'dovecot.log');
  writeFileSync(join(base, 'passwd'), `${user}:{PLAIN}${pass}::::::\n`, { mode: 0o600 });
  // The auth process reads the passwd-file as Debian's "dovecot" user.
  if (root) {
    const id = systemUser('dovecot');
    if (id) chownSync(join(base, 'passwd'), id.uid, id.gid);
  }
  const me = userInfo().username;
  const config = [
    'protocols = imap',
    'listen = 127.0.0.1',
    `base_dir = ${base}/run`,
    `state_dir = ${base}/state`,
    `log_path = ${logFile}`,
    `info_log_path = ${logFile}`,
    'ssl = yes',
    `ssl_cert = <${cert.certPath}`,
    `ssl_key = <${cert.keyPath}`,
    // Loopback tests log in without TLS too; --tls and --starttls are tested on their own ports.
    'disable_plaintext_auth = no',
    'auth_mechanisms = plain login',
    `mail_location = maildir:${base}/mail/%u`,
    ...(root ? [] : [`default_internal_user = ${me}`, `default_login_user = ${me}`, `default_internal_group = ${userInfo().username}`]),
    'first_valid_uid = 1',
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%u ${base}/passwd`,
    '}',
    'userdb {',
    '  driver = static',
    `  args = uid=${mailUid} gid=${mailGid} home=${base}/home/%u`,
    '}',
    'service imap-login {',
    '  inet_listener imap {',
    `    port = ${port}`,
    '  }',
    '  inet_listener imaps {',
    `    port = ${tlsPort}`,
    '    ssl = yes',
    '  }',
    '}',
    'service anvil {',
    '  chroot =',
    '}',
    '',
  ].join('\n');
  const configPath = join(base, 'dovecot.conf');
  writeFileSync(configPath, config);
  const chownMail = (): void => {
    if (!root) return;
    const walk = (p: string): void => {
      chownSync(p, mailUid, mailGid);
      for (const e of readdirSync(p, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(p, e.name));
        else chownSync(join(p, e.name), mailUid, mailGid);
      }
    };
    walk(join(base, 'mail'));
    walk(join(base, 'home'));
  };
  chownMail();
  const proc = spawnPeer(dovecot, ['-F', '-c', configPath], { logFile: join(base, 'stdout.log'), marker: base, removeOnDeath: base });
  try {
    await waitForTcp('127.0.0.1', port, 15000, proc.running);
    await waitForTcp('127.0.0.1', tlsPort, 15000, proc.running);
  } catch (error) {
    await proc.stop();
    const detail = `${logTail(logFile)}${logTail(join(base, 'stdout.log'))}`;
    removeTempDir(base);
    throw new Error(`dovecot did not start: ${String(error)}\n${detail}`);
  }
  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    tlsPort,
    user,
    pass,
    caPath: ca.caPath,
    deliver(message: string | Buffer): void {
      const name = `${Math.floor(Date.now() / 1000)}.M${++sequence}P${process.pid}.smtpwb-test`;
      const file = join(base, 'mail', user, 'new', name);
      writeFileSync(file, message);
      if (root) chownSync(file, mailUid, mailGid);
    },
    log: () => logTail(logFile, 20000),
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await proc.stop();
      removeTempDir(base);
    },
  };
}

/** Starts Dovecot; fails (never skips) when dovecot-imapd is not installed. */
export function startDovecot(): Promise<DovecotPeer> {
  return startWithRetries(() => tryStart());
}
