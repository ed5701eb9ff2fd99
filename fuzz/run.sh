#!/usr/bin/env bash
# fuzz/run.sh TARGET|all [SECONDS]
#
# Coverage-guided fuzzing of one Posthorn parser (or of each in turn with "all") with SharpFuzz + AFL++.
# Builds fuzz/Posthorn.Fuzz in Release into fuzz/.out, instruments the Posthorn assemblies there with
# `sharpfuzz`, and runs afl-fuzz for SECONDS (default 60) per target on the seeds in fuzz/corpus/TARGET.
# The input reaches the target through AFL's input file only (no sockets). Prints execs, execs/s, paths
# (AFL corpus entries) and crashes per target; copies crashing inputs to fuzz/findings/TARGET/. fuzz/dict/ gives AFL the protocol keywords.
# Exit status: 0 no crash, 1 a target crashed, 2 usage or setup problem, 3 afl-fuzz is not installed.
#
# Environment: FUZZ_NO_BUILD=1 reuses fuzz/.out as it is (already instrumented).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
targets=(smtp-command smtp-session imap-command imap-session main-cf master-cf aliases queue-file mbox maildir-name)

usage() { echo "usage: fuzz/run.sh {${targets[*]}|all} [SECONDS]" >&2; exit 2; }
(($# >= 1 && $# <= 2)) || usage
want=$1
seconds=${2:-60}
[[ $seconds =~ ^[0-9]+$ ]] && ((seconds > 0)) || usage
if [[ $want == all ]]; then
    run=("${targets[@]}")
else
    [[ " ${targets[*]} " == *" $want "* ]] || usage
    run=("$want")
fi

if ! command -v afl-fuzz >/dev/null 2>&1; then
    echo "afl-fuzz not found (Debian: apt-get install afl++)" >&2
    exit 3
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out=$here/.out
if [[ ${FUZZ_NO_BUILD:-} != 1 ]]; then
    # The instrumenter, pinned, in a private tool path (not a global tool).
    sharpfuzz=$(command -v sharpfuzz || true)
    if [[ -z $sharpfuzz ]]; then
        sharpfuzz=$here/.tools/sharpfuzz
        [[ -x $sharpfuzz ]] || dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$here/.tools" >/dev/null
    fi
    rm -rf "$out"
    dotnet publish "$here/Posthorn.Fuzz/Posthorn.Fuzz.csproj" -c Release -o "$out" --nologo -v quiet >/dev/null
    # Instrument Posthorn's own assemblies (the code under test); the harness and third-party libraries stay as they are.
    for dll in "$out"/Posthorn.*.dll; do
        [[ $(basename "$dll") == Posthorn.Fuzz.dll ]] && continue
        "$sharpfuzz" "$dll" >/dev/null
    done
fi

# AFL++ settings for a managed target: the dotnet host is not instrumented itself (SharpFuzz reports coverage
# through AFL's shared memory), there is no CPU to pin on a shared machine, and no terminal UI.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_QUIET=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SUPPRESS_COMMANDLINE_INFO=1
# The file-reading targets (queue file, mbox, main.cf, imap-session's Maildir) write every input: keep that in memory.
if [[ -z ${TMPDIR:-} && -d /dev/shm && -w /dev/shm ]]; then export TMPDIR=/dev/shm; fi

status=0
printf '%-14s %8s %10s %8s %8s %7s\n' target seconds execs execs/s paths crashes
for t in "${run[@]}"; do
    work=$here/.work/$t
    rm -rf "$work"
    mkdir -p "$work"
    log=$work/afl.log
    # -t: a .NET persistent-mode iteration is fast, but the first one JIT-compiles; -m none: the CLR reserves more
    # address space than AFL's default limit.
    dict=()
    case $t in
        smtp-*) dict=(-x "$here/dict/smtp.dict") ;;
        imap-*) dict=(-x "$here/dict/imap.dict") ;;
        main-cf|master-cf|aliases) dict=(-x "$here/dict/config.dict") ;;
        mbox) dict=(-x "$here/dict/mbox.dict") ;;
    esac
    afl-fuzz -i "$here/corpus/$t" -o "$work" "${dict[@]}" -t 5000 -m none -V "$seconds" \
        -- dotnet "$out/Posthorn.Fuzz.dll" "$t" >"$log" 2>&1 || {
        echo "afl-fuzz failed for $t; see $log:" >&2
        tail -n 20 "$log" >&2
        status=2
        continue
    }
    stats=$work/default/fuzzer_stats
    get() { sed -n "s/^$1 *: *//p" "$stats" | head -n 1; }
    crashes=$(get saved_crashes)
    crashes=${crashes:-$(get unique_crashes)}
    paths=$(get corpus_count)
    paths=${paths:-$(get paths_total)}
    printf '%-14s %8s %10s %8s %8s %7s\n' "$t" "$seconds" "$(get execs_done)" "$(get execs_per_sec)" "$paths" "${crashes:-0}"
    shopt -s nullglob
    found=("$work"/default/crashes/id:*)
    shopt -u nullglob
    if ((${#found[@]})); then
        mkdir -p "$root/fuzz/findings/$t"
        cp "${found[@]}" "$root/fuzz/findings/$t/"
        echo "  crashes copied to fuzz/findings/$t/ (replay: dotnet fuzz/.out/Posthorn.Fuzz.dll $t FILE)"
        ((status == 0)) && status=1
    fi
done
exit "$status"
