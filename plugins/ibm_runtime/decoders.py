"""Result decoders: ``ibm_result`` (circuit-runner Result dicts) and ``ibm_tagged_json``.

Neither ever unpickles. Each payload is parsed once: ``ibm_result`` recognises a tagged
envelope from its first bytes and leaves it to ``ibm_tagged_json`` without parsing it.
Both return :mod:`~qcourier.plugins.ibm_runtime.fast_result` subclasses of qiskit's ``Result``
and ``BitArray``, which read counts, memory and bitstrings in one numpy pass.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
from typing import Any

import orjson

from qcourier.decoding import DecodeContext
from qcourier.errors import IBMJobInvalidStateError
from qcourier.hooks import hookimpl
from qcourier.plugins.ibm_runtime import tagged_json

__all__ = ["ResultDecoder", "TaggedJsonDecoder"]

log = logging.getLogger(__name__)

# A tagged envelope starts with its "__type__" key (the encoders write it first).
_TAGGED_PREFIX = re.compile(r'\s*\{\s*"__type__"\s*:')

# orjson reads an integer beyond 64 bits as a float, where json keeps it exact; text holding 19
# digits in a row anywhere (a long number, or digits inside a string) goes to json instead.
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


def _loads(payload: str) -> Any:
    """``json.loads(payload)``, through orjson (about twice as fast) whenever it gives the same.

    orjson refuses what json accepts beyond strict JSON (``NaN``, ``Infinity``, lone surrogates,
    numbers out of float range); those and long integers are parsed by json.

    :raises ValueError: when *payload* is not JSON.
    """
    data = payload.encode("utf-8", "surrogatepass")
    if _LONG_NUMBER not in data.translate(_DIGITS_AS_ZEROS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(payload)


class ResultDecoder:
    """Decodes circuit-runner results: a plain qiskit ``Result`` dict (PROTOCOL.md §6.2).

    Hex count keys and ``memory`` become bitstrings through each experiment's ``header``
    (``creg_sizes``, ``memory_slots``) when the caller asks for counts or memory, as qiskit does:
    the result is a :class:`~qcourier.plugins.ibm_runtime.fast_result.FastResult`, a ``Result``
    that formats each experiment in one numpy pass.
    """

    @hookimpl
    def qcourier_decode_result(self, payload: str, context: DecodeContext) -> object | None:
        if context.kind != "result" or not payload.lstrip().startswith("{"):
            return None
        if _TAGGED_PREFIX.match(payload):
            return None
        try:
            document = _loads(payload)
        except ValueError:
            return None
        if not isinstance(document, dict) or "results" not in document:
            return None
        from qcourier.plugins.ibm_runtime.fast_result import FastResult

        try:
            result: object = FastResult.from_dict(document)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise IBMJobInvalidStateError(
                f"the result of job {context.job_id} is in an unsupported format: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return result


class TaggedJsonDecoder:
    """Decodes tagged JSON (``{"__type__": ..., "__value__": ...}``) results and parameters.

    ``PrimitiveResult``, pub results, ``DataBin``, ``BitArray``, ``ndarray``, circuits and the
    other tags of PROTOCOL.md §6.1 become qiskit and numpy objects; unknown tags stay as they
    are. A ``settings`` tag outside the :mod:`qiskit.quantum_info` allow-list stays a dict
    unless the user set ``allow_unsafe_decoding``, which imports the class it names.
    """

    @hookimpl
    def qcourier_decode_result(self, payload: str, context: DecodeContext) -> object | None:
        try:
            decoded: object = tagged_json.decode(payload)
        except json.JSONDecodeError:
            return None
        except tagged_json.UnsafePayloadError as exc:
            raise IBMJobInvalidStateError(
                f"refusing to decode the {context.kind} of job {context.job_id}: an 'ndarray' "
                f"tag holds pickled Python objects ({exc}); qcourier never unpickles"
            ) from None
        except tagged_json.PayloadTooLargeError as exc:
            raise IBMJobInvalidStateError(
                f"refusing to decode the {context.kind} of job {context.job_id}: {exc}"
            ) from None
        except tagged_json.TaggedJsonError as exc:
            raise IBMJobInvalidStateError(
                f"the {context.kind} of job {context.job_id} is malformed: {exc}"
            ) from exc
        if context.allow_unsafe:
            decoded = _rebuild_settings(decoded)
        return decoded


def _rebuild_settings(value: Any) -> Any:
    """Build the objects of the ``settings`` tags the safe decoder left as dicts.

    Only reached when the user opted in: it imports whatever module the payload names.
    """
    if isinstance(value, list):
        return [_rebuild_settings(item) for item in value]
    if not isinstance(value, dict):
        return value
    rebuilt = {key: _rebuild_settings(item) for key, item in value.items()}
    if rebuilt.get("__type__") != "settings":
        return rebuilt
    module, name = rebuilt.get("__module__"), rebuilt.get("__class__")
    settings = rebuilt.get("__value__")
    if not isinstance(module, str) or not isinstance(name, str) or not isinstance(settings, dict):
        return rebuilt
    log.debug("allow_unsafe_decoding: importing %s.%s", module, name)
    try:
        cls = getattr(importlib.import_module(module), name)
        return cls(**_int_keys(settings))
    except Exception as exc:
        raise IBMJobInvalidStateError(
            f"cannot rebuild the 'settings' tag for {module}.{name}: {type(exc).__name__}: {exc}"
        ) from exc


def _int_keys(settings: dict[str, Any]) -> dict[Any, Any]:
    """Undo JSON's stringified int keys in dicts the encoder flagged with ``__int_keys__``."""
    flagged = settings.get("__int_keys__", False)
    return {
        int(key) if flagged and key.lstrip("-").isdigit() else key: (
            _int_keys(item) if isinstance(item, dict) else item
        )
        for key, item in settings.items()
        if key != "__int_keys__"
    }
