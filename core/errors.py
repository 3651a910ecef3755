"""Exceptions raised by qcourier.

Job errors mirror qiskit-ibm-provider's hierarchy so code written against it keeps working;
plugin and configuration errors name the group, the plugin and what to do instead.
"""

from __future__ import annotations

from qiskit.providers.exceptions import JobError

__all__ = [
    "ConfigError",
    "IBMAuthError",
    "IBMJobApiError",
    "IBMJobError",
    "IBMJobFailureError",
    "IBMJobInvalidStateError",
    "IBMJobNotFoundError",
    "IBMJobTimeoutError",
    "PluginConflictError",
    "PluginError",
    "PluginLoadError",
    "PluginNotFoundError",
    "QcourierError",
    "QcourierPluginWarning",
    "TransportError",
]


class QcourierError(Exception):
    """Base class of every error qcourier raises that is not a job error."""


class IBMJobError(JobError):  # type: ignore[misc]  # qiskit is untyped
    """Base class for errors raised by :class:`~qcourier.IBMCircuitJob`."""

    def __str__(self) -> str:
        # qiskit's errors print repr(message), quotes and escaped newlines included.
        return str(self.message)


class IBMJobApiError(IBMJobError):
    """The service answered a job request with an error, or could not be reached.

    :ivar status_code: the HTTP status, or ``None`` when no answer arrived.
    """

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class IBMJobNotFoundError(IBMJobApiError):
    """No job with that id exists for this account."""


class IBMAuthError(IBMJobApiError):
    """The service rejected the credentials (a bad API key or token)."""


class IBMJobFailureError(IBMJobError):
    """The job finished in the ERROR state."""


class IBMJobTimeoutError(IBMJobError):
    """A wait on a job passed its deadline before the job reached a final state."""


class IBMJobInvalidStateError(IBMJobError):
    """The request does not fit the job's state (e.g. cancelling a finished job)."""


class TransportError(QcourierError):
    """A request could not be delivered (connection refused, timeout, TLS failure)."""


class ConfigError(QcourierError, ValueError):
    """An option has an invalid value; the message names the key, value and source."""


class PluginError(QcourierError):
    """Base class of plugin selection and loading errors."""


class PluginNotFoundError(PluginError, LookupError):
    """No plugin of that name is installed in the group."""


class PluginLoadError(PluginError, ImportError):
    """A plugin was found but could not be imported or instantiated."""


class PluginConflictError(PluginError):
    """Two installed distributions offer the same plugin name in one group."""


class QcourierPluginWarning(UserWarning):
    """A plugin found while discovering (not named by the user) could not be loaded."""
