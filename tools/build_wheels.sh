#!/usr/bin/env bash
# Builds the release artefacts into dist/: the sdist and abi3 (CPython >= 3.10) wheels
# tagged manylinux2014 (glibc 2.17) for x86_64 and aarch64, then checks each one.
#
#   bash tools/build_wheels.sh [--skip-aarch64]
#
# No Docker: maturin links through zig (the `ziglang` package), which targets glibc 2.17
# from any host and cross-compiles aarch64. Needs Python 3 and a Rust toolchain (rustup, for
# the aarch64 standard library). The build tools are pinned here and installed into their
# own virtualenv (.build-venv), so a release does not depend on what else is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

MATURIN=1.16.0
ZIG=0.13.0.post1
AUDITWHEEL=6.8.2
TARGETS=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)
if [ "${1:-}" = "--skip-aarch64" ]; then
    TARGETS=(x86_64-unknown-linux-gnu)
fi

python3 -m venv .build-venv
.build-venv/bin/pip install --quiet "maturin==$MATURIN" "ziglang==$ZIG" "auditwheel==$AUDITWHEEL"
export PATH="$PWD/.build-venv/bin:$PATH"

rm -rf dist
started=$(date +%s)
maturin sdist --out dist
for target in "${TARGETS[@]}"; do
    rustup target add "$target" >/dev/null
    maturin build --release --strip --zig --compatibility manylinux2014 \
        --target "$target" --out dist
done
echo "built in $(( $(date +%s) - started )) s"

python3 tools/check_wheels.py dist

# The sdist builds on its own: unpacked elsewhere, built there (a debug build is enough to
# know every file a build needs is in it).
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
tar -xzf dist/ictcore-*.tar.gz -C "$unpacked"
(cd "$unpacked"/ictcore-* && maturin build --out "$unpacked/wheel" >/dev/null)
ls "$unpacked"/wheel/ictcore-*.whl >/dev/null
echo "the sdist builds"
