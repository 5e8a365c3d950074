"""The `idle_mem` scenario: worker memory per idle keep-alive connection. A size, not a
speed: for each kind of connection (plain HTTP/1.1, HTTP/1.1 over TLS, HTTP/2 over TLS)
each server starts afresh with one worker, the harness opens CONNS connections, makes one
request on each (so every connection holds what a served keep-alive connection holds, TLS
state included), leaves them idle, and reads the worker's VmRSS before and after. The
growth divided by CONNS is the memory an idle connection costs.
"""

import os
import socket
import ssl
import time

from . import config, procs

CONNS = 1000
KINDS = ("plain", "tls", "h2")
SETTLE_S = 0.5            # the servers finish their work on the last requests
# GET /small.html in HPACK: :method GET (static entry 2), :scheme https (7), then :path (4)
# and :authority (1) as literals with their names from the static table.
_H2_HEADERS = (bytes([0x82, 0x87, 0x44, 11]) + b"/small.html"
               + bytes([0x41, 9]) + b"localhost")
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _frame(kind, flags, stream, payload):
    return (len(payload).to_bytes(3, "big") + bytes([kind, flags])
            + stream.to_bytes(4, "big") + payload)


def _conf(port, kind, docroot, tls_lines):
    listen = {"plain": "", "tls": " ssl", "h2": " ssl http2"}[kind]
    return (config.main_context(1, CONNS + 100)
            + "http {\n"
            + "    access_log off;\n"
            + "    keepalive_timeout 300;\n"
            + "    server {\n"
            + f"        listen 127.0.0.1:{port} backlog=4096{listen};\n"
            + f"        root {docroot};\n"
            + (tls_lines if kind != "plain" else "")
            + "    }\n}\n")


def _open(port, kind, ctx):
    """One connection that has made one request and read its answer's first bytes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if kind != "plain":
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    if kind == "h2":
        sock.sendall(_H2_PREFACE + _frame(4, 0, 0, b"") + _frame(1, 5, 1, _H2_HEADERS))
    else:
        sock.sendall(b"GET /small.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
    sock.recv(65536)
    return sock


def _measure(label, binary, root, docroot, kind, tls_lines, ctx):
    port = procs.free_ports(1)[0]
    prefix = procs.write_prefix(root, f"idle_mem-{kind}-{label}", f"{label}.conf",
                                _conf(port, kind, docroot, tls_lines))
    server = procs.Server(label, binary, prefix, f"{label}.conf", port, workers=1)
    server.start()
    held = []
    try:
        status, reason = server.wait_ready("/small.html", lambda s, b: None if s == 200 else s,
                                           tls=kind != "plain")
        if status != "ok":
            return {"server": label, "kind": kind, "status": status, "reason": reason}
        time.sleep(SETTLE_S)
        before = procs.rss_kib(server.worker_pids)
        for _ in range(CONNS):
            held.append(_open(port, kind, ctx))
        time.sleep(SETTLE_S)
        after = procs.rss_kib(server.worker_pids)
        if not server.alive():
            return {"server": label, "kind": kind, "status": "crashed",
                    "reason": server.log_tail()}
        return {"server": label, "kind": kind, "status": "ok", "conns": CONNS,
                "rss_before_kib": before, "rss_after_kib": after,
                "bytes_per_conn": (after - before) * 1024 / CONNS}
    except OSError as e:
        return {"server": label, "kind": kind, "status": "failed",
                "reason": f"after {len(held)} connections: {e}"}
    finally:
        for sock in held:
            sock.close()
        server.stop()


def run(plan, root, docroot):
    """Both servers, every kind; returns one result dict per (kind, server)."""
    tls_lines = config._tls_settings(docroot)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    h2_ctx = ssl.create_default_context()
    h2_ctx.check_hostname = False
    h2_ctx.verify_mode = ssl.CERT_NONE
    h2_ctx.set_alpn_protocols(["h2"])
    results = []
    for kind in KINDS:
        for label in ("portico", "nginx"):
            results.append(_measure(label, plan.bins[label], root, docroot, kind, tls_lines,
                                    h2_ctx if kind == "h2" else ctx))
            print(f"  idle_mem {kind:5} {label:8} {_cell(results[-1])}", flush=True)
    return results


def _cell(r):
    if r["status"] != "ok":
        return f"{r['status'].upper()}: {r['reason'][:160]}"
    return (f"{r['bytes_per_conn']:8,.0f} B/conn  (VmRSS {r['rss_before_kib']:,} -> "
            f"{r['rss_after_kib']:,} KiB)")


def table(results):
    lines = [f"idle_mem: worker VmRSS growth per idle keep-alive connection ({CONNS} "
             "connections, one request each, one worker)"]
    for kind in KINDS:
        rows = {r["server"]: r for r in results if r["kind"] == kind}
        for label in ("portico", "nginx"):
            if label in rows:
                lines.append(f"  {kind:5} {label:8} {_cell(rows[label])}")
        p, n = rows.get("portico"), rows.get("nginx")
        if p and n and p["status"] == n["status"] == "ok" and n["bytes_per_conn"] > 0:
            lines.append(f"  {kind:5} {'P/N':8} {p['bytes_per_conn'] / n['bytes_per_conn']:.2f}x")
    return "\n".join(lines)
