"""qcourier: send Qiskit circuits to IBM-Quantum-style services and track the jobs.

::

    import qcourier

    with qcourier.connect() as service:  # the embedded local emulator
        job = service.backend().run(circuit, shots=1024)
        counts = job.result().get_counts()

Importing this package loads no plugin; each :func:`connect` assembles its own.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from qcourier.backend import IBMBackend
from qcourier.config import Options
from qcourier.errors import (
    ConfigError,
    IBMAuthError,
    IBMJobApiError,
    IBMJobError,
    IBMJobFailureError,
    IBMJobInvalidStateError,
    IBMJobNotFoundError,
    IBMJobTimeoutError,
    PluginConflictError,
    PluginError,
    PluginLoadError,
    PluginNotFoundError,
    QcourierError,
    QcourierPluginWarning,
    TransportError,
)
from qcourier.hooks import hookimpl
from qcourier.job import IBMCircuitJob
from qcourier.queue_info import QueueInfo
from qcourier.service import Service, connect

__version__ = "0.1.0"

if TYPE_CHECKING:
    from qcourier.aio import as_completed, result_async

_LAZY = {"as_completed": "qcourier.aio", "result_async": "qcourier.aio"}


def __getattr__(name: str) -> Any:
    # asyncio costs ~50 ms to import; only code that waits asynchronously pays for it.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'qcourier' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "IBMAuthError",
    "IBMBackend",
    "IBMCircuitJob",
    "IBMJobApiError",
    "IBMJobError",
    "IBMJobFailureError",
    "IBMJobInvalidStateError",
    "IBMJobNotFoundError",
    "IBMJobTimeoutError",
    "Options",
    "PluginConflictError",
    "PluginError",
    "PluginLoadError",
    "PluginNotFoundError",
    "QcourierError",
    "QcourierPluginWarning",
    "QueueInfo",
    "Service",
    "TransportError",
    "__version__",
    "as_completed",
    "connect",
    "hookimpl",
    "result_async",
]
