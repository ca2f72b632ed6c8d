#!/usr/bin/env bash
# Moving in from a static site generator: OpenVoice (`import markdown` into an empty SQLite
# site, then `export static`) against Hugo building the same Markdown files with a minimal
# theme of the same pages (bench/hugo-theme: articles, home, paginated category and tag
# archives, RSS feed, sitemap).
#
# Run from the repository root:
#
#     bash bench/hugo.sh
#
# Knobs (environment):
#   RUNS=3              runs of each side, alternating; the medians are compared
#   CORPUS=/path        reuse this corpus folder if it exists, else generate it there
#   N_ARTICLES=10000    corpus size when generating
#   OPENVOICE_BIN=path  use this binary instead of `cargo build --release`
#   KEEP=1              keep the temporary folder (sites, outputs, logs)
#   STRICT=1            exit 1 if a target is missed
#
# Targets: OpenVoice's import + export wall time <= 0.75x Hugo's build, and its peak resident
# memory (the larger of the two commands') <= 0.25x Hugo's.
set -euo pipefail

RUNS="${RUNS:-3}"
N_ARTICLES="${N_ARTICLES:-10000}"
MAX_TIME_RATIO="0.75"
MAX_MEM_RATIO="0.25"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

log() { printf '[hugo.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

COMMAND="RUNS=$RUNS N_ARTICLES=$N_ARTICLES"
for var in CORPUS OPENVOICE_BIN KEEP STRICT; do
    if [[ -n "${!var:-}" ]]; then COMMAND+=" $var=${!var}"; fi
done
COMMAND+=" bash bench/hugo.sh"

if ! command -v hugo >/dev/null; then
    log "installing hugo"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hugo >/dev/null
fi
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is needed for peak memory"

WORK="$(mktemp -d /tmp/openvoice-hugo.XXXXXX)"
cleanup() { if [[ -z "${KEEP:-}" ]]; then rm -rf "$WORK"; else log "kept $WORK"; fi; }
trap cleanup EXIT

if [[ -z "${OPENVOICE_BIN:-}" ]]; then
    log "cargo build --release"
    cargo build --release --quiet
    OPENVOICE_BIN="$REPO_ROOT/target/release/openvoice"
fi
CORPUS="${CORPUS:-$WORK/corpus}"
if [[ ! -d "$CORPUS" ]]; then
    log "generating $N_ARTICLES articles into $CORPUS"
    python3 bench/gen_corpus.py --n "$N_ARTICLES" --out "$CORPUS" >&2
fi
CORPUS="$(cd "$CORPUS" && pwd)"

# Runs a command under GNU time; prints "wall_seconds peak_rss_kib".
measure() {
    local log_file="$1"
    shift
    /usr/bin/time -f '%e %M' -o "$WORK/time.txt" "$@" >"$log_file" 2>&1 || { cat "$log_file" >&2; die "$* failed"; }
    cat "$WORK/time.txt"
}

hugo_runs=()
ov_runs=()
for run in $(seq 1 "$RUNS"); do
    rm -rf "$WORK/hugo-out"
    read -r wall rss < <(measure "$WORK/hugo.log" hugo --quiet --noBuildLock --source bench/hugo-theme --contentDir "$CORPUS" \
        --destination "$WORK/hugo-out" --cacheDir "$WORK/hugo-cache")
    hugo_runs+=("$wall $rss")
    log "run $run: hugo ${wall}s, $((rss / 1024)) MiB"

    rm -rf "$WORK/site" "$WORK/ov-out"
    mkdir "$WORK/site"
    read -r import_wall import_rss < <(measure "$WORK/import.log" "$OPENVOICE_BIN" --data "$WORK/site" import markdown "$CORPUS")
    read -r export_wall export_rss < <(measure "$WORK/export.log" "$OPENVOICE_BIN" --data "$WORK/site" export static "$WORK/ov-out")
    total=$(python3 -c "print(round($import_wall + $export_wall, 2))")
    peak=$((import_rss > export_rss ? import_rss : export_rss))
    ov_runs+=("$total $peak $import_wall $export_wall")
    log "run $run: openvoice import ${import_wall}s ($((import_rss / 1024)) MiB) + export ${export_wall}s ($((export_rss / 1024)) MiB)"
done
hugo_pages=$(find "$WORK/hugo-out" -name '*.html' | wc -l)
ov_pages=$(find "$WORK/ov-out" -name '*.html' | wc -l)
log "$(tail -1 "$WORK/import.log")"
log "$(tail -1 "$WORK/export.log")"

REPORT="$(python3 - "$MAX_TIME_RATIO" "$MAX_MEM_RATIO" "$hugo_pages" "$ov_pages" "${hugo_runs[@]}" -- "${ov_runs[@]}" <<'EOF'
import statistics, sys
max_time, max_mem, hugo_pages, ov_pages = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
rest = sys.argv[5:]
split = rest.index("--")
hugo = [list(map(float, r.split())) for r in rest[:split]]
ov = [list(map(float, r.split())) for r in rest[split + 1:]]
med = lambda rows, i: statistics.median(r[i] for r in rows)
h_wall, h_rss = med(hugo, 0), med(hugo, 1) / 1024
o_wall, o_rss = med(ov, 0), med(ov, 1) / 1024
o_import, o_export = med(ov, 2), med(ov, 3)
t_ratio, m_ratio = o_wall / h_wall, o_rss / h_rss
ok = lambda good: "met" if good else "**missed**"
print(f"| | wall time (median of {len(ov)}) | peak RSS | HTML files |")
print("|---|---|---|---|")
print(f"| Hugo | {h_wall:.1f} s | {h_rss:.0f} MiB | {hugo_pages} |")
print(f"| OpenVoice import + export | {o_wall:.1f} s ({o_import:.1f} + {o_export:.1f}) | {o_rss:.0f} MiB | {ov_pages} |")
print(f"| ratio (target) | {t_ratio:.2f}× (≤ {max_time}×) {ok(t_ratio <= max_time)} | {m_ratio:.2f}× (≤ {max_mem}×) {ok(m_ratio <= max_mem)} | |")
print(f"STATUS {'ok' if t_ratio <= max_time and m_ratio <= max_mem else 'missed'}")
EOF
)"
TABLE="$(grep -v '^STATUS' <<<"$REPORT")"
mkdir -p bench/results
RESULTS="bench/results/hugo-$(date -u +%Y-%m-%d).md"
{
    printf '\n## %s — %s\n\n`%s`\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(hugo version | cut -d' ' -f1-2)" "$COMMAND"
    printf '%s\n' "$TABLE"
} >>"$RESULTS"
printf '%s\n' "$TABLE"
log "appended to $RESULTS"
if [[ -n "${STRICT:-}" ]] && grep -q '^STATUS missed' <<<"$REPORT"; then
    exit 1
fi
