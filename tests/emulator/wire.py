"""A bare-bones client of the emulator's wire protocol, made of plain ``requests`` calls.

Tests use it instead of qcourier's client so that they pin what travels on the wire.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests

from qcourier.plugins.emulator.server import EmulatorServer

FINAL = ("Completed", "Failed", "Cancelled")
BELL_QASM = (
    'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; creg c[2];'
    " h q[0]; cx q[0], q[1]; measure q -> c;"
)
APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float = 30.0, what: str = "it") -> T:
    """Call *probe* until it returns a value other than ``None``, or fail after *timeout*."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        # Polling a real server: a short pause between probes, bounded by the deadline.
        time.sleep(0.02)


def fetch_token(server: EmulatorServer, api_key: str) -> dict[str, Any]:
    """Exchange *api_key* at the emulator's IAM endpoint; returns the reply JSON."""
    reply = requests.post(
        f"{server.url}/identity/token",
        data={"grant_type": APIKEY_GRANT, "apikey": api_key, "response_type": "cloud_iam"},
        headers={"Accept": "application/json"},
        timeout=10,
    )
    reply.raise_for_status()
    body: dict[str, Any] = reply.json()
    return body


class Api:
    """Runtime API calls with one key's bearer token and instance."""

    def __init__(self, server: EmulatorServer, api_key: str) -> None:
        self.server = server
        self.base = server.runtime_url
        self.session = requests.Session()
        token = fetch_token(server, api_key)["access_token"]
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Service-CRN": server.instance_for(api_key),
            "IBM-API-Version": "2026-04-15",
        }

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send *method* to ``{runtime base}{path}`` with this key's headers."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.session.request(
            method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def submit(
        self,
        circuits: list[Any] | None = None,
        *,
        shots: int = 20,
        backend: str = "aer_simulator",
        program: str = "circuit-runner",
        params: dict[str, Any] | None = None,
        **top: Any,
    ) -> str:
        """Submit a job (a Bell pair by default) and return its id."""
        if params is None:
            params = {"circuits": circuits or [BELL_QASM], "shots": shots}
        body = {"program_id": program, "backend": backend, "params": params, **top}
        reply = self.request("POST", "/jobs", data=json.dumps(body))
        assert reply.status_code == 200, reply.text
        job_id: str = reply.json()["id"]
        return job_id

    def job(self, job_id: str) -> dict[str, Any]:
        reply = self.get(f"/jobs/{job_id}", params={"exclude_params": "true"})
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body

    def wait(self, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll until *job_id* is final; return its document."""

        def final() -> dict[str, Any] | None:
            doc = self.job(job_id)
            return doc if doc["status"] in FINAL else None

        return eventually(final, timeout, f"job {job_id} to finish")
