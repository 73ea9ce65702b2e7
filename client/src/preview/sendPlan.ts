/**
 * Builds the session plan that sends a message file, for the session engine (client/src/engine):
 * EHLO, optionally STARTTLS (RFC 3207) and EHLO again, MAIL FROM, one RCPT TO per recipient, DATA
 * with the file (the engine dot-stuffs it, RFC 5321 §4.5.2), QUIT. The plan holds no variable
 * references, so it needs no substitution.
 */
import type { Expectation, PlanStep, SessionPlan } from '../../../common/sessionPlan';

export interface SendPlanOptions {
  /** The message file; the engine reads it through RunOptions.readFile. */
  file: string;
  mailFrom: string;
  recipients: string[];
  /** The EHLO argument (RFC 5321 §4.1.1.1): a domain or an address literal. */
  ehloName: string;
  /** A CONNECT URL (`smtp://host:port`, `smtps://…`, `submission://…`, `mx:domain`); the local capture server when absent. */
  connect?: string;
  /** Issue STARTTLS after the first EHLO. */
  starttls?: boolean;
  /** Verify the server certificate (default true). */
  tlsVerify?: boolean;
}

function expect(line: number, ...classes: Array<2 | 3 | 4 | 5>): Expectation {
  return { line, source: classes.map((c) => `${c}xx`).join(' '), codes: classes.map((c) => ({ kind: 'class', class: c })), enhanced: [], implicit: true };
}

/** Returns the plan; lines are the step indexes, so results can name the failing step. */
export function buildSendPlan(options: SendPlanOptions): SessionPlan {
  const steps: PlanStep[] = [];
  const command = (verb: string, template: string): void => {
    const line = steps.length;
    steps.push({ kind: 'command', verb, template, source: template, line, expect: expect(line, 2) });
  };
  command('EHLO', `EHLO ${options.ehloName}`);
  if (options.starttls) {
    const line = steps.length;
    steps.push({ kind: 'starttls', line, source: 'STARTTLS', expect: expect(line, 2) });
    command('EHLO', `EHLO ${options.ehloName}`);
  }
  command('MAIL', `MAIL FROM:<${options.mailFrom}>`);
  for (const rcpt of options.recipients) command('RCPT', `RCPT TO:<${rcpt}>`);
  const dataLine = steps.length;
  steps.push({
    kind: 'data',
    line: dataLine,
    source: `DATA < ${options.file}`,
    body: { kind: 'file', path: options.file },
    intermediate: expect(dataLine, 3),
    expect: expect(dataLine, 2),
  });
  command('QUIT', 'QUIT');
  const plan: SessionPlan = {
    file: options.file,
    title: `Send ${options.file}`,
    line: 0,
    endLine: steps.length - 1,
    variables: [],
    tls: { verify: options.tlsVerify !== false },
    options: { allowCleartextAuth: false, pipelining: false, timeouts: {} },
    steps,
  };
  if (options.connect !== undefined) plan.connect = { template: options.connect, line: 0 };
  return plan;
}
