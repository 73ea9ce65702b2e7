// The fixture zones for the mail DNS tests and the benchmark: one zone for "test." that covers every
// finding, and the reverse zones for the loopback addresses the MX hosts use. DKIM keys are real keys
// generated when the fixtures are built.
import { generateKeyPairSync } from 'node:crypto';

export interface DkimFixtureKeys {
  rsa2048: string;
  rsa1024: string;
  rsa512: string;
  ed25519: string;
}

/** Generates the public keys, base64 as DKIM p= wants them (RFC 6376 §3.6.1, RFC 8463 §4.2). */
export function generateDkimKeys(): DkimFixtureKeys {
  const rsa = (bits: number): string =>
    generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
  return { rsa2048: rsa(2048), rsa1024: rsa(1024), rsa512: rsa(512), ed25519: ed.subarray(ed.length - 32).toString('base64') };
}

/** Quotes a TXT value as zone-file character strings of at most 255 bytes. */
export function txt(value: string): string {
  const chunks: string[] = [];
  for (let i = 0; i < value.length; i += 255) chunks.push(value.slice(i, i + 255));
  if (chunks.length === 0) chunks.push('');
  return `( ${chunks.map((c) => `"${c.replace(/(["\\])/g, '\\$1')}"`).join(' ')} )`;
}

/** The MTA-STS policies the local HTTPS server serves, by host. */
export const MTA_STS_POLICIES: Record<string, string> = {
  'mta-sts.example.test': 'version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmx: *.example.test\r\nmax_age: 604800\r\n',
  'mta-sts.sts.test': 'version: STSv1\nmode: testing\nmx: *.sts.test\nmax_age: 86400\n',
  // A wildcard inside the name is not a pattern (RFC 8461 §3.2, §4.1).
  'mta-sts.sts-pattern.test': 'version: STSv1\nmode: enforce\nmx: mail.sts-pattern.test\nmx: mx.*.sts-pattern.test\nmax_age: 86400\n',
};

/**
 * BIMI logos served by the same HTTPS server: one that follows SVG Tiny PS, and one that breaks
 * several of its rules (draft-svg-tiny-ps-abrotman).
 */
export const BIMI_LOGOS: Record<string, string> = {
  'logo.example.test':
    '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 100 100">\n  <title>Example</title>\n  <circle cx="50" cy="50" r="40" fill="#336699"/>\n</svg>\n',
  'logo.bimiorg.test':
    '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" x="0" viewBox="0 0 200 100"><script>alert(1)</script><image href="https://tracker.example/p.png"/><rect onclick="x()" width="1" height="1"/></svg>',
};

/** Policy hosts that answer with a redirect, which senders must not follow (RFC 8461 §3.3). */
export const MTA_STS_REDIRECTS: Record<string, string> = {
  'mta-sts.sts-redirect.test': 'https://mta-sts.example.test/.well-known/mta-sts.txt',
};

/** Policy hosts with a valid certificate but no policy (HTTP 404). */
export const MTA_STS_MISSING: string[] = ['mta-sts.sts-404.test'];

export const MTA_STS_HOSTS = Object.keys(MTA_STS_POLICIES);

/** The value of the SPF record with a syntax error, and where the error is. */
export const SPF_SYNTAX_RECORD = 'v=spf1 ip4:192.0.2.300 mx -all';
export const SPF_SYNTAX_COLUMN = 12;

