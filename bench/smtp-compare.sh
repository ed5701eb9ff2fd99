#!/usr/bin/env bash
# SMTP side by side: Posthorn against Postfix on this machine, in one run, loopback only.
#
#   bench/smtp-compare.sh [--with-200] [--idle N] [--skip-postfix] [--sessions "10 50"] [--sizes "4096"]
#                         [--repeat R] [--no-idle] [--no-cli] [--no-latency]
#
# Run as root (apt-get, useradd, Postfix's local(8) as the recipient). It
#  - installs the Debian package postfix when missing (debconf "No configuration"; the system
#    instance is never started), and creates the system user phbench (home in a temp directory);
#  - runs Postfix as a separate instance (own config_directory and queue_directory, 127.0.0.1:2626,
#    chroot off, default fsync behaviour) and Posthorn (Release publish, 127.0.0.1:2525), one at a
#    time, both delivering to ~phbench/Maildir/ (home_mailbox = Maildir/);
#  - drives each with ../shared/bench/smtp-throughput.sh (smtp-source) at 1, 10, 50 (and 200 with
#    --with-200) sessions x 4096 and 102400 bytes;
#  - measures the latency from each 250 to the file in Maildir/new (p50, p99) with smtp-latency.py at
#    10 and 50 sessions x 4 KiB (LAT_COUNT messages, default 1000; --no-latency skips it);
#  - with --repeat R runs the loads R times, Posthorn and Postfix taking turns (each turn a fresh
#    daemon and its warm-up), and reports the median with the min-max spread;
#  - measures RSS (and PSS) right after start and with N idle SMTP connections (default 2000;
#    --idle 10000; Postfix: master plus all its children, summed), the start-up (wall time from
#    `postfix start` to the first 220 banner on its port) and the wall time of `postconf -n` and `mailq`
#    (hyperfine when installed, else 20 timed runs);
#  - prints a table and writes bench/results/smtp-YYYYMMDD-HHMM.csv and .png.
# --sessions and --sizes replace the loads' session counts and message sizes; --no-idle and --no-cli
# skip the memory and one-shot measurements (a quick throughput/latency comparison).
# BASELINE=path/to/another/posthorn adds a third server to every turn (same configuration, after Posthorn):
# a before/after comparison of two builds measured under the same load; reported as "baseline".
# Each server's turn begins with SETTLE seconds (default 35) of quiet after a sync: see settle_fs in lib.sh.
# Environment: COUNT_4K (default 2000), COUNT_100K (default 500), WARMUP (untimed messages sent to
# each server before its measured loads, default 5000: the steady state of a daemon that has run a while),
# POSTHORN (a published posthorn binary: skips the publish), SMTP_THROUGHPUT (path of smtp-throughput.sh),
# KEEP=1 keeps the temp dir (otherwise it is set aside, not deleted: see set_aside in lib.sh).
# Every daemon it starts is stopped on exit.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
here="$repo/bench"
. "$here/lib.sh"
thr=$(shared_script "$repo" smtp-throughput.sh "${SMTP_THROUGHPUT:-}")

sessions_list="1 10 50" sizes="4096 102400" idle=2000 skip_postfix= repeat=1 do_idle=1 do_cli=1 do_latency=1
while [ $# -gt 0 ]; do
  case "$1" in
    --with-200) sessions_list="1 10 50 200" ;;
    --idle) idle=$2; shift ;;
    --skip-postfix) skip_postfix=1 ;;
    --sessions) sessions_list=$2; shift ;;
    --sizes) sizes=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --no-idle) do_idle= ;;
    --no-cli) do_cli= ;;
    --no-latency) do_latency= ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
  esac
  shift
done
count_4k=${COUNT_4K:-2000} count_100k=${COUNT_100K:-500} warmup=${WARMUP:-5000} lat_count=${LAT_COUNT:-1000}
[ "$(id -u)" = 0 ] || { echo "run as root (apt-get, useradd, delivery as phbench)" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)"

ensure_postfix
work=$(mktemp -d /tmp/phbench.XXXXXX); chmod 755 "$work"
user=phbench home="$work/home" maildir="$work/home/Maildir"
ensure_user "$user" "$home"
pfconf="$work/postfix" phconf="$work/posthorn" raw="$work/raw.txt"
PH=
cleanup() {
  [ -n "$PH" ] && posthorn_stop "$phconf"
  if [ -f "$pfconf/main.cf" ] && [ -f "$work/pfq/pid/master.pid" ]; then
    /usr/sbin/postfix -c "$pfconf" stop >/dev/null 2>&1 || /usr/sbin/postfix -c "$pfconf" abort >/dev/null 2>&1 || true
  fi
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else set_aside "$work"; fi
}
trap cleanup EXIT

