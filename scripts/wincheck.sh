#!/usr/bin/env bash
# Type-checks and lints the workspace for Windows (x86_64-pc-windows-msvc) on a
# Debian 12 Linux machine, so that cfg(windows) code is compiled in CI.
#
# How: Debian's rustc-web toolchain ships its std source (rust-web-src); with
# -Zbuild-std cargo builds core/std for the Windows target itself. rustup
# cannot add targets here, and a std source only fits the compiler it came
# with, so this uses Debian's /usr/bin/cargo and /usr/bin/rustc, never rustup's.
#
# Usage: bash scripts/wincheck.sh [extra cargo args]   (CI: .ci/run)
# Env: WINCHECK_TARGET (default x86_64-pc-windows-msvc), WINCHECK_CLIPPY=0 to skip clippy,
# WINCHECK_TARGET_DIR (default target/wincheck).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for p in rustc-web cargo-web rust-web-src rust-web-clippy; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "wincheck: installing ${need[*]} (Debian packages, about 30 s)" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

target=${WINCHECK_TARGET:-x86_64-pc-windows-msvc}
# A separate target dir: this toolchain's artifacts must not evict the normal build cache.
export CARGO_TARGET_DIR=${WINCHECK_TARGET_DIR:-target/wincheck}
export RUSTC_BOOTSTRAP=1
export PATH=/usr/bin:$PATH
export RUSTC=/usr/bin/rustc

echo "wincheck: cargo check --target $target ($(/usr/bin/rustc --version))" >&2
cargo check -Zbuild-std=std,panic_abort --target "$target" --workspace --all-targets "$@"
if [ "${WINCHECK_CLIPPY:-1}" != 0 ]; then
  echo "wincheck: cargo clippy --target $target" >&2
  cargo clippy -Zbuild-std=std,panic_abort --target "$target" --workspace --all-targets "$@" -- -D warnings
fi
echo "wincheck: ok ($target)" >&2
