#!/usr/bin/env bash
# Market widgets benchmark: what the price widgets add to serving an article page.
#
# Run from the repository root:
#
#     bash bench/widgets.sh
#
# Two servers share one data folder that holds stored prices (eleven coins with 7-day history):
# one with the widgets on, one with OPENVOICE_MARKET_ENABLED=false. Both run with --no-jobs, so
# nothing polls during the runs. The article page is measured twice:
#   cached    the normal configuration: pages come from the page cache;
#   uncached  OPENVOICE_HTTP_PAGE_CACHE_ENTRIES=0: every request renders the page (database
#             queries and templates), which is where the widgets cost something.
# Runs alternate on/off for ROUNDS rounds and the medians are compared: requests/s, and the
# server's own CPU time per request (utime + stime from /proc over the run, divided by the
# requests served), which other processes on the machine do not disturb.
#
# Knobs (environment):
#   DURATION=10         seconds of wrk load per run
#   ROUNDS=3            on/off pairs per mode (the median counts)
#   WARMUP=2            seconds of unrecorded load before each run (0 = none)
#   CORPUS=/path        reuse this corpus folder if it exists, else generate it there
#   N_ARTICLES=2000     corpus size when generating
#   OPENVOICE_BIN=path  use this binary instead of `cargo build --release`
#   RENDER_BIN=path     the built examples/widgets_render (default: cargo build --release --example)
#   KEEP=1              keep the temporary folder (data dir, logs, wrk output)
#   STRICT=1            exit 1 if the target is missed
#
# Then `examples/widgets_render.rs` measures the same render in process, as the median of
# differences between alternating batches, which resolves a few microseconds where wrk on a
# shared machine cannot.
#
# Target: the widgets add at most 5% to the cost of rendering an article page (the in-process
# figure decides; the wrk figures are reported beside it). In the cached mode nothing renders:
# the difference there is the page's size.
set -euo pipefail

ARTICLE_INDEX="00500"
ADDR_ON="127.0.0.1:18180"
ADDR_OFF="127.0.0.1:18181"
ADDR_ON_UNCACHED="127.0.0.1:18182"
ADDR_OFF_UNCACHED="127.0.0.1:18183"
ADDR_SEED="127.0.0.1:18184"
FAKE_API_PORT=18185
WRK_THREADS=2
WRK_CONNECTIONS=64
DURATION="${DURATION:-10}"
DURATION="${DURATION%s}"
ROUNDS="${ROUNDS:-3}"
WARMUP="${WARMUP:-2}"
WARMUP="${WARMUP%s}"
N_ARTICLES="${N_ARTICLES:-2000}"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

