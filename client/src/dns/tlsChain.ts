/**
 * Fetches the certificate chain (DER, leaf first) that an SMTP server presents after STARTTLS
 * (RFC 3207), for DANE matching. It trusts nothing and verifies nothing: DANE decides in tlsa.ts.
 *
 * The STARTTLS probe in starttls.ts describes certificates but does not hand over their DER; until
 * it does (see /work/coord/requests-J.md), this is the small prober DANE uses.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';

export interface TlsChainRequest {
  /** The name for SNI: the TLSA base domain (RFC 7672 §8.1). */
  host: string;
  address: string;
  port: number;
  timeoutMs: number;
  ehloName?: string;
}

export type TlsChainResult =
  | { ok: true; chainDer: Buffer[]; tlsVersion?: string }
  | { ok: false; stage: 'connect' | 'smtp' | 'no-starttls' | 'tls'; error: string };

export interface TlsChainProber {
  fetch(request: TlsChainRequest): Promise<TlsChainResult>;
}

/** The DER certificates from the peer certificate up its issuer links, without repeats. */
export function peerChainDer(peer: tls.DetailedPeerCertificate | undefined): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<string>();
  let cur = peer;
  while (cur && cur.raw && !seen.has(cur.fingerprint256)) {
    seen.add(cur.fingerprint256);
    out.push(cur.raw);
    cur = cur.issuerCertificate;
  }
  return out;
}

/**
 * Ends an SMTP probe: says QUIT and half-closes so the server does not wait (RFC 5321 §4.1.1.10),
 * then destroys both sockets a little later.
 */
export function quitAndClose(socket: net.Socket, secure?: tls.TLSSocket): void {
  try {
    (secure ?? socket).end('QUIT\r\n');
  } catch {
    // The socket is already gone.
  }
  setTimeout(() => {
    secure?.destroy();
    socket.destroy();
  }, 100).unref();
}

/** A prober on node:net and node:tls. */
export function createTlsChainProber(): TlsChainProber {
  return {
    fetch(request) {
      return new Promise<TlsChainResult>((resolve) => {
        let settled = false;
        let secure: tls.TLSSocket | undefined;
        let buffer = '';
        let step = 0;
        const socket = net.connect({ host: request.address, port: request.port });
        const timer = setTimeout(() => finish({ ok: false, stage: step === 0 ? 'connect' : 'smtp', error: `no answer within ${request.timeoutMs} ms` }), request.timeoutMs);
        function finish(result: TlsChainResult): void {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          quitAndClose(socket, secure);
          resolve(result);
        }
        socket.setEncoding('latin1');
        socket.on('error', (err) => finish({ ok: false, stage: step === 0 ? 'connect' : 'smtp', error: err.message }));
        socket.on('close', () => finish({ ok: false, stage: 'smtp', error: 'the server closed the connection' }));
        const onData = (chunk: string): void => {
          buffer += chunk;
          // A complete reply ends with a line "ddd " (RFC 5321 §4.2.1).
          const lines = buffer.split('\r\n');
          const endIndex = lines.findIndex((l, i) => i < lines.length - 1 && /^\d{3}( |$)/.test(l));
          if (endIndex < 0) return;
          const reply = lines.slice(0, endIndex + 1);
          buffer = lines.slice(endIndex + 1).join('\r\n');
          const code = reply[reply.length - 1].slice(0, 3);
          if (step === 0) {
            if (code !== '220') return finish({ ok: false, stage: 'smtp', error: `the greeting was ${JSON.stringify(reply.join(' '))}` });
            step = 1;
            socket.write(`EHLO ${request.ehloName ?? 'smtp-workbench.invalid'}\r\n`);
          } else if (step === 1) {
            if (code !== '250') return finish({ ok: false, stage: 'smtp', error: `EHLO was answered ${JSON.stringify(reply.join(' '))}` });
            if (!reply.some((l) => /^250[ -]STARTTLS\b/i.test(l))) return finish({ ok: false, stage: 'no-starttls', error: 'the server does not offer STARTTLS' });
            step = 2;
            socket.write('STARTTLS\r\n');
          } else if (step === 2) {
            if (code !== '220') return finish({ ok: false, stage: 'tls', error: `STARTTLS was answered ${JSON.stringify(reply.join(' '))}` });
            step = 3;
            socket.removeListener('data', onData);
            socket.removeAllListeners('close');
            secure = tls.connect({ socket, servername: request.host, rejectUnauthorized: false });
            secure.once('error', (err) => finish({ ok: false, stage: 'tls', error: err.message }));
            secure.once('secureConnect', () => {
              const chainDer = peerChainDer(secure!.getPeerCertificate(true));
              if (chainDer.length === 0) return finish({ ok: false, stage: 'tls', error: 'the server sent no certificate' });
              finish({ ok: true, chainDer, tlsVersion: secure!.getProtocol() ?? undefined });
            });
          }
        };
        socket.on('data', onData);
      });
    },
  };
}
