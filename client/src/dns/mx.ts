/**
 * The MX check (RFC 5321 §5.1, RFC 7505) and the reverse-DNS check of every MX address.
 */
import { type CheckContext, finding, rfc } from './context';
import { type DnsAnswer, type Dependency, describeFailure, expandIpv6, reverseName } from './resolver';
import { CHECK_TITLES, type CheckResult, type Finding, type RawRecord, type RecordRef } from './types';

export interface MxHost {
  name: string;
  preference: number;
  addresses: string[];
  /** The answers the addresses came from, so later queries know their depth. */
  after: Dependency[];
}

export interface MxOutcome {
  mx: CheckResult;
  /** The hosts mail is delivered to: the MX hosts, or the domain itself under the implicit MX rule. */
  hosts: MxHost[];
  /** True when the domain publishes a null MX (RFC 7505) and nothing else. */
  nullMx: boolean;
  /** True when the hosts come from MX records (not the implicit fallback). */
  explicit: boolean;
  mxAnswer: DnsAnswer<{ exchange: string; priority: number }>;
}

const IP_LITERAL = /^(\[.*\]|\d{1,3}(\.\d{1,3}){3}|[0-9a-f:]*:[0-9a-f:.]*)$/i;

/** Whether a name is a host name of RFC 5321 §2.3.5 (LDH labels of 1 to 63 octets, 253 in all). */
function isHostName(name: string): boolean {
  return name.length <= 253 && name.split('.').every((l) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i.test(l));
}

function mxText(preference: number, exchange: string): string {
  return `${preference} ${exchange === '' ? '.' : `${exchange}.`}`;
}

function mxRef(domain: string, preference: number, exchange: string): RecordRef {
  const text = mxText(preference, exchange);
  const start = String(preference).length + 1;
  return { name: domain, type: 'MX', text, range: { start, end: start + Math.max(exchange.length, 1) } };
}

