#!/usr/bin/env bash
# Runs a command as on a machine with a closed network, the same on every machine: in a new network
# namespace that has only loopback, where the system resolver's addresses (from /etc/resolv.conf)
# are held by scripts/refusing-resolver.mjs, which refuses every question at once and notes it.
#
# The tests talk only to the peers the project starts on loopback, and ask DNS questions only of
# the project's own Knot or Unbound. A question that reaches the system resolver is a test (or a
# peer, as Exim's own DKIM check once was) that depends on the machine it runs on: where the
# resolver never answers it waits for timeouts, where it answers it may pass for the wrong reason.
# So when the command ends, every question the system resolver got is listed, and the run fails.
#
# Needs root (unshare --net) and iproute2 (scripts/install-peers.sh installs it).
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
servers=()
while read -r keyword address _; do
  if [ "$keyword" = nameserver ]; then servers+=("${address%%%*}"); fi
done </etc/resolv.conf
# Without a nameserver line the C library asks the local machine (resolv.conf(5)).
if [ ${#servers[@]} -eq 0 ]; then servers=(127.0.0.1); fi
held=()
for server in "${servers[@]}"; do
  case $server in
    127.* | ::1) added=0 ;;
    *:*) added=0; ip -6 addr add "$server/128" dev lo nodad 2>/dev/null || added=$? ;;
    *) added=0; ip addr add "$server/32" dev lo 2>/dev/null || added=$? ;;
  esac
  # An address that cannot be held here (IPv6 switched off, say) has no route in the namespace:
  # a question sent to it fails at once, unnoted.
  if [ "$added" -eq 0 ]; then held+=("$server"); else echo "closed-network: cannot hold the resolver address $server here; questions to it fail at once, unnoted" >&2; fi
done
if [ ${#held[@]} -eq 0 ]; then held=(127.0.0.1); fi

log=$(mktemp "${TMPDIR:-/tmp}/resolver-questions.XXXXXX")
exec 3< <(exec node "$here/refusing-resolver.mjs" "$log" "${held[@]}" </dev/null 2>&1)
resolver=$!
finish() {
  kill "$resolver" 2>/dev/null || true
  wait "$resolver" 2>/dev/null || true
  rm -f "$log"
}
trap finish EXIT
if ! read -r -t 20 line <&3 || [ "$line" != ready ]; then
  echo "closed-network: the refusing resolver did not start: ${line:-nothing printed}" >&2
  exit 1
fi

status=0
"$@" 3<&- || status=$?
if [ -s "$log" ]; then
  echo "closed-network: the system resolver was asked $(wc -l <"$log") question(s); tests must ask only the project's own DNS servers:" >&2
  sort "$log" | uniq -c | sort -rn | head -40 >&2
  if [ "$status" -eq 0 ]; then status=1; fi
fi
exit "$status"
