// BIMI mark certificates for tests, issued by a real openssl: a CA and leaves with the parts a mark
// certificate carries (the BIMI extended key usage, subjectAltName, an RFC 3709 logotype holding
// the gzip-compressed SVG as a data: URI, an SCT list, the mark type subject attribute), each of
// which a test can leave out or change.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface MarkCertOptions {
  /** extendedKeyUsage (default: the BIMI one, 1.3.6.1.5.5.7.3.31). */
  eku?: string;
  /** subjectAltName value, e.g. `DNS:brand.test`. */
  san: string;
  /** The SVG for the logotype; null leaves the extension out. */
  logo: string | null;
  /** Whether to add an SCT list extension (default true). */
  sct?: boolean;
  /** The mark type subject attribute (default Registered Mark). */
  markType?: string;
  /** The name of the issuing CA made with `ca()` (default `ca`). */
  ca?: string;
}

export interface MarkCertIssuer {
  /** Makes a CA named `name`; returns its PEM. */
  ca(name: string): string;
  /** Issues a one-year mark certificate; returns the file a= serves: the leaf, then its issuer. */
  issue(options: MarkCertOptions): string;
}

/** An issuer working in `dir` (the caller removes it). */
export function markCertIssuer(dir: string): MarkCertIssuer {
  let n = 0;
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  return {
    ca(name) {
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '3650', '-subj', `/O=Mark tests/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
      return readFileSync(join(dir, `${name}.pem`), 'utf8');
    },
    issue(o) {
      const id = `mark${++n}`;
      const ca = o.ca ?? 'ca';
      const ext = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', `extendedKeyUsage=${o.eku ?? '1.3.6.1.5.5.7.3.31'}`, `subjectAltName=${o.san}`];
      if (o.logo !== null) ext.push(`1.3.6.1.5.5.7.1.12=ASN1:IA5STRING:data:image/svg+xml;base64,${gzipSync(Buffer.from(o.logo)).toString('base64')}`);
      if (o.sct !== false) ext.push('1.3.6.1.4.1.11129.2.4.2=ASN1:OCTETSTRING:0000');
      writeFileSync(join(dir, `${id}.ext`), `${ext.join('\n')}\n`);
      // The mark type is a subject attribute openssl knows only by OID, so it is named in a config file.
      writeFileSync(
        join(dir, `${id}.cnf`),
        ['oid_section = oids', '[oids]', 'markType = 1.3.6.1.4.1.53087.1.13', '[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', 'O = Brand Inc', 'CN = Brand', `markType = ${o.markType ?? 'Registered Mark'}`, ''].join('\n'),
      );
      openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-config', `${id}.cnf`, '-keyout', `${id}.key`, '-out', `${id}.csr`]);
      openssl(['x509', '-req', '-in', `${id}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '365', '-extfile', `${id}.ext`, '-out', `${id}.pem`]);
      return `${readFileSync(join(dir, `${id}.pem`), 'utf8')}${readFileSync(join(dir, `${ca}.pem`), 'utf8')}`;
    },
  };
}
