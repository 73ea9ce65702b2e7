#!/usr/bin/env bash
# Runs a command as on a machine with a closed network: in a new network namespace that has only
# loopback, where the system resolver's addresses (from /etc/resolv.conf) are held by
# scripts/refusing-resolver.mjs, which refuses every question at once and notes it.
#
# The tests talk only to the peers the project starts on loopback, and ask DNS questions only of
# the project's own Knot or Unbound. A question that reaches the system resolver is a test (or a
# peer, as Exim's own DKIM check once was) that depends on the machine it runs on: where the
# resolver never answers it waits for timeouts, where it answers it may pass for the wrong reason.
# So when the command ends, every question the system resolver got is listed, and the run fails.
#
# Not covered: a C library that resolves through a local daemon's socket (nscd, or systemd-resolved
# through nss-resolve in nsswitch.conf) reaches it outside the namespace; Debian's default, as on
# the project's machines, is `hosts: files dns`, which asks the addresses held here.
#
# Needs root (unshare --net) and iproute2 (scripts/install-peers.sh installs it). Standard input
# and the command's exit status pass through; TERM, INT and HUP are passed on to the command.
# Usage: scripts/closed-network.sh COMMAND [ARG...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ "${SMTPWB_CLOSED_NETWORK_INSIDE:-}" != 1 ]; then
  for tool in unshare ip; do
    if ! command -v "$tool" >/dev/null; then
      echo "closed-network: $tool is missing (apt-get install -y util-linux iproute2; scripts/install-peers.sh does it as root)" >&2
      exit 1
    fi
  done
  if ! unshare --net true 2>/dev/null; then
    echo "closed-network: cannot make a network namespace (unshare --net needs root): the tests run as root, see the README" >&2
    exit 1
  fi
  SMTPWB_CLOSED_NETWORK_INSIDE=1 exec unshare --net -- bash "$0" "$@"
fi
unset SMTPWB_CLOSED_NETWORK_INSIDE

ip link set lo up

# The nameserver lines of resolv.conf(5), each address once; a last line without a newline counts.
declare -A seen=()
servers=()
if [ -r /etc/resolv.conf ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    read -r keyword address _ <<<"${line%$'\r'}" || true
    if [ "${keyword:-}" = nameserver ] && [ -n "${address:-}" ] && [ -z "${seen[$address]:-}" ]; then
      seen[$address]=1
      servers+=("$address")
    fi
  done </etc/resolv.conf
fi
# Without a nameserver line the C library asks the local machine (resolv.conf(5)).
if [ ${#servers[@]} -eq 0 ]; then servers=(127.0.0.1); fi

held=()
for server in "${servers[@]}"; do
  added=0
  case $server in
    127.* | ::1) ;;
    # A scoped address names an interface this namespace does not have: a question to it fails at once.
    *%*) added=1 ;;
    *:*) ip -6 addr add "$server/128" dev lo nodad 2>/dev/null || added=$? ;;
    *) ip addr add "$server/32" dev lo 2>/dev/null || added=$? ;;
  esac
  if [ "$added" -eq 0 ]; then
    held+=("$server")
  else
    # An address that cannot be held here (IPv6 switched off, say) has no route in the namespace.
    echo "closed-network: cannot hold the resolver address $server here; questions to it fail at once, unnoted" >&2
  fi
done
if [ ${#held[@]} -eq 0 ]; then held=(127.0.0.1); fi

log=$(mktemp "${TMPDIR:-/tmp}/resolver-questions.XXXXXX")
exec 3< <(exec node "$here/refusing-resolver.mjs" "$log" "${held[@]}" </dev/null 2>&1)
resolver=$!
child=
finish() {
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; fi
  kill "$resolver" 2>/dev/null || true
  wait "$resolver" 2>/dev/null || true
  rm -f "$log"
}
trap finish EXIT
if ! read -r -t 20 line <&3 || [ "$line" != ready ]; then
  echo "closed-network: the refusing resolver did not start:" >&2
  { printf '%s\n' "${line:-}"; timeout 2 cat <&3 || true; } >&2
  exit 1
fi

# The command runs in the background (with this script's standard input), so that a signal to this
# script reaches it; `wait` returns early when a trapped signal arrives, hence the loop.
exec 4<&0
"$@" <&4 3<&- 4<&- &
child=$!
exec 4<&-
trap 'kill -TERM "$child" 2>/dev/null || true' TERM INT HUP
status=0
wait "$child" || status=$?
while kill -0 "$child" 2>/dev/null; do
  status=0
  wait "$child" || status=$?
done
child=

if ! kill -0 "$resolver" 2>/dev/null; then
  echo "closed-network: the refusing resolver stopped during the run, so later questions were not noted:" >&2
  timeout 2 cat <&3 >&2 || true
  if [ "$status" -eq 0 ]; then status=1; fi
fi
if [ -s "$log" ]; then
  echo "closed-network: the system resolver was asked $(wc -l <"$log") question(s); tests must ask only the project's own DNS servers:" >&2
  { sort "$log" | uniq -c | sort -rn | head -40 >&2; } || true
  if [ "$status" -eq 0 ]; then status=1; fi
fi
exit "$status"
