#!/usr/bin/env bash
# Mail benchmark: one article fanned out to N confirmed subscribers (the outbox rows queued by
# one INSERT … SELECT), then the whole outbox delivered to a local SMTP sink (aiosmtpd,
# tests/smtp/server.py --sink) through `openvoice mail deliver`.
#
# Run from the repository root:
#
#     bash bench/mail.sh
#
# Knobs (environment):
#   N_SUBSCRIBERS=100000   confirmed subscribers (imported from a generated CSV)
#   POOL_SIZE=8            mail.pool_size: SMTP connections used at once
#   BATCH_SIZE=200         mail.batch_size: outbox rows claimed per batch
#   DATABASE_URL=postgres://user@host/db   run on PostgreSQL (in a fresh schema, dropped at the
#                          end) instead of the embedded SQLite file
#   OPENVOICE_BIN=path     use this binary instead of `cargo build --release`
#   KEEP=1                 keep the temporary folder (data, logs)
#   STRICT=1               exit 1 if a target is missed
#
# Targets: the fan-out queues the N outbox rows in <= 5 s; delivery sustains >= 500 mails/s.
set -euo pipefail

N_SUBSCRIBERS="${N_SUBSCRIBERS:-100000}"
POOL_SIZE="${POOL_SIZE:-8}"
BATCH_SIZE="${BATCH_SIZE:-200}"
SINK_PORT="${SINK_PORT:-18025}"
MAX_FANOUT_SECS="5"
MIN_MAILS_PER_SEC="500"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

log() { printf '[mail.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

COMMAND="N_SUBSCRIBERS=$N_SUBSCRIBERS POOL_SIZE=$POOL_SIZE BATCH_SIZE=$BATCH_SIZE"
for var in DATABASE_URL OPENVOICE_BIN KEEP STRICT; do
    if [[ -n "${!var:-}" ]]; then COMMAND+=" $var=${!var}"; fi
done
COMMAND+=" bash bench/mail.sh"

# --- 1. Tools ---------------------------------------------------------------------------
command -v python3 >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip >/dev/null; }
if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
    log "installing aiosmtpd (tests/smtp/requirements.txt)"
    python3 -m pip install -q -r tests/smtp/requirements.txt
fi

