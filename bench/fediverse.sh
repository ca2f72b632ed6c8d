#!/usr/bin/env bash
# ActivityPub fan-out benchmark (issue 17): an article published to 10,000 followers on 1,000
# instances. The instances are one sink (bench/fediverse_sink.rs) on 0.0.0.0:SINK_PORT, reached
# at 1,000 loopback addresses 127.0.x.y, so each is a host (an instance) of its own.
#
# Run from the repository root:
#
#     bash bench/fediverse.sh
#
# Two rounds on one server, each publishing one article:
#   shared    10 followers per instance share its shared inbox: 1,000 distinct inboxes;
#   personal  every follower has its own inbox: 10,000 inboxes (long enough a delivery to
#             measure pages during it).
# Figures: (a) the Federate job's time to queue every delivery (from the server's log),
# (b) signed requests per second the sink received (first to last), (c) wrk requests/s on a
# cached article page and on the home page while the personal round delivers, against the
# same pages idle in the same run (the mean of a run before publishing and one after delivery).
#
# Knobs (environment):
#   DURATION=8          seconds of wrk load per page and phase (wrk -d)
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
DURATION="${DURATION:-8}"
FOLLOWERS="${FOLLOWERS:-10000}"
INSTANCES="${INSTANCES:-1000}"
MAX_ENQUEUE_MS=2000
MIN_RPS=200
MIN_PAGE_RATIO="0.90"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
SCRIPT=fediverse.sh
source bench/lib.sh

COMMAND="DURATION=$DURATION FOLLOWERS=$FOLLOWERS INSTANCES=$INSTANCES"
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
"$SINK_BIN" "$SINK_PORT" >"$WORK/sink.log" 2>&1 &
SINK_PID=$!
RUST_LOG="${RUST_LOG:-info}" "$BIN" --data "$DATA" serve --listen "$OPENVOICE_ADDR" >"$WORK/openvoice.log" 2>&1 &
OPENVOICE_PID=$!
wait_for_health "$OPENVOICE_ADDR" "$OPENVOICE_PID" "$WORK/openvoice.log"
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
    rows.append((actor, host, inbox, actor + "#follow", int(time.time())))
con = sqlite3.connect(db, timeout=30)
con.execute("DELETE FROM ap_followers")
con.executemany("INSERT INTO ap_followers (actor_id, host, inbox, follow_id, followed_at) VALUES (?, ?, ?, ?, ?)", rows)
con.commit()
PY
}

ARTICLE_PATH="/article/$(sqlite3 "$DATA/openvoice.db" "SELECT slug FROM articles WHERE status = 'published' AND kind = 'post' ORDER BY published_at DESC LIMIT 1")"
run_wrk() { # URL OUT: prints requests/s
    wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${DURATION}s" --latency "$1" >"$2"
    wrk_figures "$2" | awk '{print $1}'
}

log "pages idle, ${DURATION}s each"
curl -s -o /dev/null "http://$OPENVOICE_ADDR$ARTICLE_PATH"
curl -s -o /dev/null "http://$OPENVOICE_ADDR/"
IDLE_ARTICLE="$(run_wrk "http://$OPENVOICE_ADDR$ARTICLE_PATH" "$WORK/wrk-idle-article.txt")"
IDLE_HOME="$(run_wrk "http://$OPENVOICE_ADDR/" "$WORK/wrk-idle-home.txt")"
log "  article $IDLE_ARTICLE req/s, home $IDLE_HOME req/s"

declare -A ENQUEUE_MS RPS DELIVERED INBOXES
# round NAME SHARED EXPECTED: publishes an article and waits until the sink has EXPECTED requests.
round() {
    local name=$1 shared=$2 expected=$3
    seed_followers "$shared"
    sink reset POST >/dev/null
    echo "Fan-out to the fediverse, round $name." >"$WORK/$name.md"
    "$BIN" --data "$DATA" post new --title "Fan-out $name" --file "$WORK/$name.md" --publish >/dev/null
    log "round $name: published, $expected inboxes"
    if [[ "$name" == personal ]]; then
        log "pages during delivery, ${DURATION}s each"
        BUSY_ARTICLE="$(run_wrk "http://$OPENVOICE_ADDR$ARTICLE_PATH" "$WORK/wrk-busy-article.txt")"
        local mid; mid="$(sink stats | awk '{print $1}')"
        BUSY_HOME="$(run_wrk "http://$OPENVOICE_ADDR/" "$WORK/wrk-busy-home.txt")"
        local after; after="$(sink stats | awk '{print $1}')"
        log "  article $BUSY_ARTICLE req/s, home $BUSY_HOME req/s (delivered $mid, then $after of $expected)"
        ((after < expected)) || log "  warning: delivery ended before the home page's run did"
    fi
    local deadline=$((SECONDS + 600))
    while :; do
        read -r count first last <<<"$(sink stats)"
        ((count >= expected)) && break
        ((SECONDS < deadline)) || die "round $name: only $count of $expected delivered"
        sleep 0.5
    done
    ENQUEUE_MS[$name]="$(grep -a "Federated article" "$WORK/openvoice.log" | tail -n 1 | grep -ao 'inboxes in [0-9]* ms' | awk '{print $3}')"
    RPS[$name]="$(awk -v n="$count" -v a="$first" -v b="$last" 'BEGIN { printf "%.0f", (b > a) ? (n - 1) * 1000 / (b - a) : 0 }')"
    DELIVERED[$name]=$count INBOXES[$name]=$expected
    log "  enqueued in ${ENQUEUE_MS[$name]} ms; $count signed requests at ${RPS[$name]}/s"
}

