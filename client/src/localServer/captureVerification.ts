/**
 * Verification of what the capture server received (issue 16): DKIM (RFC 6376), SPF (RFC 7208)
 * with the connecting IP, HELO and MAIL FROM, DMARC (RFC 9989) and ARC (RFC 8617), run after the
 * client has its reply and never on the reply path.
 *
 * Verification is work for later: messages wait in a queue, and the queue runs while the SMTP side
 * is quiet (no message for IDLE_MS), so a burst of mail is accepted at full speed and verified when
 * it is over. A message that has waited STARVATION_MS is verified even under load, one at a time,
 * so a steady trickle of mail is verified too. Each verification has a deadline, DNS answers are
 * cached per name and type (RFC 2308 keeps negative answers too), and a server that does not answer
 * is remembered for a while, so an offline machine costs one timeout, not one per message.
 * Nothing here imports `vscode`.
 */
import { performance } from 'node:perf_hooks';
import { isUnreachableDnsError, type DnsAnswer, type MailauthResolver } from '../mailAuth';

/** How long the SMTP side must be quiet before queued messages are verified. */
const IDLE_MS = 25;
/** A message that has waited this long is verified even while mail keeps coming. */
const STARVATION_MS = 1000;
/** At most this many messages wait; a message beyond it is recorded as not verified. */
const MAX_QUEUED = 10000;
/** The longest one verification may take, DNS included. */
export const VERIFY_DEADLINE_MS = 10_000;
/** How long a DNS answer (or a name that does not exist) is reused. */
const ANSWER_TTL_MS = 5 * 60 * 1000;
/** How long an unreachable DNS server is not asked again. */
const UNREACHABLE_TTL_MS = 30 * 1000;
/** At most this many answers are kept; the oldest go first. */
const MAX_ANSWERS = 10000;

/**
 * Wraps a resolver with a cache of its answers and failures by name and type, so the messages of
 * one sender domain make one set of queries. Answers are kept ANSWER_TTL_MS (the capture server
 * tests mail; DNS changes during a test run are picked up within minutes), an unreachable server's
 * failure UNREACHABLE_TTL_MS.
 */
export function cachingResolver(inner: MailauthResolver, clock: () => number = Date.now): MailauthResolver {
  const cache = new Map<string, { until: number; answer: Promise<DnsAnswer> }>();
  return (name, rrtype) => {
    const key = `${rrtype} ${name.toLowerCase().replace(/\.$/, '')}`;
    const now = clock();
    const hit = cache.get(key);
    if (hit && hit.until > now) return hit.answer;
    const answer = inner(name, rrtype);
    const entry = { until: now + ANSWER_TTL_MS, answer };
    cache.delete(key);
    cache.set(key, entry);
    if (cache.size > MAX_ANSWERS) cache.delete(cache.keys().next().value as string);
    answer.catch((error: unknown) => {
      if (isUnreachableDnsError(error)) entry.until = clock() + UNREACHABLE_TTL_MS;
    });
    return answer;
  };
}

/**
 * A queue that runs `verify` for each job while the SMTP side is quiet (see `busy`), one at a time,
 * and for the oldest job anyway once it has waited STARVATION_MS.
 */
export class VerificationQueue<T> {
  private readonly jobs: Array<{ item: T; queuedAt: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastActivity = 0;
  private stopped = false;

  constructor(
    private readonly verify: (item: T) => Promise<void>,
    /** Called with a message that was not queued because the queue was full. */
    private readonly overflow: (item: T) => void,
  ) {}

  /** Notes SMTP activity (a message acknowledged): verification waits until it is quiet again. */
  activity(): void {
    this.lastActivity = performance.now();
  }

  /** Queues a message acknowledged just now. */
  add(item: T): void {
    if (this.stopped) return;
    this.activity();
    if (this.jobs.length >= MAX_QUEUED) {
      this.overflow(item);
      return;
    }
    this.jobs.push({ item, queuedAt: performance.now() });
    this.schedule();
  }

  /** How many messages wait. */
  get size(): number {
    return this.jobs.length + (this.running ? 1 : 0);
  }

  /** Resolves once every queued message is verified (it does not wait for the SMTP side to be quiet). */
  async drain(): Promise<void> {
    while (this.jobs.length > 0 || this.running) {
      if (this.running) await this.running;
      else await this.runOne();
    }
  }

  /** Drops what waits; the job running now finishes. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.jobs.length = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.running || this.jobs.length === 0 || this.stopped) return;
    const now = performance.now();
    const quietAt = this.lastActivity + IDLE_MS;
    const starvedAt = this.jobs[0].queuedAt + STARVATION_MS;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // A drain may have taken the jobs meanwhile, or one may be running.
      if (this.jobs.length === 0 || this.running) return;
      const at = performance.now();
      if (at < this.lastActivity + IDLE_MS && at < this.jobs[0].queuedAt + STARVATION_MS) {
        this.schedule();
        return;
      }
      void this.runOne();
    }, Math.max(0, Math.min(quietAt, starvedAt) - now));
    this.timer.unref();
  }

  private runOne(): Promise<void> {
    const job = this.jobs.shift();
    if (!job) return Promise.resolve();
    const run = this.verify(job.item).catch(() => undefined);
    this.running = run;
    return run.finally(() => {
      if (this.running === run) this.running = undefined;
      this.schedule();
    });
  }
}

/** Races a promise against a deadline; the deadline's error names what took too long. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
