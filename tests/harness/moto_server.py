"""moto's server on a port the operating system picks, reported once it listens: `python -m
harness.moto_server [--lean]` (run with tests/ as the working directory) binds moto's own
application (what `moto_server` serves: moto.server.main's DomainDispatcherApplication, threaded) to
127.0.0.1, port 0, and prints "READY <port>" on stdout when the socket is bound; it answers from then
on. No port is chosen beforehand and then reused (another process could take it in between), and
nothing polls for readiness: the harness reads that one line (harness.processes.start_server).

With --lean it runs as harness.lean_moto describes (moto without per-request costs that emulate
nothing) and also serves DynamoDB alone on a second port: "READY <port> <dynamodb port>".
"""

from __future__ import annotations

import argparse
import os

from harness.loopback import report_ready

HOST = "127.0.0.1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lean", action="store_true", help="harness.lean_moto, and a DynamoDB-only endpoint")
    args = parser.parse_args()
    ports = []
    dynamodb = None
    if args.lean:
        from harness import lean_moto  # its patches apply on import, before moto's app is made

        dynamodb = lean_moto.serve_dynamodb(HOST, 0)
    from harness import moto_events  # noqa: F401 (EventBridge's targets get the whole event, as in AWS)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto's own main has it
    server = make_server(HOST, 0, app, threaded=True)
    ports.append(server.server_address[1])
    if dynamodb is not None:
        ports.append(dynamodb.port)
    # What moto's own main sets (the port moto tells functions it emulates, e.g. Lambda's): the real one.
    os.environ["MOTO_PORT"] = str(ports[0])
    report_ready(*ports)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
