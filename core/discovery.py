"""Find plugins through setuptools entry points, one group per concern.

Named plugins are loud: a missing, broken or duplicated name raises a :class:`PluginError`
that names the group and lists what is installed. Discovered observers are quiet: a broken
one gives a :class:`QcourierPluginWarning` and the rest load.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from stevedore import DriverManager
from stevedore.exception import MultipleMatches, NoMatches

from qcourier.errors import (
    PluginConflictError,
    PluginLoadError,
    PluginNotFoundError,
    QcourierPluginWarning,
)

__all__ = [
    "AUTOLOAD_ENV",
    "GROUPS",
    "available",
    "discover_observers",
    "load_named",
]

#: Each concern and the entry-point group that offers its plugins.
GROUPS: dict[str, str] = {
    "channel": "qcourier.channel",
    "transport": "qcourier.transport",
    "auth": "qcourier.auth",
    "api": "qcourier.api",
    "decoder": "qcourier.decoder",
    "wait": "qcourier.wait",
    "events": "qcourier.events",
    "commands": "qcourier.commands",
}

AUTOLOAD_ENV = "QCOURIER_DISABLE_PLUGIN_AUTOLOAD"


def _entries(group: str) -> list[EntryPoint]:
    # Listing reads metadata only; stevedore imports just the one plugin chosen below.
    return list(entry_points(group=group))


def available(group: str) -> list[str]:
    """Sorted names offered in *group*, without importing any of them."""
    return sorted({entry.name for entry in _entries(group)})


def _raise_load_error(manager: Any, entry_point: Any, exc: BaseException) -> None:
    raise PluginLoadError(
        f"{entry_point.group}:{entry_point.name}: cannot load {entry_point.value!r}: "
        f"{type(exc).__name__}: {exc}"
    ) from exc


def load_named(group: str, name: str) -> Any:
    """Import the plugin *name* of *group* and return what its entry point names.

    :raises PluginNotFoundError: no such name; the message lists the available ones.
    :raises PluginLoadError: it exists but fails to import (chained from the cause).
    :raises PluginConflictError: two distributions offer the name.
    """
    entries = [entry for entry in _entries(group) if entry.name == name]
    if not entries:
        names = ", ".join(available(group)) or "none installed"
        raise PluginNotFoundError(f"no {group!r} plugin named {name!r}; available: {names}")
    if len({entry.value for entry in entries}) > 1:
        targets = ", ".join(sorted(entry.value for entry in entries))
        raise PluginConflictError(
            f"{group}:{name} is offered more than once ({targets}); uninstall one of them"
        )
    try:
        manager = DriverManager(
            namespace=group,
            name=name,
            invoke_on_load=False,
            on_load_failure_callback=_raise_load_error,
        )
    except NoMatches as exc:  # pragma: no cover - list_entry_points saw it a moment ago
        raise PluginNotFoundError(f"no {group!r} plugin named {name!r}") from exc
    except MultipleMatches as exc:
        raise PluginConflictError(f"{group}:{name} is offered more than once") from exc
    return manager.driver


def discover_observers(group: str, named: Sequence[str] | None) -> list[tuple[str, Any]]:
    """Load the plugins of an observer group: the *named* ones, or every installed one.

    With :data:`AUTOLOAD_ENV` set, only named plugins load. A named plugin that fails is an
    error; a discovered one that fails is a warning.
    """
    if named is not None:
        return [(name, load_named(group, name)) for name in named]
    if os.environ.get(AUTOLOAD_ENV, "").strip() not in {"", "0"}:
        return []
    loaded = []
    for name in available(group):
        try:
            loaded.append((name, load_named(group, name)))
        except (PluginLoadError, PluginConflictError) as exc:
            warnings.warn(str(exc), QcourierPluginWarning, stacklevel=2)
    return loaded
