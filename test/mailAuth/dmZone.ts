// The zones of the DKIM-Signature field tests: dm.test (DMARC p=reject and the RSA key at
// good._domainkey) and spf.test, whose ok.spf.test passes SPF for 192.0.2.99 without being aligned
// with dm.test, so that DMARC rests on DKIM (`verifyUnalignedSpf` in fixtures.ts).
import { publicKeyRecord } from '../../client/src/mailAuth/sign';
import { startKnot, type KnotPeer } from '../peers/knot';
import { ROOT_ZONE, txt, type TestKeys } from './fixtures';

/** The text of a test zone: $ORIGIN, $TTL, SOA and NS, then `records` (zone file lines). */
export function zoneText(origin: string, records: string[]): string {
  return [`$ORIGIN ${origin}.`, '$TTL 300', '@ SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 300', '@ NS ns.invalid.', ...records, ''].join('\n');
}

/** The dm.test records: DMARC p=reject and the RSA key at good._domainkey; `extra` adds lines. */
export function dmZoneText(keys: TestKeys, extra: string[] = []): string {
  return zoneText('dm.test', ['_dmarc IN TXT "v=DMARC1; p=reject"', `good._domainkey IN TXT ${txt(publicKeyRecord(keys.rsaPem))}`, ...extra]);
}

/** spf.test: ok.spf.test passes SPF for 192.0.2.99 (`verifyUnalignedSpf`). */
export const SPF_ZONE = ['$ORIGIN spf.test.', '$TTL 300', 'ok IN TXT "v=spf1 ip4:192.0.2.99 -all"', ''].join('\n');

/** Starts a real Knot serving dm.test and spf.test; `dmZone` is the dm.test zone text (for dkimverify). */
export async function startDmKnot(keys: TestKeys): Promise<{ knot: KnotPeer; dmZone: string }> {
  const dmZone = dmZoneText(keys);
  const knot = await startKnot({ zones: { '': ROOT_ZONE, 'dm.test': dmZone, 'spf.test': SPF_ZONE } });
  return { knot, dmZone };
}
