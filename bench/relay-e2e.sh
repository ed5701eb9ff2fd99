#!/usr/bin/env bash
# End-to-end relay rate: mail injected into one MTA, relayed over SMTP to a second MTA, delivered there
# into a Maildir. Posthorn -> Posthorn against Postfix -> Postfix, on this machine, one after the other,
# loopback only. Prints both rates (messages/s from the first injected byte to the last delivered file)
# and the ratio Posthorn/Postfix.
#
#   bench/relay-e2e.sh [--count N] [--sessions S] [--size BYTES] [--skip-postfix]
#
# Run as root (apt-get, useradd, delivery as the bench user). It
#  - installs the Debian package postfix when missing (for smtp-source and the Postfix pair; the system
#    instance is never started) and creates the system user phrelay (home in a temp directory);
#  - Posthorn pair: ingest 127.0.0.1:2527 -> (transport_maps relay.test = smtp:[127.0.0.3]:2528) ->
#    127.0.0.3:2528, which delivers phrelay@relay.test to ~phrelay/Maildir/ (home_mailbox = Maildir/);
#  - Postfix pair: ingest 127.0.0.1:2627 -> smtp:[127.0.0.4]:2628 -> 127.0.0.4:2628, same Maildir;
#    separate config and queue directories, chroot off, default fsync behaviour;
#  - injects with smtp-source (S sessions, N messages of BYTES bytes), after an untimed warm-up of
#    WARMUP messages through the same pair, and waits until N files are in Maildir/new (timeout 900 s).
# Environment: COUNT (default 2000), SESSIONS (10), SIZE (4096), WARMUP (200; 0 skips), POSTHORN (a
# published posthorn binary: skips the Release publish), KEEP=1 keeps the temp dir. Every daemon it
# starts is stopped on exit.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
here="$repo/bench"
. "$here/lib.sh"

count=${COUNT:-2000} sessions=${SESSIONS:-10} size=${SIZE:-4096} warmup=${WARMUP:-200} skip_postfix=
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    --sessions) sessions=$2; shift ;;
    --size) size=$2; shift ;;
    --skip-postfix) skip_postfix=1 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "run as root (apt-get, useradd, delivery as phrelay)" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)"

