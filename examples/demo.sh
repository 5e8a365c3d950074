#!/usr/bin/env bash
# `make demo`: the seed's scenario in one command. Two Tornado hello-world processes behind
# Portico running conf/nginx.conf, changed only where it needs root: the listen port (80 →
# DEMO_PORT), the upstream (one server on 8888 → two on DEMO_APP_PORTS) and the static root.
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO_PORT=${DEMO_PORT:-8080}
APP1=${DEMO_APP1:-8881}
APP2=${DEMO_APP2:-8882}
BIN=${BIN:-target/release/portico}
DIR=$(pwd)/target/demo
mkdir -p "$DIR/logs" "$DIR/static"
echo "Portico demo static file" > "$DIR/static/hello.txt"

python3 -c 'import tornado' 2>/dev/null || {
  echo "tornado is missing: pip install tornado" >&2
  exit 1
}

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

python3 examples/hello.py "$APP1" app1 & pids+=($!)
python3 examples/hello.py "$APP2" app2 & pids+=($!)

sed -e "s/listen 80;/listen $DEMO_PORT;/" \
    -e "s/server 127.0.0.1:8888;.*/server 127.0.0.1:$APP1; server 127.0.0.1:$APP2;/" \
    -e "s#root /var/www;#root $DIR;#" \
    conf/nginx.conf > "$DIR/nginx.conf"

sleep 1
cat <<MSG

  Portico is serving the seed config on http://localhost:$DEMO_PORT/
  (Tornado app1 on :$APP1 and app2 on :$APP2, balanced round robin, pooled keep-alive).

    browser:  http://localhost:$DEMO_PORT/            (reload: app1, app2, app1, ...)
              http://localhost:$DEMO_PORT/static/hello.txt
    load:     wrk -t2 -c64 -d10s http://localhost:$DEMO_PORT/
    logs:     $DIR/logs/

  Ctrl-C stops everything.

MSG
"$BIN" -p "$DIR" -c "$DIR/nginx.conf" -g 'daemon off;' & pids+=($!)
wait "${pids[2]}"
