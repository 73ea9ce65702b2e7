// Starts a real Exim 4.96 on loopback for tests and benchmarks: STARTTLS, implicit TLS, AUTH,
// PIPELINING, CHUNKING, 8BITMIME, SMTPUTF8, DSN, SIZE 20 MB, and byte-exact Maildir delivery.
//
// Ports (all dynamically allocated, on 127.0.0.1 and, when IPv6 loopback works, on [::1]):
//   port           cleartext with STARTTLS; AUTH is advertised and accepted only after STARTTLS.
//   tlsPort        implicit TLS (like 465); AUTH is advertised.
//   clearAuthPort  cleartext with STARTTLS where AUTH is advertised and accepted before TLS too
//                  (the target of the "cleartext AUTH" security probe).
// Account: user / pass (AUTH PLAIN, LOGIN, CRAM-MD5).
// Policy at RCPT: local part `reject` gets 550 5.1.1, `tempfail` gets 451 4.3.0, any other
// recipient in a local domain (example.test, mail.example.test, localhost) is accepted, any other
// domain needs AUTH (else 550 5.7.1 relay not permitted). Messages over 20 MB get 552.
// VRFY and EXPN are refused with Exim's default "252 Administrative prohibition" unless
// startExim({ vrfy: true }), which answers VRFY ("250 <a@b> is deliverable") and EXPN with 250.
// Delivery: every accepted recipient (local or relayed; nothing ever leaves the machine) gets one
// file in the single Maildir `maildir`, written with CRLF line ends and no added headers, so a
// message sent with CRLF line ends arrives byte-identical (also over BDAT and implicit TLS, with
// NUL bytes and 5000-byte lines). Measured exceptions: a bare LF or a bare CR arrives as CRLF, a
// message without a final CRLF (BDAT) gets one, and a message whose first line is not a header
// gets a blank line in front. The recipient is encoded in the file name (EximDelivery.recipient).
//
// Gotchas handled here: run as root, Exim switches to an unprivileged EXIMUSER (Debian-exim, which
// the exim4 package creates) that must read the spool, Maildir and TLS key, so the temp dir is given
// to that user. Run as another user, Exim runs as that user. Exim holds the 221 reply to QUIT for
// about 200 ms unless the client half-closes its socket after sending QUIT.
import { execFileSync } from 'node:child_process';
import { chownSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { serverCert, testCa } from './certs';
import { freePort, ipv6LoopbackAvailable, waitForTcp } from './ports';
import { logTail, makeTempDir, removeTempDir, spawnPeer, PeerProcess, startWithRetries } from './process';
import { requireBinary } from './require';

/** Options for startExim(). */
export interface EximOptions {
  /** Accept VRFY and EXPN (default: refused, as on most public servers). */
  vrfy?: boolean;
  /** Extra local domains besides example.test, mail.example.test and localhost. */
  localDomains?: string[];
  /** Maximum message size in bytes (default 20 MB = 20971520). */
  messageSizeLimit?: number;
  /** Milliseconds to wait for the ports to listen (default 10000). */
  startTimeoutMs?: number;
}

/** One delivered file. */
export interface EximDelivery {
  /** The file in Maildir/new. */
  path: string;
  /** The envelope recipient it was delivered for (decoded from the file name). */
  recipient: string;
  /** The file's bytes. */
  data: Buffer;
}

/** A running Exim. */
export interface EximPeer {
  /** 127.0.0.1. */
  host: string;
  /** '::1' when Exim also listens on IPv6 loopback (same port numbers), else undefined. */
  host6: string | undefined;
  /** Cleartext + STARTTLS; AUTH only after TLS. */
  port: number;
  /** Implicit TLS. */
  tlsPort: number;
  /** Cleartext + STARTTLS with AUTH advertised before TLS as well. */
  clearAuthPort: number;
  /** The name in the greeting and the certificate: mail.example.test. */
  hostname: string;
  /** The account for AUTH. */
  user: string;
  pass: string;
  /** The test CA that issued the server certificate (PEM text and file). */
  caPem: string;
  caPath: string;
  /** The server certificate (SANs: mail.example.test, localhost, 127.0.0.1, ::1). */
  certPem: string;
  /** The temp dir of this instance. */
  base: string;
  /** The Maildir every message is delivered to (its new/ holds the files). */
  maildir: string;
  /** Exim's main log. */
  logPath: string;
  /** Startup time in milliseconds (spawn until all ports listen). */
  startupMs: number;
  /** Delivered messages, oldest first (one file per recipient). */
  messages(): Promise<Buffer[]>;
  /** Delivered files with their recipients, oldest first. */
  deliveries(): Promise<EximDelivery[]>;
  /** Resolves with the messages once at least n have been delivered; rejects after timeoutMs. */
  waitForMessages(n: number, timeoutMs?: number): Promise<Buffer[]>;
  /** Removes every delivered message. */
  clear(): Promise<void>;
  /** Stops Exim and removes its temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** The user and group Exim switches to, and their ids for chown. */
interface EximIdentity {
  user: string;
  group: string;
  uid: number;
  gid: number;
}

/** Picks the identity: Debian-exim when running as root, else the current user. */
function eximIdentity(): EximIdentity {
  const me = userInfo();
  if (me.uid !== 0) {
    const group = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
    return { user: me.username, group, uid: me.uid, gid: me.gid };
  }
  // The exim4 package creates Debian-exim; Exim refuses to run deliveries as root.
  for (const name of ['Debian-exim', 'exim', 'mail', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      const group = execFileSync('id', ['-gn', name], { encoding: 'utf8' }).trim();
      if (uid !== 0) return { user: name, group, uid, gid };
    } catch {
      // No such user; try the next.
    }
  }
  throw new Error('startExim: found no unprivileged user for Exim (expected Debian-exim)');
}

/** Gives a tree to the Exim user so that its unprivileged processes can use it. */
function chownTree(path: string, id: EximIdentity): void {
  chownSync(path, id.uid, id.gid);
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path)) chownTree(join(path, name), id);
  }
}

