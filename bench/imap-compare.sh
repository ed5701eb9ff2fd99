#!/usr/bin/env bash
# IMAP side by side: Posthorn's imapd against Dovecot on this machine, in one run, loopback only.
#
#   bench/imap-compare.sh [N ...]          (default: 10000 100000)
#
# Run as root (apt-get, useradd). For each mailbox size N it
#  - writes N messages with ../shared/bench/imap-bench.py fill into one Maildir, then copies it, so that
#    each server reads its own identical copy (neither sees the other's index);
#  - installs the Debian packages dovecot-core and dovecot-imapd when missing (the system instance is
#    never started) and runs Dovecot as a separate instance (own base_dir, passwd-file user,
#    mail_location = maildir:~/Maildir, 127.0.0.1:2144);
#  - runs Posthorn (Release publish) with an imapd row on 127.0.0.1:2143 and the same passwd-file user;
#  - runs `imap-bench.py run` twice against each server: "cold" (first open: both build their index) and
#    "warm" (the index exists), 50 parallel clients;
#  - prints a table (seconds, and Dovecot/Posthorn: above 1 means Posthorn is faster) and writes
#    bench/results/imap-YYYYMMDD-HHMM.csv and a chart of the ratios, .png.
# Environment: POSTHORN (a published posthorn binary: skips the publish), IMAP_BENCH (path of
# imap-bench.py), CLIENTS (default 50), KEEP=1 keeps the temp dir. Every daemon it starts is stopped on exit.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
here="$repo/bench"
. "$here/lib.sh"
ib=$(shared_script "$repo" imap-bench.py "${IMAP_BENCH:-}")
sizes=${*:-"10000 100000"}
clients=${CLIENTS:-50}
[ "$(id -u)" = 0 ] || { echo "run as root (apt-get, useradd)" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)"

if [ ! -x /usr/lib/dovecot/imap ] || [ ! -x /usr/sbin/dovecot ]; then
  policy=/usr/sbin/policy-rc.d made_policy=
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; made_policy=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dovecot-core dovecot-imapd >/tmp/phimap-apt.log 2>&1 \
    || { apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dovecot-core dovecot-imapd >>/tmp/phimap-apt.log 2>&1; } \
    || { [ -n "$made_policy" ] && rm -f "$policy"; echo "apt-get install dovecot-imapd failed (see /tmp/phimap-apt.log)" >&2; exit 1; }
  [ -n "$made_policy" ] && rm -f "$policy"
fi

work=$(mktemp -d /tmp/phimap.XXXXXX); chmod 755 "$work"
# Its own system user (phbench belongs to smtp-compare.sh, which may run at the same time and sets its home).
user=phimap pass=bench-pass
ensure_user "$user" "$work/home"
uid=$(id -u "$user") gid=$(id -g "$user")
phconf="$work/posthorn" dcdir="$work/dovecot" raw="$work/raw.txt"
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

# Posthorn: the smtpd row of the bench config (on 2527: smtp-compare.sh uses 2525) plus imapd on 2143, users from a
# Dovecot-style passwd-file.
posthorn_config "$phconf" 2527 postfix "home_mailbox = Maildir/"
printf 'posthorn_passwd_file = %s/passwd\nimapd_timeout = 30m\n' "$phconf" >> "$phconf/main.cf"
printf '127.0.0.1:2143  inet  n  -  n  -  -  imapd\n' >> "$phconf/master.cf"

# Dovecot: a separate instance, IMAP only, no TLS (loopback is a secured connection for both servers), defaults.
dovecot_imap_config "$dcdir" 2144

printf 'n,phase,server,metric,seconds\n' > "$raw"
for n in $sizes; do
  echo "== $n messages: filling the Maildir" >&2
  for side in ph dc; do rm -rf "$work/home-$side"; done
  python3 "$ib" fill "$work/home-ph/Maildir" "$n"
  cp -a "$work/home-ph" "$work/home-dc"
  chown -R "$user:" "$work/home-ph" "$work/home-dc"
  printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$user" "$pass" "$uid" "$gid" "$work/home-ph" > "$phconf/passwd"
  printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$user" "$pass" "$uid" "$gid" "$work/home-dc" > "$dcdir/users"
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true

  "$PH" postfix -c "$phconf" start
  wait_port 127.0.0.1 2143 30 || { echo "Posthorn did not listen on 2143" >&2; exit 1; }
  /usr/sbin/dovecot -F -c "$dcdir/dovecot.conf" & dc_pid=$!
  wait_port 127.0.0.1 2144 30 || { echo "Dovecot did not listen on 2144 (see $dcdir/dovecot.log)" >&2; exit 1; }

  for phase in cold warm; do
    for side in posthorn:2143 dovecot:2144; do
      name=${side%%:*} port=${side##*:}
      echo "== $n messages, $phase: $name" >&2
      out=$(timeout 1800 python3 "$ib" run 127.0.0.1 "$port" "$user" "$pass" --clients "$clients") || out="failed=1"
      echo "   $out" >&2
      for kv in $out; do printf '%s,%s,%s,%s,%s\n' "$n" "$phase" "$name" "${kv%%=*}" "${kv#*=}" >> "$raw"; done
    done
  done
  posthorn_stop "$phconf"
  kill "$dc_pid" 2>/dev/null; wait "$dc_pid" 2>/dev/null || true; dc_pid=
done

mkdir -p "$here/results"
stamp=$(date +%Y%m%d-%H%M)
cp "$raw" "$here/results/imap-$stamp.csv"
python3 - "$raw" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
t = {}
for r in rows:
    if r["metric"].endswith("_s"):
        t[(r["n"], r["phase"], r["metric"], r["server"])] = float(r["seconds"])
keys = sorted({k[:3] for k in t}, key=lambda k: (int(k[0]), k[1] != "cold", k[2]))
print(f"{'messages':>9} {'phase':5} {'metric':28} {'posthorn s':>11} {'dovecot s':>10} {'dovecot/posthorn':>17}")
for n, phase, metric in keys:
    p, d = t.get((n, phase, metric, "posthorn")), t.get((n, phase, metric, "dovecot"))
    ratio = f"{d / p:.2f}" if p and d else "-"
    print(f"{n:>9} {phase:5} {metric:28} {p if p is not None else '-':>11} {d if d is not None else '-':>10} {ratio:>17}")
PY
chart "$here/imap-chart.py" "$here/results/imap-$stamp.csv" "$here/results/imap-$stamp.png"
echo "csv:   bench/results/imap-$stamp.csv"
