#!/usr/bin/env bash
# Benchmarks `openvoice cid FILE` (UnixFS import, Kubo --cid-version=1 profile, no block stored)
# against the SHA-256 limit of this machine, `openssl dgst -sha256 FILE`, on a 1 GiB random file.
#
# Targets (from the issue): throughput >= 85% of openssl's, max RSS <= 64 MiB.
#
# Usage: bench/cid.sh
# Environment:
#   OPENVOICE_BIN   binary to run as "$OPENVOICE_BIN cid FILE" (default: target/release/openvoice,
#                   built here with `cargo build --release`). The library's stand-in is
#                   OPENVOICE_BIN=target/release/examples/cid (cargo build --release -p
#                   openvoice-ipfs --example cid), which accepts the same arguments.
#   BENCH_SIZE_MIB  size of the test file in MiB (default 1024)
#   BENCH_RUNS      hyperfine runs per command (default 5)
# Exit status: 0 targets met, 1 a target missed, 2 setup failure.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
size_mib="${BENCH_SIZE_MIB:-1024}"
runs="${BENCH_RUNS:-5}"

need_pkg() { # command, Debian package
  if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "$1" ]; then
    echo "installing $2 ..." >&2
    apt-get install -y "$2" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y "$2" >/dev/null; }
  fi
}
need_pkg hyperfine hyperfine
need_pkg /usr/bin/time time
need_pkg openssl openssl
need_pkg python3 python3-minimal

if [ -z "${OPENVOICE_BIN:-}" ]; then
  (cd "$repo" && cargo build --release --quiet)
  OPENVOICE_BIN="$repo/target/release/openvoice"
fi
[ -x "$OPENVOICE_BIN" ] || { echo "not executable: $OPENVOICE_BIN" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
file="$work/input.bin"
echo "making a ${size_mib} MiB random file in $work ..."
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$file"

echo "CID: $("$OPENVOICE_BIN" cid "$file")"
echo "SHA-NI: $(grep -q -w sha_ni /proc/cpuinfo && echo yes || echo 'no (sha2 falls back to software)')"

# Both commands read the same page-cached file in the same hyperfine run, so they see the same
# disk, cache and machine load.
hyperfine --warmup 2 --runs "$runs" --export-json "$work/hyperfine.json" \
  -n openssl "openssl dgst -sha256 '$file'" \
  -n openvoice "'$OPENVOICE_BIN' cid '$file'"

/usr/bin/time -v "$OPENVOICE_BIN" cid "$file" > /dev/null 2> "$work/time.txt"
rss_kib="$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/time.txt")"

python3 - "$work/hyperfine.json" "$size_mib" "$rss_kib" <<'EOF'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
size_mib, rss_kib = int(sys.argv[2]), int(sys.argv[3])
ssl, ours = results["openssl"], results["openvoice"]
# The median resists the odd run slowed by other work on a shared machine; CPU time (user +
# system) is shown too because it does not count time spent waiting for a core.
ratio = ssl["median"] / ours["median"]
cpu = lambda r: r["user"] + r["system"]
rss_mib = rss_kib / 1024
for name, r in (("openssl dgst -sha256", ssl), ("openvoice cid", ours)):
    print(f"{name:21} {size_mib / r['median']:7.0f} MiB/s (median {r['median']:.3f} s, "
          f"min {r['min']:.3f} s, cpu {cpu(r):.3f} s)")
print(f"throughput ratio openvoice/openssl: {ratio:.2f} by median wall time, "
      f"{ssl['min'] / ours['min']:.2f} by best run, {cpu(ssl) / cpu(ours):.2f} by CPU time (target >= 0.85)")
print(f"openvoice max RSS: {rss_mib:.1f} MiB (target <= 64 MiB)")
ok = ratio >= 0.85 and rss_mib <= 64
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
EOF
