"""An HTTP/2 client on Python's h2 for tests/http2_reload.rs: one connection at a time
with 10 streams in flight, GET of PATHS in turn, until its stdin closes.

It checks what a graceful stop promises (RFC 9113 6.8): after the server's GOAWAY every
stream up to its last stream id completes (status 200, the whole body); streams above it
were not processed and are sent again on a new connection, as browsers and curl do. A
reset, an EOF or a timeout that loses a processed stream is a failure.

Usage: h2_reload_client.py PORT tls|clear
Prints "ok N retried N connections N" and one "FAIL ..." line per failure."""
import select
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events
import h2.exceptions

PATHS = [("/index.html", 6), ("/page.html", 40000)]
IN_FLIGHT = 10

port = int(sys.argv[1])
tls = sys.argv[2] == "tls"
ok = 0
retried = 0
connections = 0
failures = []
stopping = False
queue = []  # requests (path, size) to send again
turn = 0


def stdin_closed():
    r, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(r) and sys.stdin.read(1) == ""


def connect():
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    return sock


def next_request():
    global turn
    if queue:
        return queue.pop()
    turn += 1
    return PATHS[turn % len(PATHS)]


def one_connection():
    """Runs one connection until the server ends it or the client stops; True when it may
    go on."""
    global ok, retried, connections, stopping
    connections += 1
    try:
        sock = connect()
    except OSError as e:
        failures.append(f"FAIL connect: {e}")
        return False
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    streams = {}  # id -> [path, size, status, body bytes]
    last_id = None  # the server's GOAWAY
    pending = b""  # bytes of a frame not whole yet

    def fill():
        while not stopping and last_id is None and len(streams) < IN_FLIGHT:
            path, size = next_request()
            sid = conn.get_next_available_stream_id()
            conn.send_headers(
                sid,
                [(":method", "GET"), (":scheme", "https" if tls else "http"),
                 (":authority", "localhost"), (":path", path)],
                end_stream=True,
            )
            streams[sid] = [path, size, None, 0]

    try:
        fill()
        sock.sendall(conn.data_to_send())
        while True:
            if not stopping and stdin_closed():
                stopping = True
            if not streams and (stopping or last_id is not None):
                sock.close()
                return not stopping
            try:
                data = sock.recv(65536)
            except socket.timeout:
                failures.append(f"FAIL timeout with streams {sorted(streams)} open")
                return False
            except (ConnectionError, ssl.SSLError, OSError) as e:
                failures.append(f"FAIL {e!r} with streams {sorted(streams)} open")
                return False
            if not data:
                if last_id is None and streams:
                    failures.append(f"FAIL EOF without GOAWAY, streams {sorted(streams)} open")
                    return False
                lost = [s for s in streams if s <= (last_id or 0)]
                if lost:
                    failures.append(f"FAIL EOF after GOAWAY {last_id} with processed streams {lost} open")
                    return False
                for sid, (path, size, _, _) in streams.items():
                    queue.append((path, size))
                    retried += 1
                return not stopping
            # h2 takes no frame after a GOAWAY (its connection is closed then), while
            # RFC 9113 has the streams up to the last id go on: GOAWAY is read here.
            pending += data
            frames = b""
            while len(pending) >= 9:
                length = int.from_bytes(pending[0:3], "big")
                if len(pending) < 9 + length:
                    break
                frame, pending = pending[: 9 + length], pending[9 + length :]
                if frame[3] != 7:
                    frames += frame
                    continue
                last_id = int.from_bytes(frame[9:13], "big") & 0x7FFFFFFF
                code = int.from_bytes(frame[13:17], "big")
                if code != 0:
                    failures.append(f"FAIL GOAWAY with error {code}")
                    return False
                for sid in [s for s in streams if s > last_id]:
                    path, size, _, _ = streams.pop(sid)
                    queue.append((path, size))
                    retried += 1
            for ev in conn.receive_data(frames):
                if isinstance(ev, h2.events.ResponseReceived):
                    streams[ev.stream_id][2] = dict(ev.headers)[b":status"]
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    if ev.stream_id in streams:
                        streams[ev.stream_id][3] += len(ev.data)
                elif isinstance(ev, h2.events.StreamEnded):
                    path, size, status, got = streams.pop(ev.stream_id)
                    if status == b"200" and got == size:
                        ok += 1
                    else:
                        failures.append(f"FAIL {path}: status {status}, {got} of {size} bytes")
                elif isinstance(ev, h2.events.StreamReset):
                    s = streams.pop(ev.stream_id, None)
                    if s is not None and ev.error_code == 7:
                        # REFUSED_STREAM: not processed, safe to send again.
                        queue.append((s[0], s[1]))
                        retried += 1
                    elif s is not None:
                        failures.append(f"FAIL stream {ev.stream_id} reset ({ev.error_code})")
            fill()
            out = conn.data_to_send()
            if out:
                try:
                    sock.sendall(out)
                except (ConnectionError, ssl.SSLError, OSError) as e:
                    if last_id is None:
                        failures.append(f"FAIL send {e!r} without GOAWAY")
                        return False
                    # After GOAWAY the server may have shut its side: go on reading.
    except h2.exceptions.ProtocolError as e:
        failures.append(f"FAIL protocol error {e!r}")
        return False


while one_connection():
    pass
print(f"ok {ok} retried {retried} connections {connections}")
for f in failures[:20]:
    print(f)
sys.stdout.flush()
