#!/usr/bin/env bash
# Does a write touch only what it changed? Readers load many article pages (from the page
# cache) while the newsroom approves comments and publishes articles; the figure is the readers'
# requests/s and p99 under those writes against the same readers on a quiet site, in one run.
#
# Run from the repository root:
#
#     bash bench/mixed.sh
#
# Knobs (environment):
#   SIZE=10000               articles in the archive (bench/gen_corpus.py)
#   READ_PAGES=500           article pages the readers spread over (wrk -t2 -c64, bench/rotate.lua)
#   COMMENTED=20             of those, how many have the comment that the writes moderate
#   APPROVALS_PER_S=10       comment moderations per second (approve, then back to pending)
#   PUBLISHES_PER_S=1        new articles published per second (through the API)
#   DURATION=20              seconds of each measured run, after WARMUP=3 seconds
#   CACHE=/tmp/openvoice-scale   the corpus (and the import bench/scale.sh keeps) are reused
#   OPENVOICE_BIN=path       use this binary instead of `cargo build --release`
#   OTHER_ARTICLES_LAG=60    http.other_articles_lag_secs of the site (0: every publish drops
#                            every article page)
#   BACKEND=sqlite           or postgres: the archive imported afresh into database ov_mixed on
#   PG_URL=postgres://postgres@127.0.0.1:5432   (trust auth)
#
# Target (issue 15): under the writes, >= 0.70x the quiet requests/s, p99 reported alongside.
set -euo pipefail
SCRIPT=mixed.sh
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
source bench/lib.sh

SIZE="${SIZE:-10000}"
READ_PAGES="${READ_PAGES:-500}"
COMMENTED="${COMMENTED:-20}"
DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-3}"
CACHE="${CACHE:-/tmp/openvoice-scale}"
OTHER_ARTICLES_LAG="${OTHER_ARTICLES_LAG:-60}"
BACKEND="${BACKEND:-sqlite}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
export APPROVALS_PER_S="${APPROVALS_PER_S:-10}" PUBLISHES_PER_S="${PUBLISHES_PER_S:-1}"
ADDR="127.0.0.1:18095"

need_wrk
openvoice_bin

WORK="$(mktemp -d /tmp/openvoice-mixed.XXXXXX)"
SERVER_PID=""
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- The archive: a copy of the one bench/scale.sh imported, or a fresh import -----------
corpus="$(corpus_of "$SIZE" "$CACHE")"
DATA="$WORK/data"
DB_ARGS=()
if [[ "$BACKEND" == postgres ]]; then
    DB_ARGS=(--database-url "$PG_URL/ov_mixed")
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS ov_mixed" -c "CREATE DATABASE ov_mixed" >/dev/null
fi
if [[ "$BACKEND" == sqlite && -f "$CACHE/data-sqlite-$SIZE/.complete" ]]; then
    cp -r "$CACHE/data-sqlite-$SIZE" "$DATA"
else
    log "importing $SIZE articles ($BACKEND)"
    "$BIN" --data "$DATA" "${DB_ARGS[@]}" import markdown "$corpus" >"$WORK/import.log" 2>&1 ||
        { tail -n 20 "$WORK/import.log" >&2; die "import failed"; }
    [[ "$BACKEND" == sqlite ]] || psql "$PG_URL/ov_mixed" -qc "VACUUM ANALYZE" >/dev/null
fi
# One load generator is one client address: the comment form's limits would refuse its posts.
printf '[comments]\nmin_seconds = 0\nflood_seconds = 0\nrate_limit_burst = 100000\nrate_limit_per_minute = 100000\n' \
    >"$DATA/openvoice.toml"
"$BIN" --data "$DATA" "${DB_ARGS[@]}" user add bench-editor --email editor@bench.example --role editor >/dev/null
TOKEN="$("$BIN" --data "$DATA" "${DB_ARGS[@]}" token create --user bench-editor --name mixed-bench | sed -n 's/^Token (shown once): //p')"
[[ -n "$TOKEN" ]] || die "no API token"

# No job worker: the import's queued IPFS bundles would take CPU from both runs alike.
OPENVOICE_HTTP_OTHER_ARTICLES_LAG_SECS="$OTHER_ARTICLES_LAG" \
    "$BIN" --data "$DATA" "${DB_ARGS[@]}" serve --no-jobs --listen "$ADDR" >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
wait_for_health "$ADDR" "$SERVER_PID" "$WORK/serve.log"

# --- The pages readers read: READ_PAGES articles spread over the archive ---------------
mapfile -t slugs < <(
    for file in "$corpus"/*.md; do sed -n 's/^slug: "\(.*\)"$/\1/p' "$file" | head -n 1; done |
        awk -v n="$SIZE" -v k="$READ_PAGES" 'NR % int(n / k) == 0' | head -n "$READ_PAGES"
)
((${#slugs[@]} == READ_PAGES)) || die "found ${#slugs[@]} of $READ_PAGES article slugs"
printf '/article/%s\n' "${slugs[@]}" >"$WORK/paths.txt"
mapfile -t comment_ids < <(python3 bench/mixed_writer.py comments "http://$ADDR" "${slugs[@]:0:$COMMENTED}")
log "${#slugs[@]} pages read, comments ${comment_ids[*]} moderated"

read_load() { # "<requests/s> <p99 ms> <bad answers>" of readers for SECONDS
    PATHS_FILE="$WORK/paths.txt" wrk -t2 -c64 -d"$1s" --latency -s bench/rotate.lua "http://$ADDR" >"$WORK/wrk.out"
    wrk_figures "$WORK/wrk.out"
}
read_load "$WARMUP" >/dev/null
read -r quiet_rps quiet_p99 quiet_bad < <(read_load "$DURATION")
log "quiet: $quiet_rps req/s, p99 $quiet_p99 ms"

python3 bench/mixed_writer.py write "http://$ADDR" "$TOKEN" "$((WARMUP + DURATION + 2))" "${comment_ids[@]}" \
    >"$WORK/writer.out" &
WRITER_PID=$!
read_load "$WARMUP" >/dev/null
read -r busy_rps busy_p99 busy_bad < <(read_load "$DURATION")
wait "$WRITER_PID" || die "the writer failed: $(cat "$WORK/writer.out")"
log "under writes ($(cat "$WORK/writer.out")): $busy_rps req/s, p99 $busy_p99 ms"
((quiet_bad + busy_bad == 0)) || die "$quiet_bad + $busy_bad answers were not 2xx/3xx"

echo
echo "| $SIZE articles ($BACKEND), $READ_PAGES pages read | req/s | p99 |"
echo "|---|---:|---:|"
echo "| quiet | $quiet_rps | $quiet_p99 ms |"
echo "| $APPROVALS_PER_S approvals/s + $PUBLISHES_PER_S publish/s (lag ${OTHER_ARTICLES_LAG} s) | $busy_rps | $busy_p99 ms |"
awk -v q="$quiet_rps" -v b="$busy_rps" 'BEGIN { printf "| ratio | %.2fx | (target >= 0.70x) |\n", b / q }'
