"""Bad input across the client API, connection options, plugin names, the CLI and the server.

Each case must be refused with an error that names the problem (``says`` is searched in the
error text); the CLI must exit with its code and one ``qcourier...: error:`` line, never a
traceback. All cases share one server, on purpose: the last test checks that after all of
them it still runs a normal job.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import qcourier
from qcourier import (
    ConfigError,
    IBMBackend,
    IBMCircuitJob,
    IBMJobApiError,
    IBMJobError,
    IBMJobInvalidStateError,
    IBMJobNotFoundError,
    PluginNotFoundError,
    QcourierError,
    Service,
)
from qcourier.cli import main
from qcourier.plugins.emulator.server import EmulatorServer
from tests.circuits import bell
from tests.emulator.wire import BELL_QASM, Api
from tests.plugins.conftest import ibm_options
from tests.reliability.conftest import Scenario

KEY = "reliability-bad-input-key"
REPO = Path(__file__).resolve().parents[2]
BELL_FILE = str(REPO / "examples" / "bell.qasm")
UNKNOWN_ID = "abcdefghij0123456789"
CRN = "crn:v1:bluemix:public:quantum-computing:us-east:a/account:instance::"


@dataclass
class Site:
    """The server every case talks to, a connection to it, a finished job and some files."""

    server: EmulatorServer
    service: Service
    backend: IBMBackend
    finished: IBMCircuitJob
    wire: Api
    files: Path


@dataclass
class Bench:
    """A :class:`Site` plus this case's environment."""

    site: Site
    env: pytest.MonkeyPatch

    def format(self, text: str) -> str:
        return text.format(files=self.site.files, job=self.site.finished.job_id())


Attempt = Callable[[Bench], str]


@dataclass(frozen=True)
class Case:
    """A bad input, how to try it, and a pattern the refusal must contain."""

    name: str
    attempt: Attempt
    says: str


def raises(error: type[BaseException], call: Callable[[Site], object]) -> Attempt:
    """Call the client API; it must raise *error*. Returns the error text."""

    def attempt(bench: Bench) -> str:
        with pytest.raises(error) as caught:
            call(bench.site)
        return str(caught.value)

    return attempt


def run(**options: Any) -> Attempt:
    """``backend.run`` of a Bell pair with *options*; it must raise ``ValueError``."""
    return raises(ValueError, lambda site: site.backend.run(bell(), **options))


def connecting(
    error: type[BaseException], env: dict[str, str] | None = None, **options: Any
) -> Attempt:
    """``qcourier.connect(**options)`` with *env* set; it must raise *error*."""

    def attempt(bench: Bench) -> str:
        for name, value in (env or {}).items():
            bench.env.setenv(name, bench.format(value))
        with pytest.raises(error) as caught:
            qcourier.connect(**options).close()
        return str(caught.value)

    return attempt


def cli(*args: str, code: int = 1) -> Attempt:
    """``qcourier ARGS`` against the site's server; returns its error line."""

    def attempt(bench: Bench) -> str:
        site = bench.site
        for name, value in {
            "CHANNEL": "ibm_quantum_platform",
            "BASE_URL": site.server.runtime_url,
            "IAM_URL": site.server.url,
            "API_KEY": KEY,
            "INSTANCE": site.server.instance_for(KEY),
        }.items():
            bench.env.setenv(f"QCOURIER_{name}", value)
        err = io.StringIO()
        status: int | str | None
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                status = main([bench.format(arg) for arg in args])
            except SystemExit as exc:  # argparse's usage errors
                status = exc.code
        lines = err.getvalue().splitlines()
        assert status == code, err.getvalue()
        assert "Traceback" not in err.getvalue()
        # An option error gets argparse's usage lines above it; any other error is one line.
        assert len(lines) == 1 or code == 2, err.getvalue()
        assert re.match(r"qcourier( \w+)?: error: ", lines[-1]), err.getvalue()
        return lines[-1]

    return attempt


