#!/usr/bin/env python3
"""A Tornado hello-world app for `make demo` and Portico's proxy tests.

    python3 examples/hello.py PORT [NAME]

Routes: `/` hello (names the process), `/echo` (POST: the body back; streams request bodies),
`/headers` (the request's headers as JSON), `/stream?n=N` (N chunks, flushed one by one),
`/big?size=N` (N bytes), `/slow?s=SECONDS`, `/redirect`, `/relative`, `/status?code=N`, `/ws` (WebSocket
echo) and `/stats` (connections accepted so far: proves keep-alive reuse).
"""
import asyncio
import json
import sys

import tornado.httpserver
import tornado.ioloop
import tornado.web
import tornado.websocket

NAME = sys.argv[2] if len(sys.argv) > 2 else "hello"
CONNECTIONS = 0


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write(f"Hello, world from {NAME}\n")


@tornado.web.stream_request_body
class Echo(tornado.web.RequestHandler):
    def prepare(self):
        self.chunks = []

    def data_received(self, chunk):
        self.chunks.append(chunk)

    def post(self):
        self.set_header("Content-Type", "application/octet-stream")
        self.write(b"".join(self.chunks))

    put = post


class Headers(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "application/json")
        self.set_header("X-Upstream-Name", NAME)
        self.write(json.dumps({k: v for k, v in self.request.headers.get_all()} | {
            "_uri": self.request.uri, "_version": self.request.version}))


class Stream(tornado.web.RequestHandler):
    async def get(self):
        n = int(self.get_argument("n", "5"))
        for i in range(n):
            self.write(f"chunk {i}\n")
            await self.flush()
            await asyncio.sleep(0.05)


class Big(tornado.web.RequestHandler):
    def get(self):
        size = int(self.get_argument("size", "1048576"))
        block = bytes(range(256)) * 64
        while size > 0:
            part = block[: min(size, len(block))]
            self.write(part)
            size -= len(part)


class Slow(tornado.web.RequestHandler):
    async def get(self):
        await asyncio.sleep(float(self.get_argument("s", "2")))
        self.write("slow\n")


class Redirect(tornado.web.RequestHandler):
    def get(self):
        self.redirect(f"http://{self.request.host}/next")


class Relative(tornado.web.RequestHandler):
    def get(self):
        self.redirect("/next")


class Status(tornado.web.RequestHandler):
    def get(self):
        self.set_status(int(self.get_argument("code", "200")))
        self.write(f"status from {NAME}\n")


class Stats(tornado.web.RequestHandler):
    def get(self):
        self.write(json.dumps({"connections": CONNECTIONS, "name": NAME}))


class Ws(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        self.write_message(message, binary=isinstance(message, bytes))


class CountingServer(tornado.httpserver.HTTPServer):
    def handle_stream(self, stream, address):
        global CONNECTIONS
        CONNECTIONS += 1
        return super().handle_stream(stream, address)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8888
    app = tornado.web.Application([
        (r"/", Hello), (r"/echo", Echo), (r"/headers", Headers), (r"/stream", Stream),
        (r"/big", Big), (r"/slow", Slow), (r"/redirect", Redirect), (r"/relative", Relative),
        (r"/status", Status),
        (r"/stats", Stats), (r"/ws", Ws),
    ])
    server = CountingServer(app, max_body_size=64 * 1024 * 1024)
    server.listen(port, address="127.0.0.1")
    print(f"{NAME} listening on 127.0.0.1:{port}", flush=True)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
