# Shared helpers for the bench scripts (sourced, not run). Loopback only; root is needed for apt-get/useradd.

# ensure_postfix: installs the Debian package `postfix` (for smtp-source and the peer daemon) when missing,
# answering debconf "No configuration" and forbidding invoke-rc.d to start the system instance.
ensure_postfix() {
  [ -x /usr/sbin/postfix ] && [ -x /usr/sbin/smtp-source ] && return 0
  [ "$(id -u)" = 0 ] || { echo "postfix is missing and only root can apt-get install it" >&2; return 1; }
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  local policy=/usr/sbin/policy-rc.d made_policy=
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; made_policy=1; fi
  local master_before; master_before=$(pgrep -x master || true)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix >/tmp/phbench-apt.log 2>&1 \
    || { apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix >>/tmp/phbench-apt.log 2>&1; } \
    || { [ -n "$made_policy" ] && rm -f "$policy"; echo "apt-get install postfix failed (see /tmp/phbench-apt.log)" >&2; return 1; }
  [ -n "$made_policy" ] && rm -f "$policy"
  # Never leave a system instance running that the install started.
  if [ -z "$master_before" ] && pgrep -x master >/dev/null; then /usr/sbin/postfix stop >/dev/null 2>&1 || true; fi
  return 0
}

# ensure_user NAME HOME: a system user for the bench whose home (Maildir/) is under HOME.
ensure_user() {
  local name=$1 home=$2
  if ! id "$name" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir "$home" --shell /usr/sbin/nologin "$name"
  else
    usermod --home "$home" "$name"
  fi
  mkdir -p "$home"; chown "$name:" "$home"; chmod 755 "$home"
}

# rss_kb PID...: sum of VmRSS (KiB) of the given processes.
rss_kb() {
  local total=0 p v
  for p in "$@"; do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
    total=$(( total + ${v:-0} ))
  done
  echo "$total"
}

