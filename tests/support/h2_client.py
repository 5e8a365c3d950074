"""An HTTP/2 client on Python's h2 for tests/http2_interop.rs: cookies split in fields,
a body with trailers, a malformed request (uppercase name), a pseudo-header after a
regular one, a request after them on the same connection, and a PING. Prints one line
per stream in stream order."""
import socket
import sys

import h2.config
import h2.connection
import h2.events

port = int(sys.argv[1])
sock = socket.create_connection(("127.0.0.1", port), timeout=10)
config = h2.config.H2Configuration(
    client_side=True, validate_outbound_headers=False, normalize_outbound_headers=False
)
c = h2.connection.H2Connection(config=config)
c.initiate_connection()
base = [(":method", "GET"), (":scheme", "http"), (":authority", "localhost")]
c.send_headers(1, base + [(":path", "/a"), ("cookie", "x=1"), ("cookie", "y=2")], end_stream=True)
c.send_headers(3, [(":method", "POST")] + base[1:] + [(":path", "/t")])
c.send_data(3, b"hello")
c.send_headers(3, [("x-sum", "5")], end_stream=True)
c.send_headers(5, base + [(":path", "/b"), ("X-Upper", "1")], end_stream=True)
c.send_headers(7, [("x", "1")] + base + [(":path", "/c")], end_stream=True)
sock.sendall(c.data_to_send())
lines = {}
bodies = {}
statuses = {}
sent_last = False
pinged = False
while len(lines) < 5 or not pinged:
    data = sock.recv(65536)
    if not data:
        break
    for ev in c.receive_data(data):
        if isinstance(ev, h2.events.ResponseReceived):
            statuses[ev.stream_id] = dict(ev.headers)[b":status"].decode()
        elif isinstance(ev, h2.events.DataReceived):
            bodies[ev.stream_id] = bodies.get(ev.stream_id, b"") + ev.data
            c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            lines[ev.stream_id] = "%d %s %s" % (
                ev.stream_id, statuses[ev.stream_id],
                bodies.get(ev.stream_id, b"").decode().strip())
        elif isinstance(ev, h2.events.StreamReset):
            lines[ev.stream_id] = "%d reset %d" % (ev.stream_id, ev.error_code)
        elif isinstance(ev, h2.events.PingAckReceived):
            pinged = True
    if 5 in lines and 7 in lines and not sent_last:
        sent_last = True
        c.send_headers(9, base + [(":path", "/after")], end_stream=True)
        c.ping(b"12345678")
    sock.sendall(c.data_to_send())
for k in sorted(lines):
    print(lines[k])
print("ping ok" if pinged else "no ping")
