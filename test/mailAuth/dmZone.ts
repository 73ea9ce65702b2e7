// The zones of the DKIM-Signature field tests: dm.test (DMARC p=reject and the RSA key at
// good._domainkey) and spf.test, whose ok.spf.test passes SPF for 192.0.2.99 without being aligned
// with dm.test, so that DMARC rests on DKIM (`verifyUnalignedSpf` in fixtures.ts).
import { publicKeyRecord } from '../../client/src/mailAuth/sign';
import { startKnot, type KnotPeer } from '../peers/knot';
import { ROOT_ZONE, txt, type TestKeys } from './fixtures';

/** Starts a real Knot serving dm.test and spf.test; `dmZone` is the dm.test zone text (for dkimverify). */
export async function startDmKnot(keys: TestKeys): Promise<{ knot: KnotPeer; dmZone: string }> {
  const dmZone = [
    '$ORIGIN dm.test.',
    '$TTL 300',
    '@ SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 300',
    '@ NS ns.invalid.',
    '_dmarc IN TXT "v=DMARC1; p=reject"',
    `good._domainkey IN TXT ${txt(publicKeyRecord(keys.rsaPem))}`,
    '',
  ].join('\n');
  const spf = ['$ORIGIN spf.test.', '$TTL 300', 'ok IN TXT "v=spf1 ip4:192.0.2.99 -all"', ''].join('\n');
  const knot = await startKnot({ zones: { '': ROOT_ZONE, 'dm.test': dmZone, 'spf.test': spf } });
  return { knot, dmZone };
}
