"""CloudFormation's side of a custom resource: the presigned response URL a function answers to."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextlib.contextmanager
def response_url():
    """A local HTTP server standing in for the presigned S3 URL of a custom resource request, keeping
    every answer PUT to it. Yields (its URL, the answers so far, in order)."""
    answers: list[dict] = []

    class ResponseUrl(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_PUT(self):
            answers.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), ResponseUrl)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/presigned", answers
    finally:
        server.shutdown()
