"""A small SCGI application server on Python's standard library, for Portico's tests.

It speaks SCGI 1 as the specification (python.ca/scgi/protocol.txt) says: a netstring
of NUL-separated header pairs, CONTENT_LENGTH first and SCGI=1 among them, then the body
of that length; the answer is CGI header lines (or an HTTP status line) and the body,
and the connection closes. By the end of the path:

  /status      Status: 404 Not Found
  /http        an HTTP status line instead of Status:
  /redirect    Location: alone (302)
  /big?n=N     N lines of ten bytes
  /broken      half a head, then the close
  /slowhead    half a head, a pause, then the rest and a body
  (other)      the request body back, with some parameters as X-Param-* lines

Usage: scgi_app.py tcp PORT | unix PATH
"""

import os
import socketserver
import sys
import time


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        digits = b""
        while True:
            c = self.rfile.read(1)
            if c == b":":
                break
            if not c or not c.isdigit() or len(digits) > 10:
                return
            digits += c
        block = self.rfile.read(int(digits))
        if self.rfile.read(1) != b",":
            return
        items = block.split(b"\0")
        if items[-1] != b"" or len(items) % 2 != 1:
            return
        pairs = list(zip(items[0:-1:2], items[1:-1:2]))
        env = dict(pairs)
        if pairs[0][0] != b"CONTENT_LENGTH" or env.get(b"SCGI") != b"1":
            self.wfile.write(b"Status: 500 Bad SCGI\r\n\r\nbad request\n")
            return
        body = self.rfile.read(int(env[b"CONTENT_LENGTH"]))
        uri = env.get(b"REQUEST_URI", b"/").decode()
        path, _, query = uri.partition("?")
        out = self.wfile
        if path.endswith("/status"):
            out.write(b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnot here\n")
        elif path.endswith("/http"):
            out.write(b"HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\n\r\nmade\n")
        elif path.endswith("/redirect"):
            out.write(b"Location: /next\r\n\r\n")
        elif path.endswith("/big"):
            n = int(query.partition("=")[2] or "0")
            out.write(b"Content-Type: text/plain\r\n\r\n")
            for i in range(n):
                out.write(b"%09d\n" % i)
        elif path.endswith("/broken"):
            out.write(b"Content-Type: text/pl")
        elif path.endswith("/slowhead"):
            out.write(b"Status: 200 OK\r\nContent-Type: text/pl")
            time.sleep(0.3)
            out.write(b"ain\r\nContent-Length: 5\r\n\r\nslow\n")
        else:
            head = b"Content-Type: application/octet-stream\r\n"
            for k, v in pairs:
                if k in (b"REQUEST_METHOD", b"CONTENT_LENGTH", b"QUERY_STRING", b"HTTP_X_CLIENT"):
                    head += b"X-Param-" + k.replace(b"_", b"-") + b": " + v + b"\r\n"
            out.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)


class Tcp(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class Unix(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def main():
    kind, where = sys.argv[1], sys.argv[2]
    if kind == "tcp":
        server = Tcp(("127.0.0.1", int(where)), Handler)
    else:
        if os.path.exists(where):
            os.unlink(where)
        server = Unix(where, Handler)
        os.chmod(where, 0o666)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
