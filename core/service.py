"""connect() and Service: one connection to a service, with its plugins."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

from qiskit.providers import JobStatus

from qcourier.backend import CIRCUIT_RUNNER, IBMBackend
from qcourier.config import Options, resolve_options
from qcourier.errors import IBMJobNotFoundError, QcourierError
from qcourier.host import PluginHost
from qcourier.job import IBMCircuitJob, name_tag
from qcourier.validation import validate_count, validate_job_id, validate_tags

__all__ = ["Service", "connect"]

PAGE_SIZE = 50

_STATUS_NAMES = {status.name.lower(): status for status in JobStatus}
_PENDING = {JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.INITIALIZING, JobStatus.VALIDATING}


def connect(channel: str | None = None, **options: Any) -> Service:
    """Open a connection; the default channel ``local`` starts the embedded emulator.

    Options come from keyword arguments, then ``QCOURIER_*`` environment variables, then the
    config file's profile (``profile=`` picks one), then defaults; see :mod:`qcourier.config`.

    :raises ConfigError: for an unknown option or a bad value, naming where it came from.
    :raises PluginNotFoundError: for a plugin name that is not installed, listing those that are.
    """
    if channel is not None:
        options["channel"] = channel
    return Service(resolve_options(options))


def _status_filter(status: str | JobStatus | None) -> JobStatus | None:
    if status is None or isinstance(status, JobStatus):
        return status
    found = _STATUS_NAMES.get(str(status).strip().lower())
    if found is None:
        valid = ", ".join(sorted(_STATUS_NAMES))
        raise ValueError(f"unknown job status {status!r}; valid: {valid}")
    return found


def _utc(value: datetime | str | None, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{name} must be an ISO date such as 2026-01-31, got {value!r}"
            ) from None
    if value.tzinfo is None:
        value = value.astimezone()
    return value.astimezone(timezone.utc).isoformat()


class Service:
    """A connection to one IBM-Quantum-style service. Close it, or use it as a context manager."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self._host = PluginHost.from_options(options)
        self._backends: dict[str, IBMBackend] = {}

    @property
    def host(self) -> PluginHost:
        """The connection's plugin host."""
        return self._host

    @property
    def channel(self) -> str:
        """The channel this connection uses (``local`` or ``ibm_quantum_platform``)."""
        return self.options.channel

    def backends(self, name: str | None = None) -> list[IBMBackend]:
        """Return the service's backends (only *name* when given)."""
        names = [item["name"] for item in self._host.api.backends() if "name" in item]
        return [self._build_backend(item) for item in names if name is None or item == name]

    def backend(self, name: str = "aer_simulator") -> IBMBackend:
        """Return the backend called *name*.

        :raises QcourierError: when there is none, listing those there are.
        """
        if name not in self._backends:
            names = [str(item.get("name")) for item in self._host.api.backends()]
            if name not in names:
                raise QcourierError(f"no backend named {name!r}; available: {', '.join(names)}")
        return self._build_backend(name)

    def _build_backend(self, name: str) -> IBMBackend:
        if name not in self._backends:
            configuration = self._host.api.backend_configuration(name)
            self._backends[name] = IBMBackend(self._host, configuration, None)
        return self._backends[name]

    def job(self, job_id: str) -> IBMCircuitJob:
        """Return the job with this id, as the service has it now.

        :raises IBMJobNotFoundError: if this account has no such job.
        """
        document = self._host.api.job_get(validate_job_id(job_id), exclude_params=True)
        return self._job_from(document)

    def jobs(
        self,
        limit: int | None = 10,
        skip: int = 0,
        backend_name: str | None = None,
        status: str | JobStatus | None = None,
        tags: list[str] | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        name: str | None = None,
        descending: bool = True,
        program: str | None = CIRCUIT_RUNNER,
    ) -> Iterator[IBMCircuitJob]:
        """Yield matching jobs lazily, newest first, fetching one page at a time.

        :param limit: the most jobs to yield; ``None`` for all.
        :param skip: how many matching jobs to pass over first.
        :param backend_name: only jobs run on this backend.
        :param status: a ``JobStatus`` or its name (``"done"``, ``"queued"``, ...).
        :param tags: only jobs carrying all of these tags.
        :param created_after: only jobs created at or after this time (a datetime or an ISO
            date; naive means local time); likewise ``created_before``.
        :param name: only jobs with this name (``job_name`` at run, or ``update_name``).
        :param descending: newest first (the default) or oldest first.
        :param program: only jobs of this runtime program; ``None`` for every program.
        """
        validate_count(limit, "limit", optional=True)
        validate_count(skip, "skip")
        wanted = _status_filter(status)
        return self._iter_jobs(
            limit=limit,
            skip=skip,
            backend=backend_name,
            wanted=wanted,
            tags=validate_tags(tags, ValueError) + ([name_tag(name)] if name else []) or None,
            created_after=_utc(created_after, "created_after"),
            created_before=_utc(created_before, "created_before"),
            ascending=not descending,
            program=program,
        )

    def _iter_jobs(
        self,
        *,
        limit: int | None,
        skip: int,
        backend: str | None,
        wanted: JobStatus | None,
        tags: Sequence[str] | None,
        created_after: str | None,
        created_before: str | None,
        ascending: bool,
        program: str | None,
    ) -> Iterator[IBMCircuitJob]:
        pending = None if wanted is None else wanted in _PENDING
        offset, yielded = skip, 0
        while limit is None or yielded < limit:
            page = self._host.api.jobs_list(
                limit=PAGE_SIZE,
                offset=offset,
                pending=pending,
                backend=backend,
                program=program,
                tags=tags,
                created_after=created_after,
                created_before=created_before,
                ascending=ascending,
            )
            documents = page.get("jobs", [])
            for document in documents:
                job = self._job_from(document)
                if wanted is not None and job._current_status() is not wanted:
                    continue
                yield job
                yielded += 1
                if limit is not None and yielded >= limit:
                    return
            offset += len(documents)
            # The service's count is exact, so it tells when the last page was read.
            if not documents or offset >= int(page.get("count", offset)):
                return

    def delete_job(self, job_id: str) -> None:
        """Delete a finished job and its result from the service."""
        self._host.api.job_delete(validate_job_id(job_id))

    def _job_from(self, document: dict[str, Any]) -> IBMCircuitJob:
        try:
            job_id = document["id"]
        except KeyError:
            raise IBMJobNotFoundError(
                f"the service sent a job without an id: {document!r}"
            ) from None
        backend_name = document.get("backend")
        backend = self._backend_or_none(backend_name) if backend_name else None
        job = IBMCircuitJob(
            backend=backend,
            api_client=self._host,
            job_id=job_id,
            kind=(document.get("program") or {}).get("id"),
            session_id=document.get("session_id"),
            tags=document.get("tags"),
        )
        job._apply(document)
        return job

    def _backend_or_none(self, name: str) -> IBMBackend | None:
        try:
            return self.backend(name)
        except QcourierError:
            return None

    def close(self) -> None:
        """Close the connection and stop whatever its plugins started (e.g. the emulator)."""
        self._host.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Service channel={self.options.channel!r} {self._host.endpoint.runtime_url}>"
