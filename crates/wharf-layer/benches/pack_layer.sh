#!/usr/bin/env bash
# Benchmark: pack a >= 1 GiB tree into a layer with digests, against the shell
# pipelines `tar -c | gzip -6 | sha256sum` and `tar -c | zstd -T2 | sha256sum`,
# all measured in the same run on the same tree. Prints a Markdown section for
# BENCHMARKS.md. Not part of the tests.
#
# Usage (from the repository root): crates/wharf-layer/benches/pack_layer.sh [TREE]
# Without TREE, a tree of several copies of a Debian minbase root is built under
# /var/cache/wharf-test/bench-tree (needs the debootstrap cache of tests/debian.rs).
set -euo pipefail

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-layer}
tree=${1:-}
if [ -z "$tree" ]; then
  src=${WHARF_DEBIAN_ROOT:-/var/cache/wharf-test/bookworm-minbase}
  tree=/var/cache/wharf-test/bench-tree
  if [ ! -d "$tree" ]; then
    [ -d "$src" ] || { echo "no Debian tree at $src: run the debian test first" >&2; exit 1; }
    mkdir -p "$tree.tmp"
    for i in 1 2 3 4 5 6; do cp -a "$src" "$tree.tmp/copy$i"; done
    mv "$tree.tmp" "$tree"
  fi
fi

cargo build -q --release -p wharf-layer --example pack_dir
bin=$CARGO_TARGET_DIR/release/examples/pack_dir
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Warm the page cache so every contender reads from memory.
tar -c -C "$tree" . | wc -c > "$out/tar_bytes"
tar_bytes=$(cat "$out/tar_bytes")
mb=$(awk "BEGIN {print $tar_bytes / 1e6}")

run() { # name, command...
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > "$out/$name.log"
  t1=$(date +%s.%N)
  awk "BEGIN {printf \"%.2f\", $t1 - $t0}"
}

t_gzip6=$(run gzip6 bash -c "tar -c -C '$tree' . | gzip -6 | sha256sum")
t_zstd=$(run zstd bash -c "tar -c -C '$tree' . | zstd -q -T2 | sha256sum")
t_w6=$(run wharf6 "$bin" "$tree" "$out/l6.tgz" gzip:6)
t_w1=$(run wharf1 "$bin" "$tree" "$out/l1.tgz" gzip:1)
t_wz=$(run wharfz "$bin" "$tree" "$out/lz.tzst" zstd:3)
size() { stat -c %s "$1"; }

rate() { awk "BEGIN {printf \"%.0f\", $mb / $1}"; }
ratio() { awk "BEGIN {printf \"%.2f\", $t_gzip6 / $1}"; }

cat <<MD
## Layer packing (wharf-layer)

Tree: \`$tree\`, tar stream $(awk "BEGIN {printf \"%.0f\", $mb}") MB; $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')); $(date -u +%Y-%m-%d).
Each row packs the tree and computes SHA-256 digests; times include reading the tree.

| pipeline | seconds | MB/s (uncompressed) | vs \`gzip -6\` pipeline | output MB |
|---|---|---|---|---|
| \`tar -c \| gzip -6 \| sha256sum\` | $t_gzip6 | $(rate "$t_gzip6") | 1.00× | – |
| \`tar -c \| zstd -T2 \| sha256sum\` | $t_zstd | $(rate "$t_zstd") | $(ratio "$t_zstd")× | – |
| wharf gzip level 6, parallel (digest + diff_id) | $t_w6 | $(rate "$t_w6") | $(ratio "$t_w6")× | $(awk "BEGIN {printf \"%.0f\", $(size "$out/l6.tgz") / 1e6}") |
| wharf gzip level 1, parallel (digest + diff_id) | $t_w1 | $(rate "$t_w1") | $(ratio "$t_w1")× | $(awk "BEGIN {printf \"%.0f\", $(size "$out/l1.tgz") / 1e6}") |
| wharf zstd level 3, 2 threads (digest + diff_id) | $t_wz | $(rate "$t_wz") | $(ratio "$t_wz")× | $(awk "BEGIN {printf \"%.0f\", $(size "$out/lz.tzst") / 1e6}") |
MD
