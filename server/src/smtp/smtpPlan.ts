/**
 * Turns the sessions of a parsed script into session plans (common/sessionPlan.ts): what the
 * engine runs. Templates keep their `{{…}}` references; common/variables.ts substitutes them at
 * run time.
 */
import type {
  Expectation,
  PlanStep,
  ReplyPattern,
  SessionOptions,
  SessionPlan,
  TlsOptionsTemplate,
  VariableDefinition,
} from '../../../common/sessionPlan';
import type { ExpectNode, MessageNode, SessionNode, SmtpDocument } from './smtpAst';
import { isEngineAuthMechanism, isTlsVersion, TIMEOUT_PHASE_FIELDS } from '../facts/scriptVocabulary';
import { pairSteps, type PairedStep } from './smtpState';

export function buildSessionPlans(document: SmtpDocument, file: string): SessionPlan[] {
  const fileVariables: VariableDefinition[] = [];
  for (const item of document.preamble) {
    if (item.kind === 'variable' && item.value) fileVariables.push({ name: item.name.text, template: item.value.text, line: item.line, scope: 'file' });
  }
  return document.sessions.map((session) => buildSessionPlan(document, session, file, fileVariables));
}

function buildSessionPlan(document: SmtpDocument, session: SessionNode, file: string, fileVariables: VariableDefinition[]): SessionPlan {
  const text = document.text;
  const source = (range: { start: number; end: number }) => text.slice(range.start, range.end);
  const variables = [...fileVariables];
  const options: SessionOptions = { allowCleartextAuth: false, pipelining: false, timeouts: {} };
  const tls: TlsOptionsTemplate = { verify: true };
  let name: string | undefined;
  let connect: SessionPlan['connect'];

  for (const item of session.items) {
    switch (item.kind) {
      case 'variable':
        if (item.value) variables.push({ name: item.name.text, template: item.value.text, line: item.line, scope: 'session' });
        break;
      case 'metadata': {
        const key = item.key.text.toLowerCase();
        if (key === 'name' && item.value) name = item.value.text;
        else if (key === 'allow-cleartext-auth') options.allowCleartextAuth = true;
        else if (key === 'pipelining') options.pipelining = true;
        else if (key === 'timeout' && item.value) {
          for (const part of item.value.text.split(/\s+/)) {
            const m = /^([a-z-]+)=(\d+(?:\.\d+)?)$/.exec(part);
            if (!m) continue;
            // Node's timers hold at most 2^31-1 ms; a longer or zero value would fire at once.
            const ms = Math.min(Math.max(Math.round(Number(m[2]) * 1000), 1), 2_147_483_647);
            const field = TIMEOUT_PHASE_FIELDS.get(m[1]);
            if (m[1] === 'all') for (const k of TIMEOUT_PHASE_FIELDS.values()) options.timeouts[k] = ms;
            else if (field) options.timeouts[field] = ms;
          }
        }
        break;
      }
      case 'connect':
        if (!connect && item.url) connect = { template: item.url.text, line: item.line };
        break;
      case 'tls':
        tls.line ??= item.line;
        for (const option of item.options) {
          const value = option.value?.text;
          if (value === undefined) continue;
          switch (option.key.text.toLowerCase()) {
            case 'verify':
              tls.verify = !/^(off|false|no)$/i.test(value);
              break;
            case 'sni':
              tls.sni = value;
              break;
            case 'ca':
              tls.ca = value;
              break;
            case 'cert':
              tls.cert = value;
              break;
            case 'key':
              tls.key = value;
              break;
            case 'min':
              // Another value is an error of the analyzer (smtp-tls-option), which keeps the session from running.
              if (isTlsVersion(value)) tls.minVersion = value;
              break;
            case 'dane': {
              // Another value is an error of the analyzer (smtp-tls-option), as for min=.
              const dane = value.toLowerCase();
              if (dane === 'on' || dane === 'only') tls.dane = dane;
              else if (dane === 'off') delete tls.dane;
              break;
            }
          }
        }
        break;
      default:
        break;
    }
  }

  const steps: PlanStep[] = pairSteps(session).map((step) => buildStep(step, source));
  return {
    file,
    title: session.title,
    ...(name !== undefined ? { name } : {}),
    line: session.line,
    endLine: session.endLine,
    variables,
    ...(connect ? { connect } : {}),
    tls,
    options,
    steps,
  };
}

