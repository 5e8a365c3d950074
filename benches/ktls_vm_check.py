#!/usr/bin/env python3
"""kTLS check run inside the VM `benches/ktls_vm.sh` boots (a kernel with the `tls` module).
Usage: ktls_vm_check.py PORTICO OPENSSL [NGINX WRK]

1. Portico serves a 1.5 MB file over TLS 1.2 (each AEAD) and TLS 1.3 (each suite) through
   `openssl s_client`, three requests per keep-alive connection, each sent once the previous
   response has arrived (so the kernel's RX path reads it); then the same three pipelined in
   one write. Every body is compared byte for byte, and /proc/net/tls_stat's TlsTxSw and
   TlsRxSw must move (the kernel took the session). The server's records go through a relay
   that checks each AEAD nonce is used once per connection (TLS 1.2 GCM's explicit nonces).
2. A TLS 1.3 client sends a KeyUpdate (s_client's `k`) after a kTLS response: the connection
   must end (closed by the server) and the worker must go on serving.
3. With NGINX and WRK: requests per server-CPU-second on a 1 MiB file, nginx and Portico,
   with and without kTLS (wrk inside the same VM; indicative only).
Prints `KTLS VM CHECK PASSED` or `FAILED`."""
import os, socket, struct, subprocess, sys, tempfile, threading, time

BIN, OPENSSL = sys.argv[1], sys.argv[2]
NGINX = sys.argv[3] if len(sys.argv) > 3 else None
WRK = sys.argv[4] if len(sys.argv) > 4 else None
root = tempfile.mkdtemp(prefix="ktls-")
for d in ("conf", "logs", "html"):
    os.makedirs(os.path.join(root, d))
big = bytes((i * 13 % 251) for i in range(1_500_000))
open(os.path.join(root, "html/big.bin"), "wb").write(big)
open(os.path.join(root, "html/1m.bin"), "wb").write(os.urandom(1 << 20))
subprocess.run([OPENSSL, "req", "-x509", "-nodes", "-days", "2", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-keyout", f"{root}/conf/k.key", "-out",
                f"{root}/conf/k.crt", "-subj", "/CN=localhost"], check=True, capture_output=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stat():
    try:
        return {k: int(v) for k, v in (l.split() for l in open("/proc/net/tls_stat") if l.strip())}
    except OSError:
        return {}


def delta(before):
    after = stat()
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def wait_port(port, proc, limit=10.0):
    end = time.monotonic() + limit
    while time.monotonic() < end and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def portico_conf(port, ktls, workers=1):
    opt = "ssl_conf_command Options KTLS;" if ktls else ""
    return f"""
user root; worker_processes {workers}; daemon off; error_log logs/error.log info; pid logs/p.pid;
events {{}}
http {{ access_log off; sendfile on; keepalive_requests 100000;
  server {{ listen 127.0.0.1:{port} ssl; ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate k.crt; ssl_certificate_key k.key; {opt} root html; }} }}
"""


def start_portico(port, ktls):
    open(f"{root}/conf/p.conf", "w").write(portico_conf(port, ktls))
    srv = subprocess.Popen([BIN, "-p", root, "-c", "conf/p.conf"])
    if not wait_port(port, srv):
        print("portico did not start", flush=True)
        sys.exit(1)
    return srv


class Relay:
    """A TCP relay in front of the server that parses the server's TLS records and notes,
    for each record after the server's ChangeCipherSpec, the first 8 bytes of its payload
    (TLS 1.2 GCM's explicit nonce)."""

    def __init__(self, target):
        self.target = target
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        self.nonces, self.records = [], 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        c, _ = self.ls.accept()
        s = socket.create_connection(("127.0.0.1", self.target))
        threading.Thread(target=self.pump, args=(c, s), daemon=True).start()
        buf, ccs = b"", False
        while True:
            try:
                d = s.recv(65536)
            except OSError:
                d = b""
            if not d:
                break
            buf += d
            while len(buf) >= 5:
                typ, _, n = struct.unpack(">BHH", buf[:5])
                if len(buf) < 5 + n:
                    break
                if ccs:
                    self.records += 1
                    self.nonces.append(buf[5:13])
                ccs |= typ == 20
                buf = buf[5 + n:]
            try:
                c.sendall(d)
            except OSError:
                break
        for x in (c, s):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @staticmethod
    def pump(a, b):
        while True:
            try:
                d = a.recv(65536)
            except OSError:
                d = b""
            if not d:
                try:
                    b.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            try:
                b.sendall(d)
            except OSError:
                return


def read_response(f):
    status = f.readline()
    length = None
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return status, f.read(length or 0)


REQ = b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"
LAST = b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def s_client(port, args, pipelined, n=3):
    """n requests on one connection through s_client; 'ok' or what went wrong."""
    p = subprocess.Popen([OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-quiet",
                          "-ign_eof"] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    timer = threading.Timer(60, p.kill)
    timer.start()
    try:
        if pipelined:
            p.stdin.write(REQ * (n - 1) + LAST)
            p.stdin.flush()
        for i in range(n):
            if not pipelined:
                p.stdin.write(LAST if i == n - 1 else REQ)
                p.stdin.flush()
            status, body = read_response(p.stdout)
            if not status.startswith(b"HTTP/1.1 200") or body != big:
                return f"request {i}: {status!r}, body {len(body)} bytes, same={body == big}"
        return "ok"
    finally:
        timer.cancel()
        try:
            p.stdin.close()
        except OSError:
            pass
        p.wait(timeout=30)


ok = True
port = free_port()
srv = start_portico(port, ktls=True)
print(f"kernel {os.uname().release}; tcp_available_ulp: "
      f"{open('/proc/sys/net/ipv4/tcp_available_ulp').read().strip()}", flush=True)
cases = [("TLS 1.2", c, ["-tls1_2", "-cipher", c]) for c in
         ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
          "ECDHE-ECDSA-CHACHA20-POLY1305")]
cases += [("TLS 1.3", c, ["-tls1_3", "-ciphersuites", c]) for c in
          ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")]
for ver, cipher, args in cases:
    for pipelined in (False, True):
        relay = Relay(port)
        before = stat()
        try:
            res = s_client(relay.port, args, pipelined)
        except Exception as e:  # noqa: BLE001 - reported, counts as a failure
            res = f"error {e!r}"
        d = delta(before)
        took = d.get("TlsTxSw", 0) >= 1 and d.get("TlsRxSw", 0) >= 1
        explicit = ver == "TLS 1.2" and "GCM" in cipher
        unique = len(set(relay.nonces)) == len(relay.nonces)
        nonce = (f"; {relay.records} records, explicit nonces unique={unique}" if explicit
                 else "")
        good = res == "ok" and took and (unique or not explicit)
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} {ver} {cipher} "
              f"{'pipelined' if pipelined else 'keep-alive'} x3 1.5 MB: {res}; "
              f"tls_stat {d}{nonce}", flush=True)

