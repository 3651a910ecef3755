"""Connection options and where each one came from.

Precedence, highest first: keyword arguments to :func:`qcourier.connect`, ``QCOURIER_*``
environment variables, the chosen profile of the TOML config file, then the defaults below.
The config file is ``$QCOURIER_CONFIG`` or ``config.toml`` in the user config directory::

    default_profile = "ibm"

    [profiles.ibm]
    channel = "ibm_quantum_platform"
    api_key = "..."
    instance = "crn:v1:bluemix:public:quantum-computing:us-east:a/...::"
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from qcourier.errors import ConfigError
from qcourier.secret import Secret

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["ENV_PREFIX", "Options", "config_path", "resolve_options"]

ENV_PREFIX = "QCOURIER_"
ENV_CONFIG = f"{ENV_PREFIX}CONFIG"
DEFAULT_SOURCE = "default"


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty string")
    return value.strip()


def _secret(value: object) -> Secret:
    if isinstance(value, Secret):
        return value
    return Secret(_text(value))


def _positive(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]  # validated by the except below
    except (TypeError, ValueError):
        raise ValueError("expected a positive number of seconds") from None
    if isinstance(value, bool) or not number > 0 or number != number:
        raise ValueError("expected a positive number of seconds")
    return number


def _count(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number >= 0")
    try:
        number = int(str(value).strip()) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError("expected a whole number >= 0") from None
    if number < 0 or (isinstance(value, float) and value != number):
        raise ValueError("expected a whole number >= 0")
    return number


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _names(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("expected a list of plugin names")
    names = tuple(_text(item) for item in items)
    if len(set(names)) != len(names):
        raise ValueError("names a plugin twice")
    return names


def _chain(value: object) -> tuple[str, ...]:
    names = _names(value)
    if not names:
        raise ValueError("expected at least one plugin name, tried in order")
    return names


def _option(parse: Callable[[object], Any], default: Any = None, doc: str = "") -> Any:
    # Each field carries its parser and a one-line description (shown by `qcourier config`).
    return field(default=default, metadata={"parse": parse, "doc": doc})


@dataclass(frozen=True)
class Options:
    """Every connection option, resolved. Secrets are :class:`~qcourier.secret.Secret`."""

    channel: str = _option(_text, "local", "local (embedded emulator) or ibm_quantum_platform")
    base_url: str | None = _option(_text, None, "runtime API base URL; overrides the channel's")
    iam_url: str | None = _option(_text, None, "IAM token service base URL")
    api_key: Secret | None = _option(_secret, None, "IBM Cloud API key (exchanged for tokens)")
    token: Secret | None = _option(_secret, None, "a ready bearer token (selects bearer auth)")
    instance: str | None = _option(_text, None, "service instance CRN")
    transport: str = _option(_text, "ibm_rest", "plugin in qcourier.transport")
    auth: str | None = _option(_text, None, "qcourier.auth plugin; default bearer or ibm_iam")
    api: str = _option(_text, "ibm_runtime", "plugin in qcourier.api")
    decoders: tuple[str, ...] = _option(
        _chain, ("ibm_result", "ibm_tagged_json"), "qcourier.decoder plugins, tried in order"
    )
    wait: tuple[str, ...] = _option(
        _chain, ("websocket", "polling"), "qcourier.wait plugins, tried in order"
    )
    events: tuple[str, ...] | None = _option(
        _names, None, "qcourier.events plugins; default: every installed one"
    )
    connect_timeout: float = _option(_positive, 5.0, "seconds to open a connection")
    read_timeout: float = _option(_positive, 30.0, "seconds to wait for an answer")
    result_timeout: float = _option(_positive, 300.0, "read timeout of submits and results")
    max_retries: int = _option(_count, 5, "retries of connection errors and 5xx")
    backoff_factor: float = _option(_positive, 0.5, "exponential backoff base, seconds")
    retry_after_cap: float = _option(_positive, 120.0, "longest Retry-After honoured, seconds")
    poll_interval_max: float = _option(_positive, 3.0, "longest gap between status polls")
    proxy: str | None = _option(_text, None, "proxy URL for REST, IAM and websocket")
    ca_bundle: str | None = _option(_text, None, "CA bundle file for TLS verification")
    verify: bool = _option(_flag, True, "verify TLS certificates")
    emulator_db: str | None = _option(_text, None, "SQLite file of the embedded emulator")
    emulator_workers: int | None = _option(_count, None, "emulator worker threads (CPU count)")
    allow_unsafe_decoding: bool = _option(_flag, False, "decode result tags that import classes")
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def auth_name(self) -> str:
        """The auth plugin to load: the named one, else chosen by the credentials given."""
        if self.auth is not None:
            return self.auth
        return "bearer" if self.token is not None else "ibm_iam"

    def describe(self) -> list[tuple[str, str, str]]:
        """Rows of (option, value, source) for display; secrets stay masked."""
        rows = []
        for item in fields(self):
            if item.name == "sources":
                continue
            value = getattr(self, item.name)
            shown = (
                ",".join(value) if isinstance(value, tuple) else "" if value is None else str(value)
            )
            rows.append((item.name, shown, self.sources.get(item.name, DEFAULT_SOURCE)))
        return rows


OPTION_NAMES = tuple(item.name for item in fields(Options) if item.name != "sources")


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The TOML config file in use: ``$QCOURIER_CONFIG`` or the user config directory's."""
    env = os.environ if environ is None else environ
    explicit = env.get(ENV_CONFIG)
    if explicit:
        return Path(explicit).expanduser()
    return Path(platformdirs.user_config_dir("qcourier")) / "config.toml"


