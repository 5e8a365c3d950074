"""Scenarios, the shared document root, and the nginx.conf text both servers run.

Portico reads nginx's configuration dialect, so one generator writes the configuration for
both servers; only the listen port and the file name differ. Every scenario gets its own
configuration holding just the directives it needs, so a directive Portico does not support
yet (say `return` or `proxy_pass`) makes only that scenario "unsupported".
"""

import gzip
import json
import os
import random
from dataclasses import dataclass
from typing import Optional

SMALL_SIZE = 600          # bytes of small.html, about a typical small page
BIG_SIZE = 1 << 20        # bytes of big.bin: 1 MiB, served with sendfile
RET_BODY = b"hello\n"     # what `location = /ret` and the upstream answer
TORNADO_BODY = b"Hello, world\n"
PHP_BODY = b"hello\n"     # what the FastCGI scenario's PHP script prints
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGE_SIZE = 20_000        # bytes of page.html: a 20 KB HTML page for the gzip scenarios
JSON_SIZE = 100_000       # bytes of data.json: a 100 KB API answer, proxied
CACHED_SIZE = 5_000       # bytes of json/c5k.html: the proxied answer the cache scenario keeps
GZIP = ("Accept-Encoding: gzip, deflate",)   # what a browser says; wrk sends it with -H


@dataclass(frozen=True)
class Scenario:
    """One benchmarked request: the URL path, the config it needs, the expected body."""
    name: str
    path: str
    backend: Optional[str] = None     # "upstream", "tornado", "php-fpm": a backend the harness starts
    locations: str = ""               # extra server-level config
    http: str = ""                    # extra http-level config (zones)
    expect_body: Optional[bytes] = None  # the exact body a correct server answers
    headers: tuple = ()               # request header lines wrk sends (-H), and the check too
    tls: bool = False                 # `listen ... ssl` with the same certificate for both
    h2: bool = False                  # `listen ... ssl http2`: HTTP/2 offered by ALPN
    client: str = "wrk"               # the load tool: "wrk", "h2load" or "s_time"
    streams: int = 1                  # h2load -m: concurrent streams per connection
    reuse: bool = False               # s_time -reuse (resumed handshakes) instead of -new

    def check(self, status, body, response_headers=None):
        """Why a response to GET path (with `headers`) is wrong, or None when it is right.
        With `Accept-Encoding: gzip` the body must come gzipped and decompress to the
        expected one."""
        if status != 200:
            return f"status {status}, expected 200"
        if any(h.lower().startswith("accept-encoding: gzip") for h in self.headers):
            encoding = {k.lower(): v for k, v in (response_headers or {}).items()}
            if encoding.get("content-encoding") != "gzip":
                return "not gzipped"
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError) as e:
                return f"invalid gzip: {e}"
        if self.expect_body is not None and body != self.expect_body:
            return f"wrong body ({len(body)} bytes, expected {len(self.expect_body)}): {body[:60]!r}"
        return None

    def request_headers(self):
        """`headers` as a dict, for the check request."""
        return dict(h.split(": ", 1) for h in self.headers)


def _proxy_location(prefix, upstream):
    """A keep-alive proxy location, as nginx's docs recommend for upstream keepalive."""
    return (
        f"        location {prefix} {{\n"
        f"            proxy_pass http://{upstream}/;\n"
        f"            proxy_http_version 1.1;\n"
        f"            proxy_set_header Connection \"\";\n"
        f"        }}\n"
    )


def _fastcgi_location(prefix, upstream):
    """A PHP location as nginx's documentation writes it: nginx's fastcgi_params in full
    (read from conf/, inlined so that the config stands alone) and the script's file name;
    no fastcgi_keep_conn (nginx's default: a connection to php-fpm per request)."""
    params = read_file(os.path.join(REPO, "conf", "fastcgi_params")).decode()
    lines = "".join(f"            {line}\n" for line in params.splitlines()
                    if line.startswith("fastcgi_param"))
    return (
        f"        location {prefix} {{\n"
        f"            fastcgi_pass {upstream};\n"
        f"{lines}"
        f"            fastcgi_param SCRIPT_FILENAME $document_root/hello.php;\n"
        f"        }}\n"
    )


