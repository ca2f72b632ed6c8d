#!/usr/bin/env bash
# ActivityPub fan-out benchmark (issue 17): an article published to 10,000 followers on 1,000
# instances. The instances are one sink (bench/fediverse_sink.rs) on 0.0.0.0:SINK_PORT, reached
# at 1,000 loopback addresses 127.0.x.y, so each is a host (an instance) of its own; it verifies
# every request's signature with the key the site's actor publishes, and the run fails if any
# does not verify.
#
# Run from the repository root:
#
#     bash bench/fediverse.sh
#
# Two rounds on one server, each publishing one article:
#   shared    10 followers per instance share its shared inbox: 1,000 distinct inboxes;
#   personal  every follower has its own inbox: 10,000 inboxes (long enough a delivery to
#             measure pages during it).
# Figures:
# (a) the Federate job's time to queue every delivery (from the server's log);
# (b) in the shared round, with no page load: verified signed requests per second the sink
#     received (first to last), and the server's and the sink's CPU time per delivery (/proc);
# (c) pages during the personal round, in alternating slices. Its delivery is cut into
#     SLICE-second slices, by turns with the instances answering (busy: the server signs and
#     sends its deliveries) and with the sink stopped (SIGSTOP; idle: the server's in-flight
#     requests wait, well within their 10 s timeout, and it has nothing else to do), with wrk
#     on one page (a cached article page or the home page) in every slice. A page's figure is
#     the median over its pairs of busy/idle requests per second. The two slices of a pair are
#     seconds apart and take turns going first, so the drift of a shared machine (up to 20%
#     between runs a minute apart here) falls on both. The sink's count over the busy slices is
#     the delivery rate while the pages are loaded.
#
# Knobs (environment):
#   SLICE=2             seconds of a slice (wrk -d); PAIRS=16 busy/idle pairs, pages by turns
#                       (PAIRS * SLICE seconds of busy slices must fit in the personal round)
#   FOLLOWERS=10000     followers; INSTANCES=1000 instances (at most 62,000)
#   OPENVOICE_BIN=path  use this binary instead of `cargo build --release`
#   OPENVOICE_ACTIVITYPUB_DELIVERIES_PER_SECOND=N  the server's delivery pace (default 210)
#   SINK_BIN=path       use this sink instead of `cargo build --release --example fediverse_sink`
#   KEEP=1              keep the temporary folder (data, logs, wrk output)
#   STRICT=1            exit 1 if a target is missed
#
# Targets: enqueue <= 2 s, >= 200 signed requests/s, pages during delivery >= 0.90 of idle.
set -euo pipefail

OPENVOICE_ADDR="127.0.0.1:18090"
SINK_PORT=18091
WRK_THREADS=2
WRK_CONNECTIONS=32
SLICE="${SLICE:-2}"
PAIRS="${PAIRS:-16}"
FOLLOWERS="${FOLLOWERS:-10000}"
INSTANCES="${INSTANCES:-1000}"
[[ "$PAIRS" =~ ^[0-9]+$ && "$PAIRS" -ge 2 ]] || { echo "PAIRS must be 2 or more (one pair per page at least)" >&2; exit 2; }
MAX_ENQUEUE_MS=2000
MIN_RPS=200
MIN_PAGE_RATIO="0.90"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
SCRIPT=fediverse.sh
source bench/lib.sh

COMMAND="SLICE=$SLICE PAIRS=$PAIRS FOLLOWERS=$FOLLOWERS INSTANCES=$INSTANCES"
for var in OPENVOICE_ACTIVITYPUB_DELIVERIES_PER_SECOND OPENVOICE_BIN SINK_BIN KEEP STRICT; do
    if [[ -n "${!var:-}" ]]; then COMMAND+=" $var=${!var}"; fi
done
COMMAND+=" bash bench/fediverse.sh"

need_wrk
command -v sqlite3 >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3 >/dev/null; }

