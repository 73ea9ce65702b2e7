/**
 * Masks the secrets of a session result after every decision has been made, in the fields where
 * secret bytes can appear and nowhere else (the rules are in common/masking.ts, the one home of
 * masking). Free text is masked: transcript events, step commands and their replies, step and
 * failure messages, and the parameters the EHLO reply advertised. Structured fields are kept as
 * they are: `ok`, titles and names, lines, reply and enhanced codes, expectations as written, the
 * target, TLS and MX details, counts and timings.
 */
import { Masker, type MaskRole } from '../../../common/masking';
import type { ReplyInfo, SessionResult, StepResult, TranscriptEvent } from './types';

export { MASK, Masker } from '../../../common/masking';

/** The masking role of a transcript event: what the client sent, what the server answered, or a note. */
export function eventRole(dir: unknown): MaskRole {
  return dir === 'client' ? 'sent' : dir === 'server' ? 'received' : 'note';
}

/**
 * One event masked by its direction: what the client sent with every form (remembered as sent),
 * replies and notes with the forms that were sent and the long ones. For callers that see events
 * as they happen (the log channel, the live transcript); keep one `Masker` per session.
 */
export function maskEvent(event: TranscriptEvent, masker: Masker): TranscriptEvent {
  return masker.active ? { ...event, text: masker.mask(String(event.text ?? ''), eventRole(event.dir)) } : event;
}

function maskReply(reply: ReplyInfo, masker: Masker): ReplyInfo {
  return { ...reply, lines: Array.isArray(reply.lines) ? reply.lines.map((l) => masker.mask(String(l), 'received')) : reply.lines };
}

function maskStep(step: StepResult, masker: Masker): StepResult {
  const out: StepResult = { ...step, command: masker.mask(String(step.command ?? ''), 'sent') };
  if (step.reply) out.reply = maskReply(step.reply, masker);
  if (Array.isArray(step.replies)) out.replies = step.replies.map((r) => maskReply(r, masker));
  if (typeof step.message === 'string') out.message = masker.mask(step.message, 'note');
  return out;
}

/**
 * A copy of a result with its secrets masked; the input is not changed. The transcript is masked
 * first and in order, so that what the client sent is known before the replies that may echo it.
 */
export function maskResult(result: SessionResult, masker: Masker): SessionResult {
  if (!masker.active) return result;
  const transcript = Array.isArray(result.transcript)
    ? result.transcript.map((e) => maskEvent(e, masker))
    : result.transcript;
  // Every command is known as sent before any step's replies are masked.
  const steps = Array.isArray(result.steps) ? result.steps : [];
  for (const s of steps) masker.noteSent(String(s.command ?? ''));
  const out: SessionResult = { ...result, transcript, steps: steps.map((s) => maskStep(s, masker)) };
  if (result.failure) out.failure = { ...result.failure, message: masker.mask(String(result.failure.message ?? ''), 'note') };
  if (result.capabilities && typeof result.capabilities.keywords === 'object' && result.capabilities.keywords !== null) {
    const keywords: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(result.capabilities.keywords)) keywords[k] = Array.isArray(v) ? v.map((p) => masker.mask(String(p), 'note')) : v;
    out.capabilities = { ...result.capabilities, keywords };
  }
  return out;
}
