#!/usr/bin/env python3
"""Pylon against nginx, HAProxy and Envoy as reverse proxies, side by side on this machine.

Two nginx backends serve 1 KB and 100 KB files on 127.0.0.2:8081 and 127.0.0.3:8081. Each proxy
runs with one worker (Pylon also with two) and balances round robin over both with HTTP/1.1
keep-alive upstream; access logs are off. The load generators drive every target in turn, the
targets interleaved within each round, the rounds repeated; each cell is the median over rounds.

Scenarios:
  h1-ka-1k     wrk -t1 -c64, keep-alive, 1 KB responses
  h1-ka-100k   wrk -t1 -c64, keep-alive, 100 KB responses
  h1-close-1k  wrk -t1 -c64 with `Connection: close`: a new connection per request, 1 KB
  h2-1k        h2load -c16 -m10 (HTTP/2 with prior knowledge, 10 streams per connection), 1 KB
  idle         1,000 idle keep-alive client connections: RSS growth per connection
  1,000 routes each proxy restarted with 1,000 prefix routes: RSS after serving the last one

Per target and scenario: requests/s, p50 and p99 latency (wrk; h2load gives a mean only), the
proxy's CPU time per request split into user and kernel (from /proc, all its processes), and
its RSS after the run. Ratios compare with the best peer (nginx, HAProxy, Envoy) in the same run
and with direct (no proxy).

    bench/proxies.sh                       # everything, 3 rounds of 5 s per cell
    ROUNDS=1 DURATION=3 bench/proxies.sh   # a quick look
    PYLON_BASELINE=../old/target/release/pylon bench/proxies.sh   # an older build beside it

Load goes only to loopback addresses and every process started here is stopped at the end.
"""

import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYLON = os.environ.get("PYLON_BIN", os.path.join(ROOT, "target/release/pylon"))
# Another Pylon build run beside it, one worker, as `pylon-baseline-1w`: a change measured against
# the build before it in the same run.
BASELINE = os.environ.get("PYLON_BASELINE")
ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
RESULTS = os.environ.get("RESULTS", os.path.join(ROOT, "bench/results/proxies.md"))
BACKENDS = ["127.0.0.2", "127.0.0.3"]
TICK = os.sysconf("SC_CLK_TCK")
PEERS = ["nginx", "haproxy", "envoy"]


def wait_port(host, port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {host}:{port}")


def wait_for(wrap):
    """Seconds to wait for a proxy to listen: longer when it runs under a tool such as valgrind."""
    return 180 if wrap else 20


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class Target:
    """A server under test: its processes, address and ports."""

    def __init__(self, name, host, port, h2_port, procs):
        self.name, self.host, self.port, self.h2_port, self.procs = name, host, port, h2_port, procs

    def pids(self):
        """The target's processes and their children (nginx workers)."""
        pids = set()
        for p in self.procs:
            pids.add(p.pid)
            try:
                out = subprocess.run(
                    ["ps", "-o", "pid=", "--ppid", str(p.pid)], capture_output=True, text=True
                ).stdout
                pids.update(int(x) for x in out.split())
            except OSError:
                pass
        return pids

    def cpu(self):
        """(user, kernel) seconds used so far by the target's processes."""
        user = kernel = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                user += int(fields[11])
                kernel += int(fields[12])
            except OSError:
                pass
        return user / TICK, kernel / TICK

    def rss_mib(self):
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024


def start(cmd, log, **kw):
    return subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=open(log, "w"), start_new_session=True, **kw
    )


def nginx_conf(work, name, server_block, master=True):
    conf = os.path.join(work, f"{name}.conf")
    write(
        conf,
        f"""worker_processes 1;
daemon off;
master_process {"on" if master else "off"};
user root;
pid {work}/{name}.pid;
error_log {work}/{name}.err warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path {work}/{name}-body;
  proxy_temp_path {work}/{name}-proxy;
  fastcgi_temp_path {work}/{name}-fastcgi;
  uwsgi_temp_path {work}/{name}-uwsgi;
  scgi_temp_path {work}/{name}-scgi;
  {server_block}
}}
""",
    )
    return conf


