#!/usr/bin/env bash
# Does a page's cost stay flat as the archive grows? Server CPU per uncached request, for
# every public page, at several archive sizes, read from /proc (not wall time, which the
# load generator on the same 2 cores would blur).
#
# Run from the repository root:
#
#     bash bench/scale.sh
#
# Knobs (environment):
#   SIZES="1000 10000 100000"  archive sizes (articles)
#   BACKEND=sqlite             or postgres (then PG_URL's server gets one database per size)
#   PG_URL=postgres://postgres@127.0.0.1:5432   server for BACKEND=postgres (trust auth)
#   DURATION=4                 seconds of load per page (wrk -t1 -c2)
#   CACHE=/tmp/openvoice-scale corpora and imported data kept here between runs
#   FRESH=1                    import again even if CACHE holds the size
#   OPENVOICE_BIN=path         use this binary instead of `cargo build --release`
#   CACHED=1                   measure with the page cache on (default: off, as after a write)
#
# Prints one table: a row per page, a column per size, milliseconds of server CPU per request
# (on PostgreSQL, the server's and the database's),
# and the ratio of the largest size to the smallest. Target (issue 15): every ratio <= 1.5, and
# search <= 20 ms at 100k.
set -euo pipefail

SIZES="${SIZES:-1000 10000 100000}"
BACKEND="${BACKEND:-sqlite}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
DURATION="${DURATION:-4}"
CACHE="${CACHE:-/tmp/openvoice-scale}"
ADDR="127.0.0.1:18090"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

SCRIPT=scale.sh
source bench/lib.sh

need_wrk
openvoice_bin
mkdir -p "$CACHE"

SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

# The data folder (and, on PostgreSQL, the database) holding SIZE imported articles.
prepare() {
    local size=$1 corpus data="$CACHE/data-$BACKEND-$1"
    corpus="$(corpus_of "$size" "$CACHE")"
    DB_ARGS=()
    if [[ "$BACKEND" == postgres ]]; then
        DB_ARGS=(--database-url "$PG_URL/ov_scale_$size")
    fi
    if [[ -f "$data/.complete" && "${FRESH:-0}" != 1 ]]; then
        return
    fi
    rm -rf "$data"
    mkdir -p "$data"
    if [[ "$BACKEND" == postgres ]]; then
        psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS ov_scale_$size" -c "CREATE DATABASE ov_scale_$size" >/dev/null
    fi
    log "importing $size articles ($BACKEND)"
    local start=$SECONDS
    "$BIN" --data "$data" "${DB_ARGS[@]}" import markdown "$corpus" >"$data/import.log" 2>&1 ||
        { tail -n 20 "$data/import.log" >&2; die "import failed"; }
    log "import took $((SECONDS - start)) s"
    if [[ "$BACKEND" == postgres ]]; then
        # What autovacuum does after a bulk load, done now so that it does not run (and count)
        # during the measurements: statistics, and the visibility map index-only scans need.
        psql "$PG_URL/ov_scale_$size" -qc "VACUUM ANALYZE" >/dev/null
    fi
    touch "$data/.complete"
}

start_server() {
    local data=$1
    # No job worker: the import's queued IPFS bundles would bump the content epoch and use CPU.
    OPENVOICE_HTTP_PAGE_CACHE_ENTRIES="$([[ "${CACHED:-0}" == 1 ]] && echo 2048 || echo 0)" \
        OPENVOICE_CONTENT_SEARCH_BURST=1000000000 OPENVOICE_CONTENT_SEARCH_PER_MINUTE=1000000000 \
        "$BIN" --data "$data" "${DB_ARGS[@]}" serve --no-jobs --listen "$ADDR" >"$data/serve.log" 2>&1 &
    SERVER_PID=$!
    wait_for_health "$ADDR" "$SERVER_PID" "$data/serve.log"
}