# wait_port HOST PORT SECONDS: waits until something listens.
wait_port() {
  local host=$1 port=$2 end=$(( $(date +%s) + $3 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    python3 -c "import socket,sys; s=socket.create_connection(('$host',$port),1); s.close()" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# publish_posthorn REPO OUTDIR: Release publish unless $POSTHORN (a published posthorn binary) is set.
# Prints the binary's path.
publish_posthorn() {
  if [ -n "${POSTHORN:-}" ]; then echo "$POSTHORN"; return 0; fi
  dotnet publish "$1/src/Posthorn" -c Release -o "$2" >"$2.log" 2>&1 \
    || { echo "dotnet publish failed; see $2.log" >&2; return 1; }
  echo "$2/posthorn"
}

# settle_fs: writes back and waits SETTLE seconds (default 35) before a server's turn. On ext4 without a
# journal (this machine's root filesystem) every file creation steps over each inode freed in the last 30 s
# of its block group, 5 min while the inode's table block is still dirty (recently_deleted(), called from
# find_inode_bit() in fs/ext4/ialloc.c when there is no journal). Postfix creates and deletes a queue file per
# message, so the server measured right after it paid for its deletions in every Maildir file it created:
# perf showed a quarter of that server's CPU in recently_deleted. SETTLE=0 skips the wait.
settle_fs() {
  [ "${SETTLE:-35}" -gt 0 ] || return 0
  sync
  sleep "${SETTLE:-35}"
}

# posthorn_config DIR PORT MAILOWNER DELIVERY: a Posthorn instance in DIR listening on 127.0.0.1:PORT.
# DELIVERY is a main.cf line: "home_mailbox = Maildir/" or "mail_spool_directory = …/" (Maildir per user).
posthorn_config() {
  local dir=$1 port=$2 owner=$3 delivery=$4
  mkdir -p "$dir"
  cat > "$dir/main.cf" <<CF
inet_interfaces = loopback-only
mynetworks_style = host
myhostname = bench.localdomain
mydestination = \$myhostname, localhost
queue_directory = $dir/queue
data_directory = $dir/data
maillog_file = $dir/maillog
alias_maps = hash:$dir/aliases
alias_database = hash:$dir/aliases
mail_owner = $owner
$delivery
CF
  printf '127.0.0.1:%s  inet  n  -  n  -  -  smtpd\n' "$port" > "$dir/master.cf"
  printf 'postmaster: root\n' > "$dir/aliases"
  MAIL_CONFIG=$dir "$PH" newaliases
}

# posthorn_pid DIR: the running daemon's PID (from `postfix status`), empty when not running.
posthorn_pid() {
  { "$PH" postfix -c "$1" status 2>&1 || true; } | sed -n 's/.*PID: *\([0-9]*\).*/\1/p'
}

# posthorn_stop DIR: orderly stop, then SIGKILL if it hangs.
posthorn_stop() {
  local pid; pid=$(posthorn_pid "$1")
  [ -n "$pid" ] || return 0
  timeout 40 "$PH" postfix -c "$1" stop >/dev/null 2>&1 || true
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
}

# postfix_peer_config DIR WORK PORT EXTRA: a separate Postfix instance (config in DIR, queue in WORK/pfq,
# log in WORK/pf.log) from the stock master.cf, smtp on 127.0.0.1:PORT, chroot off, with EXTRA main.cf lines.
postfix_peer_config() {
  local dir=$1 work=$2 port=$3 extra=$4
  mkdir -p "$dir" "$work/pfq"
  awk -v port="$port" '/^[^#[:space:]]/ && NF >= 8 { if ($1 == "smtp" && $2 == "inet") $1 = "127.0.0.1:" port; $5 = "n" } { print }' \
    /etc/postfix/master.cf > "$dir/master.cf"
  cat > "$dir/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $work/pfq
data_directory = $work/pfdata
myhostname = bench.localdomain
mydestination = \$myhostname, localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
maillog_file = $work/pf.log
maillog_file_prefixes = $work
$extra
CF
  # postfix(1) logs to syslog unless stderr is a terminal: on failure, say where to look.
  /usr/sbin/postfix -c "$dir" check 2>&1 \
    || { echo "postfix -c $dir check failed (rerun it in a terminal to see why)" >&2; return 1; }
}

# dovecot_imap_config DIR PORT [N]: a separate Dovecot instance's DIR/dovecot.conf, IMAP only on 127.0.0.1:PORT, no TLS
# (loopback is a secured connection), users from DIR/users (passwd-file), mail_location = maildir:~/Maildir, no
# per-user connection limit (mail_max_userip_connections, default 10, would refuse the parallel clients).
# With N > 0 the login service runs in Dovecot's high-performance mode sized for N connections (service_count = 0,
# process_min_avail = 2, client_limit = N/2 + 100, vsz_limit = 1G, default_client_limit = N + 1000); without, defaults.
dovecot_imap_config() {
  local dir=$1 port=$2 n=${3:-0}
  mkdir -p "$dir"
  {
    cat <<CF
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
ssl = no
protocols = imap
listen = 127.0.0.1
first_valid_uid = 1
disable_plaintext_auth = no
mail_location = maildir:~/Maildir
protocol imap {
  # the benchmarks run many parallel clients as one user from one address (default 10)
  mail_max_userip_connections = 100000
}
# the default 256M lets an imap process fail to mmap the dovecot.index.cache of a 100,000-message mailbox once 50
# parallel clients have grown it ("mmap(size=299855396) failed ... Cannot allocate memory"): more room for the peer
default_vsz_limit = 1G
default_internal_user = dovecot
default_login_user = dovenull
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
CF
    if [ "$n" -gt 0 ]; then
      printf '  service_count = 0\n  process_min_avail = 2\n  client_limit = %s\n  vsz_limit = 1G\n' $(( n / 2 + 100 ))
    fi
    printf '}\n'
    [ "$n" -gt 0 ] && printf 'default_client_limit = %s\n' $(( n + 1000 ))
    cat <<CF
passdb {
  driver = passwd-file
  args = $dir/users
}
userdb {
  driver = passwd-file
  args = $dir/users
}
CF
  } > "$dir/dovecot.conf"
}

# set_aside DIR: the end of a rate bench's work directory. It is moved under ${TMPDIR:-/tmp}/posthorn-bench-spent/
# instead of deleted: on ext4 without a journal every file creation skips the inodes freed in the last 30 s to
# 5 min (ialloc.c recently_deleted), so deleting tens of thousands of files would slow the file creation of
# whatever bench runs next, for minutes. Remove that directory when the benchmarking is over.
set_aside() {
  local spent=${TMPDIR:-/tmp}/posthorn-bench-spent
  mkdir -p "$spent" && mv "$1" "$spent/" && echo "bench files set aside in $spent/$(basename "$1") (rm -rf $spent when done)" >&2
}

# shared_script REPO NAME OVERRIDE: the path of ../shared/bench/NAME next to the repository (or, from a git worktree one
# level deeper, ../../shared/bench/NAME); OVERRIDE (an environment variable's value) wins when set. Exits 2 when
# none is there.
shared_script() {
  local repo=$1 name=$2 path=$3 c
  for c in "$repo/../shared/bench/$name" "$repo/../../shared/bench/$name"; do
    [ -z "$path" ] && [ -f "$c" ] && path=$c
  done
  [ -n "$path" ] && [ -f "$path" ] || { echo "missing $name: not in ../shared/bench/ next to the repository, nor at ${path:-a path given}" >&2; exit 2; }
  echo "$path"
}

# chart SCRIPT CSV PNG: runs a matplotlib chart script (python3-matplotlib installed with apt-get when missing) and says
# where the chart went, or why there is none.
chart() {
  local py=python3
  python3 -c 'import matplotlib' 2>/dev/null || {
    /usr/bin/python3 -c 'import matplotlib' 2>/dev/null \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-matplotlib >/dev/null 2>&1 || true
    py=/usr/bin/python3
  }
  if "$py" -c 'import matplotlib' 2>/dev/null; then
    "$py" "$1" "$2" "$3" && echo "chart: ${3#"$repo"/}"
  else
    echo "chart: skipped (matplotlib unavailable: apt-get install python3-matplotlib failed)"
  fi
}
