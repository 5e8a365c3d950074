"""The WSGI application uWSGI serves in Portico's tests. By the end of the path:

  /status      404 Not Found
  /big?n=N     N lines of ten bytes, in one piece per line
  (other)      the request body back, with some of the environment as X-Env-* lines
"""


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.endswith("/status"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not here\n"]
    if path.endswith("/big"):
        n = int(environ.get("QUERY_STRING", "n=0").partition("=")[2] or "0")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"%09d\n" % i for i in range(n))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    headers = [("Content-Type", "application/octet-stream")]
    for key in ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_LENGTH", "HTTP_X_CLIENT"):
        headers.append(("X-Env-" + key.replace("_", "-"), environ.get(key, "")))
    headers.append(("Content-Length", str(len(body))))
    start_response("200 OK", headers)
    return [body]
