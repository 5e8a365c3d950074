#!/usr/bin/env python3
"""Heap allocations per request on Portico's hot paths (issue: zero on `return` and static).

Builds Portico with `--features count-alloc` (a counting global allocator; a process logs
`heap allocations: N` when it gets USR1), starts it with one worker, warms each path up,
then sends USR1 to the worker before and after a batch of requests and divides the
difference by the batch size. Two batches per scenario:

- keep-alive: N requests one after another on one connection (the per-request path);
- new connection: M connections of one request each (accept, buffers, close included).

    python3 benches/allocs.py                  # build if needed, all scenarios
    python3 benches/allocs.py --requests 20000 --scenarios small,return

Standard library only; run from the repository root (as `make allocs` does).
"""

import argparse
import http.server
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_DIR = os.path.join(ROOT, "target", "count-alloc")
BIN = os.path.join(TARGET_DIR, "release", "portico")

SCENARIOS = {
    # name: (location block, request path)
    "return": ('location = /ret { return 200 "hello\\n"; }', "/ret"),
    "small": ("", "/small.html"),
    "big": ("", "/big.bin"),
    "missing": ("", "/missing.html"),
    "proxy": ("location /proxy/ { proxy_pass http://backend; "
              "proxy_http_version 1.1; proxy_set_header Connection \"\"; }", "/proxy/"),
    # A hit of proxy_cache: the upstream's short answer, stored on the first request and
    # answered from the worker's memory after that.
    "cached": ("location /cached/ { proxy_pass http://backend; proxy_http_version 1.1; "
               "proxy_set_header Connection \"\"; proxy_cache hot; "
               "proxy_cache_valid 200 1h; }", "/cached/"),
    # nginx's fastcgi_params in full, a connection per request (nginx's default) and
    # kept connections (fastcgi_keep_conn on).
    "fastcgi": ("location /fcgi/ { include {params}; fastcgi_pass 127.0.0.1:{fastcgi_port}; }",
                "/fcgi/index.php?a=1"),
    "fastcgi-keep": ("location /fcgi/ { include {params}; fastcgi_keep_conn on; "
                     "fastcgi_pass fastcgi_backend; }", "/fcgi/index.php?a=1"),
    # The usual PHP front controller: the URI split into the script and its path info.
    "fastcgi-split": ("location /fcgi/ { include {params}; "
                      "fastcgi_split_path_info ^(.+\\.php)(/.*)$; "
                      "fastcgi_param PATH_INFO $fastcgi_path_info; "
                      "fastcgi_pass 127.0.0.1:{fastcgi_port}; }", "/fcgi/index.php/a/b"),
    # `return` with variables (its text is built per request), then the same with map
    # (literal, evaluated and regex-chosen values), geo, split_clients, $invalid_referer.
    "return-vars": ('location = /vars { return 200 "$uri $arg_a $remote_addr"; }', "/vars?a=x"),
    "computed": ('location = /vars { valid_referers none example.com; '
                 'return 200 "$lit $evaluated $re $geo $split $invalid_referer"; }',
                 "/vars?a=x"),
    "gif": ("location = /gif { empty_gif; }", "/gif"),
    # status_zone counting (server and location zones) on `return`, and a proxied request
    # through a group with a shared zone (its counters under the zone's lock).
    "status-zone": ('location = /ret { status_zone loc; return 200 "hello\\n"; }', "/ret"),
    "proxy-zone": ("location /proxy/ { proxy_pass http://backend_zone; "
                   "proxy_http_version 1.1; proxy_set_header Connection \"\"; }", "/proxy/"),
    # gzip: a 20 KB page (its compressed copy from the file cache once settled, streamed
    # before), and a proxied 100 KB JSON compressed on the way (requests say they accept gzip).
    "gzip-static": ("location /g/ { alias html/; gzip on; }", "/g/page.html"),
    "gzip-proxy": ("location /json/ { proxy_pass http://backend; proxy_http_version 1.1; "
                   "proxy_set_header Connection \"\"; gzip on; "
                   "gzip_types application/json; }", "/json/data"),
}

# Request headers a scenario sends.
HEADERS = {
    "gzip-static": "Accept-Encoding: gzip\r\n",
    "gzip-proxy": "Accept-Encoding: gzip\r\n",
}