echo "== publishing Posthorn (Release)" >&2
PH=$(publish_posthorn "$repo" "$work/out")
posthorn_config "$phconf" 2525 postfix "home_mailbox = Maildir/"

# The Postfix peer: the stock master.cf with smtp on 127.0.0.1:2626 and chroot off everywhere.
postfix_peer_config "$pfconf" "$work" 2626 "home_mailbox = Maildir/" || exit 1

# The Maildir is moved aside (removed with $work at exit), not deleted: ext4 skips every inode freed in the last
# 30 s (5 min while its inode table block is dirty) when it creates a file, so thousands of deletions between
# loads made the next load's file creations, whoever's they were, cost several times the kernel CPU.
n_old=0
clear_maildir() { [ -d "$maildir" ] && mv "$maildir" "$work/old-maildir.$(( n_old += 1 ))"; return 0; }

# run_loads NAME PORT: every load against one server; lines "NAME SESSIONS SIZE COUNT <throughput output>".
# An untimed warm-up load comes first (WARMUP messages, 10 sessions, 4 KiB; WARMUP=0 skips it), for
# both servers alike: without it the measured loads pay Posthorn's JIT and tiered compilation, which runs
# for the first few thousand messages (perf: a third of the CPU still in the JIT after 1,000 messages, none
# after 10,000). WARMUP=300 shows a freshly started daemon instead.
run_loads() {
  local name=$1 port=$2 s size count out
  settle_fs
  if [ "$warmup" -gt 0 ]; then
    clear_maildir
    echo "== $name: warm-up, 10 sessions x 4096 bytes x $warmup (not measured)" >&2
    timeout 900 "$thr" "127.0.0.1:$port" "$warmup" 10 4096 "$user@localhost" "$maildir" >/dev/null 2>&1 \
      || echo "   warm-up failed" >&2
  fi
  for size in $sizes; do
    count=$([ "$size" = 4096 ] && echo "$count_4k" || echo "$count_100k")
    for s in $sessions_list; do
      clear_maildir
      echo "== $name: $s sessions x $size bytes x $count" >&2
      out=$(timeout 900 "$thr" "127.0.0.1:$port" "$count" "$s" "$size" "$user@localhost" "$maildir" 2>&2 | tail -1) || out="failed"
      echo "   $out" >&2
      echo "$name $s $size $count $out" >> "$raw"
    done
  done
  [ -n "$do_latency" ] || return 0
  for s in 10 50; do
    # The Maildir exists beforehand (smtp-latency.py watches new/), owned by the recipient as a delivery would make it.
    clear_maildir; mkdir -p "$maildir/tmp" "$maildir/new" "$maildir/cur"; chown -R "$user:" "$maildir"; chmod -R 700 "$maildir"
    echo "== $name: latency 250 -> Maildir/new, $s sessions x 4096 bytes x $lat_count" >&2
    out=$(timeout 900 python3 "$here/smtp-latency.py" 127.0.0.1 "$port" "$lat_count" "$s" 4096 "$user@localhost" "$maildir" 2>&2 | tail -1) || out="failed"
    echo "   $out" >&2
    echo "$name latency_$s 4096 $lat_count $out" >> "$raw"
  done
}

# cli_ms CMD...: mean wall time in ms of a one-shot command (hyperfine when present).
cli_ms() {
  if command -v hyperfine >/dev/null; then
    hyperfine -N -w 2 -r 20 --export-json "$work/hf.json" "$*" >/dev/null 2>&1 \
      && python3 -c "import json; print(round(json.load(open('$work/hf.json'))['results'][0]['mean']*1000, 1))" && return
  fi
  python3 - "$@" <<'PY'
import subprocess, sys, time
runs = []
for _ in range(20):
    t = time.monotonic(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); runs.append(time.monotonic() - t)
print(round(sum(runs) / len(runs) * 1000, 1))
PY
}

