#!/usr/bin/env python3
"""The Tornado backend of the `tornado` scenario: hello world on 127.0.0.1:PORT.

The typical application Portico is meant to sit in front of (as nginx does in Tornado's own
deployment docs): one single-threaded Python process, so it is usually the bottleneck and
the scenario measures the proxy's overhead on top of a real, slow backend.
"""

import argparse

import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web


class Hello(tornado.web.RequestHandler):
    def get(self, _path=""):
        self.set_header("Content-Type", "text/plain")
        self.write("Hello, world\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=8888)
    p.add_argument("--backlog", type=int, default=4096)
    args = p.parse_args()
    app = tornado.web.Application([(r"/(.*)", Hello)])
    server = tornado.httpserver.HTTPServer(app, xheaders=True)
    server.add_sockets(tornado.netutil.bind_sockets(args.port, "127.0.0.1",
                                                    backlog=args.backlog))
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
