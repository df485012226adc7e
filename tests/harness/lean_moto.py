"""moto's server without per-request costs that are no part of what it emulates: imported by
`python -m harness.moto_server --lean` (which reports the ports), moto's own server and services
run unchanged, except

  * the request router's listing of moto's installed service packages (os.listdir and an isdir per
    package, twice per request: ~10% of moto's time under load) is read once: the packages do not
    change while the server runs;
  * werkzeug's access log line per request is not written;
  * a second endpoint in the same process (`serve_dynamodb`) serves DynamoDB's JSON API alone:
    each request goes straight to moto's DynamoDB handler (the call moto's in-process mock makes
    for a botocore request), over kept-alive connections. moto's server closes every connection
    after one response (werkzeug does, since 2.1) and routes each request through Flask and its
    service dispatcher, ~1-2 ms of a ~6 ms UpdateItem. Same process, same backend: the tables are
    the ones the main endpoint serves. Its requests are answered one at a time: moto checks a
    condition and then writes, with nothing in between to stop another thread's write (two
    concurrent `attribute_not_exists` claims can both succeed), where DynamoDB applies a
    conditional write atomically. Concurrent delivery (harness.delivery) needs this endpoint.

The benchmark starts moto this way (LocalAws(lean_moto=True)): its DynamoDB requests keep moto the
busiest process of a burst."""

from __future__ import annotations

import logging
import threading

import moto.backends as backends

from harness.loopback import LoopbackHandler, LoopbackServer

_MODULES = tuple(backends.list_of_moto_modules())


def _modules():
    return _MODULES


backends.list_of_moto_modules = _modules
logging.getLogger("werkzeug").setLevel(logging.WARNING)


class _Request:
    """What moto's handlers read of a request (a botocore AWSPreparedRequest's members)."""

    def __init__(self, method: str, url: str, headers: dict, body: bytes):
        self.method, self.url, self.headers, self.body = method, url, headers, body


def serve_dynamodb(host: str, port: int = 0) -> LoopbackServer:
    """The DynamoDB endpoint: POST / with X-Amz-Target DynamoDB_20120810.*, answered by moto (port 0:
    one the operating system picks; the server's `port` says which)."""
    from botocore.exceptions import ClientError
    from moto.dynamodb.responses import DynamoHandler

    atomic = threading.Lock()

    class Handler(LoopbackHandler):
        def do_POST(self):
            body = self.read_body()
            headers = dict(self.headers.items())
            url = f"http://{headers.get('Host', '%s:%d' % self.server.server_address[:2])}{self.path}"
            try:
                with atomic:  # one request at a time: each conditional write atomic, as in DynamoDB
                    status, reply_headers, content = DynamoHandler.dispatch(_Request("POST", url, headers, body), url, headers)
            except ClientError as error:  # as moto's Flask adapter answers one
                status, reply_headers, content = 400, {}, error.response["Error"]["Message"]
            if isinstance(content, str):
                content = content.encode()
            reply_headers = {k: str(v) for k, v in (reply_headers or {}).items()
                             if k.lower() not in ("content-length", "content-type", "status")}
            content_type = next((str(v) for k, v in (reply_headers or {}).items() if k.lower() == "content-type"),
                                "application/x-amz-json-1.0")
            self.send(int(status), content, content_type, headers=reply_headers)

    return LoopbackServer(Handler, host, port).serve_in_background()