def _gzip_location(prefix, level, docroot):
    """The 20 KB page under `prefix`, compressed at `level` for clients that accept it."""
    return (
        f"        location {prefix} {{\n"
        f"            alias {docroot}/;\n"
        f"            gzip on;\n"
        f"            gzip_comp_level {level};\n"
        f"        }}\n"
    )


def _gzip_proxy_location(prefix, upstream):
    """The 100 KB JSON from the upstream, compressed at level 1 for clients that accept it."""
    return (
        f"        location {prefix} {{\n"
        f"            proxy_pass http://{upstream}/json/;\n"
        f"            proxy_http_version 1.1;\n"
        f"            proxy_set_header Connection \"\";\n"
        f"            gzip on;\n"
        f"            gzip_comp_level 1;\n"
        f"            gzip_types application/json;\n"
        f"        }}\n"
    )


def _cached_proxy_location(prefix, upstream):
    """The 5 KB page from the upstream through the proxy cache: after the first request
    every answer is a hit, served from the cache file."""
    return (
        f"        location {prefix} {{\n"
        f"            proxy_pass http://{upstream}/json/;\n"
        f"            proxy_http_version 1.1;\n"
        f"            proxy_set_header Connection \"\";\n"
        f"            proxy_cache bench_cache;\n"
        f"            proxy_cache_valid 200 1h;\n"
        f"        }}\n"
    )