/** Runs the MX check: it resolves every MX host to its addresses. */
export async function checkMx(ctx: CheckContext): Promise<MxOutcome> {
  const findings: Finding[] = [];
  const records: RawRecord[] = [];
  const domain = ctx.domain;
  const mxAnswer = await ctx.dns.query(domain, 'MX');
  const result = (hosts: MxHost[], nullMx: boolean, explicit: boolean): MxOutcome => ({
    mx: { id: 'mx', title: CHECK_TITLES.mx, findings, records },
    hosts,
    nullMx,
    explicit,
    mxAnswer,
  });

  if (mxAnswer.status === 'error') {
    findings.push(finding('error', 'mx-dns-error', `The MX query for ${domain} failed: ${describeFailure(mxAnswer)}.`, rfc(5321, '5.1')));
    return result([], false, false);
  }
  if (mxAnswer.foreign && mxAnswer.foreign.length > 0) {
    // RFC 1034 §3.6.2, RFC 5452 §9.1: only records owned by the name asked (or a name of its CNAME
    // chain) answer the question. Others would let any server that answers name a domain's MX hosts.
    const shown = mxAnswer.foreign.slice(0, 5).join(', ') + (mxAnswer.foreign.length > 5 ? `, and ${mxAnswer.foreign.length - 5} more` : '');
    findings.push(
      finding('info', 'mx-foreign-records', `The answer to the MX query for ${domain} also holds records for another question (${shown}); they are ignored, and only MX records owned by ${domain} (or by the name its CNAME chain leads to) count.`, rfc(1034, '3.6.2')),
    );
  }
  if (mxAnswer.status === 'nxdomain') {
    findings.push(finding('error', 'mx-nxdomain', `${domain} does not exist (NXDOMAIN), so it cannot receive mail.`, rfc(5321, '5.1')));
    return result([], false, false);
  }
  if (mxAnswer.status === 'nodata') {
    // RFC 5321 §5.1: with no MX records, the domain itself is the implicit MX, through its A/AAAA.
    const [a, aaaa] = await Promise.all([ctx.dns.query(domain, 'A', [mxAnswer]), ctx.dns.query(domain, 'AAAA', [mxAnswer])]);
    const addresses = [...a.data, ...aaaa.data];
    for (const addr of addresses) records.push({ name: domain, type: addr.includes(':') ? 'AAAA' : 'A', data: addr });
    for (const ans of [a, aaaa]) {
      if (ans.status === 'error') {
        findings.push(finding('error', 'mx-dns-error', `The ${ans.type} query for ${domain} failed: ${describeFailure(ans)}.`, rfc(5321, '5.1')));
      }
    }
    if (addresses.length > 0) {
      findings.push(
        finding(
          'warning',
          'mx-implicit',
          `${domain} has no MX records; senders fall back to its A/AAAA records (${addresses.join(', ')}) as an implicit MX. Publish an MX record, or a null MX if the domain takes no mail.`,
          rfc(5321, '5.1'),
        ),
      );
      return result([{ name: domain, preference: 0, addresses, after: [a, aaaa] }], false, false);
    }
    if (a.status !== 'error' && aaaa.status !== 'error') {
      findings.push(finding('error', 'mx-none', `${domain} has no MX records and no A/AAAA records, so it cannot receive mail.`, rfc(5321, '5.1')));
    }
    return result([], false, false);
  }

  const mxs = [...mxAnswer.data].sort((x, y) => x.priority - y.priority || x.exchange.localeCompare(y.exchange));
  for (const m of mxs) records.push({ name: domain, type: 'MX', data: mxText(m.priority, m.exchange) });
  const nulls = mxs.filter((m) => m.exchange === '');
  if (nulls.length > 0) {
    if (mxs.length > 1) {
      findings.push(
        finding(
          'error',
          'mx-null-mixed',
          `${domain} publishes a null MX together with ${mxs.length - nulls.length} other MX record(s); a domain with a null MX must not advertise any other MX.`,
          rfc(7505, '3'),
          mxRef(domain, nulls[0].priority, ''),
        ),
      );
    } else {
      findings.push(finding('info', 'mx-null', `${domain} publishes a null MX: it accepts no mail.`, rfc(7505, '3'), mxRef(domain, nulls[0].priority, '')));
    }
    for (const n of nulls) {
      if (n.priority !== 0) {
        findings.push(finding('error', 'mx-null-preference', `A null MX must have preference 0, not ${n.priority}.`, rfc(7505, '3'), { ...mxRef(domain, n.priority, ''), range: { start: 0, end: String(n.priority).length } }));
      }
    }
    if (mxs.length === 1) return result([], true, true);
  }

  const real = mxs.filter((m) => m.exchange !== '');
  const hosts = await Promise.all(
    real.map(async (m): Promise<MxHost | undefined> => {
      const ref = mxRef(domain, m.priority, m.exchange);
      if (IP_LITERAL.test(m.exchange)) {
        findings.push(
          finding('error', 'mx-ip-literal', `The MX ${m.exchange} is an IP address; an MX must name a host, which is then resolved to addresses.`, rfc(5321, '5.1'), ref),
        );
        return undefined;
      }
      // RFC 5321 §2.3.5: an MX names a host, whose name is letters, digits and hyphens in labels of 1
      // to 63 octets. Anything else (a control character, a space, an empty label) is not queried:
      // it is the record's error, not a DNS failure.
      if (!isHostName(m.exchange)) {
        findings.push(
          finding('error', 'mx-host-invalid', `The MX ${m.exchange} is not a host name (letters, digits and "-" in labels of 1 to 63 characters), so no sender can deliver to it.`, rfc(5321, '2.3.5'), ref),
        );
        return undefined;
      }
      const [cname, a, aaaa] = await Promise.all([
        ctx.dns.query(m.exchange, 'CNAME', [mxAnswer]),
        ctx.dns.query(m.exchange, 'A', [mxAnswer]),
        ctx.dns.query(m.exchange, 'AAAA', [mxAnswer]),
      ]);
      const addresses = [...a.data, ...aaaa.data];
      for (const addr of addresses) records.push({ name: m.exchange, type: addr.includes(':') ? 'AAAA' : 'A', data: addr });
      if (cname.status === 'ok') {
        records.push({ name: m.exchange, type: 'CNAME', data: `${cname.data[0]}.` });
        findings.push(
          finding(
            'error',
            'mx-cname',
            `The MX ${m.exchange} is an alias (CNAME to ${cname.data[0]}); an MX must point to the host's canonical name.`,
            rfc(2181, '10.3'),
            ref,
          ),
        );
      }
      const failed = [a, aaaa].filter((x) => x.status === 'error');
      for (const f of failed) {
        findings.push(finding('error', 'mx-dns-error', `The ${f.type} query for MX ${m.exchange} failed: ${describeFailure(f)}.`, rfc(5321, '5.1'), ref));
      }
      if (addresses.length === 0 && failed.length === 0) {
        findings.push(finding('error', 'mx-host-no-address', `The MX ${m.exchange} has no A or AAAA record.`, rfc(5321, '5.1'), ref));
      }
      return { name: m.exchange, preference: m.priority, addresses, after: [a, aaaa] };
    }),
  );
  const usable = hosts.filter((h): h is MxHost => h !== undefined && h.addresses.length > 0);
  if (!findings.some((f) => f.severity === 'error')) {
    findings.push(
      finding('pass', 'mx-ok', `${real.length} MX record(s); every host resolves to an address.`, rfc(5321, '5.1')),
    );
  }
  return result(usable, false, true);
}

