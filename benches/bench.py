#!/usr/bin/env python3
"""Portico against nginx: throughput, server CPU, latency. Run by `make bench`.

For every scenario both servers start on the same generated nginx.conf (own temporary
prefixes, one shared document root), then wrk drives them in turn (A/B/A/B...) at each
connection count. The table and benches/results/latest.json give medians over rounds and
Portico/nginx ratios. See benches/README.md for what every number means.

Python 3 standard library only; needs wrk, nginx and taskset on PATH (installs nothing).
"""

import argparse
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace
from dataclasses import dataclass, field, replace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import config, h2load, idle_mem, lock_count, procs, report, wrk  # noqa: E402

BENCHES = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCHES)
ALL_SCENARIOS = ("return", "small", "unlimited", "limited", "big", "proxy", "tornado", "fastcgi",
                 "gzip1", "gzip6", "page", "gzproxy", "json", "cached", "tls_small", "tls_big",
                 "tls_big_ktls", "lockcount", "h2_small", "h2_proxy", "tls_handshake_ecdsa",
                 "tls_handshake_rsa", "tls_resume", "tls_resume12", "idle_mem")
# Connections of the scenarios whose client is not wrk: h2load's 100 connections of 10
# streams each, and s_time's one connection at a time.
CLIENT_CONNS = {"h2load": 100, "s_time": 1}
# php-fpm children for the FastCGI scenario (pm = static), the same for both servers.
FPM_CHILDREN = 4
SERVERS = ("portico", "nginx")       # the A/B order of every round
INSTALL_HINT = "Install it (Debian/Ubuntu: apt-get install -y nginx wrk) and run again."


# ---------------------------------------------------------------- command line

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 3 s runs, 1 round, 100 connections (about 1-2 minutes)")
    p.add_argument("--scenarios", help=f"comma list from {','.join(ALL_SCENARIOS)} "
                   "(default: all; tornado only when `import tornado` works, fastcgi "
                   "only when php-fpm is installed)")
    p.add_argument("--conns", help="comma list of connection counts (default 100,1000,10000)")
    p.add_argument("--rounds", type=int, help="A/B rounds per point (default 3, quick 1)")
    p.add_argument("--duration", type=int, help="seconds per wrk run (default 4, quick 3)")
    p.add_argument("--warmup", type=int, default=1, help="seconds of unrecorded wrk per "
                   "server before each point's rounds (default 1, 0 for none)")
    p.add_argument("--workers", type=int, default=1, help="worker_processes; above 1 "
                   "nothing is pinned to a CPU and wrk gets more threads")
    p.add_argument("--reuseport", action="store_true", help="`listen ... reuseport` for both "
                   "servers: one socket per worker instead of one shared socket (Portico: "
                   "EPOLLEXCLUSIVE on it; nginx: accept_mutex off)")
    p.add_argument("--wrk-threads", type=int, help="wrk -t (default 1; with --workers N: "
                   "min(N, CPUs))")
    p.add_argument("--wrk-timeout", type=int, default=10,
                   help="wrk --timeout in seconds, the same for both servers (default 10)")
    p.add_argument("--server-bin", default=os.path.join(REPO, "target/release/portico"),
                   help="binary benchmarked as Portico (default target/release/portico); "
                   "pass an nginx to test the harness itself")
    p.add_argument("--nginx-bin", default="nginx", help="nginx binary (default: from PATH)")
    p.add_argument("--wrk-bin", default="wrk", help="wrk binary (default: from PATH)")
    p.add_argument("--h2load-bin", default="h2load", help="h2load binary for the h2_* "
                   "scenarios (default: from PATH; apt-get install -y nghttp2-client)")
    p.add_argument("--results", default=os.path.join(BENCHES, "results"),
                   help="directory for latest.json and timestamped copies")
    p.add_argument("--interleave", action="store_true",
                   help="run the scenarios round by round (each round starts every "
                   "scenario's servers in turn, the order reversed every other round) "
                   "instead of one scenario after the other, so that a machine whose speed "
                   "drifts during the run weighs on every scenario alike; use it to compare "
                   "scenarios with each other (limited against unlimited)")
    p.add_argument("--keep-temp", action="store_true",
                   help="keep the temporary prefixes (configs, logs) and print where")
    return p.parse_args(argv)


def _int_list(text):
    return [int(x) for x in text.split(",") if x.strip()]


# ---------------------------------------------------------------- the plan

