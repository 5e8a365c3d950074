"""Server processes: start, readiness check, worker discovery, /proc accounting, stop.

Every process here is one the harness started itself, in its own session (process group),
so stopping it signals exactly that group and nothing else on the machine.
"""

import http.client
import os
import resource
import shutil
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
FD_MARGIN = 64            # descriptors a process needs besides its connections


# ---------------------------------------------------------------- machine limits

def raise_nofile():
    """Raises this process's open-file soft limit to the hard limit; children inherit it.

    Returns the new (soft, hard). Servers and wrk started afterwards get the same limit,
    which is why the generated configs need no `worker_rlimit_nofile`.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def conn_cap(nofile):
    """The most connections one process can hold under an open-file limit."""
    return max(1, nofile - FD_MARGIN)


def somaxconn(default=4096):
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return int(f.read())
    except (OSError, ValueError):
        return default


def cpu_count():
    return len(os.sched_getaffinity(0))


def free_ports(count, start=18000, stop=19000):
    """Ports free on 127.0.0.1, below the ephemeral range so wrk's own ports never clash."""
    ports = []
    for port in range(start, stop):
        if _port_free(port):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError(f"no {count} free ports in {start}-{stop}")


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def require_tool(name, hint):
    """The absolute path of an executable, or SystemExit with an install hint."""
    path = shutil.which(name) if os.sep not in name else (name if os.access(name, os.X_OK) else None)
    if not path:
        raise SystemExit(f"error: `{name}` not found. {hint}")
    return path


def pinned(argv, cpu):
    """argv run under `taskset -c CPU`, or unchanged when cpu is None."""
    return argv if cpu is None else ["taskset", "-c", str(cpu)] + argv


# ---------------------------------------------------------------- /proc accounting

def children(pid):
    """Direct children of pid (all of its threads' children)."""
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        return _children_by_scan(pid)
    return sorted(set(kids))


def _children_by_scan(pid):
    """Fallback when /proc/PID/task/TID/children is missing: scan every stat for ppid."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat_fields(int(entry))
            if stat and int(stat[1]) == pid:
                kids.append(int(entry))
    return kids


def _stat_fields(pid):
    """Fields of /proc/PID/stat from field 3 (state) on; the comm field may hold spaces."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def cpu_seconds(pids):
    """utime + stime of the processes (all their threads), in seconds."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            ticks += int(fields[11]) + int(fields[12])   # stat fields 14 and 15
    return ticks / CLK_TCK


def rss_kib(pids):
    """Sum of VmRSS of the processes, in KiB."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


# ---------------------------------------------------------------- one server

def write_prefix(root, name, conf_name, conf_text):
    """Creates ROOT/NAME/{conf,logs} with the config; returns the prefix directory."""
    prefix = os.path.join(root, name)
    for sub in ("conf", "logs"):
        os.makedirs(os.path.join(prefix, sub), exist_ok=True)
    with open(os.path.join(prefix, "conf", conf_name), "w") as f:
        f.write(conf_text)
    return prefix


class Server:
    """An nginx-style server (master + workers) started in the foreground."""

    def __init__(self, label, binary, prefix, conf_name, port, cpu=None, workers=1):
        self.label, self.binary, self.prefix = label, binary, prefix
        self.conf_name, self.port, self.cpu, self.workers = conf_name, port, cpu, workers
        self.proc = None
        self.worker_pids = []

    def argv(self):
        return pinned([self.binary, "-p", self.prefix + "/", "-c", f"conf/{self.conf_name}",
                       "-e", "logs/error.log", "-g", "daemon off;"], self.cpu)

    def start(self):
        out = open(os.path.join(self.prefix, "logs", "stderr.log"), "wb")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        out.close()

    def wait_ready(self, path, check, timeout=10.0, headers=None, tls=False):
        """Waits until GET path answers; returns (status, reason). With `headers` (a dict
        sent with the request), `check` also gets the response's headers.

        status: "ok"; "unsupported" when the server exited (it rejected the config);
        "broken" when it answers wrongly; "timeout" when it never answered.
        """
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "unsupported", f"exited with code {self.proc.returncode}: {self.log_tail()}"
            try:
                status, got, body = http_get(self.port, path, headers=headers, tls=tls)
            except OSError as e:
                last = str(e)
                time.sleep(0.05)
                continue
            wrong = check(status, body) if headers is None else check(status, body, got)
            if wrong:
                return "broken", f"GET {path}: {wrong}"
            self.worker_pids = self._find_workers(deadline)
            return "ok", ""
        return "timeout", f"GET {path} never answered in {timeout:.0f}s ({last})"

    def _find_workers(self, deadline):
        """The worker processes; the server itself when it has none (single-process)."""
        kids = children(self.proc.pid)
        while len(kids) < self.workers and time.monotonic() < deadline:
            time.sleep(0.05)
            kids = children(self.proc.pid)
        return kids or [self.proc.pid]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=6):
        """The last lines of the server's stderr and error log, joined on one line."""
        text = []
        for name in ("stderr.log", "error.log"):
            try:
                with open(os.path.join(self.prefix, "logs", name), errors="replace") as f:
                    text += f.read().splitlines()[-lines:]
            except OSError:
                pass
        return " | ".join(line.strip() for line in text if line.strip()) or "(no log output)"

    def stop(self, grace=5.0):
        """TERM (nginx's fast stop), then KILL the whole process group if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        _signal_group(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


class Backend(Server):
    """A backend that is not nginx-like (the Tornado app): plain argv, no workers."""

    def __init__(self, label, argv, prefix, port, cpu=None):
        super().__init__(label, argv[0], prefix, "", port, cpu, workers=0)
        self._argv = argv

    def argv(self):
        return pinned(self._argv, self.cpu)


def http_get(port, path, timeout=5.0, headers=None, tls=False):
    """One GET to 127.0.0.1:port (with `headers`; over TLS, the certificate unchecked, with
    `tls`); returns (status, headers, body)."""
    if tls:
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()
