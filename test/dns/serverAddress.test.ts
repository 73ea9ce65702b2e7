// The one grammar of a DNS server the user names (dns/serverAddress.ts): the CLI's --dns-server,
// the editor's smtp.dns.server setting (parseDnsServer, createResolver, createNodeResolver) and
// `serve --verify` all accept and refuse the same texts, and a host name is resolved once and then
// queried, against a real Knot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { startKnot, type KnotPeer } from '../peers/knot';
import { parseHostPort as cliParseHostPort } from '../../client/src/cli/options';
import { parseDnsServer, createResolver } from '../../client/src/mailAuth/resolver';
import { createNodeResolver } from '../../client/src/dns/resolver';
import { parseHostPort, parseDnsServerSpec, resolvedOnce, splitServerAddress } from '../../client/src/dns/serverAddress';
import { splitServer } from '../../client/src/dns/wireResolver';

import { ROOT_ZONE as ROOT } from '../mailAuth/fixtures';
let knot: KnotPeer;

before(async () => {
  knot = await startKnot({ zones: { '': ROOT, 'grammar.test': '$ORIGIN grammar.test.\n$TTL 300\n@ SOA ns.invalid. h.invalid. 1 3600 600 86400 300\n@ NS ns.invalid.\n@ TXT "v=spf1 -all"\n' } });
});

after(async () => {
  await knot?.stop();
});

const ACCEPTED: Array<[string, string]> = [
  ['127.0.0.1', '127.0.0.1:53'],
  ['127.0.0.1:5353', '127.0.0.1:5353'],
  ['[::1]', '[::1]:53'],
  ['[2001:db8::1]:5353', '[2001:db8::1]:5353'],
  ['ns1.example.net', 'ns1.example.net:53'],
  ['localhost:1053', 'localhost:1053'],
];
const REFUSED = ['::1', '::1:53', '[::1]:0', '1.2.3.4:65536', '1.2.3.4:x', '999.1.1.1', 'a b', 'host:', '[127.0.0.1]:53', '-bad.example', ''];

test('the CLI, the editor and serve --verify accept and refuse the same DNS server texts', () => {
  for (const [text, normal] of ACCEPTED) {
    assert.deepEqual(cliParseHostPort(text, 53), parseHostPort(text, 53), text);
    assert.equal(parseDnsServer(text), normal, text);
    assert.equal(parseDnsServerSpec(text).ok, true, text);
    assert.doesNotThrow(() => createResolver({ server: text }), text);
    assert.doesNotThrow(() => createNodeResolver({ server: text }), text);
  }
  for (const text of REFUSED) {
    assert.equal(cliParseHostPort(text, 53), undefined, text);
    assert.equal(parseDnsServer(text), undefined, text);
    const spec = parseDnsServerSpec(text, 'smtp.dns.server');
    assert.ok(!spec.ok && spec.error.startsWith('smtp.dns.server needs HOST[:PORT]'), text);
    // The resolver constructors also take a resolved server in the setServers form (what the CLI
    // passes after resolving), where a bare IPv6 address is how Node writes one; the grammar check
    // before them (parseDnsServer, the CLI's options) refuses it from people.
    if (text !== '' && isIP(text) !== 6) {
      assert.throws(() => createResolver({ server: text }), /needs HOST\[:PORT\]/, text);
      assert.throws(() => createNodeResolver({ server: text }), /needs HOST\[:PORT\]/, text);
    }
  }
});

test('a resolved server (the setServers form, bare IPv6 as getServers writes it) splits into address and port', () => {
  assert.deepEqual(splitServerAddress('::1'), { host: '::1', port: 53 });
  assert.deepEqual(splitServerAddress('[::1]:5353'), { host: '::1', port: 5353 });
  assert.deepEqual(splitServerAddress('192.0.2.1'), { host: '192.0.2.1', port: 53 });
  assert.equal(splitServerAddress('ns.example:53'), undefined, 'a name is not a resolved server');
  assert.deepEqual(splitServer('192.0.2.1:54'), { host: '192.0.2.1', port: 54 });
});

test('a host name is looked up once, at the first query; a failed lookup is "DNS unreachable"', async () => {
  let lookups = 0;
  const once = resolvedOnce(`ns.grammar.test:${knot.port}`, async () => {
    lookups++;
    return ['127.0.0.1'];
  });
  assert.equal(await once(), `127.0.0.1:${knot.port}`);
  assert.equal(await once(), `127.0.0.1:${knot.port}`);
  assert.equal(lookups, 1);
  const failing = resolvedOnce('nowhere.invalid', async () => {
    throw Object.assign(new Error('no'), { code: 'ENOTFOUND' });
  });
  await assert.rejects(failing(), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED' && /nowhere\.invalid could not be resolved \(ENOTFOUND\)/.test(e.message));
});

test('createResolver and createNodeResolver query Knot through a server given by host name', async () => {
  const viaMailauth = createResolver({ server: `localhost:${knot.port}`, timeoutMs: 1500, tries: 1 });
  assert.deepEqual(await viaMailauth('grammar.test', 'TXT'), [['v=spf1 -all']]);
  const viaChecks = createNodeResolver({ server: `localhost:${knot.port}`, timeoutMs: 1500, tries: 1 });
  assert.deepEqual(await viaChecks.resolveTxt('grammar.test'), [['v=spf1 -all']]);
});
