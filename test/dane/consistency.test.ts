// Whether MTA-STS, DANE, TLS-RPT and DNSSEC agree: each row is a domain's situation (as the other
// checks report it) and the finding codes it must and must not produce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DaneVerdict, MxDane, TransportSecurityReport } from '../../client/src/dns/dane';
import type { DnssecStatus } from '../../client/src/dns/dnssec';
import { parseStsPolicy } from '../../client/src/dns/mtaSts';
import { checkTransportConsistency, type ConsistencyInput } from '../../client/src/dns/transportConsistency';
import { consistencyInputsFromChecks, transportCheckResults } from '../../client/src/dns/transportReport';
import type { CheckResult } from '../../client/src/dns/types';

function mx(host: string, verdict: DaneVerdict, tlsa = verdict === 'no-tlsa' || verdict === 'host-insecure' ? 0 : 1, tlsaStatus: DnssecStatus = verdict === 'tlsa-insecure' ? 'insecure' : 'secure'): MxDane {
  return {
    host,
    preference: 10,
    addressStatus: tlsaStatus,
    cnameChain: [host],
    tlsaName: `_25._tcp.${host}`,
    tlsaBase: host,
    tlsaStatus,
    tlsa: Array.from({ length: tlsa }, () => ({ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32) })),
    addresses: [],
    verdict,
    hasAddress: true,
  };
}

function transport(mxs: MxDane[], mxStatus: DnssecStatus = 'secure', validates: 'yes' | 'no' | 'unknown' = 'yes'): TransportSecurityReport {
  return {
    domain: 'example.test',
    resolver: { server: '127.0.0.1:53', validates, evidence: 'test' },
    domainStatus: mxStatus,
    mxStatus,
    mx: mxs,
    dnssecFindings: [],
    daneFindings: [],
    records: [],
  };
}

const enforce = parseStsPolicy('version: STSv1\nmode: enforce\nmx: mx1.example.test\nmx: *.backup.example.test\nmax_age: 86400\n');
const testing = parseStsPolicy('version: STSv1\nmode: testing\nmx: mx1.example.test\nmax_age: 86400\n');

interface Row {
  name: string;
  input: Omit<ConsistencyInput, 'domain'>;
  must: string[];
  mustNot?: string[];
}

const rows: Row[] = [
  {
    name: 'DANE and MTA-STS on every host, TLS-RPT present: consistent',
    input: { mxHosts: ['mx1.example.test'], stsRecord: true, stsPolicy: enforce, tlsRpt: true, transport: transport([mx('mx1.example.test', 'authenticated')]), certificates: { 'mx1.example.test': { names: ['mx1.example.test'], problems: [] } } },
    must: ['consistency-dane-and-sts'],
    mustNot: ['consistency-tlsrpt-missing', 'consistency-sts-cert-names', 'consistency-sts-cert-fails', 'consistency-opportunistic-only'],
  },
  {
    name: 'MTA-STS enforce while an MX certificate fails PKIX',
    input: { mxHosts: ['mx1.example.test'], stsRecord: true, stsPolicy: enforce, tlsRpt: true, transport: transport([mx('mx1.example.test', 'authenticated')]), certificates: { 'mx1.example.test': { names: ['other.example.net'], problems: ['self-signed certificate'] } } },
    must: ['consistency-sts-cert-fails', 'consistency-sts-cert-names'],
  },
  {
    name: 'DANE on one host but not the other',
    input: { mxHosts: ['mx1.example.test', 'mx2.example.test'], stsRecord: false, tlsRpt: true, transport: transport([mx('mx1.example.test', 'authenticated'), mx('mx2.example.test', 'no-tlsa')]) },
    must: ['consistency-dane-partial'],
  },
  {
    name: 'DANE without TLS-RPT',
    input: { mxHosts: ['mx1.example.test'], stsRecord: false, tlsRpt: false, transport: transport([mx('mx1.example.test', 'authenticated')]) },
    must: ['consistency-tlsrpt-missing'],
  },
  {
    name: 'MTA-STS testing without TLS-RPT, no DANE',
    input: { mxHosts: ['mx1.example.test'], stsRecord: true, stsPolicy: testing, tlsRpt: false, transport: transport([mx('mx1.example.test', 'no-tlsa')]) },
    must: ['consistency-tlsrpt-missing', 'consistency-opportunistic-only'],
  },
  {
    name: 'TLSA in an unsigned zone silently turns DANE off',
    input: { mxHosts: ['mx1.example.test'], stsRecord: false, tlsRpt: true, transport: transport([mx('mx1.example.test', 'tlsa-insecure')], 'insecure') },
    must: ['consistency-dane-silently-off', 'consistency-opportunistic-only'],
    mustNot: ['consistency-tlsrpt-missing'],
  },
  {
    name: 'signed TLSA under unsigned MX records',
    input: { mxHosts: ['mx1.example.test'], stsRecord: false, tlsRpt: true, transport: transport([mx('mx1.example.test', 'authenticated')], 'insecure') },
    must: ['consistency-mx-insecure'],
  },
  {
    name: 'bogus TLSA: validating senders defer, others deliver unprotected',
    input: { mxHosts: ['mx1.example.test'], stsRecord: false, tlsRpt: true, transport: transport([mx('mx1.example.test', 'tlsa-bogus', 1, 'bogus')], 'secure') },
    must: ['consistency-dnssec-bogus'],
    // DANE senders defer: that is not opportunistic TLS.
    mustNot: ['consistency-opportunistic-only'],
  },
  {
    name: 'a TLSA lookup that failed: DANE senders skip the host, so it is not opportunistic-only',
    input: { mxHosts: ['mx1.example.test'], stsRecord: false, tlsRpt: true, transport: transport([{ ...mx('mx1.example.test', 'indeterminate', 0), tlsaStatus: 'indeterminate', tlsaLookupFailed: true }]) },
    must: [],
    mustNot: ['consistency-opportunistic-only'],
  },
  {
    name: 'TLSA published while nobody can tell whether the resolver validates: no claim either way',
    input: { mxHosts: ['mx1.example.test'], stsRecord: false, tlsRpt: true, transport: transport([{ ...mx('mx1.example.test', 'indeterminate', 1), tlsaStatus: 'indeterminate' }], 'indeterminate', 'unknown') },
    must: [],
    mustNot: ['consistency-opportunistic-only', 'consistency-dane-silently-off'],
  },
  {
    name: 'no TLSA and a resolver that does not validate: no claim',
    input: { mxHosts: ['mx1.example.test'], stsRecord: false, tlsRpt: true, transport: transport([mx('mx1.example.test', 'indeterminate', 0)], 'indeterminate', 'no') },
    must: ['consistency-resolver-not-validating'],
    mustNot: ['consistency-opportunistic-only'],
  },
  {
    name: 'a resolver that does not validate',
    input: { mxHosts: ['mx1.example.test'], stsRecord: false, tlsRpt: true, transport: transport([mx('mx1.example.test', 'host-insecure')], 'insecure', 'no') },
    must: ['consistency-resolver-not-validating'],
  },
];