/** Builds the Exim configuration for one instance. */
function eximConfig(p: {
  base: string;
  id: EximIdentity;
  port: number;
  tlsPort: number;
  clearAuthPort: number;
  ipv6: boolean;
  vrfy: boolean;
  localDomains: string[];
  sizeLimit: number;
}): string {
  const ports = [p.port, p.tlsPort, p.clearAuthPort];
  const interfaces = ports.flatMap((port) => [`127.0.0.1.${port}`, ...(p.ipv6 ? [`::1.${port}`] : [])]);
  const domains = p.localDomains.join(' : ');
  return `# Generated by test/peers/exim.ts for one test process.
primary_hostname = mail.example.test
qualify_domain = example.test
local_interfaces = <; ${interfaces.join(' ; ')}
daemon_smtp_ports = ${ports.join(' : ')}
tls_on_connect_ports = ${p.tlsPort}
spool_directory = ${p.base}/spool
log_file_path = ${p.base}/log/%slog
pid_file_path = ${p.base}/exim.pid
exim_user = ${p.id.user}
exim_group = ${p.id.group}
never_users =
trusted_users = ${p.id.user}
keep_environment =
host_lookup =
rfc1413_hosts =
helo_try_verify_hosts =
# By default Exim looks up the client's name when its EHLO gives the server's own name: never here.
helo_lookup_domains =
log_selector = +smtp_connection +smtp_protocol_error +smtp_syntax_error +tls_certificate_verified +received_recipients +pipelining
tls_advertise_hosts = *
tls_certificate = ${p.base}/tls/cert.pem
tls_privatekey = ${p.base}/tls/key.pem
tls_require_ciphers = NORMAL
pipelining_advertise_hosts = *
chunking_advertise_hosts = *
smtputf8_advertise_hosts = *
dsn_advertise_hosts = *
prdr_enable = true
accept_8bitmime = true
message_size_limit = ${p.sizeLimit}
# AUTH is advertised after STARTTLS (or on the implicit-TLS port), and on clearAuthPort always.
auth_advertise_hosts = \${if or{{!eq{$tls_in_cipher}{}}{eq{$received_port}{${p.clearAuthPort}}}}{*}{}}
smtp_accept_max = 500
smtp_accept_queue_per_connection = 0
smtp_accept_max_per_host = 500
smtp_accept_max_per_connection = 100000
smtp_connect_backlog = 256
smtp_receive_timeout = 60s
received_header_text =
queue_only = false
acl_smtp_mail = acl_mail
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data
${p.vrfy ? 'acl_smtp_vrfy = acl_vrfy\nacl_smtp_expn = acl_vrfy\n' : ''}
domainlist local_domains = ${domains}

begin acl
acl_mail:
  # Exim would verify DKIM signatures of every message through the system resolver, which the
  # tests must never depend on (a CI machine's resolver may never answer): the tests check DKIM
  # themselves, against Knot.
  accept control = dkim_disable_verify
acl_rcpt:
  deny   local_parts = reject
         message = 550 5.1.1 <$local_part@$domain>: rejected by test (no such user)
  defer  local_parts = tempfail
         message = 451 4.3.0 <$local_part@$domain>: temporary failure by test
  accept domains = +local_domains
  accept authenticated = *
  deny   message = 550 5.7.1 relay not permitted
acl_data:
  accept
acl_vrfy:
  accept

begin routers
everything:
  driver = accept
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = ${p.base}/Maildir
  maildir_format
  create_directory
  delivery_date_add = false
  envelope_to_add = false
  return_path_add = false
  use_crlf = true
  # The recipient, with % and / and , and : escaped as %XX, ends the file name.
  maildir_tag = ,R=\${sg{\${sg{\${sg{\${sg{$local_part@$domain}{%}{%25}}}{/}{%2F}}}{,}{%2C}}}{:}{%3A}}
  user = ${p.id.user}
  group = ${p.id.group}
  mode = 0644

begin retry
*  *  F,1m,10s

begin authenticators
PLAIN:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{$auth2}{user}}{eq{$auth3}{pass}}}}
  server_set_id = $auth2
LOGIN:
  driver = plaintext
  public_name = LOGIN
  server_prompts = <| Username: | Password:
  server_condition = \${if and {{eq{$auth1}{user}}{eq{$auth2}{pass}}}}
  server_set_id = $auth1
CRAM:
  driver = cram_md5
  public_name = CRAM-MD5
  server_secret = \${if eq{$auth1}{user}{pass}fail}
  server_set_id = $auth1
`;
}

