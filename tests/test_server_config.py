"""The server as `./dev app` starts it (.streamlit/config.toml): on this machine only, no DNS rebinding (issue 18)."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.3)
    yield port
    process.terminate()
    process.wait(timeout=30)


def _websocket_status(port: int, host: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(
        "GET",
        "/_stcore/stream",
        headers={
            "Host": host,
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    status = connection.getresponse().status
    connection.close()
    return status


def test_the_app_listens_on_this_machine_only(server):
    """The listening socket's address, from the kernel's table (/proc/net/tcp, hex, little-endian IPv4)."""
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.rsplit(":", 1)
            if state == "0A" and int(port, 16) == server:  # 0A: LISTEN
                listening.append(address)
    assert listening == ["0100007F"], listening  # 127.0.0.1 only, not 0.0.0.0 nor ::


def test_a_foreign_host_name_cannot_open_the_app(server):
    assert _websocket_status(server, f"127.0.0.1:{server}") == 101
    assert _websocket_status(server, f"localhost:{server}") == 101
    assert _websocket_status(server, "attacker.example") == 403


def test_no_full_garbage_collection_after_each_script_run():
    """Streamlit's default collects the whole heap after every script run, holding Python's lock; with each live
    panel rerunning every second, three cameras left the pages unanswered for minutes (bench/RESULTS.md, session 13)."""
    import tomllib

    from streamlit import config

    assert tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["runner"]["postScriptGC"] is False
    assert config.get_config_options()["runner.postScriptGC"] is not None  # the option still exists in this Streamlit