@dataclass
class Plan:
    """Everything a run needs, resolved from the arguments and the machine."""
    scenarios: list
    conns: list                  # (used, requested) pairs
    rounds: int
    duration: int
    warmup: int
    workers: int
    reuseport: bool
    wrk_threads: int
    wrk_timeout: int
    server_cpu: object           # CPU of the server and backends, None when unpinned
    wrk_cpu: object              # CPU of wrk, None when unpinned
    bins: dict
    nofile: int
    worker_connections: int
    backlog: int
    notes: list = field(default_factory=list)
    interleave: bool = False
    first_round: int = 0         # with --interleave: the number of the pass's one round


def tornado_available():
    """Whether `python3 -c 'import tornado'` works (the same interpreter as this script)."""
    return subprocess.run([sys.executable, "-c", "import tornado"],
                          capture_output=True).returncode == 0


def choose_scenarios(args, notes):
    wanted = args.scenarios.split(",") if args.scenarios else list(ALL_SCENARIOS)
    unknown = [s for s in wanted if s not in ALL_SCENARIOS]
    if unknown:
        raise SystemExit(f"error: unknown scenario(s) {','.join(unknown)}; "
                         f"choose from {','.join(ALL_SCENARIOS)}")
    if "tornado" in wanted and not tornado_available():
        wanted.remove("tornado")
        notes.append("tornado scenario skipped: `import tornado` fails "
                     "(pip install tornado to enable it)")
    h2 = [s for s in wanted if s.startswith("h2_")]
    if h2 and not shutil.which(args.h2load_bin):
        wanted = [s for s in wanted if s not in h2]
        notes.append(f"{','.join(h2)} skipped: no h2load (apt-get install -y nghttp2-client)")
    if "fastcgi" in wanted and not config.php_fpm_binary():
        wanted.remove("fastcgi")
        notes.append("fastcgi scenario skipped: no php-fpm (apt-get install -y php-fpm)")
    return wanted


def choose_conns(args, nofile, notes):
    """Connection counts, each capped by what one process can hold under the fd limit."""
    requested = _int_list(args.conns) if args.conns else ([100] if args.quick
                                                           else [100, 1000, 10000])
    cap = procs.conn_cap(nofile)
    pairs = []
    for n in requested:
        used = min(n, cap)
        if used < n:
            notes.append(f"{n} connections capped to {used} by the open-file limit ({nofile})")
        pairs.append((used, n))
    return pairs


def choose_cpus(workers, notes):
    """Pinning: server (and backends) on the first CPU, wrk on the second, when possible."""
    cpus = sorted(os.sched_getaffinity(0))
    if workers > 1:
        notes.append(f"--workers {workers}: nothing pinned, wrk uses several threads")
        return None, None
    if len(cpus) < 2:
        notes.append("only one CPU: nothing pinned, wrk competes with the server")
        return None, None
    return cpus[0], cpus[1]


def make_plan(args):
    notes = []
    bins = {
        "wrk": procs.require_tool(args.wrk_bin, INSTALL_HINT),
        "h2load": args.h2load_bin,
        "nginx": procs.require_tool(args.nginx_bin, INSTALL_HINT),
        "portico": procs.require_tool(args.server_bin, "Build Portico first (`make build`) "
                                      "or name a binary with --server-bin."),
    }
    workers = max(1, args.workers)
    server_cpu, wrk_cpu = choose_cpus(workers, notes)
    if server_cpu is not None:
        procs.require_tool("taskset", "Install util-linux (it provides taskset).")
    nofile = procs.raise_nofile()[0]
    conns = choose_conns(args, nofile, notes)
    most = max(used for used, _ in conns)
    threads = args.wrk_threads or (1 if workers == 1 else min(workers, procs.cpu_count()))
    return Plan(
        scenarios=choose_scenarios(args, notes), conns=conns,
        rounds=args.rounds or (1 if args.quick else 3),
        duration=args.duration or (3 if args.quick else 4), warmup=max(0, args.warmup),
        workers=workers, reuseport=args.reuseport,
        wrk_threads=max(1, min(threads, min(used for used, _ in conns))),
        wrk_timeout=args.wrk_timeout, server_cpu=server_cpu, wrk_cpu=wrk_cpu, bins=bins,
        nofile=nofile,
        # Proxying may hold a client and an upstream connection per request.
        worker_connections=min(procs.conn_cap(nofile), 2 * most + 1024),
        backlog=procs.somaxconn(), notes=notes, interleave=args.interleave)


