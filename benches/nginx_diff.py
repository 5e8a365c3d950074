#!/usr/bin/env python3
"""Side-by-side check of routing and static answers: Portico against the installed nginx.

Starts nginx and Portico on the same configuration (two prefixes with identical files,
two loopback ports), sends each request to both and compares the status line, the
headers (without Date, Server and the framing headers Content-Length and
Transfer-Encoding, whose values differ for chunked autoindex pages) and the body (the
server token, the ports and the prefixes normalised, chunked bodies decoded). Prints every
difference; exits 1 if there is one.

    python3 benches/nginx_diff.py [--portico target/debug/portico] [--fuzz N --seed S]

`--fuzz N` adds N random requests (odd paths, methods and conditional/range headers) to
the fixed list. Known, accepted differences: several byte ranges (nginx answers
multipart/byteranges, Portico 200 with the whole file) and the Expires of relative times
(one second apart at most), which the comparison skips. Needs `nginx` on PATH; standard
library only.
"""

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

CONFIG = r"""
daemon off;
master_process on;
worker_processes 1;
error_log logs/error.log info;
pid logs/run.pid;
events { worker_connections 64; }
http {
  access_log off;
  server {
    listen 127.0.0.1:PORT;
    server_name localhost;
    root html;
    rewrite ^/srv/(.*)$ /q/$1;
    location /dir/ { autoindex on; }
    location /pics/ { alias images/; }
    location ~ ^/photos/(.+\.jpg)$ { alias images/$1; }
    location /ep/ { error_page 404 /404.html; }
    location /ep2/ { error_page 404 =200 /404.html; }
    location /ep3/ { error_page 404 = @nf; }
    location @nf { return 202 "named $uri $args"; }
    location /t/ { try_files $uri $uri/ =404; }
    location /loop { rewrite ^ /loop2 last; }
    location /loop2 { rewrite ^ /loop last; }
    location /ret { return 200 "text $uri $args $is_args\n"; }
    location /r301 { return 301 /elsewhere; }
    location /perm/ { rewrite ^/perm/(.*)$ /new/$1? permanent; }
    location /tmp/ { rewrite ^/tmp/(.*)$ /new/$1 redirect; }
    location /new/ { return 200 "new:$uri:$args"; }
    location /brk/ { rewrite ^/brk/(.*)$ /elsewhere/$1 break; return 200 "brk:$uri"; }
    location /s/ { if ($query_string) { expires max; } add_header X-A a; add_header X-B b always; }
    location /ifs/ { if ($arg_x ~ ^(\d+)$) { return 200 "num $1"; } return 200 "nonum"; }
    location /set/ { set $a "v=$arg_v"; return 200 "$a"; }
    location = /favicon.ico { rewrite (.*) /s/app.js; }
    location /int/ { internal; }
    location /m/ { index a.html home.htm; }
    location /q/ { if (-f $request_filename) { add_header X-F yes; }
                   if (!-e $request_filename) { rewrite ^ /q/f.txt?from=$uri break; } }
    location /args/ { set $args "a=1&b=$arg_x"; return 200 "$args|$arg_b|$is_args"; }
    location /nest/ { location /nest/in/ { return 200 "in"; }
                      location ~ \.x$ { return 200 "x"; } return 200 "outer"; }
    location ~ \.x$ { return 200 "top x"; }
    location /v/ { alias images/; return 200 "$document_root|$request_filename"; }
  }
  server { listen 127.0.0.1:PORT; server_name *.w.test; return 200 "wild $host $server_name"; }
  server {
    listen 127.0.0.1:PORT;
    server_name x.test;
    root html;
    absolute_redirect off;
    location = / { index a.txt; }
    location = /a.txt { add_header X-Exact 1; }
    location ^~ /nr/ { location ~ \.txt$ { return 200 "nested txt"; } return 200 "nr"; }
    location /ib/ { if ($arg_b) { break; } return 200 "no break"; }
    location ~ ^/cap/(\w+)/(.*)$ { rewrite ^ /new/$1-$2 last; }
    location ~ ^/cap2/(\w+)$ { rewrite ^/cap2/(.*)$ /new/$1 last; }
    location /new/ { return 200 "new $uri"; }
    location /tfh/ { try_files $uri $uri.html =404; }
    location /ipx/ { index /a.txt; }
    location /rel { return 302 /x; }
    location /dir2 { alias html/dir; }
    location /exat/ { alias html/; expires @15h30m; add_header X-V "$sent_http_content_type|$request_method"; }
    location /emod/ { alias html/; expires modified +1h; }
    location /fe/ { error_page 404 /int404.html; }
    location = /int404.html { internal; return 200 "internal page"; }
  }
}
"""