# start_ready NAME PORT CMD...: starts a server with CMD and waits for PORT to greet with 220; on the first turn (with
# the one-shot timings) records the wall milliseconds from the command's start to that banner.
start_ready() {
  local name=$1 port=$2; shift 2
  local ms
  ms=$(python3 - "$port" "$@" <<'PY'
import socket, subprocess, sys, time
port, cmd = int(sys.argv[1]), sys.argv[2:]
t0 = time.monotonic()
start = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while time.monotonic() < t0 + 30:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.settimeout(5)
            if s.recv(512).startswith(b"220"):
                print(round((time.monotonic() - t0) * 1000, 1))
                break
    except OSError:
        time.sleep(0.002)
else:
    print("failed")
start.wait(30)
PY
) || ms=failed
  [ "$ms" != failed ] || { echo "$name did not greet on $port" >&2; exit 1; }
  [ -n "$do_cli" ] && [ "$turn" = 1 ] && echo "$name startup - - ms=$ms" >> "$raw"
  return 0
}

# posthorn_turn / postfix_turn: one server started, measured and stopped (idle RSS and one-shot
# timings only on the first turn).
posthorn_turn() {
  start_ready posthorn 2525 "$PH" postfix -c "$phconf" start
  if [ -n "$do_idle" ] && [ "$1" = 1 ]; then
    echo "== posthorn: RSS at rest, then with $idle idle connections" >&2
    echo "posthorn idle - - $(python3 "$here/idle-hold.py" 127.0.0.1 2525 "$idle" 10 "$(posthorn_pid "$phconf")")" | tee -a "$raw" >&2
  fi
  run_loads posthorn 2525
  if [ -n "$do_cli" ] && [ "$1" = 1 ]; then
    echo "posthorn cli_postconf - - ms=$(cli_ms "$PH" postconf -c "$phconf" -n)" >> "$raw"
    echo "posthorn cli_mailq - - ms=$(MAIL_CONFIG=$phconf cli_ms "$PH" mailq)" >> "$raw"
  fi
  posthorn_stop "$phconf"
}

postfix_turn() {
  start_ready postfix 2626 /usr/sbin/postfix -c "$pfconf" start
  if [ -n "$do_idle" ] && [ "$1" = 1 ]; then
    echo "== postfix: RSS at rest, then with $idle idle connections (master and all its children)" >&2
    echo "postfix idle - - $(python3 "$here/idle-hold.py" 127.0.0.1 2626 "$idle" 10 "$(head -1 "$work/pfq/pid/master.pid" | tr -d ' ')")" | tee -a "$raw" >&2
  fi
  run_loads postfix 2626
  if [ -n "$do_cli" ] && [ "$1" = 1 ]; then
    echo "postfix cli_postconf - - ms=$(cli_ms /usr/sbin/postconf -c "$pfconf" -n)" >> "$raw"
    echo "postfix cli_mailq - - ms=$(MAIL_CONFIG=$pfconf cli_ms "$(command -v mailq || echo /usr/bin/mailq)")" >> "$raw"
  fi
  local master; master=$(head -1 "$work/pfq/pid/master.pid" 2>/dev/null | tr -d ' ')
  /usr/sbin/postfix -c "$pfconf" stop >/dev/null 2>&1 || true
  # The next turn starts a fresh master: wait until this one is gone.
  for _ in $(seq 1 100); do [ -n "$master" ] && kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
}

baseline_turn() {
  local current=$PH
  PH=$BASELINE
  "$PH" postfix -c "$phconf" start
  wait_port 127.0.0.1 2525 30 || { echo "the baseline Posthorn did not listen on 2525" >&2; exit 1; }
  run_loads baseline 2525
  posthorn_stop "$phconf"
  PH=$current
}

for turn in $(seq 1 "$repeat"); do
  [ "$repeat" -gt 1 ] && echo "== turn $turn of $repeat" >&2
  posthorn_turn "$turn"
  [ -n "${BASELINE:-}" ] && baseline_turn
  [ -z "$skip_postfix" ] && postfix_turn "$turn"
done

mkdir -p "$here/results"
stamp=$(date +%Y%m%d-%H%M)
python3 "$here/smtp-report.py" "$raw" "$here/results/smtp-$stamp.csv"
chart "$here/smtp-chart.py" "$here/results/smtp-$stamp.csv" "$here/results/smtp-$stamp.png"
echo "csv:   bench/results/smtp-$stamp.csv"
