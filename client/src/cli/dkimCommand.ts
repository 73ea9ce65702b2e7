/**
 * `smtpwb dkim keygen` and `smtpwb dkim check`: create a DKIM key pair and the TXT record that
 * publishes it (RFC 6376 §3.6.1, RFC 8463 §4.2), and confirm that a private key matches the key
 * published at `<selector>._domainkey.<domain>`, as `opendkim-testkey` does.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFile, readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { jsonText, visibleLine } from '../../../common/escape';
import { checkDkimKey, dkimPublicKeyOf, isDkimName } from '../mailAuth/dkimKeyCheck';
import { createResolver } from '../mailAuth/resolver';
import { publicKeyRecord } from '../mailAuth/sign';
import type { CliIo } from './cliIo';
import { parseOptions, readDnsOptions, usageError, wantsHelp } from './options';

const DKIM_USAGE = `Usage: smtpwb dkim keygen --domain D --selector S [--algorithm rsa-2048|rsa-3072|ed25519] [--out FILE] [--json]
       smtpwb dkim check --domain D --selector S --key FILE [--dns-server HOST:PORT] [--timeout MS] [--json]

keygen   writes a new private key (PKCS#8 PEM, mode 0600; FILE defaults to S._domainkey.D.pem and is
         never overwritten) and prints the TXT record to publish at S._domainkey.D.
check    reads the key record at S._domainkey.D, checks it (RFC 6376 §3.6.1, RFC 8301, RFC 8463) and
         confirms that the private key in FILE is the one published.

Exit status: 0 done / the keys match, 1 the keys do not match or the record is unusable,
2 usage error or unreadable key, 3 the DNS query failed.
`;

const KEYGEN_OPTIONS = {
  domain: { type: 'string' },
  selector: { type: 'string' },
  algorithm: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const CHECK_OPTIONS = {
  domain: { type: 'string' },
  selector: { type: 'string' },
  key: { type: 'string' },
  'dns-server': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** The record as zone-file text: quoted character-strings of at most 255 octets (RFC 1035 §3.3.14). */
export function zoneTxt(value: string): string {
  const chunks: string[] = [];
  for (let i = 0; i < value.length; i += 255) chunks.push(`"${value.slice(i, i + 255)}"`);
  return chunks.length === 1 ? chunks[0] : `( ${chunks.join(' ')} )`;
}