log() { printf '[widgets.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

COMMAND="DURATION=$DURATION ROUNDS=$ROUNDS WARMUP=$WARMUP N_ARTICLES=$N_ARTICLES"
for var in CORPUS OPENVOICE_BIN RENDER_BIN KEEP STRICT; do
    if [[ -n "${!var:-}" ]]; then COMMAND+=" $var=${!var}"; fi
done
COMMAND+=" bash bench/widgets.sh"

# --- Tools ------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]} > 0)); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- Temporary folder and cleanup -------------------------------------------------------
WORK="$(mktemp -d /tmp/openvoice-widgets.XXXXXX)"
PIDS=()
cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ "${KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_is_free() { ! (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
for addr in "$ADDR_ON" "$ADDR_OFF" "$ADDR_ON_UNCACHED" "$ADDR_OFF_UNCACHED" "$ADDR_SEED" "127.0.0.1:$FAKE_API_PORT"; do
    port_is_free "$addr" || die "$addr is already in use"
done

# --- Build ------------------------------------------------------------------------------
if [[ -n "${OPENVOICE_BIN:-}" ]]; then
    BIN="$OPENVOICE_BIN"
else
    log "cargo build --release"
    cargo build --release --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/openvoice"
fi
if [[ -z "${RENDER_BIN:-}" ]]; then
    log "cargo build --release --example widgets_render"
    cargo build --release --quiet --example widgets_render
    RENDER_BIN="${CARGO_TARGET_DIR:-target}/release/examples/widgets_render"
fi
[[ -x "$RENDER_BIN" ]] || die "no executable at $RENDER_BIN"
[[ -x "$BIN" ]] || die "no executable at $BIN"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"

# --- Corpus and data --------------------------------------------------------------------
if [[ -n "${CORPUS:-}" && -d "$CORPUS" ]] && compgen -G "$CORPUS/*-$ARTICLE_INDEX.md" >/dev/null; then
    log "reusing corpus $CORPUS"
else
    CORPUS="${CORPUS:-$WORK/corpus}"
    log "generating $N_ARTICLES articles into $CORPUS"
    python3 bench/gen_corpus.py --n "$N_ARTICLES" --out "$CORPUS" --seed 42 >/dev/null
fi
ARTICLE_FILE="$(compgen -G "$CORPUS/*-$ARTICLE_INDEX.md" | head -n 1 || true)"
[[ -n "$ARTICLE_FILE" ]] || die "no article ending in -$ARTICLE_INDEX.md in $CORPUS"
SLUG="$(sed -n 's/^slug: "\(.*\)"$/\1/p' "$ARTICLE_FILE" | head -n 1)"
ARTICLE_PATH="/article/$SLUG"
DATA="$WORK/data"
mkdir -p "$DATA"
log "importing $CORPUS"
"$BIN" --data "$DATA" import markdown "$CORPUS" >"$WORK/import.log" 2>&1 || { tail -n 20 "$WORK/import.log" >&2; die "import failed"; }

declare -A PID_OF
# start NAME ADDR [VAR=VALUE...] -- ARGS...: starts `openvoice serve`, waits for /healthz and
# leaves its pid in LAST_PID.
start() {
    local name=$1 addr=$2
    shift 2
    local vars=()
    while [[ $# -gt 0 && "$1" != "--" ]]; do vars+=("$1"); shift; done
    shift
    env "${vars[@]}" "$BIN" --data "$DATA" serve --listen "$addr" "$@" >"$WORK/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    LAST_PID=$pid
    PID_OF[$addr]=$pid
    local deadline=$((SECONDS + 60))
    until [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/healthz" || true)" == 200 ]]; do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$WORK/$name.log" >&2; die "$name exited"; }
        ((SECONDS < deadline)) || die "$name did not answer /healthz"
        sleep 0.2
    done
}

# --- Stored prices: poll a local stand-in for CoinGecko twice -----------------------------
# (the first poll fetches ten coins' history, the second the eleventh's).
python3 bench/fake_coingecko.py "$FAKE_API_PORT" >"$WORK/fake-api.log" 2>&1 &
PIDS+=("$!")
MARKET_ENV=(
    "OPENVOICE_MARKET_COINGECKO_BASE_URL=http://127.0.0.1:$FAKE_API_PORT/api/v3"
    "OPENVOICE_MARKET_FALLBACK_PROVIDER="
    "OPENVOICE_MARKET_STALE_AFTER_SECS=86400"
)
log "storing prices (two polls, about 30 s)"
start seed "$ADDR_SEED" "${MARKET_ENV[@]}" OPENVOICE_MARKET_POLL_INTERVAL_SECS=30 --
SEED_PID=$LAST_PID
deadline=$((SECONDS + 120))
until curl -s "http://$ADDR_SEED/prices" | grep -q 'cardano' && ! curl -s "http://$ADDR_SEED/prices" | grep -q 'Not enough history'; do
    ((SECONDS < deadline)) || die "prices were not stored within 120 s (see $WORK/seed.log)"
    sleep 1
done
kill "$SEED_PID"
wait "$SEED_PID" 2>/dev/null || true
log "prices stored"

# --- The four servers -------------------------------------------------------------------
start on "$ADDR_ON" "${MARKET_ENV[@]}" -- --no-jobs
start off "$ADDR_OFF" "${MARKET_ENV[@]}" OPENVOICE_MARKET_ENABLED=false -- --no-jobs
start on-uncached "$ADDR_ON_UNCACHED" "${MARKET_ENV[@]}" OPENVOICE_HTTP_PAGE_CACHE_ENTRIES=0 -- --no-jobs
start off-uncached "$ADDR_OFF_UNCACHED" "${MARKET_ENV[@]}" OPENVOICE_MARKET_ENABLED=false OPENVOICE_HTTP_PAGE_CACHE_ENTRIES=0 -- --no-jobs

BYTES_ON="$(curl -s "http://$ADDR_ON$ARTICLE_PATH" | wc -c)"
BYTES_OFF="$(curl -s "http://$ADDR_OFF$ARTICLE_PATH" | wc -c)"
curl -s "http://$ADDR_ON$ARTICLE_PATH" | grep -q 'Latest Market Prices' || die "the widgets are missing with the market on"
curl -s "http://$ADDR_ON$ARTICLE_PATH" | grep -q 'Prices unavailable' && die "no prices stored"
curl -s "http://$ADDR_OFF$ARTICLE_PATH" | grep -q 'Latest Market Prices' && die "the widgets are shown with the market off"
log "article page: $BYTES_ON bytes with the widgets, $BYTES_OFF without"

# --- Load -------------------------------------------------------------------------------
# CPU time a process has used, in clock ticks (utime + stime).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICK_US="$(awk -v hz="$(getconf CLK_TCK)" 'BEGIN { print 1e6 / hz }')"

# run_wrk ADDR PATH OUT: prints "<requests/s> <p99 in ms> <non-2xx count> <server CPU µs per request>".
run_wrk() {
    local addr=$1 path=$2 out=$3 pid=${PID_OF[$1]}
    if ((WARMUP > 0)); then wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${WARMUP}s" "http://$addr$path" >/dev/null; fi
    local before after
    before="$(cpu_ticks "$pid")"
    wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${DURATION}s" --latency "http://$addr$path" >"$out"
    after="$(cpu_ticks "$pid")"
    awk -v ticks="$((after - before))" -v tick_us="$TICK_US" '
        /requests in/ { requests = $1 }
        /^Requests\/sec:/ { rps = $2 }
        $1 == "99%" {
            v = $2; unit = v; sub(/^[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
            p99 = v * (unit == "us" ? 0.001 : unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : 0)
        }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        END { printf "%s %.2f %d %.1f\n", rps, p99, bad, (requests > 0 ? ticks * tick_us / requests : 0) }
    ' "$out"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

declare -A RPS P99 CPU BAD
for mode in cached uncached; do
    if [[ $mode == cached ]]; then on=$ADDR_ON off=$ADDR_OFF; else on=$ADDR_ON_UNCACHED off=$ADDR_OFF_UNCACHED; fi
    on_rps=() off_rps=() on_p99=() off_p99=() on_cpu=() off_cpu=() bad=0
    for round in $(seq 1 "$ROUNDS"); do
        for side in on off; do
            addr=${!side}
            read -r rps p99 nbad cpu <<<"$(run_wrk "$addr" "$ARTICLE_PATH" "$WORK/wrk-$mode-$side-$round.txt")"
            log "$mode round $round, widgets $side: $rps req/s, p99 $p99 ms, server CPU $cpu µs/request"
            if [[ $side == on ]]; then
                on_rps+=("$rps") on_p99+=("$p99") on_cpu+=("$cpu")
            else
                off_rps+=("$rps") off_p99+=("$p99") off_cpu+=("$cpu")
            fi
            bad=$((bad + nbad))
        done
    done
    RPS[$mode-on]="$(median "${on_rps[@]}")" RPS[$mode-off]="$(median "${off_rps[@]}")"
    P99[$mode-on]="$(median "${on_p99[@]}")" P99[$mode-off]="$(median "${off_p99[@]}")"
    CPU[$mode-on]="$(median "${on_cpu[@]}")" CPU[$mode-off]="$(median "${off_cpu[@]}")"
    BAD[$mode]=$bad
done

# --- In process ---------------------------------------------------------------------------
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
log "in-process render comparison (examples/widgets_render)"
"$RENDER_BIN" 400 10 >"$WORK/render.txt" 2>&1 || { cat "$WORK/render.txt" >&2; die "widgets_render failed"; }
cat "$WORK/render.txt" >&2
RENDER_OFF="$(awk '/widgets off:/ { print $3 }' "$WORK/render.txt")"
RENDER_ADDED="$(awk '/added:/ { print $2 }' "$WORK/render.txt")"
RENDER_PCT="$(awk -v a="$RENDER_ADDED" -v b="$RENDER_OFF" 'BEGIN { printf "%+.1f", a / b * 100 }')"

# --- Report -----------------------------------------------------------------------------
ALL_MET=1
if awk -v p="$RENDER_PCT" 'BEGIN { exit !(p <= 5) }'; then
    RENDER_VERDICT="≤ 5% added: met"
else
    RENDER_VERDICT="≤ 5% added: **missed**"
    ALL_MET=0
fi
TABLE="| article page | server CPU per request, off → on | added | req/s off → on | p99 off → on | target |
|---|---:|---:|---:|---:|---|"
for mode in cached uncached; do
    cpu_off=${CPU[$mode-off]} cpu_on=${CPU[$mode-on]}
    added="$(awk -v a="$cpu_on" -v b="$cpu_off" 'BEGIN { printf "%+.1f%% (%+.1f µs)", (b > 0 ? (a / b - 1) * 100 : 0), a - b }')"
    if [[ $mode == uncached ]]; then
        verdict="(reported; see the in-process row)"
    else
        verdict="(reported; nothing renders)"
    fi
    if ((BAD[$mode] > 0)); then verdict+=", ${BAD[$mode]} non-2xx responses"; ALL_MET=0; fi
    TABLE+="
| $mode (wrk) | $cpu_off → $cpu_on µs | $added | ${RPS[$mode-off]} → ${RPS[$mode-on]} | ${P99[$mode-off]} → ${P99[$mode-on]} ms | $verdict |"
done
TABLE+="
| render, in process (demo site) | $RENDER_OFF → $(awk -v a="$RENDER_OFF" -v d="$RENDER_ADDED" 'BEGIN { printf "%.1f", a + d }') µs wall | $RENDER_PCT% ($RENDER_ADDED µs) | | | $RENDER_VERDICT |"

REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git status --porcelain 2>/dev/null | head -n 1)" ]]; then REV+="+dirty"; fi
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
REPORT="$TABLE

Medians of $ROUNDS alternating runs each of \`wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${DURATION}s --latency\` (after a ${WARMUP}s warm-up) against \`$ARTICLE_PATH\`; server CPU is the server process's utime + stime over the run divided by the requests served.
Uncached = \`OPENVOICE_HTTP_PAGE_CACHE_ENTRIES=0\`: every request renders the page.
In process: \`widgets_render 400 10\`, the median of the differences between 400 alternating pairs of 10-render batches of the demo site's article page, page cache off.
Article page size: $BYTES_ON bytes with the widgets, $BYTES_OFF without (no compression requested).
Command: \`$COMMAND\`; corpus of $(find "$CORPUS" -maxdepth 1 -name '*.md' | wc -l) articles; SQLite.
Machine: $(nproc) CPUs ($CPU), load generator on the same machine; revision $REV."

printf '\n%s\n' "$REPORT"
mkdir -p bench/results
RESULTS="bench/results/widgets-$(date -u +%Y-%m-%d).md"
printf '## %s\n\n%s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$REPORT" >>"$RESULTS"
log "appended to $RESULTS"

if [[ "${STRICT:-0}" == 1 && "$ALL_MET" != 1 ]]; then
    die "the target was missed"
fi