def start_backends(work):
    www = os.path.join(work, "www")
    os.makedirs(www)
    write(os.path.join(www, "1k"), "x" * 1023 + "\n")
    write(os.path.join(www, "100k"), "y" * (100 * 1024 - 1) + "\n")
    procs = []
    for i, ip in enumerate(BACKENDS):
        conf = nginx_conf(
            work,
            f"backend{i}",
            f"server {{ listen {ip}:8081 backlog=4096; root {www}; location / {{ }} "
            f"location /r {{ return 200 \"routed\\n\"; }} }}",
        )
        procs.append(start(["nginx", "-c", conf], f"{work}/backend{i}.log"))
    for ip in BACKENDS:
        wait_port(ip, 8081)
    return Target("direct", BACKENDS[0], 8081, None, procs[:1]), procs


def start_nginx(work, routes=0, wrap=()):
    upstream = "".join(f"server {ip}:8081; " for ip in BACKENDS)
    locations = "".join(
        f"    location /r{i}/ {{ proxy_pass http://be; }}\n" for i in range(routes)
    )
    conf = nginx_conf(
        work,
        f"nginx{routes}",
        f"""upstream be {{ {upstream} keepalive 64; }}
  server {{
    listen 127.0.0.10:8080 backlog=4096;
    listen 127.0.0.10:8082 http2 backlog=4096;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
{locations}    location / {{
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}""",
        master=not wrap,
    )
    proc = start([*wrap, "nginx", "-c", conf], f"{work}/nginx{routes}.log")
    wait_port("127.0.0.10", 8080, timeout=wait_for(wrap))
    return Target("nginx", "127.0.0.10", 8080, 8082, [proc])


def start_haproxy(work, routes=0, wrap=()):
    conf = os.path.join(work, f"haproxy{routes}.cfg")
    rules = "".join(f"  use_backend be if {{ path_beg /r{i}/ }}\n" for i in range(routes))
    servers = "".join(f"  server b{i} {ip}:8081\n" for i, ip in enumerate(BACKENDS))
    write(
        conf,
        f"""global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind 127.0.0.11:8080
  bind 127.0.0.11:8082 proto h2
{rules}  default_backend be
backend be
  balance roundrobin
{servers}""",
    )
    proc = start([*wrap, "haproxy", "-f", conf, "-db"], f"{work}/haproxy{routes}.log")
    wait_port("127.0.0.11", 8080, timeout=wait_for(wrap))
    return Target("haproxy", "127.0.0.11", 8080, 8082, [proc])


def start_envoy(work, routes=0):
    conf = os.path.join(work, f"envoy{routes}.yaml")
    prefixes = "".join(
        f"""
              - {{match: {{prefix: /r{i}/}}, route: {{cluster: be}}}}"""
        for i in range(routes)
    )
    endpoints = "".join(
        f"""
          - endpoint: {{address: {{socket_address: {{address: {ip}, port_value: 8081}}}}}}"""
        for ip in BACKENDS
    )
    write(
        conf,
        f"""static_resources:
  listeners:
  - address: {{socket_address: {{address: 127.0.0.12, port_value: 8080}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          codec_type: AUTO
          generate_request_id: false
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:{prefixes}
              - {{match: {{prefix: /}}, route: {{cluster: be}}}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
              dynamic_stats: false
  clusters:
  - name: be
    type: STATIC
    lb_policy: ROUND_ROBIN
    circuit_breakers:
      thresholds: [{{max_connections: 1000000, max_pending_requests: 1000000, max_requests: 1000000, max_retries: 1000000}}]
    load_assignment:
      cluster_name: be
      endpoints:
      - lb_endpoints:{endpoints}
""",
    )
    envoy = shutil.which("envoy")
    proc = start(
        [envoy, "-c", conf, "--concurrency", "1", "--log-level", "warn", "--base-id", "17"],
        f"{work}/envoy{routes}.log",
    )
    wait_port("127.0.0.12", 8080, timeout=60)
    return Target("envoy", "127.0.0.12", 8080, 8080, [proc])


