#!/usr/bin/env python3
"""kTLS check for a machine whose kernel has the `tls` module (usage: ktls_check.py PORTICO
OPENSSL): Portico serves a 1.5 MB file
over TLS 1.3 and 1.2 with each AEAD, several requests per keep-alive connection, and the
kernel's /proc/net/tls_stat must count the sessions it took (TX and RX)."""
import hashlib, os, socket, ssl, subprocess, sys, tempfile, time

BIN, OPENSSL = sys.argv[1], sys.argv[2]
root = tempfile.mkdtemp(prefix="ktls-")
for d in ("conf", "logs", "html"):
    os.makedirs(os.path.join(root, d))
big = bytes((i * 13 % 251) for i in range(1_500_000))
open(os.path.join(root, "html/big.bin"), "wb").write(big)
subprocess.run([OPENSSL, "req", "-x509", "-nodes", "-days", "2", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-keyout", f"{root}/conf/k.key", "-out",
                f"{root}/conf/k.crt", "-subj", "/CN=localhost"], check=True, capture_output=True)
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0)); port = probe.getsockname()[1]
open(f"{root}/conf/p.conf", "w").write(f"""
user root; worker_processes 1; daemon off; error_log logs/error.log info; pid logs/p.pid;
events {{}}
http {{ access_log off; sendfile on;
  server {{ listen 127.0.0.1:{port} ssl; ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate k.crt; ssl_certificate_key k.key;
    ssl_conf_command Options KTLS; root html; }} }}
""")
def stat():
    try:
        return dict(l.split() for l in open("/proc/net/tls_stat") if l.strip())
    except OSError as e:
        return {"error": str(e)}
def took(delta):
    """With the kernel's counters present, the connection's session went into the kernel
    (TX and RX); without them (no `tls` module) only the fallback is checked."""
    if "error" in delta:
        return True
    return delta.get("TlsTxSw", 0) >= 1 and delta.get("TlsRxSw", 0) >= 1


srv = subprocess.Popen([BIN, "-p", root, "-c", "conf/p.conf"])
time.sleep(1.0)
ok = srv.poll() is None
if not ok:
    print("portico did not start")
def get_many(ctx, n=3):
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            info = (s.version(), s.cipher()[0])
            f = s.makefile("rb")
            for i in range(n):
                s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
                status = f.readline()
                length = None
                while True:
                    line = f.readline()
                    if line in (b"\r\n", b""):
                        break
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = f.read(length or 0)
                if not status.startswith(b"HTTP/1.1 200") or body != big:
                    return info, f"request {i}: {status!r} body ok={body == big}"
            return info, "ok"
cases = []
for ver in ("1.2", "1.3"):
    for cipher in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                   "ECDHE-ECDSA-CHACHA20-POLY1305"):
        ctx = ssl.create_default_context(); ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if ver == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2; ctx.set_ciphers(cipher)
        else:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            if cipher != "ECDHE-ECDSA-AES128-GCM-SHA256":
                continue
        before = stat()
        try:
            info, res = get_many(ctx)
        except Exception as e:
            info, res = (ver, cipher), f"error {e!r}"
        after = stat()
        delta = {k: int(after[k]) - int(before.get(k, 0)) for k in after
                 if k in before and after[k] != before[k]} if "error" not in after else after
        print(f"TLS {info}: {res}; tls_stat delta {delta}", flush=True)
        ok &= res == "ok" and took(delta)
# TLS 1.3 with each cipher suite through openssl s_client (Python cannot pick 1.3 suites).
for suite in ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"):
    before = stat()
    p = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3",
                        "-ciphersuites", suite, "-quiet", "-ign_eof"],
                       input=b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                       capture_output=True, timeout=30)
    parts = p.stdout.split(b"\r\n\r\n")
    good = len(parts) == 3 and parts[1].startswith(big) and parts[2] == big
    after = stat()
    delta = {k: int(after[k]) - int(before.get(k, 0)) for k in after
             if k in before and after[k] != before[k]} if "error" not in after else after
    print(f"TLS 1.3 {suite} via s_client: two bodies whole={good}; tls_stat delta {delta}",
          flush=True)
    ok &= good and took(delta)
srv.terminate(); srv.wait(timeout=10)
print(open(f"{root}/logs/error.log").read()[-3000:])
kernel = "kernel TLS" if os.path.exists("/proc/net/tls_stat") else "fallback only: no tls module"
print("KTLS CHECK", "PASSED" if ok else "FAILED", f"({kernel})")
sys.exit(0 if ok else 1)
