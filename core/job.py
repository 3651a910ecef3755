"""IBMCircuitJob: a circuit job on an IBM-Quantum-style service, as a qiskit ``JobV1``.

The job holds no transport code. Every remote action goes through the connection's
:class:`~qcourier.host.PluginHost` (passed as ``api_client``) and its API client plugin.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from qiskit.providers import JobStatus, JobV1

from qcourier.decoding import DecodeContext
from qcourier.errors import (
    IBMJobApiError,
    IBMJobError,
    IBMJobFailureError,
    IBMJobInvalidStateError,
)
from qcourier.queue_info import QueueInfo
from qcourier.status import FINAL_STATES, MAX_TIME_REASON_CODE, to_job_status
from qcourier.timestamps import parse_utc
from qcourier.validation import validate_name, validate_tags

if TYPE_CHECKING:
    from qiskit.circuit import QuantumCircuit
    from qiskit.result import Result

    from qcourier.api import RuntimeApi
    from qcourier.backend import IBMBackend
    from qcourier.host import PluginHost

__all__ = ["NAME_TAG_PREFIX", "IBMCircuitJob", "name_tag"]

log = logging.getLogger(__name__)

_JOB_ERROR_PATTERN = re.compile(r"JobError: '(.*)'")
_TRACEBACK_MARK = "Traceback"

#: The runtime API has no job name, so the name travels as a tag with this prefix; it is
#: hidden from :meth:`IBMCircuitJob.tags` and survives into other processes and clients.
NAME_TAG_PREFIX = "qcourier-name:"


def name_tag(name: str) -> str:
    """The tag that carries a job name."""
    return f"{NAME_TAG_PREFIX}{validate_name(name)}"


class IBMCircuitJob(JobV1):  # type: ignore[misc]  # qiskit is untyped
    """A job that executes circuits on an IBM Quantum backend or the local emulator.

    You get one from :meth:`IBMBackend.run() <qcourier.backend.IBMBackend.run>` or
    :meth:`Service.job() <qcourier.service.Service.job>`. Methods that need the service
    raise :class:`~qcourier.IBMJobApiError` when it cannot be reached; such an error never
    changes what the job reports about itself.
    """

    def __init__(
        self,
        backend: IBMBackend | None,
        api_client: PluginHost,
        job_id: str,
        creation_date: str | None = None,
        status: str | None = None,
        runtime_client: RuntimeApi | None = None,
        kind: str | None = None,
        name: str | None = None,
        time_per_step: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        session_id: str | None = None,
        tags: list[str] | None = None,
        run_mode: str | None = None,
        client_info: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(backend=backend, job_id=job_id)
        self._host = api_client
        self._api: RuntimeApi = runtime_client if runtime_client is not None else api_client.api
        self._lock = threading.RLock()
        self._creation_date = parse_utc(creation_date)
        self._kind = kind or "circuit-runner"
        self._name: str | None = name
        self._time_per_step = time_per_step
        self._error = error
        self._session_id = session_id
        self._tags: list[str] = []
        self._take_tags(list(tags or []))
        self._run_mode = run_mode
        self._client_version: dict[str, str] = dict(client_info or {})
        self._usage_estimation: dict[str, Any] = {}
        self._queue_info: QueueInfo | None = None
        self._api_status = status
        self._reason: str | None = None
        self._reason_code: int | None = None
        self._status: JobStatus | None = None
        self._cancelled = False
        self._error_message: str | None = None
        self._result: Any = None
        self._params: dict[str, Any] | None = None
        self._warned_unknown = False
        self._data = {f"{key}_": value for key, value in kwargs.items()}
        if status is not None:
            self._status = to_job_status(status) or JobStatus.INITIALIZING
        if result is not None:
            self._result = self._decode(json.dumps(result), "result")

    # -- identity -------------------------------------------------------------------------

    def job_id(self) -> str:
        """Return the id the service gave this job."""
        return str(self._job_id)

    def backend(self) -> IBMBackend | None:
        """Return the backend the job runs on."""
        return self._backend  # type: ignore[no-any-return]

    def name(self) -> str | None:
        """Return the job's name, ``None`` when it has none."""
        return self._name

    def update_name(self, name: str) -> str:
        """Rename the job on the service (the name is stored as a hidden tag); return it."""
        self._replace_tags(self.tags(), validate_name(name))
        return str(self._name)

    def tags(self) -> list[str]:
        """Return the job's tags as last read from the service."""
        return list(self._tags)

    def update_tags(self, new_tags: list[str]) -> list[str]:
        """Replace the job's tags on the service and return them as the service now has them.

        :raises IBMJobInvalidStateError: if *new_tags* is not a list of non-empty strings;
            nothing is sent then.
        """
        self._replace_tags(validate_tags(new_tags, IBMJobInvalidStateError), self._name)
        return self.tags()

    def _replace_tags(self, tags: list[str], name: str | None) -> None:
        wire = sorted(set(tags) | ({name_tag(name)} if name else set()))
        self._api.job_update_tags(self.job_id(), wire)
        # Read back as upstream does: what the service stored is the truth.
        self._apply(self._api.job_get(self.job_id(), exclude_params=True))

    def creation_date(self) -> datetime | None:
        """Return when the service created the job, in local time."""
        if self._creation_date is None:
            self.refresh()
        return self._creation_date

    def scheduling_mode(self) -> str | None:
        """Return the scheduling mode the job runs in, when the service says."""
        return self._run_mode

    @property
    def client_version(self) -> dict[str, str]:
        """Return the versions of the client software that ran the job."""
        if not self._client_version:
            self._read_metrics()
        return dict(self._client_version)

    @property
    def usage_estimation(self) -> dict[str, Any]:
        """Return the service's estimate of the job's usage, e.g. ``{"quantum_seconds": 1.5}``."""
        if not self._usage_estimation:
            self.refresh()
        return dict(self._usage_estimation)

    # -- status ---------------------------------------------------------------------------

    def status(self) -> JobStatus:
        """Ask the service for the job's status; a final status is cached and never re-asked.

        :raises IBMJobApiError: if the service cannot be reached; the job keeps its status.
        """
        with self._lock:
            if self._status in FINAL_STATES:
                return self._status
        self._apply(self._api.job_get(self.job_id(), exclude_params=True))
        return self._current_status()

    def last_status(self) -> JobStatus:
        """Return the status last read from the service, without asking it again."""
        return self._current_status() or JobStatus.INITIALIZING

    def done(self) -> bool:
        """Return whether the job finished successfully."""
        return self.status() is JobStatus.DONE

    def running(self) -> bool:
        """Return whether the job is running now."""
        return self.status() is JobStatus.RUNNING

    def cancelled(self) -> bool:
        """Return whether the job was cancelled."""
        return self._cancelled or self.status() is JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        """Return whether the job is DONE, CANCELLED or ERROR."""
        return self.status() in FINAL_STATES

    def refresh(self) -> None:
        """Read the job document and its metrics again from the service."""
        self._apply(self._api.job_get(self.job_id(), exclude_params=True))
        self._read_metrics()

    def queue_position(self, refresh: bool = False) -> int | None:
        """Return the job's place in the service queue, ``None`` when not queued or unknown."""
        if refresh or self._queue_info is None:
            self._read_metrics()
        return self._queue_info.position if self._queue_info else None

    def queue_info(self) -> QueueInfo | None:
        """Return fresh queue information, or ``None`` when the service has none."""
        self._read_metrics()
        return self._queue_info

    def time_per_step(self) -> dict[str, datetime] | None:
        """Return when the job reached each step (``created``, ``running``, ``finished``)."""
        if not self._time_per_step or self._current_status() not in FINAL_STATES:
            self._read_metrics()
        if not self._time_per_step:
            return None
        steps = {key.lower(): parse_utc(value) for key, value in self._time_per_step.items()}
        return {key: value for key, value in steps.items() if value is not None}

    def wait_for_final_state(self, timeout: float | None = None) -> None:
        """Block until the job is final, with the configured wait strategies.

        :param timeout: seconds to wait; ``None`` waits until the job ends.
        :raises IBMJobTimeoutError: when *timeout* passes first.
        """
        if self._current_status() in FINAL_STATES:
            return
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        self._host.wait_for_final_state(self, deadline)

    # -- actions --------------------------------------------------------------------------

    def submit(self) -> None:
        """Not supported: jobs are submitted by :meth:`IBMBackend.run`."""
        raise NotImplementedError(
            "job.submit() is not supported: submit circuits with backend.run(circuits), "
            "which returns a job that is already on its way"
        )

    def cancel(self) -> bool:
        """Ask the service to cancel the job; return ``True`` once it accepted.

        :raises IBMJobInvalidStateError: if the job is already final.
        """
        try:
            self._api.job_cancel(self.job_id())
        except IBMJobInvalidStateError:
            raise
        except IBMJobApiError as exc:
            raise IBMJobError(f"Failed to cancel job {self.job_id()}: {exc}") from exc
        self._cancelled = True
        self._set_status(JobStatus.CANCELLED, "Cancelled")
        return True

    def result(self, timeout: float | None = None, refresh: bool = False) -> Result:
        """Wait for the job and return its result (a qiskit ``Result`` for circuit jobs).

        :param timeout: seconds to wait for the job to finish; ``None`` waits until it ends.
        :param refresh: fetch the result again even if one is cached.
        :raises IBMJobTimeoutError: if the job is not final by *timeout*.
        :raises IBMJobFailureError: if the job failed.
        :raises IBMJobInvalidStateError: if the job was cancelled.
        """
        if self._result is not None and not refresh:
            return self._result
        self.wait_for_final_state(timeout=timeout)
        status = self._current_status()
        if status is JobStatus.CANCELLED:
            raise IBMJobInvalidStateError(
                f"Unable to retrieve result for job {self.job_id()}: the job was cancelled"
            )
        if status is JobStatus.ERROR:
            raise IBMJobFailureError(f"Job failed: {self.error_message()}")
        self._result = self._decode(self._api.job_results(self.job_id()), "result")
        return self._result

    def error_message(self) -> str | None:
        """Explain why the job failed; ``None`` when it did not."""
        if self._current_status() is JobStatus.DONE:
            return None
        if self._error_message is not None:
            return self._error_message
        if self._reason is None and self._api_status is None:
            self.status()
        if self._reason and self._reason != "Error":
            if self._reason_code == MAX_TIME_REASON_CODE:
                message = f"Job ran longer than the maximum execution time: {self._reason}"
            elif self._reason_code is not None:
                message = f"Error code {self._reason_code}; {self._reason}"
            else:
                message = self._reason
        elif self._current_status() is JobStatus.ERROR:
            message = self._explain(self._api.job_results(self.job_id()))
        else:
            return None
        self._error_message = message
        return message

    # -- parameters -----------------------------------------------------------------------

    def circuits(self) -> list[QuantumCircuit]:
        """Return the circuits the job was submitted with."""
        circuits = self._submitted_params().get("circuits", [])
        return list(circuits) if isinstance(circuits, list) else []

    def header(self) -> dict[str, Any]:
        """Return the user header submitted with the job (empty when none)."""
        header = self._submitted_params().get("header", {})
        return dict(header) if isinstance(header, dict) else {}

    def backend_options(self) -> dict[str, Any]:
        """Return the run options the job was submitted with (shots, memory, seed, ...)."""
        params = self._submitted_params()
        return {key: value for key, value in params.items() if key not in {"circuits", "header"}}

    def properties(self, refresh: bool = False) -> dict[str, Any] | None:
        """Return the backend properties document for this job's backend."""
        backend = self.backend()
        return backend.properties(refresh=refresh) if backend is not None else None

    # -- internals ------------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        # Extra fields from the job document are exposed with a trailing underscore
        # (``job.backend_``), as upstream does, so they never shadow a method.
        data = self.__dict__.get("_data", {})
        if name in data:
            return data[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def __repr__(self) -> str:
        status = self._status.name if self._status is not None else "UNKNOWN"
        return f"<IBMCircuitJob {self.job_id()} {status}>"

    def _current_status(self) -> JobStatus | None:
        with self._lock:
            return self._status

    def _set_status(self, status: JobStatus, api_status: str) -> None:
        with self._lock:
            old = self._status
            self._status = status
            self._api_status = api_status
        if old is not status:
            position = self._queue_info.position if self._queue_info else None
            self._host.job_status_changed(self, old, status, position)
            if status in FINAL_STATES:
                self._host.job_finished(self, status)

    def _apply(self, document: dict[str, Any]) -> None:
        """Take what a job document says; keep the last known status for unknown strings."""
        state = document.get("state") or {}
        api_status = state.get("status") or document.get("status")
        if not isinstance(api_status, str):
            raise IBMJobApiError(f"Unexpected job document for {self.job_id()}: no status")
        reason_code = state.get("reason_code", state.get("reasonCode"))
        with self._lock:
            self._reason = state.get("reason")
            self._reason_code = reason_code if isinstance(reason_code, int) else None
            if "created" in document:
                self._creation_date = parse_utc(document["created"])
            if isinstance(document.get("tags"), list):
                self._take_tags([str(tag) for tag in document["tags"]])
            if document.get("session_id"):
                self._session_id = document["session_id"]
            if isinstance(document.get("program"), dict):
                self._kind = str(document["program"].get("id", self._kind))
            estimate = document.get("estimated_running_time_seconds")
            if estimate is not None:
                self._usage_estimation = {"quantum_seconds": estimate}
            if isinstance(document.get("params"), dict):
                self._params = document["params"]
        status = to_job_status(api_status, self._reason_code)
        if status is None:
            if not self._warned_unknown:
                log.warning("job %s: unknown status %r; still waiting", self.job_id(), api_status)
                self._warned_unknown = True
            status = self._current_status() or JobStatus.INITIALIZING
        self._set_status(status, api_status)

    def _take_tags(self, tags: list[str]) -> None:
        names = [tag[len(NAME_TAG_PREFIX) :] for tag in tags if tag.startswith(NAME_TAG_PREFIX)]
        self._tags = sorted(tag for tag in tags if not tag.startswith(NAME_TAG_PREFIX))
        if names:
            self._name = names[0]

    def _read_metrics(self) -> None:
        metrics = self._api.job_metrics(self.job_id())
        self._queue_info = QueueInfo.from_metrics(self.job_id(), metrics)
        timestamps = metrics.get("timestamps")
        if isinstance(timestamps, dict):
            self._time_per_step = timestamps
        version = metrics.get("qiskit_version")
        if isinstance(version, str) and version:
            if "," in version:
                self._client_version = dict(
                    zip(("qiskit-ibm-provider", "qiskit-terra"), version.split(","), strict=False)
                )
            else:
                self._client_version = {"qiskit": version}

    def _submitted_params(self) -> dict[str, Any]:
        if self._params is None:
            document = self._api.job_get(self.job_id(), exclude_params=False)
            self._params = document.get("params") or {}
        decoded = self._decode(json.dumps(self._params), "params")
        return decoded if isinstance(decoded, dict) else {}

    def _decode(self, payload: str, kind: str) -> Any:
        context = DecodeContext(
            kind="params" if kind == "params" else "result",
            job_id=self.job_id(),
            program_id=self._kind,
            allow_unsafe=self._host.options.allow_unsafe_decoding,
        )
        return self._host.decode(payload, context)

    @staticmethod
    def _explain(result_text: str) -> str:
        found = _JOB_ERROR_PATTERN.search(result_text)
        if found:
            return found.group(1)
        if _TRACEBACK_MARK in result_text:
            last = result_text[result_text.rfind(_TRACEBACK_MARK) :].strip().splitlines()
            return f"Unknown error; {last[-1] if last else result_text}"
        return f"Unknown error; job result was\n{result_text}"
