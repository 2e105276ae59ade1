#!/bin/sh
# Fuzzes vabill (docs/FUZZING.md): builds the libFuzzer targets with clang,
# ASan and UBSan in build-fuzz, replays every saved crash (fuzz/regressions)
# and seed (fuzz/corpus), then runs each target for FUZZ_SECONDS (default 60)
# on a copy of its seed corpus.  Exits non-zero when any target finds a crash,
# a leak or a timeout; the input is left in build-fuzz/findings/TARGET/.
# Installs nothing: scripts/deps.sh does.
#
#   FUZZ_SECONDS=3600 sh scripts/fuzz.sh         longer runs
#   FUZZ_TARGETS="fuzz_money" sh scripts/fuzz.sh  some targets only
#   FUZZ_JOBS=4 sh scripts/fuzz.sh               parallel workers per target
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"fuzz_form fuzz_request fuzz_invoices fuzz_money fuzz_json_diff"}
workers=${FUZZ_JOBS:-1}
jobs=$(nproc 2>/dev/null || echo 2)
build=$root/build-fuzz

# Largest input each target is given, bytes: enough for a few dozen invoices
# or nesting past the JSON depth limit (LIMIT_JSON_DEPTH), small enough to
# keep runs fast.
max_len()
{
    case $1 in
    fuzz_money) echo 64 ;;
    fuzz_form) echo 4096 ;;
    fuzz_invoices | fuzz_json_diff) echo 8192 ;;
    *) echo 16384 ;;
    esac
}

# fuzz_invoices keeps a store that grows with every input (a community per
# input, fixture.h), so libFuzzer's per-input leak check would scan the heap
# on every run and slow it tenfold; its leaks are caught by the replay of
# the grown corpus after the run instead.
leak_option()
{
    case $1 in
    fuzz_invoices) echo "-detect_leaks=0" ;;
    *) echo "-detect_leaks=1" ;;
    esac
}

cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DVABILL_FUZZ=ON >/dev/null
# shellcheck disable=SC2086
cmake --build "$build" -j "$jobs" --target $targets

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=""
for t in $targets; do
    bin=$build/fuzz/$t
    run=$build/run/$t
    findings=$build/findings/$t
    rm -rf "$run"
    mkdir -p "$run/corpus" "$findings"
    cp fuzz/corpus/"$t"/* "$run/corpus/"
    dict=""
    if [ -f fuzz/"$t".dict ]; then dict="-dict=$root/fuzz/$t.dict"; fi

    # Every input ever saved, then the seeds, once each (the store of the
    # service targets is in memory; the run directory catches SQLite's
    # ":memory:" placeholder file).
    echo "== $t: replaying regressions and seeds"
    if ! (cd "$run" && "$bin" -runs=0 -timeout=10 "$root/fuzz/regressions/$t" \
        "$root/fuzz/corpus/$t" >replay.log 2>&1); then
        tail -n 40 "$run/replay.log"
        failed="$failed $t(replay)"
        continue
    fi

    echo "== $t: fuzzing for ${seconds}s (max_len $(max_len "$t"), $workers worker(s))"
    set -- -max_len="$(max_len "$t")" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/" \
        "$(leak_option "$t")"
    if [ -n "$dict" ]; then set -- "$@" "$dict"; fi
    if [ "$workers" -gt 1 ]; then set -- "$@" -jobs="$workers" -workers="$workers"; fi
    if (cd "$run" && "$bin" "$@" corpus >fuzz.log 2>&1) &&
        (cd "$run" && "$bin" -runs=0 -timeout=10 -artifact_prefix="$findings/" corpus \
            >leaks.log 2>&1); then
        grep -E "DONE|stat::number_of_executed_units|stat::peak_rss_mb" "$run/fuzz.log" | tail -n 3
        echo "   corpus: $(find "$run/corpus" -type f | wc -l) inputs" \
            "(fuzz/corpus/$t has $(find fuzz/corpus/"$t" -type f | wc -l))"
    else
        for log in "$run/fuzz.log" "$run/leaks.log"; do
            if [ -f "$log" ] && grep -q -E "^==[0-9]+==ERROR|runtime error|finding|ERROR: libFuzzer" "$log"; then
                grep -E -A 30 "^==[0-9]+==ERROR|runtime error|^fuzz[_a-z]* finding|ERROR: libFuzzer" \
                    "$log" | head -n 60
                echo "   log: $log"
            fi
        done
        echo "   finding saved in $findings/"
        failed="$failed $t"
    fi
done

if [ -n "$failed" ]; then
    echo "fuzzing found problems in:$failed (see docs/FUZZING.md, 'When a target crashes')"
    exit 1
fi
echo "fuzzing: no findings"
