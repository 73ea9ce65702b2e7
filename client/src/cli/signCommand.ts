/**
 * `smtpwb sign FILE.eml --domain D --selector S --key FILE [--algorithm ed25519-sha256|rsa-sha256]
 * [--output FILE]`: prepends a DKIM-Signature field (RFC 6376 §5.6) and writes the signed message
 * to stdout (or the output file). The original bytes follow the new field unchanged. The DNS TXT
 * record that verifiers need for the key goes to stderr (RFC 6376 §3.6.2.1: at
 * `SELECTOR._domainkey.DOMAIN`).
 *
 * Exit status: 0 on success, 1 when signing failed (for example an unusable key), 2 for a usage
 * error or input that is not a message that can be signed.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { visibleLine } from '../../../common/escape';
import { normalizeDomain } from '../dns/index';
import { DkimSignError, publicKeyRecord, signMessage, signWarnings, unsignableReason, type DkimAlgorithm } from '../mailAuth/sign';
import { zoneTxt } from './dkimCommand';
import { parseOptions, readInputFileSync, usageError, wantsHelp } from './options';
import type { CommandIo } from './verifyCommand';

export const SIGN_USAGE = `usage: smtpwb sign FILE.eml --domain DOMAIN --selector SELECTOR --key KEY.pem
                   [--algorithm rsa-sha256|ed25519-sha256] [--output FILE]

Signs a message with DKIM (RFC 6376; Ed25519 as RFC 8463) and writes the signed message to stdout
or FILE. The DNS TXT record that verifiers need for the key is printed to stderr. From is signed
once more than the message has it (oversigned, RFC 6376 §8.15), so a From added later breaks the
signature. A message of header fields only is signed with an empty body.

  --domain DOMAIN       the signing domain (d=)
  --selector SELECTOR   the selector (s=); the key is published at SELECTOR._domainkey.DOMAIN
  --key KEY.pem         the PRIVATE key (PKCS#1 or PKCS#8 PEM; RSA of 1024 bits or more, or Ed25519)
  --algorithm ALG       rsa-sha256 or ed25519-sha256 (default: the key's)
  --output FILE         write the signed message to FILE instead of stdout
  -h, --help            show this help

Exit status: 0 signed, 1 signing failed, 2 usage error or input that cannot be signed.
`;

const SIGN_OPTIONS = {
  domain: { type: 'string' },
  selector: { type: 'string' },
  key: { type: 'string' },
  algorithm: { type: 'string' },
  output: { type: 'string' },
} as const;

/** A DKIM selector: one or more sub-domain labels (RFC 6376 §3.1). */
const SELECTOR = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/i;

/** Whether PEM text holds a public key rather than a private one. */
function isPublicKey(pem: string): boolean {
  if (/-----BEGIN (RSA )?PUBLIC KEY-----/.test(pem) || /^(ssh-(rsa|ed25519)|ecdsa-sha2-\S+) /m.test(pem)) return true;
  try {
    createPrivateKey(pem);
    return false;
  } catch {
    try {
      createPublicKey(pem);
      return true;
    } catch {
      return false;
    }
  }
}

export async function signCommand(args: string[], io: CommandIo): Promise<number> {
  if (wantsHelp(args)) {
    io.stdout.write(SIGN_USAGE);
    return 0;
  }
  const parsed = parseOptions(args, SIGN_OPTIONS);
  if (!parsed.ok) return usageError(io, 'sign', parsed.error, SIGN_USAGE);
  if (parsed.positionals.length !== 1) return usageError(io, 'sign', 'expected one message file', SIGN_USAGE);
  const { domain: domainText, selector, key: keyFile, algorithm: algorithmText, output } = parsed.values;
  if (!domainText || !selector || !keyFile) return usageError(io, 'sign', '--domain, --selector and --key are required', SIGN_USAGE);
  const domain = normalizeDomain(domainText);
  if ('error' in domain) return usageError(io, 'sign', `--domain: ${visibleLine(domain.error)}`, SIGN_USAGE);
  if (!SELECTOR.test(selector)) return usageError(io, 'sign', `--selector "${visibleLine(selector)}" is not a valid selector (letters, digits, "-" and "_" in dot-separated labels)`, SIGN_USAGE);
  if (algorithmText !== undefined && algorithmText !== 'rsa-sha256' && algorithmText !== 'ed25519-sha256') {
    return usageError(io, 'sign', '--algorithm must be rsa-sha256 or ed25519-sha256', SIGN_USAGE);
  }
  const algorithm: DkimAlgorithm | undefined = algorithmText;
  let message: Buffer;
  let key: string;
  try {
    message = readInputFileSync(resolvePath(io.cwd, parsed.positionals[0]));
  } catch (err) {
    io.stderr.write(`smtpwb sign: cannot read ${visibleLine(parsed.positionals[0])}: ${visibleLine(err instanceof Error ? err.message : String(err))}\n`);
    return 2;
  }
  try {
    key = readInputFileSync(resolvePath(io.cwd, keyFile)).toString('utf8');
  } catch (err) {
    io.stderr.write(`smtpwb sign: cannot read the key ${visibleLine(keyFile)}: ${visibleLine(err instanceof Error ? err.message : String(err))}\n`);
    return 2;
  }
  const problem = unsignableReason(message);
  if (problem) {
    io.stderr.write(`smtpwb sign: ${visibleLine(parsed.positionals[0])}: ${visibleLine(problem)}\n`);
    return 2;
  }
  if (isPublicKey(key)) {
    io.stderr.write(`smtpwb sign: ${visibleLine(keyFile)} holds a public key; DKIM signs with the private key (its public half is what goes into DNS)\n`);
    return 2;
  }
  let signed: Buffer;
  let record: string;
  try {
    signed = await signMessage(message, { domain: domain.domain, selector, privateKeyPem: key, algorithm });
    record = publicKeyRecord(key);
    // Signed all the same, but worth knowing (two From fields): the same words as the editor's command.
    for (const warning of signWarnings(message)) io.stderr.write(`smtpwb sign: warning: ${visibleLine(warning)}\n`);
  } catch (err) {
    const text = err instanceof DkimSignError || err instanceof Error ? err.message : String(err);
    io.stderr.write(`smtpwb sign: ${visibleLine(text)}\n`);
    return 1;
  }
  const name = `${selector}._domainkey.${domain.domain}`;
  if (output !== undefined) {
    try {
      await writeFile(resolvePath(io.cwd, output), signed);
    } catch (err) {
      io.stderr.write(`smtpwb sign: cannot write ${visibleLine(output)}: ${visibleLine(err instanceof Error ? err.message : String(err))}\n`);
      return 2;
    }
  } else {
    await new Promise<void>((resolve, reject) => {
      io.stdout.write(signed, (err) => (err ? reject(err) : resolve()));
    });
  }
  io.stderr.write(`smtpwb sign: verifiers need this DNS TXT record at ${name}:\n${name}. IN TXT ${zoneTxt(record)}\n`);
  return 0;
}