# KeyUpdate after the switch: s_client's `k` (commands need no -quiet/-ign_eof).
before = stat()
p = subprocess.Popen([OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3", "-crlf"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
p.stdin.write(b"GET /big.bin HTTP/1.1\nHost: localhost\n\n")
p.stdin.flush()
out = bytearray()


def drain():
    while True:
        chunk = p.stdout.read1(65536)
        if not chunk:
            return
        out.extend(chunk)


reader = threading.Thread(target=drain, daemon=True)
reader.start()
end = time.monotonic() + 20
while time.monotonic() < end and out.find(big[-4096:]) < 0 and p.poll() is None:
    time.sleep(0.05)
got = out.find(big[-4096:]) >= 0
t0 = time.monotonic()
p.stdin.write(b"k\n")
p.stdin.flush()
try:
    p.wait(timeout=10)  # stdin stays open: only the server's close ends s_client
    ended = True
except subprocess.TimeoutExpired:
    p.kill()
    p.wait()
    ended = False
reader.join(timeout=5)
rest = bytes(out[-300:])
elapsed = time.monotonic() - t0
d = delta(before)
again = s_client(port, ["-tls1_3"], False, n=1)
good = got and ended and again == "ok" and srv.poll() is None
ok &= good
print(f"{'ok  ' if good else 'FAIL'} TLS 1.3 KeyUpdate after a kTLS response: response "
      f"whole={got}; connection ended {elapsed:.2f} s after the KeyUpdate={ended} "
      f"(s_client: {b' '.join(rest.split()[-6:]).decode(errors='replace')}); "
      f"next connection: {again}; tls_stat {d}", flush=True)
srv.terminate()
srv.wait(timeout=10)
log = open(f"{root}/logs/error.log").read()
print("portico error.log (last lines):\n" + "\n".join(log.splitlines()[-8:]), flush=True)
print("KTLS VM CHECK", "PASSED" if ok else "FAILED", flush=True)


# ---- measurements ----
def worker_cpu(master_pid):
    """utime+stime (ticks) of master_pid's children (the workers)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            st = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == master_pid:
            total += int(fields[11]) + int(fields[12])
    return total


def nginx_conf(port, ktls):
    opt = "ssl_conf_command Options KTLS;" if ktls else ""
    return f"""
user root; worker_processes 1; daemon off; error_log logs/nerror.log info; pid logs/n.pid;
events {{}}
http {{ access_log off; sendfile on; keepalive_requests 100000;
  server {{ listen 127.0.0.1:{port} ssl; ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate k.crt; ssl_certificate_key k.key; {opt} root html; }} }}
"""


def bench(server, ktls, secs):
    port = free_port()
    if server == "portico":
        srv = start_portico(port, ktls)
    else:
        open(f"{root}/conf/n.conf", "w").write(nginx_conf(port, ktls))
        srv = subprocess.Popen([NGINX, "-p", root + "/", "-c", "conf/n.conf", "-e",
                                "logs/nerror.log"])
        if not wait_port(port, srv):
            print("nginx did not start", open(f"{root}/logs/nerror.log").read(), flush=True)
            return None
    time.sleep(0.3)
    before_stat, cpu0 = stat(), worker_cpu(srv.pid)
    w = subprocess.run([WRK, "-t1", "-c2", f"-d{secs}s", "--timeout", "60s",
                        f"https://127.0.0.1:{port}/1m.bin"],
                       capture_output=True, text=True, timeout=secs + 30)
    cpu = (worker_cpu(srv.pid) - cpu0) / os.sysconf("SC_CLK_TCK")
    d = delta(before_stat)
    srv.terminate()
    srv.wait(timeout=10)
    reqs = next((int(l.split()[0]) for l in w.stdout.splitlines() if "requests in" in l), 0)
    errs = [l.strip() for l in w.stdout.splitlines() if "errors" in l or "Non-2xx" in l]
    return reqs / secs, reqs / cpu if cpu else 0.0, cpu, d.get("TlsTxSw", 0), errs


if NGINX and WRK:
    cmdline = open("/proc/cmdline").read().split()
    accel = next((a.split("=", 1)[1] for a in cmdline if a.startswith("ktls_vm_accel=")), "?")
    print(f"BENCH nested VM (qemu, accelerator {accel}, inside a Firecracker VM), 2 vCPUs, "
          "wrk -t1 -c2 on the same VM, 1 MiB file over TLS 1.3, 1 worker: indicative only",
          flush=True)
    results = {}
    rounds, secs = 3, 10
    paired = {True: [], False: []}
    for r in range(rounds):
        # Each pair back to back (the VM's speed drifts with the host's load), the first
        # server alternating.
        for ktls in (True, False):
            pair = {}
            for server in ("nginx", "portico") if r % 2 == 0 else ("portico", "nginx"):
                res = bench(server, ktls, secs)
                if res is None:
                    continue
                results.setdefault((server, ktls), []).append(res)
                pair[server] = res[1]
                print(f"  round {r + 1} {server:7} kTLS={'on ' if ktls else 'off'} "
                      f"{res[0]:8.1f} req/s {res[1]:8.1f} req/CPU-s (worker CPU {res[2]:.2f} s, "
                      f"kTLS sessions {res[3]}) {' '.join(res[4])}", flush=True)
            if pair.get("nginx") and "portico" in pair:
                paired[ktls].append(pair["portico"] / pair["nginx"])
    med = {}
    for (server, ktls), rs in results.items():
        rps = sorted(x[0] for x in rs)[len(rs) // 2]
        rpc = sorted(x[1] for x in rs)[len(rs) // 2]
        med[(server, ktls)] = (rps, rpc)
        print(f"BENCH median {server:7} kTLS={'on ' if ktls else 'off'}: {rps:8.1f} req/s, "
              f"{rpc:8.1f} req per server-CPU-second", flush=True)
    if ("nginx", True) in med and ("portico", True) in med and med[("nginx", True)][1]:
        print(f"BENCH Portico/nginx with kTLS, req per server-CPU-second: "
              f"{med[('portico', True)][1] / med[('nginx', True)][1]:.2f}x", flush=True)
    for ktls, ratios in paired.items():
        if ratios:
            print(f"BENCH Portico/nginx {'with' if ktls else 'without'} kTLS, paired per round: "
                  f"{' '.join(f'{x:.2f}' for x in ratios)}, median "
                  f"{sorted(ratios)[len(ratios) // 2]:.2f}x", flush=True)
    if ("nginx", False) in med and ("portico", False) in med and med[("nginx", False)][1]:
        print(f"BENCH Portico/nginx without kTLS, req per server-CPU-second: "
              f"{med[('portico', False)][1] / med[('nginx', False)][1]:.2f}x", flush=True)
sys.exit(0 if ok else 1)
