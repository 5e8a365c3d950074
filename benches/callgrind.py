#!/usr/bin/env python3
"""Instructions per request, Portico beside nginx, under callgrind (valgrind).

Timing benches mean nothing on a busy machine; instruction counts do not depend on what
else runs. For each scenario of `benches/bench.py` asked for, this writes the same config
for both servers (benches/harness/config.py), starts the scenario's backend (php-fpm, the
nginx upstream) outside valgrind, runs each server as one process (`master_process off`)
under callgrind, warms it up, zeroes the counters, sends a fixed number of requests from
`--conns` keep-alive connections (one request on each, then every answer read, so the
server sees batches as under wrk), dumps the counters and divides by the request count.

    python3 benches/callgrind.py --scenarios fastcgi,proxy,small --requests 2000
    python3 benches/callgrind.py --scenarios fastcgi --keep   # keep the callgrind.out files
    python3 benches/callgrind.py --scenarios tls_resume,tls_handshake_rsa --requests 200

The s_time scenarios (tls_handshake_*, tls_resume*) count handshakes: one connection at a
time, each a handshake and `GET PATH HTTP/1.0` read to the close, as `openssl s_time` does.

`callgrind_annotate DIR/portico.out` on a kept file says where the instructions go.
Standard library only; run from the repository root.
"""

import argparse
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import config  # noqa: E402
from allocs import read_response  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_batch(port, scenario, total, conns):
    """`total` requests over `conns` keep-alive connections, one in flight on each."""
    head = "".join(f"{h}\r\n" for h in scenario.headers)
    req = f"GET {scenario.path} HTTP/1.1\r\nHost: localhost\r\n{head}\r\n".encode()
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
    bufs = [b""] * conns
    try:
        sent = 0
        while sent < total:
            n = min(conns, total - sent)
            for s in socks[:n]:
                s.sendall(req)
            for i in range(n):
                status, bufs[i] = read_response(socks[i], bufs[i])
                if status != 200:
                    raise RuntimeError(f"{scenario.path}: status {status}")
            sent += n
    finally:
        for s in socks:
            s.close()


class Handshakes:
    """The client of the `s_time` scenarios: `openssl s_time`'s way, one connection at a
    time, each a handshake, `GET PATH HTTP/1.0` read to the server's close, and no
    close_notify from the client. With `reuse` every connection offers the session of the
    first one (s_time -reuse), and one that does not resume is an error."""

    def __init__(self, reuse):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE
        self.reuse = reuse
        self.session = None

    def one(self, port, path):
        raw = socket.create_connection(("127.0.0.1", port))
        s = self.ctx.wrap_socket(raw, server_hostname="localhost",
                                 session=self.session if self.reuse else None)
        try:
            s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            if not got.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"{path}: {got[:40]!r}")
            if self.reuse:
                if self.session is None:
                    self.session = s.session
                elif not s.session_reused:
                    raise RuntimeError("the session was not resumed")
        finally:
            s.close()


def batch(port, scenario, total, conns):
    if scenario.client == "s_time":
        return tls_batch(port, scenario, total)
    return http_batch(port, scenario, total, conns)


_CLIENTS = {}


def tls_batch(port, scenario, total):
    """`total` handshakes (one connection each) for the s_time scenarios."""
    client = _CLIENTS.setdefault((port, scenario.name), Handshakes(scenario.reuse))
    for _ in range(total):
        client.one(port, scenario.path)