def scenarios(docroot):
    """Every scenario by name, in the order they run."""
    small = read_file(os.path.join(docroot, "small.html"))
    big = read_file(os.path.join(docroot, "big.bin"))
    page = read_file(os.path.join(docroot, "page.html"))
    data = read_file(os.path.join(docroot, "data.json"))
    cached = read_file(os.path.join(docroot, "json", "c5k.html"))
    gz_proxy = _gzip_proxy_location("/gzproxy/", "bench_upstream")
    return {
        "return": Scenario("return", "/ret", expect_body=RET_BODY,
                           locations='        location = /ret { return 200 "hello\\n"; }\n'),
        "small": Scenario("small", "/small.html", expect_body=small),
        # The small file behind a rate limit no request reaches and an allow/deny pair:
        # what limit_req's shared zone and the access rules cost per request.
        "limited": Scenario(
            "limited", "/lim/small.html", expect_body=small,
            http="    limit_req_zone $binary_remote_addr zone=bench:1m rate=1000000r/s;\n",
            locations=("        location /lim/ {\n"
                       "            limit_req zone=bench burst=1000000 nodelay;\n"
                       "            allow 127.0.0.1;\n"
                       "            deny all;\n"
                       "        }\n")),
        # `limited` without limit_req and allow/deny: the same URI, location and file, so
        # the two differ by what the rules cost and nothing else.
        "unlimited": Scenario(
            "unlimited", "/lim/small.html", expect_body=small,
            locations="        location /lim/ {\n        }\n"),
        "big": Scenario("big", "/big.bin", expect_body=big),
        "proxy": Scenario("proxy", "/proxy/", backend="upstream", expect_body=RET_BODY,
                          locations=_proxy_location("/proxy/", "bench_upstream")),
        "tornado": Scenario("tornado", "/tornado/", backend="tornado", expect_body=TORNADO_BODY,
                            locations=_proxy_location("/tornado/", "tornado_upstream")),
        "fastcgi": Scenario("fastcgi", "/php/hello.php", backend="php-fpm",
                            expect_body=PHP_BODY,
                            locations=_fastcgi_location("/php/", "php_fpm")),
        "gzip1": Scenario("gzip1", "/gz1/page.html", expect_body=page, headers=GZIP,
                          locations=_gzip_location("/gz1/", 1, docroot)),
        "gzip6": Scenario("gzip6", "/gz6/page.html", expect_body=page, headers=GZIP,
                          locations=_gzip_location("/gz6/", 6, docroot)),
        "page": Scenario("page", "/gz1/page.html", expect_body=page,
                         locations=_gzip_location("/gz1/", 1, docroot)),
        "gzproxy": Scenario("gzproxy", "/gzproxy/data.json", backend="upstream",
                            expect_body=data, headers=GZIP, locations=gz_proxy),
        "json": Scenario("json", "/gzproxy/data.json", backend="upstream", expect_body=data,
                         locations=gz_proxy),
        # A 5 KB proxied answer kept by the proxy cache (the cache directory is relative to
        # each server's own prefix): hits from the cache file, the upstream asked once.
        "cached": Scenario("cached", "/cached/c5k.html", backend="upstream",
                           expect_body=cached,
                           http="    proxy_cache_path cache levels=1:2 keys_zone=bench_cache:1m;\n",
                           locations=_cached_proxy_location("/cached/", "bench_upstream")),
        # HTTPS keep-alive: the small file and a 1 MiB one over TLS 1.3 (ECDSA P-256), the
        # same certificate and session settings for both servers.
        "tls_small": Scenario("tls_small", "/small.html", expect_body=small, tls=True,
                              locations=_tls_settings(docroot)),
        "tls_big": Scenario("tls_big", "/big.bin", expect_body=big, tls=True,
                            locations=_tls_settings(docroot)),
        # The 1 MiB file with kernel TLS asked for on both (`ssl_conf_command Options KTLS`,
        # nginx's switch; OpenSSL 3 then uses SSL_sendfile): on a kernel with the `tls`
        # module the file goes by sendfile(2) through the kernel's TLS for both servers;
        # without it both fall back to user-space TLS and this is tls_big again.
        "tls_big_ktls": Scenario("tls_big_ktls", "/big.bin", expect_body=big, tls=True,
                                 locations=(_tls_settings(docroot)
                                            + "        ssl_conf_command Options KTLS;\n")),
        # HTTP/2 (h2load: 10 concurrent streams per connection) over TLS 1.3: the small
        # file, and the upstream's answer through proxy_pass. keepalive_requests counts
        # streams per HTTP/2 connection (GOAWAY after it), so it is raised past a run's.
        "h2_small": Scenario("h2_small", "/small.html", expect_body=small, tls=True, h2=True,
                             client="h2load", streams=10,
                             locations=_tls_settings(docroot) + H2_KEEPALIVE),
        "h2_proxy": Scenario("h2_proxy", "/proxy/", backend="upstream", expect_body=RET_BODY,
                             tls=True, h2=True, client="h2load", streams=10,
                             locations=(_tls_settings(docroot) + H2_KEEPALIVE
                                        + _proxy_location("/proxy/", "bench_upstream"))),
        # Full TLS 1.3 handshakes (openssl s_time -new: one connection at a time, each a
        # handshake and one GET of the small file) with a P-256 and an RSA-2048 key, and
        # resumed ones (s_time -reuse: the session ticket of the first connection).
        "tls_handshake_ecdsa": Scenario("tls_handshake_ecdsa", "/small.html",
                                        expect_body=small, tls=True, client="s_time",
                                        locations=_tls_settings(docroot)),
        "tls_handshake_rsa": Scenario("tls_handshake_rsa", "/small.html", expect_body=small,
                                      tls=True, client="s_time",
                                      locations=_tls_settings(docroot, "rsa")),
        "tls_resume": Scenario("tls_resume", "/small.html", expect_body=small, tls=True,
                               client="s_time", reuse=True, locations=_tls_settings(docroot)),
        # The same on TLS 1.2 only: an abbreviated handshake (the ticket's master secret,
        # no key exchange, no signature).
        "tls_resume12": Scenario("tls_resume12", "/small.html", expect_body=small, tls=True,
                                 client="s_time", reuse=True,
                                 locations=_tls_settings(docroot, protocols="TLSv1.2")),
    }


H2_KEEPALIVE = "        keepalive_requests 100000000;\n"
_KEY_ARGS = {"ecdsa": ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
             "rsa": ["rsa:2048"]}


