"""Map the service's job status strings onto qiskit's :class:`~qiskit.providers.JobStatus`."""

from __future__ import annotations

from qiskit.providers import JobStatus

__all__ = ["FINAL_STATES", "MAX_TIME_REASON_CODE", "to_job_status"]

FINAL_STATES = frozenset({JobStatus.DONE, JobStatus.CANCELLED, JobStatus.ERROR})

#: ``state.reason_code`` of a job the service cancelled for running past its time limit.
MAX_TIME_REASON_CODE = 1305

_BY_API_STATUS = {
    "queued": JobStatus.QUEUED,
    "pending_in_queue": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "completed": JobStatus.DONE,
    "failed": JobStatus.ERROR,
    "cancelled": JobStatus.CANCELLED,
    "cancelled - ran too long": JobStatus.CANCELLED,
    "creating": JobStatus.INITIALIZING,
    "created": JobStatus.INITIALIZING,
    "transpiling": JobStatus.INITIALIZING,
    "transpiled": JobStatus.INITIALIZING,
    "validating": JobStatus.VALIDATING,
    "validated": JobStatus.VALIDATING,
    "error_creating_job": JobStatus.ERROR,
    "error_validating_job": JobStatus.ERROR,
    "error_running_job": JobStatus.ERROR,
    "error_transpiling_job": JobStatus.ERROR,
}


def to_job_status(api_status: str, reason_code: int | None = None) -> JobStatus | None:
    """Return the qiskit status for a service status, or ``None`` when it is unknown.

    Matching ignores case, as both IBM clients do. A ``Cancelled`` job with reason code 1305
    ran out of time, which the runtime client reports as ERROR; so do we.
    """
    status = _BY_API_STATUS.get(api_status.strip().lower())
    if status is JobStatus.CANCELLED and reason_code == MAX_TIME_REASON_CODE:
        return JobStatus.ERROR
    return status
