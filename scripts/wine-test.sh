#!/usr/bin/env bash
# Runs the Windows build of wharf for real, under Wine, on a Debian 12 machine:
#   1. installs Wine, the mingw-w64 linker and Debian's rustc-web toolchain;
#   2. cross-builds wharf.exe for x86_64-pc-windows-gnu;
#   3. builds bcryptprimitives.dll (ProcessPrng, which Wine 8.0 lacks and
#      Rust's std imports) and puts it on WINEPATH;
#   4. runs the unit tests of the crates with Windows code as Windows
#      programs under Wine (Wine is cargo's target runner);
#   5. runs the Wine parity suite (crates/wharf-cli/tests/wine_parity.rs):
#      each case built by wharf.exe under Wine and by the Linux wharf
#      against a loopback registry, with identical digests asserted.
# Any step that fails fails the script; nothing is skipped silently.
#
# Usage, from anywhere:  bash scripts/wine-test.sh
# Env: WHARF_WINE_TARGET_DIR (default target/wine), WHARF_WINE_STEPS
#      (default "unit suite").
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

need=()
for p in wine64 gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 \
         rustc-web cargo-web rust-web-src docker-registry python3; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "wine-test: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

target=x86_64-pc-windows-gnu
wine=/usr/lib/wine/wine64
target_dir=${WHARF_WINE_TARGET_DIR:-$repo/target/wine}
steps=${WHARF_WINE_STEPS:-unit suite}
mkdir -p "$target_dir"

# Debian's toolchain, whose std source matches its compiler (rustup cannot
# add targets here); -Zbuild-std builds std for the target.
cross() {
  env CARGO_TARGET_DIR="$target_dir" RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc \
    PATH="/usr/bin:$PATH" \
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$wine" \
    /usr/bin/cargo "$@" -Zbuild-std=std,panic_abort --target "$target"
}

echo "wine-test: $($wine --version), $(/usr/bin/rustc --version)" >&2

# The dev profile: the quickest to build, and fast enough for the suite's
# small images.
start=$(date +%s)
echo "== wine-test: cross-building wharf.exe ($target)" >&2
cross build -p wharf-cli --bin wharf
exe="$target_dir/$target/debug/wharf.exe"
test -f "$exe"
echo "wine-test: wharf.exe built in $(( $(date +%s) - start )) s" >&2

shim="$target_dir/wine-shim"
mkdir -p "$shim"
x86_64-w64-mingw32-gcc -O2 -shared -o "$shim/bcryptprimitives.dll" \
  scripts/wine/processprng.c -ladvapi32

# A scratch Wine prefix (created on first start, about 8 s), quiet Wine,
# the shim found through WINEPATH.
export WINEPREFIX="$target_dir/prefix"
export WINEDEBUG=-all
export WINEPATH="$(printf 'Z:%s' "$shim" | tr / '\\')"
export WINEDLLOVERRIDES="mscoree,mshtml="

# wharf.exe must start: a loader failure (a missing DLL) ends here. The
# first start also creates the prefix.
"$wine" "$exe" --help >"$target_dir/help.txt" 2>&1 || {
  cat "$target_dir/help.txt" >&2
  echo "wine-test: wharf.exe does not start under Wine" >&2
  exit 1
}
grep -q "build" "$target_dir/help.txt"

# Then one wineserver for the rest of the run: each test binary and
# wharf.exe is a new Wine client, and a client that connects while an
# idle server is shutting down fails with "recvmsg: Connection reset by
# peer". The first start's server is waited out, then a persistent one
# started.
wineserver=/usr/lib/wine/wineserver64
"$wineserver" -w
"$wineserver" -p
trap '"$wineserver" -k 2>/dev/null || true' EXIT

for step in $steps; do
  case $step in
    unit)
      echo "== wine-test: Windows-target unit tests under Wine" >&2
      t=$(date +%s)
      cross test --no-fail-fast -p wharf-oci -p wharf-frontend -p wharf-layer -p wharf-store \
        -p wharf-hcs -p wharf-image -p wharf-run --lib
      echo "wine-test: unit tests took $(( $(date +%s) - t )) s" >&2
      ;;
    suite)
      echo "== wine-test: parity suite (wharf.exe under Wine vs Linux wharf)" >&2
      t=$(date +%s)
      WHARF_WINE_EXE="$exe" WHARF_WINE="$wine" \
        cargo test -p wharf-cli --test wine_parity -- --include-ignored --test-threads=2
      echo "wine-test: parity suite took $(( $(date +%s) - t )) s" >&2
      ;;
    *) echo "wine-test: unknown step $step" >&2; exit 2 ;;
  esac
done
echo "wine-test: ok in $(( $(date +%s) - start )) s" >&2
