#!/usr/bin/env bash
# Page benchmark: OpenVoice against nginx serving the very same bytes as static files, and
# against the smallest axum server answering them from memory (bench/bare_axum.rs).
#
# Run from the repository root:
#
#     bash bench/pages.sh
#
# Knobs (environment):
#   DURATION=20         seconds of wrk load per page and server (wrk -d)
#   WARMUP=2            seconds of unrecorded load before each measured run (0 = none)
#   CORPUS=/path        reuse this corpus folder if it exists, else generate it there
#   N_ARTICLES=10000    corpus size when generating
#   OPENVOICE_BIN=path  use this binary instead of `cargo build --release`
#   BARE_AXUM_BIN=path  use this bare_axum instead of `cargo build --release --example bare_axum`
#   KEEP=1              keep the temporary folder (data dir, static copies, logs, wrk output)
#   STRICT=1            exit 1 if a target is missed
#   WAIT_FOR_JOBS=0     measure while the server still bundles the imported articles (default: after)
#   ANALYTICS=0         serve with page-view counting off (default: on; every request carries a
#                       browser's User-Agent, so OpenVoice counts each as a view)
#
# Targets: article page >= 0.50 of nginx's requests/s with p99 <= 20 ms, and (issue 15) >= 0.80
# of bare axum's with p99 <= 10 ms;
# home page and RSS feed >= 0.30 of nginx; server RSS after the runs <= 100 MiB.
set -euo pipefail

# Pages under test. {slug} is replaced by the slug of article ARTICLE_INDEX of the corpus.
ARTICLE_INDEX="00500"
ARTICLE_PATH_TEMPLATE="/article/{slug}"
HOME_PATH="/"
FEED_PATH="/feed"

OPENVOICE_ADDR="127.0.0.1:18080"
NGINX_ADDR="127.0.0.1:18081"
BARE_ADDR="127.0.0.1:18082"
WRK_THREADS=2
WRK_CONNECTIONS=64
DURATION="${DURATION:-20}"
DURATION="${DURATION%s}"
WARMUP="${WARMUP:-2}"
WARMUP="${WARMUP%s}"
N_ARTICLES="${N_ARTICLES:-10000}"
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-120}"

ARTICLE_MIN_RATIO="0.50"
ARTICLE_MAX_P99_MS="20"
ARTICLE_MIN_AXUM_RATIO="0.80"
ARTICLE_MAX_P99_AXUM_MS="10"
LIST_MIN_RATIO="0.30"
MAX_RSS_MIB="100"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

SCRIPT=pages.sh
source bench/lib.sh

# The command line that reproduces this run, for the results file.
COMMAND="DURATION=$DURATION WARMUP=$WARMUP N_ARTICLES=$N_ARTICLES"
for var in CORPUS OPENVOICE_BIN KEEP STRICT WAIT_FOR_JOBS ANALYTICS; do
    if [[ -n "${!var:-}" ]]; then COMMAND+=" $var=${!var}"; fi
done
COMMAND+=" bash bench/pages.sh"