/** Parses a Maildir file name into its sort key and recipient. */
function parseName(name: string): { seconds: number; micros: number; recipient: string } {
  const m = /^(\d+)\.H(\d+)P\d+/.exec(name);
  const tag = /,R=(.*)$/.exec(name);
  let recipient = '';
  if (tag) {
    try {
      recipient = decodeURIComponent(tag[1]);
    } catch {
      recipient = tag[1];
    }
  }
  return { seconds: m ? Number(m[1]) : 0, micros: m ? Number(m[2]) : 0, recipient };
}

/** Starts Exim once with the given ports; throws when it does not come up. */
async function tryStart(options: EximOptions): Promise<EximPeer> {
  const exim = requireBinary('exim4');
  const started = Date.now();
  const id = eximIdentity();
  const ipv6 = await ipv6LoopbackAvailable();
  const port = await freePort({ ipv6 });
  let tlsPort = await freePort({ ipv6 });
  while (tlsPort === port) tlsPort = await freePort({ ipv6 });
  let clearAuthPort = await freePort({ ipv6 });
  while (clearAuthPort === port || clearAuthPort === tlsPort) clearAuthPort = await freePort({ ipv6 });

  const base = makeTempDir('exim');
  for (const sub of ['spool', 'log', 'tls', 'Maildir', 'Maildir/new', 'Maildir/cur', 'Maildir/tmp']) {
    mkdirSync(join(base, sub), { recursive: true });
  }
  const cert = await serverCert();
  const ca = await testCa();
  copyFileSync(cert.certPath, join(base, 'tls', 'cert.pem'));
  copyFileSync(cert.keyPath, join(base, 'tls', 'key.pem'));
  const localDomains = ['example.test', 'mail.example.test', 'localhost', ...(options.localDomains ?? [])];
  const configPath = join(base, 'exim.conf');
  writeFileSync(
    configPath,
    eximConfig({
      base,
      id,
      port,
      tlsPort,
      clearAuthPort,
      ipv6,
      vrfy: options.vrfy === true,
      localDomains,
      sizeLimit: options.messageSizeLimit ?? 20 * 1024 * 1024,
    }),
    { mode: 0o644 },
  );
  if (userInfo().uid === 0) {
    chownTree(base, id);
    // Exim checks that its configuration file belongs to root (or the Exim user) when run by root.
    chownSync(configPath, 0, 0);
  }
  const stderrPath = join(base, 'log', 'stderr');
  const child: PeerProcess = spawnPeer(exim, ['-C', configPath, '-bdf'], {
    logFile: stderrPath,
    marker: base,
    removeOnDeath: base,
    cwd: base,
  });
  const logPath = join(base, 'log', 'mainlog');
  try {
    const timeout = options.startTimeoutMs ?? 10000;
    for (const p of [port, tlsPort, clearAuthPort]) await waitForTcp('127.0.0.1', p, timeout, child.running);
  } catch (error) {
    // Read the logs first: stopping removes the temp dir.
    const detail = `${logTail(stderrPath)}\n${logTail(join(base, 'log', 'paniclog'))}\n${logTail(logPath)}`;
    await child.stop();
    removeTempDir(base);
    throw new Error(`startExim: ${(error as Error).message}\n${detail.trim()}`);
  }
  const startupMs = Date.now() - started;
  const newDir = join(base, 'Maildir', 'new');

  const deliveries = async (): Promise<EximDelivery[]> => {
    const names = readdirSync(newDir);
    const parsed = names.map((name) => ({ name, ...parseName(name) }));
    parsed.sort((a, b) => a.seconds - b.seconds || a.micros - b.micros || a.name.localeCompare(b.name));
    return parsed.map((p) => ({
      path: join(newDir, p.name),
      recipient: p.recipient,
      data: readFileSync(join(newDir, p.name)),
    }));
  };
  const messages = async (): Promise<Buffer[]> => (await deliveries()).map((d) => d.data);
  let stopped = false;

  return {
    host: '127.0.0.1',
    host6: ipv6 ? '::1' : undefined,
    port,
    tlsPort,
    clearAuthPort,
    hostname: 'mail.example.test',
    user: 'user',
    pass: 'pass',
    caPem: ca.caPem,
    caPath: ca.caPath,
    certPem: cert.certPem,
    base,
    maildir: join(base, 'Maildir'),
    logPath,
    startupMs,
    messages,
    deliveries,
    async waitForMessages(n: number, timeoutMs = 10000): Promise<Buffer[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = await messages();
        if (found.length >= n) return found;
        if (Date.now() > deadline) {
          throw new Error(
            `exim: expected ${n} delivered message(s) within ${timeoutMs} ms, found ${found.length}\n${logTail(logPath)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async clear(): Promise<void> {
      for (const sub of ['new', 'cur', 'tmp']) {
        const dir = join(base, 'Maildir', sub);
        for (const name of readdirSync(dir)) rmSync(join(dir, name), { force: true });
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
 * Starts Exim in the foreground (`exim4 -C CONF -bdf`) as a child in its own process group, in a
 * fresh temp dir, and resolves once all its ports listen. Retries with new ports when another
 * process took one of them in the meantime.
 */
export async function startExim(options: EximOptions = {}): Promise<EximPeer> {
  return startWithRetries(() => tryStart(options));
}
