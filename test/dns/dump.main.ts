// Prints the text report of every fixture domain against Knot, for looking at by hand:
// node /tmp/out-dns/test/dns/dump.main.js [DOMAIN...]
import { renderText, runReport } from '../../client/src/dns/index';
import { startDnsTestEnv } from './env';

async function main(): Promise<void> {
  const env = await startDnsTestEnv();
  try {
    const domains = process.argv.slice(2);
    const all = domains.length > 0 ? domains : ['example.test', 'spf-many.test', 'spf-loop.test', 'spf-void.test', 'spf-two.test', 'spf-syntax.test', 'spf-lax.test', 'spf-open.test', 'spf-redir.test', 'spf-macro.test', 'dkim.test', 'dmarc-dup.test', 'dmarc-pct.test', 'dmarc-ext.test', 'sub.orgfb.test', 'nullmx.test', 'nullmixed.test', 'mxcname.test', 'mxip.test', 'noptr.test', 'nomx.test', 'sts.test', 'tlsrpt-bad.test', 'bimi-bad.test'];
    for (const d of all) {
      const r = await runReport(d, { resolver: env.resolver, fetcher: env.fetcher, selectors: d === 'dkim.test' ? ['revoked', 'testing', 'rsa1024', 'rsa512', 'ed', 'sha1', 'broken', 'missing'] : ['ed'], probeSelectors: d === 'example.test' });
      process.stdout.write(renderText([r]));
    }
  } finally {
    await env.stop();
  }
}
void main();