/** Normalizes an address for comparison. */
function sameAddress(x: string, y: string): boolean {
  if (x.includes(':') && y.includes(':')) return expandIpv6(x)?.map((g) => parseInt(g, 16)).join(':') === expandIpv6(y)?.map((g) => parseInt(g, 16)).join(':');
  return x === y;
}

/**
 * Checks that every MX address has a PTR whose name resolves back to the address (forward-confirmed
 * reverse DNS). RFC 1912 §2.1 asks every reachable host to have a matching PTR, and many receivers
 * (RFC 8601 §3 "iprev") treat a missing or unconfirmed one as a bad sign.
 */
export async function checkPtr(ctx: CheckContext, mx: MxOutcome): Promise<CheckResult> {
  const findings: Finding[] = [];
  const records: RawRecord[] = [];
  const result: CheckResult = { id: 'ptr', title: CHECK_TITLES.ptr, findings, records };
  if (mx.hosts.length === 0) {
    result.skipped = mx.nullMx ? 'The domain publishes a null MX.' : 'No MX host has an address.';
    return result;
  }
  const pairs = mx.hosts.flatMap((h) => h.addresses.map((address) => ({ host: h, address })));
  const unique = pairs.filter((p, i) => pairs.findIndex((q) => q.address === p.address) === i);
  let confirmed = 0;
  await Promise.all(
    unique.map(async ({ host, address }) => {
      const rev = reverseName(address);
      if (!rev) return;
      const ptr = await ctx.dns.query(rev, 'PTR', host.after);
      for (const name of ptr.data) records.push({ name: rev, type: 'PTR', data: `${name}.` });
      const ref: RecordRef = { name: host.name, type: address.includes(':') ? 'AAAA' : 'A', text: address, range: { start: 0, end: address.length } };
      if (ptr.status === 'error') {
        findings.push(finding('error', 'ptr-dns-error', `The PTR query for ${address} (${host.name}) failed: ${describeFailure(ptr)}.`, rfc(1912, '2.1'), ref));
        return;
      }
      if (ptr.status !== 'ok') {
        findings.push(finding('warning', 'ptr-missing', `${address} (MX ${host.name}) has no PTR record.`, rfc(1912, '2.1'), ref));
        return;
      }
      const type = address.includes(':') ? 'AAAA' : 'A';
      const forwards = await Promise.all(ptr.data.map((name) => ctx.dns.query(name, type, [ptr])));
      const match = forwards.find((f) => f.data.some((a) => sameAddress(a, address)));
      if (match) {
        confirmed++;
        return;
      }
      const failed = forwards.find((f) => f.status === 'error');
      if (failed) {
        findings.push(finding('error', 'ptr-dns-error', `The ${type} query for ${failed.name} (PTR of ${address}) failed: ${describeFailure(failed)}.`, rfc(1912, '2.1'), ref));
        return;
      }
      findings.push(
        finding(
          'warning',
          'ptr-not-confirmed',
          `${address} (MX ${host.name}) has PTR ${ptr.data.join(', ')}, which does not resolve back to ${address}.`,
          rfc(1912, '2.1'),
          { name: ptr.name, type: 'PTR', text: `${ptr.data[0]}.`, range: { start: 0, end: ptr.data[0].length } },
        ),
      );
    }),
  );
  if (findings.length === 0) {
    findings.push(finding('pass', 'ptr-ok', `All ${confirmed} MX address(es) have forward-confirmed reverse DNS.`, rfc(1912, '2.1')));
  }
  return result;
}
