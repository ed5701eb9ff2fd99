#!/usr/bin/env bash
# Memory with many idle IMAP connections: Posthorn's imapd against Dovecot on this machine, loopback only.
#
#   bench/imap-idle.sh [N ...]          (default: 2000 10000)
#
# Run as root (apt-get, ulimit). For each connection count N, one server at a time:
#  - posthorn: the Release publish with an imapd row on 127.0.0.1:2143;
#  - dovecot: a separate Dovecot instance (as bench/imap-compare.sh sets it up: own base_dir, IMAP only, no TLS)
#    on 127.0.0.1:2144 with Dovecot's default login service (high-security mode: one imap-login process per
#    connection, process_limit = default_process_limit = 100);
#  - dovecot-tuned: the same with Dovecot's documented high-performance login mode, so that it can hold N:
#    service imap-login { service_count = 0; process_min_avail = 2; client_limit = N/2 + 100; vsz_limit = 1G }
#    and default_client_limit = N + 1000;
# bench/idle-hold.py measures the server's RSS and PSS (all its processes) at rest, opens N connections, reads each
# greeting ("* OK"), holds them HOLD seconds (default 10) and reports the largest sample. The connections stay
# unauthenticated (the state every IMAP connection starts in). Prints a table and writes
# bench/results/imap-idle-YYYYMMDD-HHMM.csv.
# Environment: POSTHORN (a published posthorn binary: skips the publish), HOLD, KEEP=1 keeps the temp dir.
# Every daemon it starts is stopped on exit.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
here="$repo/bench"
. "$here/lib.sh"
counts=${*:-"2000 10000"}
hold=${HOLD:-10}
[ "$(id -u)" = 0 ] || { echo "run as root (apt-get, ulimit)" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)"

if [ ! -x /usr/lib/dovecot/imap-login ] || [ ! -x /usr/sbin/dovecot ]; then
  policy=/usr/sbin/policy-rc.d made_policy=
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; made_policy=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dovecot-core dovecot-imapd >/tmp/phbench-apt.log 2>&1 \
    || { apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dovecot-core dovecot-imapd >>/tmp/phbench-apt.log 2>&1; } \
    || { [ -n "$made_policy" ] && rm -f "$policy"; echo "apt-get install dovecot-imapd failed (see /tmp/phbench-apt.log)" >&2; exit 1; }
  [ -n "$made_policy" ] && rm -f "$policy"
fi

work=$(mktemp -d /tmp/phidle.XXXXXX); chmod 755 "$work"
phconf="$work/posthorn" dcdir="$work/dovecot" raw="$work/raw.txt"
owner=postfix; id "$owner" >/dev/null 2>&1 || owner=nobody
PH=
dc_pid=
cleanup() {
  [ -n "$PH" ] && posthorn_stop "$phconf"
  [ -n "$dc_pid" ] && { kill "$dc_pid" 2>/dev/null; wait "$dc_pid" 2>/dev/null || true; }
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

echo "== publishing Posthorn (Release)" >&2
PH=$(publish_posthorn "$repo" "$work/out")
posthorn_config "$phconf" 2525 "$owner" "home_mailbox = Maildir/"
printf 'imapd_timeout = 30m\n' >> "$phconf/main.cf"
printf '127.0.0.1:2143  inet  n  -  n  -  -  imapd\n' >> "$phconf/master.cf"

# dovecot_config TUNED N: a fresh $dcdir/dovecot.conf (lib.sh dovecot_imap_config; TUNED=1: sized for N connections).
dovecot_config() {
  rm -rf "$dcdir"; mkdir -p "$dcdir"; : > "$dcdir/users"
  dovecot_imap_config "$dcdir" 2144 "$([ "$1" = 1 ] && echo "$2" || echo 0)"
}

printf 'server,connections,rss_rest_kb,rss_idle_kb,pss_rest_kb,pss_idle_kb,opened,greetings,procs\n' > "$raw"
record() {  # record SERVER N "idle-hold output"
  local server=$1 n=$2 out=$3 kv line="$1,$2"
  for kv in $out; do line="$line,${kv#*=}"; done
  echo "$line" >> "$raw"
}

for n in $counts; do
  echo "== $n idle connections: posthorn" >&2
  "$PH" postfix -c "$phconf" start
  wait_port 127.0.0.1 2143 30 || { echo "Posthorn did not listen on 2143" >&2; exit 1; }
  sleep 2
  out=$(python3 "$here/idle-hold.py" 127.0.0.1 2143 "$n" "$hold" "$(posthorn_pid "$phconf")" "* OK")
  echo "   $out" >&2; record posthorn "$n" "$out"
  posthorn_stop "$phconf"

  for tuned in 0 1; do
    name=dovecot; [ "$tuned" = 1 ] && name=dovecot-tuned
    echo "== $n idle connections: $name" >&2
    dovecot_config "$tuned" "$n"
    /usr/sbin/dovecot -F -c "$dcdir/dovecot.conf" & dc_pid=$!
    wait_port 127.0.0.1 2144 30 || { echo "Dovecot did not listen on 2144 (see $dcdir/dovecot.log)" >&2; exit 1; }
    sleep 2
    out=$(python3 "$here/idle-hold.py" 127.0.0.1 2144 "$n" "$hold" "$dc_pid" "* OK")
    echo "   $out" >&2; record "$name" "$n" "$out"
    grep -h -i -E 'limit|warning|fatal' "$dcdir/dovecot.log" 2>/dev/null | cut -d' ' -f4- | sort | uniq -c | head -5 \
      | sed 's/^/   dovecot.log: /' >&2 || true
    kill "$dc_pid" 2>/dev/null; wait "$dc_pid" 2>/dev/null || true; dc_pid=
  done
done

mkdir -p "$here/results"
stamp=$(date +%Y%m%d-%H%M)
cp "$raw" "$here/results/imap-idle-$stamp.csv"
python3 - "$raw" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
# KiB/conn: growth of PSS (shared pages divided among processes) per greeted connection.
print(f"{'server':14} {'conns':>6} {'greeted':>8} {'procs':>6} {'RSS rest MiB':>13} {'RSS idle MiB':>13} {'PSS rest MiB':>13} {'PSS idle MiB':>13} {'KiB/conn':>9}")
for r in rows:
    rest, idle, prest, pidle, g = (int(r[k]) for k in ("rss_rest_kb", "rss_idle_kb", "pss_rest_kb", "pss_idle_kb", "greetings"))
    per = f"{(pidle - prest) / g:.1f}" if g else "-"
    print(f"{r['server']:14} {r['connections']:>6} {g:>8} {r['procs']:>6} {rest/1024:>13.1f} {idle/1024:>13.1f} {prest/1024:>13.1f} {pidle/1024:>13.1f} {per:>9}")
PY
echo "csv:   bench/results/imap-idle-$stamp.csv"
