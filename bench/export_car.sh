#!/usr/bin/env bash
# Whole-site CAR export of the 10,000-article corpus: time and size of the first export (which
# bundles every article), then of a re-export after changing one article, with the number of new
# blocks each adds. The issue's figure: a re-export touches only the changed article's blocks.
#
# Usage: bash bench/export_car.sh      (CORPUS=/path reuses a corpus, N_ARTICLES=10000, OPENVOICE_BIN=…)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N_ARTICLES:-10000}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
BIN="${OPENVOICE_BIN:-target/release/openvoice}"
[ -n "${OPENVOICE_BIN:-}" ] || cargo build --release --quiet
CORPUS="${CORPUS:-$WORK/corpus}"
[ -d "$CORPUS" ] || python3 bench/gen_corpus.py --n "$N" --out "$CORPUS" >/dev/null
DATA="$WORK/data"
"$BIN" --data "$DATA" init >/dev/null
"$BIN" --data "$DATA" import markdown "$CORPUS" >/dev/null 2>&1

blocks() { sqlite3 "$DATA/openvoice.db" "SELECT COUNT(*) FROM blocks" 2>/dev/null || echo "?"; }
for tool in sqlite3 bc; do command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$tool" >/dev/null; }; done

export_once() { # label
  local before after start end
  before=$(blocks)
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$WORK/rss" "$BIN" --data "$DATA" export car --out "$WORK/site.car" >"$WORK/root" 2>/dev/null
  end=$(date +%s.%N)
  after=$(blocks)
  printf '| %s | %.2f s | %s MiB | %d | %d | %s MiB |\n' "$1" "$(echo "$end - $start" | bc)" \
    "$(echo "scale=1; $(stat -c %s "$WORK/site.car") / 1048576" | bc)" "$after" "$((after - before))" \
    "$(echo "scale=1; $(cat "$WORK/rss") / 1024" | bc)"
}

echo "| export | wall time | CAR size | blocks stored | new blocks | max RSS |"
echo "|---|---:|---:|---:|---:|---:|"
export_once "first (bundles $N articles)"
export_once "again, nothing changed"
slug=$(basename "$(ls "$CORPUS" | grep -- '-00500.md$')" .md)
printf 'A corrected paragraph.\n' >"$WORK/edit.md"
"$BIN" --data "$DATA" post edit "$slug" --file "$WORK/edit.md" >/dev/null
export_once "after editing one article"
echo
echo "Command: \`bash bench/export_car.sh\` (N_ARTICLES=$N), $(nproc) CPUs, revision $(git rev-parse --short HEAD)."
