#!/usr/bin/env bash
# Import and export benchmark (see BENCHMARKS.md, "Import and export").
# WXR import of 10,000 posts with 50,000 comments (wall time, peak RSS), the same import again,
# and `export wordpress`. `import markdown` + `export static` against Hugo is bench/hugo.sh.
#
#   bench/migrate.sh [OPENVOICE_BINARY]
set -euo pipefail
bin=${1:-target/release/openvoice}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$(dirname "$0")/gen_wxr.py" --posts 10000 --comments 50000 --out "$work/export.xml"
ls -l "$work/export.xml"
/usr/bin/time -f "wxr import: %e s wall, %M KiB peak RSS" \
    "$bin" --data "$work/data" import wordpress "$work/export.xml"
/usr/bin/time -f "wxr re-import (idempotent): %e s wall, %M KiB peak RSS" \
    "$bin" --data "$work/data" import wordpress "$work/export.xml"
/usr/bin/time -f "wxr export: %e s wall, %M KiB peak RSS" \
    "$bin" --data "$work/data" export wordpress "$work/out.xml"
ls -l "$work/out.xml"
