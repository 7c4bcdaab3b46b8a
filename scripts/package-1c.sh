#!/usr/bin/env bash
# Packages the 1C:Enterprise native component as a ZIP with MANIFEST.XML, the
# form 1C loads from a common template of type "Add-in" (Внешняя компонента)
# or from a file. Builds the release libesbyt.so for Linux x86_64 and adds
# Windows DLLs built elsewhere when they are given.
#
# Usage: scripts/package-1c.sh [--debug] [--output FILE]
#                              [--windows-x86 DLL] [--windows-x64 DLL]
#   --debug            package the debug build instead of the release build
#   --output FILE      the ZIP to write (default target/1c/esbyt-1c-VERSION.zip)
#   --windows-x86 DLL  add esbyt.dll built for i686-pc-windows-msvc
#   --windows-x64 DLL  add esbyt.dll built for x86_64-pc-windows-msvc
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prerequisites.sh

profile=release
output=
windows_x86=
windows_x64=
while [ $# -gt 0 ]; do
    case "$1" in
        --debug) profile=debug ;;
        --output) output=${2:?--output needs a file name}; shift ;;
        --windows-x86) windows_x86=${2:?--windows-x86 needs a DLL}; shift ;;
        --windows-x64) windows_x64=${2:?--windows-x64 needs a DLL}; shift ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument $1 (run $0 --help for the options)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$(uname -s) $(uname -m)" != "Linux x86_64" ]; then
    echo "error: this script builds the Linux x86_64 library and runs on Linux x86_64 only, not on $(uname -s) $(uname -m)" >&2
    exit 1
fi
for dll in "$windows_x86" "$windows_x64"; do
    if [ -n "$dll" ] && [ ! -f "$dll" ]; then
        echo "error: $dll not found" >&2
        exit 1
    fi
done

require_rust
need_command cc gcc
need_command zip zip
need_command nm binutils
install_missing

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
output=${output:-target/1c/esbyt-1c-$version.zip}

if [ "$profile" = release ]; then
    cargo build --quiet --release --lib -p esbyt
else
    cargo build --quiet --lib -p esbyt
fi
library=target/$profile/libesbyt.so

# The platform looks these five functions up by name.
exports=$(nm -D --defined-only "$library")
for entry_point in GetClassNames GetClassObject DestroyObject SetPlatformCapabilities GetAttachType; do
    if ! grep -qw "$entry_point" <<<"$exports"; then
        echo "error: $library does not export $entry_point" >&2
        exit 1
    fi
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

cp "$library" "$stage/esbyt_linux_x86_64.so"
components=('    <component os="Linux" path="esbyt_linux_x86_64.so" type="native" arch="x86_64"/>')
if [ -n "$windows_x86" ]; then
    cp "$windows_x86" "$stage/esbyt_windows_x86.dll"
    components+=('    <component os="Windows" path="esbyt_windows_x86.dll" type="native" arch="i386"/>')
fi
if [ -n "$windows_x64" ]; then
    cp "$windows_x64" "$stage/esbyt_windows_x86_64.dll"
    components+=('    <component os="Windows" path="esbyt_windows_x86_64.dll" type="native" arch="x86_64"/>')
fi

{
    printf '<?xml version="1.0" encoding="UTF-8"?>\n'
    printf '<bundle xmlns="http://v8.1c.ru/8.2/addin/bundle" name="Esbyt">\n'
    printf '%s\n' "${components[@]}"
    printf '</bundle>\n'
} >"$stage/MANIFEST.XML"

mkdir -p "$(dirname "$output")"
rm -f "$output"
# -j stores the files without the staging directory, -X without file
# attributes that differ between machines.
(cd "$stage" && zip -q -X -j - MANIFEST.XML esbyt_*) >"$output"
echo "$output"
