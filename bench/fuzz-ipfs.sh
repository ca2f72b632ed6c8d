#!/usr/bin/env bash
# Fuzzes the parsers of crates/ipfs that read untrusted bytes, each for a bounded time:
#   car_reader  the streaming, verifying CARv1 reader (uploads)
#   dag_pb      the strict dag-pb decoder, its UnixFS interpretation and the pure walk helpers
# Not run in CI: it needs the nightly toolchain and cargo-fuzz (libFuzzer), and takes minutes.
#
# Usage: bench/fuzz-ipfs.sh [TARGET...]          (default: all targets)
# Environment:
#   FUZZ_SECONDS   time per target (default 120)
#   FUZZ_JOBS      parallel fuzzing processes per target (default 1; the machine has 2 cores)
# Corpora persist in crates/ipfs/fuzz/corpus/ (git-ignored) and are seeded with real CARs and
# dag-pb blocks made by the `car` example. A crash leaves its input in
# crates/ipfs/fuzz/artifacts/TARGET/ and makes this script exit non-zero.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz_dir="$repo/crates/ipfs/fuzz"
seconds="${FUZZ_SECONDS:-120}"
jobs="${FUZZ_JOBS:-1}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(car_reader dag_pb)

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "cargo-fuzz needs the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

# Seeds: a one-block file, a three-leaf file, a small site and a HAMT directory.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/in/site/a" "$work/in/hamt"
printf 'hello world' > "$work/in/hello.txt"
head -c 600000 /dev/urandom > "$work/in/three-leaves.bin"
printf '<h1>hi</h1>' > "$work/in/site/index.html"
printf 'b' > "$work/in/site/a/b.txt"
for i in $(seq -w 0 6999); do printf 'f%s' "$i" > "$work/in/hamt/f$i"; done
(cd "$repo" && cargo build --quiet -p openvoice-ipfs --example car)
car_bin="$(cd "$repo" && cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/examples/car"
mkdir -p "$fuzz_dir/corpus/car_reader" "$fuzz_dir/corpus/dag_pb"
for input in hello.txt three-leaves.bin site hamt; do
  "$car_bin" "$work/in/$input" "$fuzz_dir/corpus/car_reader/seed-$input.car" \
    "$fuzz_dir/corpus/dag_pb" > /dev/null
done
# The HAMT CAR is large; its first 64 KiB (header and the first blocks) make a better seed.
head -c 65536 "$fuzz_dir/corpus/car_reader/seed-hamt.car" > "$work/hamt-head.car"
mv "$work/hamt-head.car" "$fuzz_dir/corpus/car_reader/seed-hamt.car"

status=0
for target in "${targets[@]}"; do
  case "$target" in
    car_reader) max_len=70000 ;;
    dag_pb) max_len=32768 ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
  esac
  echo "== fuzzing $target for ${seconds}s"
  # With -jobs, libFuzzer writes each job's log to fuzz-N.log instead of the terminal.
  parallel=()
  [ "$jobs" -le 1 ] || parallel=(-jobs="$jobs" -workers="$jobs")
  # -malloc_limit_mb: no single allocation may exceed 16 MiB (the reader caps blocks at 2 MiB).
  if ! (cd "$fuzz_dir" && cargo +nightly fuzz run --release "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -max_len="$max_len" "${parallel[@]}" \
      -rss_limit_mb=1024 -malloc_limit_mb=16 -print_final_stats=1); then
    echo "!! $target found a failure: see $fuzz_dir/artifacts/$target/" >&2
    status=1
  fi
done
exit "$status"