/** The zone texts, by origin. */
export function fixtureZones(keys: DkimFixtureKeys): Record<string, string> {
  const k = keys;
  const test = `$ORIGIN test.
$TTL 300
ns1                          A     127.0.0.1

; ---- example.test: the good domain ----
example                      MX    10 mail.example
example                      MX    20 mx2.example
mail.example                 A     127.0.0.1
mail.example                 AAAA  ::1
mx2.example                  A     127.0.0.2
example                      TXT   "v=spf1 mx include:_spf.example.test -all"
_spf.example                 TXT   "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"
default._domainkey.example   TXT   ${txt(`v=DKIM1; k=rsa; p=${k.rsa2048}`)}
ed._domainkey.example        TXT   ${txt(`v=DKIM1; k=ed25519; p=${k.ed25519}`)}
_dmarc.example               TXT   "v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r; fo=1; rua=mailto:dmarc@example.test,mailto:agg@reports.test; ruf=mailto:forensic@example.test"
example.test._report._dmarc.reports TXT "v=DMARC1"
_mta-sts.example             TXT   "v=STSv1; id=20240101T000000;"
mta-sts.example              A     127.0.0.1
_smtp._tls.example           TXT   "v=TLSRPTv1; rua=mailto:tlsrpt@example.test,https://reports.example.test/tlsrpt"
default._bimi.example        TXT   "v=BIMI1; l=https://logo.example.test/logo.svg; a=https://vmc.example.test/vmc.pem"
logo.example                 A     127.0.0.1
vmc.example                  A     127.0.0.1

; ---- SPF ----
spf-many                     TXT   "v=spf1 include:l1.spf-many.test include:l2.spf-many.test include:l3.spf-many.test -all"
l1.spf-many                  TXT   "v=spf1 a:mail.example.test a:mx2.example.test mx:example.test -all"
l2.spf-many                  TXT   "v=spf1 a:mail.example.test a:mx2.example.test mx:example.test -all"
l3.spf-many                  TXT   "v=spf1 a:mail.example.test a:mx2.example.test mx:example.test -all"
spf-loop                     TXT   "v=spf1 include:a.spf-loop.test -all"
a.spf-loop                   TXT   "v=spf1 include:b.spf-loop.test -all"
b.spf-loop                   TXT   "v=spf1 include:a.spf-loop.test -all"
spf-void                     TXT   "v=spf1 a:nx1.spf-void.test a:nx2.spf-void.test a:nx3.spf-void.test -all"
spf-two                      TXT   "v=spf1 mx -all"
spf-two                      TXT   "v=spf1 ip4:192.0.2.1 -all"
spf-syntax                   TXT   "${SPF_SYNTAX_RECORD}"
spf-lax                      TXT   "v=spf1 ptr ?all"
spf-open                     TXT   "v=spf1 +all"
spf-redir                    TXT   "v=spf1 redirect=_spf.example.test ~all"
spf-exp                      TXT   "v=spf1 ip4:192.0.2.1 exp=explain.spf-exp.test -all"
explain.spf-exp              TXT   "%{i} is not one of %{d}'s designated mail servers."
spf-exp2                     TXT   "v=spf1 ip4:192.0.2.1 -all exp=nothing.spf-exp.test"
spf-empty                    TXT   "v=spf1 include: -all"
spf-bare                     TXT   "v=spf1 include redirect= -all"
spf-macro                    TXT   "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} include:%{z}.bad.test -all"
spf-badname                  TXT   "v=spf1 a:foo..bar mx:x..y exists:e..f -all"
spf-badinc                   TXT   "v=spf1 include:foo..bar -all"
spf-expempty                 TXT   "v=spf1 -all exp="
spf-fails                    TXT   "v=spf1 a:mail.elsewhere.example include:i1.spf-fails.test include:i2.spf-fails.test -all"
i1.spf-fails                 TXT   "v=spf1 a:mail.elsewhere.example mx:elsewhere.example -all"
i2.spf-fails                 TXT   "v=spf1 a:mail.elsewhere.example mx:elsewhere.example -all"

; ---- DKIM (selectors given by the tests) ----
dkim                         A     127.0.0.1
revoked._domainkey.dkim      TXT   "v=DKIM1; k=rsa; p="
testing._domainkey.dkim      TXT   ${txt(`v=DKIM1; t=y; k=rsa; p=${k.rsa2048}`)}
rsa1024._domainkey.dkim      TXT   ${txt(`v=DKIM1; k=rsa; p=${k.rsa1024}`)}
rsa512._domainkey.dkim       TXT   ${txt(`v=DKIM1; k=rsa; p=${k.rsa512}`)}
ed._domainkey.dkim           TXT   ${txt(`v=DKIM1; k=ed25519; p=${k.ed25519}`)}
sha1._domainkey.dkim         TXT   ${txt(`v=DKIM1; h=sha1; k=rsa; p=${k.rsa2048}`)}
md5._domainkey.dkim          TXT   ${txt(`v=DKIM1; h=md5; k=rsa; p=${k.rsa2048}`)}
both._domainkey.dkim         TXT   ${txt(`v=DKIM1; h=md5:sha256; k=rsa; p=${k.rsa2048}`)}
broken._domainkey.dkim       TXT   ${txt(`v=DKIM1; k=rsa; bogus; p=${k.rsa2048}`)}

; ---- DMARC ----
_dmarc.dmarc-dup             TXT   "v=DMARC1; p=none; p=reject"
_dmarc.dmarc-pct             TXT   "v=DMARC1; p=reject; pct=150"
_dmarc.dmarc-ext             TXT   "v=DMARC1; p=quarantine; rua=mailto:agg@unauth.test"
sub.orgfb                    A     127.0.0.1
_dmarc.orgfb                 TXT   "v=DMARC1; p=reject; sp=none"

; ---- MX ----
nullmx                       MX    0 .
mxbad                        MX    10 bad\\007host.example.test.
mxbad                        MX    20 mail.example.test.
nullmixed                    MX    0 .
nullmixed                    MX    10 mail.example.test.
mxcname                      MX    10 alias.mxcname
alias.mxcname                CNAME mail.example.test.
mxip                         MX    10 192.0.2.1.
noptr                        MX    10 mail.noptr
noptr                        MX    20 mx2.noptr
mail.noptr                   A     127.0.0.20
mx2.noptr                    A     127.0.0.30
elsewhere.noptr              A     127.0.0.31
nomx                         A     127.0.0.1
; MX owners: a domain that is an alias, and one below a DNAME; their MX records are owned by the
; target, which the answer reaches through its CNAME chain (RFC 1034 §3.6.2, RFC 6672 §2.2).
mxalias                      CNAME mxtarget
mxtarget                     MX    10 mail.example.test.
dn                           DNAME dntarget
host.dntarget                MX    10 mail.example.test.
; A CNAME chain of 11 links before the MX: every record of it is part of the answer (RFC 1034
; §3.6.2); Knot hands over five links per answer, and the query goes on from the last one. And a
; CNAME loop, which has no answer.
chain11                      CNAME c1.chain11
c1.chain11                   CNAME c2.chain11
c2.chain11                   CNAME c3.chain11
c3.chain11                   CNAME c4.chain11
c4.chain11                   CNAME c5.chain11
c5.chain11                   CNAME c6.chain11
c6.chain11                   CNAME c7.chain11
c7.chain11                   CNAME c8.chain11
c8.chain11                   CNAME c9.chain11
c9.chain11                   CNAME c10.chain11
c10.chain11                  CNAME c11.chain11
c11.chain11                  MX    10 mail.example.test.
cnameloop                    CNAME l1.cnameloop
; An alias of a name with no MX: the answer is the CNAME and the zone's SOA (RFC 2308 §2.2), no MX.
aliasnomx                    CNAME nomx
l1.cnameloop                 CNAME cnameloop

; ---- MTA-STS with a pattern that does not match ----
sts                          MX    10 mail.sts
sts                          MX    20 mx.backup.sts
mail.sts                     A     127.0.0.1
mx.backup.sts                A     127.0.0.1
_mta-sts.sts                 TXT   "v=STSv1; id=abc123"
mta-sts.sts                  A     127.0.0.1

_mta-sts.sts-redirect         TXT   "v=STSv1; id=1"
mta-sts.sts-redirect         A     127.0.0.1
_mta-sts.sts-404             TXT   "v=STSv1; id=2"
mta-sts.sts-404              A     127.0.0.1
_mta-sts.sts-bad             TXT   "v=STSv1; id=not-alnum!"
_mta-sts.sts-dupid           TXT   "v=STSv1; id=20260101; id=20260102"
_mta-sts.sts-two             TXT   "v=STSv1; id=1"
_mta-sts.sts-two             TXT   "v=STSv1; id=2"
sts-pattern                  MX    10 mail.sts-pattern
mail.sts-pattern             A     127.0.0.1
_mta-sts.sts-pattern         TXT   "v=STSv1; id=7"
mta-sts.sts-pattern          A     127.0.0.1
; Meant as MTA-STS records, but not beginning with "v=STSv1;" (RFC 8461 §3.1).
_mta-sts.sts-lower           TXT   "v=stsv1; id=1"
_mta-sts.sts-space           TXT   " v=STSv1; id=1"

; ---- TLS-RPT and BIMI ----
_smtp._tls.tlsrpt-bad        TXT   "v=TLSRPTv1; rua=ftp://reports.tlsrpt-bad.test"
_smtp._tls.tlsrpt-order      TXT   "rua=mailto:tlsrpt@example.test; v=TLSRPTv1"
_smtp._tls.tlsrpt-nosemi     TXT   "v=TLSRPTv1 rua=mailto:tlsrpt@example.test"
_smtp._tls.utf8              TXT   "v=TLSRPTv1; rua=mailto:caf\\195\\169@example.test\\013\\010"
_smtp._tls.tlsrpt-esc        TXT   "v=TLSRPTv1; rua=mailto:tls\\027rpt@example.test,https://reports.example.test/a<b,mailto:ok@example.test"
_dmarc.bimi-bad              TXT   "v=DMARC1; p=none"
default._bimi.bimi-bad       TXT   "v=BIMI1; l=http://bimi-bad.test/logo.png; a="
_dmarc.bimiorg               TXT   "v=DMARC1; p=reject"
default._bimi.bimiorg        TXT   "v=BIMI1; l=https://logo.bimiorg.test/logo.svg; a="
logo.bimiorg                 A     127.0.0.1
shop.bimiorg                 A     127.0.0.1

; ---- STARTTLS: the MX is the Exim test server's name ----
tls                          MX    10 mail.example.test.
`;
  const v4 = `$ORIGIN 127.in-addr.arpa.
$TTL 300
1.0.0                        PTR   mail.example.test.
2.0.0                        PTR   mx2.example.test.
30.0.0                       PTR   elsewhere.noptr.test.
`;
  const v6 = `$ORIGIN ip6.arpa.
$TTL 300
1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 PTR mail.example.test.
`;
  return { test: test, '127.in-addr.arpa': v4, 'ip6.arpa': v6 };
}
