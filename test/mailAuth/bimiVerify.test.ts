// BIMI in `smtpwb verify`: mailauth's pass means a BIMI record exists and DMARC enforces; it fetches
// neither the logo nor the mark certificate. The report says so, so a pass is never read as "the
// logo was checked" (the Mail DNS check, `smtpwb dns`, fetches and checks both). Knot serves the
// zone; DMARC passes through aligned SPF.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKnot, type KnotPeer } from '../peers/knot';
import { verifyCommand } from '../../client/src/cli/verifyCommand';
import type { AuthReport } from '../../client/src/mailAuth/verify';
import { captureIo, ROOT_ZONE, sampleMessage } from './fixtures';

let knot: KnotPeer;
let dir: string;

before(async () => {
  const zone = (dmarc: string) =>
    ['$TTL 300', '@ IN SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 300', '@ IN NS ns.invalid.', '@ IN TXT "v=spf1 ip4:192.0.2.7 -all"', `_dmarc IN TXT "${dmarc}"`, 'default._bimi IN TXT "v=BIMI1; l=https://logo.brand.test/logo.svg; a="', ''].join('\n');
  knot = await startKnot({ zones: { '': ROOT_ZONE, 'brand.test': zone('v=DMARC1; p=reject'), 'soft.test': zone('v=DMARC1; p=none') } });
  dir = mkdtempSync(join(tmpdir(), 'smtpwb-bimi-'));
});

after(async () => {
  await knot?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function verify(domain: string): Promise<AuthReport> {
  writeFileSync(join(dir, `${domain}.eml`), sampleMessage(`news@${domain}`));
  const cap = captureIo(dir);
  const code = await verifyCommand([`${domain}.eml`, '--ip', '192.0.2.7', '--mail-from', `bounce@${domain}`, '--no-received', '--dns-server', knot.address, '--json'], cap.io);
  assert.ok(code === 0 || code === 1, cap.stderr());
  return JSON.parse(cap.stdout().toString('utf8')) as AuthReport;
}

test('verify: a BIMI pass says that the logo and the mark certificate were not fetched; without DMARC enforcement there is no pass', async () => {
  const pass = await verify('brand.test');
  assert.equal(pass.dmarc.result, 'pass', JSON.stringify(pass.dmarc));
  assert.equal(pass.bimi.result, 'pass', JSON.stringify(pass.bimi));
  assert.match(pass.bimi.details['not checked'] ?? '', /the logo \(SVG Tiny PS\) and the mark certificate are not fetched by verify; smtpwb dns checks them/);
  // p=none does not enforce, so BIMI does not pass and the note is not needed.
  const soft = await verify('soft.test');
  assert.notEqual(soft.bimi.result, 'pass', JSON.stringify(soft.bimi));
  assert.equal(soft.bimi.details['not checked'], undefined);
});