def estimate_seconds(plan):
    """A rough wall-clock estimate: wrk time plus ~0.7 s of overhead per run."""
    runs = len(plan.scenarios) * len(plan.conns) * len(SERVERS)
    warmup = plan.warmup + 0.7 if plan.warmup else 0
    if plan.interleave:     # servers started, and warmed up, once per round
        return plan.rounds * (runs * (plan.duration + 0.7 + warmup) + 2 * len(plan.scenarios))
    return runs * (plan.rounds * (plan.duration + 0.7) + warmup) + 2 * len(plan.scenarios)


# ---------------------------------------------------------------- servers

@dataclass
class Contender:
    """One server under test for one scenario, and how it is doing."""
    label: str
    server: procs.Server
    status: str = "ok"
    reason: str = ""


def start_backends(plan, root, ports):
    """Starts the backends the chosen scenarios need; returns {name: (server, error)}."""
    backends = {}
    if {"proxy", "gzproxy", "json", "cached", "h2_proxy"} & set(plan.scenarios):
        conf = config.upstream_conf(ports["upstream"], plan.worker_connections, plan.backlog,
                                    docroot=os.path.join(root, "html"), workers=plan.workers)
        prefix = procs.write_prefix(root, "upstream", "nginx.conf", conf)
        server = procs.Server("upstream", plan.bins["nginx"], prefix, "nginx.conf",
                              ports["upstream"], cpu=plan.server_cpu)
        backends["upstream"] = _start_backend(server, config.RET_BODY)
    if "tornado" in plan.scenarios:
        prefix = procs.write_prefix(root, "tornado", "unused", "")
        argv = [sys.executable, os.path.join(BENCHES, "tornado_app.py"),
                "--port", str(ports["tornado"]), "--backlog", str(plan.backlog)]
        server = procs.Backend("tornado", argv, prefix, ports["tornado"], cpu=plan.server_cpu)
        backends["tornado"] = _start_backend(server, config.TORNADO_BODY)
    if "fastcgi" in plan.scenarios:
        backends["php-fpm"] = _start_fpm(plan, root, ports["php-fpm"])
    return backends


def _start_fpm(plan, root, socket_path):
    """php-fpm on a unix socket; ready when the socket accepts (the servers' own check
    request then proves the whole chain)."""
    prefix = procs.write_prefix(root, "php-fpm", "php-fpm.conf", config.fpm_conf(
        os.path.join(root, "php-fpm"), socket_path, FPM_CHILDREN, plan.backlog))
    argv = [config.php_fpm_binary(), "-R", "-F", "-y",
            os.path.join(prefix, "conf", "php-fpm.conf")]
    server = procs.Backend("php-fpm", argv, prefix, 0, cpu=plan.server_cpu)
    server.workers = FPM_CHILDREN
    server.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not server.alive():
            return server, f"backend php-fpm exited: {server.log_tail()}"
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(socket_path)
            server.worker_pids = server._find_workers(deadline)
            return server, None
        except OSError:
            time.sleep(0.05)
    server.stop()
    return server, "backend php-fpm did not open its socket"


def _start_backend(server, body):
    server.start()
    status, reason = server.wait_ready("/", lambda s, b: None if (s, b) == (200, body)
                                       else f"status {s}, body {b[:40]!r}")
    if status != "ok":
        server.stop()
        return server, f"backend {server.label} failed: {reason}"
    return server, None


def start_contenders(plan, root, docroot, scenario, ports):
    """Writes both configs for the scenario and starts both servers; never raises."""
    contenders = []
    for label in SERVERS:
        conf_name = f"{label}.conf"
        text = config.server_conf(scenario, ports[label], docroot, ports,
                                  plan.workers, plan.worker_connections, plan.backlog,
                                  reuseport=plan.reuseport)
        prefix = procs.write_prefix(root, f"{scenario.name}-{label}", conf_name, text)
        server = procs.Server(label, plan.bins[label], prefix, conf_name, ports[label],
                              cpu=plan.server_cpu, workers=plan.workers)
        contenders.append(_start_contender(label, server, scenario))
    return contenders


def _start_contender(label, server, scenario):
    try:
        server.start()
    except OSError as e:
        return Contender(label, server, "unsupported", f"cannot start: {e}")
    status, reason = server.wait_ready(scenario.path, scenario.check,
                                       headers=scenario.request_headers(), tls=scenario.tls)
    if status != "ok":
        server.stop()
    return Contender(label, server, status, reason)


