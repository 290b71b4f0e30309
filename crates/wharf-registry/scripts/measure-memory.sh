#!/usr/bin/env bash
# Peak memory of pushing and pulling a large layer (default 2048 MiB)
# through a local CNCF registry (Debian package docker-registry).
# Usage: crates/wharf-registry/scripts/measure-memory.sh [size MiB] [chunk MiB]
set -euo pipefail
size=${1:-2048}
chunk=${2:-64}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/config.yml" <<YAML
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: "127.0.0.1:$port"}
YAML
/usr/bin/docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
cargo build --release -p wharf-registry --example big_layer
bin=${CARGO_TARGET_DIR:-target}/release/examples/big_layer
/usr/bin/time -v "$bin" "127.0.0.1:$port" "$size" "$work" "$chunk" 2>"$work/time.txt"
grep -E "Maximum resident set size|Elapsed" "$work/time.txt"
