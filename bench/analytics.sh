#!/usr/bin/env bash
# What counting page views costs a cached page: two servers on one site, `[analytics] enabled`
# true and false, the article page under `wrk -t2 -c64` with a browser's User-Agent (so every
# request is counted), in alternating runs; prints each run and the ratio of the medians.
#
#     bash bench/analytics.sh
#
# Knobs (environment): RUNS=6 pairs, DURATION=4 seconds each, CACHE=/tmp/openvoice-scale (the
# 1,000-article corpus is generated there once), OPENVOICE_BIN=path (else `cargo build --release`).
set -euo pipefail

RUNS="${RUNS:-6}"
DURATION="${DURATION:-4}"
CACHE="${CACHE:-/tmp/openvoice-scale}"
ON="127.0.0.1:18201"
OFF="127.0.0.1:18202"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
SCRIPT=analytics.sh
source bench/lib.sh
need_wrk
openvoice_bin

DATA="$(mktemp -d)"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$DATA"; }
trap cleanup EXIT

"$BIN" --data "$DATA" import markdown "$(corpus_of 1000 "$CACHE")" >"$DATA/import.log" 2>&1 || die "import failed"
for pair in "true $ON" "false $OFF"; do
    read -r enabled addr <<<"$pair"
    OPENVOICE_ANALYTICS_ENABLED=$enabled "$BIN" --data "$DATA" serve --no-jobs --listen "$addr" >"$DATA/serve-$enabled.log" 2>&1 &
    PIDS+=($!)
    wait_for_health "$addr" "$!" "$DATA/serve-$enabled.log"
done

PAGE="/article/$(sed -n 's/^slug: "\(.*\)"$/\1/p' "$(compgen -G "$(corpus_of 1000 "$CACHE")/*-00500.md" | head -n 1)" | head -n 1)"
UA="User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
rps() { wrk -t2 -c64 -d"${1}s" -H "$UA" "http://$2$PAGE" | awk '/^Requests\/sec:/ {print $2}'; }
rps 2 "$ON" >/dev/null
rps 2 "$OFF" >/dev/null
on=() off=()
for i in $(seq 1 "$RUNS"); do
    off+=("$(rps "$DURATION" "$OFF")")
    on+=("$(rps "$DURATION" "$ON")")
    log "pair $i: off ${off[-1]} req/s, on ${on[-1]} req/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
m_on="$(median "${on[@]}")"
m_off="$(median "${off[@]}")"
printf '| | req/s, median of %s | runs |\n|---|---:|---|\n' "$RUNS"
printf '| counting off | %.0f | %s |\n' "$m_off" "${off[*]}"
printf '| counting on | %.0f | %s |\n' "$m_on" "${on[*]}"
awk -v a="$m_on" -v b="$m_off" 'BEGIN { printf "| on / off | **%.2f** | |\n", a / b }'
