#!/usr/bin/env bash
# Runs every test suite: formatting and lints, the Rust unit and integration
# tests (client against the emulator), the C example and the C tests of the
# ABI, and the check that include/esbyt.h matches what cbindgen generates.
# The C tests also run under sanitizers and valgrind. Last, every fuzz target
# runs for a short time.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/prerequisites.sh

require_rust
need_command cc gcc
need_command c++ g++
need_command zip zip
need_command unzip unzip
need_command git git
need_command openssl openssl
need_command python3 python3
need_command mcs mono-devel
need_command mono mono-devel
need_command nm binutils
need_command valgrind valgrind
install_missing
# The tests of the Python binding run pytest (tests/python.rs).
python3 -m pytest --version >/dev/null 2>&1 || python3 -m pip install pytest
require_rust_components
require_cargo_fuzz

echo "== formatting"
cargo fmt --all --check

echo "== lints"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== build, header generation"
cargo build --workspace --quiet
if ! git diff --quiet -- include/esbyt.h; then
    git --no-pager diff --stat -- include/esbyt.h
    echo "error: include/esbyt.h differs from what cbindgen generates; commit the regenerated header" >&2
    exit 1
fi

echo "== tests"
cargo test --workspace

echo "== fuzzing, 20 s per target"
scripts/fuzz.sh 20