def server(
    method: str, path: str, status: int, *, body: bytes | None = None, **kwargs: Any
) -> Attempt:
    """A raw request to the runtime API; it must get *status* and an IBM error body."""

    def attempt(bench: Bench) -> str:
        wire = bench.site.wire
        reply = wire.request(method, bench.format(path), data=body, **kwargs)
        assert reply.status_code == status, reply.text
        message = str(reply.json()["error"]["message"])
        assert wire.get("/backends").status_code == 200, "the server stopped serving"
        return message

    return attempt


def job_body(**fields: Any) -> bytes:
    body = {
        "program_id": "circuit-runner",
        "backend": "aer_simulator",
        "params": {"circuits": [BELL_QASM], "shots": 10},
    }
    return json.dumps({**body, **fields}).encode()


def runner_body(params: str) -> bytes:
    """A circuit-runner submission whose params are given as JSON text (for NaN, 1e999)."""
    prefix = '{"program_id": "circuit-runner", "backend": "aer_simulator", "params": '
    return f"{prefix}{params}}}".encode()


SINGLE_BIT = "OPENQASM 2.0; qreg q[1]; creg c[1]; measure q -> c;"

CLIENT_API = [
    Case(
        "job-id-path-traversal",
        raises(IBMJobNotFoundError, lambda s: s.service.job("../etc/passwd")),
        r"'\.\./etc/passwd' is not a job id",
    ),
    Case("job-id-empty", raises(IBMJobNotFoundError, lambda s: s.service.job("")), r"'' is not"),
    Case(
        "job-id-not-a-string",
        raises(IBMJobNotFoundError, lambda s: s.service.job(None)),  # type: ignore[arg-type]
        r"None is not a job id",
    ),
    Case(
        "job-id-too-long",
        raises(IBMJobNotFoundError, lambda s: s.service.job("a" * 300)),
        r"is not a job id",
    ),
    Case(
        "job-id-unknown",
        raises(IBMJobNotFoundError, lambda s: s.service.job(UNKNOWN_ID)),
        rf"job not found: .*{UNKNOWN_ID}",
    ),
    Case("tags-string", run(shots=5, job_tags="exp"), r"tags must be a list of strings, got str"),
    Case("tags-tuple", run(shots=5, job_tags=("exp",)), r"tags must be a list .* got tuple"),
    Case("tags-number", run(shots=5, job_tags=[7]), r"non-empty strings; 7 in \[7\] is not one"),
    Case("tags-blank", run(shots=5, job_tags=[" "]), r"non-empty strings; ' '"),
    Case(
        "update-tags-string",
        raises(IBMJobInvalidStateError, lambda s: s.finished.update_tags("exp")),  # type: ignore[arg-type]
        r"tags must be a list of strings, got str",
    ),
    Case(
        "name-empty",
        raises(IBMJobError, lambda s: s.backend.run(bell(), shots=5, job_name="")),
        r"job name must be a non-empty string, got ''",
    ),
    Case(
        "name-number",
        raises(IBMJobError, lambda s: s.backend.run(bell(), shots=5, job_name=5)),  # type: ignore[arg-type]
        r"job name must be a non-empty string, got 5",
    ),
    Case(
        "update-name-blank",
        raises(IBMJobError, lambda s: s.finished.update_name("  ")),
        r"job name must be a non-empty string",
    ),
    Case("shots-zero", run(shots=0), r"shots must be between 1 and \d+, got 0"),
    Case("shots-fraction", run(shots=1.5), r"shots must be a whole number, got 1\.5"),
    Case("shots-text", run(shots="100"), r"shots must be a whole number, got '100'"),
    Case("shots-bool", run(shots=True), r"shots must be a whole number, got True"),
    Case("shots-over-max", run(shots=10**9), r"shots must be between 1 and \d+, got 1000000000"),
    Case(
        "circuits-empty-list",
        raises(ValueError, lambda s: s.backend.run([])),
        r"QuantumCircuit or a non-empty list of them; got list",
    ),
    Case(
        "circuits-text",
        raises(ValueError, lambda s: s.backend.run("bell")),
        r"QuantumCircuit or a non-empty list of them; got str",
    ),
    Case(
        "circuits-mixed-list",
        raises(ValueError, lambda s: s.backend.run([bell(), 5])),
        r"QuantumCircuit or a non-empty list of them",
    ),
    Case(
        "circuits-none",
        raises(ValueError, lambda s: s.backend.run(None)),
        r"QuantumCircuit or a non-empty list of them",
    ),
    Case(
        "circuits-too-many",
        raises(ValueError, lambda s: s.backend.run([bell()] * 301, shots=5)),
        r"301 circuits exceed aer_simulator's 300",
    ),
    Case("run-option-unknown", run(shotz=5), r"unknown run option\(s\) shotz; valid: "),
    Case(
        "seed-negative",
        raises(IBMJobApiError, lambda s: s.backend.run(bell(), shots=5, seed_simulator=-1)),
        r"400: params\.seed_simulator must be a non-negative integer, not -1",
    ),
    Case(
        "max-execution-time-negative",
        raises(IBMJobApiError, lambda s: s.backend.run(bell(), shots=5, max_execution_time=-5)),
        r"400: cost \(the maximum execution time in seconds\) must be positive",
    ),
    Case(
        "status-filter-unknown",
        raises(ValueError, lambda s: s.service.jobs(status="finished")),
        r"unknown job status 'finished'; valid: cancelled, done, error",
    ),
    Case(
        "status-filter-number",
        raises(ValueError, lambda s: s.service.jobs(status=3)),
        r"unknown job status 3",
    ),
    Case(
        "date-in-words",
        raises(ValueError, lambda s: s.service.jobs(created_after="yesterday")),
        r"created_after must be an ISO date .* got 'yesterday'",
    ),
    Case(
        "date-impossible",
        raises(ValueError, lambda s: s.service.jobs(created_before="2026-02-30")),
        r"created_before must be an ISO date .* got '2026-02-30'",
    ),
    Case(
        "limit-negative",
        raises(ValueError, lambda s: s.service.jobs(limit=-1)),
        r"limit must be None or a whole number >= 0, got -1",
    ),
    Case(
        "limit-text",
        raises(ValueError, lambda s: list(s.service.jobs(limit="ten"))),  # type: ignore[arg-type]
        r"limit must be None or a whole number >= 0, got 'ten'",
    ),
    Case(
        "skip-negative",
        raises(ValueError, lambda s: list(s.service.jobs(skip=-1))),
        r"must be a whole number >= 0, got -1",
    ),
    Case(
        "jobs-tags-string",
        raises(ValueError, lambda s: s.service.jobs(tags="exp")),  # type: ignore[arg-type]
        r"tags must be a list of strings, got str",
    ),
    Case(
        "backend-unknown",
        raises(QcourierError, lambda s: s.service.backend("ibm_nowhere")),
        r"no backend named 'ibm_nowhere'; available: aer_simulator",
    ),
    Case(
        "cancel-finished-job",
        raises(IBMJobInvalidStateError, lambda s: s.finished.cancel()),
        r"already in a final state and cannot be cancelled",
    ),
    Case(
        "delete-bad-id",
        raises(IBMJobNotFoundError, lambda s: s.service.delete_job("../x")),
        r"'\.\./x' is not a job id",
    ),
    Case(
        "job-submit",
        raises(NotImplementedError, lambda s: s.finished.submit()),
        r"submit circuits with backend\.run",
    ),
]

