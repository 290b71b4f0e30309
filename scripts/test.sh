#!/usr/bin/env bash
# Sets up what the test suite needs on a fresh Debian 12 machine and runs it.
# System packages come from .ci/apt-packages (one name per line); the Rust
# toolchain is the machine's (rustup's cargo).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
if [ -f .ci/apt-packages ]; then
  while read -r pkg; do
    pkg=${pkg%%#*}; pkg=$(echo "$pkg" | tr -d '[:space:]')
    [ -z "$pkg" ] && continue
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done < .ci/apt-packages
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Default targets: libraries, binaries, integration tests and doc tests.
cargo test --workspace "$@"
