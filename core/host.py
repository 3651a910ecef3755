"""PluginHost: one connection's plugin manager and the typed facade core calls through."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy
from qiskit.providers import JobStatus

from qcourier.discovery import GROUPS, discover_observers, load_named
from qcourier.errors import ConfigError, IBMAuthError, PluginError, TransportError
from qcourier.hooks import PROJECT, spec
from qcourier.watcher import JobWatcher

if TYPE_CHECKING:
    from qcourier.api import RuntimeApi
    from qcourier.config import Options
    from qcourier.decoding import DecodeContext
    from qcourier.endpoint import Endpoint
    from qcourier.job import IBMCircuitJob
    from qcourier.messages import Request, Response

__all__ = ["TRACE_ENV", "PluginHost"]

log = logging.getLogger(__name__)
trace_log = logging.getLogger("qcourier.trace")

TRACE_ENV = "QCOURIER_TRACE_PLUGINS"


# Credentials as they appear in traced hook arguments and results (auth headers).
_CREDENTIAL = re.compile(r"(?i)\b(bearer|apikey)\s+[^\s'\",}]+|('x-access-token':\s*')[^']*")


def _write_trace(message: str) -> None:
    """Log one pluggy trace line with credentials masked."""
    masked = _CREDENTIAL.sub(
        lambda m: f"{m.group(1)} ***" if m.group(1) else f"{m.group(2)}***", message
    )
    trace_log.debug(masked.rstrip())


def _instantiate(target: Any) -> Any:
    """Entry points name a class (instantiated per connection) or a ready object."""
    return target() if isinstance(target, type) else target


class PluginHost:
    """Assembles the plugins of one connection and calls them on core's behalf.

    Build it with :meth:`from_options` (entry-point discovery) or directly from
    ``(registration name, plugin)`` pairs, as tests do. Plugins are registered as
    ``"<concern>:<name>"`` so traces and errors say which entry point answered.
    """

    def __init__(self, options: Options, plugins: Iterable[tuple[str, Any]]) -> None:
        #: The connection's resolved options.
        self.options = options
        self._pm = pluggy.PluginManager(PROJECT)
        self._pm.add_hookspecs(spec)
        if os.environ.get(TRACE_ENV, "").strip() not in {"", "0"}:
            self._pm.trace.root.setwriter(_write_trace)
            self._pm.enable_tracing()
        # pluggy calls the last registered implementation first, so register in reverse to
        # make the configured order the calling order of firstresult chains.
        for registration, plugin in reversed(list(plugins)):
            self._pm.register(_instantiate(plugin), name=registration)
        self._pm.check_pending()
        self._closed = False
        self._watcher: JobWatcher | None = None
        self._watcher_lock = threading.Lock()
        #: Where the service lives, from the channel plugin.
        self.endpoint = self._open_channel()
        try:
            self._pm.hook.qcourier_configure.call_historic(kwargs={"host": self})
            api = self._pm.hook.qcourier_api_client()
            if api is None:
                raise PluginError(
                    f"no 'qcourier.api' plugin built an API client (api={options.api!r})"
                )
        except BaseException:
            # The channel may have started a server: stop it before giving up.
            self.close()
            raise
        #: The API client that speaks the service's job and backend endpoints.
        self.api: RuntimeApi = api

    @classmethod
    def from_options(cls, options: Options) -> PluginHost:
        """Load the plugins *options* name, in their groups, and assemble them."""
        chosen: list[tuple[str, str]] = [
            ("channel", options.channel),
            ("transport", options.transport),
            ("auth", options.auth_name),
            ("api", options.api),
        ]
        chosen += [("decoder", name) for name in options.decoders]
        chosen += [("wait", name) for name in options.wait]
        plugins = [
            (f"{concern}:{name}", load_named(GROUPS[concern], name)) for concern, name in chosen
        ]
        observers = discover_observers(GROUPS["events"], options.events)
        plugins += [(f"events:{name}", plugin) for name, plugin in observers]
        return cls(options, plugins)

    @property
    def watcher(self) -> JobWatcher:
        """The connection's one job watcher thread, shared by every polling wait."""
        with self._watcher_lock:
            if self._watcher is None:
                self._watcher = JobWatcher(
                    self.options.poll_interval_max, name=f"qcourier-watcher-{id(self):x}"
                )
            return self._watcher

    def plugin_names(self) -> list[str]:
        """Registration names of the plugins in this connection."""
        return [name for name, _ in self._pm.list_name_plugin()]

    # -- facade: one method per hook ------------------------------------------------------

    def _open_channel(self) -> Endpoint:
        endpoint = self._pm.hook.qcourier_open_channel(options=self.options)
        if endpoint is None:
            raise ConfigError(f"channel {self.options.channel!r} produced no endpoint")
        return endpoint  # type: ignore[no-any-return]

    def auth_headers(self, request: Request) -> dict[str, str]:
        """Credential headers for *request* from the auth plugin."""
        headers = self._pm.hook.qcourier_authenticate(request=request)
        return dict(headers or {})

    def send(self, request: Request) -> Response:
        """Authenticate and deliver *request*; on a 401, refresh once and replay once.

        :raises TransportError: when no response could be had.
        :raises IBMAuthError: when the replay after a refresh is refused again.
        """
        sent, response = self._deliver(request)
        if response.status != 401 or not request.authenticate:
            return response
        if not self._pm.hook.qcourier_auth_refresh(response=response, request=sent):
            return response
        _, replay = self._deliver(request)
        if replay.status == 401:
            raise IBMAuthError(
                "the service refused the credentials again after a token refresh; "
                "check the API key (it may be revoked) and the instance CRN",
                status_code=401,
            )
        return replay

    def _deliver(self, request: Request) -> tuple[Request, Response]:
        """Send *request* with its credentials; return what was sent and the answer."""
        if request.authenticate:
            request = request.with_headers(self.auth_headers(request))
        response = self._pm.hook.qcourier_send(request=request)
        if response is None:
            raise TransportError(f"no transport plugin delivered {request.method} {request.url}")
        return request, response

    def decode(self, payload: str, context: DecodeContext) -> Any:
        """Decode *payload* with the first decoder that recognises it."""
        decoded = self._pm.hook.qcourier_decode_result(payload=payload, context=context)
        if decoded is None:
            raise PluginError(
                f"no decoder recognised the {context.kind} of job {context.job_id} "
                f"(decoders tried: {', '.join(self.options.decoders)})"
            )
        return decoded

    def wait_for_final_state(self, job: IBMCircuitJob, deadline: float | None) -> JobStatus:
        """Block with the configured wait strategies until *job* is final."""
        status = self._pm.hook.qcourier_wait_for_final_state(job=job, deadline=deadline)
        if status is None:
            raise PluginError(
                f"no wait strategy could watch job {job.job_id()} "
                f"(strategies: {', '.join(self.options.wait)}); add 'polling' to wait"
            )
        return status

    def job_submitted(self, job: IBMCircuitJob) -> None:
        self._notify(self._pm.hook.qcourier_job_submitted, job=job)

    def job_status_changed(
        self,
        job: IBMCircuitJob,
        old: JobStatus | None,
        new: JobStatus,
        queue_position: int | None,
    ) -> None:
        self._notify(
            self._pm.hook.qcourier_job_status_changed,
            job=job,
            old=old,
            new=new,
            queue_position=queue_position,
        )

    def job_finished(self, job: IBMCircuitJob, status: JobStatus) -> None:
        self._notify(self._pm.hook.qcourier_job_finished, job=job, status=status)

    @staticmethod
    def _notify(hook: pluggy.HookCaller, **kwargs: Any) -> None:
        # An observer's bug must not break the job it observes: log it and carry on.
        try:
            hook(**kwargs)
        except Exception:
            log.exception("an events plugin failed in %s", hook.name)

    def close(self) -> None:
        """Tell every plugin to release what it holds; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        with self._watcher_lock:
            watcher = self._watcher
        if watcher is not None:
            watcher.close()
        self._pm.hook.qcourier_close()

    def __repr__(self) -> str:
        return f"<PluginHost {', '.join(self.plugin_names())}>"
