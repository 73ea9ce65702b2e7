// The real parts of the DANE tests, started together: Exim presents the test certificate (and its
// issuer, for DANE-TA records), Knot serves and signs the fixture zones, Unbound validates them with
// the fixtures' trust anchor. Each test file starts its own set and stops it in `after`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTlsChainProber } from '../../client/src/dns/tlsChain';
import { startExim, type EximPeer } from '../peers/exim';
import { startKnot, type KnotPeer } from '../peers/knot';
import { startUnbound, type UnboundPeer } from '../peers/unbound';
import { startChainServer, type ChainServer } from './chainServer';
import { CHAIN_ADDRESSES, daneChains, daneZones, expiredZone, pemToDer, spkiSha256, type DaneChains, type DaneFixture } from './fixtures';

export interface DanePeers {
  exim: EximPeer;
  knot: KnotPeer;
  unbound: UnboundPeer;
  fixtures: DaneFixture[];
  leafDer: Buffer;
  caDer: Buffer;
  /** The chains of the extra STARTTLS servers, and the servers (nonca and taleaf fixtures). */
  chains: DaneChains;
  chainServers: Record<'nonCa' | 'taLeaf', ChainServer>;
  /** A private scratch folder, removed by `stop()`. */
  work: string;
  stop(): Promise<void>;
}

export async function startDanePeers(): Promise<DanePeers> {
  const work = mkdtempSync(join(tmpdir(), 'smtpwb-dane-'));
  let exim: EximPeer | undefined;
  let knot: KnotPeer | undefined;
  let unbound: UnboundPeer | undefined;
  const servers: ChainServer[] = [];
  const stop = async (): Promise<void> => {
    for (const s of servers) await s.stop();
    await unbound?.stop();
    await knot?.stop();
    await exim?.stop();
    rmSync(work, { recursive: true, force: true });
  };
  try {
    exim = await startExim();
    // A server that publishes DANE-TA(2) records sends its issuer's certificate too (RFC 7671 §5.2.2);
    // Exim sends what its tls_certificate file holds and reloads it when it changes (4.96 preloads
    // and watches it), so the test CA goes into that file. startExim() has no option for it yet.
    writeFileSync(join(exim.base, 'tls', 'cert.pem'), exim.certPem + exim.caPem);
    await waitForChainLength(exim, 2);
    const leafDer = pemToDer(exim.certPem);
    const caDer = pemToDer(exim.caPem);
    const chains = await daneChains(work);
    const nonCa = await startChainServer(CHAIN_ADDRESSES.nonCa, 0, chains.nonCa);
    servers.push(nonCa);
    const taLeaf = await startChainServer(CHAIN_ADDRESSES.taLeaf, 0, chains.taLeaf);
    servers.push(taLeaf);
    const z = daneZones({ leafDer, caDer, chains }, await expiredZone(work, spkiSha256(leafDer)));
    knot = await startKnot({ zones: z.zones, signed: z.signed });
    const anchors = await knot.ds('example.test');
    assert.ok(anchors.length > 0, 'keymgr printed no DS for example.test');
    unbound = await startUnbound({
      trustAnchors: anchors,
      stubs: {
        'example.test': knot.address,
        'plain.example.test': knot.address,
        'bogus.example.test': knot.address,
        'expired.example.test': knot.address,
      },
    });
    return { exim, knot, unbound, fixtures: z.fixtures, leafDer, caDer, chains, chainServers: { nonCa, taLeaf }, work, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits until Exim presents a chain of `n` certificates after STARTTLS. */
async function waitForChainLength(exim: EximPeer, n: number): Promise<void> {
  const prober = createTlsChainProber();
  const deadline = Date.now() + 10000;
  for (;;) {
    const r = await prober.fetch({ host: 'mail.example.test', address: exim.host, port: exim.port, timeoutMs: 3000 });
    if (r.ok && r.chainDer.length >= n) return;
    if (Date.now() > deadline) throw new Error(`Exim still presents ${r.ok ? r.chainDer.length : r.error} certificate(s) after its certificate file changed`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
