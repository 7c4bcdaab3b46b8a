#!/usr/bin/env bash
# Runs every test suite: formatting and lints, the Rust unit and integration
# tests (client against the emulator), the C example and the C tests of the
# ABI, and the check that include/esbyt.h matches what cbindgen generates.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/prerequisites.sh

require_rust
need_command cc gcc
need_command c++ g++
need_command git git
need_command openssl openssl
install_missing
require_rust_components

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