JSON = (b'{"items": [' + b", ".join(
    b'{"id": %d, "name": "user %d", "active": true}' % (i, i * 7) for i in range(2500)) + b"]}")

# http-level blocks a scenario needs.
HTTP_LEVEL = {
    "cached": "proxy_cache_path cache levels=1:2 keys_zone=hot:1m;",
    "computed": """
    map $arg_a $lit { x literal; default other; }
    map $uri $evaluated { default "v-$arg_a"; }
    map $uri $re { ~^/va re; }
    geo $geo { 127.0.0.0/8 loopback; default world; }
    split_clients "$remote_addr$arg_a" $split { 50% a; * b; }
""",
}

CONFIG = """\
worker_processes 1;
master_process on;
user root;
error_log logs/error.log notice;
pid logs/portico.pid;
events {{ worker_connections 1024; }}
http {{
    include {mime};
    access_log off;
    keepalive_requests 1000000;
    upstream backend {{ server 127.0.0.1:{upstream_port}; keepalive 16; }}
    upstream fastcgi_backend {{ server 127.0.0.1:{fastcgi_port}; keepalive 16; }}
    upstream backend_zone {{ zone backend_zone 64k; server 127.0.0.1:{upstream_port}; keepalive 16; }}
    {http_level}
    server {{
        listen 127.0.0.1:{port};
        root html;
        {location}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build():
    print("building Portico with --features count-alloc ...", flush=True)
    subprocess.run(
        ["cargo", "build", "--release", "--features", "count-alloc",
         "--target-dir", TARGET_DIR],
        cwd=ROOT, check=True)


class Backend(http.server.BaseHTTPRequestHandler):
    """A keep-alive HTTP/1.1 upstream answering `hello`."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = JSON if self.path.startswith("/json/") else b"hello\n"
        self.send_response(200)
        if body is JSON:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class FastCgiBackend(threading.Thread):
    """A FastCGI responder answering `hello` to every request, on kept connections when
    the request asks (FCGI_KEEP_CONN)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]

    def run(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    @staticmethod
    def record(kind, content):
        n = len(content)
        return bytes([1, kind, 0, 1, n >> 8, n & 0xff, 0, 0]) + content

    def serve(self, conn):
        body = b"Content-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n"
        answer = (self.record(6, body) + self.record(6, b"") + self.record(3, bytes(8)))
        buf = b""
        with conn:
            while True:
                keep, done = False, False
                while not done:
                    while len(buf) < 8:
                        data = conn.recv(65536)
                        if not data:
                            return
                        buf += data
                    kind, n, pad = buf[1], (buf[4] << 8) | buf[5], buf[6]
                    while len(buf) < 8 + n + pad:
                        data = conn.recv(65536)
                        if not data:
                            return
                        buf += data
                    if kind == 1:
                        keep = bool(buf[10] & 1)
                    done = kind == 5 and n == 0
                    buf = buf[8 + n + pad:]
                conn.sendall(answer)
                if not keep:
                    return


def read_chunked(sock, rest):
    """Reads a chunked body from `rest` and the socket; returns what follows it."""
    while True:
        while b"\r\n" not in rest:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("closed inside a chunk size")
            rest += data
        line, _, rest = rest.partition(b"\r\n")
        size = int(line, 16)
        while len(rest) < size + 2:
            data = sock.recv(1 << 20)
            if not data:
                raise ConnectionError("closed inside a chunk")
            rest += data
        rest = rest[size + 2:]
        if size == 0:
            return rest


def read_response(sock, buf):
    """Reads one response (Content-Length or chunked body); returns (status, rest of buf)."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed before a response")
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if re.search(rb"(?i)\r\ntransfer-encoding: *chunked", head):
        return status, read_chunked(sock, rest)
    m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    length = int(m.group(1)) if m else 0
    while len(rest) < length:
        data = sock.recv(1 << 20)
        if not data:
            raise ConnectionError("closed inside a body")
        rest += data
    return status, rest[length:]


def keepalive_batch(port, path, n, headers=""):
    req = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n".encode()
    with socket.create_connection(("127.0.0.1", port)) as s:
        buf = b""
        for _ in range(n):
            s.sendall(req)
            status, buf = read_response(s, buf)
            if status >= 500:
                raise RuntimeError(f"{path}: status {status}")


def connection_batch(port, path, n, headers=""):
    req = (f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}"
           "Connection: close\r\n\r\n").encode()
    for _ in range(n):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(req)
            read_response(s, b"")


