"""Raw-frame checks of nginx's HTTP/2 conformance behaviours, for tests/http2_conformance.rs.

usage: h2_conform.py PORT MODE; prints one line that the test compares. Every socket has a
timeout and every loop is bounded.
"""
import socket
import struct
import sys
import time

from hpack import Encoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST, SETTINGS, PUSH_PROMISE, PING, GOAWAY = 0, 1, 3, 4, 5, 6, 7
END_STREAM, END_HEADERS, ACK = 1, 4, 1
NAMES = {DATA: "DATA", HEADERS: "HEADERS", RST: "RST", PING: "PING", GOAWAY: "GOAWAY",
         9: "CONTINUATION"}


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(name, value):
    """A literal field without indexing, new name, no Huffman: any bytes go as sent."""
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def huffman_padded(value):
    """`value` Huffman-coded as nginx-tests' encoder does it: padded with ones to the next
    byte, a whole byte of them when the code ends on one."""
    bits = "".join(format(REQUEST_CODES[b], "0%db" % REQUEST_CODES_LENGTH[b]) for b in value)
    bits += "1" * (8 - len(bits) % 8)
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


def base(path=b"/", authority=b"localhost"):
    return literal(b":method", b"GET") + literal(b":scheme", b"http") + \
        literal(b":path", path) + literal(b":authority", authority)