FILES = {
    "html/a.txt": "hello\n", "html/404.html": "<p>404</p>\n", "html/s/app.js": "js\n",
    "html/dir/b.txt": "12345", "html/dir/sub/x": "sub\n", "html/t/d/index.html": "idx\n",
    "images/cat.jpg": "CAT\n", "html/m/home.htm": "M\n", "html/q/f.txt": "Q\n",
    "html/tfh/x.html": "X html\n", "html/ib/index.html": "ib index\n",
}

REQUESTS = [
    "GET /a.txt", "HEAD /a.txt", "GET /dir/", "GET /dir", "GET /pics/cat.jpg",
    "GET /photos/cat.jpg", "GET /pics/none.jpg", "GET /ep/x", "GET /ep2/x", "GET /ep3/x?k=1",
    "GET /t/a", "GET /t/d", "GET /t/d/", "GET /loop", "GET /ret?a=1", "GET /r301",
    "GET /perm/a?q=1", "GET /tmp/a?q=1", "GET /brk/x", "GET /s/app.js", "GET /s/app.js?v=1",
    "GET /s/none.js", "GET /ifs/?x=12", "GET /ifs/?x=a", "GET /set/?v=3", "GET /favicon.ico",
    "GET /int/a", "POST /a.txt|Content-Length: 0", "PUT /a.txt|Content-Length: 0",
    "GET /a.txt|Range: bytes=1-2", "GET /a.txt|Range: bytes=50-",
    "GET /a.txt|If-None-Match: *", "GET /a.txt|If-Match: \"zz\"", "GET /ret|If-Match: \"x\"",
    "GET /", "GET /nonexistent/", "GET /m/", "GET /q/f.txt", "GET /q/none?x=1",
    "GET /srv/f.txt", "GET /args/?x=9", "GET /nest/in/a", "GET /nest/a.x", "GET /top.x",
    "GET /v/x.jpg", "GET /h|Host: a.w.test", "POST /ep/x|Content-Length: 0",
    "GET /|Host: x.test", "GET /nr/a.txt|Host: x.test", "GET /nr/b|Host: x.test",
    "GET /ib/|Host: x.test", "GET /ib/?b=1|Host: x.test", "GET /cap/ab/cd|Host: x.test",
    "GET /cap2/zz|Host: x.test", "GET /tfh/x|Host: x.test", "GET /ipx/|Host: x.test",
    "GET /rel|Host: x.test", "GET /dir2|Host: x.test", "GET /exat/a.txt|Host: x.test",
    "GET /emod/a.txt|Host: x.test", "GET /emod/a.txt|Host: x.test|If-None-Match: *",
    "GET /fe/x|Host: x.test", "GET /int404.html|Host: x.test", "HEAD /rel|Host: x.test",
]


