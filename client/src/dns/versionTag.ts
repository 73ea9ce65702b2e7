/**
 * Records that were meant to start with a version tag but do not. MTA-STS (RFC 8461 §3.1) and
 * TLS-RPT (RFC 8460 §3) discard every TXT record that does not begin with exactly "v=STSv1;" or
 * "v=TLSRPTv1;", so a record written " v=STSv1; id=1", "v=stsv1; id=1" or "rua=…; v=TLSRPTv1" is
 * treated as absent. The checks use this to tell the owner why, instead of reporting "none" silently.
 */

/** Whether a TXT record begins with the version tag as the check reads it: "v=<version>" then ";" or the end. */
export function startsWithVersion(text: string, version: string): boolean {
  return new RegExp(`^v=${version}\\s*(;|$)`).test(text);
}

/**
 * Why a TXT record that contains "v=<version>" (in any case, with any white space around "=") does
 * not begin with the version tag, or undefined when it does or does not mention the version at all.
 * Never throws.
 */
export function intendedRecordProblem(text: string, version: string): string | undefined {
  if (startsWithVersion(text, version)) return undefined;
  const found = new RegExp(`v[ \\t]*=[ \\t]*${version}`, 'i').exec(text);
  if (!found) return undefined;
  const reasons: string[] = [];
  if (/^\s/.test(text)) reasons.push('it starts with white space');
  else if (text.slice(0, found.index).trim() !== '') reasons.push(`"${found[0]}" is not its first field`);
  const value = found[0].slice(found[0].length - version.length);
  if (value !== version) reasons.push(`the version value is "${value}", but it must be exactly "${version}"`);
  if (/\s/.test(found[0])) reasons.push(`"${found[0]}" has white space around "="`);
  const after = text.slice(found.index + found[0].length);
  if (!/^\s*(;|$)/.test(after)) reasons.push(`"${found[0]}" is followed by "${after.split(';')[0].trim()}" with no ";" between them`);
  return `records that do not begin with "v=${version};" are discarded, and ${reasons.length > 0 ? reasons.join(', and ') : 'this one does not'}`;
}
