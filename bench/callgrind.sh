#!/usr/bin/env bash
# Instructions per proxied request for Pylon, nginx and HAProxy under callgrind (see
# bench/callgrind.py). Installs what it needs (Debian's valgrind, nginx, haproxy and nghttp2-client
# for h2load), builds Pylon in release, runs, and writes bench/results/callgrind.md.
#   bench/callgrind.sh
#   RESULTS=bench/results/callgrind-before.md bench/callgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bench/needs valgrind:valgrind nginx:nginx haproxy:haproxy h2load:nghttp2-client
cargo build --release -q -p pylon
exec python3 bench/callgrind.py