function expectation(node: ExpectNode | undefined, implicit: ReplyPattern[], line: number): Expectation {
  if (!node) return { line, source: '', codes: implicit, enhanced: [], implicit: true };
  const e: Expectation = {
    line: node.line,
    source: '',
    codes: node.codes.map((c) => (c.kind === 'code' ? { kind: 'code', code: c.code } : c.kind === 'class' ? { kind: 'class', class: c.class } : { kind: 'enhanced', code: c.code })),
    enhanced: node.enhanced.map((c) => ({ kind: 'enhanced', code: c.kind === 'enhanced' ? c.code : '' })),
    implicit: false,
  };
  if (node.text) e.text = node.text.kind === 'substring' ? { kind: 'substring', value: node.text.value } : { kind: 'regex', source: node.text.source, flags: node.text.flags };
  return e;
}

const success: ReplyPattern[] = [{ kind: 'class', class: 2 }];
const intermediate: ReplyPattern[] = [{ kind: 'class', class: 3 }];

function buildStep(step: PairedStep, source: (r: { start: number; end: number }) => string): PlanStep {
  const item = step.item;
  const withSource = (e: Expectation, node: ExpectNode | undefined): Expectation => ({ ...e, source: node ? source(node.range) : '' });
  const first = step.expects[0];
  switch (item.kind) {
    case 'auth': {
      // An unknown mechanism is an error of the analyzer (smtp-auth-mechanism), which keeps the session from running.
      const mechanism = item.mechanism?.text.toUpperCase() ?? '';
      return {
        kind: 'auth',
        line: item.line,
        source: source(item.range),
        mechanism: isEngineAuthMechanism(mechanism) ? mechanism : 'PLAIN',
        user: item.args[0]?.text ?? '',
        secret: item.args[1]?.text ?? '',
        expect: withSource(expectation(first, [{ kind: 'code', code: 235 }], item.line), first),
      };
    }
    case 'raw':
      return {
        kind: 'raw',
        line: item.line,
        source: source(item.range),
        template: item.payload.text,
        expects: step.expects.map((e) => withSource(expectation(e, success, item.line), e)),
      };
    case 'data':
    case 'bdat':
      return messageStep(item, first, source, withSource);
    case 'command': {
      const template = source({ start: item.verbToken.range.start, end: item.range.end });
      if (item.name === 'STARTTLS') {
        return { kind: 'starttls', line: item.line, source: template, expect: withSource(expectation(first, success, item.line), first) };
      }
      return { kind: 'command', line: item.line, source: template, verb: item.name, template, expect: withSource(expectation(first, success, item.line), first) };
    }
  }
}

function messageStep(
  item: MessageNode,
  first: ExpectNode | undefined,
  source: (r: { start: number; end: number }) => string,
  withSource: (e: Expectation, node: ExpectNode | undefined) => Expectation,
): PlanStep {
  const body = item.file
    ? { kind: 'file' as const, path: item.file.text }
    : { kind: 'inline' as const, lines: item.body?.lines.map((l) => l.text) ?? [], firstLine: item.body?.firstLine ?? item.line + 1 };
  const header = source({ start: item.verbToken.range.start, end: item.terminator ? item.verbToken.range.end : item.range.end }).split(/\r?\n/)[0];
  const final = withSource(expectation(first, success, item.line), first);
  if (item.rawFollows) {
    // DATA written before RAW lines is sent as a plain command expecting 354; RAW sends the message.
    const template = source({ start: item.verbToken.range.start, end: item.range.end });
    return { kind: 'command', line: item.line, source: template, verb: 'DATA', template, expect: withSource(expectation(first, intermediate, item.line), first) };
  }
  if (item.kind === 'data') {
    return { kind: 'data', line: item.line, source: header, body, intermediate: expectation(undefined, intermediate, item.line), expect: final };
  }
  return { kind: 'bdat', line: item.line, source: header, body, ...(item.chunkOption?.size ? { chunkSize: item.chunkOption.size } : {}), expect: final };
}