# --- Temporary folder and cleanup -------------------------------------------------------
WORK="$(mktemp -d /tmp/openvoice-mail.XXXXXX)"
SINK_PID=""
SCHEMA=""
cleanup() {
    local status=$?
    if [[ -n "$SINK_PID" ]] && kill -0 "$SINK_PID" 2>/dev/null; then
        kill "$SINK_PID" 2>/dev/null || true
        wait "$SINK_PID" 2>/dev/null || true
    fi
    if [[ -n "$SCHEMA" ]]; then
        psql "$DATABASE_URL" -q -c "DROP SCHEMA $SCHEMA CASCADE" >/dev/null 2>&1 || true
    fi
    if [[ "${KEEP:-0}" == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
port_is_free "$SINK_PORT" || die "127.0.0.1:$SINK_PORT is already in use (set SINK_PORT)"

# --- 2. Build ---------------------------------------------------------------------------
if [[ -n "${OPENVOICE_BIN:-}" ]]; then
    BIN="$OPENVOICE_BIN"
else
    log "cargo build --release"
    cargo build --release --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/openvoice"
fi
[[ -x "$BIN" ]] || die "no executable at $BIN"

# --- 3. Data: the demo site and N confirmed subscribers ---------------------------------
DATA="$WORK/data"
mkdir -p "$DATA"
DB_ARGS=()
BACKEND="SQLite (WAL)"
if [[ -n "${DATABASE_URL:-}" ]]; then
    command -v psql >/dev/null || die "DATABASE_URL needs psql"
    SCHEMA="ov_bench_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
    psql "$DATABASE_URL" -q -c "CREATE SCHEMA $SCHEMA" >/dev/null
    sep='?'; [[ "$DATABASE_URL" == *\?* ]] && sep='&'
    DB_ARGS=(--database-url "${DATABASE_URL}${sep}options[search_path]=$SCHEMA")
    BACKEND="PostgreSQL $(psql "$DATABASE_URL" -Atc 'SHOW server_version' | cut -d' ' -f1)"
fi
ov() { "$BIN" --data "$DATA" "${DB_ARGS[@]}" "$@"; }

cat >"$DATA/openvoice.toml" <<EOF
[mail]
transport = "smtp"
smtp_host = "127.0.0.1"
smtp_port = $SINK_PORT
smtp_tls = "none"
pool_size = $POOL_SIZE
batch_size = $BATCH_SIZE
EOF
ov init >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log" >&2; die "init failed"; }

log "importing $N_SUBSCRIBERS subscribers"
{ echo email; seq 1 "$N_SUBSCRIBERS" | sed 's/.*/reader&@example.org/'; } >"$WORK/list.csv"
import_start=$(date +%s.%N)
ov subscribers import "$WORK/list.csv" >"$WORK/import.log" 2>&1 || { cat "$WORK/import.log" >&2; die "import failed"; }
IMPORT_SECS=$(awk -v a="$import_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
log "$(cat "$WORK/import.log") (${IMPORT_SECS}s)"

# --- 4. Fan-out -------------------------------------------------------------------------
echo "A benchmark article for every subscriber." >"$WORK/body.md"
ov post new --title "Benchmark Edition" --category Economy --file "$WORK/body.md" --publish >"$WORK/post.log" 2>&1 ||
    { cat "$WORK/post.log" >&2; die "publishing failed"; }
# Publishing queued the notification job; no worker runs here, so the fan-out runs in this
# command instead, exactly as the job would run it (the job then finds it done).
fanout_start=$(date +%s.%N)
ov subscribers notify benchmark-edition >"$WORK/notify.log" 2>&1 || { cat "$WORK/notify.log" >&2; die "notify failed"; }
FANOUT_WALL=$(awk -v a="$fanout_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
NOTIFY="$(cat "$WORK/notify.log")"
log "$NOTIFY"
QUEUED="$(sed -n 's/^Queued \([0-9]*\) mail.*/\1/p' <<<"$NOTIFY")"
FANOUT_SECS="$(sed -n 's/.* in \([0-9.]*\)s$/\1/p' <<<"$NOTIFY")"
[[ "$QUEUED" == "$N_SUBSCRIBERS" ]] || die "expected $N_SUBSCRIBERS mails queued: $NOTIFY"

# --- 5. Delivery to the sink ------------------------------------------------------------
python3 tests/smtp/server.py --port "$SINK_PORT" --sink >"$WORK/sink.log" 2>&1 &
SINK_PID=$!
for _ in $(seq 1 100); do
    grep -q READY "$WORK/sink.log" && break
    kill -0 "$SINK_PID" 2>/dev/null || { cat "$WORK/sink.log" >&2; die "the SMTP sink exited"; }
    sleep 0.1
done
grep -q READY "$WORK/sink.log" || die "the SMTP sink did not start"
log "delivering to the sink on 127.0.0.1:$SINK_PORT"
ov mail deliver >"$WORK/deliver.log" 2>&1 || { cat "$WORK/deliver.log" >&2; die "delivery failed"; }
DELIVER="$(tail -n 1 "$WORK/deliver.log")"
log "$DELIVER"
SENT="$(sed -n 's/^Sent \([0-9]*\) mail.*/\1/p' <<<"$DELIVER")"
DELIVER_SECS="$(sed -n 's/.* in \([0-9.]*\)s (.*/\1/p' <<<"$DELIVER")"
RATE="$(sed -n 's/.*(\([0-9]*\)\/s).*/\1/p' <<<"$DELIVER")"
kill "$SINK_PID"
wait "$SINK_PID" 2>/dev/null || true
SINK_PID=""
RECEIVED="$(sed -n 's/^RECEIVED //p' "$WORK/sink.log")"
[[ "$SENT" == "$N_SUBSCRIBERS" && "$RECEIVED" == "$N_SUBSCRIBERS" ]] ||
    die "sent $SENT, the sink received $RECEIVED, expected $N_SUBSCRIBERS"

# --- 6. Report --------------------------------------------------------------------------
ALL_MET=1
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
at_most() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
if at_most "$FANOUT_SECS" "$MAX_FANOUT_SECS"; then fanout_verdict="met"; else fanout_verdict="**missed**"; ALL_MET=0; fi
if at_least "$RATE" "$MIN_MAILS_PER_SEC"; then rate_verdict="met"; else rate_verdict="**missed**"; ALL_MET=0; fi

REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git status --porcelain 2>/dev/null | head -n 1)" ]]; then REV+="+dirty"; fi
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
fmt() { printf '%d' "$1" | sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta'; }
REPORT="| measurement | result | target |
|---|---:|---|
| fan-out: one article → $(fmt "$N_SUBSCRIBERS") outbox rows (one transaction) | **${FANOUT_SECS} s** (command wall time ${FANOUT_WALL} s) | ≤ $MAX_FANOUT_SECS s: $fanout_verdict |
| delivery to a local SMTP sink, $POOL_SIZE connections, batches of $BATCH_SIZE | **$(fmt "$RATE") mails/s** ($(fmt "$SENT") in ${DELIVER_SECS} s; the sink received $(fmt "$RECEIVED")) | ≥ $MIN_MAILS_PER_SEC/s: $rate_verdict |

Command: \`$COMMAND\` ($BACKEND; the import of $(fmt "$N_SUBSCRIBERS") subscribers from CSV took ${IMPORT_SECS} s).
Sink: \`tests/smtp/server.py --sink\` (aiosmtpd $(python3 -c 'import aiosmtpd; print(aiosmtpd.__version__)'), one Python process) on the same machine.
Machine: $(nproc) CPUs ($CPU); revision $REV."

printf '\n%s\n' "$REPORT"
mkdir -p bench/results
RESULTS="bench/results/mail-$(date -u +%Y-%m-%d).md"
printf '## %s\n\n%s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$REPORT" >>"$RESULTS"
log "appended to $RESULTS"

if [[ "${STRICT:-0}" == 1 && "$ALL_MET" != 1 ]]; then
    die "a target was missed"
fi
