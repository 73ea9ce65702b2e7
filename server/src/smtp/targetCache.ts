/**
 * Remembered answers of the pure target checks of common/connectTarget.ts. A script's sessions
 * usually connect to the same target and greet with the same name, and an edit to a file variable
 * has every session checked again: the answers for the same text are taken from here. The answers
 * are shared, so callers only read them.
 */
import { checkHostName, parseConnectTarget, type ConnectParseResult } from '../../../common/connectTarget';

/** Enough for the distinct targets and names of any script; the memory is cleared when full. */
const LIMIT = 512;

const targets = new Map<string, ConnectParseResult>();
const hostNames = new Map<string, string | undefined>();

/** parseConnectTarget, remembered. */
export function connectTarget(url: string): ConnectParseResult {
  let parsed = targets.get(url);
  if (parsed === undefined) {
    if (targets.size >= LIMIT) targets.clear();
    parsed = parseConnectTarget(url);
    targets.set(url, parsed);
  }
  return parsed;
}

/** checkHostName, remembered: why a host name is not valid, or undefined when it is. */
export function hostNameProblem(host: string): string | undefined {
  if (hostNames.has(host)) return hostNames.get(host);
  if (hostNames.size >= LIMIT) hostNames.clear();
  const problem = checkHostName(host);
  hostNames.set(host, problem);
  return problem;
}