# --- 1. Tools ---------------------------------------------------------------------------
install_missing() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v curl >/dev/null || missing+=(curl)
    command -v python3 >/dev/null || missing+=(python3)
    if ((${#missing[@]} > 0)); then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}
install_missing
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

# --- Temporary folder and cleanup -------------------------------------------------------
WORK="$(mktemp -d /tmp/openvoice-pages.XXXXXX)"
OPENVOICE_PID=""
NGINX_PID=""
BARE_PID=""
cleanup() {
    local status=$?
    for pid in "$OPENVOICE_PID" "$NGINX_PID" "$BARE_PID"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
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
    ! (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null
}
port_is_free "$OPENVOICE_ADDR" || die "$OPENVOICE_ADDR is already in use"
port_is_free "$NGINX_ADDR" || die "$NGINX_ADDR is already in use"
port_is_free "$BARE_ADDR" || die "$BARE_ADDR is already in use"

# --- 2. Build ---------------------------------------------------------------------------
if [[ -n "${OPENVOICE_BIN:-}" ]]; then
    BIN="$OPENVOICE_BIN"
else
    log "cargo build --release"
    cargo build --release --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/openvoice"
fi
[[ -x "$BIN" ]] || die "no executable at $BIN"
if [[ -n "${BARE_AXUM_BIN:-}" ]]; then
    BARE="$BARE_AXUM_BIN"
else
    log "cargo build --release --example bare_axum"
    cargo build --release --quiet --example bare_axum
    BARE="${CARGO_TARGET_DIR:-target}/release/examples/bare_axum"
fi
[[ -x "$BARE" ]] || die "no executable at $BARE"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"

# --- 3. Corpus and data -----------------------------------------------------------------
if [[ -n "${CORPUS:-}" && -d "$CORPUS" ]] && compgen -G "$CORPUS/*-$ARTICLE_INDEX.md" >/dev/null; then
    log "reusing corpus $CORPUS"
else
    CORPUS="${CORPUS:-$WORK/corpus}"
    log "generating $N_ARTICLES articles into $CORPUS"
    python3 bench/gen_corpus.py --n "$N_ARTICLES" --out "$CORPUS" --seed 42
fi
ARTICLE_FILE="$(compgen -G "$CORPUS/*-$ARTICLE_INDEX.md" | head -n 1 || true)"
[[ -n "$ARTICLE_FILE" ]] || die "no article ending in -$ARTICLE_INDEX.md in $CORPUS"
SLUG="$(sed -n 's/^slug: "\(.*\)"$/\1/p' "$ARTICLE_FILE" | head -n 1)"
[[ -n "$SLUG" ]] || die "no slug in $ARTICLE_FILE"
ARTICLE_PATH="${ARTICLE_PATH_TEMPLATE//\{slug\}/$SLUG}"

DATA="$WORK/data"
mkdir -p "$DATA"
log "importing $CORPUS"
import_start=$SECONDS
"$BIN" --data "$DATA" import markdown "$CORPUS" >"$WORK/import.log" 2>&1 ||
    { tail -n 20 "$WORK/import.log" >&2; die "import failed"; }
log "import took $((SECONDS - import_start)) s"

# --- 4. OpenVoice -----------------------------------------------------------------------
OPENVOICE_ANALYTICS_ENABLED="$([[ "${ANALYTICS:-1}" == 0 ]] && echo false || echo true)" \
    "$BIN" --data "$DATA" serve --listen "$OPENVOICE_ADDR" >"$WORK/openvoice.log" 2>&1 &
OPENVOICE_PID=$!
deadline=$((SECONDS + HEALTH_TIMEOUT))
until [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$OPENVOICE_ADDR/healthz" || true)" == 200 ]]; do
    if ! kill -0 "$OPENVOICE_PID" 2>/dev/null; then
        tail -n 20 "$WORK/openvoice.log" >&2
        die "openvoice exited before answering /healthz"
    fi
    ((SECONDS < deadline)) || die "no 200 from /healthz within $HEALTH_TIMEOUT s"
    sleep 0.2
done
log "openvoice is up (pid $OPENVOICE_PID)"

# The import queued an IPFS bundle and a subscriber decision per article; the server works
# through them in the background, bumping the content epoch (and so emptying the page cache) at
# each one. Measure serving once that one-off backlog is done (WAIT_FOR_JOBS=0 measures during it):
# the backlog is drained when the count of finished jobs stops moving for 3 s.
if [[ "${WAIT_FOR_JOBS:-1}" != 0 ]]; then
    drain_start=$SECONDS
    last=-1 still=0
    while ((still < 3)); do
        done_jobs="$("$BIN" --data "$DATA" jobs status | awk '$1 == "done" {print $2}')"
        if [[ "$done_jobs" == "$last" ]]; then still=$((still + 1)); else still=0; last="$done_jobs"; fi
        sleep 1
    done
    log "background jobs drained in $((SECONDS - drain_start - 3)) s ($last done)"
fi

# --- 5. Static copies and nginx ---------------------------------------------------------
# page name | path | content type nginx serves it with
PAGES=(
    "article|$ARTICLE_PATH|text/html"
    "home|$HOME_PATH|text/html"
    "feed|$FEED_PATH|application/rss+xml"
)
STATIC="$WORK/static"
mkdir -p "$STATIC"
NGINX_LOCATIONS=""
for page in "${PAGES[@]}"; do
    IFS='|' read -r name path type <<<"$page"
    file="$STATIC/$name.body"
    got="$(curl -sS -o "$file" -w '%{http_code} %{content_type}' "http://$OPENVOICE_ADDR$path")"
    [[ "${got%% *}" == 200 ]] || die "GET $path answered ${got%% *}"
    [[ "${got#* }" == "$type"* ]] || log "warning: GET $path has content type '${got#* }', expected $type"
    log "fetched $path: $(wc -c <"$file") bytes, ${got#* }"
    NGINX_LOCATIONS+="
        location = $path {
            default_type $type;
            try_files /$name.body =404;
        }"
done

mkdir -p "$WORK/nginx"
chmod 755 "$WORK" "$STATIC" "$WORK/nginx"
chmod 644 "$STATIC"/*
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    server_tokens off;
    types { }
    charset utf-8;
    charset_types application/rss+xml;
    client_body_temp_path $WORK/nginx/client_body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;

    server {
        listen $NGINX_ADDR;
        root $STATIC;
$NGINX_LOCATIONS
        location / {
            return 404;
        }
    }
}
EOF
# wait_until_serving NAME ADDR PID LOG: waits up to 10 s for NAME to answer, then checks it
# serves every page's bytes as fetched from OpenVoice.
wait_until_serving() {
    local name=$1 addr=$2 pid=$3 log_file=$4 deadline=$((SECONDS + 10))
    until curl -s -o /dev/null "http://$addr$HOME_PATH"; do
        kill -0 "$pid" 2>/dev/null || { cat "$log_file" >&2; die "$name exited"; }
        ((SECONDS < deadline)) || die "$name did not start"
        sleep 0.1
    done
    for page in "${PAGES[@]}"; do
        IFS='|' read -r page_name path _ <<<"$page"
        curl -sS "http://$addr$path" | cmp -s - "$STATIC/$page_name.body" || die "$name does not serve $path as fetched"
    done
    log "$name is up (pid $pid)"
}

"$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
wait_until_serving nginx "$NGINX_ADDR" "$NGINX_PID" "$WORK/nginx/error.log"

BARE_ARGS=()
for page in "${PAGES[@]}"; do
    IFS='|' read -r name path type <<<"$page"
    BARE_ARGS+=("$path=$STATIC/$name.body=$type")
done
"$BARE" "$BARE_ADDR" "${BARE_ARGS[@]}" >"$WORK/bare_axum.log" 2>&1 &
BARE_PID=$!
wait_until_serving "bare axum" "$BARE_ADDR" "$BARE_PID" "$WORK/bare_axum.log"

# --- 6. Load --------------------------------------------------------------------------
# Prints "<requests/s> <p99 in ms> <non-2xx/3xx count>" for one wrk run.
BROWSER_UA="User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
run_wrk() {
    local url=$1 out=$2 header=${3:-X-Bench: 1}
    if ((WARMUP > 0)); then
        wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${WARMUP}s" -H "$header" -H "$BROWSER_UA" "$url" >/dev/null
    fi
    wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${DURATION}s" --latency -H "$header" -H "$BROWSER_UA" "$url" >"$out"
    wrk_figures "$out"
}

declare -A NGINX_RPS BARE_RPS OPENVOICE_RPS OPENVOICE_P99 BAD
for page in "${PAGES[@]}"; do
    IFS='|' read -r name path type <<<"$page"
    log "wrk $name ($path): nginx, ${DURATION}s"
    result="$(run_wrk "http://$NGINX_ADDR$path" "$WORK/wrk-nginx-$name.txt")"
    read -r rps p99 bad <<<"$result"
    NGINX_RPS[$name]=$rps
    log "  nginx: $rps req/s, p99 $p99 ms"
    log "wrk $name ($path): bare axum, ${DURATION}s"
    result="$(run_wrk "http://$BARE_ADDR$path" "$WORK/wrk-bare-$name.txt")"
    read -r rps p99 bad <<<"$result"
    BARE_RPS[$name]=$rps
    log "  bare axum: $rps req/s, p99 $p99 ms"
    log "wrk $name ($path): openvoice, ${DURATION}s"
    result="$(run_wrk "http://$OPENVOICE_ADDR$path" "$WORK/wrk-openvoice-$name.txt")"
    read -r rps p99 bad <<<"$result"
    OPENVOICE_RPS[$name]=$rps OPENVOICE_P99[$name]=$p99 BAD[$name]=$bad
    log "  openvoice: $rps req/s, p99 $p99 ms, non-2xx $bad"
done

# wrk sends no Accept-Encoding; a browser does, and gets each page compressed.
BROWSER_ENCODINGS="Accept-Encoding: gzip, deflate, br, zstd"
BROWSER_LINES=""
for page in "${PAGES[@]}"; do
    IFS='|' read -r name path type <<<"$page"
    log "wrk $name ($path): openvoice as a browser asks ($BROWSER_ENCODINGS), ${DURATION}s"
    read -r rps p99 _ <<<"$(run_wrk "http://$OPENVOICE_ADDR$path" "$WORK/wrk-openvoice-browser-$name.txt" "$BROWSER_ENCODINGS")"
    log "  openvoice, compressed: $rps req/s, p99 $p99 ms"
    BROWSER_LINES+="
| $name | $rps | $p99 ms |"
done

# --- 7. Memory ------------------------------------------------------------------------
RSS_KB="$(awk '/^VmRSS:/ { print $2 }' "/proc/$OPENVOICE_PID/status")"
RSS_MIB="$(awk -v kb="$RSS_KB" 'BEGIN { printf "%.1f", kb / 1024 }')"

# --- 8. Report ------------------------------------------------------------------------
ALL_MET=1
# at_least VALUE LIMIT / at_most VALUE LIMIT, compared as decimals.
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
at_most() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

TABLE="| page | nginx req/s | bare axum req/s | OpenVoice req/s | OpenVoice/nginx | OpenVoice/axum | OpenVoice p99 | target |
|---|---:|---:|---:|---:|---:|---:|---|"
for page in "${PAGES[@]}"; do
    IFS='|' read -r name path type <<<"$page"
    ratio="$(awk -v o="${OPENVOICE_RPS[$name]}" -v n="${NGINX_RPS[$name]}" 'BEGIN { printf "%.2f", (n > 0 ? o / n : 0) }')"
    axum_ratio="$(awk -v o="${OPENVOICE_RPS[$name]}" -v n="${BARE_RPS[$name]}" 'BEGIN { printf "%.2f", (n > 0 ? o / n : 0) }')"
    met=1
    if [[ "$name" == article ]]; then
        target="≥ $ARTICLE_MIN_RATIO of nginx with p99 ≤ $ARTICLE_MAX_P99_MS ms; ≥ $ARTICLE_MIN_AXUM_RATIO of axum with p99 ≤ $ARTICLE_MAX_P99_AXUM_MS ms"
        at_least "$ratio" "$ARTICLE_MIN_RATIO" && at_most "${OPENVOICE_P99[$name]}" "$ARTICLE_MAX_P99_MS" || met=0
        at_least "$axum_ratio" "$ARTICLE_MIN_AXUM_RATIO" && at_most "${OPENVOICE_P99[$name]}" "$ARTICLE_MAX_P99_AXUM_MS" || met=0
    else
        target="≥ $LIST_MIN_RATIO"
        at_least "$ratio" "$LIST_MIN_RATIO" || met=0
    fi
    if ((BAD[$name] > 0)); then
        target+=", ${BAD[$name]} non-2xx responses"
        met=0
    fi
    if ((met)); then target+=": met"; else target+=": **missed**"; ALL_MET=0; fi
    TABLE+="
| $name \`$path\` | ${NGINX_RPS[$name]} | ${BARE_RPS[$name]} | ${OPENVOICE_RPS[$name]} | $ratio | $axum_ratio | ${OPENVOICE_P99[$name]} ms | $target |"
done
if at_most "$RSS_MIB" "$MAX_RSS_MIB"; then rss_verdict="met"; else rss_verdict="**missed**"; ALL_MET=0; fi
RSS_LINE="OpenVoice resident memory after the runs (VmRSS): $RSS_MIB MiB (target ≤ $MAX_RSS_MIB MiB: $rss_verdict)"

REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git status --porcelain 2>/dev/null | head -n 1)" ]]; then REV+="+dirty"; fi
NGINX_VERSION="$("$NGINX" -v 2>&1 | sed 's/^nginx version: //' || true)"
WRK_VERSION="$(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }' || true)" # wrk -v exits 1.
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
REPORT="$TABLE

OpenVoice as browsers ask (\`$BROWSER_ENCODINGS\`: the article page compressed once per second for its copy with that second's comment-form token; the others once per cached page):

| page | OpenVoice req/s | p99 |
|---|---:|---:|$BROWSER_LINES

$RSS_LINE

Command: \`$COMMAND\` (each page: \`wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${DURATION}s --latency\` after a ${WARMUP}s warm-up, first against nginx on $NGINX_ADDR, then bare axum on $BARE_ADDR, then OpenVoice on $OPENVOICE_ADDR).
Corpus: $(find "$CORPUS" -maxdepth 1 -name '*.md' | wc -l) articles, article page = \`$ARTICLE_PATH\`.
Machine: $(nproc) CPUs ($CPU), load generator on the same machine; revision $REV; $NGINX_VERSION, $WRK_VERSION."

printf '\n%s\n' "$REPORT"

mkdir -p bench/results
RESULTS="bench/results/pages-$(date -u +%Y-%m-%d).md"
printf '## %s\n\n%s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$REPORT" >>"$RESULTS"
log "appended to $RESULTS"

# --- 9. Cleanup happens in the EXIT trap ------------------------------------------------
if [[ "${STRICT:-0}" == 1 && "$ALL_MET" != 1 ]]; then
    die "a target was missed"
fi