def start_pylon(work, workers, ip, admin_port, routes=0, wrap=(), binary=None, name=None):
    name = name or f"pylon-{workers}w"
    manifests = os.path.join(work, f"{name}-{routes}")
    os.makedirs(manifests)
    paths = "".join(
        f"""
      - path: /r{i}/
        pathType: Prefix
        backend: {{service: {{name: files, port: {{number: 80}}}}}}"""
        for i in range(routes)
    )
    rules = f"\n  rules:\n  - http:\n      paths:{paths}" if routes else ""
    endpoints = "".join(
        f"- addresses: [\"{a}\"]\n  conditions: {{ready: true}}\n" for a in BACKENDS
    )
    write(
        os.path.join(manifests, "bench.yaml"),
        f"""apiVersion: v1
kind: Namespace
metadata: {{name: bench}}
---
apiVersion: v1
kind: Service
metadata: {{name: files, namespace: bench}}
spec: {{ports: [{{name: http, port: 80, targetPort: 8081}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: files-1, namespace: bench, labels: {{kubernetes.io/service-name: files}}}}
addressType: IPv4
ports: [{{name: http, port: 8081}}]
endpoints:
{endpoints}---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: files
  namespace: bench
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{{"HTTP": 8080}}]'
spec:
  ingressClassName: alb
  defaultBackend: {{service: {{name: files, port: {{number: 80}}}}}}{rules}
""",
    )
    proc = start(
        [
            *wrap, binary or PYLON, "run", manifests,
            "--workers", str(workers),
            "--internal-pool", f"{ip}/32",
            "--internet-facing-pool", "127.0.0.99/32",
            "--state-dir", os.path.join(work, f"{name}-{routes}-state"),
            "--admin", f"127.0.0.1:{admin_port}",
            "--dns-listen", "off",
        ],
        f"{work}/{name}-{routes}.log",
        env={**os.environ, "PYLON_LOG": "warn"},
    )
    wait_port(ip, 8080, timeout=wait_for(wrap))
    return Target(name, ip, 8080, 8080, [proc])


def wrk(url, extra=()):
    out = subprocess.run(
        ["wrk", "-t1", "-c64", f"-d{DURATION}s", "--latency", *extra, url],
        capture_output=True, text=True,
    ).stdout

    def latency(label):
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        return float(m.group(1)) * scale

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps, "requests": total, "p50": latency("50"), "p99": latency("99"),
        "errors": (int(errors.group(1)) if errors else 0) + (1 if socket_errors else 0),
    }


def h2load(url):
    out = subprocess.run(
        ["h2load", "-c16", "-m10", "-t1", "-D", str(DURATION), "--warm-up-time=1", url],
        capture_output=True, text=True,
    ).stdout
    rps = float(re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out).group(1))
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed", out)
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "rps": rps, "requests": int(done.group(1)),
        "p50": float(mean.group(1)) * scale[mean.group(2)] if mean else None, "p99": None,
        "errors": int(done.group(3)),
    }


def idle(target, n=1000):
    """RSS growth per idle keep-alive client connection, in KiB."""
    before = target.rss_mib()
    conns = []
    request = f"GET /1k HTTP/1.1\r\nHost: {target.host}\r\n\r\n".encode()
    for _ in range(n):
        s = socket.create_connection((target.host, target.port))
        s.sendall(request)
        conns.append(s)
    for s in conns:
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(65536)
    # Memory freed after the burst of 1,000 requests is returned to the system within a second
    # or so; what stays is what the idle connections hold.
    time.sleep(3)
    after = target.rss_mib()
    for s in conns:
        s.close()
    return {"kib_per_conn": (after - before) * 1024 / n}


ROUTES = 1000


def with_routes(work, targets):
    """Each proxy restarted with 1,000 prefix routes: its RSS after serving the last of them."""
    starts = {
        "nginx": lambda: start_nginx(work, ROUTES),
        "haproxy": lambda: start_haproxy(work, ROUTES),
        "envoy": lambda: start_envoy(work, ROUTES),
        "pylon-1w": lambda: start_pylon(work, 1, "127.0.0.13", 19901, ROUTES),
        "pylon-2w": lambda: start_pylon(work, 2, "127.0.0.14", 19902, ROUTES),
        "pylon-baseline-1w": lambda: start_pylon(
            work, 1, "127.0.0.15", 19903, ROUTES, binary=BASELINE, name="pylon-baseline-1w"
        ),
    }
    out = {}
    for t in targets:
        if t.name not in starts:
            continue
        stop(t.procs)
        routed = starts[t.name]()
        # Pylon loads its configuration after it binds: wait until the last route answers.
        deadline = time.time() + 30
        path = f"/r{ROUTES - 1}/x"
        while time.time() < deadline:
            probe = subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                 f"http://{routed.host}:{routed.port}{path}"],
                capture_output=True, text=True,
            ).stdout
            if probe == "200":
                break
            time.sleep(0.2)
        result = wrk(f"http://{routed.host}:{routed.port}{path}")
        out[t.name] = {"rps": result["rps"], "errors": result["errors"], "rss_mib": routed.rss_mib()}
        t.procs[:] = routed.procs
    return out


