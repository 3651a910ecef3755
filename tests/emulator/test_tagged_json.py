"""The tagged-JSON codec shared by the emulator and the client (PROTOCOL.md §6.1, items 33, 34)."""

from __future__ import annotations

import base64
import copy
import io
import json
import pickle
import sys
import time
import zlib
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import PrimitiveResult, SamplerPubResult
from qiskit.primitives.containers import BitArray, DataBin
from qiskit.quantum_info import SparsePauliOp
from qiskit.result import Result

from qcourier.plugins.ibm_runtime import tagged_json
from qcourier.plugins.ibm_runtime.fast_result import SMALL, FastBitArray, FastResult
from qcourier.plugins.ibm_runtime.tagged_json import (
    DecodeLimits,
    PayloadTooLargeError,
    TaggedJsonError,
    UnsafePayloadError,
)


def roundtrip(value: object) -> object:
    return tagged_json.decode(tagged_json.encode(value))


def b64_zlib(raw: bytes) -> str:
    return base64.b64encode(zlib.compress(raw)).decode()


def test_plain_values_roundtrip() -> None:
    moment = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
    value = {"when": moment, "z": 1 - 2j, "s": {1, 2}, "n": [1, "a", None]}
    assert roundtrip(value) == value


def test_ndarray_roundtrips_with_dtype_and_shape() -> None:
    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    back = roundtrip(array)
    assert isinstance(back, np.ndarray)
    assert back.dtype == np.int16
    assert np.array_equal(back, array)


def test_ndarray_given_as_a_plain_list_decodes() -> None:
    back = tagged_json.decode('{"__type__": "ndarray", "__value__": [[1, 2], [3, 4]]}')
    assert np.array_equal(back, np.array([[1, 2], [3, 4]]))


def test_numpy_scalars_encode_as_plain_numbers() -> None:
    assert json.loads(tagged_json.encode([np.int64(3), np.float32(0.5), np.bool_(True)])) == [
        3,
        0.5,
        True,
    ]


def test_circuit_parameter_and_expression_roundtrip() -> None:
    theta = Parameter("θ")
    circuit = QuantumCircuit(2, name="bell")
    circuit.rx(theta, 0)
    circuit.cx(0, 1)
    circuit.measure_all()
    back = roundtrip({"c": circuit, "p": theta, "e": 2 * theta + 1})
    assert isinstance(back, dict)
    assert back["c"] == circuit
    assert back["p"] == theta
    assert back["e"] == 2 * theta + 1


def test_circuit_tag_is_base64_of_zlib_of_qpy() -> None:
    circuit = QuantumCircuit(1)
    circuit.x(0)
    raw = zlib.decompress(base64.b64decode(json.loads(tagged_json.encode(circuit))["__value__"]))
    assert raw.startswith(b"QISKIT")


def test_result_roundtrips() -> None:
    result = Result.from_dict(
        {
            "backend_name": "b",
            "backend_version": "1",
            "qobj_id": "q",
            "job_id": "j",
            "success": True,
            "results": [
                {
                    "shots": 4,
                    "success": True,
                    "data": {"counts": {"0x0": 4}},
                    "header": {"creg_sizes": [["c", 1]], "memory_slots": 1},
                }
            ],
        }
    )
    back = roundtrip(result)
    assert isinstance(back, Result)
    assert isinstance(back, FastResult)
    assert back.get_counts() == {"0": 4}


def test_sampler_primitive_result_roundtrips_with_packed_big_endian_bits() -> None:
    bits = BitArray.from_samples(["011", "100"], num_bits=3)
    result = PrimitiveResult(
        [SamplerPubResult(DataBin(meas=bits, shape=()), {"circuit_metadata": {}})],
        {"version": 2},
    )
    text = tagged_json.encode(result)
    raw = json.loads(text)["__value__"]["pub_results"][0]["__value__"]["data"]["__value__"]
    array = tagged_json.decode(json.dumps(raw["fields"]["meas"]["__value__"]["array"]))
    assert array.dtype == np.uint8
    assert array.tolist() == [[0b011], [0b100]]
    back = tagged_json.decode(text)
    assert isinstance(back, PrimitiveResult)
    assert isinstance(back[0], SamplerPubResult)
    assert isinstance(back[0].data.meas, FastBitArray)
    assert back[0].data.meas.get_counts() == {"011": 1, "100": 1}
    assert back.metadata == {"version": 2}


def test_large_bit_arrays_decode_fast() -> None:
    rng = np.random.default_rng(1)
    bits = BitArray(rng.integers(0, 256, size=(1_000_000, 2), dtype=np.uint8), 16)
    text = tagged_json.encode(DataBin(meas=bits, shape=()))
    started = time.monotonic()
    back = tagged_json.decode(text)
    assert time.monotonic() - started < 1.0
    assert back.meas == bits