class Conn:
    def __init__(self, port, ack=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0) + (frame(SETTINGS, ACK, 0) if ack else b""))
        self.buf = b""
        self.dec = None

    def frames(self, until, wait=5):
        """Frames read until `until(kind, flags, stream, payload)` is true (or the wait)."""
        got = []
        end = time.time() + wait
        while time.time() < end:
            while len(self.buf) >= 9:
                n = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) < 9 + n:
                    break
                f = (self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF,
                     self.buf[9:9 + n])
                self.buf = self.buf[9 + n:]
                got.append(f)
                if until(*f):
                    return got
            self.sock.settimeout(max(0.05, end - time.time()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            self.buf += chunk
        return got

    def ended(self, stream):
        return self.frames(lambda k, f, s, p: s == stream and (k == RST or (k in (DATA, HEADERS) and f & END_STREAM))
                           or k == GOAWAY)


def decode(block):
    from hpack import Decoder
    d = Decoder()
    d.max_header_list_size = 1 << 20
    d.max_allowed_table_size = 4096
    return {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
            for k, v in d.decode(block, raw=True)}


def status(frames, stream):
    for k, f, s, p in frames:
        if s == stream and k == HEADERS:
            return decode(p).get(":status", "?")
        if s == stream and k == RST:
            return "reset %d" % int.from_bytes(p[:4], "big")
        if k == GOAWAY:
            return "goaway %d" % int.from_bytes(p[4:8], "big")
    return "none"


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    if mode == "malformed":
        # Each malformed request is answered 400 on its stream; the connection lives.
        c = Conn(port)
        bad = [
            base() + literal(b"X-Upper", b"1"),
            base() + literal(b"connection", b"close"),
            base() + literal(b"host", b"other"),
            base(authority=b""),
            literal(b"x", b"1") + base(),
            literal(b":method", b"GET") + literal(b":path", b"/") + literal(b":authority", b"a"),
            base(path=b"/a\x02b"),
            base() + literal(b"x:y", b"1"),
            base() + literal(b"te", b"gzip"),
        ]
        out = []
        for i, block in enumerate(bad + [base(path=b"/v")]):
            sid = 2 * i + 1
            c.sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, sid, block))
            out.append(status(c.ended(sid), sid))
        print(" ".join(out))
    elif mode == "huffman":
        # Values Huffman-coded with a whole byte of padding, as nginx accepts them.
        c = Conn(port)
        block = b""
        for name, value in ((b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/v"),
                            (b":authority", b"localhost")):
            coded = huffman_padded(value)
            block += b"\x00" + bytes([len(name)]) + name + bytes([0x80 | len(coded)]) + coded
        c.sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
        print(status(c.ended(1), 1))
    elif mode == "trailers":
        c = Conn(port)
        c.sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, base(path=b"/trailer")))
        out = []
        for k, f, s, p in c.ended(1):
            if s != 1:
                continue
            line = "%s %d" % (NAMES.get(k, k), f)
            if k == HEADERS:
                fields = decode(p)
                line += " " + ",".join("%s=%s" % (n, fields[n]) for n in sorted(fields) if n.startswith("x-"))
            elif k == DATA:
                line += " " + p.decode()
            out.append(line.strip())
        print(" | ".join(out))
    elif mode == "chunk_size":
        c = Conn(port)
        c.sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, base(path=b"/chunk")))
        print(" ".join("%s:%d" % (p.decode(), f) for k, f, s, p in c.ended(1) if k == DATA))
    elif mode == "request_length":
        c = Conn(port)
        block = base(path=b"/rl")
        c.sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
        body = b"".join(p for k, f, s, p in c.ended(1) if k == DATA)
        print("%d %s" % (len(block), body.decode()))
    elif mode == "length_errors":
        # An index cut by the block's end: FRAME_SIZE_ERROR; one of 5 bytes: COMPRESSION_ERROR.
        # Then (h2_headers.t "too long index", "too long literal") a frame that announces
        # one byte more than comes, its integer not ended in 4 bytes: COMPRESSION_ERROR
        # before the frame is whole.
        out = []
        for payload, announced in ((b"\xff", 1), (b"\xff\xff\xff\xff\x7f", 5),
                                   (b"\xff\xff\xff\xff", 5), (b"\x42\xff\xff\xff\xff", 6)):
            c = Conn(port)
            whole = frame(HEADERS, END_HEADERS | END_STREAM, 1, payload)
            c.sock.sendall(struct.pack(">I", announced)[1:] + whole[3:])
            out.append(status(c.ended(1), 1))
        print(" ".join(out))
    elif mode == "push_promise":
        # Only the frame header: refused on it, the payload is never needed.
        c = Conn(port)
        c.sock.sendall(struct.pack(">I", 4)[1:] + bytes([PUSH_PROMISE, 0]) + struct.pack(">I", 1))
        print(status(c.frames(lambda k, f, s, p: k == GOAWAY), 1))
    elif mode == "header_timeout":
        # Half a HEADERS frame, then silence past client_header_timeout: the stream is reset
        # with PROTOCOL_ERROR; the rest comes late and the connection still answers a PING.
        c = Conn(port)
        whole = frame(HEADERS, END_HEADERS | END_STREAM, 1, base(path=b"/v"))
        c.sock.sendall(whole[:20])
        got = c.frames(lambda k, f, s, p: k in (RST, GOAWAY), wait=8)
        first = status(got, 1)
        # As nginx's h2.t: the rest comes well after the reset (the connection, past its
        # first stream, is idle under keepalive_timeout, not client_header_timeout).
        time.sleep(1.5)
        c.sock.sendall(whole[20:] + frame(PING, 0, 0, b"12345678"))
        pong = c.frames(lambda k, f, s, p: k == PING and f & ACK)
        late = [k for k, f, s, p in pong if s == 1 and k in (HEADERS, DATA)]
        print(first, "ping" if pong and pong[-1][0] == PING else "no-ping", "answered" if late else "ignored")
    elif mode == "settings_ack":
        # A body announced before our SETTINGS are acknowledged, on a small window.
        c = Conn(port, ack=False)
        c.sock.sendall(frame(HEADERS, END_HEADERS, 1, base(path=b"/v")))
        print(status(c.ended(1), 1))
    elif mode == "priority":
        # Two streams blocked by a zero window, weights given in HEADERS; both windows open
        # in one packet: the heavier stream's DATA goes first (nginx's order).
        w1, w3 = int(sys.argv[3]), int(sys.argv[4])
        c = Conn(port)
        c.sock.sendall(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0)))
        for sid, w in ((1, w1), (3, w3)):
            prio = struct.pack(">IB", 0, w - 1)
            c.sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM | 0x20, sid, prio + base(path=b"/v")))
        seen = []
        heads = c.frames(lambda k, f, s, p: (seen.append(k) if k == HEADERS else None)
                         or seen.count(HEADERS) == 2, wait=10)
        c.sock.sendall(frame(8, 0, 1, struct.pack(">I", 100)) + frame(8, 0, 3, struct.pack(">I", 100)))
        got = c.frames(lambda k, f, s, p: k == DATA and s == (3 if w1 > w3 else 1) and f & END_STREAM)
        print(" ".join(str(s) for k, f, s, p in got if k == DATA),
              "heads" if sum(1 for h in heads if h[0] == HEADERS) == 2 else "no-heads")
    elif mode == "self_dependency":
        c = Conn(port)
        c.sock.sendall(frame(2, 0, 1, struct.pack(">IB", 1, 15)))
        print(status(c.frames(lambda k, f, s, p: k == GOAWAY), 1))
    elif mode == "long_head":
        # A response head larger than a stream's pipe (64 KB): HEADERS and CONTINUATION
        # frames of at most 16384 bytes carry it whole.
        c = Conn(port)
        c.sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1,
                             base(path=b"/long") + b"\x00\x06x-long" + bytes([0x7f]) +
                             bytes([(7000 - 127) & 0x7f | 0x80, (7000 - 127) >> 7]) + b"x" * 7000))
        got = c.ended(1)
        block = b"".join(p for k, f, s, p in got if s == 1 and k in (HEADERS, 9))
        sizes = [len(p) for k, f, s, p in got if s == 1 and k in (HEADERS, 9)]
        fields = decode(block)
        body = b"".join(p for k, f, s, p in got if s == 1 and k == DATA)
        print(fields.get(":status"), sum(len(v) for n, v in fields.items() if n.startswith("x-")),
              max(sizes) <= 16384, body.decode())
    elif mode == "preface":
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"PRI * HTTP/2.0\r\n\r\n" + b"x" * 8)
        data = b""
        end = time.time() + 5
        while time.time() < end and b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        print(data.split(b"\r\n")[0].decode())
    else:
        print("unknown mode " + mode)


main()
