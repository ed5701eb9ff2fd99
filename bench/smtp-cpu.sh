#!/usr/bin/env bash
# CPU time per message of end-to-end SMTP delivery (smtpd -> queue -> qmgr -> local -> Maildir), for one or
# more published Posthorn builds, measured alike. Run as root, loopback only.
#
#   bench/smtp-cpu.sh [--sessions "10 50"] [--count N] [--repeat R] [--strace|--perf] NAME=path/to/posthorn ...
#
# Each build in turn (R turns, builds alternating) gets a fresh daemon (127.0.0.1:2525, home_mailbox =
# Maildir/ of the system user phbench), an untimed warm-up (WARMUP messages, default 5000, 10 sessions),
# then COUNT (default 2000) 4 KiB messages per session count with ../shared/bench/smtp-throughput.sh.
# Per load it prints the daemon's CPU time (utime + stime of the daemon and its children from
# /proc/PID/stat, sampled before the load and after the last message is in the Maildir) divided by the
# messages: a figure that a busy machine disturbs far less than a wall-clock rate. With --strace the
# last load of each build runs under `strace -f -c` and the per-message syscall counts are printed.
# With --perf it runs under `perf record -g` instead (set DOTNET_PerfMapEnabled=1 for managed names).
# Lines: "cpu NAME SESSIONS ms_per_msg=… e2e_msgs_per_s=… user_ms=… sys_ms=…". KEEP=1 keeps the temp dir.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
here="$repo/bench"
. "$here/lib.sh"
thr=$(shared_script "$repo" smtp-throughput.sh "${SMTP_THROUGHPUT:-}")

sessions_list="10 50" count=${COUNT:-2000} repeat=1 do_strace= do_perf= builds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sessions) sessions_list=$2; shift ;;
    --count) count=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --strace) do_strace=1 ;;
    --perf) do_perf=1 ;;
    *=*) builds+=("$1") ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
  esac
  shift
done
[ ${#builds[@]} -gt 0 ] || { echo "name at least one build: NAME=path/to/posthorn" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root (delivery as phbench)" >&2; exit 2; }
warmup=${WARMUP:-5000}
ulimit -n "$(ulimit -Hn)"
ensure_postfix
work=$(mktemp -d /tmp/phcpu.XXXXXX); chmod 755 "$work"
user=phbench home="$work/home" maildir="$work/home/Maildir" phconf="$work/posthorn"
ensure_user "$user" "$home"
PH=
cleanup() {
  [ -n "$PH" ] && posthorn_stop "$phconf"
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else set_aside "$work"; fi
}
trap cleanup EXIT
PH=${builds[0]#*=}
posthorn_config "$phconf" 2525 postfix "home_mailbox = Maildir/"

# cpu_ticks PID: utime + stime (clock ticks) of PID and every process below it.
cpu_ticks() {
  local total=0 p t
  for p in $1 $(pgrep -P "$1" || true); do
    t=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$(( total + t ))
  done
  echo "$total"
}
split_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
# switches PID: context switches of all the daemon's threads so far (voluntary + involuntary). Threads that ended
# during the load are not counted; the daemon's threads live as long as it does.
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'; }
hz=$(getconf CLK_TCK)
# clear_maildir: moves the Maildir aside (removed at exit) instead of deleting it. On ext4 a file creation skips
# every inode freed in the last 30 s (5 min while its inode table block is dirty: find_inode_bit/recently_deleted
# in ialloc.c); thousands of files deleted between loads made the next load's creations cost several times more
# kernel CPU, so whichever build ran after a deletion looked slower.
n_old=0
clear_maildir() { [ -d "$maildir" ] && mv "$maildir" "$work/old-maildir.$(( n_old += 1 ))"; return 0; }

for turn in $(seq 1 "$repeat"); do
  for b in "${builds[@]}"; do
    name=${b%%=*} PH=${b#*=}
    "$PH" postfix -c "$phconf" start
    wait_port 127.0.0.1 2525 30 || { echo "$name did not listen on 2525" >&2; exit 1; }
    pid=$(posthorn_pid "$phconf")
    clear_maildir
    [ "$warmup" -gt 0 ] && timeout 600 "$thr" 127.0.0.1:2525 "$warmup" 10 4096 "$user@localhost" "$maildir" >/dev/null 2>&1
    last=${sessions_list##* }
    for s in $sessions_list; do
      clear_maildir
      tracer=
      if [ -n "$do_strace" ] && [ "$s" = "$last" ] && [ "$turn" = "$repeat" ]; then
        strace -f -c -o "$work/strace-$name.txt" -p "$pid" 2>/dev/null & tracer=$!
        # all threads attached (strace -f -p follows the existing ones)
        sleep 1
      elif [ -n "$do_perf" ] && [ "$s" = "$last" ] && [ "$turn" = "$repeat" ]; then
        perf record -q -F 499 -g -p "$pid" -o "$work/perf-$name.data" >/dev/null 2>&1 & tracer=$!
        sleep 1
      fi
      read -r u0 s0 < <(split_ticks "$pid"); cs0=$(switches "$pid")
      out=$(timeout 900 "$thr" 127.0.0.1:2525 "$count" "$s" 4096 "$user@localhost" "$maildir" 2>&1 | tail -1)
      read -r u1 s1 < <(split_ticks "$pid"); cs1=$(switches "$pid")
      if [ -n "$tracer" ]; then
        kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true
      fi
      rate=$(sed -n 's/.*e2e_msgs_per_s=\([0-9.]*\).*/\1/p' <<< "$out")
      python3 - "$name" "$s" "$count" "$hz" "$u0" "$s0" "$u1" "$s1" "${rate:-failed}" "$cs0" "$cs1" <<'PY'
import sys
name, s, n, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
u0, s0, u1, s1 = map(int, sys.argv[5:9])
um, sm = (u1 - u0) * 1000 / hz, (s1 - s0) * 1000 / hz
switches = (int(sys.argv[11]) - int(sys.argv[10])) / n
print(f"cpu {name} {s} ms_per_msg={(um + sm) / n:.2f} e2e_msgs_per_s={sys.argv[9]} user_ms={um:.0f} sys_ms={sm:.0f} switches_per_msg={switches:.1f}")
PY
      if [ -n "$tracer" ] && [ -n "$do_perf" ]; then
        echo "perf, $name, $s sessions: hottest symbols (self)"
        perf report -q -i "$work/perf-$name.data" --no-children -g none --percent-limit 0.7 --sort dso,sym 2>/dev/null | grep -v '^$' | head -${PERF_TOP:-40}
      elif [ -n "$tracer" ]; then
        echo "syscalls per message ($name, $s sessions, under strace):"
        awk -v n="$count" '$1 ~ /^[0-9.]+$/ && NF >= 5 { c = $4; name = $NF; if (c / n >= 0.5) printf "  %-16s %6.1f\n", name, c / n }' \
          "$work/strace-$name.txt" | sort -k2 -rn
      fi
    done
    posthorn_stop "$phconf"
  done
done