def test_allow_listed_settings_are_rebuilt() -> None:
    operator = SparsePauliOp(["XZ", "YY"], coeffs=[1.0, 0.5])
    assert roundtrip(operator) == operator


def test_settings_naming_another_module_stay_a_dict_and_the_module_is_not_imported() -> None:
    name = "qcourier_never_imported_module"
    payload = {"__type__": "settings", "__module__": name, "__class__": "Evil", "__value__": {}}
    back = tagged_json.decode(json.dumps(payload))
    assert back == payload
    assert name not in sys.modules
    shell = {**payload, "__module__": "os", "__class__": "system", "__value__": {"command": "x"}}
    assert tagged_json.decode(json.dumps(shell)) == shell


def test_settings_of_a_non_listed_quantum_info_class_stay_a_dict() -> None:
    payload = {
        "__type__": "settings",
        "__module__": "qiskit.quantum_info.operators.channel.kraus",
        "__class__": "Kraus",
        "__value__": {"data": []},
    }
    assert tagged_json.decode(json.dumps(payload)) == payload


def test_unknown_tags_stay_as_they_are() -> None:
    payload = {"x": {"__type__": "pickle", "__value__": "gASVAAAA"}}
    assert tagged_json.decode(json.dumps(payload)) == payload


def test_pickled_object_array_is_refused_and_never_unpickled() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
    payload = json.dumps({"__type__": "ndarray", "__value__": b64_zlib(buffer.getvalue())})
    with pytest.raises(UnsafePayloadError):
        tagged_json.decode(payload)


def test_raw_pickle_in_an_ndarray_tag_is_refused() -> None:
    payload = json.dumps({"__type__": "ndarray", "__value__": b64_zlib(b"\x80\x04K\x01.")})
    with pytest.raises(UnsafePayloadError):
        tagged_json.decode(payload)


def test_decompression_bomb_is_stopped_at_the_inflate_cap() -> None:
    bomb = b64_zlib(b"\0" * (8 * 1024 * 1024))
    limits = DecodeLimits(max_inflated_bytes=1024 * 1024)
    with pytest.raises(PayloadTooLargeError, match="inflates beyond"):
        tagged_json.decode(json.dumps({"__type__": "ndarray", "__value__": bomb}), limits=limits)


def test_oversized_base64_is_refused_before_decoding() -> None:
    limits = DecodeLimits(max_base64_chars=100)
    payload = json.dumps({"__type__": "QuantumCircuit", "__value__": "A" * 101})
    with pytest.raises(PayloadTooLargeError, match="101 characters"):
        tagged_json.decode(payload, limits=limits)


@pytest.mark.parametrize(
    "payload",
    [
        {"__type__": "QuantumCircuit", "__value__": "not base64!"},
        {"__type__": "QuantumCircuit", "__value__": 12},
        {"__type__": "complex", "__value__": "1+2j"},
        {"__type__": "BitArray", "__value__": {"array": [[1]]}},
    ],
)
def test_malformed_known_tags_raise_a_value_error(payload: dict[str, object]) -> None:
    with pytest.raises(TaggedJsonError) as raised:
        tagged_json.decode(json.dumps(payload))
    assert isinstance(raised.value, ValueError)


# --- FastBitArray: counts, int counts and bitstrings exactly as qiskit's BitArray gives them ---