stop_server() {
    kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# CPU ticks of the server, and on PostgreSQL of the database's processes too (its queries run
# there), as user + system time from /proc.
cpu_ticks() {
    local pids=("$SERVER_PID")
    if [[ "$BACKEND" == postgres ]]; then
        mapfile -t -O 1 pids < <(pgrep -u postgres)
        pids[0]="$SERVER_PID"
    fi
    local pid total=0
    for pid in "${pids[@]}"; do
        [[ -r "/proc/$pid/stat" ]] || continue
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# Milliseconds of server CPU per request for PATH (which must answer 200).
measure() {
    local path=$1 status
    status="$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR$path")"
    [[ "$status" == 200 ]] || die "GET $path answered $status"
    wrk -t1 -c2 -d1s "http://$ADDR$path" >/dev/null # warm-up
    local before after requests
    before=$(cpu_ticks)
    requests="$(wrk -t1 -c2 -d"${DURATION}s" "http://$ADDR$path" | awk '/requests in/ {print $1}')"
    after=$(cpu_ticks)
    awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.2f", t * 1000 / hz / n }'
}

# The pages, as "name|path"; {slug}, {category}, {tag}, {author} and {last} are filled in per size.
PAGES=(
    "article|/article/{slug}"
    "home|/"
    "home, last page|/page/{last}"
    "category|/category/{category}"
    "category, last page|/category/{category}/page/{category_last}"
    "tag|/tag/{tag}"
    "author|/author/{author}"
    "feed|/feed"
    "category feed|/category/{category}/feed"
    "home, middle page|/page/{middle_page}"
    "search council|/search?q=council"
    "search two words|/search?q=harbour+bridge"
    "sitemap.xml|/sitemap.xml"
    "sitemap, last file|{sitemap_last}"
)

declare -A RESULT
for size in $SIZES; do
    prepare "$size"
    start_server "$CACHE/data-$BACKEND-$size"
    corpus="$CACHE/corpus-$size"
    # The middle article of the archive; its category, tag and author.
    middle="$(printf '%05d' $((size / 2)))"
    slug="$(sed -n 's/^slug: "\(.*\)"$/\1/p' "$(compgen -G "$corpus/*-$middle.md" | head -n 1)" | head -n 1)"
    article_html="$(curl -s "http://$ADDR/article/$slug")"
    link_in_article() { grep -o "href=\"/$1/[^\"/]*\"" <<<"$article_html" | head -n 1 | sed "s|href=\"/$1/||; s|\"||" || true; }
    category="$(link_in_article category)"
    tag="$(link_in_article tag)"
    author="$(link_in_article author)"
    [[ -n "$category" && -n "$tag" && -n "$author" ]] || die "/article/$slug links no category, tag or author"
    pages_of() { # "Page 1 of N" on PATH's pagination, or 1
        curl -s "http://$ADDR$1" | grep -o 'Page 1 of [0-9]*' | head -n 1 | grep -o '[0-9]*$' || echo 1
    }
    last="$(pages_of /)"
    category_last="$(pages_of "/category/$category")"
    sitemap_last="$(curl -s "http://$ADDR/sitemap.xml" | grep -o '<loc>[^<]*</loc>' | tail -n 1 | sed 's|<loc>https\?://[^/]*||; s|</loc>||')"
    [[ "$sitemap_last" == /sitemap* ]] || sitemap_last="/sitemap.xml"
    log "size $size: article $slug, category $category ($category_last pages), tag $tag, author $author, $last pages"
    for page in "${PAGES[@]}"; do
        IFS='|' read -r name path <<<"$page"
        path="${path//\{slug\}/$slug}"
        path="${path//\{category\}/$category}"
        path="${path//\{category_last\}/$category_last}"
        path="${path//\{tag\}/$tag}"
        path="${path//\{author\}/$author}"
        path="${path//\{last\}/$last}"
        path="${path//\{middle_page\}/$(((last + 1) / 2))}"
        path="${path//\{sitemap_last\}/$sitemap_last}"
        RESULT["$name|$size"]="$(measure "$path")"
        log "  $name ($path): ${RESULT["$name|$size"]} ms"
    done
    stop_server
done

sizes=($SIZES)
smallest=${sizes[0]}
largest=${sizes[-1]}
printf '\n%s, server CPU per request (ms), page cache %s, %s, %s\n\n' "$BACKEND" \
    "$([[ "${CACHED:-0}" == 1 ]] && echo on || echo off)" "$(git rev-parse --short HEAD)" "$(date -u +%F)"
header="| page |"
rule="|---|"
for size in $SIZES; do header+=" $size |"; rule+="---:|"; done
printf '%s %s/%s |\n%s---:|\n' "$header" "$largest" "$smallest" "$rule"
for page in "${PAGES[@]}"; do
    name="${page%%|*}"
    row="| $name |"
    for size in $SIZES; do row+=" ${RESULT["$name|$size"]} |"; done
    ratio="$(awk -v a="${RESULT["$name|$largest"]}" -v b="${RESULT["$name|$smallest"]}" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')"
    printf '%s **%s** |\n' "$row" "$ratio"
done
