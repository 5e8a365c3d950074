#!/usr/bin/env python3
"""Soak: moderate load for a long time while every worker's RSS and open descriptors are
printed every few seconds; a leak shows as a column that keeps growing.

    sudo python3 benches/soak.py [--minutes 10] [--every 10] [--workers 2]

Load: wrk with keep-alive connections on a small file, a second wrk sending
`Connection: close` (a new connection per request: accept, close, buffers back to the pool),
and a Python client mixing a large file, a 404 and a request cut off half-way. At the end,
the growth of each worker between the first sample after warm-up (80 s: the timer heap fills
for one keepalive_timeout) and the last is printed;
the script fails if a worker's descriptors grew or its RSS grew by more than --rss-slack KiB.
Stdlib Python and wrk; run as root.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import config, procs  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def conf(port, docroot, workers):
    return (
        config.main_context(workers, 4096, "warn")
        + "http {\n"
        "    access_log logs/access.log;\n"
        "    keepalive_timeout 65;\n"
        f"    server {{\n        listen 127.0.0.1:{port};\n        root {docroot};\n    }}\n"
        "}\n"
    )


def fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def fd_targets(pid):
    out = []
    for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            out.append(f"{fd}={os.readlink(f'/proc/{pid}/fd/{fd}')}")
        except OSError:
            pass
    return " ".join(out)


def mixed_client(port, stop, counts):
    """Large file, 404, and a request abandoned half-way, in a loop."""
    requests = [
        b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /index.html HTTP/1.1\r\nHost: x\r\nContent-Len",   # cut off: client goes away
    ]
    i = 0
    while not stop.is_set():
        req = requests[i % len(requests)]
        i += 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(req)
                if req.endswith(b"\r\n\r\n"):
                    while s.recv(1 << 16):
                        pass
            counts["ok"] += 1
        except OSError:
            counts["failed"] += 1
        time.sleep(0.01)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--portico", default=os.path.join(TARGET, "release", "portico"))
    ap.add_argument("--minutes", type=float, default=10, help="duration (default 10)")
    ap.add_argument("--every", type=float, default=10, help="seconds between samples (10)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--conns", type=int, default=20, help="keep-alive wrk connections (20)")
    # A worker's timer heap keeps a cancelled deadline until it would have fired, so memory
    # rises for one keepalive_timeout (65s here) under a steady load and is flat after it.
    ap.add_argument("--warmup", type=float, default=80,
                    help="seconds before the baseline sample (80: keepalive_timeout + 15)")
    ap.add_argument("--rss-slack", type=int, default=512,
                    help="RSS growth per worker tolerated after warm-up, KiB (512)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (the config says `user root;`)")
    procs.require_tool("wrk", "apt-get install wrk")
    procs.raise_nofile()
    seconds = int(args.minutes * 60)
    with tempfile.TemporaryDirectory(prefix="soak-") as root:
        docroot = os.path.join(root, "html")
        os.makedirs(docroot)
        with open(os.path.join(docroot, "index.html"), "wb") as f:
            f.write(b"x" * 1024)
        with open(os.path.join(docroot, "big.bin"), "wb") as f:
            f.write(os.urandom(4 << 20))
        os.chmod(root, 0o755)
        port = procs.free_ports(1)[0]
        prefix = procs.write_prefix(root, "portico", "server.conf",
                                    conf(port, docroot, args.workers))
        server = procs.Server("portico", args.portico, prefix, "server.conf", port,
                              workers=args.workers)
        server.start()
        loads = []
        stop = threading.Event()
        try:
            state, why = server.wait_ready("/index.html", lambda st, b: None
                                           if st == 200 else f"status {st}")
            if state != "ok":
                sys.exit(f"portico: {state}: {why}")
            workers = server.worker_pids
            idle_before = [fds(w) for w in workers]
            url = f"http://127.0.0.1:{port}/index.html"
            for extra in ([f"-c{args.conns}"], ["-c4", "-H", "Connection: close"]):
                loads.append(subprocess.Popen(
                    ["wrk", "-t1", f"-d{seconds}s", *extra, url], stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
            counts = {"ok": 0, "failed": 0}
            mixed = threading.Thread(target=mixed_client, args=(port, stop, counts))
            mixed.start()
            print(f"soak: {seconds}s, workers {workers}, sample every {args.every:.0f}s")
            print(f"{'t(s)':>6} " + " ".join(f"{'rss KiB':>9} {'fds':>4}" for _ in workers)
                  + "   (per worker)")
            t0 = time.monotonic()
            samples = []
            while time.monotonic() - t0 < seconds:
                time.sleep(min(args.every, max(0.0, seconds - (time.monotonic() - t0))))
                t = time.monotonic() - t0
                row = [(procs.rss_kib([w]), fds(w)) for w in workers]
                samples.append((t, row))
                print(f"{t:6.0f} " + " ".join(f"{r:9} {n:4}" for r, n in row), flush=True)
            stop.set()
            mixed.join()
            outputs = [p.communicate()[0] for p in loads]
            # With the load gone, every connection is closed: what is left open is a leak.
            time.sleep(2)
            idle_after = [fds(w) for w in workers]
            for w, before, after in zip(workers, idle_before, idle_after):
                if after > before:
                    print(f"worker {w} holds after the load: {fd_targets(w)}")
        finally:
            stop.set()
            for p in loads:
                if p.poll() is None:
                    p.kill()
            server.stop()
    requests = []
    for text in outputs:
        for line in text.splitlines():
            if "requests in" in line or "Socket errors" in line or "Non-2xx" in line:
                requests.append(line.strip())
    print("wrk:", " | ".join(requests))
    print(f"mixed client: {counts['ok']} ok, {counts['failed']} failed")
    base = next((row for t, row in samples if t >= args.warmup), samples[0][1] if samples else [])
    last = samples[-1][1] if samples else []
    failed = False
    for i, (b, e) in enumerate(zip(base, last)):
        grew_rss = e[0] - b[0]
        print(f"worker {workers[i]}: RSS {b[0]} -> {e[0]} KiB ({grew_rss:+}) from "
              f"{args.warmup:.0f}s to the end; open fds when idle: {idle_before[i]} before "
              f"the load, {idle_after[i]} after it")
        if grew_rss > args.rss_slack or idle_after[i] > idle_before[i]:
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
