"""Tagged JSON, the IBM runtime encoding of Qiskit objects (PROTOCOL.md §6.1).

Values are wrapped as ``{"__type__": T, "__value__": V}`` at any depth. :func:`encode` writes the
tags the runtime service and its clients write; :func:`decode` reads them back. Decoding is safe
by construction: nothing is ever unpickled (every ``numpy.load`` passes ``allow_pickle=False``),
``settings`` objects are rebuilt only for an allow-list of :mod:`qiskit.quantum_info` classes
(any other module is never imported), unknown tags are returned unchanged, and base64 input and
zlib output are capped (:class:`DecodeLimits`) so a small payload cannot inflate into gigabytes.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_LIMITS",
    "DecodeLimits",
    "PayloadTooLargeError",
    "TaggedJsonError",
    "UnsafePayloadError",
    "decode",
    "dumps",
    "encode",
    "loads",
]

#: QPY version written into ``QuantumCircuit`` tags. The real service loads at most this version
#: (rt 0.51 writes ``min(17, local)``); qiskit 2.x reads every version from 10 up.
SERVICE_QPY_VERSION = 17

#: ``qiskit.quantum_info`` classes a ``settings`` tag may rebuild; anything else stays a dict.
SETTINGS_ALLOW_LIST = frozenset(
    {
        "Clifford",
        "DensityMatrix",
        "Operator",
        "Pauli",
        "PauliList",
        "ScalarOp",
        "SparsePauliOp",
        "Statevector",
    }
)


class TaggedJsonError(ValueError):
    """A tagged-JSON payload could not be decoded."""


class PayloadTooLargeError(TaggedJsonError):
    """A binary field exceeds :class:`DecodeLimits` (a decompression-bomb guard)."""


class UnsafePayloadError(TaggedJsonError):
    """A binary field would need unpickling to load; it is refused, never loaded."""


@dataclass(frozen=True)
class DecodeLimits:
    """Caps applied to each binary field while decoding.

    :param max_base64_chars: longest base64 text accepted in one field.
    :param max_inflated_bytes: largest zlib output accepted for one field.
    """

    max_base64_chars: int = 64 * 1024 * 1024
    max_inflated_bytes: int = 256 * 1024 * 1024


DEFAULT_LIMITS = DecodeLimits()


def encode(obj: Any, **json_kwargs: Any) -> str:
    """Serialise *obj* to tagged JSON text.

    :param json_kwargs: passed to :func:`json.dumps` (e.g. ``indent``).
    """
    return json.dumps(obj, cls=_Encoder, **json_kwargs)


def decode(text: str | bytes, *, limits: DecodeLimits = DEFAULT_LIMITS) -> Any:
    """Parse tagged JSON *text*, rebuilding the Qiskit objects it names.

    :raises json.JSONDecodeError: when *text* is not JSON.
    :raises PayloadTooLargeError: when a binary field exceeds *limits*.
    :raises UnsafePayloadError: when an ``ndarray`` would need unpickling.
    :raises TaggedJsonError: when a known tag holds a malformed value.
    """
    return json.loads(text, object_hook=_Hook(limits))


dumps = encode
loads = decode


def _b64_zlib(raw: bytes, compress: bool = True) -> str:
    return base64.standard_b64encode(zlib.compress(raw) if compress else raw).decode("ascii")


def _circuit_bytes(circuit: Any) -> bytes:
    from qiskit import qpy

    buff = io.BytesIO()
    qpy.dump(circuit, buff, version=min(SERVICE_QPY_VERSION, qpy.QPY_VERSION))
    return buff.getvalue()


def _ndarray_bytes(array: np.ndarray[Any, Any]) -> bytes:
    buff = io.BytesIO()
    np.save(buff, array, allow_pickle=False)
    return buff.getvalue()


class _Encoder(json.JSONEncoder):
    """``json.JSONEncoder`` writing the runtime tags."""

    def default(self, o: Any) -> Any:
        tagged = _encode_value(o)
        if tagged is _UNHANDLED:
            return super().default(o)
        return tagged


_UNHANDLED = object()


def _tag(kind: str, value: Any) -> dict[str, Any]:
    return {"__type__": kind, "__value__": value}


def _encode_value(o: Any) -> Any:
    if isinstance(o, date):
        return _tag("datetime", o.isoformat())
    if isinstance(o, complex):
        return _tag("complex", [o.real, o.imag])
    if isinstance(o, np.ndarray):
        if o.dtype == object:
            return _tag("ndarray", o.tolist())
        return _tag("ndarray", _b64_zlib(_ndarray_bytes(o)))
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, (set, frozenset)):
        return _tag("set", list(o))
    return _encode_qiskit(o)


def _encode_qiskit(o: Any) -> Any:
    # Imported here so that encoding plain data never pays for importing qiskit.
    from qiskit.circuit import Parameter, ParameterExpression, QuantumCircuit
    from qiskit.primitives.containers import (
        BitArray,
        DataBin,
        PrimitiveResult,
        PubResult,
        SamplerPubResult,
    )
    from qiskit.result import Result

    if isinstance(o, QuantumCircuit):
        return _tag("QuantumCircuit", _b64_zlib(_circuit_bytes(o)))
    if isinstance(o, Parameter):
        return _tag("Parameter", _b64_zlib(_parameter_bytes(o), compress=False))
    if isinstance(o, ParameterExpression):
        return _tag("ParameterExpression", _b64_zlib(_expression_bytes(o), compress=False))
    if isinstance(o, Result):
        return _tag("Result", o.to_dict())
    if isinstance(o, BitArray):
        return _tag("BitArray", {"array": o.array, "num_bits": o.num_bits})
    if isinstance(o, DataBin):
        return _tag(
            "DataBin", {"field_names": list(o), "shape": list(o.shape), "fields": dict(o.items())}
        )
    if isinstance(o, SamplerPubResult):
        return _tag("SamplerPubResult", {"data": o.data, "metadata": o.metadata})
    if isinstance(o, PubResult):
        return _tag("PubResult", {"data": o.data, "metadata": o.metadata})
    if isinstance(o, PrimitiveResult):
        return _tag("PrimitiveResult", {"pub_results": list(o), "metadata": o.metadata})
    settings = getattr(o, "settings", None)
    if isinstance(settings, Mapping):
        return {
            "__type__": "settings",
            "__module__": type(o).__module__,
            "__class__": type(o).__name__,
            "__value__": _flag_int_keys(dict(settings)),
        }
    return _UNHANDLED


def _parameter_bytes(parameter: Any) -> bytes:
    # The runtime tags parameters with QPY's value records; qiskit only exposes them privately.
    from qiskit.qpy.binary_io import value

    buff = io.BytesIO()
    value._write_parameter(buff, parameter)
    return buff.getvalue()


def _expression_bytes(expression: Any) -> bytes:
    from qiskit import qpy
    from qiskit.qpy.binary_io import value

    buff = io.BytesIO()
    value._write_parameter_expression(buff, expression, False, version=qpy.QPY_VERSION)
    return buff.getvalue()


def _flag_int_keys(settings: dict[Any, Any]) -> dict[Any, Any]:
    # The runtime marks dicts with int keys, which JSON turns into strings.
    out: dict[Any, Any] = {}
    for key, val in settings.items():
        if isinstance(key, int):
            out["__int_keys__"] = True
        out[key] = _flag_int_keys(val) if isinstance(val, dict) else val
    return out


def _restore_int_keys(settings: dict[str, Any]) -> dict[Any, Any]:
    flagged = settings.pop("__int_keys__", False)
    out: dict[Any, Any] = {}
    for key, val in settings.items():
        restored = _restore_int_keys(val) if isinstance(val, dict) else val
        out[int(key) if flagged and key.lstrip("-").isdigit() else key] = restored
    return out


class _Hook:
    """``object_hook`` rebuilding tagged values under a set of :class:`DecodeLimits`."""

    def __init__(self, limits: DecodeLimits) -> None:
        self._limits = limits
        self._decoders: dict[str, Callable[[Any], Any]] = {
            "datetime": _decode_datetime,
            "complex": _decode_complex,
            "set": _decode_set,
            "ndarray": self._decode_ndarray,
            "QuantumCircuit": self._decode_circuit,
            "Instruction": self._decode_instruction,
            "Parameter": self._decode_parameter,
            "ParameterExpression": self._decode_expression,
            "Result": _decode_result,
            "to_json": lambda value: value,
            "BitArray": _decode_bit_array,
            "DataBin": _decode_data_bin,
            "SamplerPubResult": _decode_container("SamplerPubResult"),
            "PubResult": _decode_container("PubResult"),
            "PrimitiveResult": _decode_container("PrimitiveResult"),
        }

    def __call__(self, obj: dict[str, Any]) -> Any:
        kind = obj.get("__type__")
        if not isinstance(kind, str) or "__value__" not in obj:
            return obj
        if kind == "settings":
            return _decode_settings(obj)
        decoder = self._decoders.get(kind)
        if decoder is None:
            return obj
        try:
            return decoder(obj["__value__"])
        except TaggedJsonError:
            raise
        except Exception as exc:
            raise TaggedJsonError(f"malformed {kind!r} value: {exc}") from exc

    def _binary(self, value: Any, compressed: bool = True) -> bytes:
        if not isinstance(value, str):
            raise TaggedJsonError(f"expected base64 text, got {type(value).__name__}")
        limit = self._limits.max_base64_chars
        if len(value) > limit:
            raise PayloadTooLargeError(
                f"base64 field of {len(value)} characters exceeds the limit of {limit}"
            )
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise TaggedJsonError(f"invalid base64: {exc}") from exc
        return self._inflate(raw) if compressed else raw

    def _inflate(self, raw: bytes) -> bytes:
        limit = self._limits.max_inflated_bytes
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(raw, limit)
        except zlib.error as exc:
            raise TaggedJsonError(f"invalid zlib data: {exc}") from exc
        if inflater.unconsumed_tail:
            raise PayloadTooLargeError(f"zlib field inflates beyond the limit of {limit} bytes")
        return out

    def _decode_ndarray(self, value: Any) -> Any:
        if isinstance(value, (int, float, list)):
            return np.array(value)
        try:
            array = np.load(io.BytesIO(self._binary(value)), allow_pickle=False)
        except ValueError as exc:
            if "allow_pickle" in str(exc):
                raise UnsafePayloadError(
                    "ndarray holds Python objects; refusing to unpickle"
                ) from exc
            raise
        if not isinstance(array, np.ndarray):
            raise TaggedJsonError("ndarray value is not a .npy payload")
        return array

    def _decode_circuit(self, value: Any) -> Any:
        from qiskit import qpy

        circuits = qpy.load(io.BytesIO(self._binary(value)))
        if not circuits:
            raise TaggedJsonError("QPY payload holds no circuit")
        return circuits[0]

    def _decode_instruction(self, value: Any) -> Any:
        return self._decode_circuit(value).data[0].operation

    def _decode_parameter(self, value: Any) -> Any:
        from qiskit.qpy.binary_io import value as qpy_value

        return qpy_value._read_parameter(io.BytesIO(self._binary(value, compressed=False)))

    def _decode_expression(self, value: Any) -> Any:
        from qiskit import qpy
        from qiskit.qpy.binary_io import value as qpy_value

        buff = io.BytesIO(self._binary(value, compressed=False))
        return qpy_value._read_parameter_expression_v13(buff, {}, qpy.QPY_VERSION)


def _decode_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TaggedJsonError("datetime value must be an ISO string")
    # fromisoformat before 3.11 rejects a trailing "Z".
    return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)


def _decode_complex(value: Any) -> complex:
    real, imag = value
    return complex(float(real), float(imag))


def _decode_set(value: Any) -> set[Any]:
    return set(value)


def _decode_result(value: Any) -> Any:
    from qcourier.plugins.ibm_runtime.fast_result import FastResult

    return FastResult.from_dict(value)


def _decode_bit_array(value: Any) -> Any:
    # A qiskit BitArray whose get_counts() and get_bitstrings() count whole arrays at once.
    from qcourier.plugins.ibm_runtime.fast_result import FastBitArray

    array = np.asarray(value["array"], dtype=np.uint8)
    return FastBitArray(array, int(value["num_bits"]))


def _decode_data_bin(value: Any) -> Any:
    from qiskit.primitives.containers import DataBin

    shape = value.get("shape")
    return DataBin(shape=tuple(shape) if isinstance(shape, list) else shape, **value["fields"])


def _decode_container(kind: str) -> Callable[[Any], Any]:
    def decode_container(value: Any) -> Any:
        from qiskit.primitives import containers

        return getattr(containers, kind)(**value)

    return decode_container


def _decode_settings(obj: dict[str, Any]) -> Any:
    module, name, value = obj.get("__module__"), obj.get("__class__"), obj["__value__"]
    # Only allow-listed classes are rebuilt, and only via qiskit.quantum_info itself: the module
    # named in the payload is never imported (prov 0.11 imports whatever it is told to).
    if (
        not isinstance(module, str)
        or not module.startswith("qiskit.quantum_info.")
        or name not in SETTINGS_ALLOW_LIST
        or not isinstance(value, dict)
    ):
        return obj
    from qiskit import quantum_info

    try:
        return getattr(quantum_info, str(name))(**_restore_int_keys(value))
    except Exception as exc:
        raise TaggedJsonError(f"malformed settings for {name}: {exc}") from exc