CONNECT = [
    Case(
        "channel-unknown",
        connecting(PluginNotFoundError, channel="nowhere"),
        r"no 'qcourier\.channel' plugin named 'nowhere'; available: .*local",
    ),
    Case(
        "wait-misspelt",
        connecting(PluginNotFoundError, wait=["websockt"]),
        r"no 'qcourier\.wait' plugin named 'websockt'; available: .*polling",
    ),
    Case(
        "transport-unknown",
        connecting(PluginNotFoundError, transport="carrier_pigeon"),
        r"'qcourier\.transport' plugin named 'carrier_pigeon'; available: ibm_rest",
    ),
    Case(
        "auth-unknown",
        connecting(PluginNotFoundError, auth="kerberos"),
        r"'qcourier\.auth' plugin named 'kerberos'; available: bearer, ibm_iam",
    ),
    Case(
        "events-unknown",
        connecting(PluginNotFoundError, events=["fireworks"]),
        r"'qcourier\.events' plugin named 'fireworks'; available: progress",
    ),
    Case(
        "decoder-unknown",
        connecting(PluginNotFoundError, decoders=["pickle"]),
        r"'qcourier\.decoder' plugin named 'pickle'; available: ibm_result",
    ),
    Case(
        "option-unknown",
        connecting(ConfigError, colour="blue"),
        r"unknown option\(s\): colour; valid options: channel",
    ),
    Case(
        "read-timeout-negative",
        connecting(ConfigError, read_timeout=-1),
        r"invalid value for 'read_timeout': -1 \(from keyword argument read_timeout\)",
    ),
    Case(
        "max-retries-text",
        connecting(ConfigError, max_retries="many"),
        r"'max_retries': 'many' .*whole number",
    ),
    Case(
        "verify-maybe",
        connecting(ConfigError, verify="maybe"),
        r"'verify': 'maybe' .*true or false",
    ),
    Case(
        "poll-interval-nan",
        connecting(ConfigError, poll_interval_max=float("nan")),
        r"'poll_interval_max': nan .*positive number",
    ),
    Case(
        "decoders-twice",
        connecting(ConfigError, decoders="ibm_result,ibm_result"),
        r"'decoders'.*names a plugin twice",
    ),
    Case(
        "api-key-blank",
        connecting(ConfigError, api_key="  "),
        r"invalid value for 'api_key': \*\*\*",
    ),
    Case(
        "ibm-without-credentials",
        connecting(ConfigError, channel="ibm_quantum_platform", instance=CRN),
        r"needs credentials: set api_key \(QCOURIER_API_KEY\)",
    ),
    Case(
        "ibm-without-instance",
        connecting(ConfigError, channel="ibm_quantum_platform", api_key="k"),
        r"needs your service instance: set instance \(QCOURIER_INSTANCE\)",
    ),
    Case(
        "ibm-instance-not-a-crn",
        connecting(ConfigError, channel="ibm_quantum_platform", api_key="k", instance="mine"),
        r"instance 'mine' is not a service CRN",
    ),
    Case(
        "local-with-base-url",
        connecting(ConfigError, base_url="http://127.0.0.1:9/api/v1"),
        r"base_url is set, but the local channel runs its own emulator",
    ),
    Case(
        "env-read-timeout-text",
        connecting(ConfigError, env={"QCOURIER_READ_TIMEOUT": "soon"}),
        r"'read_timeout': 'soon' \(from environment variable QCOURIER_READ_TIMEOUT\)",
    ),
    Case(
        "env-wait-misspelt",
        connecting(PluginNotFoundError, env={"QCOURIER_WAIT": "websockt"}),
        r"no 'qcourier\.wait' plugin named 'websockt'",
    ),
    Case(
        "config-file-not-toml",
        connecting(ConfigError, env={"QCOURIER_CONFIG": "{files}/broken.toml"}),
        r"cannot read config file .*broken\.toml",
    ),
    Case(
        "profile-unknown",
        connecting(ConfigError, env={"QCOURIER_CONFIG": "{files}/profiles.toml"}, profile="nope"),
        r"no profile named 'nope'; available: main",
    ),
]

