"""Service status strings map onto qiskit JobStatus as PROTOCOL.md §4.3 says."""

from __future__ import annotations

import pytest
from qiskit.providers import JobStatus

from qcourier.status import to_job_status


@pytest.mark.parametrize(
    ("api_status", "expected"),
    [
        ("Queued", JobStatus.QUEUED),
        ("PENDING_IN_QUEUE", JobStatus.QUEUED),
        ("Running", JobStatus.RUNNING),
        ("Completed", JobStatus.DONE),
        ("COMPLETED", JobStatus.DONE),
        ("completed", JobStatus.DONE),
        ("Failed", JobStatus.ERROR),
        ("Cancelled", JobStatus.CANCELLED),
        ("CANCELLED - RAN TOO LONG", JobStatus.CANCELLED),
        ("VALIDATING", JobStatus.VALIDATING),
        ("TRANSPILING", JobStatus.INITIALIZING),
        ("ERROR_RUNNING_JOB", JobStatus.ERROR),
    ],
)
def test_service_status_maps_case_insensitively(api_status: str, expected: JobStatus) -> None:
    assert to_job_status(api_status) is expected


def test_time_limit_cancel_maps_to_error() -> None:
    assert to_job_status("Cancelled", reason_code=1305) is JobStatus.ERROR


def test_unknown_status_is_none_rather_than_an_exception() -> None:
    assert to_job_status("Teleporting") is None
