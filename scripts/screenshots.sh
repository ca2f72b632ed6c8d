#!/usr/bin/env bash
# Takes the README's screenshots of a fresh demo site with headless Chromium.
# Usage: bash scripts/screenshots.sh [OPENVOICE_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/debug/openvoice}"
[ -x "$BIN" ] || cargo build
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
DATA="$(mktemp -d)"
PORT=18095
"$BIN" --data "$DATA" serve --listen "127.0.0.1:$PORT" >"$DATA/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
shot() {
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$DATA/chromium" \
    --window-size="$3" --screenshot="$2" "http://127.0.0.1:$PORT$1" 2>/dev/null
}
shot / docs/screenshots/home.png 1280,1400
shot /article/parliament-approves-coastal-drone-patrols docs/screenshots/article.png 1280,1800
shot /article/parliament-approves-coastal-drone-patrols docs/screenshots/article-phone.png 390,1400
echo "wrote docs/screenshots/{home,article,article-phone}.png"