def _tls_settings(docroot, kind="ecdsa", protocols="TLSv1.2 TLSv1.3"):
    """The server's TLS lines, with a certificate (`kind`: "ecdsa" P-256 or "rsa" 2048
    bits) made once beside the document root. `ssl_protocols` is explicit: nginx 1.22's
    default (TLSv1 TLSv1.1 TLSv1.2) has no TLS 1.3, so without it nginx answered TLS 1.2
    where Portico answered TLS 1.3, and resumed handshakes compared an abbreviated TLS 1.2
    one (no key exchange) with a TLS 1.3 one (a full X25519 exchange)."""
    import subprocess
    folder = os.path.join(os.path.dirname(docroot), "tls")
    crt, key = os.path.join(folder, f"{kind}.crt"), os.path.join(folder, f"{kind}.key")
    if not os.path.exists(crt):
        os.makedirs(folder, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "30",
                        "-newkey", *_KEY_ARGS[kind], "-keyout", key, "-out", crt,
                        "-subj", "/CN=localhost"], check=True, capture_output=True)
    return (f"        ssl_protocols {protocols};\n"
            f"        ssl_certificate {crt};\n"
            f"        ssl_certificate_key {key};\n"
            "        ssl_session_cache shared:SSL:10m;\n")


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def page_html(size=PAGE_SIZE, seed=13):
    """A deterministic HTML page of `size` bytes: navigation, then posts of words."""
    rng = random.Random(seed)
    vocab = ("the server request response header body client upstream proxy cache worker "
             "connection module config location static file gzip level buffer event loop "
             "an of to in and is for on with as by at from this that be are was it").split()

    def words(n):
        return " ".join(rng.choice(vocab) for _ in range(n))
    parts = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
             '<title>Portico benchmark page</title>\n</head>\n<body>\n<nav><ul>']
    parts += [f'<li><a href="/section/{i}/">Section {i}</a></li>' for i in range(12)]
    parts.append("</ul></nav>\n<main>\n")
    i = 0
    while sum(map(len, parts)) < size:
        i += 1
        parts.append(f'<article id="post-{i}">\n<h2><a href="/posts/{i}.html">'
                     f'{words(6).title()}</a></h2>\n<p class="meta">Posted by '
                     f'{rng.choice(["ann", "bob", "eve"])}</p>\n<p>{words(40)}.</p>\n'
                     f'</article>\n')
    return "".join(parts).encode()[:size]


def data_json(size=JSON_SIZE, seed=7):
    """A deterministic JSON list of records, about `size` bytes."""
    rng = random.Random(seed)
    names = ("ann", "bob", "eve", "joe", "kim", "lee", "max", "sam")
    items = []
    while True:
        n = len(items) + 1
        items.append({"id": n, "name": f"{rng.choice(names)} {rng.choice(names)}",
                      "email": f"user{n}@example.com", "active": rng.random() < 0.5,
                      "score": round(rng.random() * 100, 2),
                      "tags": [rng.choice(names) for _ in range(3)]})
        text = json.dumps({"items": items}).encode()
        if len(text) >= size:
            return text


def make_docroot(docroot):
    """Writes small.html (~600 bytes of HTML), big.bin (1 MiB, deterministic bytes), and for
    the gzip scenarios page.html (20 KB of HTML) and json/data.json (100 KB)."""
    os.makedirs(docroot, exist_ok=True)
    os.makedirs(os.path.join(docroot, "json"), exist_ok=True)
    os.chmod(docroot, 0o755)
    with open(os.path.join(docroot, "page.html"), "wb") as f:
        f.write(page_html())
    for name in ("data.json", os.path.join("json", "data.json")):
        with open(os.path.join(docroot, name), "wb") as f:
            f.write(data_json())
    with open(os.path.join(docroot, "json", "c5k.html"), "wb") as f:
        f.write(page_html(CACHED_SIZE, seed=5))
    os.chmod(docroot, 0o755)
    head = b"<!DOCTYPE html>\n<html><head><title>Portico bench</title></head><body>\n"
    tail = b"</body></html>\n"
    filler = b"<p>" + b"x" * (SMALL_SIZE - len(head) - len(tail) - 8) + b"</p>\n"
    with open(os.path.join(docroot, "small.html"), "wb") as f:
        f.write(head + filler + tail)
    os.makedirs(os.path.join(docroot, "lim"), exist_ok=True)
    os.chmod(os.path.join(docroot, "lim"), 0o755)
    with open(os.path.join(docroot, "lim", "small.html"), "wb") as f:
        f.write(head + filler + tail)
    with open(os.path.join(docroot, "big.bin"), "wb") as f:
        f.write(random.Random(0).randbytes(BIG_SIZE))
    with open(os.path.join(docroot, "hello.php"), "wb") as f:
        f.write(b'<?php echo "hello\\n";\n')