# ---------------------------------------------------------------- measuring

def settle(pids, limit=5.0):
    """Waits (at most `limit` s) until the processes are idle, so a run never starts while
    the previous one's backlog (closing sockets, a slow backend) still burns CPU."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = procs.cpu_seconds(pids)
        time.sleep(0.2)
        if procs.cpu_seconds(pids) - before <= 0.01:
            return


def run_wrk(plan, contender, scenario, conns, duration):
    """One run of the scenario's load tool (wrk, h2load, s_time) against one server: its
    numbers plus the worker CPU it cost."""
    server = contender.server
    scheme = "https" if scenario.tls else "http"
    url = f"{scheme}://127.0.0.1:{server.port}{scenario.path}"
    pids = list(server.worker_pids)
    cpu_before = procs.cpu_seconds(pids)
    threads = plan.wrk_threads
    if scenario.client == "h2load":
        threads = 1
        cmd = h2load.h2load_argv(url, conns, scenario.streams, duration, cpu=plan.wrk_cpu,
                                 binary=plan.bins["h2load"])
        rc, output, wrk_cpu = wrk.run(cmd, duration)
        result = h2load.parse_h2load(output)
    elif scenario.client == "s_time":
        threads = 1
        cmd = h2load.s_time_argv(server.port, scenario.path, duration, scenario.reuse,
                                 cpu=plan.wrk_cpu)
        before = wrk._children_cpu()
        rc, output, wall = h2load.run(cmd, duration)
        wrk_cpu = wrk._children_cpu() - before
        result = h2load.parse_s_time(output, wall, scenario.reuse)
    else:
        cmd = wrk.argv(url, conns, duration, plan.wrk_threads, plan.wrk_timeout,
                       cpu=plan.wrk_cpu, binary=plan.bins["wrk"], headers=scenario.headers)
        rc, output, wrk_cpu = wrk.run(cmd, duration)
        result = wrk.parse(output)
    cpu = procs.cpu_seconds(pids) - cpu_before
    result = result or {"error": f"{scenario.client} exit {rc}: {output.strip()[-300:]}"}
    _check_health(contender, pids, result)
    if "rps" not in result:
        return result
    # The client busy ~100% of the run means it, not the server, set the pace.
    result["wrk_cpu_pct"] = 100.0 * wrk_cpu / result["seconds"] / threads \
        if wrk_cpu is not None and result["seconds"] else None
    if "cpu_invalid" not in result:
        result["cpu_s"] = cpu
        result["req_per_cpu_s"] = result["requests"] / cpu if cpu > 0 else None
    return result


def _check_health(contender, pids, result):
    """Marks a server that died, and a run whose workers changed (its CPU is unknown)."""
    server = contender.server
    if not server.alive():
        contender.status, contender.reason = "crashed", server.log_tail()
        return
    now = procs.children(server.proc.pid) or [server.proc.pid]
    if sorted(now) != sorted(pids):
        result["cpu_invalid"] = "worker processes changed during the run"
        server.worker_pids = now


def run_point(plan, scenario, contenders, used, requested, watch):
    """Warm-up, then `rounds` alternating runs of every live server at one connection count."""
    live = [c for c in contenders if c.status == "ok"]
    if plan.warmup:
        for c in live:
            settle(watch)
            run_wrk(plan, c, scenario, used, plan.warmup)
    rounds = {c.label: [] for c in contenders}
    for r in range(plan.rounds):
        for c in live:
            if c.status == "ok":
                settle(watch)
                rounds[c.label].append(run_wrk(plan, c, scenario, used, plan.duration))
                _progress(scenario, used, c.label, plan.first_round + r,
                          rounds[c.label][-1])
    return point_result(scenario, used, requested, contenders, rounds)


def point_result(scenario, used, requested, contenders, rounds):
    sides = {}
    for c in contenders:
        summary = report.summarize(rounds[c.label])
        status, reason = c.status, c.reason
        if status == "ok" and not summary["rounds_ok"]:
            errors = [r.get("error", "") for r in rounds[c.label]]
            status, reason = "failed", (errors[-1] if errors else "no rounds ran")
        sides[c.label] = {"status": status, "reason": reason, "median": summary,
                          "rounds": rounds[c.label]}
    ok = {k: v["median"] for k, v in sides.items() if v["status"] == "ok"}
    point = {"scenario": scenario.name, "path": scenario.path, "conns": used,
             "conns_requested": requested, "servers": sides,
             "ratios": report.ratios(ok.get("portico"), ok.get("nginx"))}
    # A server that answered many requests with errors (or not at all) did other work than
    # the one compared: its ratios would mislead, so they are withheld, with why.
    failing = [f"{label} {share:.0%} errors" for label, side in sides.items()
               if (share := report.error_share(side["rounds"])) > report.MAX_ERROR_SHARE]
    if failing:
        point["ratios"] = report.ratios(None, None)
        point["ratios_withheld"] = ", ".join(failing)
    return point


def _progress(scenario, conns, label, r, result):
    if "rps" in result:
        what = f"{result['rps']:,.0f} req/s"
        if "p99_ms" in result:
            what += f", p99 {result['p99_ms']:.2f} ms"
        if "cpu_invalid" in result:
            what += f" (CPU not counted: {result['cpu_invalid']})"
    else:
        what = result.get("error", "?")[:100]
    print(f"  {scenario.name:8} c={conns:<6} {label:8} round {r + 1}: {what}", flush=True)


def skipped_point(scenario, used, requested, status, reason):
    """A point that could not run for either server (its backend failed)."""
    side = {"status": status, "reason": reason, "median": None, "rounds": []}
    return {"scenario": scenario.name, "path": scenario.path, "conns": used,
            "conns_requested": requested, "servers": {s: dict(side) for s in SERVERS},
            "ratios": report.ratios(None, None)}


def scenario_conns(plan, scenario):
    """The connection counts of a scenario: a proxied request holds two descriptors (the
    client's and the upstream's), so with a slow backend, where every client waits on its
    own upstream connection, a proxying server needs twice as many. Past the open-file
    limit both servers would fail connects to the backend (502), which measures nothing."""
    if scenario.client in CLIENT_CONNS:
        fixed = CLIENT_CONNS[scenario.client]
        return [(fixed, fixed)]
    if not scenario.backend:
        return plan.conns
    cap = procs.conn_cap(plan.nofile) // 2
    pairs = []
    for used, requested in plan.conns:
        if used > cap:
            print(f"note: {scenario.name}: {used} connections capped to {cap}: a proxied "
                  f"request holds two descriptors (open-file limit {plan.nofile})")
            used = cap
        pairs.append((used, requested))
    return pairs


def run_scenario(plan, root, docroot, scenario, ports, backends):
    """Every connection count of one scenario, both servers up for its duration."""
    backend, error = backends.get(scenario.backend, (None, None))
    if error:
        return [skipped_point(scenario, u, r, "skipped", error) for u, r in plan.conns]
    contenders = start_contenders(plan, root, docroot, scenario, ports)
    for c in contenders:
        if c.status != "ok":
            print(f"  {scenario.name:8} {c.label}: {c.status.upper()}: {c.reason[:200]}")
    watch = [pid for c in contenders for pid in c.server.worker_pids if c.status == "ok"]
    if backend:
        watch += backend.worker_pids
    try:
        return [run_point(plan, scenario, contenders, u, r, watch)
                for u, r in scenario_conns(plan, scenario)]
    finally:
        for c in contenders:
            c.server.stop()


# ---------------------------------------------------------------- main

def version_of(argv):
    """First line a tool prints for its version flag (nginx and wrk print to stderr)."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"
    text = (out.stdout + out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def meta(plan, args, started):
    return {
        "started": started, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": platform.node(), "kernel": platform.release(), "cpus": procs.cpu_count(),
        "portico_bin": plan.bins["portico"], "portico_version": version_of(
            [plan.bins["portico"], "-v"]),
        "nginx_bin": plan.bins["nginx"], "nginx_version": version_of([plan.bins["nginx"], "-v"]),
        "wrk_version": version_of([plan.bins["wrk"], "-v"]),
        "scenarios": plan.scenarios, "conns": [u for u, _ in plan.conns],
        "rounds": plan.rounds, "duration_s": plan.duration, "warmup_s": plan.warmup,
        "workers": plan.workers, "reuseport": plan.reuseport,
        "wrk_threads": plan.wrk_threads,
        "wrk_timeout_s": plan.wrk_timeout, "server_cpu": plan.server_cpu,
        "wrk_cpu": plan.wrk_cpu, "nofile": plan.nofile, "interleave": plan.interleave,
        "worker_connections": plan.worker_connections, "backlog": plan.backlog,
        "notes": plan.notes, "argv": sys.argv[1:], "quick": args.quick,
    }


def allocate_ports(root):
    names = ("portico", "nginx", "upstream", "tornado")
    ports = dict(zip(names, procs.free_ports(len(names))))
    ports["php-fpm"] = os.path.join(root, "php-fpm.sock")
    return ports


def print_header(plan):
    pin = (f"server+backends on CPU {plan.server_cpu}, wrk on CPU {plan.wrk_cpu}"
           if plan.server_cpu is not None else "no CPU pinning")
    print(f"Portico: {plan.bins['portico']}\nnginx:   {plan.bins['nginx']}")
    print(f"scenarios {','.join(plan.scenarios)}; connections "
          f"{','.join(str(u) for u, _ in plan.conns)}; {plan.rounds} round(s) of "
          f"{plan.duration}s, warm-up {plan.warmup}s; worker_processes {plan.workers}; "
          f"wrk -t{plan.wrk_threads}; {pin}"
          f"{'; scenarios interleaved round by round' if plan.interleave else ''}")
    for note in plan.notes:
        print(f"note: {note}")
    print(f"estimated time: about {estimate_seconds(plan) / 60:.1f} min\n", flush=True)


def run_all(plan, root):
    docroot = os.path.join(root, "html")
    config.make_docroot(docroot)
    ports = allocate_ports(root)
    scenarios = config.scenarios(docroot)
    backends = start_backends(plan, root, ports)
    points = []
    counts = []
    memory = []
    # Interleaved: `rounds` passes of one round each over every scenario (ABBA order),
    # merged per point afterwards.
    passes = ([(replace(plan, rounds=1, first_round=r),
                plan.scenarios[::1 if r % 2 == 0 else -1])
               for r in range(plan.rounds)] if plan.interleave else [(plan, plan.scenarios)])
    try:
        for n, (pass_plan, names) in enumerate(passes):
            for name in names:
                if name in ("lockcount", "idle_mem") and n > 0:
                    continue
                if name == "lockcount":
                    # A count, not a speed: run once, beside the wrk scenarios.
                    counts = lock_count.run(plan, root, plan.bins)
                    continue
                if name == "idle_mem":
                    memory = idle_mem.run(plan, root, docroot)
                    continue
                points += run_scenario(pass_plan, root, docroot, scenarios[name], ports,
                                       backends)
    finally:
        for server, _ in backends.values():
            server.stop()
    if plan.interleave:
        points = merge_passes(points, plan.scenarios)
    return points, counts, memory


def merge_passes(points, order):
    """One point per scenario and connection count from the interleaved passes' points:
    their rounds together, in the order they ran; a server that did not run in some pass
    keeps that pass's status."""
    groups = {}
    for p in points:
        groups.setdefault((p["scenario"], p["conns"]), []).append(p)
    merged = []
    for (name, used), group in sorted(groups.items(), key=lambda kv: order.index(kv[0][0])):
        first = group[0]
        scenario = SimpleNamespace(name=name, path=first["path"])
        contenders, rounds = [], {}
        for label in first["servers"]:
            sides = [p["servers"][label] for p in group]
            bad = next((s for s in sides if s["status"] != "ok"), None)
            status, reason = (bad["status"], bad["reason"]) if bad else ("ok", "")
            contenders.append(SimpleNamespace(label=label, status=status, reason=reason))
            rounds[label] = [r for s in sides for r in s["rounds"]]
        merged.append(point_result(scenario, used, first["conns_requested"], contenders,
                                   rounds))
    return merged


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)     # so `finally` stops every server
    plan = make_plan(args)
    print_header(plan)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    t0 = time.monotonic()
    root = tempfile.mkdtemp(prefix="portico-bench-")
    os.chmod(root, 0o755)
    try:
        points, counts, memory = run_all(plan, root)
    finally:
        if args.keep_temp:
            print(f"temporary prefixes kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print("\n" + report.table(points))
    for line in report.reasons(points):
        print(line)
    print("\n(medians over rounds; errors summed over rounds; P/N = Portico / nginx; "
          "* = connection count capped)")
    if counts:
        print("\n" + lock_count.table(counts))
    if memory:
        print("\n" + idle_mem.table(memory))
    doc = {"meta": meta(plan, args, started), "points": points, "lock_count": counts,
           "idle_mem": memory}
    latest, stamped = report.write_json(doc, args.results)
    print(f"wrote {latest} and {stamped} in {time.monotonic() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, no results written", file=sys.stderr)
        sys.exit(130)
