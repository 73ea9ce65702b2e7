#!/usr/bin/env bash
# Installs the real test peers that the tests and benchmarks start on loopback: Exim (MTA), Knot
# (DNS), swaks, openssl, the DKIM cross-check tools, and Postfix's smtp-sink and smtp-source, which
# are unpacked from Postfix's deb into .peers/postfix because Postfix conflicts with Exim as a package.
#
# It is idempotent and returns quickly (about 0.2 s) when everything is already there. As root it
# runs `apt-get update` only when something is missing. As another user with a Debian package
# missing, it prints the exact apt command to run and exits non-zero; unpacking Postfix needs no
# root, so a non-root user gets it done as long as apt's package lists exist.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$PWD

# The single list of Debian packages the peers need. Keep it in sync with test/peers/require.ts,
# which prints the same hint when a binary is missing.
APT_PACKAGES=(chromium python3-spf python3-dnspython exim4-daemon-light swaks openssl knot knot-dnsutils opendkim-tools python3-dkim unbound ldnsutils libnet-ssleay-perl dovecot-imapd libxml2-utils python3-jsonschema iproute2)
POSTFIX_DIR="$ROOT_DIR/.peers/postfix"
SMTP_SINK="$POSTFIX_DIR/usr/sbin/smtp-sink"
SMTP_SOURCE="$POSTFIX_DIR/usr/sbin/smtp-source"

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then missing+=("$pkg"); fi
done
need_postfix=0
if [ ! -x "$SMTP_SINK" ] || [ ! -x "$SMTP_SOURCE" ]; then need_postfix=1; fi

is_root=0
if [ "$(id -u)" = "0" ]; then is_root=1; fi
if [ $is_root = 0 ] && [ ${#missing[@]} -gt 0 ]; then
  echo "install-peers: missing test peers (${missing[*]}) and not root. Run:" >&2
  echo "sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}" >&2
  echo "or run scripts/install-peers.sh as root (sudo bash scripts/install-peers.sh), which also unpacks Postfix's smtp-sink/smtp-source into .peers/postfix." >&2
  exit 1
fi

apt_updated=0
apt_update_once() {
  if [ $is_root = 0 ]; then
    echo "install-peers: apt-get download postfix failed and 'apt-get update' needs root. Run:" >&2
    echo "sudo apt-get update && bash scripts/install-peers.sh   (or sudo bash scripts/install-peers.sh)" >&2
    exit 1
  fi
  if [ $apt_updated = 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
}

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-peers: installing ${missing[*]}"
  apt_update_once
  # policy-rc.d (or the lack of systemd) keeps the services from starting; the tests start their own.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ $need_postfix = 1 ]; then
  echo "install-peers: unpacking postfix into .peers/postfix"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # apt-get download needs a package list; update it only if the first try fails.
  if ! (cd "$tmp" && apt-get download -qq postfix >/dev/null 2>&1); then
    apt_update_once
    (cd "$tmp" && apt-get download -qq postfix >/dev/null)
  fi
  # apt-get download runs as the _apt user where it can; the deb lands in $tmp either way.
  rm -rf "$POSTFIX_DIR"
  mkdir -p "$POSTFIX_DIR"
  dpkg -x "$tmp"/postfix_*.deb "$POSTFIX_DIR"
  dpkg-deb -f "$tmp"/postfix_*.deb Version >"$POSTFIX_DIR/VERSION"
fi

# smtp-sink and smtp-source link against Postfix's private libraries, which must be found at run time.
export LD_LIBRARY_PATH="$POSTFIX_DIR/usr/lib/postfix${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Both tools must find every shared library (Postfix's own ones through LD_LIBRARY_PATH). ldd is
# used because the tools themselves sleep a second before printing their usage.
for tool in "$SMTP_SOURCE" "$SMTP_SINK"; do
  if ldd "$tool" | grep -q 'not found'; then
    echo "install-peers: $tool is missing libraries:" >&2
    ldd "$tool" | grep 'not found' >&2
    exit 1
  fi
done

ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
echo "install-peers: ok: exim4 $(ver exim4-daemon-light), knot $(ver knot), swaks $(ver swaks), openssl $(ver openssl), postfix-tools $(cat "$POSTFIX_DIR/VERSION" 2>/dev/null || echo unpacked), opendkim-tools $(ver opendkim-tools), python3-dkim $(ver python3-dkim)"
