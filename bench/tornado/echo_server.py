"""Tornado's TCPServer echo (the seed's EchoServer), the anchor the project is compared with.

Prints `listening on ADDR` on stderr like the project's servers. Usage: echo_server.py PORT
"""
import asyncio
import sys

from tornado.iostream import StreamClosedError
from tornado.netutil import bind_sockets
from tornado.tcpserver import TCPServer


class EchoServer(TCPServer):
    async def handle_stream(self, stream, address):
        while True:
            try:
                data = await stream.read_until(b"\n")
                await stream.write(data)
            except StreamClosedError:
                break


async def main():
    sockets = bind_sockets(int(sys.argv[1]), "127.0.0.1")
    server = EchoServer()
    server.add_sockets(sockets)
    for s in sockets:
        host, port = s.getsockname()[:2]
        print(f"listening on {host}:{port}", file=sys.stderr, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
