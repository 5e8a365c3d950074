#!/usr/bin/env python3
"""Slow clients: thousands of slowloris connections (Debian's `slowhttptest -H`: request heads
that never end, one more header line every few seconds) while a small client keeps making
normal requests and measures their latency. Prints p50/p99/max latency and failures of the
normal requests, with and without the attack, for Portico and for nginx run the same way.

    sudo python3 benches/slowloris.py [--conns 4000] [--duration 60] [--only portico]

What bounds the harm: each slowloris connection costs a worker only an idle slot (no buffer
beyond its head), `client_header_timeout` closes it, and accepting is never blocked by it.
Stdlib Python and slowhttptest (`apt-get install slowhttptest`); run as root.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import config, procs  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def conf(port, docroot, workers, header_timeout):
    return (
        config.main_context(workers, 16384, "warn")
        + "http {\n"
        "    access_log off;\n"
        f"    client_header_timeout {header_timeout}s;\n"
        f"    server {{\n        listen 127.0.0.1:{port} backlog=4096;\n"
        f"        root {docroot};\n    }}\n"
        "}\n"
    )


def probe(port, stop, pause, out):
    """Normal clients: one GET on a fresh connection every `pause` seconds until stopped;
    appends (latency seconds or None on failure) to out."""
    import http.client
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/index.html")
            r = c.getresponse()
            r.read()
            c.close()
            out.append(time.monotonic() - t0 if r.status == 200 else None)
        except OSError:
            out.append(None)
        time.sleep(pause)


def measure(port, seconds, pause=0.02, clients=2):
    stop = threading.Event()
    samples = []
    threads = [threading.Thread(target=probe, args=(port, stop, pause, samples))
               for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return summarize(samples)


def summarize(samples):
    ok = sorted(s for s in samples if s is not None)
    failed = len(samples) - len(ok)

    def pct(p):
        return ok[min(len(ok) - 1, int(len(ok) * p))] * 1000 if ok else float("nan")
    return {"requests": len(samples), "failed": failed, "p50_ms": pct(0.50),
            "p99_ms": pct(0.99), "max_ms": ok[-1] * 1000 if ok else float("nan")}


def open_conns(pids):
    """Sockets the server's processes hold (roughly its open connections)."""
    total = 0
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                        total += 1
                except OSError:
                    pass
        except OSError:
            pass
    return total


def run_one(label, binary, root, docroot, args):
    port = procs.free_ports(1)[0]
    prefix = procs.write_prefix(root, label, "server.conf",
                                conf(port, docroot, args.workers, args.header_timeout))
    server = procs.Server(label, binary, prefix, "server.conf", port, workers=args.workers)
    server.start()
    try:
        state, why = server.wait_ready("/index.html", lambda st, body: None
                                       if st == 200 else f"status {st}")
        if state != "ok":
            return {"label": label, "error": f"{state}: {why}"}
        baseline = measure(port, 5)
        cmd = ["slowhttptest", "-H", "-c", str(args.conns), "-r", str(args.rate),
               "-i", "5", "-l", str(args.duration), "-p", "5", "-x", "24",
               "-u", f"http://127.0.0.1:{port}/index.html"]
        attack = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        # Let the connections build up, then measure while they are held open.
        ramp = min(args.duration / 3, args.conns / args.rate + 2)
        time.sleep(ramp)
        held = open_conns(server.worker_pids)
        under = measure(port, max(5, args.duration - ramp - 5))
        held = max(held, open_conns(server.worker_pids))
        try:
            text, _ = attack.communicate(timeout=args.duration + 60)
        except subprocess.TimeoutExpired:
            attack.kill()
            text, _ = attack.communicate()
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)   # slowhttptest colours its report
        connected = [int(x) for x in re.findall(r"connected:\s+(\d+)", text)]
        available = re.findall(r"service available:\s+(\w+)", text)
        return {"label": label, "baseline": baseline, "under": under, "held": held,
                "max_connected": max(connected) if connected else 0,
                "available": available[-1] if available else "?", "alive": server.alive()}
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--portico", default=os.path.join(TARGET, "release", "portico"))
    ap.add_argument("--nginx", default="/usr/sbin/nginx")
    ap.add_argument("--conns", type=int, default=4000, help="slowloris connections (4000)")
    ap.add_argument("--rate", type=int, default=1000, help="new connections per second (1000)")
    ap.add_argument("--duration", type=int, default=60, help="attack seconds (60)")
    ap.add_argument("--workers", type=int, default=1, help="worker_processes (1)")
    ap.add_argument("--header-timeout", type=int, default=60,
                    help="client_header_timeout seconds (60, nginx's default)")
    ap.add_argument("--only", choices=("portico", "nginx"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (the configs say `user root;`)")
    procs.require_tool("slowhttptest", "apt-get install slowhttptest")
    procs.raise_nofile()
    results = []
    with tempfile.TemporaryDirectory(prefix="slowloris-") as root:
        docroot = os.path.join(root, "html")
        os.makedirs(docroot)
        with open(os.path.join(docroot, "index.html"), "wb") as f:
            f.write(b"x" * 1024)
        os.chmod(root, 0o755)
        for label, binary in (("portico", args.portico), ("nginx", args.nginx)):
            if args.only and args.only != label:
                continue
            if not os.access(binary, os.X_OK):
                results.append({"label": label, "error": f"no executable {binary}"})
                continue
            print(f"{label}: slowhttptest -H -c {args.conns} for {args.duration}s...", flush=True)
            results.append(run_one(label, binary, root, docroot, args))
    print()
    print(f"{'server':8} {'phase':9} {'requests':>8} {'failed':>6} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7}   slowloris held/connected, service available")
    failed = False
    for r in results:
        if "error" in r:
            print(f"{r['label']:8} {r['error']}")
            failed = True
            continue
        for phase in ("baseline", "under"):
            m = r[phase]
            extra = (f"   {r['held']} sockets held / {r['max_connected']} connected, "
                     f"{r['available']}") if phase == "under" else ""
            print(f"{r['label']:8} {phase:9} {m['requests']:8} {m['failed']:6} "
                  f"{m['p50_ms']:7.1f} {m['p99_ms']:7.1f} {m['max_ms']:7.1f}{extra}")
        if r["label"] == "portico" and (r["under"]["failed"] or not r["alive"]):
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