export async function dkimCommand(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || ((sub === '-h' || sub === '--help') && rest.length === 0)) {
    (sub === undefined ? io.stderr : io.stdout).write(DKIM_USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (wantsHelp(rest)) {
    io.stdout.write(DKIM_USAGE);
    return 0;
  }
  if (sub === 'keygen') return keygen(rest, io);
  if (sub === 'check') return check(rest, io);
  return usageError(io, 'dkim', `unknown subcommand "${visibleLine(sub)}" (keygen or check)`, DKIM_USAGE);
}

function names(v: { domain?: string; selector?: string }, io: CliIo): { domain: string; selector: string } | number {
  if (v.domain === undefined || v.selector === undefined) return usageError(io, 'dkim', '--domain and --selector are required', DKIM_USAGE);
  if (!isDkimName(v.domain)) return usageError(io, 'dkim', `--domain "${visibleLine(v.domain)}" is not a domain name`, DKIM_USAGE);
  if (!isDkimName(v.selector)) return usageError(io, 'dkim', `--selector "${visibleLine(v.selector)}" is not a valid selector`, DKIM_USAGE);
  return { domain: v.domain.replace(/\.$/, '').toLowerCase(), selector: v.selector.toLowerCase() };
}

async function keygen(args: string[], io: CliIo): Promise<number> {
  const parsed = parseOptions(args, KEYGEN_OPTIONS);
  if (!parsed.ok) return usageError(io, 'dkim keygen', parsed.error, DKIM_USAGE);
  if (parsed.positionals.length > 0) return usageError(io, 'dkim keygen', `unexpected argument "${visibleLine(parsed.positionals[0])}"`, DKIM_USAGE);
  const v = parsed.values;
  const n = names(v, io);
  if (typeof n === 'number') return n;
  const algorithm = v.algorithm ?? 'rsa-2048';
  let pem: string;
  if (algorithm === 'ed25519') {
    pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  } else if (algorithm === 'rsa-2048' || algorithm === 'rsa-3072' || algorithm === 'rsa-4096') {
    // RFC 8301 §3.2: at least 1024 bits, 2048 recommended.
    pem = generateKeyPairSync('rsa', { modulusLength: Number(algorithm.slice(4)) }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  } else {
    return usageError(io, 'dkim keygen', `--algorithm "${visibleLine(algorithm)}" is not rsa-2048, rsa-3072, rsa-4096 or ed25519`, DKIM_USAGE);
  }
  const outName = v.out ?? `${n.selector}._domainkey.${n.domain}.pem`;
  const file = resolvePath(io.cwd, outName);
  try {
    // "wx": never overwrite a key that may already be in use; 0600: the key is a secret.
    await writeFile(file, pem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    io.stderr.write(`smtpwb dkim keygen: cannot write ${visibleLine(outName)}: ${code === 'EEXIST' ? 'the file exists (a key is never overwritten)' : visibleLine((err as Error).message)}\n`);
    return 2;
  }
  const record = publicKeyRecord(pem);
  const name = `${n.selector}._domainkey.${n.domain}`;
  if (v.json) {
    io.stdout.write(`${jsonText({ privateKeyFile: file, algorithm, name, type: 'TXT', value: record, zone: `${name}. IN TXT ${zoneTxt(record)}` }, 2)}\n`);
  } else {
    io.stdout.write(`Private key (${algorithm}) written to ${visibleLine(outName)} (mode 0600). Keep it secret.\n\nPublish this TXT record:\n\n${name}. IN TXT ${zoneTxt(record)}\n`);
  }
  return 0;
}

async function check(args: string[], io: CliIo): Promise<number> {
  const parsed = parseOptions(args, CHECK_OPTIONS);
  if (!parsed.ok) return usageError(io, 'dkim check', parsed.error, DKIM_USAGE);
  if (parsed.positionals.length > 0) return usageError(io, 'dkim check', `unexpected argument "${visibleLine(parsed.positionals[0])}"`, DKIM_USAGE);
  const v = parsed.values;
  const n = names(v, io);
  if (typeof n === 'number') return n;
  if (v.key === undefined) return usageError(io, 'dkim check', '--key FILE is required', DKIM_USAGE);
  const dns = await readDnsOptions(v['dns-server'], { option: '--timeout', text: v.timeout, defaultMs: 5000 });
  if ('error' in dns) return usageError(io, 'dkim check', dns.error, DKIM_USAGE);
  const { server, timeoutMs } = dns;
  let pem: string;
  try {
    pem = await readFile(resolvePath(io.cwd, v.key), 'utf8');
  } catch (err) {
    io.stderr.write(`smtpwb dkim check: cannot read ${visibleLine(v.key)}: ${visibleLine((err as Error).message)}\n`);
    return 2;
  }
  const mine = dkimPublicKeyOf(pem);
  if ('error' in mine) {
    io.stderr.write(`smtpwb dkim check: ${visibleLine(v.key)}: ${mine.error}\n`);
    return 2;
  }
  const resolver = createResolver({ server, timeoutMs, tries: 1 });
  const checked = await checkDkimKey(pem, n.domain, n.selector, async (name) => (await resolver(name, 'TXT')) as string[][]);
  if ('error' in checked) {
    io.stderr.write(`smtpwb dkim check: ${visibleLine(checked.error)}\n`);
    return 3;
  }
  const { name, ok, message, findings, record } = checked;
  const verdict = { ok, message: message.replace('the private key', `the private key in ${v.key}`) };
  if (v.json) {
    io.stdout.write(`${jsonText({ name, match: verdict.ok, message: verdict.message, record: record ?? null, findings }, 2)}\n`);
  } else {
    io.stdout.write(`${verdict.ok ? 'OK' : 'FAIL'}: ${visibleLine(verdict.message)}\n`);
    if (record !== undefined) io.stdout.write(`record: ${visibleLine(record)}\n`);
    for (const f of findings.filter((x) => x.severity !== 'pass')) io.stdout.write(`${f.severity} ${f.code}: ${visibleLine(f.message)}\n`);
  }
  return verdict.ok ? 0 : 1;
}
