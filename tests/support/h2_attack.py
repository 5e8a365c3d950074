"""HTTP/2 attacks in raw frames against a running worker, for tests/http2_served.rs.

usage: h2_attack.py PORT MODE [PATH]; prints one line: how the server ended the attack
("closed" when it closed the connection, with the GOAWAY code if one came, "reset N" when
it reset the attacking stream), or "open" when the connection was still up after the
attack and the wait. Every loop is bounded; the socket has a timeout.
"""
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, ACK = 1, 4, 1


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def block(path, method=b"\x82"):
    # :method GET (static 2) or POST (3), :scheme http (6), :path literal, :authority.
    return method + b"\x86" + b"\x04" + hpack_int(len(path), 7) + path + b"\x41\x09localhost"


def hpack_int(value, prefix_bits, flags=0):
    top = (1 << prefix_bits) - 1
    if value < top:
        return bytes([flags | value])
    out = [flags | top]
    value -= top
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class Conn:
    def __init__(self, port, settings=b""):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0, settings))
        self.buf = b""
        self.goaway = None
        self.last_stream = None
        self.resets = {}
        self.data = 0
        self.status = {}
        self.ended = set()

    def send(self, b):
        try:
            self.sock.sendall(b)
            return True
        except OSError:
            return False

    def pump(self, wait, until=None):
        """Reads frames for up to `wait` seconds (or until `until()`); True once the
        server closed."""
        end = time.time() + wait
        while time.time() < end and not (until and until()):
            self.sock.settimeout(max(0.05, end - time.time()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except OSError:
                return True
            if not chunk:
                return True
            self.buf += chunk
            at = 0
            while len(self.buf) - at >= 9:
                n = int.from_bytes(self.buf[at:at + 3], "big")
                if len(self.buf) - at < 9 + n:
                    break
                kind = self.buf[at + 3]
                flags = self.buf[at + 4]
                stream = int.from_bytes(self.buf[at + 5:at + 9], "big") & 0x7FFFFFFF
                payload = self.buf[at + 9:at + 9 + n]
                at += 9 + n
                if kind == GOAWAY:
                    self.goaway = int.from_bytes(payload[4:8], "big")
                    self.last_stream = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
                elif kind == RST:
                    self.resets[stream] = int.from_bytes(payload[:4], "big")
                elif kind == DATA:
                    self.data += n
                elif kind == HEADERS and stream not in self.status and payload:
                    # :status 200 is indexed (0x88) by the server's encoder.
                    self.status[stream] = "200" if payload[0] == 0x88 else "%02x" % payload[0]
                if kind in (HEADERS, DATA) and flags & END_STREAM:
                    self.ended.add(stream)
            self.buf = self.buf[at:]
        return False

    def outcome(self, wait):
        if self.pump(wait):
            return "closed" + ("" if self.goaway is None else " goaway %d" % self.goaway)
        if self.resets:
            return "reset %d" % list(self.resets.values())[0]
        return "open"


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    path = (sys.argv[3] if len(sys.argv) > 3 else "/").encode()
    if mode == "rapid_reset":
        c = Conn(port)
        for i in range(3000):
            sid = 1 + 2 * i
            if not c.send(frame(HEADERS, END_STREAM | END_HEADERS, sid, block(path))
                          + frame(RST, 0, sid, struct.pack(">I", 8))):
                break
        print(c.outcome(5))
    elif mode == "continuation":
        c = Conn(port)
        c.send(frame(HEADERS, END_STREAM, 1, block(path)))
        junk = b"\x40\x05x-bad\x7f\x81\x7f" + b"a" * 16000
        for _ in range(2000):
            if not c.send(frame(CONTINUATION, 0, 1, junk)):
                break
        print(c.outcome(5))
    elif mode == "hpack_bomb":
        c = Conn(port)
        # One 3 KB field added to the dynamic table, then referenced 4000 times (1 byte
        # each on the wire, 3 KB each decoded).
        big = b"\x40\x06x-bomb\x7f\xb9\x16" + b"b" * 3000
        refs = b"\xbe" * 4000
        c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block(path) + big + refs))
        print(c.outcome(5))
    elif mode == "big_header_frame":
        # One HEADERS frame of about 40 KB (a long query string: over the 16384 bytes a
        # frame holds before SETTINGS_MAX_FRAME_SIZE), then a small stream after it.
        c = Conn(port)
        c.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block(path + b"?h=" + b"x" * 40000))
               + frame(HEADERS, END_STREAM | END_HEADERS, 3, block(path)))
        closed = c.pump(10, lambda: {1, 3} <= c.ended)
        print("answered 1:%s 3:%s closed %s" % (c.status.get(1), c.status.get(3), closed))
    elif mode == "huge_header_frame":
        # A HEADERS frame that announces 2^24-1 bytes and sends 4 KB fields until the
        # server ends it (the header limits apply while the block arrives).
        c = Conn(port)
        field = b"\x40\x03x-a" + hpack_int(4000, 7) + b"a" * 4000
        header = frame(HEADERS, END_STREAM | END_HEADERS, 1)
        c.send(b"\xff\xff\xff" + header[3:] + block(path))
        for _ in range(400):
            if not c.send(field):
                break
        print(c.outcome(5))
    elif mode in ("settings_flood", "ping_flood", "empty_data"):
        c = Conn(port)
        if mode == "empty_data":
            c.send(frame(HEADERS, END_HEADERS, 1, block(path, b"\x83")))
            one = frame(DATA, 0, 1)
        elif mode == "ping_flood":
            one = frame(PING, 0, 0, b"12345678")
        else:
            one = frame(SETTINGS, 0, 0)
        batch = one * 1000
        for _ in range(1200):
            if not c.send(batch):
                break
        print(c.outcome(5))
    elif mode == "zero_window":
        # INITIAL_WINDOW_SIZE 0: the response can never be sent; the client reads all the
        # while (a slow reader that never opens its window).
        c = Conn(port, struct.pack(">HI", 4, 0))
        c.send(frame(SETTINGS, ACK, 0) + frame(HEADERS, END_STREAM | END_HEADERS, 1, block(path)))
        print(c.outcome(float(sys.argv[4]) if len(sys.argv) > 4 else 5))
    elif mode == "graceful":
        # A slow response is in flight when the test stops the worker: GOAWAY with the last
        # stream id comes, and the stream still ends whole.
        c = Conn(port, struct.pack(">HI", 4, 0x7FFFFFFF))
        c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFF0000))
               + frame(HEADERS, END_STREAM | END_HEADERS, 1, block(path)))
        print("started", flush=True)
        closed = c.pump(8)
        print("goaway %s last %s data %d closed %s" % (c.goaway, c.last_stream, c.data, closed))
    else:
        sys.exit("unknown mode")


main()
