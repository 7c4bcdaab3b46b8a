#!/usr/bin/env bash
# Runs the benchmark of the library in one go. It builds libesbyt.so and
# the esbyt-bench binary in release mode and compiles the two C clients:
# the library's C ABI driver and the libcurl client. Then it runs every case
# against one loopback server and prints a Markdown report, which it also
# saves to target/bench/report.md. BENCHMARKS.md explains the cases and
# contains the results of the last full run.
#
#   ./scripts/bench.sh                 full run, about 3 minutes after the build
#   ./scripts/bench.sh --quick         every case with few iterations, to check the setup
#   ./scripts/bench.sh --no-callgrind  skip the instruction counts under valgrind
#
# Everything runs on 127.0.0.1. The test PKI is generated into a temporary
# directory that is removed at the end, and the callgrind profiles are kept
# in target/bench/callgrind/. Numbers depend on the load of the machine, so
# run it on an idle machine and compare medians.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prerequisites.sh

quick=0
callgrind=1
for argument in "$@"; do
    case "$argument" in
        --quick) quick=1 ;;
        --no-callgrind) callgrind=0 ;;
        *)
            echo "error: unknown option $argument; expected --quick or --no-callgrind" >&2
            exit 2
            ;;
    esac
done

require_rust
need_command cc gcc
need_command strip binutils
need_command valgrind valgrind
need_command lscpu util-linux
# libcurl with its headers, in the OpenSSL flavour that Debian's curl uses.
if ! echo '#include <curl/curl.h>' | cc -E -x c - >/dev/null 2>&1; then
    missing_packages+=(libcurl4-openssl-dev)
fi
install_missing

echo "building the release library and esbyt-bench" >&2
cargo build --release --quiet -p esbyt -p esbyt-bench

out_dir=target/bench
mkdir -p "$out_dir"
cc -O2 -Wall -Wextra -o "$out_dir/esbyt_client" bench/c/esbyt_client.c -ldl -lpthread
cc -O2 -Wall -Wextra -o "$out_dir/curl_client" bench/c/curl_client.c -lcurl -lpthread

work_dir=$(mktemp -d -t esbyt-bench.XXXXXX)
# The callgrind profiles are kept for callgrind_annotate, the rest is removed.
keep_profiles() {
    rm -rf "$out_dir/callgrind"
    mkdir -p "$out_dir/callgrind"
    cp "$work_dir"/callgrind-*.out "$out_dir/callgrind/" 2>/dev/null || true
    rm -rf "$work_dir"
}
trap keep_profiles EXIT

machine_section() {
    echo "# esbyt benchmark report"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- command: \`./scripts/bench.sh${*:+ $*}\`"
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ', with uncommitted changes')"
    echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores available"
    echo "- memory: $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
    echo "- kernel: $(uname -sr)"
    echo "- rustc: $(rustc --version)"
    echo "- cc: $(cc --version | head -n 1)"
    echo "- libcurl: $(curl-config --version 2>/dev/null || echo unknown), $(curl --version 2>/dev/null | head -n 1 | grep -o 'OpenSSL/[0-9.]*' || echo 'TLS library unknown')"
    echo "- valgrind: $(valgrind --version)"
    echo "- load before the run: $(uptime)"
    echo
}

{
    machine_section "$@"
    "target/release/esbyt-bench" run \
        library="$PWD/target/release/libesbyt.so" \
        esbyt_client="$PWD/$out_dir/esbyt_client" \
        curl_client="$PWD/$out_dir/curl_client" \
        work_dir="$work_dir" \
        quick="$quick" \
        callgrind="$callgrind"
    echo "- load after the run: $(uptime)"
} | tee "$out_dir/report.md"
