#!/usr/bin/env bash
# SMTP ingest with and without STARTTLS: Posthorn beside Postfix, configured alike, in one run, loopback only.
#
#   bench/smtp-tls.sh [--sessions "1 10 50"] [--count N] [--size BYTES] [--skip-postfix]
#
# Run as root. Both servers get the same self-signed certificate (made by `posthorn tls new-server-cert`),
# smtpd_tls_security_level = may, and deliver to ~phbench/Maildir/. bench/tls-load.py sends COUNT messages
# (default 1000, 4096 bytes) over each session count, once in plaintext and once after STARTTLS, and the
# table shows messages accepted per second (ingest: the 250 after DATA, which both servers give only once
# the queue file is on disk) and the TLS/plain and Posthorn/Postfix ratios.
# Environment: POSTHORN (a published posthorn binary: skips the publish), KEEP=1 keeps the temp dir.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
here="$repo/bench"
. "$here/lib.sh"
sessions_list="1 10 50" count=1000 size=4096 skip_postfix=
while [ $# -gt 0 ]; do
  case "$1" in
    --sessions) sessions_list=$2; shift ;;
    --count) count=$2; shift ;;
    --size) size=$2; shift ;;
    --skip-postfix) skip_postfix=1 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "run as root (apt-get, useradd, delivery as phbench)" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)"
ensure_postfix
work=$(mktemp -d /tmp/phtls.XXXXXX); chmod 755 "$work"
user=phbench home="$work/home"
ensure_user "$user" "$home"
phconf="$work/posthorn" pfconf="$work/postfix" raw="$work/raw.txt"
PH=
cleanup() {
  [ -n "$PH" ] && posthorn_stop "$phconf"
  [ -f "$work/pfq/pid/master.pid" ] && { /usr/sbin/postfix -c "$pfconf" stop >/dev/null 2>&1 || true; }
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

echo "== publishing Posthorn (Release)" >&2
PH=$(publish_posthorn "$repo" "$work/out")
posthorn_config "$phconf" 2525 postfix "home_mailbox = Maildir/"
"$PH" tls new-server-cert -c "$phconf" -n bench.localdomain >/dev/null
cert="$phconf/tls/cert.pem" key="$phconf/tls/key.pem"
cat >> "$phconf/main.cf" <<CF
smtpd_tls_cert_file = $cert
smtpd_tls_key_file = $key
smtpd_tls_security_level = may
CF

postfix_peer_config "$pfconf" "$work" 2626 "home_mailbox = Maildir/
smtpd_tls_cert_file = $cert
smtpd_tls_key_file = $key
smtpd_tls_security_level = may"

run_loads() {
  local name=$1 port=$2 s mode
  python3 "$here/tls-load.py" 127.0.0.1 "$port" 200 10 "$size" "$user@localhost" tls >/dev/null   # warm-up
  for s in $sessions_list; do
    for mode in plain tls; do
      echo "== $name: $mode, $s sessions x $size bytes x $count" >&2
      echo "$name $(python3 "$here/tls-load.py" 127.0.0.1 "$port" "$count" "$s" "$size" "$user@localhost" "$mode")" | tee -a "$raw" >&2
    done
  done
}

"$PH" postfix -c "$phconf" start
wait_port 127.0.0.1 2525 30 || { echo "Posthorn did not listen on 2525" >&2; exit 1; }
run_loads posthorn 2525
posthorn_stop "$phconf"
if [ -z "$skip_postfix" ]; then
  /usr/sbin/postfix -c "$pfconf" start 2>&1 || { echo "postfix start failed; see $work/pf.log" >&2; exit 1; }
  wait_port 127.0.0.1 2626 30 || { echo "Postfix did not listen on 2626" >&2; exit 1; }
  run_loads postfix 2626
  /usr/sbin/postfix -c "$pfconf" stop >/dev/null 2>&1 || true
fi

python3 - "$raw" <<'PY'
import re, sys
rates = {}
for line in open(sys.argv[1]):
    name, rest = line.split(" ", 1)
    kv = dict(re.findall(r"(\w+)=(\S+)", rest))
    rates[(name, int(kv["sessions"]), kv["mode"])] = float(kv["msgs_per_s"])
print(f"{'sessions':>8} {'posthorn plain':>15} {'posthorn tls':>13} {'postfix plain':>14} {'postfix tls':>12} {'ph/pf plain':>12} {'ph/pf tls':>10}")
for s in sorted({k[1] for k in rates}):
    a, b = rates.get(("posthorn", s, "plain")), rates.get(("posthorn", s, "tls"))
    c, d = rates.get(("postfix", s, "plain")), rates.get(("postfix", s, "tls"))
    ratio = lambda x, y: f"{x / y:.2f}" if x and y else "-"
    print(f"{s:>8} {a or '-':>15} {b or '-':>13} {c or '-':>14} {d or '-':>12} {ratio(a, c):>12} {ratio(b, d):>10}")
PY
