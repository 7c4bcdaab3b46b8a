#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 600), one after the
# other, with cargo-fuzz and libFuzzer. test.sh runs it for 20 s per target;
# run it longer by hand after changing the protocol code:
#
#   scripts/fuzz.sh          # 600 s per target
#   scripts/fuzz.sh 3600     # an hour per target
#
# The seeds in fuzz/corpus/TARGET/ are read but never changed. Inputs that
# reach new code go to fuzz/target/corpus/TARGET/, which later runs start
# from. A failing input is saved under fuzz/artifacts/TARGET/; the script then
# goes on with the other targets and exits 1 at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prerequisites.sh

seconds=${1:-600}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS]: SECONDS is the run time of each target, a positive integer" >&2
    exit 2
fi

require_rust
need_command c++ g++
install_missing
require_cargo_fuzz

# cargo-fuzz compiles with -Zsanitizer=address and other flags that only a
# nightly compiler accepts. RUSTC_BOOTSTRAP=1 makes the stable compiler accept
# them too (checked with rustc 1.95.0 and cargo-fuzz 0.13.2), so no second
# toolchain is needed.
export RUSTC_BOOTSTRAP=1

failed_targets=()
for target in $(cargo fuzz list --fuzz-dir fuzz); do
    working_corpus=fuzz/target/corpus/$target
    mkdir -p "$working_corpus"
    echo "== fuzzing $target for $seconds s"
    # -timeout reports an input that runs longer than 10 s as a failure; the
    # protocol code handles a response in well under a millisecond.
    if ! cargo fuzz run --fuzz-dir fuzz "$target" "$working_corpus" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1; then
        failed_targets+=("$target")
    fi
done

if [ ${#failed_targets[@]} -gt 0 ]; then
    echo "error: fuzz targets failed: ${failed_targets[*]}; the failing inputs are in fuzz/artifacts/" >&2
    exit 1
fi
echo "fuzzing found no failure"
