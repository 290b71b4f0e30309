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

# Linux RUN for other architectures runs under QEMU through binfmt_misc:
# mount it where a container left it unmounted, and register the handlers
# qemu-user-static ships (with the F flag) when no init system did.
if [ -d /proc/sys/fs/binfmt_misc ] && [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  if command -v update-binfmts >/dev/null 2>&1; then
    update-binfmts --enable qemu-aarch64   # binfmt-support; fix_binary yes
  else
    /usr/lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-aarch64.conf
  fi
fi
# The arm64 busybox test base comes from Debian's busybox-static:arm64
# (wharf-testkit downloads it once).
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  apt-get update -qq
fi

# Default targets: libraries, binaries, integration tests and doc tests.
cargo test --workspace "$@"