def stop(procs):
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except OSError:
            pass
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


SCENARIOS = {
    "h1-ka-1k": lambda t: wrk(f"http://{t.host}:{t.port}/1k"),
    "h1-ka-100k": lambda t: wrk(f"http://{t.host}:{t.port}/100k"),
    "h1-close-1k": lambda t: wrk(f"http://{t.host}:{t.port}/1k", ["-H", "Connection: close"]),
    "h2-1k": lambda t: h2load(f"http://{t.host}:{t.h2_port}/1k") if t.h2_port else None,
}


def measure(target, scenario):
    user0, kernel0 = target.cpu()
    result = SCENARIOS[scenario](target)
    if result is None:
        return None
    user1, kernel1 = target.cpu()
    n = max(result["requests"], 1)
    result["user_us"] = (user1 - user0) * 1e6 / n
    result["kernel_us"] = (kernel1 - kernel0) * 1e6 / n
    result["rss_mib"] = target.rss_mib()
    return result


def machine():
    cpu = next(
        (l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
        "unknown CPU",
    )
    mem = next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    return f"{os.cpu_count()} cores ({cpu}), {int(mem) // 1024 // 1024} GiB, Linux {os.uname().release}"


def versions():
    def first(cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    return {
        "nginx": first(["nginx", "-v"]),
        "haproxy": first(["haproxy", "-v"]),
        "envoy": first([shutil.which("envoy") or "envoy", "--version"]),
        "pylon": first([PYLON, "--version"]),
        "wrk": first(["wrk", "-v"]),
        "h2load": first(["h2load", "--version"]),
    }


def fmt(v, digits=1):
    return "—" if v is None else f"{v:,.{digits}f}"


def ratio(v, base, higher_better=True):
    if v is None or not base:
        return ""
    r = v / base
    return f" ({r:.2f}×)"


def report(results, idle_results, routes_results, started):
    targets = list(results)
    lines = [
        "# Pylon against nginx, HAProxy and Envoy",
        "",
        f"Run {started} with `bench/proxies.sh` (ROUNDS={ROUNDS}, DURATION={DURATION}s), on {machine()}.",
        "Every process shares the machine's cores: load generator, proxy and two nginx backends.",
        "Versions: " + "; ".join(f"{k}: `{v}`" for k, v in versions().items()) + ".",
        "",
        "Each cell is the median over rounds. Ratios in parentheses: requests/s against the best peer",
        "(nginx, HAProxy, Envoy) in the same scenario, and against direct (the backend without a proxy);",
        "CPU is the proxy's own time per request (user + kernel), from /proc.",
        "",
    ]
    for scenario in SCENARIOS:
        rows = {t: results[t].get(scenario) for t in targets}
        peers = [rows[p] for p in PEERS if rows.get(p)]
        best = max((r["rps"] for r in peers), default=None)
        best_user = min((r["user_us"] for r in peers), default=None)
        best_p99 = min((r["p99"] for r in peers if r["p99"] is not None), default=None)
        direct = rows.get("direct")
        lines += [
            f"## {scenario}",
            "",
            "| target | requests/s | vs best peer | vs direct | p50 ms | p99 ms | CPU µs/req (user + kernel) | RSS MiB | errors |",
            "|---|---:|---:|---:|---:|---:|---|---:|---:|",
        ]
        for t in targets:
            r = rows[t]
            if not r:
                continue
            lines.append(
                f"| {t} | {fmt(r['rps'], 0)} | {ratio(r['rps'], best).strip(' ()')} | "
                f"{ratio(r['rps'], direct['rps'] if direct else None).strip(' ()')} | "
                f"{fmt(r['p50'], 3)} | {fmt(r['p99'], 3)} | "
                f"{fmt(r['user_us'] + r['kernel_us'])} ({fmt(r['user_us'])} + {fmt(r['kernel_us'])}) | "
                f"{fmt(r['rss_mib'])} | {r['errors']} |"
            )
        lines.append("")
        if best_user is not None:
            lines.append(
                f"Best peer: {fmt(best, 0)} requests/s, {fmt(best_user)} µs user CPU per request"
                + (f", p99 {fmt(best_p99, 3)} ms" if best_p99 is not None else "")
                + "."
            )
            lines.append("")
    lines += [
        "## Idle connections",
        "",
        "| target | RSS growth per idle keep-alive client connection (KiB) |",
        "|---|---:|",
    ]
    for t, r in idle_results.items():
        lines.append(f"| {t} | {fmt(r['kib_per_conn'])} |")
    lines += [
        "",
        f"## {ROUTES:,} routes",
        "",
        f"Each proxy restarted with {ROUTES:,} prefix routes before its catch-all (nginx locations,",
        "HAProxy `use_backend` rules, Envoy routes, Pylon Ingress paths), then driven on the last route",
        "with wrk -c64 keep-alive.",
        "",
        "| target | requests/s | RSS MiB | errors |",
        "|---|---:|---:|---:|",
    ]
    for t, r in routes_results.items():
        lines.append(f"| {t} | {fmt(r['rps'], 0)} | {fmt(r['rss_mib'])} | {r['errors']} |")
    lines.append("")
    return "\n".join(lines)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for tool in ["nginx", "haproxy", "wrk", "h2load", "envoy"]:
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed: run bench/proxies.sh, which installs it")
    if not os.path.exists(PYLON):
        raise SystemExit(f"{PYLON} does not exist: run bench/proxies.sh, which builds it")
    started = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())
    work = tempfile.mkdtemp(prefix="pylon-bench-")
    procs = []
    targets = []
    try:
        direct, backend_procs = start_backends(work)
        procs += backend_procs
        targets = [direct]
        for make in [start_nginx, start_haproxy, start_envoy]:
            t = make(work)
            procs += t.procs
            targets.append(t)
        for workers, ip, admin in [(1, "127.0.0.13", 19901), (2, "127.0.0.14", 19902)]:
            t = start_pylon(work, workers, ip, admin)
            procs += t.procs
            targets.append(t)
        if BASELINE:
            t = start_pylon(work, 1, "127.0.0.15", 19903, binary=BASELINE, name="pylon-baseline-1w")
            procs += t.procs
            targets.append(t)
        # Warm-up: every target serves once before anything is recorded.
        for t in targets:
            subprocess.run(
                ["wrk", "-t1", "-c64", "-d1s", f"http://{t.host}:{t.port}/1k"],
                capture_output=True,
            )
        results = {t.name: {} for t in targets}
        samples = {t.name: {s: [] for s in SCENARIOS} for t in targets}
        for round_ in range(ROUNDS):
            for scenario in SCENARIOS:
                for t in targets:
                    r = measure(t, scenario)
                    if r is not None:
                        samples[t.name][scenario].append(r)
                        print(
                            f"round {round_ + 1} {scenario:12} {t.name:10} {r['rps']:>10,.0f} req/s "
                            f"{r['user_us'] + r['kernel_us']:6.1f} µs/req",
                            flush=True,
                        )
        for t in targets:
            for scenario, runs in samples[t.name].items():
                if not runs:
                    continue
                med = {}
                for key in runs[0]:
                    values = [r[key] for r in runs if r[key] is not None]
                    med[key] = statistics.median(values) if values else None
                med["errors"] = sum(r["errors"] for r in runs)
                results[t.name][scenario] = med
        idle_results = {t.name: idle(t) for t in targets if t.name != "direct"}
        routes_results = with_routes(work, targets)
        text = report(results, idle_results, routes_results, started)
        os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
        write(RESULTS, text)
        print(text)
        with open(RESULTS.replace(".md", ".json"), "w") as f:
            json.dump(
                {"results": results, "idle": idle_results, "routes": routes_results}, f, indent=1
            )
    finally:
        stop(procs + [p for t in targets for p in t.procs])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
