#!/usr/bin/env bash
# IMAP durability under SIGKILL: kills during APPEND/STORE/EXPUNGE never lose a message or corrupt the index.
#
#   bench/imap-crash-test.sh [--long]
#
# Starts Posthorn (Release publish) with an imapd row on 127.0.0.1:$IMAP_CRASH_PORT and a user in a
# Dovecot-style passwd-file (posthorn_passwd_file), INBOX = HOME/Maildir. imap-crash.py then runs
# several python imaplib clients doing a numbered workload (APPEND message N, UID STORE +/-FLAGS
# \Seen or \Flagged, STORE \Deleted + UID EXPUNGE) and records what the server acknowledged, while it
# SIGKILLs the daemon K times at random moments and restarts it with `posthorn postfix -c DIR start`.
# At the end it proves: every acknowledged APPEND not acknowledged-expunged is present exactly once,
# no acknowledged-expunged message is back, every acknowledged flag state holds (over IMAP and in the
# Maildir file name), UIDs are unique, UIDVALIDITY changed only with a rebuilt index, no file in new/
# or cur/ is partial, and deleting the index (while running; after a SIGKILL) rebuilds it with the
# same messages and flags. See the docstring of imap-crash.py for the details.
# Short form (default): 300 operations, 3 kills, 4 clients, under 2 minutes.
# Long form (--long):   20,000 operations, 20 kills, 8 clients.
# As root the mailbox belongs to the system user phicrash (created if missing; the passwd-file names
# its uid/gid; not phbench, whose home the other bench scripts move); otherwise to the current user.
# Environment: IMAP_CRASH_OPS, IMAP_CRASH_KILLS, IMAP_CRASH_CLIENTS, IMAP_CRASH_PORT (default 2743),
# POSTHORN (a published posthorn binary: skips the publish), KEEP=1 keeps the temp directory.
# Exit status: 0 when nothing was lost or corrupt, 1 otherwise, 2 when the run itself failed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
here="$repo/bench"
. "$here/lib.sh"

ops=300 kills=3 clients=4 budget=100
case "${1:-}" in
  --long) ops=20000 kills=20 clients=8 budget=3600 ;;
  "") ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
esac
ops=${IMAP_CRASH_OPS:-$ops} kills=${IMAP_CRASH_KILLS:-$kills} clients=${IMAP_CRASH_CLIENTS:-$clients}
port=${IMAP_CRASH_PORT:-2743} smtp_port=$(( port + 1 ))

work=$(mktemp -d /tmp/phimapcrash.XXXXXX); chmod 755 "$work"
conf="$work/posthorn" pass=crash-pass
PH=
cleanup() {
  [ -n "$PH" ] && posthorn_stop "$conf"
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

if [ "$(id -u)" = 0 ]; then
  user=phicrash
  ensure_user "$user" "$work/home"
  uid=$(id -u "$user") gid=$(id -g "$user")
  owner=$(id postfix >/dev/null 2>&1 && echo postfix || echo nobody)
else
  user=$(id -un) uid= gid= owner=$user
  mkdir -p "$work/home"
fi
maildir="$work/home/Maildir"
mkdir -p "$maildir/tmp" "$maildir/new" "$maildir/cur"
[ "$(id -u)" = 0 ] && chown -R "$user:" "$work/home"

echo "== publishing Posthorn (Release)" >&2
PH=$(publish_posthorn "$repo" "$work/out")
posthorn_config "$conf" "$smtp_port" "$owner" "home_mailbox = Maildir/"
printf 'posthorn_passwd_file = %s/passwd\nimapd_timeout = 30m\n' "$conf" >> "$conf/main.cf"
printf '127.0.0.1:%s  inet  n  -  n  -  -  imapd\n' "$port" >> "$conf/master.cf"
printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$user" "$pass" "$uid" "$gid" "$work/home" > "$conf/passwd"

"$PH" postfix -c "$conf" start
wait_port 127.0.0.1 "$port" 30 || { echo "imap-crash-test: Posthorn did not listen on $port" >&2; exit 2; }
rc=0
python3 "$here/imap-crash.py" "$PH" "$conf" "$port" "$user" "$pass" "$maildir" "$ops" "$clients" "$kills" "$budget" || rc=$?
exit "$rc"
