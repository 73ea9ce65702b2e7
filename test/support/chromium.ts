/**
 * Debian's Chromium driven by playwright-core, for tests that check what a page does in a real
 * browser, and a loopback HTTP server that counts every request, to prove nothing was fetched.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { makePrivateHome } from './privateHome';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * The flags this machine needs, for the browser tests and the real-editor tests alike: no sandbox
 * as root, no GPU, no background traffic to the outside, and no crash reporter. Chromium's own
 * resolver answers every name "not found" but loopback's, so no host name a page or Chromium
 * itself uses ever reaches the system resolver (pages under test are served by `page.route` or
 * from 127.0.0.1; scripts/closed-network.sh fails a run that asks the system resolver anything).
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--disable-crash-reporter',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

/**
 * Launches headless Chromium with a HOME and XDG folders of its own (Chromium writes its profile,
 * caches and NSS database there), removed when the browser closes or, at the latest, when the test
 * process exits.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error('Chromium is missing, so this test cannot run: apt-get install -y chromium (scripts/install-peers.sh does it as root)');
  const home = makePrivateHome('chromium');
  try {
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS], env: home.env() });
    browser.on('disconnected', () => home.remove());
    return browser;
  } catch (error) {
    home.remove();
    throw error;
  }
}

export interface CountingServer {
  server: Server;
  port: number;
  /** The paths requested so far. */
  hits: string[];
  close(): Promise<void>;
}

export async function startCountingServer(contentType: (url: string) => string = () => 'text/plain'): Promise<CountingServer> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': contentType(req.url ?? '') });
    res.end('x');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
