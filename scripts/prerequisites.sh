# Checks, and where possible installs, the tools the build and the tests need.
# Sourced by demo.sh and test.sh. Installs with apt-get only when running as
# root on a Debian-like system; otherwise names the missing package and stops.

missing_packages=()

need_command() {
    local command_name=$1 package=$2
    if ! command -v "$command_name" >/dev/null 2>&1; then
        missing_packages+=("$package")
    fi
}

install_missing() {
    if [ ${#missing_packages[@]} -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing: ${missing_packages[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_packages[@]}" >/dev/null
        missing_packages=()
    else
        echo "error: missing tools; install these packages and run again: ${missing_packages[*]}" >&2
        exit 1
    fi
}

require_rust() {
    # Non-login shells, CI among them, may lack rustup's PATH entry.
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "error: cargo not found; install Rust 1.89 or newer from https://rustup.rs and run again" >&2
        exit 1
    fi
}

require_rust_components() {
    local component
    for component in rustfmt clippy; do
        if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
            if command -v rustup >/dev/null 2>&1; then
                rustup component add "$component"
            else
                echo "error: cargo $component not found; install the Rust component $component" >&2
                exit 1
            fi
        fi
    done
}

# Installs cargo-fuzz from crates.io when `cargo fuzz` is missing. It builds
# and runs the fuzz targets in fuzz/ (see scripts/fuzz.sh).
require_cargo_fuzz() {
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "installing cargo-fuzz"
        cargo install cargo-fuzz --locked
    fi
}
