// Creates a throwaway test CA with openssl and issues certificates from it: server certificates for
// given names, an expired one and a wrong-name one for hostile-peer tests, and a self-signed one.
// Everything is cached per process in one temp dir, which is removed when the process exits.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from './process';
import { requireBinary } from './require';

const run = promisify(execFile);

/** The test CA. Trust `caPem` (e.g. `tls.connect({ ca: caPem })`) to verify the certificates below. */
export interface TestCa {
  caPath: string;
  caPem: string;
  caKeyPath: string;
}

/** A certificate and its key, as files and as PEM text. */
export interface IssuedCert {
  certPath: string;
  certPem: string;
  keyPath: string;
  keyPem: string;
  /** The CA that issued it (for a self-signed certificate, the certificate itself). */
  caPath: string;
  caPem: string;
  /** The DNS names and IP addresses in subjectAltName. */
  names: string[];
}

/** The names the standard test server certificate covers. */
export const DEFAULT_SERVER_NAMES: readonly string[] = ['mail.example.test', 'localhost', '127.0.0.1', '::1'];

let dir: string | undefined;
let caPromise: Promise<TestCa> | undefined;
const issued = new Map<string, Promise<IssuedCert>>();
let counter = 0;

/** The per-process folder that holds the CA and the certificates. */
function certDir(): string {
  dir ??= makeTempDir('certs');
  return dir;
}

/** Runs openssl with the arguments and fails with its stderr when it fails. */
async function openssl(args: string[], cwd: string): Promise<void> {
  const bin = requireBinary('openssl');
  try {
    await run(bin, args, { cwd });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr || String(error)}`);
  }
}

/** The key arguments for `openssl req`: ECDSA P-256, which is quick to generate. */
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Returns the test CA, creating it on first use. */
export function testCa(): Promise<TestCa> {
  caPromise ??= (async () => {
    const d = certDir();
    const caPath = join(d, 'ca.pem');
    const caKeyPath = join(d, 'ca.key');
    await openssl(
      [
        'req', '-x509', ...NEW_KEY, '-days', '3650',
        '-subj', '/O=SMTP Workbench tests/CN=SMTP Workbench Test CA',
        '-keyout', caKeyPath, '-out', caPath,
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      ],
      d,
    );
    return { caPath, caPem: readFileSync(caPath, 'utf8'), caKeyPath };
  })();
  return caPromise;
}

/** Formats names as a subjectAltName value: DNS:… for names, IP:… for addresses. */
function subjectAltName(names: readonly string[]): string {
  return names.map((n) => (isIP(n) !== 0 ? `IP:${n}` : `DNS:${n}`)).join(',');
}

/** Options for issueCert(). */
export interface IssueOptions {
  /** DNS names and IP addresses for subjectAltName; the first DNS name is also the CN. */
  names: readonly string[];
  /** Issue a certificate whose validity ended in the past (2020-01-01 to 2021-01-01). */
  expired?: boolean;
  /** Self-sign instead of using the test CA (an untrusted issuer). */
  selfSigned?: boolean;
}

/** Issues a server certificate (not cached; see serverCert() for the cached variant). */
export async function issueCert(options: IssueOptions): Promise<IssuedCert> {
  const d = certDir();
  const id = `cert${++counter}`;
  const certPath = join(d, `${id}.pem`);
  const keyPath = join(d, `${id}.key`);
  const names = [...options.names];
  const cn = names.find((n) => isIP(n) === 0) ?? names[0] ?? 'test';
  const ext = join(d, `${id}.ext`);
  writeFileSync(
    ext,
    [
      `subjectAltName=${subjectAltName(names)}`,
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      '',
    ].join('\n'),
  );
  if (options.selfSigned === true) {
    await openssl(
      [
        'req', '-x509', ...NEW_KEY, '-days', '3650', '-subj', `/CN=${cn}`,
        '-keyout', keyPath, '-out', certPath, '-addext', `subjectAltName=${subjectAltName(names)}`,
      ],
      d,
    );
    const pem = readFileSync(certPath, 'utf8');
    return { certPath, certPem: pem, keyPath, keyPem: readFileSync(keyPath, 'utf8'), caPath: certPath, caPem: pem, names };
  }
  const ca = await testCa();
  const csr = join(d, `${id}.csr`);
  await openssl(['req', ...NEW_KEY, '-subj', `/CN=${cn}`, '-keyout', keyPath, '-out', csr], d);
  if (options.expired === true) {
    // `openssl x509` cannot set a start date in OpenSSL 3.0, so the expired one goes through `openssl ca`.
    const caDir = join(d, `${id}-ca`);
    const conf = join(d, `${id}-ca.cnf`);
    mkdirSync(caDir);
    writeFileSync(join(caDir, 'index.txt'), '');
    writeFileSync(
      conf,
      [
        '[ca]', 'default_ca = test', '[test]', `dir = ${caDir}`, 'database = $dir/index.txt',
        'new_certs_dir = $dir', 'rand_serial = yes', 'default_md = sha256', 'policy = any',
        'copy_extensions = none', 'unique_subject = no', '[any]', 'commonName = supplied', '',
      ].join('\n'),
    );
    await openssl(
      [
        'ca', '-batch', '-config', conf, '-cert', ca.caPath, '-keyfile', ca.caKeyPath, '-in', csr,
        '-out', certPath, '-startdate', '20200101000000Z', '-enddate', '20210101000000Z',
        '-extfile', ext, '-notext',
      ],
      d,
    );
  } else {
    await openssl(
      [
        'x509', '-req', '-in', csr, '-CA', ca.caPath, '-CAkey', ca.caKeyPath, '-set_serial',
        `0x${Date.now().toString(16)}${counter.toString(16).padStart(4, '0')}`, '-days', '825',
        '-sha256', '-extfile', ext, '-out', certPath,
      ],
      d,
    );
  }
  return {
    certPath,
    certPem: readFileSync(certPath, 'utf8'),
    keyPath,
    keyPem: readFileSync(keyPath, 'utf8'),
    caPath: ca.caPath,
    caPem: ca.caPem,
    names,
  };
}

/** Caches one issuance per kind and name list for the life of the process. */
function cached(kind: string, options: IssueOptions): Promise<IssuedCert> {
  const key = `${kind}:${options.names.join(',')}`;
  let found = issued.get(key);
  if (found === undefined) {
    found = issueCert(options);
    issued.set(key, found);
  }
  return found;
}

/** A valid server certificate from the test CA for the names (cached per process). */
export function serverCert(names: readonly string[] = DEFAULT_SERVER_NAMES): Promise<IssuedCert> {
  return cached('server', { names });
}

/** A certificate from the test CA for the names whose validity ended on 2021-01-01 (cached). */
export function expiredCert(names: readonly string[] = DEFAULT_SERVER_NAMES): Promise<IssuedCert> {
  return cached('expired', { names, expired: true });
}

/** A valid certificate from the test CA for a name no test connects to: wrong.example.invalid (cached). */
export function wrongNameCert(): Promise<IssuedCert> {
  return cached('wrong', { names: ['wrong.example.invalid'] });
}

/** A self-signed certificate for the names, which the test CA does not vouch for (cached). */
export function selfSignedCert(names: readonly string[] = DEFAULT_SERVER_NAMES): Promise<IssuedCert> {
  return cached('self', { names, selfSigned: true });
}
