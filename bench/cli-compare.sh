#!/usr/bin/env bash
# Command-line one-shots side by side: Postfix's C tools against Posthorn's (issue 9: within 3x), loopback only.
#
#   bench/cli-compare.sh [N]
#
# Run as root (apt-get install postfix when missing; Postfix's postdrop). It
#  - sets up one main.cf (lib.sh postfix_peer_config: stock master.cf, smtp on 127.0.0.1:2627, local mail
#    discarded) and runs Postfix from it, so that its mailq has a showq service to ask;
#  - copies that main.cf and master.cf for Posthorn, changing only queue_directory and data_directory (each
#    reads and writes its own queue); the daemon is not started, so sendmail leaves its mail in maildrop;
#  - times, N times each (default 50, after 3 untimed runs), interleaved so that both see the same load:
#      postconf -n              postconf -c DIR -n
#      postconf -d myhostname   postconf -c DIR -d myhostname
#      mailq                    MAIL_CONFIG=DIR mailq                (an empty queue)
#      postqueue -p             postqueue -c DIR -p                  (an empty queue)
#      sendmail                 sendmail -f sender rcpt < 1 KB message   (into maildrop)
#    for Postfix (/usr/sbin/…), Posthorn's native front (native/posthorn-tools TOOL …, what the README's alias
#    runs) and the managed posthorn (posthorn TOOL …);
#  - prints median and p90 wall milliseconds and the ratio to Postfix's median, and writes
#    bench/results/cli-YYYYMMDD-HHMM.csv.
# Environment: POSTHORN (a built or published posthorn with native/posthorn-tools beside it: skips the publish),
# KEEP=1 keeps the temp dir. The Postfix instance it starts is stopped on exit.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
here="$repo/bench"
. "$here/lib.sh"

runs=${1:-50}
case "$runs" in ''|*[!0-9]*) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "run as root (apt-get, Postfix's postdrop)" >&2; exit 2; }

ensure_postfix
work=$(mktemp -d /tmp/phcli.XXXXXX); chmod 755 "$work"
pfconf="$work/postfix" phconf="$work/posthorn"
cleanup() {
  if [ -f "$work/pfq/pid/master.pid" ]; then
    /usr/sbin/postfix -c "$pfconf" stop >/dev/null 2>&1 || /usr/sbin/postfix -c "$pfconf" abort >/dev/null 2>&1 || true
  fi
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

PH=$(publish_posthorn "$repo" "$work/publish") || exit 1
PHT="$(dirname "$PH")/native/posthorn-tools"
[ -x "$PHT" ] || { echo "$PHT is missing: the Release build makes it when clang or gcc is installed" >&2; exit 1; }

postfix_peer_config "$pfconf" "$work" 2627 "local_transport = discard:" || exit 1
mkdir -p "$phconf"
sed -e "s#^queue_directory = .*#queue_directory = $work/phq#" -e "s#^data_directory = .*#data_directory = $work/phdata#" \
  -e "s#^maillog_file = .*#maillog_file = $work/ph.log#" "$pfconf/main.cf" > "$phconf/main.cf"
cp "$pfconf/master.cf" "$phconf/master.cf"
# postfix check makes the queue directories (as Postfix's does); the daemon itself is not started.
"$PH" postfix -c "$phconf" check >/dev/null 2>&1 || true
/usr/sbin/postfix -c "$pfconf" start >/dev/null 2>&1 || { echo "postfix -c $pfconf start failed; see $work/pf.log" >&2; exit 1; }
for _ in $(seq 50); do [ -S "$work/pfq/public/showq" ] && break; sleep 0.1; done

printf 'From: bench@example.com\nTo: nobody@localhost\nSubject: cli-compare\n\n%s\n' "$(head -c 1000 /dev/zero | tr '\0' x)" > "$work/msg"

mkdir -p "$here/results"
csv="$here/results/cli-$(date -u +%Y%m%d-%H%M).csv"
python3 - "$runs" "$csv" "$work/msg" "$pfconf" "$phconf" "$PHT" "$PH" <<'PY'
import os, statistics, subprocess, sys, time
runs, csv, msg, pf, ph, pht, phm = int(sys.argv[1]), *sys.argv[2:]
env = dict(os.environ)
def cmd(argv, config, stdin=None):
    return (argv, dict(env, MAIL_CONFIG=config), stdin)
sendmail = ["-f", "bench@example.com", "nobody@localhost"]
# tool -> {implementation: (argv, environment, stdin file)}
tests = {
    "postconf -n": {"postfix": cmd(["/usr/sbin/postconf", "-c", pf, "-n"], pf),
                    "posthorn-native": cmd([pht, "postconf", "-c", pf, "-n"], pf),
                    "posthorn-managed": cmd([phm, "postconf", "-c", pf, "-n"], pf)},
    "postconf -d myhostname": {"postfix": cmd(["/usr/sbin/postconf", "-c", pf, "-d", "myhostname"], pf),
                    "posthorn-native": cmd([pht, "postconf", "-c", pf, "-d", "myhostname"], pf),
                    "posthorn-managed": cmd([phm, "postconf", "-c", pf, "-d", "myhostname"], pf)},
    "mailq": {"postfix": cmd(["/usr/bin/mailq"], pf),
              "posthorn-native": cmd([pht, "mailq"], ph),
              "posthorn-managed": cmd([phm, "mailq"], ph)},
    "postqueue -p": {"postfix": cmd(["/usr/sbin/postqueue", "-c", pf, "-p"], pf),
                     "posthorn-native": cmd([pht, "postqueue", "-c", ph, "-p"], ph),
                     "posthorn-managed": cmd([phm, "postqueue", "-c", ph, "-p"], ph)},
    "sendmail": {"postfix": cmd(["/usr/sbin/sendmail", *sendmail], pf, msg),
                 "posthorn-native": cmd([pht, "sendmail", *sendmail], ph, msg),
                 "posthorn-managed": cmd([phm, "sendmail", *sendmail], ph, msg)},
}
def once(argv, e, stdin):
    with open(stdin if stdin else os.devnull, "rb") as f:
        t = time.perf_counter()
        r = subprocess.run(argv, env=e, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ms = (time.perf_counter() - t) * 1000
    if r.returncode != 0:
        sys.exit(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.decode(errors='replace').strip()}")
    return ms
rows = []
for name, impls in tests.items():
    times = {k: [] for k in impls}
    for i in range(3 + runs):
        for k, (argv, e, stdin) in impls.items():
            ms = once(argv, e, stdin)
            if i >= 3: times[k].append(ms)
    base = statistics.median(times["postfix"])
    for k, ts in times.items():
        ts.sort()
        med, p90 = statistics.median(ts), ts[min(len(ts) - 1, round(0.9 * (len(ts) - 1)))]
        rows.append((name, k, len(ts), med, p90, med / base))
print(f"{'tool':<24} {'implementation':<18} {'runs':>5} {'median ms':>10} {'p90 ms':>8} {'x Postfix':>10}")
for name, k, n, med, p90, ratio in rows:
    print(f"{name:<24} {k:<18} {n:>5} {med:>10.1f} {p90:>8.1f} {ratio:>10.2f}")
with open(csv, "w") as f:
    f.write("tool,implementation,runs,median_ms,p90_ms,ratio_to_postfix\n")
    for name, k, n, med, p90, ratio in rows:
        f.write(f"{name},{k},{n},{med:.2f},{p90:.2f},{ratio:.3f}\n")
print(f"csv: {csv}")
PY