CLI = [
    Case(
        "cli-qasm2-index-out-of-range",
        cli("run", "{files}/bad2.qasm"),
        r"bad2\.qasm is not valid OpenQASM: .*out-of-range",
    ),
    Case(
        "cli-qasm3-unknown-gate",
        cli("run", "{files}/bad3.qasm"),
        r"bad3\.qasm is not valid OpenQASM: .*'foo'",
    ),
    Case(
        "cli-qasm-not-text",
        cli("run", "{files}/binary.qasm"),
        r"binary\.qasm",
    ),
    Case("cli-qasm-directory", cli("run", "{files}"), r"cannot read .*: Is a directory"),
    Case(
        "cli-shots-zero",
        cli("run", BELL_FILE, "--shots", "0"),
        r"shots must be between 1 and \d+, got 0",
    ),
    Case(
        "cli-shots-text",
        cli("run", BELL_FILE, "--shots", "many", code=2),
        r"argument --shots: invalid int value: 'many'",
    ),
    Case(
        "cli-timeout-text",
        cli("run", BELL_FILE, "--timeout", "soon", code=2),
        r"argument --timeout: invalid float value: 'soon'",
    ),
    Case(
        "cli-backend-unknown",
        cli("run", BELL_FILE, "--backend", "nowhere"),
        r"no backend named 'nowhere'; available: aer_simulator",
    ),
    Case("cli-tag-blank", cli("run", BELL_FILE, "--tag", ""), r"non-empty strings; '' in"),
    Case("cli-job-bad-id", cli("job", "../etc"), r"'\.\./etc' is not a job id"),
    Case("cli-job-unknown", cli("job", UNKNOWN_ID), rf"job not found: .*{UNKNOWN_ID}"),
    Case("cli-cancel-bad-id", cli("cancel", "x y"), r"'x y' is not a job id"),
    Case("cli-cancel-finished", cli("cancel", "{job}"), r"already in a final state"),
    Case(
        "cli-jobs-status-unknown",
        cli("jobs", "--status", "finished"),
        r"unknown job status 'finished'; valid:",
    ),
    Case(
        "cli-jobs-limit-negative",
        cli("jobs", "--limit", "-5"),
        r"limit must be None or a whole number >= 0, got -5",
    ),
    Case("cli-flag-unknown", cli("jobs", "--bogus", code=2), r"unrecognized arguments: --bogus"),
    Case(
        "cli-command-unknown",
        cli("frobnicate", code=2),
        r"invalid choice: 'frobnicate' \(choose from 'run', 'jobs'",
    ),
    Case(
        "cli-channel-unknown",
        cli("--channel", "nowhere", "jobs"),
        r"no 'qcourier\.channel' plugin named 'nowhere'; available:",
    ),
]

