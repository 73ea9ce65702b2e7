/**
 * `smtpwb sign FILE.eml --domain D --selector S --key FILE [--algorithm ed25519-sha256|rsa-sha256]
 * [--output FILE]`: prepends a DKIM-Signature field (RFC 6376 §5.6) and writes the signed message
 * to stdout (or the output file). The original bytes follow the new field unchanged.
 *
 * Exit status: 0 on success, 1 when signing failed (for example an unusable key), 2 for a usage error.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { DkimSignError, signMessage, type DkimAlgorithm } from '../mailAuth/sign';
import { parseOptions, type CommandIo } from './verifyCommand';

export const SIGN_USAGE =
  'usage: smtpwb sign FILE.eml --domain DOMAIN --selector SELECTOR --key KEY.pem [--algorithm rsa-sha256|ed25519-sha256] [--output FILE]\n';

export async function signCommand(args: string[], io: CommandIo): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(SIGN_USAGE);
    return 0;
  }
  const parsed = parseOptions(args, ['domain', 'selector', 'key', 'algorithm', 'output'], [], io.stderr, SIGN_USAGE);
  if (!parsed) return 2;
  if (parsed.positional.length !== 1) {
    io.stderr.write(`smtpwb sign: expected one message file\n${SIGN_USAGE}`);
    return 2;
  }
  const domain = parsed.values.get('domain');
  const selector = parsed.values.get('selector');
  const keyFile = parsed.values.get('key');
  if (!domain || !selector || !keyFile) {
    io.stderr.write(`smtpwb sign: --domain, --selector and --key are required\n${SIGN_USAGE}`);
    return 2;
  }
  const algorithmText = parsed.values.get('algorithm');
  if (algorithmText !== undefined && algorithmText !== 'rsa-sha256' && algorithmText !== 'ed25519-sha256') {
    io.stderr.write(`smtpwb sign: --algorithm must be rsa-sha256 or ed25519-sha256\n`);
    return 2;
  }
  const algorithm: DkimAlgorithm | undefined = algorithmText;
  let message: Buffer;
  let key: string;
  try {
    message = await readFile(resolvePath(io.cwd, parsed.positional[0]));
    key = await readFile(resolvePath(io.cwd, keyFile), 'utf8');
  } catch (err) {
    io.stderr.write(`smtpwb sign: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  let signed: Buffer;
  try {
    signed = await signMessage(message, { domain, selector, privateKeyPem: key, algorithm });
  } catch (err) {
    const text = err instanceof DkimSignError || err instanceof Error ? err.message : String(err);
    io.stderr.write(`smtpwb sign: ${text}\n`);
    return 1;
  }
  const output = parsed.values.get('output');
  if (output !== undefined) {
    await writeFile(resolvePath(io.cwd, output), signed);
    return 0;
  }
  await new Promise<void>((resolve, reject) => {
    io.stdout.write(signed, (err) => (err ? reject(err) : resolve()));
  });
  return 0;
}
