#!/usr/bin/env python3
"""Instructions per proxied request: Pylon, nginx and HAProxy, each under valgrind's callgrind.

CPU time per request is noisy on a shared machine; the number of instructions a proxy executes
is not. Each proxy runs with one worker under `valgrind --tool=callgrind` in front of the same two
nginx backends as bench/proxies.py (those run natively), and h2load sends it a fixed number of
requests over one keep-alive connection, one at a time. Every proxy is run twice, with SHORT and
with LONG requests; the difference of the two totals divided by the difference of the counts is
the proxy's user-space instructions per request, without its start-up and shutdown.

Scenarios:
  h1-ka-1k   HTTP/1.1 keep-alive, 1 KB responses, one request at a time
  h2-1k      HTTP/2 with prior knowledge, 1 KB responses, 10 streams at a time

    bench/callgrind.sh                                  # writes bench/results/callgrind.md
    RESULTS=bench/results/callgrind-before.md bench/callgrind.sh
    SHORT=500 LONG=2500 bench/callgrind.sh              # a quick look

Load goes only to loopback addresses and every process started here is stopped at the end.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import proxies

ROOT = proxies.ROOT
SHORT = int(os.environ.get("SHORT", "2000"))
LONG = int(os.environ.get("LONG", "10000"))
RESULTS = os.environ.get("RESULTS", os.path.join(ROOT, "bench/results/callgrind.md"))
# Which Pylon the binary was built from, for the report (bench/callgrind.sh builds the checkout).
COMMIT = os.environ.get("PYLON_COMMIT") or subprocess.run(
    ["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True
).stdout.strip()
SCENARIOS = {
    "h1-ka-1k": lambda t, n: ["--h1", "-c1", "-m1", "-n", str(n), f"http://{t.host}:{t.port}/1k"],
    "h2-1k": lambda t, n: ["-c1", "-m10", "-n", str(n), f"http://{t.host}:{t.h2_port}/1k"],
}
TARGETS = {
    "nginx": lambda work, wrap: proxies.start_nginx(work, wrap=wrap),
    "haproxy": lambda work, wrap: proxies.start_haproxy(work, wrap=wrap),
    "pylon": lambda work, wrap: proxies.start_pylon(work, 1, "127.0.0.13", 19901, wrap=wrap),
}


def instructions(out_file):
    """The total `Ir` (instructions executed) that callgrind wrote for one process."""
    with open(out_file) as f:
        for line in f:
            m = re.match(r"(?:summary|totals):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    raise SystemExit(f"{out_file} has no instruction total")


def stop(target, seconds=120):
    """SIGTERM and wait: callgrind writes its totals when the process exits on its own."""
    for p in target.procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except OSError:
            pass
    for p in target.procs:
        try:
            p.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            raise SystemExit(f"{target.name} did not stop within {seconds} s under valgrind")


def run_once(work, name, scenario, requests):
    """One run of one proxy under callgrind: (its total instructions, h2load's failures)."""
    run_dir = tempfile.mkdtemp(prefix=f"{name}-{scenario}-{requests}-", dir=work)
    out = os.path.join(run_dir, "callgrind.out")
    wrap = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--quiet"]
    target = TARGETS[name](run_dir, wrap)
    try:
        load = subprocess.run(
            ["h2load", *SCENARIOS[scenario](target, requests)],
            capture_output=True, text=True, timeout=900,
        ).stdout
    finally:
        stop(target)
    m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed", load)
    if not m or int(m.group(2)) != requests:
        raise SystemExit(f"{name} {scenario}: h2load did not complete {requests} requests:\n{load}")
    return instructions(out)


def report(results, started):
    lines = [
        "# Instructions per proxied request: Pylon, nginx and HAProxy",
        "",
        f"Run {started} with `bench/callgrind.sh` (SHORT={SHORT}, LONG={LONG} requests), on "
        f"{proxies.machine()}; Pylon built from commit `{COMMIT}`.",
        "Versions: " + "; ".join(f"{k}: `{v}`" for k, v in proxies.versions().items()
                                 if k in ("nginx", "haproxy", "pylon", "h2load"))
        + f"; valgrind: `{subprocess.run(['valgrind', '--version'], capture_output=True, text=True).stdout.strip()}`.",
        "",
        "Each proxy runs with one worker under `valgrind --tool=callgrind` and serves the same two",
        "nginx backends; h2load sends the requests over one connection. Instructions per request are",
        "(total for LONG − total for SHORT) / (LONG − SHORT): user space only, start-up and shutdown",
        "cancelled out. The counts are repeatable from run to run; they measure work, not time.",
        "",
    ]
    for scenario in SCENARIOS:
        lines += [f"## {scenario}", "", "| proxy | instructions per request | vs nginx | vs HAProxy |",
                  "|---|---:|---:|---:|"]
        row = results[scenario]
        for name in TARGETS:
            v = row[name]
            lines.append(
                f"| {name} | {v:,.0f} | {v / row['nginx']:.2f}× | {v / row['haproxy']:.2f}× |"
            )
        lines.append("")
    return "\n".join(lines)


def main():
    for tool in ["valgrind", "nginx", "haproxy", "h2load"]:
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed: run bench/callgrind.sh, which installs it")
    if not os.path.exists(proxies.PYLON):
        raise SystemExit(f"{proxies.PYLON} does not exist: run bench/callgrind.sh, which builds it")
    started = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())
    work = tempfile.mkdtemp(prefix="pylon-callgrind-")
    backends = []
    try:
        _, backends = proxies.start_backends(work)
        results = {}
        for scenario in SCENARIOS:
            results[scenario] = {}
            for name in TARGETS:
                short = run_once(work, name, scenario, SHORT)
                long = run_once(work, name, scenario, LONG)
                per_request = (long - short) / (LONG - SHORT)
                results[scenario][name] = per_request
                print(f"{scenario:9} {name:8} {per_request:>10,.0f} instructions/request", flush=True)
        text = report(results, started)
        os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
        proxies.write(RESULTS, text)
        with open(RESULTS.replace(".md", ".json"), "w") as f:
            json.dump(results, f, indent=1)
        print(text)
    finally:
        proxies.stop(backends)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
