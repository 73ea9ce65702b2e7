/**
 * The opt-in STARTTLS probe (RFC 3207): connect to each MX host, see whether STARTTLS is offered,
 * upgrade, and report the TLS version and the certificate. The check is pure; the network part sits
 * behind the injected `StartTlsProber`. `createNodeStartTlsProber` is a default prober on node:net
 * and node:tls.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { type CertificateInfo, type CheckContext, finding, rfc, type StartTlsProbeRequest, type StartTlsProbeResult, type StartTlsProber } from './context';
import type { MxOutcome } from './mx';
import { quitAndClose } from './tlsChain';
import { CHECK_TITLES, type CheckResult, type Finding, type RawRecord, type RecordRef } from './types';

const DAY = 86_400_000;

/** Runs the STARTTLS check over every MX host, all at once. */
export async function checkStartTls(ctx: CheckContext, mxPromise: Promise<MxOutcome>): Promise<CheckResult> {
  const findings: Finding[] = [];
  const records: RawRecord[] = [];
  const result: CheckResult = { id: 'starttls', title: CHECK_TITLES.starttls, findings, records };
  const prober = ctx.prober;
  if (!prober) {
    result.skipped = 'The STARTTLS probe was not requested.';
    return result;
  }
  const mx = await mxPromise;
  if (mx.hosts.length === 0) {
    result.skipped = mx.nullMx ? 'The domain publishes a null MX.' : 'No MX host has an address.';
    return result;
  }
  const now = ctx.clock.now();
  await Promise.all(
    mx.hosts.map(async (host) => {
      const address = host.addresses[0];
      const probe = await prober.probe({ host: host.name, address, timeoutMs: ctx.timeoutMs });
      const where = `${host.name} (${address})`;
      if (!probe.connected) {
        findings.push(finding('warning', 'starttls-connect-failed', `Could not talk SMTP to ${where}: ${probe.error}.`, rfc(5321, '3.1')));
        return;
      }
      const ehlo = probe.ehloLines.join('\n');
      const ehloRef: RecordRef = { name: host.name, type: 'SMTP', text: ehlo };
      if (!probe.starttlsOffered) {
        findings.push(finding('error', 'starttls-not-offered', `${where} does not offer STARTTLS; mail to it travels in clear text.`, rfc(3207, '4'), ehloRef));
        return;
      }
      if (probe.tlsError) {
        findings.push(finding('error', 'starttls-failed', `STARTTLS with ${where} failed: ${probe.tlsError}.`, rfc(3207, '4'), ehloRef));
        return;
      }
      const version = probe.tlsVersion ?? 'unknown';
      if (version === 'TLSv1' || version === 'TLSv1.1' || version === 'SSLv3') {
        findings.push(finding('error', 'starttls-old-tls', `${where} negotiated ${version}, which is deprecated.`, rfc(8996, '1')));
      }
      const cert = probe.certificate;
      if (!cert) {
        findings.push(finding('error', 'starttls-no-certificate', `${where} sent no certificate.`, rfc(3207, '4.1')));
        return;
      }
      const certText = describeCertificate(cert);
      records.push({ name: host.name, type: 'SMTP', data: `STARTTLS ${version} ${probe.cipher ?? ''}; ${certText}` });
      const certRef: RecordRef = { name: host.name, type: 'SMTP', text: certText };
      if (cert.expiresAt < now) {
        findings.push(finding('error', 'starttls-cert-expired', `The certificate of ${where} expired on ${cert.validTo}.`, rfc(5280, '4.1.2.5'), certRef));
      } else if (cert.expiresAt - now < 14 * DAY) {
        findings.push(finding('warning', 'starttls-cert-expiring', `The certificate of ${where} expires on ${cert.validTo}, in under 14 days.`, rfc(5280, '4.1.2.5'), certRef));
      }
      if (probe.chainTrusted === false) {
        findings.push(
          finding('warning', 'starttls-cert-untrusted', `The certificate chain of ${where} does not verify (${probe.chainError ?? 'untrusted'}); MTA-STS senders will refuse it.`, rfc(8461, '4.2'), certRef),
        );
      }
      if (probe.nameMatches === false) {
        findings.push(
          finding('warning', 'starttls-cert-name', `The certificate of ${where} is not valid for ${host.name} (${probe.nameError ?? 'name mismatch'}).`, rfc(6125, '6.4'), certRef),
        );
      }
      if (!findings.some((f) => f.record?.name === host.name && (f.severity === 'error' || f.severity === 'warning'))) {
        findings.push(finding('pass', 'starttls-ok', `${where}: STARTTLS with ${version}, certificate valid for ${host.name} until ${cert.validTo}.`, rfc(3207, '4'), certRef));
      }
    }),
  );
  return result;
}

function describeCertificate(cert: CertificateInfo): string {
  return `subject ${cert.subject}; issuer ${cert.issuer}; SAN ${cert.subjectAltNames.join(', ')}; valid ${cert.validFrom} to ${cert.validTo}; chain ${cert.chain.join(' <- ')}`;
}

export interface NodeStartTlsProberOptions {
  /** The SMTP port; 25 unless a test points it elsewhere. */
  port?: number;
  /** Extra CA certificates (PEM) to trust besides the system's roots, e.g. a test CA. */
  extraCa?: string[];
  /** The name to say in EHLO. */
  ehloName?: string;
}

