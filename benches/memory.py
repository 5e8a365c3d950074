#!/usr/bin/env python3
"""Memory per idle keep-alive connection: Portico against nginx.

For each server in turn: start it (worker_processes 1, the bench's static config), read its
worker's VmRSS, open N connections that each make one keep-alive request and then stay open
and idle, read VmRSS again, and report (after - before) / N. Prints a table and writes
benches/results/memory-latest.json (plus a timestamped copy).

Python 3 standard library only; needs nginx on PATH (installs nothing).
"""

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import config, procs, report  # noqa: E402

BENCHES = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCHES)
SERVERS = ("portico", "nginx")
SETTLE_S = 1.0      # pause after the last connection before reading VmRSS


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--conns", type=int, default=10000, help="idle connections (default 10000)")
    p.add_argument("--path", default="/small.html", help="the one request on each connection")
    p.add_argument("--time-limit", type=float, default=60.0,
                   help="seconds allowed for opening the connections, per server (default 60)")
    p.add_argument("--server-bin", default=os.path.join(REPO, "target/release/portico"))
    p.add_argument("--nginx-bin", default="nginx")
    p.add_argument("--results", default=os.path.join(BENCHES, "results"))
    return p.parse_args(argv)


# ---------------------------------------------------------------- the client side

def open_idle(port, path, count, deadline):
    """Opens up to `count` connections, each with one answered keep-alive request.

    Returns (open sockets, error counts). Stops early at `deadline`. Sequential blocking
    I/O is enough: each connection costs a fraction of a millisecond over loopback.
    """
    request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    held, errors = [], {}
    while len(held) < count and time.monotonic() < deadline:
        try:
            held.append(_one_request(port, request))
        except (OSError, ValueError) as e:
            kind = type(e).__name__
            errors[kind] = errors.get(kind, 0) + 1
            if sum(errors.values()) > 100:
                break
    return held, errors


def _one_request(port, request):
    """A connected socket whose one response was read completely and kept alive."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(request)
        head, rest = _read_head(sock)
        if not head.startswith(b"HTTP/1.1 200"):
            raise ValueError(head.split(b"\r\n")[0].decode(errors="replace"))
        if b"\r\nconnection: close" in head.lower():
            raise ValueError("server closed the connection")
        _read_body(sock, _content_length(head) - len(rest))
        return sock
    except BaseException:
        sock.close()
        raise


def _read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ValueError("connection closed before the response head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _content_length(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ValueError("response without Content-Length")


def _read_body(sock, remaining):
    while remaining > 0:
        chunk = sock.recv(min(remaining, 65536))
        if not chunk:
            raise ValueError("connection closed in the body")
        remaining -= len(chunk)


# ---------------------------------------------------------------- one server

def measure(label, binary, root, docroot, port, args, worker_connections):
    """Starts one server, holds the idle connections, returns its result dict."""
    scenario = config.scenarios(docroot)["small"]
    text = config.server_conf(scenario, port, docroot, {}, 1, worker_connections,
                              procs.somaxconn())
    prefix = procs.write_prefix(root, f"memory-{label}", f"{label}.conf", text)
    server = procs.Server(label, binary, prefix, f"{label}.conf", port)
    server.start()
    try:
        status, reason = server.wait_ready(args.path, lambda s, b: None if s == 200
                                           else f"status {s}")
        if status != "ok":
            return {"status": status, "reason": reason}
        return _hold_and_measure(server, args)
    finally:
        server.stop()


def _hold_and_measure(server, args):
    warm, _ = open_idle(server.port, args.path, 100, time.monotonic() + 10)
    for s in warm:          # first-use allocations are not per-connection costs
        s.close()
    time.sleep(SETTLE_S)
    before = procs.rss_kib(server.worker_pids)
    t0 = time.monotonic()
    held, errors = open_idle(server.port, args.path, args.conns, t0 + args.time_limit)
    opened_s = time.monotonic() - t0
    time.sleep(SETTLE_S)
    after = procs.rss_kib(server.worker_pids)
    alive = server.alive()
    for s in held:
        s.close()
    result = {"status": "ok" if alive else "crashed", "reason": "" if alive
              else server.log_tail(), "held": len(held), "errors": errors,
              "open_seconds": round(opened_s, 2), "rss_before_kib": before,
              "rss_after_kib": after, "workers": server.worker_pids}
    result["bytes_per_conn"] = (after - before) * 1024 / len(held) if held else None
    return result


# ---------------------------------------------------------------- main

def print_table(results):
    print(f"{'server':8}  {'held':>6}  {'RSS before':>11}  {'RSS after':>11}  "
          f"{'growth/conn':>12}")
    for label in SERVERS:
        r = results[label]
        if r["status"] != "ok":
            print(f"{label:8}  {r['status'].upper()}: {r['reason'][:150]}")
            continue
        per = "-" if r["bytes_per_conn"] is None else f"{r['bytes_per_conn']:,.0f} B"
        print(f"{label:8}  {r['held']:>6}  {r['rss_before_kib']:>7,} KiB  "
              f"{r['rss_after_kib']:>7,} KiB  {per:>12}")
        if r["errors"]:
            print(f"{'':8}  connection errors: {r['errors']}")


def ratio(results):
    a, b = (results[s].get("bytes_per_conn") for s in SERVERS)
    return a / b if a is not None and b else None


def main(argv=None):
    args = parse_args(argv)
    bins = {"portico": procs.require_tool(args.server_bin, "Build Portico first (`make "
                                          "build`) or name a binary with --server-bin."),
            "nginx": procs.require_tool(args.nginx_bin, "Install it (apt-get install -y "
                                        "nginx) and run again.")}
    nofile = procs.raise_nofile()[0]
    conns = min(args.conns, procs.conn_cap(nofile))
    if conns < args.conns:
        print(f"note: {args.conns} connections capped to {conns} by the open-file limit "
              f"({nofile})")
    args.conns = conns
    root = tempfile.mkdtemp(prefix="portico-memory-")
    os.chmod(root, 0o755)
    try:
        docroot = os.path.join(root, "html")
        config.make_docroot(docroot)
        ports = dict(zip(SERVERS, procs.free_ports(len(SERVERS))))
        results = {}
        for label in SERVERS:       # one at a time: the client's fds go to one server
            print(f"{label}: holding {conns} idle keep-alive connections...", flush=True)
            results[label] = measure(label, bins[label], root, docroot, ports[label], args,
                                     procs.conn_cap(nofile))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    print_table(results)
    r = ratio(results)
    print(f"\nratio Portico/nginx, bytes per idle connection: "
          f"{'-' if r is None else f'{r:.2f}x'}")
    doc = {"meta": {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "conns": conns,
                    "path": args.path, "bins": bins, "nofile": nofile},
           "servers": results, "ratio_bytes_per_conn": r}
    latest, stamped = report.write_json(doc, args.results, "memory")
    print(f"wrote {latest} and {stamped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
