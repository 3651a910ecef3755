"""The API key and the bearer tokens stay secret: no log, repr, error text or CLI output has them.

Every token the emulator mints during a test is recorded, so tokens fetched by connections the
test never sees (the CLI's) are looked for too, and so is each token's signature alone, which
a truncated token would still show.
"""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qcourier import IBMAuthError, IBMJobApiError, Service
from qcourier.cli import main
from qcourier.messages import Request
from qcourier.plugins.emulator.server import EmulatorServer
from qcourier.plugins.emulator.tokens import TokenAuthority
from tests.plugins.conftest import ALICE
from tests.reliability.conftest import Scenario

Connect = Callable[..., Service]


@pytest.fixture
def minted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every bearer token the emulator's IAM issues during the test."""
    tokens: list[str] = []
    mint = TokenAuthority.mint

    def recording(self: TokenAuthority, *args: Any, **kwargs: Any) -> tuple[str, int, int]:
        issued = mint(self, *args, **kwargs)
        tokens.append(issued[0])
        return issued

    monkeypatch.setattr(TokenAuthority, "mint", recording)
    return tokens


def leaks(text: str, tokens: list[str]) -> list[str]:
    """The secrets in *text*: the API key, a token, or a token's signature."""
    needles = {ALICE: "the API key"}
    for token in tokens:
        needles[token] = "a bearer token"
        needles[token.rsplit(".", 1)[1]] = "a bearer token's signature"
    return sorted({what for needle, what in needles.items() if needle in text})


def described(error: BaseException) -> str:
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error))])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_plugin_tracing_at_debug_never_logs_the_key_or_a_token(
    connect: Connect,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    minted: list[str],
    scenario: Scenario,
) -> None:
    monkeypatch.setenv("QCOURIER_TRACE_PLUGINS", "1")
    caplog.set_level(logging.DEBUG)
    service = connect()
    scenario.verify(scenario.submit(service.backend(), shots=20, seed=8))
    assert any(record.name == "qcourier.trace" for record in caplog.records)
    assert minted
    assert leaks(caplog.text, minted) == []


def test_no_log_repr_error_or_cli_output_shows_the_key_or_a_token(
    connect: Connect,
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    minted: list[str],
    scenario: Scenario,
) -> None:
    caplog.set_level(logging.DEBUG)
    service = connect()
    backend = service.backend()
    job = scenario.submit(backend, shots=20, seed=9)
    scenario.verify(job)
    authenticated = Request("GET", emulator.runtime_url).with_headers(
        service.host.auth_headers(Request("GET", emulator.runtime_url))
    )
    bearer = connect(token=minted[0], auth="bearer")
    seen = [
        repr(item)
        for item in (
            service,
            service.host,
            service.options,
            service.host.endpoint,
            service.host.api,
            backend,
            job,
            authenticated,
            bearer,
            bearer.host,
            bearer.options,
        )
    ]

    # Auth failures: the token expires and the key is revoked, so the refresh is refused too;
    # the static bearer token cannot be refreshed at all.
    emulator.faults.expire_tokens()
    emulator.faults.revoke_key(ALICE)
    with pytest.raises(IBMAuthError) as refused:
        job.refresh()
    with pytest.raises(IBMAuthError) as refused_bearer:
        bearer.backends()
    emulator.faults.clear()
    # A transport failure with a token in hand: IAM answers, the runtime API is gone.
    gone = connect(base_url=f"http://127.0.0.1:{closed_port()}/api/v1", backoff_factor=0.01)
    with pytest.raises(IBMJobApiError, match="could not connect") as unreachable:
        gone.backends()
    seen += [described(error.value) for error in (refused, refused_bearer, unreachable)]

    monkeypatch.setenv("QCOURIER_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    for name, value in {
        "CHANNEL": "ibm_quantum_platform",
        "BASE_URL": emulator.runtime_url,
        "IAM_URL": emulator.url,
        "API_KEY": ALICE,
        "INSTANCE": emulator.instance_for(ALICE),
    }.items():
        monkeypatch.setenv(f"QCOURIER_{name}", value)
    assert main(["config"]) == 0
    assert main(["job", job.job_id()]) == 0
    shown = capsys.readouterr()
    assert "api_key" in shown.out
    assert job.job_id() in shown.out
    seen += [shown.out, shown.err, caplog.text]

    assert len(minted) >= 3  # the client's, the unreachable connection's and the CLI's
    assert leaks("\n".join(seen), minted) == []