def _read_profile(path: Path, profile: str | None, explicit: bool) -> tuple[dict[str, Any], str]:
    if not path.exists():
        if explicit:
            raise ConfigError(
                f"config file {path} does not exist; create it or unset QCOURIER_CONFIG"
            )
        if profile is not None:
            raise ConfigError(
                f"profile {profile!r} requested but there is no config file at {path}"
            )
        return {}, ""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    profiles = document.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: 'profiles' must be a table of [profiles.NAME] sections")
    name = profile or document.get("default_profile")
    if name is None:
        return {}, ""
    if name not in profiles:
        available = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(f"{path}: no profile named {name!r}; available: {available}")
    section = profiles[name]
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [profiles.{name}] must be a table")
    return section, f"profile {name!r} in {path}"


def resolve_options(
    kwargs: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Options:
    """Merge keyword arguments, environment and config file into validated :class:`Options`.

    :raises ConfigError: naming the option, the bad value and where it came from.
    """
    given = dict(kwargs or {})
    env = os.environ if environ is None else environ
    profile = given.pop("profile", None) or env.get(f"{ENV_PREFIX}PROFILE") or None
    explicit_file = bool(env.get(ENV_CONFIG))
    file_values, file_source = _read_profile(config_path(env), profile, explicit_file)

    layers: list[tuple[str, Mapping[str, Any], Callable[[str], str]]] = [
        ("keyword argument", given, lambda key: key),
        ("environment variable", env, lambda key: f"{ENV_PREFIX}{key.upper()}"),
        (file_source, file_values, lambda key: key),
    ]
    unknown = [key for key in given if key not in OPTION_NAMES]
    unknown += [f"{key} ({file_source})" for key in file_values if key not in OPTION_NAMES]
    if unknown:
        raise ConfigError(
            f"unknown option(s): {', '.join(unknown)}; valid options: {', '.join(OPTION_NAMES)}"
        )

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    parsers = {item.name: item.metadata["parse"] for item in fields(Options) if item.metadata}
    for name in OPTION_NAMES:
        for source, layer, key_of in layers:
            key = key_of(name)
            if key not in layer or layer[key] is None:
                continue
            raw = layer[key]
            try:
                values[name] = parsers[name](raw)
            except ValueError as exc:
                where = f"{source} {key}" if source != file_source else f"{key} in {source}"
                shown = "***" if name in {"api_key", "token"} else repr(raw)
                raise ConfigError(
                    f"invalid value for {name!r}: {shown} (from {where}): {exc}"
                ) from None
            sources[name] = f"{source} {key}" if source != file_source else file_source
            break
    return Options(**values, sources=sources)