function nameOf(x: tls.Certificate | undefined): string {
  if (!x) return '';
  const cn = x.CN;
  const o = x.O;
  return [cn ? `CN=${Array.isArray(cn) ? cn.join('+') : cn}` : '', o ? `O=${Array.isArray(o) ? o.join('+') : o}` : ''].filter(Boolean).join(', ');
}

/** Reads SMTP replies from a socket, one complete (possibly multi-line) reply at a time. */
class ReplyReader {
  private buffer = '';
  private waiting: ((lines: string[]) => void) | undefined;
  private failed: ((err: Error) => void) | undefined;
  constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.pump();
    });
    socket.on('error', (err) => this.failed?.(err));
    socket.on('close', () => this.failed?.(new Error('the connection closed')));
  }
  private pump(): void {
    if (!this.waiting) return;
    const lines = this.buffer.split('\r\n');
    for (let i = 0; i < lines.length - 1; i++) {
      if (/^\d{3}( |$)/.test(lines[i])) {
        const reply = lines.slice(0, i + 1);
        this.buffer = lines.slice(i + 1).join('\r\n');
        const w = this.waiting;
        this.waiting = undefined;
        this.failed = undefined;
        w(reply);
        return;
      }
    }
  }
  next(): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failed = reject;
      this.pump();
    });
  }
  detach(): void {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('error');
    this.socket.removeAllListeners('close');
  }
}

/** A default prober on node:net and node:tls. The lead may switch this to the session engine. */
export function createNodeStartTlsProber(options: NodeStartTlsProberOptions = {}): StartTlsProber {
  const port = options.port ?? 25;
  const ehloName = options.ehloName ?? 'smtp-workbench.invalid';
  // One secure context for every probe: building one from the root list costs tens of milliseconds.
  const secureContext = tls.createSecureContext(
    options.extraCa && options.extraCa.length > 0 ? { ca: [...tls.rootCertificates, ...options.extraCa] } : {},
  );
  return {
    probe(request: StartTlsProbeRequest): Promise<StartTlsProbeResult> {
      return new Promise<StartTlsProbeResult>((resolve) => {
        let settled = false;
        let secure: tls.TLSSocket | undefined;
        const socket = net.connect({ host: request.address, port });
        const timer = setTimeout(() => finish({ connected: false, error: `no answer within ${request.timeoutMs} ms` }), request.timeoutMs);
        function finish(result: StartTlsProbeResult): void {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          quitAndClose(socket, secure);
          resolve(result);
        }
        socket.once('error', (err) => finish({ connected: false, error: err.message }));
        socket.once('connect', () => {
          void (async () => {
            const reader = new ReplyReader(socket);
            try {
              const banner = await reader.next();
              if (!banner[0].startsWith('220')) {
                finish({ connected: false, error: `the greeting was "${banner.join(' ')}"` });
                return;
              }
              socket.write(`EHLO ${ehloName}\r\n`);
              const ehlo = await reader.next();
              const offered = ehlo.some((l) => /^250[ -]STARTTLS\b/i.test(l));
              const base = { connected: true as const, banner: banner.join('\n'), ehloLines: ehlo, starttlsOffered: offered };
              if (!offered) {
                finish(base);
                return;
              }
              socket.write('STARTTLS\r\n');
              const go = await reader.next();
              if (!go[0].startsWith('220')) {
                finish({ ...base, tlsError: `STARTTLS was answered "${go.join(' ')}"` });
                return;
              }
              reader.detach();
              // The chain and the name are checked and reported here instead of failing the handshake,
              // because the probe's job is to describe the certificate, not to trust it.
              secure = tls.connect({ socket, servername: request.host, secureContext, rejectUnauthorized: false });
              secure.once('error', (err) => finish({ ...base, tlsError: err.message }));
              secure.once('secureConnect', () => {
                const s = secure!;
                const peer = s.getPeerCertificate(true);
                let certificate: CertificateInfo | undefined;
                let nameMatches: boolean | undefined;
                let nameError: string | undefined;
                if (peer && Object.keys(peer).length > 0) {
                  const chain: string[] = [];
                  let cur: tls.DetailedPeerCertificate | undefined = peer;
                  const seen = new Set<string>();
                  while (cur && !seen.has(cur.fingerprint256)) {
                    seen.add(cur.fingerprint256);
                    chain.push(nameOf(cur.subject));
                    cur = cur.issuerCertificate;
                  }
                  certificate = {
                    subject: nameOf(peer.subject),
                    issuer: nameOf(peer.issuer),
                    subjectAltNames: (peer.subjectaltname ?? '').split(', ').filter(Boolean),
                    validFrom: peer.valid_from,
                    validTo: peer.valid_to,
                    expiresAt: Date.parse(peer.valid_to),
                    fingerprint256: peer.fingerprint256,
                    chain,
                  };
                  const err = tls.checkServerIdentity(request.host, peer);
                  nameMatches = err === undefined;
                  nameError = err?.message;
                }
                finish({
                  ...base,
                  tlsVersion: s.getProtocol() ?? undefined,
                  cipher: s.getCipher()?.name,
                  certificate,
                  // Node folds the host name check into `authorized`; the name is reported on its own.
                  chainTrusted: s.authorized || String(s.authorizationError) === 'ERR_TLS_CERT_ALTNAME_INVALID',
                  chainError: s.authorizationError && String(s.authorizationError) !== 'ERR_TLS_CERT_ALTNAME_INVALID' ? String(s.authorizationError) : undefined,
                  nameMatches,
                  nameError,
                });
              });
            } catch (err) {
              finish({ connected: false, error: (err as Error).message });
            }
          })();
        });
      });
    },
  };
}
