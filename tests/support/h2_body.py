"""Raw-frame checks of HTTP/2 request bodies as nginx 1.25 treats them, for tests/http2_body.rs.

usage: h2_body.py PORT UPSTREAM_PORT MODE; prints one line that the test compares. MODEs
that need an upstream listen on UPSTREAM_PORT themselves (127.0.0.1). Every socket has a
timeout and every loop is bounded.
"""
import socket
import struct
import sys
import time

from hpack import Decoder

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, END_HEADERS, ACK = 1, 4, 1


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(name, value):
    """A literal field without indexing, new name, no Huffman."""
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def request(path, length=None, method=b"POST"):
    b = literal(b":method", method) + literal(b":scheme", b"http") + \
        literal(b":path", path) + literal(b":authority", b"localhost")
    if length is not None:
        b += literal(b"content-length", str(length).encode())
    return b


class Conn:
    def __init__(self, port, settings=b""):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0, settings) + frame(SETTINGS, ACK, 0))
        self.buf = b""
        self.dec = Decoder()

    def frames(self, until, wait=20):
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
                if f[0] == HEADERS:
                    # One decoder for the connection: its table follows every block.
                    f = (f[0], f[1], f[2], dict((k.decode(), v.decode())
                                                for k, v in self.dec.decode(f[3], raw=True)))
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

    def answer(self, stream):
        """The stream's status (or how it ended) and body, once it ended."""
        got = self.frames(lambda k, f, s, p: s == stream and (k == RST or (k in (DATA, HEADERS) and f & END_STREAM))
                          or k == GOAWAY)
        status, body = "none", b""
        for k, f, s, p in got:
            if s == stream and k == HEADERS and ":status" in p:
                status = p[":status"]
            elif s == stream and k == DATA:
                body += p
            elif s == stream and k == RST and status == "none":
                status = "reset %d" % int.from_bytes(p[:4], "big")
            elif k == GOAWAY:
                status = "goaway"
        return status, body.decode(errors="replace")


def upstream_listen(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(8)
    ls.settimeout(20)
    return ls


def read_some(sock, want, wait=20):
    """Reads until `want(bytes so far)` or the peer closes or the wait: (bytes, closed)."""
    data = b""
    end = time.time() + wait
    while time.time() < end and not want(data):
        sock.settimeout(max(0.05, end - time.time()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def main():
    port, up, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    if mode == "buffered":
        # A body shorter, then longer, than its content-length (nginx 1.25: 400 on the
        # stream, "client prematurely closed stream" / "larger than declared"), then one
        # that ends in trailers before its length: the same. The connection lives on.
        c = Conn(port)
        c.sock.sendall(frame(HEADERS, END_HEADERS, 1, request(b"/store", 5)) +
                       frame(DATA, END_STREAM, 1, b"TEST"))
        a = c.answer(1)[0]
        c.sock.sendall(frame(HEADERS, END_HEADERS, 3, request(b"/store", 3)) +
                       frame(DATA, END_STREAM, 3, b"TEST"))
        b = c.answer(3)[0]
        c.sock.sendall(frame(HEADERS, END_HEADERS, 5, request(b"/store", 5)) +
                       frame(DATA, 0, 5, b"abc") +
                       frame(HEADERS, END_HEADERS | END_STREAM, 5, literal(b"x-sum", b"1")))
        t = c.answer(5)[0]
        c.sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 7, request(b"/ok", method=b"GET")))
        print(a, b, t, *c.answer(7))
    elif mode in ("more", "less", "exact"):
        # `proxy_request_buffering off`: the upstream gets the body as it comes. Past the
        # declared length (or short of it at the stream's end) the frame is not sent on,
        # the upstream request is cut and the stream is answered 400. A body of the right
        # length is complete only at END_STREAM.
        ls = upstream_listen(up)
        c = Conn(port)
        c.sock.sendall(frame(HEADERS, END_HEADERS, 1, request(b"/stream", 10)))
        u, _ = ls.accept()
        head, _ = read_some(u, lambda d: b"\r\n\r\n" in d)
        got = head[head.index(b"\r\n\r\n") + 4:] if b"\r\n\r\n" in head else b""
        first = b"0123456789" if mode != "less" else b"0123"
        c.sock.sendall(frame(DATA, 0, 1, first))
        more, _ = read_some(u, lambda d: len(got) + len(d) >= len(first))
        got += more
        last = {"more": b"many", "less": b"56789", "exact": b""}[mode]
        c.sock.sendall(frame(DATA, END_STREAM, 1, last))
        if mode == "exact":
            u.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            rest, closed = b"", "answered"
        else:
            rest, closed = read_some(u, lambda d: False, wait=20)
            closed = "cut" if closed else "open"
        status, text = c.answer(1)
        print(got.decode(), rest.decode() or "-", closed, status, text if status == "200" else "")
        u.close()
        ls.close()
    elif mode == "window":
        # A body the request stores whole (`proxy_request_buffering on`): its window opens
        # wide at once (nginx's no_flow_control), before any byte was sent.
        ls = upstream_listen(up)
        c = Conn(port)
        size = 5 * 65536
        c.sock.sendall(frame(HEADERS, END_HEADERS, 1, request(b"/store", size)))
        got = c.frames(lambda k, f, s, p: k == WINDOW_UPDATE and s == 1)
        inc = [int.from_bytes(p[:4], "big") for k, f, s, p in got if k == WINDOW_UPDATE and s == 1]
        # Then the body goes in frames of 16384 without waiting for any other update.
        chunk = b"x" * 16384
        for i in range(size // len(chunk)):
            c.sock.sendall(frame(DATA, END_STREAM if i == size // len(chunk) - 1 else 0, 1, chunk))
        u, _ = ls.accept()
        req, _ = read_some(u, lambda d: b"\r\n\r\n" in d and len(d) - d.index(b"\r\n\r\n") - 4 >= size)
        u.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        status, text = c.answer(1)
        print("wide" if inc and inc[0] >= 65536 else "narrow %s" % inc,
              len(req) - req.index(b"\r\n\r\n") - 4 if b"\r\n\r\n" in req else -1, status, text)
        u.close()
        ls.close()
    elif mode == "limit_conn":
        # limit_conn 1: a stream holds its slot until it closes (its response framed
        # whole), not once its response is in its pipe (h2_limit_conn.t).
        c = Conn(port, settings=struct.pack(">HI", 4, 1))
        c.sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, request(b"/lc", method=b"GET")))
        first = c.frames(lambda k, f, s, p: k == DATA and s == 1)
        a = [p[":status"] for k, f, s, p in first if k == HEADERS and s == 1]
        c.sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 3, request(b"/lc", method=b"GET")))
        # Its head only: its page cannot end through a window of one byte.
        second = c.frames(lambda k, f, s, p: k == HEADERS and s == 3)
        b = [p[":status"] for k, f, s, p in second if k == HEADERS and s == 3]
        b = b[0] if b else "none"
        # The window opens: stream 1 ends, and its slot is free again.
        c.sock.sendall(frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 65536)))
        c.frames(lambda k, f, s, p: k == DATA and s == 1 and f & END_STREAM)
        c.sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 5, request(b"/lc", method=b"GET")))
        print(a[0] if a else "none", b, *c.answer(5))
    else:
        print("unknown mode " + mode)


main()
