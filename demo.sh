#!/usr/bin/env bash
# Runs the demo: a balance check, a write-off of 10 bonuses and a second
# balance check through the library, against the bundled emulator of the bonus
# server. Extra arguments go to `esbyt demo`, for example
# `./demo.sh --url http://176.114.16.91:8808/bonus/ --supplier 1111 --allow-http`.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/prerequisites.sh

require_rust
# ring, the cryptography of rustls, compiles C code.
need_command cc gcc
install_missing

cargo run --quiet --release -p esbyt-cli -- demo "$@"
