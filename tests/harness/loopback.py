"""The base of every local HTTP server of the stack: the Lambda Runtime API, the DynamoDB fault
proxy and the AWS Backup stand-in. Loopback only, threaded, HTTP/1.1 keep-alive, no request log."""

from __future__ import annotations

import http.client
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer(ThreadingHTTPServer):
    """A threaded HTTP server. A client that drops its connection (a stopped function's long poll)
    is not an error worth a traceback."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.port}"

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)

    def serve_in_background(self) -> "LoopbackServer":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class LoopbackHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status: int, body: bytes, content_type: str = "application/json", headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


class Connections:
    """One kept-alive HTTP connection per thread to `url` (a new connection per request would cost
    more than the stand-ins' own work)."""

    def __init__(self, url: str, timeout: float = 600):
        self.host = url.removeprefix("http://")
        self.timeout = timeout
        self.local = threading.local()

    def request(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, bytes, list]:
        for attempt in (1, 2):
            connection = getattr(self.local, "connection", None)
            if connection is None:
                connection = self.local.connection = http.client.HTTPConnection(self.host, timeout=self.timeout)
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.read(), response.getheaders()
            except (http.client.HTTPException, OSError):
                connection.close()
                self.local.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def report_ready(*ports: int) -> None:
    """The handshake of a server process (harness.processes.start_server): "READY <port>..." on
    stdout once it listens. Then stdout goes to stderr (the process's log): the READY line's pipe is
    read no further, and output left in it would block the process once the pipe is full."""
    print("READY", *ports, flush=True)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
