"""Tornado's HTTPServer hello world, the anchor for the HTTP benchmark.

Prints `listening on ADDR` on stderr. Usage: http_server.py PORT
"""
import asyncio
import sys

from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPHeaders, ResponseStartLine
from tornado.netutil import bind_sockets


def handle(request):
    body = b"Hello, world"
    headers = HTTPHeaders({"Content-Type": "text/plain", "Content-Length": str(len(body))})
    request.connection.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), headers, body)
    request.connection.finish()


async def main():
    sockets = bind_sockets(int(sys.argv[1]), "127.0.0.1")
    server = HTTPServer(handle)
    server.add_sockets(sockets)
    for s in sockets:
        host, port = s.getsockname()[:2]
        print(f"listening on {host}:{port}", file=sys.stderr, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