for (const row of rows) {
  test(`consistency: ${row.name}`, () => {
    const codes = checkTransportConsistency({ domain: 'example.test', ...row.input }).map((f) => f.code);
    for (const c of row.must) assert.ok(codes.includes(c), `missing ${c} in ${codes.join(', ')}`);
    for (const c of row.mustNot ?? []) assert.ok(!codes.includes(c), `unexpected ${c} in ${codes.join(', ')}`);
  });
}

test('consistency inputs are read from the MTA-STS, TLS-RPT and STARTTLS results', () => {
  const checks: CheckResult[] = [
    { id: 'mta-sts', title: 'MTA-STS', findings: [], records: [{ name: '_mta-sts.example.test', type: 'TXT', data: 'v=STSv1; id=1' }, { name: 'https://mta-sts.example.test/.well-known/mta-sts.txt', type: 'HTTPS', data: 'version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 86400\n' }] },
    { id: 'tls-rpt', title: 'TLS-RPT', findings: [], records: [] },
    {
      id: 'starttls',
      title: 'STARTTLS',
      findings: [{ severity: 'warning', code: 'starttls-cert-untrusted', message: 'x', link: 'x', record: { name: 'mx1.example.test', type: 'SMTP', text: 'x' } }],
      records: [{ name: 'mx1.example.test', type: 'SMTP', data: 'STARTTLS TLSv1.3 X; subject CN=mx1; issuer CN=ca; SAN DNS:mx1.example.test, DNS:mx.example.test; valid a to b; chain CN=mx1' }],
    },
  ];
  const inputs = consistencyInputsFromChecks(checks);
  assert.equal(inputs.stsRecord, true);
  assert.equal(inputs.stsPolicy?.mode, 'enforce');
  assert.equal(inputs.tlsRpt, false);
  assert.deepEqual(inputs.certificates, { 'mx1.example.test': { names: ['mx1.example.test', 'mx.example.test'], problems: ['untrusted'] } });
  const groups = transportCheckResults(transport([mx('mx1.example.test', 'authenticated')]), checks);
  assert.deepEqual(groups.map((g) => g.id), ['dnssec', 'dane', 'transport']);
  const codes = groups[2].findings.map((f) => f.code);
  assert.ok(codes.includes('consistency-sts-cert-fails') && codes.includes('consistency-tlsrpt-missing'), codes.join(', '));
});
