"""The job status websocket at ``{runtime base}/stream/jobs/{id}`` (PROTOCOL.md §5.4, item 38)."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest
import websocket

from qcourier.plugins.emulator.server import EmulatorServer
from tests.emulator.wire import Api

OPCODE_TEXT, OPCODE_CLOSE = 0x1, 0x8


def stream_url(api: Api, job_id: str) -> str:
    return api.base.replace("http://", "ws://", 1) + f"/stream/jobs/{job_id}"


def connect(api: Api, job_id: str, **headers: str) -> websocket.WebSocket:
    merged = {**api.headers, **headers}
    return websocket.create_connection(
        stream_url(api, job_id), header=[f"{k}: {v}" for k, v in merged.items()], timeout=30
    )


def release(ws: websocket.WebSocket) -> None:
    """Close *ws* and its socket (close() alone skips the socket once a close was answered)."""
    ws.close()
    ws.shutdown()  # type: ignore[no-untyped-call]  # websocket-client leaves it untyped


def read_to_close(ws: websocket.WebSocket) -> tuple[list[dict[str, Any]], int]:
    """Read text frames until the server closes; return them and the close code."""
    frames: list[dict[str, Any]] = []
    while True:
        opcode, frame = ws.recv_data_frame(True)
        if opcode == OPCODE_CLOSE:
            return frames, struct.unpack("!H", frame.data[:2])[0]
        if opcode == OPCODE_TEXT:
            frames.append(json.loads(frame.data))


def test_stream_sends_ack_then_each_state_change_then_closes_1000(
    emulator: EmulatorServer, alice: Api
) -> None:
    emulator.faults.pause_execution()
    job_id = alice.submit()
    ws = connect(alice, job_id)
    try:
        ack = json.loads(ws.recv())
        assert ack == {"type": "ack", "job_id": job_id}
        first = json.loads(ws.recv())
        assert first["type"] == "job-status"
        assert first["data"]["status"] == "Queued"
        emulator.faults.slow_execution(0.2)
        emulator.faults.pause_execution(False)
        frames, code = read_to_close(ws)
    finally:
        release(ws)
    assert [f["data"]["status"] for f in frames] == ["Running", "Completed"]
    assert all(f["data"]["id"] == job_id for f in frames)
    assert set(frames[-1]["data"]) == {"id", "status", "reason", "reason_code"}
    assert code == 1000


def test_reconnect_after_the_end_gets_ack_final_frame_and_close(alice: Api) -> None:
    job_id = alice.submit()
    alice.wait(job_id)
    ws = connect(alice, job_id)
    try:
        frames, code = read_to_close(ws)
    finally:
        release(ws)
    assert frames[0] == {"type": "ack", "job_id": job_id}
    assert [f["data"]["status"] for f in frames[1:]] == ["Completed"]
    assert code == 1000


def test_failed_job_final_frame_carries_reason(alice: Api) -> None:
    wide = "OPENQASM 2.0; qreg q[6]; creg c[6]; measure q -> c;"
    job_id = alice.submit([wide], backend="fake_t5")
    alice.wait(job_id)
    ws = connect(alice, job_id)
    try:
        frames, _ = read_to_close(ws)
    finally:
        release(ws)
    final = frames[-1]["data"]
    assert final["status"] == "Failed"
    assert final["reason"]
    assert isinstance(final["reason_code"], int)


def test_bad_auth_is_refused_with_http_401_before_the_upgrade(alice: Api) -> None:
    job_id = alice.submit()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(alice, job_id, Authorization="Bearer forged.token.here")
    assert refused.value.status_code == 401


def test_unknown_job_is_refused_with_http_404_before_the_upgrade(alice: Api) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(alice, "abcdefghij0123456789")
    assert refused.value.status_code == 404


def test_another_keys_job_is_refused_with_http_404(alice: Api, bob: Api) -> None:
    job_id = alice.submit()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(bob, job_id)
    assert refused.value.status_code == 404


def test_stream_is_served_under_the_experimental_base_too(
    emulator: EmulatorServer, alice: Api
) -> None:
    job_id = alice.submit()
    alice.wait(job_id)
    url = emulator.url.replace("http://", "ws://") + f"/experimental/api/v1/stream/jobs/{job_id}"
    ws = websocket.create_connection(
        url, header=[f"{k}: {v}" for k, v in alice.headers.items()], timeout=30
    )
    try:
        frames, code = read_to_close(ws)
    finally:
        release(ws)
    assert frames[0]["type"] == "ack"
    assert code == 1000
