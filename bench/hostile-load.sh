#!/usr/bin/env bash
# Hostile clients side by side: Posthorn against Postfix, each with default limits, loopback only.
#
#   bench/hostile-load.sh [--duration S] [--skip-postfix]
#
# Run as root. For each server (Posthorn: Release publish on 127.0.0.1:2525 with SMTP AUTH from a passwd-file;
# Postfix: a separate instance on 127.0.0.1:2626, no AUTH, so the flood gets 503) it runs bench/hostile-load.py
# twice: "quiet" (only the normal client: the baseline p50/p99 latency) and "hostile" (2000 connections sending
# a byte a second, 500 that never speak, 20 loops of bad AUTH, from 100 loopback addresses outside mynetworks),
# and prints one line per run. Both deliver to ~phbench/Maildir/ with home_mailbox = Maildir/.
# Environment: SLOW, SILENT, AUTH_FLOOD, MESSAGES (defaults 2000, 500, 20, 200), POSTHORN (a published binary),
# KEEP=1 keeps the temp directory.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
here="$repo/bench"
. "$here/lib.sh"
duration=120 skip_postfix=
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift ;;
    --skip-postfix) skip_postfix=1 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "run as root (apt-get, useradd, delivery as phbench)" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)"
ensure_postfix
work=$(mktemp -d /tmp/phhostile.XXXXXX); chmod 755 "$work"
user=phbench home="$work/home" maildir="$work/home/Maildir"
ensure_user "$user" "$home"
pfconf="$work/postfix" phconf="$work/posthorn"
PH=
cleanup() {
  [ -n "$PH" ] && posthorn_stop "$phconf"
  if [ -f "$pfconf/main.cf" ] && [ -f "$work/pfq/pid/master.pid" ]; then
    /usr/sbin/postfix -c "$pfconf" stop >/dev/null 2>&1 || /usr/sbin/postfix -c "$pfconf" abort >/dev/null 2>&1 || true
  fi
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

echo "== publishing Posthorn (Release)" >&2
PH=$(publish_posthorn "$repo" "$work/out")
posthorn_config "$phconf" 2525 postfix "home_mailbox = Maildir/"
printf 'smtpd_sasl_auth_enable = yes\nposthorn_passwd_file = %s/passwd\n' "$phconf" >> "$phconf/main.cf"
printf 'someone:{PLAIN}%s::::::\n' "$(head -c 12 /dev/urandom | base64)" > "$phconf/passwd"
postfix_peer_config "$pfconf" "$work" 2626 "home_mailbox = Maildir/" || exit 1
# As for Posthorn (mynetworks_style = host): the hostile 127.0.1.x/127.0.2.x clients are outside mynetworks.
sed -i 's|^mynetworks = 127.0.0.0/8$|mynetworks = 127.0.0.1/32|' "$pfconf/main.cf"

load() {   # NAME PORT PHASE ARGS...
  local name=$1 port=$2 phase=$3; shift 3
  rm -rf "$maildir"
  echo "== $name, $phase" >&2
  local out
  out=$(timeout $((duration + 120)) python3 "$here/hostile-load.py" 127.0.0.1 "$port" "$user@localhost" "$maildir" \
    --duration "$duration" --messages "${MESSAGES:-200}" "$@") || out="failed"
  printf '%-9s %-8s %s\n' "$name" "$phase" "$out"
}
hostile_args=(--slow "${SLOW:-2000}" --silent "${SILENT:-500}" --auth-flood "${AUTH_FLOOD:-20}")

"$PH" postfix -c "$phconf" start
wait_port 127.0.0.1 2525 30 || { echo "Posthorn did not listen on 2525" >&2; exit 1; }
load posthorn 2525 warmup --slow 0 --silent 0 --auth-flood 0 >/dev/null
load posthorn 2525 quiet --slow 0 --silent 0 --auth-flood 0
load posthorn 2525 hostile "${hostile_args[@]}"
echo "posthorn rss_kb=$(rss_kb "$(posthorn_pid "$phconf")") (after the hostile run)" >&2
posthorn_stop "$phconf"

if [ -z "$skip_postfix" ]; then
  /usr/sbin/postfix -c "$pfconf" start 2>&1 || { echo "postfix -c $pfconf start failed; see $work/pf.log" >&2; exit 1; }
  wait_port 127.0.0.1 2626 30 || { echo "Postfix did not listen on 2626" >&2; exit 1; }
  load postfix 2626 quiet --slow 0 --silent 0 --auth-flood 0
  load postfix 2626 hostile "${hostile_args[@]}"
  /usr/sbin/postfix -c "$pfconf" stop >/dev/null 2>&1 || true
fi
