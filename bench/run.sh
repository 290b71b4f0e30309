#!/usr/bin/env bash
# Wharf against buildah and skopeo, on a fresh Debian 12 machine: installs
# the peers and tools from Debian, builds wharf (release), makes the Debian
# minbase root the fixtures use when it is missing, then runs
# bench/bench.py, which starts a loopback docker-registry, makes the other
# fixtures, runs every case (wharf and its peer alternately) and writes the
# results into BENCHMARKS.md.
#
# Needs root (buildah storage, debootstrap) and the Rust toolchain.
# Environment (see bench/bench.py for all):
#   WHARF_BENCH_RUNS=N   repetitions per contender (default 3)
#   WHARF_BENCH_QUICK=1  tiny fixtures, results to $WHARF_BENCH_WORK/results.md
#   WHARF_BENCH_CASES=1,2,3   a subset of the cases
# Exit status: non-zero when a case failed to run (not when it is slow).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "bench/run.sh: run as root (buildah storage, debootstrap)" >&2
  exit 2
fi

pkgs=(buildah runc skopeo docker-registry umoci busybox-static debootstrap pigz time python3 git)
need=()
for pkg in "${pkgs[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "bench/run.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release -q -p wharf-cli
cargo build --release -q -p wharf-layer --example pack_dir
export WHARF_BIN=$CARGO_TARGET_DIR/release/wharf
export WHARF_PACK_DIR=$CARGO_TARGET_DIR/release/examples/pack_dir

# The Debian minbase root (shared with the wharf-layer tests and benchmark).
cache=${WHARF_BENCH_CACHE:-/var/cache/wharf-test}
minbase=${WHARF_DEBIAN_ROOT:-$cache/bookworm-minbase}
if [ ! -e "$minbase/etc/os-release" ]; then
  echo "bench/run.sh: debootstrap --variant=minbase bookworm $minbase" >&2
  rm -rf "$minbase.tmp"
  mkdir -p "$(dirname "$minbase")"
  debootstrap --variant=minbase bookworm "$minbase.tmp" http://deb.debian.org/debian >/dev/null
  mv "$minbase.tmp" "$minbase"
fi

exec python3 bench/bench.py
