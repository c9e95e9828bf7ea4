#!/usr/bin/env python3
"""A TLS client for the tests, on Python's ssl module.

Connects, sends each --send line and reads its echo, then prints one `key=value` line per
fact: version, cipher, alpn, serial (of the server's certificate, in hex), echo (once per
line), and error (a failure at any step, after which the client stops).
"""
import argparse
import socket
import ssl
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--ca", help="trust this CA file (default: the system's)")
    p.add_argument("--cert", help="client certificate and key (one PEM file)")
    p.add_argument("--sni", default="localhost", help="server name to send and verify")
    p.add_argument("--tls", choices=["1.2", "1.3"], help="force this TLS version")
    p.add_argument("--alpn", action="append", help="offer this ALPN protocol")
    p.add_argument("--send", action="append", default=[], help="a line to send and read back")
    p.add_argument("--timeout", type=float, default=10.0)
    a = p.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if a.ca:
        ctx.load_verify_locations(a.ca)
    else:
        ctx.load_default_certs()
    if a.cert:
        ctx.load_cert_chain(a.cert)
    if a.tls:
        version = ssl.TLSVersion.TLSv1_2 if a.tls == "1.2" else ssl.TLSVersion.TLSv1_3
        ctx.minimum_version = ctx.maximum_version = version
    if a.alpn:
        ctx.set_alpn_protocols(a.alpn)

    try:
        sock = socket.create_connection((a.host, a.port), timeout=a.timeout)
        tls = ctx.wrap_socket(sock, server_hostname=a.sni)
        print(f"version={tls.version()}")
        print(f"cipher={tls.cipher()[0]}")
        print(f"alpn={tls.selected_alpn_protocol()}")
        print(f"serial={tls.getpeercert()['serialNumber'].lstrip('0')}")
        sys.stdout.flush()
        for line in a.send:
            tls.sendall(line.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = tls.recv(4096)
                if not chunk:
                    raise EOFError("the server closed the connection")
                buf += chunk
            print(f"echo={buf.decode().rstrip()}")
        tls.close()
    except Exception as e:  # report, never a traceback: the test reads stdout
        print(f"error={type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