round shared 1 "$INSTANCES"
round personal 0 "$FOLLOWERS"

# Idle again once delivery is over: the busy runs are compared with the mean of the idle runs
# around them, so a machine that drifts during the run (another tenant, warm-up) is not taken
# for the delivery's cost.
log "pages idle again, ${DURATION}s each"
AFTER_ARTICLE="$(run_wrk "http://$OPENVOICE_ADDR$ARTICLE_PATH" "$WORK/wrk-after-article.txt")"
AFTER_HOME="$(run_wrk "http://$OPENVOICE_ADDR/" "$WORK/wrk-after-home.txt")"
log "  article $AFTER_ARTICLE req/s, home $AFTER_HOME req/s"
IDLE_ARTICLE="$(awk -v a="$IDLE_ARTICLE" -v b="$AFTER_ARTICLE" 'BEGIN { printf "%.2f", (a + b) / 2 }')"
IDLE_HOME="$(awk -v a="$IDLE_HOME" -v b="$AFTER_HOME" 'BEGIN { printf "%.2f", (a + b) / 2 }')"

ARTICLE_RATIO="$(awk -v a="$BUSY_ARTICLE" -v b="$IDLE_ARTICLE" 'BEGIN { printf "%.2f", a / b }')"
HOME_RATIO="$(awk -v a="$BUSY_HOME" -v b="$IDLE_HOME" 'BEGIN { printf "%.2f", a / b }')"
MISSED=0
check() { # DESCRIPTION OK
    if [[ "$2" == 1 ]]; then echo "  ok      $1"; else echo "  MISSED  $1"; MISSED=1; fi
}
{
    echo "$(date -u +%F) $COMMAND"
    echo "cores: $(nproc); followers $FOLLOWERS on $INSTANCES instances"
    for name in shared personal; do
        echo "$name: ${INBOXES[$name]} inboxes, enqueued in ${ENQUEUE_MS[$name]} ms, ${DELIVERED[$name]} signed requests at ${RPS[$name]}/s"
    done
    echo "article page: idle $IDLE_ARTICLE req/s (mean of before and after), during delivery $BUSY_ARTICLE req/s ($ARTICLE_RATIO)"
    echo "home page:    idle $IDLE_HOME req/s (mean of before and after), during delivery $BUSY_HOME req/s ($HOME_RATIO)"
    for name in shared personal; do
        check "$name: enqueue ${ENQUEUE_MS[$name]} ms <= $MAX_ENQUEUE_MS" "$(( ${ENQUEUE_MS[$name]:-99999} <= MAX_ENQUEUE_MS ))"
        check "$name: ${RPS[$name]} signed req/s >= $MIN_RPS" "$(( ${RPS[$name]} >= MIN_RPS ))"
    done
    check "article page during delivery $ARTICLE_RATIO >= $MIN_PAGE_RATIO" "$(awk -v r="$ARTICLE_RATIO" -v m="$MIN_PAGE_RATIO" 'BEGIN { print (r >= m) ? 1 : 0 }')"
    check "home page during delivery $HOME_RATIO >= $MIN_PAGE_RATIO" "$(awk -v r="$HOME_RATIO" -v m="$MIN_PAGE_RATIO" 'BEGIN { print (r >= m) ? 1 : 0 }')"
} | tee "$WORK/results.txt"
mkdir -p bench/results
cp "$WORK/results.txt" "bench/results/fediverse-$(date -u +%Y%m%d-%H%M%S).txt"
[[ "${STRICT:-0}" == 1 && "$MISSED" == 1 ]] && exit 1
exit 0