def _upstream_block(name, port):
    return (
        f"    upstream {name} {{\n"
        f"        server 127.0.0.1:{port};\n"
        f"        keepalive 32;\n"
        f"    }}\n"
    )


def main_context(workers, worker_connections, error_level="error"):
    """The top of every config the benches write: process, logging and event settings."""
    return (
        "# Generated by benches/: the same text for Portico and nginx.\n"
        "user root;\n"
        f"worker_processes {workers};\n"
        f"error_log logs/error.log {error_level};\n"
        "pid logs/server.pid;\n"
        "\n"
        f"events {{\n    worker_connections {worker_connections};\n}}\n"
        "\n"
    )


def _http_settings():
    return (
        "    access_log off;\n"
        "    default_type application/octet-stream;\n"
        "    sendfile on;\n"
        "    tcp_nopush on;\n"
        "    keepalive_requests 10000;\n"
        "    keepalive_timeout 65;\n"
    )


def server_conf(scenario, port, docroot, backend_ports, workers, worker_connections, backlog,
                reuseport=False):
    """The configuration of a server under test for one scenario.

    backend_ports maps "upstream"/"tornado" to the port of that backend and "php-fpm" to
    its unix socket; `reuseport` gives
    each worker its own listening socket.
    """
    upstreams = ""
    if scenario.backend == "upstream":
        upstreams = _upstream_block("bench_upstream", backend_ports["upstream"])
    elif scenario.backend == "tornado":
        upstreams = _upstream_block("tornado_upstream", backend_ports["tornado"])
    elif scenario.backend == "php-fpm":
        upstreams = (f"    upstream php_fpm {{\n"
                     f"        server unix:{backend_ports['php-fpm']};\n"
                     f"    }}\n")
    return (
        main_context(workers, worker_connections)
        + "http {\n"
        + _http_settings()
        + scenario.http
        + "\n" + upstreams
        + "\n    server {\n"
        + f"        listen 127.0.0.1:{port} backlog={backlog}"
        + (" reuseport" if reuseport else "") + (" ssl" if scenario.tls else "")
        + (" http2" if scenario.h2 else "") + ";\n"
        + "        server_name localhost;\n"
        + f"        root {docroot};\n"
        + "\n        location / { }\n"
        + scenario.locations
        + "    }\n}\n"
    )


def upstream_conf(port, worker_connections, backlog, docroot=None, workers=1):
    """The fast keep-alive backend of the proxy scenarios: nginx answering `return 200`,
    and the 100 KB JSON of the gzip scenarios under /json/ (sent uncompressed). With
    several server workers the backend gets as many, so that it is not what limits them."""
    json_location = ""
    if docroot is not None:
        json_location = (f"        location /json/ {{ root {docroot}; "
                         "default_type application/json; }\n")
    return (
        main_context(workers, worker_connections)
        + "http {\n"
        + "    access_log off;\n"
        + "    keepalive_requests 1000000;\n"
        + "    keepalive_timeout 65;\n"
        + "    server {\n"
        + f"        listen 127.0.0.1:{port} backlog={backlog};\n"
        + '        location / { return 200 "hello\\n"; }\n'
        + json_location
        + "    }\n}\n"
    )


def fpm_conf(root, socket, children, backlog):
    """php-fpm for the FastCGI scenario: one static pool on a unix socket."""
    return (
        "[global]\n"
        f"pid = {root}/php-fpm.pid\n"
        f"error_log = {root}/php-fpm.log\n"
        "daemonize = no\n"
        "[bench]\n"
        f"listen = {socket}\n"
        "listen.mode = 0666\n"
        f"listen.backlog = {backlog}\n"
        "pm = static\n"
        f"pm.max_children = {children}\n"
        "pm.max_requests = 0\n"
    )


def php_fpm_binary():
    """Debian's php-fpmX.Y (the newest), or php-fpm on the PATH; None when absent."""
    import glob
    import shutil
    found = sorted(glob.glob("/usr/sbin/php-fpm*"))
    return found[-1] if found else shutil.which("php-fpm")
