"""Scenarios, the shared document root, and the nginx.conf text both servers run.

Portico reads nginx's configuration dialect, so one generator writes the configuration for
both servers; only the listen port and the file name differ. Every scenario gets its own
configuration holding just the directives it needs, so a directive Portico does not support
yet (say `return` or `proxy_pass`) makes only that scenario "unsupported".
"""

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


@dataclass(frozen=True)
class Scenario:
    """One benchmarked request: the URL path, the config it needs, the expected body."""
    name: str
    path: str
    backend: Optional[str] = None     # "upstream", "tornado", "php-fpm": a backend the harness starts
    locations: str = ""               # extra server-level config
    expect_body: Optional[bytes] = None  # the exact body a correct server answers

    def check(self, status, body):
        """Why a response to GET path is wrong, or None when it is right."""
        if status != 200:
            return f"status {status}, expected 200"
        if self.expect_body is not None and body != self.expect_body:
            return f"wrong body ({len(body)} bytes, expected {len(self.expect_body)}): {body[:60]!r}"
        return None


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


def scenarios(docroot):
    """Every scenario by name, in the order they run."""
    small = read_file(os.path.join(docroot, "small.html"))
    big = read_file(os.path.join(docroot, "big.bin"))
    return {
        "return": Scenario("return", "/ret", expect_body=RET_BODY,
                           locations='        location = /ret { return 200 "hello\\n"; }\n'),
        "small": Scenario("small", "/small.html", expect_body=small),
        "big": Scenario("big", "/big.bin", expect_body=big),
        "proxy": Scenario("proxy", "/proxy/", backend="upstream", expect_body=RET_BODY,
                          locations=_proxy_location("/proxy/", "bench_upstream")),
        "tornado": Scenario("tornado", "/tornado/", backend="tornado", expect_body=TORNADO_BODY,
                            locations=_proxy_location("/tornado/", "tornado_upstream")),
        "fastcgi": Scenario("fastcgi", "/php/hello.php", backend="php-fpm",
                            expect_body=PHP_BODY,
                            locations=_fastcgi_location("/php/", "php_fpm")),
    }


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def make_docroot(docroot):
    """Writes small.html (~600 bytes of HTML) and big.bin (1 MiB, deterministic bytes)."""
    os.makedirs(docroot, exist_ok=True)
    os.chmod(docroot, 0o755)
    head = b"<!DOCTYPE html>\n<html><head><title>Portico bench</title></head><body>\n"
    tail = b"</body></html>\n"
    filler = b"<p>" + b"x" * (SMALL_SIZE - len(head) - len(tail) - 8) + b"</p>\n"
    with open(os.path.join(docroot, "small.html"), "wb") as f:
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
        + "\n" + upstreams
        + "\n    server {\n"
        + f"        listen 127.0.0.1:{port} backlog={backlog}"
        + (" reuseport" if reuseport else "") + ";\n"
        + "        server_name localhost;\n"
        + f"        root {docroot};\n"
        + "\n        location / { }\n"
        + scenario.locations
        + "    }\n}\n"
    )


def upstream_conf(port, worker_connections, backlog):
    """The fast keep-alive backend of the proxy scenario: nginx answering `return 200`."""
    return (
        main_context(1, worker_connections)
        + "http {\n"
        + "    access_log off;\n"
        + "    keepalive_requests 1000000;\n"
        + "    keepalive_timeout 65;\n"
        + "    server {\n"
        + f"        listen 127.0.0.1:{port} backlog={backlog};\n"
        + '        location / { return 200 "hello\\n"; }\n'
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
