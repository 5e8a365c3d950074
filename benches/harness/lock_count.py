"""The `lockcount` scenario: upstream requests per 1,000 concurrent misses of one key under
`proxy_cache_lock on` (issue 19). A count, not a speed: each server gets the same config,
1,000 clients ask for one uncached URL at once, and an upstream that answers after 300 ms
counts what reaches it. nginx's answer is 1; so should Portico's be.
"""

import asyncio
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import time

from . import config, procs

CLIENTS = 1000
UPSTREAM_DELAY_S = 0.3


class _Counter(BaseHTTPRequestHandler):
    """A slow upstream that counts requests by path."""
    counts = {}
    lock = threading.Lock()

    def do_GET(self):  # noqa: N802 (http.server's name)
        with self.lock:
            self.counts[self.path] = self.counts.get(self.path, 0) + 1
        time.sleep(UPSTREAM_DELAY_S)
        body = b"x" * 5000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _conf(port, upstream_port, workers):
    return (config.main_context(workers, 4096)
            + "http {\n"
            + "    access_log off;\n"
            + "    proxy_cache_path cache levels=1:2 keys_zone=lock:10m;\n"
            + "    server {\n"
            + f"        listen 127.0.0.1:{port} backlog=4096;\n"
            + "        location / { return 200 'ready'; }\n"
            + f"        location /c/ {{ proxy_pass http://127.0.0.1:{upstream_port};\n"
            + "            proxy_cache lock; proxy_cache_valid 200 1h;\n"
            + "            proxy_cache_lock on; proxy_cache_lock_timeout 30s; }\n"
            + "    }\n}\n")


async def _one(port, path):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        data = await reader.read()
        writer.close()
        return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


async def _storm(port, path):
    return await asyncio.gather(*(_one(port, path) for _ in range(CLIENTS)))


def run(plan, root, bins):
    """Runs the count for both servers; returns one result dict per server."""
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    upstream.daemon_threads = True
    upstream.request_queue_size = 4096
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    results = []
    try:
        for label in ("portico", "nginx"):
            port = procs.free_ports(1)[0]
            prefix = procs.write_prefix(root, f"lockcount-{label}", f"{label}.conf",
                                        _conf(port, upstream.server_address[1], plan.workers))
            os.makedirs(os.path.join(prefix, "cache"), exist_ok=True)
            server = procs.Server(label, bins[label], prefix, f"{label}.conf", port,
                                  workers=plan.workers)
            server.start()
            status, reason = server.wait_ready("/", lambda s, b: None if s == 200 else s)
            if status != "ok":
                results.append({"server": label, "status": status, "reason": reason})
                server.stop()
                continue
            path = f"/c/{label}"
            try:
                oks = asyncio.run(_storm(port, path))
            finally:
                server.stop()
            results.append({"server": label, "status": "ok", "clients": CLIENTS,
                            "answered_200": sum(oks),
                            "upstream_requests": _Counter.counts.get(path, 0)})
    finally:
        upstream.shutdown()
    return results


def table(results):
    lines = ["lockcount: upstream requests per 1,000 concurrent misses (proxy_cache_lock on)"]
    for r in results:
        if r["status"] != "ok":
            lines.append(f"  {r['server']:8} {r['status']}: {r['reason'][:200]}")
        else:
            lines.append(f"  {r['server']:8} upstream requests {r['upstream_requests']:5}  "
                         f"200s {r['answered_200']}/{r['clients']}")
    return "\n".join(lines)