def worker_pid(master):
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == master:
                    return int(entry)
            except (OSError, IndexError, ValueError):
                continue
    return None


def allocations(log_path, pid, before_lines):
    """Sends USR1 to `pid` and returns the count it logs."""
    os.kill(pid, signal.SIGUSR1)
    pattern = re.compile(rf" {pid}#\d+: heap allocations: (\d+)")
    deadline = time.time() + 5
    while time.time() < deadline:
        with open(log_path) as f:
            lines = f.read().splitlines()[before_lines:]
        for line in lines:
            m = pattern.search(line)
            if m:
                return int(m.group(1)), before_lines + len(lines)
        time.sleep(0.02)
    raise RuntimeError(f"worker {pid} did not log its allocations")


def run_scenario(name, args, upstream_port, fastcgi_port):
    location, path = SCENARIOS[name]
    location = (location.replace("{params}", os.path.join(ROOT, "conf", "fastcgi_params"))
                .replace("{fastcgi_port}", str(fastcgi_port)))
    headers = HEADERS.get(name, "")
    prefix = tempfile.mkdtemp(prefix=f"portico-allocs-{name}-")
    os.chmod(prefix, 0o755)
    try:
        os.makedirs(os.path.join(prefix, "logs"))
        html = os.path.join(prefix, "html")
        os.makedirs(html)
        with open(os.path.join(html, "small.html"), "wb") as f:
            f.write(b"<p>" + b"x" * 593 + b"</p>\n")
        with open(os.path.join(html, "big.bin"), "wb") as f:
            f.write(os.urandom(1 << 20))
        with open(os.path.join(html, "page.html"), "wb") as f:
            f.write(b"".join(b"<p>line %d of the page</p>\n" % i for i in range(800))[:20000])
        port = free_port()
        conf = os.path.join(prefix, "portico.conf")
        with open(conf, "w") as f:
            f.write(CONFIG.format(mime=os.path.join(ROOT, "conf", "mime.types"), port=port,
                                  upstream_port=upstream_port, fastcgi_port=fastcgi_port,
                                  location=location,
                                  http_level=HTTP_LEVEL.get(name, "")))
        log = os.path.join(prefix, "logs", "error.log")
        master = subprocess.Popen([args.bin, "-p", prefix, "-c", conf, "-g", "daemon off;"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 10
            while True:
                try:
                    keepalive_batch(port, path, 1, headers)
                    break
                except (OSError, ConnectionError, RuntimeError) as e:
                    if master.poll() is not None or time.time() > deadline:
                        err = master.stderr.read().decode(errors="replace").strip()
                        return f"UNSUPPORTED ({err or e})"
                    time.sleep(0.1)
            pid = worker_pid(master.pid)
            if pid is None:
                return "no worker found"
            # Warm-up: pools, caches and buffers reach their steady size.
            keepalive_batch(port, path, 200, headers)
            connection_batch(port, path, 50, headers)
            lines = 0
            a, lines = allocations(log, pid, lines)
            keepalive_batch(port, path, args.requests, headers)
            b, lines = allocations(log, pid, lines)
            connection_batch(port, path, args.connections, headers)
            c, lines = allocations(log, pid, lines)
            per_req = (b - a) / args.requests
            per_conn = (c - b) / args.connections
            return f"{per_req:8.3f} per keep-alive request   {per_conn:8.2f} per new connection"
        finally:
            master.send_signal(signal.SIGTERM)
            try:
                master.wait(timeout=10)
            except subprocess.TimeoutExpired:
                master.kill()
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default=BIN, help="a portico built with --features count-alloc")
    p.add_argument("--no-build", action="store_true", help="do not run cargo build first")
    p.add_argument("--requests", type=int, default=5000)
    p.add_argument("--connections", type=int, default=500)
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = p.parse_args()
    if not args.no_build and args.bin == BIN:
        build()
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    fastcgi = FastCgiBackend()
    fastcgi.start()
    print(f"heap allocations ({args.requests} keep-alive requests, "
          f"{args.connections} connections):")
    for name in args.scenarios.split(","):
        result = run_scenario(name, args, upstream.server_address[1], fastcgi.port)
        print(f"  {name:12} {result}", flush=True)
    upstream.shutdown()


if __name__ == "__main__":
    sys.exit(main())
