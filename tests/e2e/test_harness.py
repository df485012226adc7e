"""The harness's own promises: how it starts its servers, and the facts it shares with the Rust
code (checked against the Rust source, not copied from it)."""

import sys

import pytest

from harness.processes import start_server


def test_a_server_reports_the_port_it_listens_on_or_fails_to_start():
    process, (port,) = start_server([sys.executable, "-c", "print('READY 4711', flush=True)"], "a stub")
    process.wait()
    assert port == 4711
    with pytest.raises(RuntimeError, match="a stub failed to start: 'Traceback"):
        start_server([sys.executable, "-c", "raise SystemExit(__import__('sys').stdout.write('Traceback ...'))"], "a stub")
