/**
 * A STARTTLS prober on the project's session engine (client/src/engine): it runs the session
 * EHLO, STARTTLS, QUIT against one MX address, with the MX host name as SNI and certificate
 * verification reported rather than enforced, and turns the engine's result into a probe result.
 */
import * as tls from 'node:tls';
import type { Expectation, PlanStep, SessionPlan } from '../../../common/sessionPlan';
import { runSession } from '../engine/index';
import type { CertificateInfo, StartTlsProbeRequest, StartTlsProbeResult, StartTlsProber } from './context';

export interface EngineStartTlsProberOptions {
  /** The SMTP port; 25 unless a test points it elsewhere. */
  port?: number;
  /** Extra CA certificates (PEM) to trust besides the system's roots, e.g. a test CA. */
  extraCa?: string[];
  /** The name to say in EHLO. */
  ehloName?: string;
}

function expectClass(line: number, source: string, cls: 2 | 3 | 4 | 5, code?: number): Expectation {
  return { line, source, codes: [code !== undefined ? { kind: 'code', code } : { kind: 'class', class: cls }], enhanced: [], implicit: true };
}

/** The probe session: EHLO, STARTTLS (RFC 3207 §4), QUIT. */
export function probePlan(address: string, port: number, host: string, ehloName: string, caPath: string | undefined): SessionPlan {
  const target = address.includes(':') ? `smtp://[${address}]:${port}` : `smtp://${address}:${port}`;
  const steps: PlanStep[] = [
    { kind: 'command', line: 1, source: `EHLO ${ehloName}`, verb: 'EHLO', template: `EHLO ${ehloName}`, expect: expectClass(1, '2xx', 2) },
    { kind: 'starttls', line: 2, source: 'STARTTLS', expect: expectClass(2, '220', 2, 220) },
    { kind: 'command', line: 3, source: 'QUIT', verb: 'QUIT', template: 'QUIT', expect: expectClass(3, '2xx', 2) },
  ];
  return {
    file: 'mail-dns-starttls-probe',
    title: `STARTTLS probe of ${host}`,
    line: 0,
    endLine: 3,
    variables: [],
    connect: { template: target, line: 0 },
    // verify=off here only means "do not stop the session": the result still says whether the
    // certificate verified, and the check reports it.
    tls: { verify: false, sni: host, ca: caPath },
    options: { allowCleartextAuth: false, pipelining: false, timeouts: {} },
    steps,
  };
}

const CA_BUNDLE = 'mail-dns-ca-bundle.pem';

export function createEngineStartTlsProber(options: EngineStartTlsProberOptions = {}): StartTlsProber {
  const port = options.port ?? 25;
  const ehloName = options.ehloName ?? 'smtp-workbench.invalid';
  const bundle = options.extraCa && options.extraCa.length > 0 ? Buffer.from([...tls.rootCertificates, ...options.extraCa].join('\n')) : undefined;
  return {
    async probe(request: StartTlsProbeRequest): Promise<StartTlsProbeResult> {
      const plan = probePlan(request.address, port, request.host, ehloName, bundle ? CA_BUNDLE : undefined);
      const t = request.timeoutMs;
      // The probe as a whole ends within its timeout, as the node:tls prober's does: each phase has
      // the timeout too, but connect, greeting, EHLO and STARTTLS in a row could otherwise take four.
      const cancel = new AbortController();
      const timer = setTimeout(() => cancel.abort(), t);
      let result: Awaited<ReturnType<typeof runSession>>;
      try {
        result = await runSession(plan, {
          timeouts: { connect: t, greeting: t, command: t, tls: t },
          readFile: async () => {
            if (!bundle) throw new Error('no CA bundle');
            return bundle;
          },
          keepTranscript: true,
          signal: cancel.signal,
        });
      } finally {
        clearTimeout(timer);
      }
      // When the probe's own timer stopped the session, the engine says "the run was cancelled": the
      // report says what happened instead, that the timeout ran out, and in which phase.
      const timedOut = cancel.signal.aborted;
      const ms = Math.round(t);
      const greeting = result.transcript.find((e) => e.dir === 'server');
      if (!greeting) return timedOut ? { connected: false, error: `no complete greeting within ${ms} ms`, timedOut } : { connected: false, error: result.failure?.message ?? 'no greeting' };
      const ehloStep = result.steps.find((s) => s.line === 1);
      // Only a complete EHLO reply says whether STARTTLS is offered (RFC 5321 §4.2.1: a multiline
      // reply ends with the line whose code is followed by a space). A timeout or a disconnect before
      // it ends is a failed probe, never "not offered".
      if (!ehloStep?.reply) {
        if (timedOut) return { connected: false, error: `no complete EHLO reply within ${ms} ms`, timedOut };
        return { connected: false, error: result.failure ? `no complete EHLO reply: ${result.failure.message}` : 'no complete EHLO reply' };
      }
      const ehloLines = ehloStep.reply.lines;
      const offered = ehloLines.some((l) => /^250[ -]STARTTLS\b/i.test(l));
      const base = { connected: true as const, banner: greeting.text, ehloLines, starttlsOffered: offered };
      if (!offered) return base;
      const details = result.tls;
      if (!details) return { ...base, tlsError: timedOut ? `STARTTLS did not complete within ${ms} ms` : (result.failure?.message ?? 'TLS did not start') };
      let certificate: CertificateInfo | undefined;
      let nameMatches: boolean | undefined;
      let nameError: string | undefined;
      if (details.subject !== undefined) {
        certificate = {
          subject: details.subject,
          issuer: details.issuer ?? '',
          subjectAltNames: details.subjectAltNames ?? [],
          validFrom: details.validFrom ?? '',
          validTo: details.validTo ?? '',
          expiresAt: Date.parse(details.validTo ?? ''),
          fingerprint256: details.fingerprint256 ?? '',
          chain: [details.subject, details.issuer ?? ''],
        };
        // The engine reports the leaf's names; check them against the MX host name (RFC 6125 §6.4).
        const cn = /CN=([^,/]+)/.exec(details.subject)?.[1];
        const err = tls.checkServerIdentity(request.host, {
          subject: { CN: cn ?? '' },
          subjectaltname: (details.subjectAltNames ?? []).join(', '),
        } as unknown as tls.PeerCertificate);
        nameMatches = err === undefined;
        nameError = err?.message;
      }
      const nameOnly = details.verifyError === 'ERR_TLS_CERT_ALTNAME_INVALID';
      return {
        ...base,
        tlsVersion: details.protocol ?? undefined,
        cipher: details.cipher,
        certificate,
        chainTrusted: details.verified || nameOnly,
        chainError: details.verified || nameOnly ? undefined : details.verifyError,
        nameMatches,
        nameError,
      };
    },
  };
}