ensure_postfix
work=$(mktemp -d /tmp/phrelay.XXXXXX); chmod 755 "$work"
user=phrelay home="$work/home" maildir="$work/home/Maildir"
ensure_user "$user" "$home"
ph_a="$work/ph-a" ph_b="$work/ph-b" pf_a="$work/pf-a" pf_b="$work/pf-b"
PH=
cleanup() {
  if [ -n "$PH" ]; then posthorn_stop "$ph_a"; posthorn_stop "$ph_b"; fi
  for c in "$pf_a" "$pf_b"; do
    [ -f "$c/pid" ] && /usr/sbin/postfix -c "$c/etc" stop >/dev/null 2>&1 || true
  done
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

# posthorn_site DIR LISTEN MAIN_CF_LINES: one Posthorn instance with one smtpd row on LISTEN (addr:port).
posthorn_site() {
  local dir=$1 listen=$2 extra=$3
  mkdir -p "$dir"
  cat > "$dir/main.cf" <<CF
inet_interfaces = loopback-only
mynetworks = 127.0.0.0/8
myhostname = ${dir##*/}.bench.localdomain
queue_directory = $dir/queue
data_directory = $dir/data
maillog_file = $dir/maillog
alias_maps = hash:$dir/aliases
alias_database = hash:$dir/aliases
mail_owner = postfix
$extra
CF
  printf '%s  inet  n  -  n  -  -  smtpd\n' "$listen" > "$dir/master.cf"
  printf 'postmaster: root\n' > "$dir/aliases"
  MAIL_CONFIG=$dir "$PH" newaliases
}

# postfix_site DIR LISTEN MAIN_CF_LINES: one Postfix instance (config in DIR/etc), smtpd on LISTEN only.
postfix_site() {
  local dir=$1 listen=$2 extra=$3
  mkdir -p "$dir/etc" "$dir/queue"
  awk -v listen="$listen" '/^[^#[:space:]]/ && NF >= 8 { if ($1 == "smtp" && $2 == "inet") $1 = listen; $5 = "n" } { print }' \
    /etc/postfix/master.cf > "$dir/etc/master.cf"
  grep -q '^postlog' "$dir/etc/master.cf" || echo 'postlog   unix-dgram n  -       n       -       1       postlogd' >> "$dir/etc/master.cf"
  cat > "$dir/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
myhostname = ${dir##*/}.bench.localdomain
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
smtp_host_lookup = native
$extra
CF
  /usr/sbin/postfix -c "$dir/etc" check 2>&1 \
    || { echo "postfix -c $dir/etc check failed (rerun it in a terminal to see why)" >&2; exit 1; }
}

delivered() { find "$maildir/new" -type f 2>/dev/null | wc -l; }

# relay_run NAME INGEST_PORT N: injects N messages and waits for N deliveries; prints the rate (msg/s).
relay_run() {
  local name=$1 port=$2 n=$3 t0 t1 end
  rm -rf "$maildir"
  t0=$(date +%s.%N)
  /usr/sbin/smtp-source -s "$sessions" -m "$n" -l "$size" -f bench@sender.test -t "$user@relay.test" "127.0.0.1:$port" \
    || { echo "$name: smtp-source failed" >&2; return 1; }
  end=$(( $(date +%s) + 900 ))
  while [ "$(delivered)" -lt "$n" ]; do
    [ "$(date +%s)" -lt "$end" ] || { echo "$name: only $(delivered) of $n delivered after 900 s" >&2; return 1; }
    sleep 0.05
  done
  t1=$(date +%s.%N)
  python3 -c "print(f'{$n / ($t1 - $t0):.1f}')"
}

# measure NAME INGEST_PORT: warm-up (untimed), then the measured run.
measure() {
  local name=$1 port=$2
  if [ "$warmup" -gt 0 ]; then
    echo "== $name: warm-up, $warmup messages (not measured)" >&2
    relay_run "$name" "$port" "$warmup" >/dev/null
  fi
  echo "== $name: $count messages x $size bytes over $sessions sessions, relayed and delivered" >&2
  relay_run "$name" "$port" "$count"
}

echo "== publishing Posthorn (Release)" >&2
PH=$(publish_posthorn "$repo" "$work/out")

# --- Posthorn -> Posthorn
posthorn_site "$ph_b" 127.0.0.3:2528 "mydestination = relay.test, \$myhostname, localhost
home_mailbox = Maildir/"
posthorn_site "$ph_a" 127.0.0.1:2527 "mydestination = \$myhostname, localhost
transport_maps = inline:{ relay.test=smtp:[127.0.0.3]:2528 }"
"$PH" postfix -c "$ph_b" start && "$PH" postfix -c "$ph_a" start
wait_port 127.0.0.3 2528 30 && wait_port 127.0.0.1 2527 30 || { echo "Posthorn did not listen" >&2; exit 1; }
ph_rate=$(measure posthorn 2527)
posthorn_stop "$ph_a"; posthorn_stop "$ph_b"

# --- Postfix -> Postfix
pf_rate=
if [ -z "$skip_postfix" ]; then
  postfix_site "$pf_b" 127.0.0.4:2628 "mydestination = relay.test, \$myhostname, localhost
home_mailbox = Maildir/"
  postfix_site "$pf_a" 127.0.0.1:2627 "mydestination = \$myhostname, localhost
transport_maps = inline:{ relay.test=smtp:[127.0.0.4]:2628 }"
  for c in "$pf_b" "$pf_a"; do
    /usr/sbin/postfix -c "$c/etc" start >/dev/null 2>&1 || { echo "postfix -c $c/etc start failed; see $c/maillog" >&2; exit 1; }
    touch "$c/pid"
  done
  wait_port 127.0.0.4 2628 30 && wait_port 127.0.0.1 2627 30 || { echo "Postfix did not listen" >&2; exit 1; }
  pf_rate=$(measure postfix 2627)
  for c in "$pf_a" "$pf_b"; do /usr/sbin/postfix -c "$c/etc" stop >/dev/null 2>&1 || true; rm -f "$c/pid"; done
fi

echo
printf 'relay end to end, %s messages x %s bytes, %s sessions\n' "$count" "$size" "$sessions"
printf '  posthorn -> posthorn  %8s msg/s\n' "$ph_rate"
if [ -n "$pf_rate" ]; then
  printf '  postfix  -> postfix   %8s msg/s\n' "$pf_rate"
  python3 -c "print(f'  ratio posthorn/postfix  {$ph_rate / $pf_rate:.2f}')"
fi
