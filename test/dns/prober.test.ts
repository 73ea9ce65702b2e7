// The STARTTLS probe against servers that stop half way: an EHLO reply that never ends, a server that
// hangs up after its greeting or in the middle of the EHLO reply. Only a complete EHLO reply says
// whether STARTTLS is offered; anything less is a failed probe (starttls-connect-failed), never
// "starttls-not-offered". Both probers (the engine's and the node:tls one) must agree.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createNodeStartTlsProber } from '../../client/src/dns/index';
import type { StartTlsProbeResult } from '../../client/src/dns/context';
import { createEngineStartTlsProber } from '../../client/src/dns/engineProber';
import { startStallingSmtp, type StallingBehaviour } from './stallingSmtp';

const servers: Array<{ stop(): Promise<void> }> = [];

async function serverPort(behaviour: StallingBehaviour): Promise<number> {
  const server = await startStallingSmtp(behaviour);
  servers.push(server);
  return server.port;
}

after(async () => {
  for (const s of servers) await s.stop();
});

async function probeBoth(port: number): Promise<Array<[string, StartTlsProbeResult]>> {
  const request = { host: 'slow.test', address: '127.0.0.1', timeoutMs: 1500 };
  return [
    ['engine', await createEngineStartTlsProber({ port }).probe(request)],
    ['node:tls', await createNodeStartTlsProber({ port }).probe(request)],
  ];
}

for (const behaviour of ['drip', 'close-after-greeting', 'close-mid-ehlo'] as const) {
  test(`an EHLO reply cut short (${behaviour}) is a failed probe, not "STARTTLS not offered"`, async () => {
    const port = await serverPort(behaviour);
    for (const [name, result] of await probeBoth(port)) {
      assert.equal(result.connected, false, `${name}: ${JSON.stringify(result)}`);
      assert.ok(!result.connected && result.error.length > 0, name);
    }
  });
}

test('a greeting dribbled past the timeout is a failed probe that says the timeout ran out, not that "the run was cancelled"', async () => {
  const port = await serverPort('drip-greeting');
  for (const [name, result] of await probeBoth(port)) {
    assert.equal(result.connected, false, `${name}: ${JSON.stringify(result)}`);
    const error = result.connected ? '' : result.error;
    assert.doesNotMatch(error, /cancelled/, name);
    assert.match(error, /within 1500 ms/, `${name}: ${error}`);
  }
});

test('a complete EHLO reply without STARTTLS is still "not offered"', async () => {
  const port = await serverPort('no-starttls');
  for (const [name, result] of await probeBoth(port)) {
    assert.equal(result.connected, true, `${name}: ${JSON.stringify(result)}`);
    assert.equal(result.connected && result.starttlsOffered, false, name);
    assert.deepEqual(result.connected && result.ehloLines, ['250-slow.test', '250 8BITMIME'], name);
  }
});