WORK="$(mktemp -d /tmp/openvoice-fediverse.XXXXXX)"
OPENVOICE_PID="" SINK_PID=""
cleanup() {
    local status=$?
    for pid in "$OPENVOICE_PID" "$SINK_PID"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -CONT "$pid" 2>/dev/null || true
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

openvoice_bin
if [[ -z "${SINK_BIN:-}" ]]; then
    log "cargo build --release --example fediverse_sink"
    cargo build --release --quiet --example fediverse_sink
    SINK_BIN="${CARGO_TARGET_DIR:-target}/release/examples/fediverse_sink"
fi

DATA="$WORK/data"
mkdir -p "$DATA"
printf '[activitypub]\nallow_private_addresses = true\n' >"$DATA/openvoice.toml"
RUST_LOG="${RUST_LOG:-info}" "$BIN" --data "$DATA" serve --listen "$OPENVOICE_ADDR" >"$WORK/openvoice.log" 2>&1 &
OPENVOICE_PID=$!
wait_for_health "$OPENVOICE_ADDR" "$OPENVOICE_PID" "$WORK/openvoice.log"
# The sink starts once the site is up: it fetches the actor's public key to verify with.
"$SINK_BIN" "$SINK_PORT" "http://$OPENVOICE_ADDR/activitypub/actor" >"$WORK/sink.log" 2>&1 &
SINK_PID=$!
for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$SINK_PORT/stats" >/dev/null && break
    kill -0 "$SINK_PID" 2>/dev/null || die "the sink did not start: $(cat "$WORK/sink.log")"
    sleep 0.1
done
# Let the demo seed's jobs (bundles, snapshot) finish before anything is measured.
for _ in $(seq 1 300); do
    pending="$(sqlite3 "$DATA/openvoice.db" "SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND run_at <= strftime('%s','now')")"
    [[ "$pending" == 0 ]] && break
    sleep 0.5
done

sink() { curl -s "http://127.0.0.1:$SINK_PORT/$1" ${2:+-X "$2"}; }

# followers SHARED: FOLLOWERS rows, instance i at 127.0.(1 + i/250).(1 + i%250).
seed_followers() {
    local shared=$1
    python3 - "$DATA/openvoice.db" "$FOLLOWERS" "$INSTANCES" "$SINK_PORT" "$shared" <<'PY'
import sqlite3, sys, time
db, followers, instances, port, shared = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1"
rows = []
for n in range(followers):
    i = n % instances
    host = f"127.0.{1 + i // 250}.{1 + i % 250}"
    actor = f"http://{host}:{port}/users/u{n}"
    inbox = f"http://{host}:{port}/inbox" if shared else f"{actor}/inbox"
    rows.append((actor, f"{host}:{port}", inbox, actor + "#follow", int(time.time())))
con = sqlite3.connect(db, timeout=30)
con.execute("DELETE FROM ap_followers")
con.executemany("INSERT INTO ap_followers (actor_id, host, inbox, follow_id, followed_at) VALUES (?, ?, ?, ?, ?)", rows)
con.commit()
PY
}

ARTICLE_PATH="/article/$(sqlite3 "$DATA/openvoice.db" "SELECT slug FROM articles WHERE status = 'published' AND kind = 'post' ORDER BY published_at DESC LIMIT 1")"
declare -A PAGE_URL=([article]="http://$OPENVOICE_ADDR$ARTICLE_PATH" [home]="http://$OPENVOICE_ADDR/")
# load PAGE SECONDS OUT: wrk on PAGE; prints requests/s.
load() {
    wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$2s" --latency "${PAGE_URL[$1]}" >"$3"
    wrk_figures "$3" | awk '{print $1}'
}
# median N...: the median of the numbers.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# cpu_ms PID: the CPU time (user and system) the process has used, in milliseconds.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }
delivered() { sink stats | awk '{print $1}'; }

# A cold server's first seconds of load are slower (allocator, caches): warm both pages first.
log "warming up both pages"
for page in article home; do load "$page" 3 "$WORK/wrk-warmup-$page.txt" >/dev/null; done

declare -A ENQUEUE_MS RPS DELIVERED INBOXES SERVER_CPU_MS SINK_CPU_MS
declare -A BUSY IDLE PAIR_RATIOS # page -> requests/s of its slices (busy/idle of its pairs), space-separated
BUSY_DELIVERED=0 BUSY_MS=0 LAST_BUSY_DELIVERED=0

# slices: the busy/idle pairs of figure (c), while the personal round delivers.
slices() {
    local k page first second phase before started rps n busy_rps idle_rps
    for ((k = 0; k < PAIRS; k++)); do
        page=$([[ $(((k / 2) % 2)) == 0 ]] && echo article || echo home)
        if ((k % 2 == 0)); then first=busy second=idle; else first=idle second=busy; fi
        for phase in $first $second; do
            if [[ $phase == busy ]]; then
                before="$(delivered)" started="$(date +%s%3N)"
                rps="$(load "$page" "$SLICE" "$WORK/wrk-$k-busy-$page.txt")"
                n=$(($(delivered) - before))
                BUSY_DELIVERED=$((BUSY_DELIVERED + n)) BUSY_MS=$((BUSY_MS + $(date +%s%3N) - started))
                LAST_BUSY_DELIVERED=$n
                BUSY[$page]+="$rps "
                busy_rps=$rps
            else
                kill -STOP "$SINK_PID"
                rps="$(load "$page" "$SLICE" "$WORK/wrk-$k-idle-$page.txt")"
                kill -CONT "$SINK_PID"
                IDLE[$page]+="$rps "
                idle_rps=$rps
            fi
            log "  pair $k, $page, $phase: $rps req/s${n:+, $n delivered}"
            n=""
        done
        PAIR_RATIOS[$page]+="$(awk -v a="$busy_rps" -v b="$idle_rps" 'BEGIN { printf "%.3f", a / b }') "
    done
}

# round NAME SHARED EXPECTED: publishes an article and waits until the sink has EXPECTED requests.
round() {
    local name=$1 shared=$2 expected=$3
    seed_followers "$shared"
    sink reset POST >/dev/null
    local server_cpu sink_cpu
    server_cpu="$(cpu_ms "$OPENVOICE_PID")" sink_cpu="$(cpu_ms "$SINK_PID")"
    echo "Fan-out to the fediverse, round $name." >"$WORK/$name.md"
    "$BIN" --data "$DATA" post new --title "Fan-out $name" --file "$WORK/$name.md" --publish >/dev/null
    log "round $name: published, $expected inboxes"
    if [[ "$name" == personal ]]; then
        log "pages in $PAIRS busy/idle pairs of ${SLICE}s slices"
        slices
        ((LAST_BUSY_DELIVERED > 0)) || log "  warning: delivery ended before the slices did"
    fi
    local deadline=$((SECONDS + 600))
    while :; do
        read -r count first last rejected <<<"$(sink stats)"
        ((rejected == 0)) || die "round $name: $rejected requests did not verify (sink log: $WORK/sink.log)"
        ((count >= expected)) && break
        ((SECONDS < deadline)) || die "round $name: only $count of $expected delivered"
        sleep 0.5
    done
    SERVER_CPU_MS[$name]="$(awk -v a="$server_cpu" -v b="$(cpu_ms "$OPENVOICE_PID")" -v n="$count" 'BEGIN { printf "%.3f", (b - a) / n }')"
    SINK_CPU_MS[$name]="$(awk -v a="$sink_cpu" -v b="$(cpu_ms "$SINK_PID")" -v n="$count" 'BEGIN { printf "%.3f", (b - a) / n }')"
    ENQUEUE_MS[$name]="$(grep -a "Federated article" "$WORK/openvoice.log" | tail -n 1 | grep -ao 'inboxes in [0-9]* ms' | awk '{print $3}')"
    RPS[$name]="$(awk -v n="$count" -v a="$first" -v b="$last" 'BEGIN { printf "%.0f", (b > a) ? (n - 1) * 1000 / (b - a) : 0 }')"
    DELIVERED[$name]=$count INBOXES[$name]=$expected
    log "  enqueued in ${ENQUEUE_MS[$name]} ms; $count verified signed requests"
}

round shared 1 "$INSTANCES"
round personal 0 "$FOLLOWERS"

declare -A RATIO
for page in article home; do
    # shellcheck disable=SC2086 # the slices' figures are space-separated on purpose
    RATIO[$page]="$(median ${PAIR_RATIOS[$page]} | awk '{ printf "%.2f", $1 }')"
done
LOADED_RPS="$(awk -v n="$BUSY_DELIVERED" -v ms="$BUSY_MS" 'BEGIN { printf "%.0f", n * 1000 / ms }')"

MISSED=0
check() { # DESCRIPTION OK
    if [[ "$2" == 1 ]]; then echo "  ok      $1"; else echo "  MISSED  $1"; MISSED=1; fi
}
at_least() { awk -v r="$1" -v m="$2" 'BEGIN { print (r >= m) ? 1 : 0 }'; }
{
    echo "$(date -u +%F) $COMMAND"
    echo "cores: $(nproc); followers $FOLLOWERS on $INSTANCES instances"
    for name in shared personal; do
        echo "$name: ${INBOXES[$name]} inboxes, enqueued in ${ENQUEUE_MS[$name]} ms, ${DELIVERED[$name]} verified signed requests"
    done
    echo "shared round, no page load: ${RPS[shared]} deliveries/s; CPU per delivery: server ${SERVER_CPU_MS[shared]} ms, sink ${SINK_CPU_MS[shared]} ms"
    echo "personal round, busy slices (pages loaded): $BUSY_DELIVERED deliveries in ${BUSY_MS} ms, $LOADED_RPS/s"
    for page in article home; do
        echo "$page page: busy/idle of its pairs ${PAIR_RATIOS[$page]}(median ${RATIO[$page]}); req/s busy ${BUSY[$page]}idle ${IDLE[$page]}"
    done
    for name in shared personal; do
        check "$name: enqueue ${ENQUEUE_MS[$name]} ms <= $MAX_ENQUEUE_MS" "$(( ${ENQUEUE_MS[$name]:-99999} <= MAX_ENQUEUE_MS ))"
    done
    check "shared round: ${RPS[shared]} signed req/s >= $MIN_RPS" "$(at_least "${RPS[shared]}" "$MIN_RPS")"
    check "personal round while pages are loaded: $LOADED_RPS signed req/s >= $MIN_RPS" "$(at_least "$LOADED_RPS" "$MIN_RPS")"
    for page in article home; do
        check "$page page during delivery ${RATIO[$page]} >= $MIN_PAGE_RATIO of idle" "$(at_least "${RATIO[$page]}" "$MIN_PAGE_RATIO")"
    done
} | tee "$WORK/results.txt"
mkdir -p bench/results
cp "$WORK/results.txt" "bench/results/fediverse-$(date -u +%Y%m%d-%H%M%S).txt"
[[ "${STRICT:-0}" == 1 && "$MISSED" == 1 ]] && exit 1
exit 0
