/**
 * The default HTTPS fetcher for MTA-STS policies (RFC 8461 §3.3): it connects to an address the
 * report's own resolver found, sends SNI and verifies the certificate for the host name against the
 * trusted CAs, and returns a redirect instead of following it.
 */
import * as https from 'node:https';
import * as tls from 'node:tls';
import type { HttpsFetcher, HttpsFetchRequest, HttpsFetchResult } from './context';

export interface NodeHttpsFetcherOptions {
  /** Extra CA certificates (PEM) to trust besides the system's roots, e.g. a test CA. */
  extraCa?: string[];
  /** The port to connect to; 443 unless a test points it elsewhere. */
  port?: number;
}

const CERT_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|Hostname\/IP does not match|ERR_TLS_CERT/i;

export function createNodeHttpsFetcher(options: NodeHttpsFetcherOptions = {}): HttpsFetcher {
  // One secure context for every fetch: building one from the root list costs tens of milliseconds.
  const secureContext = tls.createSecureContext(
    options.extraCa && options.extraCa.length > 0 ? { ca: [...tls.rootCertificates, ...options.extraCa] } : {},
  );
  return {
    async fetch(request: HttpsFetchRequest): Promise<HttpsFetchResult> {
      let last: HttpsFetchResult = { ok: false, error: 'no address to connect to' };
      for (const address of request.addresses) {
        last = await fetchOnce(request, address, options.port ?? 443, secureContext);
        // A certificate or HTTP answer is final; only connection failures try the next address.
        if (last.ok || last.certificateError) return last;
      }
      return last;
    },
  };
}

function fetchOnce(request: HttpsFetchRequest, address: string, port: number, secureContext: tls.SecureContext): Promise<HttpsFetchResult> {
  const url = new URL(request.url);
  return new Promise<HttpsFetchResult>((resolve) => {
    let done = false;
    const settle = (r: HttpsFetchResult): void => {
      if (!done) {
        done = true;
        resolve(r);
      }
    };
    // https.request passes secureContext on to tls.connect; its type does not list it.
    const options: https.RequestOptions & { secureContext: tls.SecureContext } = {
      host: address,
      port,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      servername: url.hostname,
      headers: { host: url.hostname, 'user-agent': 'smtp-workbench' },
      secureContext,
      rejectUnauthorized: true,
      // The certificate must be valid for the policy host, not for the address connected to.
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(url.hostname, cert),
      timeout: request.timeoutMs,
      agent: false,
    };
    const req = https.request(
      options,
      (res) => {
        const status = res.statusCode ?? 0;
        const contentType = res.headers['content-type'];
        if (status >= 300 && status < 400) {
          res.resume();
          settle({ ok: true, status, contentType, body: '', redirectedTo: res.headers.location });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > request.maxBytes) {
            req.destroy();
            settle({ ok: false, error: `the body is larger than ${request.maxBytes} bytes` });
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => settle({ ok: true, status, contentType, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => settle({ ok: false, error: err.message }));
      },
    );
    req.on('timeout', () => {
      req.destroy();
      settle({ ok: false, error: `no answer within ${request.timeoutMs} ms` });
    });
    req.on('error', (err: NodeJS.ErrnoException) => settle({ ok: false, error: err.message, certificateError: CERT_ERRORS.test(`${err.code ?? ''} ${err.message}`) }));
    req.end();
  });
}
