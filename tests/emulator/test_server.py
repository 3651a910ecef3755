"""Starting and stopping the emulator, embedded and standalone."""

from __future__ import annotations

import argparse
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from qcourier.plugins.emulator import cli
from qcourier.plugins.emulator.server import EmulatorServer, EmulatorStartError, default_db_path
from tests.emulator.process import EmulatorProcess
from tests.emulator.wire import Api

OUR_THREADS = ("qcourier-emulator", "AnyIO worker")


def our_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(OUR_THREADS)]


def test_start_is_fast_and_the_first_backend_list_too(tmp_path: Path) -> None:
    server = EmulatorServer(tmp_path / "db.sqlite3", api_keys=("k",), workers=1)
    started = time.monotonic()
    server.start()
    try:
        up = time.monotonic() - started
        with Api(server, "k") as api:
            assert api.get("/backends").status_code == 200
        listed = time.monotonic() - started
    finally:
        server.stop()
    assert up < 1.0
    assert listed < 2.0


def test_stop_leaves_no_threads_and_closes_the_port(tmp_path: Path) -> None:
    before = our_threads()
    with (
        EmulatorServer(tmp_path / "db.sqlite3", api_keys=("k",), workers=2) as server,
        Api(server, "k") as api,
    ):
        api.wait(api.submit())
        port = int(server.url.rsplit(":", 1)[1])
        assert our_threads()
    assert our_threads() == before
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/api/v1/backends", timeout=5)


def test_stop_with_an_open_stream_is_prompt(tmp_path: Path) -> None:
    import websocket

    server = EmulatorServer(tmp_path / "db.sqlite3", api_keys=("k",), workers=1)
    server.start()
    with Api(server, "k") as api:
        server.faults.pause_execution()
        job_id = api.submit()
        ws = websocket.create_connection(
            api.base.replace("http", "ws", 1) + f"/stream/jobs/{job_id}",
            header=[f"{k}: {v}" for k, v in api.headers.items()],
            timeout=30,
        )
        try:
            ws.recv()
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 5
        finally:
            ws.close()
            ws.shutdown()  # type: ignore[no-untyped-call]  # websocket-client: untyped


def test_port_in_use_raises_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmulatorServer(tmp_path / "db.sqlite3", port=port, api_keys=("k",))
        with pytest.raises(EmulatorStartError, match=f"cannot listen on 127.0.0.1:{port}"):
            server.start()


def test_urls_and_instances(emulator: EmulatorServer) -> None:
    assert emulator.url.startswith("http://127.0.0.1:")
    assert emulator.runtime_url == f"{emulator.url}/api/v1"
    assert emulator.instance_for(emulator.api_keys[0]).startswith("crn:v1:")
    with pytest.raises(KeyError):
        emulator.instance_for("not-a-key")


def test_repr_shows_no_key(emulator: EmulatorServer) -> None:
    assert all(key not in repr(emulator) for key in emulator.api_keys)


def test_a_single_string_of_keys_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="sequence"):
        EmulatorServer(tmp_path / "db.sqlite3", api_keys="k")


def test_serve_registers_with_its_options() -> None:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(
        ["serve", "--port", "8123", "--api-key", "a", "--api-key", "b", "--token-ttl", "60"]
    )
    assert args.handler is cli.serve
    assert (args.port, args.api_keys, args.token_ttl) == (8123, ["a", "b"], 60.0)
    assert args.host == "127.0.0.1"
    assert default_db_path().name == "emulator.sqlite3"


def test_standalone_server_prints_connect_lines_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = EmulatorProcess(tmp_path / "db.sqlite3", "--api-key", "k1", "--api-key", "k2")
    banner = "\n".join(process.banner)
    try:
        assert process.ready_after < 3.0
        assert f"listening on {process.url}" in banner
        assert "API key: k1" in banner
        assert "API key: k2" in banner
        assert (
            f'qcourier.connect(channel="ibm_quantum_platform", base_url="{process.url}/api/v1"'
            in banner
        )
        for name in ("BASE_URL", "IAM_URL", "API_KEY", "INSTANCE"):
            assert f"QCOURIER_{name}=" in banner
        reply = requests.get(f"{process.url}/api/v1/backends", timeout=10)
        assert reply.status_code == 401
    finally:
        code, rest = process.terminate()
    assert code == 0
    assert "stopped" in rest
