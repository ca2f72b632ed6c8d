#!/usr/bin/env bash
# Comments benchmark:
#   1. an article page with 200 approved comments, OpenVoice against nginx serving the same bytes;
#   2. accepted comment submissions per second at 32 connections on SQLite.
#
# Run from the repository root:
#
#     bash bench/comments.sh
#
# Knobs (environment):
#   DURATION=20         seconds of wrk load per run
#   WARMUP=2            seconds of unrecorded load before the page runs (0 = none)
#   N_COMMENTS=200      approved comments on the page under test
#   OPENVOICE_BIN=path  use this binary instead of `cargo build --release`
#   KEEP=1              keep the temporary folder (data dir, logs, wrk output)
#   STRICT=1            exit 1 if a target is missed
#
# The spam defences must let a load generator through: this run's `openvoice.toml` sets
# min_seconds = 0, flood_seconds = 0 and raises the per-IP rate limit (all requests come from
# 127.0.0.1); every submission has its own email and text, so duplicate detection passes. All
# other checks (token signature, honeypot, validation, moderation rules) run as in production.
#
# Targets: >= 1000 accepted submissions/s at 32 connections; the 200-comment article page
# >= 0.30 of nginx's requests/s.
set -euo pipefail

PAGE_ARTICLE="parliament-approves-coastal-drone-patrols"
SUBMIT_ARTICLE="brennholm-cooperative-bank-profit"
OPENVOICE_ADDR="127.0.0.1:18090"
NGINX_ADDR="127.0.0.1:18091"
WRK_THREADS=2
PAGE_CONNECTIONS=64
SUBMIT_CONNECTIONS=32
DURATION="${DURATION:-20}"
DURATION="${DURATION%s}"
WARMUP="${WARMUP:-2}"
WARMUP="${WARMUP%s}"
N_COMMENTS="${N_COMMENTS:-200}"
MIN_SUBMISSIONS_PER_SEC=1000
MIN_PAGE_RATIO="0.30"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
log() { printf '[comments.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

COMMAND="DURATION=$DURATION WARMUP=$WARMUP N_COMMENTS=$N_COMMENTS"
for var in OPENVOICE_BIN KEEP STRICT; do
    if [[ -n "${!var:-}" ]]; then COMMAND+=" $var=${!var}"; fi
done
COMMAND+=" bash bench/comments.sh"

# --- Tools ------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]} > 0)); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

WORK="$(mktemp -d /tmp/openvoice-comments.XXXXXX)"
OPENVOICE_PID=""
NGINX_PID=""
cleanup() {
    local status=$?
    for pid in "$OPENVOICE_PID" "$NGINX_PID"; do
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

# --- Build ------------------------------------------------------------------------------
if [[ -n "${OPENVOICE_BIN:-}" ]]; then
    BIN="$OPENVOICE_BIN"
else
    log "cargo build --release"
    cargo build --release --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/openvoice"
fi
[[ -x "$BIN" ]] || die "no executable at $BIN"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"

# --- Server -----------------------------------------------------------------------------
DATA="$WORK/data"
mkdir -p "$DATA"
cat >"$DATA/openvoice.toml" <<EOF
[comments]
per_page = $N_COMMENTS
min_seconds = 0
flood_seconds = 0
rate_limit_burst = 1000000000
rate_limit_per_minute = 1000000000

[market]
enabled = false
EOF
"$BIN" --data "$DATA" serve --listen "$OPENVOICE_ADDR" >"$WORK/openvoice.log" 2>&1 &
OPENVOICE_PID=$!
deadline=$((SECONDS + 60))
until [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$OPENVOICE_ADDR/healthz" || true)" == 200 ]]; do
    kill -0 "$OPENVOICE_PID" 2>/dev/null || { tail -n 20 "$WORK/openvoice.log" >&2; die "openvoice exited"; }
    ((SECONDS < deadline)) || die "no 200 from /healthz"
    sleep 0.2
done
log "openvoice is up (pid $OPENVOICE_PID)"

token_for() {
    curl -sS "http://$OPENVOICE_ADDR/article/$1" | sed -n 's/.*name="token" value="\([^"]*\)".*/\1/p' | head -n 1
}

# --- 200 approved comments --------------------------------------------------------------
TOKEN="$(token_for "$PAGE_ARTICLE")"
[[ -n "$TOKEN" ]] || die "no form token on /article/$PAGE_ARTICLE"
log "posting $N_COMMENTS comments on $PAGE_ARTICLE"
# Three in four start a thread; the others answer one of those, so the page has threads too.
N_REPLIES=$((N_COMMENTS / 4))
N_TOP=$((N_COMMENTS - N_REPLIES))
post_comment() { # n parent -> prints the new id
    local location
    location="$(curl -sS -o /dev/null -w '%{redirect_url}' \
        --data-urlencode "author=Reader $1" --data-urlencode "email=reader$1@example.org" \
        --data-urlencode "url=https://reader$1.example" \
        --data-urlencode "comment=Comment $1 on the patrols. It links to https://example.org/source-$1 and has a second line.
And a second paragraph, with <em>emphasis</em> and <b>bold</b> text, as readers write them." \
        --data-urlencode "parent=$2" --data-urlencode "token=$TOKEN" \
        "http://$OPENVOICE_ADDR/article/$PAGE_ARTICLE/comments")"
    [[ "$location" == *"#comment-"* ]] || die "comment $1 was not accepted"
    echo "${location##*#comment-}"
}
TOP=()
for ((n = 1; n <= N_TOP; n++)); do TOP+=("$(post_comment "$n" 0)"); done
"$BIN" --data "$DATA" comments approve "${TOP[@]}" >/dev/null
REPLIES=()
for ((n = 1; n <= N_REPLIES; n++)); do REPLIES+=("$(post_comment "$((N_TOP + n))" "${TOP[$((n * 2))]}")"); done
if ((N_REPLIES > 0)); then "$BIN" --data "$DATA" comments approve "${REPLIES[@]}" >/dev/null; fi
sleep 1
PAGE_PATH="/article/$PAGE_ARTICLE"
shown="$(curl -sS "http://$OPENVOICE_ADDR$PAGE_PATH" | grep -c 'class="comment depth-' || true)"
[[ "$shown" == "$N_COMMENTS" ]] || die "the page shows $shown comments, expected $N_COMMENTS"

# --- nginx with the same page -----------------------------------------------------------
STATIC="$WORK/static"
mkdir -p "$STATIC" "$WORK/nginx"
curl -sS -o "$STATIC/article.body" "http://$OPENVOICE_ADDR$PAGE_PATH"
PAGE_BYTES="$(wc -c <"$STATIC/article.body")"
chmod 755 "$WORK" "$STATIC" "$WORK/nginx"
chmod 644 "$STATIC"/*
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    server_tokens off;
    types { }
    charset utf-8;
    client_body_temp_path $WORK/nginx/client_body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen $NGINX_ADDR;
        root $STATIC;
        location = $PAGE_PATH {
            default_type text/html;
            try_files /article.body =404;
        }
        location / { return 404; }
    }
}
EOF
"$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
deadline=$((SECONDS + 10))
until curl -s -o /dev/null "http://$NGINX_ADDR$PAGE_PATH"; do
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/nginx/error.log" >&2; die "nginx exited"; }
    ((SECONDS < deadline)) || die "nginx did not start"
    sleep 0.1
done

# Prints "<requests/s> <p99 ms> <non-2xx/3xx>" for one wrk run.
run_wrk() {
    local url=$1 out=$2
    if ((WARMUP > 0)); then wrk -t"$WRK_THREADS" -c"$PAGE_CONNECTIONS" -d"${WARMUP}s" "$url" >/dev/null; fi
    wrk -t"$WRK_THREADS" -c"$PAGE_CONNECTIONS" -d"${DURATION}s" --latency "$url" >"$out"
    awk '
        /^Requests\/sec:/ { rps = $2 }
        $1 == "99%" {
            v = $2; unit = v; sub(/^[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
            p99 = v * (unit == "us" ? 0.001 : unit == "ms" ? 1 : unit == "s" ? 1000 : 0)
        }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        END { printf "%s %.2f %d\n", rps, p99, bad }
    ' "$out"
}
log "wrk page ($PAGE_BYTES bytes): nginx, ${DURATION}s"
read -r NGINX_RPS NGINX_P99 _ <<<"$(run_wrk "http://$NGINX_ADDR$PAGE_PATH" "$WORK/wrk-nginx.txt")"
log "  nginx: $NGINX_RPS req/s"
log "wrk page: openvoice, ${DURATION}s"
read -r PAGE_RPS PAGE_P99 PAGE_BAD <<<"$(run_wrk "http://$OPENVOICE_ADDR$PAGE_PATH" "$WORK/wrk-openvoice.txt")"
log "  openvoice: $PAGE_RPS req/s, p99 $PAGE_P99 ms"
PAGE_RATIO="$(awk -v o="$PAGE_RPS" -v n="$NGINX_RPS" 'BEGIN { printf "%.2f", (n > 0 ? o / n : 0) }')"

# --- Submissions ------------------------------------------------------------------------
TOKEN="$(token_for "$SUBMIT_ARTICLE")"
log "wrk submissions: ${SUBMIT_CONNECTIONS} connections, ${DURATION}s"
TOKEN="$TOKEN" POST_PATH="/article/$SUBMIT_ARTICLE/comments" \
    wrk -t"$WRK_THREADS" -c"$SUBMIT_CONNECTIONS" -d"${DURATION}s" --latency -s bench/comments-post.lua \
    "http://$OPENVOICE_ADDR" >"$WORK/wrk-submit.txt"
read -r ACCEPTED REFUSED SUBMIT_SECONDS <<<"$(awk '/^ACCEPTED/ { print $2, $4, $6 }' "$WORK/wrk-submit.txt")"
SUBMIT_RATE="$(awk -v a="$ACCEPTED" -v s="$SUBMIT_SECONDS" 'BEGIN { printf "%.0f", a / s }')"
SUBMIT_P99="$(awk '$1 == "99%" { print $2 }' "$WORK/wrk-submit.txt")"
log "  accepted $ACCEPTED, refused $REFUSED: $SUBMIT_RATE/s, p99 $SUBMIT_P99"
# Every acknowledged submission is in the database (requests still in flight when wrk stopped
# may add a few more).
STORED="$(python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT COUNT(*) FROM comments WHERE content LIKE ?", ("Benchmark comment %",)).fetchone()[0])
' "$DATA/openvoice.db")"
((STORED >= ACCEPTED)) || die "only $STORED of $ACCEPTED acknowledged submissions are stored"

# --- Report -----------------------------------------------------------------------------
ALL_MET=1
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
if at_least "$SUBMIT_RATE" "$MIN_SUBMISSIONS_PER_SEC"; then SUBMIT_VERDICT=met; else SUBMIT_VERDICT="**missed**"; ALL_MET=0; fi
if at_least "$PAGE_RATIO" "$MIN_PAGE_RATIO"; then PAGE_VERDICT=met; else PAGE_VERDICT="**missed**"; ALL_MET=0; fi
if ((REFUSED > 0 || PAGE_BAD > 0)); then ALL_MET=0; SUBMIT_VERDICT+=", $REFUSED refused, $PAGE_BAD page errors"; fi
REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git status --porcelain 2>/dev/null | head -n 1)" ]]; then REV+="+dirty"; fi
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
REPORT="| measurement | result | target |
|---|---:|---|
| accepted comment submissions/s, SQLite, ${SUBMIT_CONNECTIONS} connections (p99 $SUBMIT_P99) | $SUBMIT_RATE ($ACCEPTED in ${SUBMIT_SECONDS}s; $STORED stored) | ≥ $MIN_SUBMISSIONS_PER_SEC: $SUBMIT_VERDICT |
| article page with $N_COMMENTS approved comments ($PAGE_BYTES bytes), req/s: OpenVoice / nginx | $PAGE_RPS / $NGINX_RPS = **$PAGE_RATIO** (OpenVoice p99 $PAGE_P99 ms) | ≥ $MIN_PAGE_RATIO: $PAGE_VERDICT |

SQLite: WAL, \`synchronous = NORMAL\`: each comment is committed to the WAL before the 303 is sent, so \`kill -9\` loses nothing acknowledged (only an OS crash or power cut could lose the last commits).
Bench-only settings: \`comments.per_page = $N_COMMENTS\` (the whole thread on the article page), \`comments.min_seconds = 0\`, \`flood_seconds = 0\`, per-IP rate limit raised (one client address); every submission has its own email and text and is held for moderation (a first comment), as a stranger's would be.
Command: \`$COMMAND\` (page: \`wrk -t$WRK_THREADS -c$PAGE_CONNECTIONS -d${DURATION}s\` after ${WARMUP}s warm-up, nginx first; submissions: \`wrk -t$WRK_THREADS -c$SUBMIT_CONNECTIONS -d${DURATION}s -s bench/comments-post.lua\`).
Machine: $(nproc) CPUs ($CPU), load generator on the same machine; revision $REV."
printf '\n%s\n' "$REPORT"
mkdir -p bench/results
RESULTS="bench/results/comments-$(date -u +%Y-%m-%d).md"
printf '## %s\n\n%s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$REPORT" >>"$RESULTS"
log "appended to $RESULTS"
if [[ "${STRICT:-0}" == 1 && "$ALL_MET" != 1 ]]; then die "a target was missed"; fi
