#!/usr/bin/env bash
# Builds every fuzz target of fuzz/ (cargo-fuzz, libFuzzer) and runs each for SECONDS (default 30),
# failing on the first crash, panic, timeout or oversized allocation. CI runs it with 30 s per
# target from scripts/test.sh; a long run by hand: scripts/fuzz.sh 3600.
#
# Each target starts from its committed seeds (fuzz/corpus/<target>/) and writes what it learns
# to fuzz/target/corpus-work/<target>/ (ignored), so the committed corpus stays small and repeated
# runs on one machine resume where the last one stopped. A finding is saved under
# fuzz/artifacts/<target>/; reproduce it with
#   fuzz/target/x86_64-unknown-linux-gnu/release/<target> fuzz/artifacts/<target>/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-30}
# cargo-fuzz passes -Z flags to rustc; this lets the stable toolchain accept them.
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# One build for all targets. No sanitizer: the code under test forbids `unsafe` (ASan would
# watch only the C of aws-lc, which it does not instrument anyway) and it doubles the build on
# two cores. Debug assertions and overflow checks on.
cargo fuzz build --sanitizer none --debug-assertions

bin=fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release
mapfile -t targets < <(cargo fuzz list)
summary=()
for t in "${targets[@]}"; do
    work=fuzz/target/corpus-work/$t
    mkdir -p "$work" "fuzz/artifacts/$t"
    log=fuzz/target/$t.log
    printf '\n--- %s (%s s)\n' "$t" "$secs"
    # -malloc_limit_mb: one allocation over 64 MiB is a finding (real requests are at most
    # 64 KiB); -rss_limit_mb bounds the whole process. The targets also meter every call against
    # the input's size (fuzz/src/lib.rs, `bounded`).
    dict=()
    if [ -f "fuzz/dict/$t.dict" ]; then
        dict=(-dict="fuzz/dict/$t.dict")
    fi
    if ! "$bin/$t" "$work" "fuzz/corpus/$t" "${dict[@]}" \
        -max_total_time="$secs" -max_len=65536 -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=64 \
        -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz: $t FAILED; the input is in fuzz/artifacts/$t/, the log in $log" >&2
        exit 1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
    summary+=("$t: ${execs:-?} runs in ${secs} s, no finding")
done
printf '\nfuzz summary:\n'
printf '  %s\n' "${summary[@]}"