def start(binary, prefix, port, nginx):
    os.makedirs(os.path.join(prefix, "conf"), exist_ok=True)
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    for rel, text in FILES.items():
        path = os.path.join(prefix, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.utime(path, (1577836800, 1577836800))
    with open(os.path.join(prefix, "conf", "c.conf"), "w") as f:
        f.write(CONFIG.replace("PORT", str(port)))
    proc = subprocess.Popen([binary, "-p", prefix + "/", "-c", "conf/c.conf"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{'nginx' if nginx else 'portico'} did not start")


def ask(port, raw, prefix):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(raw)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    s.close()
    if not data:
        return ("<closed>", [], b"")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = [tuple(l.split(": ", 1)) for l in lines[1:] if ": " in l]
    if any(k.lower() == "transfer-encoding" for k, _ in headers):
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size.split(b";")[0] or b"0", 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    skip = {"date", "server", "content-length", "transfer-encoding"}
    headers = [(k, re.sub(r"127\.0\.0\.1:\d+|localhost:\d+", "HOST", v))
               for k, v in headers if k.lower() not in skip]
    if any(k == "Cache-Control" and v != "max-age=315360000" for k, v in headers):
        headers = [(k, v) for k, v in headers if k != "Expires"]
    body = body.replace(prefix.encode(), b"PREFIX/")
    body = re.sub(rb"(nginx|portico)/[0-9.]+", b"SERVER", body)
    return (lines[0], headers, body)


def fuzz_requests(n, seed):
    rnd = random.Random(seed)
    paths = ["/", "/a.txt", "/dir/", "/pics/", "/photos/x.jpg", "/ep/", "/t/", "/ret", "/perm/",
             "/brk/", "/s/", "/ifs/", "/set/", "/m/", "/q/", "/srv/", "/args/", "/nest/in/", "/v/"]
    junk = ["%00", "%2e%2e/", "..", "//", "%ff", "&", "%", "$", "+", "a" * 300, "/."]
    heads = ["Range: bytes=0-0", "Range: bytes=-1", "Range: bytes=5-2", "If-Match: \"x\"",
             "If-None-Match: *", "If-Modified-Since: Wed, 01 Jan 2020 00:00:00 GMT",
             "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:01 GMT", "If-Range: \"nope\""]
    out = []
    for _ in range(n):
        path = rnd.choice(paths) + "".join(rnd.choice(junk) for _ in range(rnd.randint(0, 2)))
        if rnd.random() < 0.5:
            path += "?" + rnd.choice(["a=1", "x=12", "v=1&b=2", ""])
        method = rnd.choice(["GET", "GET", "HEAD", "POST", "DELETE"])
        extra = [rnd.choice(heads) for _ in range(rnd.randint(0, 2))]
        if method in ("POST", "DELETE"):
            extra.append("Content-Length: 0")
        out.append("|".join([f"{method} {path}"] + extra))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--portico", default="target/debug/portico")
    ap.add_argument("--fuzz", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not shutil.which("nginx"):
        sys.exit("nginx is not installed")
    requests = REQUESTS + fuzz_requests(args.fuzz, args.seed)
    work = tempfile.mkdtemp(prefix="nginx-diff-")
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    procs = []
    try:
        n_prefix, p_prefix = os.path.join(work, "n"), os.path.join(work, "p")
        procs.append(start("nginx", n_prefix, ports[0], True))
        procs.append(start(os.path.abspath(args.portico), p_prefix, ports[1], False))
        differences = 0
        for line in requests:
            first, *headers = line.split("|")
            if not any(h.startswith("Host:") for h in headers):
                headers.insert(0, "Host: localhost")
            raw = (first + " HTTP/1.1\r\n" + "".join(h + "\r\n" for h in headers)
                   + "Connection: close\r\n\r\n").encode()
            a = ask(ports[0], raw, n_prefix + "/")
            b = ask(ports[1], raw, p_prefix + "/")
            if a != b and not (b"multipart" in a[2] and b[0].endswith("200 OK")):
                differences += 1
                print(f"=== {line}\n  nginx  : {a[0]} {a[1]} {a[2][:200]!r}\n"
                      f"  portico: {b[0]} {b[1]} {b[2][:200]!r}")
        print(f"{differences} differences in {len(requests)} requests")
        return 1 if differences else 0
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
