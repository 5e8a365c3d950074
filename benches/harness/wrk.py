"""Running wrk and reading its `--latency` report."""

import re
import resource
import subprocess

from . import procs

# wrk prints latencies with these units (see wrk's units.c).
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}

_REQUESTS = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)([KMGT]?B) read",
                       re.M)
_BYTES = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}
_RPS = re.compile(r"^Requests/sec:\s*([\d.]+)", re.M)
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def argv(url, conns, duration, threads, timeout, cpu=None, binary="wrk", headers=()):
    """The wrk command line; identical for both servers apart from the URL. `headers`:
    request header lines (`Accept-Encoding: gzip`), one `-H` each."""
    extra = [arg for h in headers for arg in ("-H", h)]
    return procs.pinned([binary, f"-t{threads}", f"-c{conns}", f"-d{duration}s",
                         "--timeout", f"{timeout}s", "--latency", *extra, url], cpu)


def run(cmd, duration):
    """Runs wrk; returns (exit code, output, wrk's CPU seconds).

    Bounded in time, since wrk may hang on a dead server. wrk's CPU time comes from this
    process's RUSAGE_CHILDREN, which grows by exactly wrk's usage when it is reaped.
    """
    before = _children_cpu()
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=duration + 60)
    except subprocess.TimeoutExpired as e:
        return 124, str(e.stdout or "") + "\nwrk did not finish in time", None
    return done.returncode, done.stdout + done.stderr, _children_cpu() - before


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parse(text):
    """The numbers of a wrk --latency report, or None when it has no result.

    Returns requests, seconds, rps, read_bytes, p50_ms/p75_ms/p90_ms/p99_ms, socket_errors
    (the sum of connect+read+write+timeout), the four counts as errors, and non_2xx_3xx.
    """
    requests, rps = _REQUESTS.search(text), _RPS.search(text)
    if not requests or not rps:
        return None
    result = {
        "requests": int(requests.group(1)),
        "seconds": float(requests.group(2)) * _UNIT_MS[requests.group(3)] / 1000.0,
        "rps": float(rps.group(1)),
        # Bytes wrk read, unfinished responses included (wrk's units are powers of 1024).
        "read_bytes": int(float(requests.group(4)) * _BYTES[requests.group(5)]),
    }
    for pct, value, unit in _PERCENTILE.findall(text):
        result[f"p{pct}_ms"] = float(value) * _UNIT_MS[unit]
    errors = _SOCKET_ERRORS.search(text)
    counts = [int(x) for x in errors.groups()] if errors else [0, 0, 0, 0]
    result["errors"] = dict(zip(("connect", "read", "write", "timeout"), counts))
    result["socket_errors"] = sum(counts)
    non_2xx = _NON_2XX.search(text)
    result["non_2xx_3xx"] = int(non_2xx.group(1)) if non_2xx else 0
    return result
