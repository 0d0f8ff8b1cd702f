#!/usr/bin/env bash
# Builds the site (web/build.sh) and serves it on http://127.0.0.1:${PORT:-8080}/ to preview it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash web/build.sh
echo "serving web/dist on http://127.0.0.1:${PORT:-8080}/ (Ctrl-C to stop)"
exec python3 -m http.server --bind 127.0.0.1 --directory web/dist "${PORT:-8080}"
