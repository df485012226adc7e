"""moto's server (`moto_server`) without per-request costs that are no part of what it emulates:
`python -m harness.lean_moto [--dynamodb-port P] -H HOST -p PORT` runs moto's own server and
services unchanged, except

  * the request router's listing of moto's installed service packages (os.listdir and an isdir per
    package, twice per request: ~10% of moto's time under load) is read once: the packages do not
    change while the server runs;
  * werkzeug's access log line per request is not written;
  * with --dynamodb-port, a second endpoint in the same process serves DynamoDB's JSON API alone:
    each request goes straight to moto's DynamoDB handler (the call moto's in-process mock makes
    for a botocore request), over kept-alive connections. moto's server closes every connection
    after one response (werkzeug does, since 2.1) and routes each request through Flask and its
    service dispatcher, ~1-2 ms of a ~6 ms UpdateItem. Same process, same backend: the tables are
    the ones the main endpoint serves. Its requests are answered one at a time: moto checks a
    condition and then writes, with nothing in between to stop another thread's write (two
    concurrent `attribute_not_exists` claims can both succeed), where DynamoDB applies a
    conditional write atomically. Concurrent delivery (harness.delivery) needs this endpoint.

The benchmark starts moto this way (LocalAws(lean_moto=True)): its DynamoDB requests keep moto the
busiest process of a burst. Run with tests/ as the working directory (the harness package)."""

from __future__ import annotations

import logging
import sys
import threading

import moto.backends as backends
from moto.server import main

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


def serve_dynamodb(host: str, port: int) -> LoopbackServer:
    """The DynamoDB endpoint: POST / with X-Amz-Target DynamoDB_20120810.*, answered by moto."""
    from botocore.exceptions import ClientError
    from moto.dynamodb.responses import DynamoHandler

    atomic = threading.Lock()

    class Handler(LoopbackHandler):
        def do_POST(self):
            body = self.read_body()
            headers = dict(self.headers.items())
            url = f"http://{headers.get('Host', f'{host}:{port}')}{self.path}"
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


if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--dynamodb-port" in argv:
        at = argv.index("--dynamodb-port")
        dynamodb_port = int(argv[at + 1])
        del argv[at:at + 2]
        host = argv[argv.index("-H") + 1] if "-H" in argv else "127.0.0.1"
        serve_dynamodb(host, dynamodb_port)
    sys.argv = ["moto_server", *argv]
    sys.exit(main())
