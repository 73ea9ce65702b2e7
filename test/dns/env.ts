// Starts the real parts the mail DNS tests use: Knot serving the fixture zones, and a local HTTPS
// server that serves the MTA-STS policies with a certificate from the test CA. The CA is handed to
// the fetcher as trusted; verification stays on.
import { promises as dnsPromises } from 'node:dns';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createNodeHttpsFetcher, type HttpsFetcher, type RawResolver } from '../../client/src/dns/index';
import { serverCert, testCa } from '../peers/certs';
import { startKnot, type KnotPeer } from '../peers/knot';
import { makeTempDir, removeTempDir } from '../peers/process';
import { markCertIssuer } from './markCerts';
import { BIMI_LOGOS, fixtureZones, generateDkimKeys, MTA_STS_HOSTS, MTA_STS_MISSING, MTA_STS_POLICIES, MTA_STS_REDIRECTS, type DkimFixtureKeys } from './fixtures';

export interface DnsTestEnv {
  knot: KnotPeer;
  keys: DkimFixtureKeys;
  resolver: RawResolver;
  https: https.Server;
  httpsPort: number;
  caPem: string;
  caPath: string;
  /** A fetcher that trusts the test CA and connects to the local HTTPS port. */
  fetcher: HttpsFetcher;
  stop(): Promise<void>;
}

/**
 * Starts an HTTPS server that serves each host's MTA-STS policy at /.well-known/mta-sts.txt, and
 * `files` (host to body) as image/svg+xml at any other path of that host.
 */
export async function startPolicyServer(
  policies: Record<string, string>,
  extra: { redirects?: Record<string, string>; missing?: string[]; files?: Record<string, string> } = {},
): Promise<{ server: https.Server; port: number }> {
  const redirects = extra.redirects ?? {};
  const files = extra.files ?? {};
  const cert = await serverCert([...Object.keys(policies), ...Object.keys(redirects), ...(extra.missing ?? []), ...Object.keys(files)]);
  const server = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    if (redirects[host]) {
      res.writeHead(301, { location: redirects[host] }).end();
      return;
    }
    if (files[host] !== undefined && req.url !== '/.well-known/mta-sts.txt') {
      res.writeHead(200, { 'content-type': 'image/svg+xml' }).end(files[host]);
      return;
    }
    const body = policies[host];
    if (req.url !== '/.well-known/mta-sts.txt' || body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

export async function startDnsTestEnv(): Promise<DnsTestEnv> {
  const keys = generateDkimKeys();
  // example.test's BIMI record names a mark certificate for its logo (bimiVmc.ts checks it).
  const markDir = makeTempDir('dns-vmc');
  let vmc: string;
  try {
    const issuer = markCertIssuer(markDir);
    issuer.ca('ca');
    vmc = issuer.issue({ san: 'DNS:example.test', logo: BIMI_LOGOS['logo.example.test'] });
  } finally {
    removeTempDir(markDir);
  }
  const files = { ...BIMI_LOGOS, 'vmc.example.test': vmc };
  const [knot, policy, ca] = await Promise.all([startKnot({ zones: fixtureZones(keys) }), startPolicyServer(MTA_STS_POLICIES, { files, redirects: MTA_STS_REDIRECTS, missing: MTA_STS_MISSING }), testCa()]);
  const resolver = new dnsPromises.Resolver({ timeout: 1000, tries: 2 });
  resolver.setServers([knot.address]);
  return {
    knot,
    keys,
    resolver,
    https: policy.server,
    httpsPort: policy.port,
    caPem: ca.caPem,
    caPath: ca.caPath,
    fetcher: createNodeHttpsFetcher({ extraCa: [ca.caPem], port: policy.port }),
    async stop() {
      policy.server.closeAllConnections();
      await new Promise<void>((r) => policy.server.close(() => r()));
      await knot.stop();
    },
  };
}

export { MTA_STS_HOSTS };
