"""Every hook a qcourier plugin can implement.

Concern hooks are ``firstresult``: plugins are asked in order and the first non-``None`` answer
wins, so a plugin that cannot serve returns ``None``. Event hooks are broadcast to every
registered plugin and their return values are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pluggy

from qcourier.hooks import PROJECT

if TYPE_CHECKING:
    from qiskit.providers import JobStatus

    from qcourier.api import RuntimeApi
    from qcourier.config import Options
    from qcourier.decoding import DecodeContext
    from qcourier.endpoint import Endpoint
    from qcourier.host import PluginHost
    from qcourier.job import IBMCircuitJob
    from qcourier.messages import Request, Response

__all__ = [
    "hookspec",
    "qcourier_api_client",
    "qcourier_auth_refresh",
    "qcourier_authenticate",
    "qcourier_close",
    "qcourier_configure",
    "qcourier_decode_result",
    "qcourier_job_finished",
    "qcourier_job_status_changed",
    "qcourier_job_submitted",
    "qcourier_open_channel",
    "qcourier_send",
    "qcourier_wait_for_final_state",
]

hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec(historic=True)
def qcourier_configure(host: PluginHost) -> None:
    """Hand every plugin the connection it serves, once, right after assembly.

    Keep *host* on ``self`` to read :attr:`~qcourier.host.PluginHost.options`, send requests
    through :meth:`~qcourier.host.PluginHost.send` or reach the API client.

    :param host: the connection's plugin host.
    :returns: nothing; the return value is ignored.

    .. versionadded:: 0.1
    """


@hookspec
def qcourier_close() -> None:
    """Release what the plugin holds (sessions, threads, servers) as the connection closes.

    Called once per connection, in no guaranteed order; must not raise.

    :returns: nothing; the return value is ignored.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def qcourier_open_channel(options: Options) -> Endpoint | None:
    """Say where the service lives and which credentials reach it.

    The channel plugin named by ``channel`` may start something (the ``local`` channel starts
    the embedded emulator) and must stop it in :hook:`qcourier_close`.

    :param options: the resolved connection options.
    :returns: the endpoint, or ``None`` if this plugin is not a channel.
        Stops at the first non-None result.
    :raises qcourier.ConfigError: when the options cannot describe an endpoint.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def qcourier_send(request: Request) -> Response | None:
    """Deliver *request* and return the full response, whatever its status code.

    Exactly one transport serves a connection. Retries of transient failures belong here;
    turning a status code into an exception does not.

    :param request: the request, already carrying its auth headers.
    :returns: the response, or ``None`` if this plugin does not deliver requests.
        Stops at the first non-None result.
    :raises qcourier.TransportError: when no response could be had (refused, timed out).

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def qcourier_authenticate(request: Request) -> Mapping[str, str] | None:
    """Return the credential headers for *request*, fetching a token first if needed.

    :param request: the request about to be sent (read only).
    :returns: headers to add, or ``None`` if this plugin adds no credentials.
        Stops at the first non-None result.
    :raises qcourier.IBMAuthError: when the credentials are rejected.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def qcourier_auth_refresh(response: Response, request: Request) -> bool | None:
    """React to a 401: drop cached credentials so the next authentication fetches anew.

    The host replays the request once when this returns ``True``; a second 401 is an error.
    Compare the credentials in *request* with the current ones: if they were already
    replaced (another thread refreshed), keep the new ones and just ask for a replay.

    :param response: the 401 response.
    :param request: the request that was refused, with the credential headers it carried.
    :returns: ``True`` if the request is worth replaying, ``False`` if not, ``None`` if this
        plugin does not handle auth. Stops at the first non-None result.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def qcourier_api_client() -> RuntimeApi | None:
    """Build the object that speaks the service's job and backend endpoints.

    Called once per connection after :hook:`qcourier_configure`.

    :returns: the API client, or ``None`` if this plugin is not an API dialect.
        Stops at the first non-None result.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def qcourier_decode_result(payload: str, context: DecodeContext) -> object | None:
    """Turn a result or parameter payload into Python objects.

    Decoders are asked in the configured order. None may unpickle.

    :param payload: the body text as the service sent it.
    :param context: what the payload is (result or params), its job and program.
    :returns: the decoded object, or ``None`` if this decoder does not recognise the payload.
        Stops at the first non-None result.
    :raises qcourier.IBMJobInvalidStateError: when the payload is recognised but malformed.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def qcourier_wait_for_final_state(job: IBMCircuitJob, deadline: float | None) -> JobStatus | None:
    """Block until *job* reaches a final state (DONE, CANCELLED or ERROR).

    Strategies are asked in the configured order. One that cannot serve (no stream, a dropped
    connection) returns ``None`` and the next runs with what is left of the deadline. Never
    change the job's state on a network error: report it or hand over.

    :param job: the job to watch; read it and call its ``status()``, never set its fields.
    :param deadline: a :func:`time.monotonic` value after which to give up, or ``None`` to wait
        until the job ends.
    :returns: the final status, or ``None`` if this strategy cannot watch *job*.
        Stops at the first non-None result.
    :raises qcourier.IBMJobTimeoutError: when *deadline* passes first.

    .. versionadded:: 0.1
    """


@hookspec
def qcourier_job_submitted(job: IBMCircuitJob) -> None:
    """Announce a job the service accepted.

    :param job: the new job.
    :returns: nothing; the return value is ignored.

    .. versionadded:: 0.1
    """


@hookspec
def qcourier_job_status_changed(
    job: IBMCircuitJob, old: JobStatus | None, new: JobStatus, queue_position: int | None
) -> None:
    """Announce that a job's status as seen by the client changed.

    :param job: the job.
    :param old: the previous status, ``None`` when this is the first seen.
    :param new: the status now.
    :param queue_position: the job's place in the service queue when known.
    :returns: nothing; the return value is ignored.

    .. versionadded:: 0.1
    """


@hookspec
def qcourier_job_finished(job: IBMCircuitJob, status: JobStatus) -> None:
    """Announce that a job reached a final state.

    :param job: the job.
    :param status: DONE, CANCELLED or ERROR.
    :returns: nothing; the return value is ignored.

    .. versionadded:: 0.1
    """