SERVER = [
    Case(
        "server-json-nested-too-deep",
        server("POST", "/jobs", 400, body=b"[" * 100_000 + b"]" * 100_000),
        r"JSON",
    ),
    Case(
        "server-seed-too-big",
        server(
            "POST",
            "/jobs",
            400,
            body=job_body(params={"circuits": [BELL_QASM], "shots": 5, "seed_simulator": 2**70}),
        ),
        r"seed_simulator",
    ),
    Case(
        "server-shots-nan",
        server(
            "POST",
            "/jobs",
            400,
            body=runner_body(f'{{"circuits": ["{SINGLE_BIT}"], "shots": NaN}}'),
        ),
        r"params\.shots must be a positive integer, not nan",
    ),
    Case(
        "server-shots-infinite",
        server(
            "POST",
            "/jobs",
            400,
            body=runner_body(f'{{"circuits": ["{SINGLE_BIT}"], "shots": 1e999}}'),
        ),
        r"params\.shots must be a positive integer, not inf",
    ),
    Case(
        "server-seed-fraction",
        server(
            "POST",
            "/jobs",
            400,
            body=job_body(params={"circuits": [BELL_QASM], "shots": 5, "seed_simulator": 1.5}),
        ),
        r"params\.seed_simulator must be a non-negative integer, not 1\.5",
    ),
    Case(
        "server-duplicate-keys",
        server("POST", "/jobs", 400, body=b'{"program_id": "circuit-runner", "program_id": 7}'),
        r"program_id is required and must be a string",
    ),
    Case(
        "server-backend-empty",
        server("POST", "/jobs", 400, body=job_body(backend="")),
        r"backend is required and must be a string",
    ),
    Case(
        "server-xml-body",
        server("POST", "/jobs", 400, body=b"<job/>", headers={"Content-Type": "application/xml"}),
        r"Request body is not valid JSON",
    ),
    Case(
        "server-sampler-zero-shots",
        server(
            "POST",
            "/jobs",
            400,
            body=job_body(
                program_id="sampler", params={"pubs": [[SINGLE_BIT, None, 0]], "version": 2}
            ),
        ),
        r"params\.pubs\[0\]\[2\] must be between 1 and \d+, not 0",
    ),
    Case(
        "server-tags-null",
        server("PUT", "/jobs/{job}/tags", 400, body=b'{"tags": null}'),
        r"tags must be a list of strings",
    ),
    Case(
        "server-bearer-not-a-jwt",
        server("GET", "/jobs", 401, headers={"Authorization": "Bearer not.a.jwt"}),
        r"Malformed bearer token",
    ),
    Case(
        "server-basic-auth",
        server("GET", "/jobs", 401, headers={"Authorization": "Basic dXNlcjpwYXNz"}),
        r"Missing or malformed Authorization header",
    ),
    Case(
        "server-service-crn-foreign",
        server("GET", "/jobs", 401, headers={"Service-CRN": CRN}),
        r"Service-CRN header missing or not an instance of this API key",
    ),
    Case(
        "server-limit-fraction",
        server("GET", "/jobs", 400, params={"limit": "1.5"}),
        r"query limit: Input should be a valid integer",
    ),
    Case(
        "server-created-before-impossible",
        server("GET", "/jobs", 400, params={"created_before": "2026-13-45"}),
        r"created_before is not an ISO 8601 time: '2026-13-45'",
    ),
    Case(
        "server-job-id-unicode",
        server("GET", "/jobs/%E2%98%83", 404),
        r"Job not found: \u2603",
    ),
    Case(
        "server-job-id-with-crlf",
        server("GET", "/jobs/abc%0d%0aX-Injected:%201", 404),
        r"Job not found: abc\r\nX-Injected: 1",
    ),
]

