#!/usr/bin/env bash
# Durability under SIGKILL: no message that got a 250 is ever lost.
#
#   bench/crash-test.sh [--long]
#
# Starts Posthorn (Release publish, 127.0.0.1:$CRASH_PORT, Maildir delivery to a local user), sends
# a numbered stream of messages (Subject: crash-test N) over several sessions (crash-send.py records
# each N that got a 250), kills the daemon with SIGKILL K times at random moments spread over the
# stream (the i-th kill at a random point of the i-th of K+1 equal stretches of acknowledgements:
# during DATA, right after a 250, during delivery, during a queue move, as it falls), restarts it each time with `posthorn postfix -c DIR start`, waits for `posthorn mailq`
# to say the queue is empty, and then proves with crash-verify.py: every acknowledged N is in the
# Maildir (zero lost), no file in new/ or cur/ is partial, and counts duplicates and tmp/ leftovers.
# Short form (default): 600 messages, 3 kills, 5 sessions, under 2 minutes (300 could end before the third kill).
# Long form (--long):   20,000 messages, 20 kills, 10 sessions.
# As root the recipient is the system user phbench (created if missing, home in a temp directory,
# home_mailbox = Maildir/); otherwise the current user with mail_spool_directory = TMP/spool/.
# Environment: CRASH_COUNT, CRASH_KILLS, CRASH_SESSIONS, CRASH_PORT (default 2727), POSTHORN (a
# published posthorn binary: skips the publish), KEEP=1 keeps the temp directory.
# Exit status: 0 when nothing was lost or corrupt, 1 otherwise, 2 when the run itself failed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
here="$repo/bench"
. "$here/lib.sh"

count=600 kills=3 sessions=5 deadline=100
case "${1:-}" in
  --long) count=20000 kills=20 sessions=10 deadline=3600 ;;
  "") ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
esac
count=${CRASH_COUNT:-$count} kills=${CRASH_KILLS:-$kills} sessions=${CRASH_SESSIONS:-$sessions}
port=${CRASH_PORT:-2727}
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d /tmp/phcrash.XXXXXX); chmod 755 "$work"
conf="$work/posthorn" ack="$work/acked.txt" sender_pid= daemon_pid=
PH=
cleanup() {
  [ -n "$sender_pid" ] && kill "$sender_pid" 2>/dev/null || true
  [ -n "$PH" ] && posthorn_stop "$conf"
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

if [ "$(id -u)" = 0 ]; then
  user=phbench
  ensure_user "$user" "$work/home"
  owner=$(id postfix >/dev/null 2>&1 && echo postfix || echo nobody)
  delivery="home_mailbox = Maildir/" maildir="$work/home/Maildir"
else
  user=$(id -un) owner=$user
  mkdir -p "$work/spool"
  delivery="mail_spool_directory = $work/spool/" maildir="$work/spool/$user"
fi

echo "== publishing Posthorn (Release)" >&2
PH=$(publish_posthorn "$repo" "$work/out")
posthorn_config "$conf" "$port" "$owner" "$delivery"
: > "$ack"

start_daemon() {
  local i
  for i in 1 2 3 4 5; do
    if "$PH" postfix -c "$conf" start 2>/dev/null && wait_port 127.0.0.1 "$port" 20; then
      daemon_pid=$(posthorn_pid "$conf")
      [ -n "$daemon_pid" ] && return 0
    fi
    sleep 1
  done
  echo "crash-test: the daemon did not come back" >&2; exit 2
}

run_start=$(date +%s)
t0=$(date +%s.%N)
start_daemon
python3 "$here/crash-send.py" 127.0.0.1 "$port" "$count" "$sessions" "$user@localhost" "$ack" "$deadline" &
sender_pid=$!

acked() { wc -l < "$ack"; }
done_kills=0
for i in $(seq 1 "$kills"); do
  # A random point in the i-th of kills+1 equal stretches of the stream.
  stretch=$(( count / (kills + 1) ))
  at=$(( i * stretch + RANDOM % (stretch > 0 ? stretch : 1) - stretch / 2 ))
  # The PID is known from the start: asking `postfix status` here would cost a CLI start-up.
  while [ "$(acked)" -lt "$at" ] && kill -0 "$sender_pid" 2>/dev/null; do sleep 0.02; done
  kill -0 "$sender_pid" 2>/dev/null || break
  pid=$daemon_pid
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
  done_kills=$(( done_kills + 1 ))
  echo "kill $done_kills: SIGKILL pid $pid after $(acked) acknowledged" >&2
  sleep "0.$(printf '%03d' $(( RANDOM % 1000 )))"
  start_daemon
done

sender_rc=0
wait "$sender_pid" || sender_rc=$?
sender_pid=
# Drain: the queue is empty once every accepted message was delivered (bounded wait).
drain_end=$(( $(date +%s) + (count / 20 + 60) ))
until MAIL_CONFIG=$conf "$PH" mailq 2>/dev/null | grep -q '^Mail queue is empty'; do
  [ "$(date +%s)" -lt "$drain_end" ] || { echo "crash-test: queue did not drain:" >&2; MAIL_CONFIG=$conf "$PH" mailq | tail -5 >&2; break; }
  sleep 0.5
done
t1=$(date +%s.%N)
posthorn_stop "$conf"
echo "run: messages=$count sessions=$sessions kills=$done_kills seconds=$(python3 -c "print(round($t1-$t0,1))") sender_exit=$sender_rc"
verify_rc=0
python3 "$here/crash-verify.py" "$maildir" "$ack" "$count" "$run_start" || verify_rc=$?
if [ "$verify_rc" != 0 ]; then echo "RESULT: FAIL (loss or corruption)"; exit 1; fi
if [ "$sender_rc" != 0 ] || [ "$done_kills" -lt "$kills" ]; then
  echo "RESULT: INCOMPLETE (no loss, but not every message was acknowledged or not every kill happened)"; exit 2
fi
echo "RESULT: PASS (zero lost)"
