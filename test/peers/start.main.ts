// Starts the test peers by hand for development and benchmarks, prints where they listen as one
// JSON line, and stops them on Ctrl-C (SIGINT) or SIGTERM.
//
// Usage (after building, from the repository root): node OUT/test/peers/start.main.js [exim] [knot] [sink]
// With no arguments it starts all three. Knot serves example.test with a small zone.
import { startExim, EximPeer } from './exim';
import { startKnot, KnotPeer } from './knot';
import { startSmtpSink, SmtpSinkPeer } from './postfixTools';

/** The zone Knot serves when started from here. */
const ZONE = `$TTL 300
@     IN SOA ns1 hostmaster 1 3600 600 86400 300
@     IN NS  ns1
ns1   IN A   127.0.0.1
@     IN MX  10 mail
mail  IN A   127.0.0.1
mail  IN AAAA ::1
@     IN TXT "v=spf1 ip4:127.0.0.0/8 ip6:::1 -all"
_dmarc IN TXT "v=DMARC1; p=reject"
`;

async function main(): Promise<void> {
  const wanted = new Set(process.argv.slice(2));
  const all = wanted.size === 0;
  let exim: EximPeer | undefined;
  let knot: KnotPeer | undefined;
  let sink: SmtpSinkPeer | undefined;
  const stopAll = async (): Promise<void> => {
    await Promise.all([exim?.stop(), knot?.stop(), sink?.stop()]);
  };
  try {
    if (all || wanted.has('exim')) exim = await startExim();
    if (all || wanted.has('knot')) knot = await startKnot({ zones: { 'example.test': ZONE } });
    if (all || wanted.has('sink')) sink = await startSmtpSink();
  } catch (error) {
    await stopAll();
    throw error;
  }
  const info = {
    exim: exim && {
      host: exim.host,
      host6: exim.host6,
      port: exim.port,
      tlsPort: exim.tlsPort,
      clearAuthPort: exim.clearAuthPort,
      caPath: exim.caPath,
      maildir: exim.maildir,
      logPath: exim.logPath,
      startupMs: exim.startupMs,
    },
    knot: knot && { address: knot.address, logPath: knot.logPath, startupMs: knot.startupMs },
    sink: sink && { address: sink.address, startupMs: sink.startupMs },
    pid: process.pid,
  };
  console.log(JSON.stringify(info));
  // Keep the process alive until a signal arrives.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const onSignal = (): void => {
    clearInterval(keepAlive);
    void stopAll().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

// Node 20's `node --test DIR` runs every .js file under a folder named test, this one included; it
// must not start peers and wait forever there, so it does nothing under the test runner.
if (process.env.NODE_TEST_CONTEXT !== undefined) {
  console.log('start.main: not starting peers under the test runner');
} else {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