CASES = CLIENT_API + CONNECT + CLI + SERVER


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    # One server for the whole table, so the last test can show that it survived every case.
    root = tmp_path_factory.mktemp("bad-input")
    files = root / "files"
    files.mkdir()
    (files / "bad2.qasm").write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[5];\n')
    (files / "bad3.qasm").write_text("OPENQASM 3.0;\nqubit[2] q;\nfoo q[0];\n")
    (files / "binary.qasm").write_bytes(b"\xff\xfe\x00OPENQASM")
    (files / "broken.toml").write_text("[profiles.main\nchannel = \n")
    (files / "profiles.toml").write_text('[profiles.main]\nchannel = "local"\n')
    (files / "empty.toml").write_text("")
    with EmulatorServer(root / "emulator.sqlite3", api_keys=(KEY,), workers=1, seed=1) as srv:
        service = Service(ibm_options(srv, KEY))
        backend = service.backend()
        finished = backend.run(bell(), shots=10, seed_simulator=1)
        finished.result(timeout=60)
        with Api(srv, KEY) as wire:
            yield Site(srv, service, backend, finished, wire, files)
        service.close()


@pytest.fixture
def bench(site: Site, monkeypatch: pytest.MonkeyPatch) -> Bench:
    """The site, with no QCOURIER_* setting of the machine or user leaking in."""
    for name in [name for name in os.environ if name.startswith("QCOURIER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("QCOURIER_CONFIG", str(site.files / "empty.toml"))
    return Bench(site, monkeypatch)


def params(cases: list[Case]) -> list[Any]:
    return [pytest.param(case, id=case.name) for case in cases]


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input_is_refused_with_an_error_naming_the_problem(bench: Bench, case: Case) -> None:
    refusal = case.attempt(bench)
    assert re.search(case.says, refusal), f"{refusal!r} does not say {case.says!r}"


def test_the_service_still_runs_a_normal_job_after_every_bad_input(
    site: Site, scenario: Scenario
) -> None:
    scenario.verify(scenario.submit(site.backend, shots=50, seed=2026))
