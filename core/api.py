"""The contract between core and the plugin that speaks a service's job API.

Methods take and return the service's own JSON documents (see PROTOCOL.md in the project
docs); the job and service classes interpret them. Errors are raised as
:class:`~qcourier.IBMJobApiError` and its subclasses, never as transport exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["RuntimeApi"]


@runtime_checkable
class RuntimeApi(Protocol):
    """Speaks one service's job and backend endpoints."""

    def backends(self) -> list[dict[str, Any]]:
        """List backends as the service describes them (``name``, ``status``, ...)."""

    def backend_configuration(self, name: str) -> dict[str, Any]:
        """Return the configuration document of backend *name*."""

    def backend_properties(self, name: str) -> dict[str, Any] | None:
        """Return the properties document of backend *name*, ``None`` when it has none."""

    def backend_status(self, name: str) -> dict[str, Any]:
        """Return the status document of backend *name*."""

    def submit_job(
        self,
        program_id: str,
        backend: str,
        params: dict[str, Any],
        *,
        tags: Sequence[str] | None = None,
        session_id: str | None = None,
        max_execution_time: int | None = None,
    ) -> dict[str, Any]:
        """Submit a job; *params* may hold qiskit objects, which the client encodes.

        :returns: the service's reply, at least ``id`` and ``backend``.
        """

    def job_get(self, job_id: str, *, exclude_params: bool = True) -> dict[str, Any]:
        """Return the job document."""

    def jobs_list(
        self,
        *,
        limit: int,
        offset: int = 0,
        pending: bool | None = None,
        backend: str | None = None,
        program: str | None = None,
        tags: Sequence[str] | None = None,
        created_after: str | None = None,
        created_before: str | None = None,
        ascending: bool = False,
    ) -> dict[str, Any]:
        """Return one page: ``{"jobs": [...], "count": total matching}``."""

    def job_results(self, job_id: str) -> str:
        """Return the raw result text (also for failed jobs: the error text)."""

    def job_metrics(self, job_id: str) -> dict[str, Any]:
        """Return the metrics document (timestamps, queue position, usage)."""

    def job_logs(self, job_id: str) -> str:
        """Return the job's log text (empty when none)."""

    def job_cancel(self, job_id: str) -> None:
        """Ask the service to cancel; raises ``IBMJobInvalidStateError`` when final."""

    def job_delete(self, job_id: str) -> None:
        """Delete a finished job."""

    def job_update_tags(self, job_id: str, tags: Sequence[str]) -> None:
        """Replace the job's tags."""

    def stream_url(self, job_id: str) -> str:
        """Return the websocket URL of the job's status stream."""