def callgrind_control(pid, flag, port, scenario):
    """Runs `callgrind_control FLAG PID`; a server blocked in epoll_wait takes the command
    when it wakes, so one request wakes it (counted on neither side of a zero/dump pair
    in any way that matters against thousands)."""
    ctl = subprocess.Popen(["callgrind_control", flag, str(pid)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        time.sleep(0.1)
        if ctl.poll() is not None:
            return
        batch(port, scenario, 1, 1)
    ctl.kill()
    raise RuntimeError(f"callgrind_control {flag} {pid} did not finish")


def summary(out_file):
    """The `summary:` (or `totals:`) instruction count of a callgrind dump."""
    with open(out_file) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"{out_file}: no summary line")


def run_server(kind, scenario, args, root, backend_ports):
    prefix = os.path.join(root, kind)
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    port = free_port()
    conf = os.path.join(prefix, "server.conf")
    with open(conf, "w") as f:
        f.write(config.server_conf(scenario, port, os.path.join(root, "docroot"),
                                   backend_ports, 1, 1024, 511))
    out = os.path.join(prefix, "callgrind.out")
    binary = args.portico if kind == "portico" else args.nginx
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p",
            binary, "-p", prefix, "-c", conf, "-g", "daemon off; master_process off;"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while True:
            try:
                batch(port, scenario, 1, 1)
                break
            except (OSError, ConnectionError, RuntimeError) as e:
                if proc.poll() is not None or time.time() > deadline:
                    err = proc.stderr.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"{kind} did not answer: {e}\n{err}")
                time.sleep(0.3)
        batch(port, scenario, args.warmup, args.conns)
        for name in os.listdir(prefix):
            if name.startswith("callgrind.out."):
                os.remove(os.path.join(prefix, name))
        callgrind_control(proc.pid, "-z", port, scenario)
        batch(port, scenario, args.requests, args.conns)
        callgrind_control(proc.pid, "-d", port, scenario)
        dumps = sorted(n for n in os.listdir(prefix) if n.startswith("callgrind.out."))
        if not dumps:
            raise RuntimeError(f"{kind}: no callgrind dump")
        path = os.path.join(prefix, dumps[-1])
        if args.keep:
            shutil.copy(path, os.path.join(args.keep_dir, f"{scenario.name}-{kind}.out"))
        return summary(path) / args.requests
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--portico", default=os.path.join(ROOT, "target", "release", "portico"))
    p.add_argument("--nginx", default="/usr/sbin/nginx")
    p.add_argument("--scenarios", default="small,proxy,fastcgi")
    p.add_argument("--servers", default="portico,nginx")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--conns", type=int, default=10)
    p.add_argument("--keep", action="store_true", help="copy the dumps to --keep-dir")
    p.add_argument("--keep-dir", default="benches/results")
    args = p.parse_args()
    if args.keep:
        os.makedirs(args.keep_dir, exist_ok=True)
    root = tempfile.mkdtemp(prefix="portico-callgrind-")
    os.chmod(root, 0o755)
    docroot = os.path.join(root, "docroot")
    config.make_docroot(docroot)
    all_scenarios = config.scenarios(docroot)
    backends = []
    try:
        backend_ports = {}
        wanted = args.scenarios.split(",")
        if any(all_scenarios[s].backend == "php-fpm" for s in wanted):
            sock = os.path.join(root, "php-fpm.sock")
            fpm_dir = os.path.join(root, "fpm")
            os.makedirs(fpm_dir)
            conf = os.path.join(fpm_dir, "php-fpm.conf")
            with open(conf, "w") as f:
                f.write(config.fpm_conf(fpm_dir, sock, 4, 511))
            backends.append(subprocess.Popen(
                [config.php_fpm_binary(), "-R", "-F", "-y", conf],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            backend_ports["php-fpm"] = sock
        if any(all_scenarios[s].backend == "upstream" for s in wanted):
            up = os.path.join(root, "upstream")
            os.makedirs(os.path.join(up, "logs"))
            port = free_port()
            with open(os.path.join(up, "nginx.conf"), "w") as f:
                f.write(config.upstream_conf(port, 1024, 511, docroot))
            backends.append(subprocess.Popen(
                [args.nginx, "-p", up, "-c", os.path.join(up, "nginx.conf"),
                 "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            backend_ports["upstream"] = port
        time.sleep(1)
        print(f"instructions per request ({args.requests} requests, {args.conns} connections)")
        for name in wanted:
            results = {}
            for kind in args.servers.split(","):
                results[kind] = run_server(kind, all_scenarios[name], args, root, backend_ports)
            line = "  ".join(f"{k} {v:10,.0f}" for k, v in results.items())
            if len(results) == 2:
                a, b = results.values()
                line += f"   ratio {a / b:.2f}"
            print(f"  {name:10} {line}", flush=True)
    finally:
        for b in backends:
            b.terminate()
            b.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
