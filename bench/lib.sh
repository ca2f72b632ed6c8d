# Shared by the bench scripts: `source bench/lib.sh` after setting SCRIPT (the name to log as).

log() { printf '[%s] %s\n' "${SCRIPT:-bench}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Prints "<requests/s> <p99 in ms> <non-2xx/3xx count>" from the output of `wrk --latency`.
wrk_figures() {
    awk '
        /^Requests\/sec:/ { rps = $2 }
        $1 == "99%" {
            v = $2; unit = v; sub(/^[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
            p99 = v * (unit == "us" ? 0.001 : unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : 0)
        }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        END { printf "%s %.2f %d\n", rps, p99, bad }
    ' "$1"
}

# wait_for_health ADDR PID LOG: waits (up to 2 minutes) until the openvoice server PID answers
# /healthz on ADDR; shows the end of LOG and stops the script if it exits first.
wait_for_health() {
    local addr=$1 pid=$2 log_file=$3
    for _ in $(seq 1 600); do
        [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/healthz" || true)" == 200 ]] && return
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log_file" >&2; die "serve exited"; }
        sleep 0.2
    done
    die "serve did not answer /healthz"
}

# Installs wrk (and curl) with apt if missing.
need_wrk() {
    command -v wrk >/dev/null && return
    log "installing wrk"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk curl >/dev/null
}

# Sets BIN to the absolute path of $OPENVOICE_BIN, or of a fresh `cargo build --release`.
openvoice_bin() {
    if [[ -z "${OPENVOICE_BIN:-}" ]]; then
        log "cargo build --release"
        cargo build --release --quiet
        OPENVOICE_BIN="${CARGO_TARGET_DIR:-target}/release/openvoice"
    fi
    BIN="$(cd "$(dirname "$OPENVOICE_BIN")" && pwd)/$(basename "$OPENVOICE_BIN")"
}

# corpus_of SIZE CACHE: prints the folder of bench/gen_corpus.py's SIZE articles under CACHE
# (seed 42), generating it the first time.
corpus_of() {
    local corpus="$2/corpus-$1"
    if [[ ! -f "$corpus/.complete" ]]; then
        log "generating $1 articles"
        rm -rf "$corpus" && mkdir -p "$2"
        python3 bench/gen_corpus.py --n "$1" --out "$corpus" --seed 42 >/dev/null
        touch "$corpus/.complete"
    fi
    echo "$corpus"
}
