#!/usr/bin/env python3
"""Zero-loss reload: `wrk` with keep-alive connections against a static file while the master
gets `HUP` after `HUP`; prints wrk's socket errors and non-2xx/3xx responses for Portico and
for nginx, run the same way (same config text, same load, same signal spacing).

    sudo python3 benches/reload_under_load.py [--duration 30] [--conns 50] [--reloads 100]

Portico's target is 0 socket errors and 0 bad responses. nginx closes idle keep-alive
connections when its old workers stop, racing the client's next request on them, so it
loses requests at most reloads. Stdlib Python and wrk only; runs as root (both servers use
`user root;` so their workers can read the temporary docroot whatever its owner).
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import config, procs, wrk  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def conf(port, docroot, workers):
    return (
        config.main_context(workers, 1024, "notice")
        + "http {\n"
        "    access_log off;\n"
        "    default_type application/octet-stream;\n"
        "    sendfile on;\n"
        "    keepalive_timeout 65;\n"
        f"    server {{\n        listen 127.0.0.1:{port};\n        root {docroot};\n    }}\n"
        "}\n"
    )


def run_one(label, binary, root, docroot, args):
    port = procs.free_ports(1)[0]
    prefix = procs.write_prefix(root, label, "server.conf", conf(port, docroot, args.workers))
    server = procs.Server(label, binary, prefix, "server.conf", port, workers=args.workers)
    server.start()
    try:
        state, why = server.wait_ready("/index.html", lambda status, body: None
                                       if status == 200 else f"status {status}")
        if state != "ok":
            return {"label": label, "error": f"{state}: {why}"}
        cmd = wrk.argv(f"http://127.0.0.1:{port}/index.html", args.conns, args.duration,
                       args.threads, timeout=5)
        result = {}

        def load():
            result["run"] = wrk.run(cmd, args.duration)

        t = threading.Thread(target=load)
        t.start()
        # Spread the reloads over the run, leaving a little load before the first and after
        # the last, so that every reload happens under load.
        spacing = args.duration / (args.reloads + 1)
        sent = 0
        for _ in range(args.reloads):
            time.sleep(spacing)
            if not server.alive():
                break
            os.kill(server.proc.pid, signal.SIGHUP)
            sent += 1
        t.join()
        code, text, _cpu = result["run"]
        parsed = wrk.parse(text)
        if parsed is None:
            return {"label": label, "error": f"wrk failed ({code}): {text.strip()[-300:]}"}
        parsed.update(label=label, reloads=sent, alive=server.alive())
        with open(os.path.join(prefix, "logs", "error.log"), errors="replace") as f:
            log = f.read()
        parsed["alerts"] = sum(1 for line in log.splitlines()
                               if "[alert]" in line or "[emerg]" in line or "[crit]" in line)
        return parsed
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--portico", default=os.path.join(TARGET, "release", "portico"))
    ap.add_argument("--nginx", default="/usr/sbin/nginx")
    ap.add_argument("--duration", type=int, default=30, help="seconds of load (default 30)")
    ap.add_argument("--conns", type=int, default=50, help="wrk connections (default 50)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    ap.add_argument("--reloads", type=int, default=100, help="HUPs during the run (default 100)")
    ap.add_argument("--workers", type=int, default=2, help="worker_processes (default 2)")
    ap.add_argument("--only", choices=("portico", "nginx"), help="run one server only")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (the configs say `user root;`)")
    procs.require_tool("wrk", "apt-get install wrk")
    procs.raise_nofile()
    results = []
    with tempfile.TemporaryDirectory(prefix="reload-bench-") as root:
        docroot = os.path.join(root, "html")
        os.makedirs(docroot)
        with open(os.path.join(docroot, "index.html"), "wb") as f:
            f.write(b"x" * 1024)
        for label, binary in (("portico", args.portico), ("nginx", args.nginx)):
            if args.only and args.only != label:
                continue
            if not os.access(binary, os.X_OK):
                results.append({"label": label, "error": f"no executable {binary}"})
                continue
            print(f"{label}: {args.duration}s of wrk -c{args.conns} with {args.reloads} reloads...",
                  flush=True)
            results.append(run_one(label, binary, root, docroot, args))
    print()
    print(f"{'server':8} {'reloads':>7} {'requests':>9} {'req/s':>8} {'connect':>7} {'read':>6} "
          f"{'write':>6} {'timeout':>7} {'non-2xx':>7} {'alerts':>6}")
    failed = False
    for r in results:
        if "error" in r:
            print(f"{r['label']:8} {r['error']}")
            continue
        e = r["errors"]
        print(f"{r['label']:8} {r['reloads']:7} {r['requests']:9} {r['rps']:8.0f} "
              f"{e['connect']:7} {e['read']:6} {e['write']:6} {e['timeout']:7} "
              f"{r['non_2xx_3xx']:7} {r['alerts']:6}")
        if r["label"] == "portico" and (r["socket_errors"] or r["non_2xx_3xx"] or r["alerts"]
                                        or not r["alive"]):
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