def outcome(call: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        return "returned", call(*args)
    except Exception as exc:
        return "raised", (type(exc), str(exc))


def assert_reads_like_qiskit(array: np.ndarray[Any, Any], num_bits: int, loc: Any = None) -> None:
    """Same values, same key order (first occurrence), same errors, for every reading."""
    plain, fast = BitArray(array, num_bits), FastBitArray(array, num_bits)
    for name in ("get_counts", "get_int_counts", "get_bitstrings"):
        expected = outcome(getattr(plain, name), loc)
        got = outcome(getattr(fast, name), loc)
        assert got == expected, name
        if expected[0] == "returned":
            assert type(got[1]) is type(expected[1])
            assert list(got[1]) == list(expected[1]), name


@pytest.mark.parametrize("num_bits", [1, 3, 7, 8, 9, 13, 20, 24, 57, 64, 65, 70, 127, 130])
def test_bit_array_counts_and_bitstrings_match_qiskit(num_bits: int) -> None:
    rng = np.random.default_rng(num_bits)
    num_bytes = -(-num_bits // 8)
    # Random bytes, straggling bits above num_bits included (qiskit ignores them).
    spread = rng.integers(0, 256, size=(1000, num_bytes), dtype=np.uint8)
    # Few distinct outcomes, so that counts are more than 1.
    pool = rng.integers(0, 256, size=(6, num_bytes), dtype=np.uint8)
    repeated = pool[rng.integers(0, len(pool), size=1000)]
    for array in (spread, repeated):
        assert_reads_like_qiskit(array, num_bits)
    counts = FastBitArray(repeated, num_bits).get_counts()
    assert all(len(key) == num_bits for key in counts)
    assert max(counts.values()) > 1


def test_bit_array_counts_of_a_shaped_pub_per_location_match_qiskit() -> None:
    rng = np.random.default_rng(7)
    array = rng.integers(0, 4, size=(2, 3, 200, 2), dtype=np.uint8)
    for loc in (None, (1, 2), (0, 0), (1,), 0, (5, 0)):
        assert_reads_like_qiskit(array, 11, loc)


def test_bit_arrays_with_few_or_no_shots_match_qiskit() -> None:
    rng = np.random.default_rng(8)
    for shots in (0, 1, SMALL - 1, SMALL):
        array = rng.integers(0, 256, size=(shots, 3), dtype=np.uint8)
        assert_reads_like_qiskit(array, 20)
    empty = FastBitArray(np.zeros((0, 3), dtype=np.uint8), 20)
    assert empty.get_counts() == {}
    assert empty.get_bitstrings() == []


def test_many_shots_of_wide_registers_group_by_value_in_shot_order() -> None:
    # 60 bits and 2**10 shots do not fit one 64-bit sort key: the lexsort path.
    rng = np.random.default_rng(9)
    values = rng.integers(0, 3, size=1024, dtype=np.uint64) << np.uint64(55)
    array = values.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 0:8].copy()
    assert_reads_like_qiskit(array, 60)
    assert len(FastBitArray(array, 60).get_counts()) == 3


def test_arrays_derived_from_a_fast_bit_array_stay_fast_and_equal() -> None:
    rng = np.random.default_rng(10)
    bits = FastBitArray(rng.integers(0, 256, size=(2, 3, 100, 2), dtype=np.uint8), 13)
    plain = BitArray(bits.array, 13)
    derived = {
        "index": (bits[1], plain[1]),
        "reshape": (bits.reshape(6), plain.reshape(6)),
        "transpose": (bits.transpose(), plain.transpose()),
        "slice_bits": (bits.slice_bits([0, 5, 12]), plain.slice_bits([0, 5, 12])),
        "slice_shots": (bits.slice_shots(range(50)), plain.slice_shots(range(50))),
        "postselect": (bits.postselect([0], [1]), plain.postselect([0], [1])),
        "and": (bits & bits[0, 0], plain & plain[0, 0]),
        "or": (bits | bits[0, 0], plain | plain[0, 0]),
        "xor": (bits ^ bits[0, 0], plain ^ plain[0, 0]),
        "invert": (~bits, ~plain),
    }
    for name, (fast, reference) in derived.items():
        assert isinstance(fast, FastBitArray), name
        assert fast == reference, name
        assert fast.get_counts() == reference.get_counts(), name
        assert list(fast.get_counts()) == list(reference.get_counts()), name


def test_a_fast_bit_array_pickles_as_a_plain_bit_array_and_copies_as_itself() -> None:
    array = np.arange(120, dtype=np.uint8).reshape(40, 3)
    bits = FastBitArray(array, 20)
    loaded = pickle.loads(pickle.dumps(bits))
    assert type(loaded) is BitArray
    assert loaded == bits
    assert b"fast_result" not in pickle.dumps(bits)
    shallow, deep = copy.copy(bits), copy.deepcopy(bits)
    assert isinstance(shallow, FastBitArray)
    assert isinstance(deep, FastBitArray)
    assert shallow.array is bits.array
    assert deep.array is not bits.array
    assert deep == bits


def test_sampler_counts_decoded_from_tagged_json_match_qiskit() -> None:
    rng = np.random.default_rng(11)
    pubs = []
    for num_bits in (5, 20):
        array = rng.integers(0, 256, size=(500, -(-num_bits // 8)), dtype=np.uint8)
        bits = BitArray(array, num_bits)
        pubs.append(SamplerPubResult(DataBin(meas=bits, shape=()), {"circuit_metadata": {}}))
    result = PrimitiveResult(pubs, {"version": 2})
    back = tagged_json.decode(tagged_json.encode(result))
    for original, decoded in zip(result, back, strict=True):
        expected = original.data.meas.get_counts()
        assert decoded.data.meas.get_counts() == expected
        assert list(decoded.data.meas.get_counts()) == list(expected)
        assert decoded.data.meas.get_bitstrings() == original.data.meas.get_bitstrings()
        assert decoded.data.meas.get_int_counts() == original.data.meas.get_int_counts()
