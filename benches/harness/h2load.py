"""Running h2load (nghttp2's load generator, for the HTTP/2 scenarios) and `openssl s_time`
(for the TLS handshake scenarios), read into the same numbers as a wrk run."""

import re
import subprocess
import time

from . import procs

_FINISHED = re.compile(r"^finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s", re.M)
_REQUESTS = re.compile(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                       r"(\d+) failed, (\d+) errored, (\d+) timeout", re.M)
_STATUS = re.compile(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", re.M)
_REQ_TIME = re.compile(r"^time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+"
                       r"([\d.]+)(us|ms|s)", re.M)
_TRAFFIC = re.compile(r"^traffic: .*\((\d+)\) total", re.M)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}

# s_time: "2613 connections in 0.63s; ..." (0.63 is s_time's own user CPU, not wall time).
_STIME = re.compile(r"^(\d+) connections in [\d.]+s;", re.M)
# s_time's one mark per connection: `r` resumed, a digit or `*` a new session.
_MARKS = re.compile(r"^[r0-9*]+$", re.M)


def h2load_argv(url, conns, streams, duration, cpu=None, binary="h2load", h1=False):
    """h2load for `duration` seconds over `conns` connections, `streams` concurrent streams
    each (HTTP/2 over TLS negotiated by ALPN; `h1`: HTTP/1.1 instead)."""
    extra = ["--h1"] if h1 else []
    return procs.pinned([binary, "-c", str(conns), "-m", str(streams), "-D", str(duration),
                         *extra, url], cpu)


def parse_h2load(text):
    """h2load's numbers under wrk.parse's keys, or None when it printed no result. h2load
    gives no percentiles: p50_ms/p99_ms stay unset and the request time's mean is
    mean_ms."""
    finished, requests = _FINISHED.search(text), _REQUESTS.search(text)
    if not finished or not requests:
        return None
    total, _, done, succeeded, failed, errored, timeout = (int(x) for x in requests.groups())
    result = {
        "requests": succeeded,
        "seconds": float(finished.group(1)) * _UNIT_MS[finished.group(2)] / 1000.0,
        "rps": float(finished.group(3)),
        "errors": {"failed": failed, "errored": errored, "timeout": timeout},
        "socket_errors": failed + errored + timeout,
    }
    traffic = _TRAFFIC.search(text)
    if traffic:
        result["read_bytes"] = int(traffic.group(1))
    status = _STATUS.search(text)
    result["non_2xx_3xx"] = int(status.group(3)) + int(status.group(4)) if status else 0
    times = _REQ_TIME.search(text)
    if times:
        result["mean_ms"] = float(times.group(5)) * _UNIT_MS[times.group(6)]
    return result


def s_time_argv(port, path, duration, reuse, cpu=None):
    """`openssl s_time`: one connection at a time for `duration` seconds, each a GET of
    `path`; `-new`: a full handshake per connection, `-reuse`: a resumed one."""
    return procs.pinned(["openssl", "s_time", "-connect", f"127.0.0.1:{port}",
                         "-reuse" if reuse else "-new", "-time", str(duration),
                         "-www", path], cpu)


def parse_s_time(text, wall_s, reuse):
    """Connections (= handshakes) and their rate over the measured wall time. With `reuse`
    s_time prints `r` per resumed connection; a server that resumes under 90% of them
    did other work than the one compared, which is an error."""
    found = _STIME.search(text)
    if not found or wall_s <= 0:
        return None
    conns = int(found.group(1))
    result = {"requests": conns, "seconds": wall_s, "rps": conns / wall_s,
              "socket_errors": 0, "non_2xx_3xx": 0}
    if reuse:
        resumed = sum(line.count("r") for line in _MARKS.findall(text))
        result["resumed"] = resumed
        if resumed < 0.9 * conns:
            return {"error": f"only {resumed} of {conns} handshakes resumed"}
    return result


def run(cmd, duration):
    """Runs the tool; returns (exit code, output, wall seconds)."""
    t0 = time.monotonic()
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=duration + 60)
    except subprocess.TimeoutExpired as e:
        return 124, str(e.stdout or "") + "\ndid not finish in time", time.monotonic() - t0
    return done.returncode, done.stdout + done.stderr, time.monotonic() - t0
