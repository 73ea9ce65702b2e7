/**
 * The shared argument helpers of every subcommand: strict parseArgs with worded errors, the one
 * `--dns-server` grammar (HOST[:PORT], names resolved once, IPv6 in brackets), durations, and the
 * deadline that bounds DNS work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Deadline, MAX_DURATION_MS, parseDuration, parseHostPort, parseOptions, readDnsOptions, resolveDnsServer, wantsHelp } from '../../client/src/cli/options';

test('parseOptions: strict, with errors that name the option', () => {
  const spec = { name: { type: 'string' }, flag: { type: 'boolean' }, many: { type: 'string', multiple: true } } as const;
  const ok = parseOptions(['a', '--name', 'x', '--flag', '--many=1', '--many', '2', 'b'], spec);
  assert.ok(ok.ok);
  assert.deepEqual([ok.values.name, ok.values.flag, ok.values.many, ok.positionals], ['x', true, ['1', '2'], ['a', 'b']]);
  const cases: Array<[string[], RegExp]> = [
    [['--nope'], /^unknown option --nope$/],
    [['--name'], /^--name needs a value$/],
    [['--flag=1'], /^--flag takes no value$/],
    [['--name', '-x'], /^--name needs a value; a value that starts with "-" is written --name=VALUE$/],
  ];
  for (const [args, message] of cases) {
    const r = parseOptions(args, spec);
    assert.ok(!r.ok && message.test(r.error), `${args.join(' ')}: ${JSON.stringify(r)}`);
  }
  assert.equal(wantsHelp(['x', '-h']), true);
  assert.equal(wantsHelp(['--', '--help']), false);
});

test('parseHostPort: IPv4 and host names with an optional port, IPv6 only in brackets', () => {
  const ok: Array<[string, { host: string; port: number }]> = [
    ['127.0.0.1', { host: '127.0.0.1', port: 53 }],
    ['127.0.0.1:5353', { host: '127.0.0.1', port: 5353 }],
    ['[::1]', { host: '::1', port: 53 }],
    ['[2001:db8::1]:5353', { host: '2001:db8::1', port: 5353 }],
    ['ns1.example.net', { host: 'ns1.example.net', port: 53 }],
    ['ns1.example.net.:54', { host: 'ns1.example.net', port: 54 }],
    ['localhost:1053', { host: 'localhost', port: 1053 }],
  ];
  for (const [text, want] of ok) assert.deepEqual(parseHostPort(text, 53), want, text);
  for (const bad of ['::1', '::1:53', '[::1]:0', '1.2.3.4:65536', '1.2.3.4:x', '999.1.1.1', 'a b', 'host:', '[127.0.0.1]:53', '-bad.example', '']) {
    assert.equal(parseHostPort(bad, 53), undefined, bad);
  }
  // Without a default port (--local), the port is required.
  assert.equal(parseHostPort('127.0.0.1'), undefined);
  assert.deepEqual(parseHostPort('[::1]:2525'), { host: '::1', port: 2525 });
});

test('resolveDnsServer: a host name is resolved once, to the address the queries go to', async () => {
  const asked: string[] = [];
  const lookup = async (host: string): Promise<string[]> => {
    asked.push(host);
    if (host === 'v6only.example') return ['2001:db8::53'];
    if (host === 'none.example') return [];
    if (host === 'ns.example') return ['2001:db8::1', '192.0.2.53'];
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  };
  assert.deepEqual(await resolveDnsServer('ns.example:5353', lookup), { server: '192.0.2.53:5353', address: '192.0.2.53', port: 5353 });
  assert.deepEqual(await resolveDnsServer('v6only.example', lookup), { server: '[2001:db8::53]:53', address: '2001:db8::53', port: 53 });
  assert.deepEqual(await resolveDnsServer('[::1]:5353', lookup), { server: '[::1]:5353', address: '::1', port: 5353 });
  assert.deepEqual(asked, ['ns.example', 'v6only.example']);
  const missing = await resolveDnsServer('gone.example', lookup);
  assert.ok('error' in missing && /could not be resolved \(ENOTFOUND\)/.test(missing.error));
  const empty = await resolveDnsServer('none.example', lookup);
  assert.ok('error' in empty && /has no address/.test(empty.error));
  const bad = await resolveDnsServer('::1:53', lookup);
  assert.ok('error' in bad && /IPv6 in brackets/.test(bad.error));
});

test('parseDuration: the command’s unit, or an explicit ms or s', () => {
  assert.equal(parseDuration('1500', 'ms'), 1500);
  assert.equal(parseDuration('1.5', 's'), 1500);
  assert.equal(parseDuration('2s', 'ms'), 2000);
  assert.equal(parseDuration('250ms', 's'), 250);
  for (const bad of ['0', '-1', 'soon', '1m', '0.0001', '']) assert.equal(parseDuration(bad, 's'), undefined, bad);
  // What one Node timer can wait, and no more: a longer timer would fire at once (Node warns and waits 1 ms).
  assert.equal(parseDuration('2147483647', 'ms'), MAX_DURATION_MS);
  for (const tooLong of ['2147483648', '2147484s', '1e400', `${'9'.repeat(400)}`]) assert.equal(parseDuration(tooLong, 'ms'), undefined, tooLong);
});

test('readDnsOptions: one reading of --dns-server and a DNS timeout for verify, dkim check and report', async () => {
  assert.deepEqual(await readDnsOptions(undefined, { option: '--timeout', text: undefined, defaultMs: 5000 }), { timeoutMs: 5000 });
  assert.deepEqual(await readDnsOptions('127.0.0.1:5300', { option: '--dns-timeout', text: '2s', defaultMs: 3000 }), { server: '127.0.0.1:5300', timeoutMs: 2000 });
  assert.deepEqual(await readDnsOptions(undefined, { option: '--dns-timeout', text: '2147483648', defaultMs: 3000 }), { error: '--dns-timeout needs a number of milliseconds (or 2s, 1500ms), at most 24 days' });
  const bad = await readDnsOptions('\x1b[31mx:99999', { option: '--timeout', text: undefined, defaultMs: 5000 });
  assert.ok('error' in bad);
  assert.doesNotMatch(bad.error, /\x1b/);
});

test('Deadline: every call started through it fails with ETIMEOUT once the time is up', async () => {
  const deadline = new Deadline(50);
  let calls = 0;
  const never = deadline.wrapFunction((): Promise<string> => {
    calls++;
    return new Promise(() => undefined);
  });
  const resolver = deadline.wrap({ resolveTxt: (name: string): Promise<string[][]> => Promise.resolve([[name]]), setServers: (): void => undefined });
  assert.deepEqual(await resolver.resolveTxt('quick.example'), [['quick.example']]);
  await assert.rejects(never(), { code: 'ETIMEOUT' });
  // After the deadline, new calls fail at once without being sent.
  await assert.rejects(never(), { code: 'ETIMEOUT' });
  assert.equal(calls, 1);
  await assert.rejects(resolver.resolveTxt('late.example'), { code: 'ETIMEOUT' });
  deadline.dispose();
});

test('Deadline: only time spent waiting for answers counts; the command’s own work before a query does not', async () => {
  const deadline = new Deadline(100);
  const answer = deadline.wrapFunction((ms: number): Promise<string> => new Promise((resolve) => setTimeout(() => resolve('answer'), ms)));
  assert.equal(await answer(30), 'answer');
  // 300 ms of the command's own work (a slow parse): no query is outstanding, so none of it counts.
  const until = performance.now() + 300;
  while (performance.now() < until) {
    // Busy, as a parse of a huge header section is.
  }
  assert.equal(await answer(30), 'answer');
  // Two queries at once cost their overlap once: 2 × 30 ms in parallel, about 30 ms of the budget.
  assert.deepEqual(await Promise.all([answer(30), answer(30)]), ['answer', 'answer']);
  // What is left of 100 ms (about 10) runs out while a slow answer is awaited.
  await assert.rejects(answer(200), { code: 'ETIMEOUT' });
  deadline.dispose();
});
