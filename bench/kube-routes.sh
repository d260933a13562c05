#!/usr/bin/env bash
# Kube-mode benchmark against a real API server (scripts/kube-env): route propagation, route churn
# under traffic, attached routes at scale, memory. Needs root (a test host in a network namespace).
#   bench/kube-routes.sh                  # 3,000 routes propagated, 5,000 attached
#   ROUTES=300 TOTAL=500 bench/kube-routes.sh
# Writes bench/results/kube-routes.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUTES=${ROUTES:-3000}
TOTAL=${TOTAL:-5000}
cargo build --release -q -p pylon -p kube-routes-bench

work=$(mktemp -d)
export PYLON_KUBE_RUN=$work/kube ETCD_PORT=23379 APISERVER_PORT=27443
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  ip netns del pylon-bench 2>/dev/null || true
  scripts/kube-env down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
kube_env=$(PYLON_BIN=target/release/pylon scripts/kube-env up)
eval "$kube_env"

# The backend: a test host in its own network namespace (the API server refuses loopback endpoints).
ip netns del pylon-bench 2>/dev/null || true
ip link del pybh 2>/dev/null || true
ip netns add pylon-bench
ip link add pybh type veth peer name pybn
ip link set pybn netns pylon-bench
ip addr add 10.244.90.1/24 dev pybh && ip link set pybh up
ip netns exec pylon-bench sh -c 'ip addr add 10.244.90.2/24 dev pybn && ip link set pybn up && ip link set lo up'
ip netns exec pylon-bench target/release/pylon-demo-backend --listen 10.244.90.2:8080 --name bench 2>/dev/null &
pids+=($!)

kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: bench}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: pylon-bench}
spec: {controllerName: pylon-project.github.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: bench}
spec:
  gatewayClassName: pylon-bench
  listeners: [{name: http, protocol: HTTP, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: bench}
spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-alt, namespace: bench}
spec: {ports: [{name: http, port: 81, targetPort: 8080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: bench, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [10.244.90.2], conditions: {ready: true}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-alt-1, namespace: bench, labels: {kubernetes.io/service-name: web-alt}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [10.244.90.2], conditions: {ready: true}}]
YAML

PYLON_LOG=${PYLON_LOG:-warn} target/release/pylon run --kube --admin 127.90.0.1:9901 \
  --internet-facing-pool 127.90.1.0/24 --internal-pool 127.90.2.0/24 --state-dir "$work/state" \
  --identity bench --dns-listen off 2>"${PYLON_BENCH_LOG:-$work/pylon.log}" &
pylon=$!
pids+=($pylon)
address=""
for _ in $(seq 1 100); do
  address=$(kubectl get gateway -n bench gw -o jsonpath='{.status.addresses[0].value}' 2>/dev/null || true)
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || { echo "the Gateway never got an address" >&2; cat "${PYLON_BENCH_LOG:-$work/pylon.log}" >&2; exit 1; }

report=$(target/release/kube-routes "$address:8080" "$pylon" "$ROUTES" "$TOTAL")
{
  echo "# Kube-mode benchmark"
  echo
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) with \`bench/kube-routes.sh\` (ROUTES=$ROUTES, TOTAL=$TOTAL): Pylon (release build, one"
  echo "process) in kube mode against kube-apiserver ${K8S_VERSION:-v1.35.4} and etcd from scripts/kube-env, all on this machine:"
  echo "$(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/Mem:/ {print $2}') GiB."
  echo "The backend is a demo backend in a network namespace; requests go through the Gateway on loopback."
  echo
  echo "$report"
} | tee bench/results/kube-routes.md
