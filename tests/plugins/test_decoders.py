"""The result decoders: plain Result dicts, tagged JSON, and what they refuse to do."""

from __future__ import annotations

import base64
import copy
import io
import json
import pickle
import random
import sys
import zlib
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.primitives import PrimitiveResult
from qiskit.result import Counts, Result

from qcourier import IBMJobInvalidStateError, Service
from qcourier.decoding import DecodeContext
from qcourier.plugins.ibm_runtime import decoders, fast_result
from qcourier.plugins.ibm_runtime.decoders import ResultDecoder, TaggedJsonDecoder
from qcourier.plugins.ibm_runtime.fast_result import FastResult
from tests.circuits import bell

Connect = Callable[..., Service]
RESULT = DecodeContext(kind="result", job_id="j1")
PARAMS = DecodeContext(kind="params", job_id="j1")

BELL_RESULT = {
    "backend_name": "aer_simulator",
    "backend_version": "1.0.0",
    "qobj_id": "j1",
    "job_id": "j1",
    "success": True,
    "date": "2026-01-05T12:00:03Z",
    "results": [
        {
            "shots": 4,
            "success": True,
            "data": {"counts": {"0x0": 2, "0x3": 2}, "memory": ["0x0", "0x3", "0x3", "0x0"]},
            "header": {"name": "bell", "creg_sizes": [["meas", 2]], "memory_slots": 2},
        }
    ],
}


def test_hook_qcourier_decode_result_turns_a_circuit_runner_dict_into_a_result() -> None:
    result = ResultDecoder().qcourier_decode_result(json.dumps(BELL_RESULT), RESULT)
    assert isinstance(result, Result)
    assert isinstance(result, FastResult)
    assert result.get_counts() == {"00": 2, "11": 2}
    assert result.get_memory() == ["00", "11", "11", "00"]
    assert result.results[0].header["name"] == "bell"


def test_a_bell_job_decodes_to_counts_over_00_and_11_only(connect: Connect) -> None:
    job = connect().backend().run(bell(), shots=256)
    counts = job.result(timeout=60).get_counts()
    assert set(counts) <= {"00", "11"}
    assert sum(counts.values()) == 256


def test_result_decoder_leaves_tagged_and_foreign_payloads_without_parsing_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[str] = []
    loads = decoders._loads
    monkeypatch.setattr(decoders, "_loads", lambda text: parsed.append(text) or loads(text))
    decoder = ResultDecoder()
    tagged = json.dumps({"__type__": "PrimitiveResult", "__value__": {}})
    assert decoder.qcourier_decode_result(tagged, RESULT) is None
    assert decoder.qcourier_decode_result("Traceback: boom", RESULT) is None
    assert decoder.qcourier_decode_result(json.dumps(BELL_RESULT), PARAMS) is None
    assert parsed == []
    assert decoder.qcourier_decode_result('{"pubs": []}', RESULT) is None


def test_a_malformed_result_dict_is_an_unsupported_format_error() -> None:
    broken = {"results": [{"data": {}}]}
    with pytest.raises(IBMJobInvalidStateError, match="unsupported format"):
        ResultDecoder().qcourier_decode_result(json.dumps(broken), RESULT)


def test_a_sampler_result_decodes_to_a_primitive_result_with_a_bit_array(
    connect: Connect,
) -> None:
    service = connect()
    reply = service.host.api.submit_job(
        "sampler",
        "aer_simulator",
        {"pubs": [[bell(), None, 100]], "version": 2, "support_qiskit": True},
    )
    result = service.job(reply["id"]).result(timeout=60)
    assert isinstance(result, PrimitiveResult)
    bits = result[0].data.meas
    assert (bits.num_bits, bits.num_shots) == (2, 100)
    assert set(bits.get_counts()) <= {"00", "11"}


def test_tagged_json_decodes_job_params_with_circuits() -> None:
    from qcourier.plugins.ibm_runtime import tagged_json

    payload = tagged_json.encode({"circuits": [bell()], "shots": 10})
    params = TaggedJsonDecoder().qcourier_decode_result(payload, PARAMS)
    assert isinstance(params, dict)
    assert isinstance(params["circuits"][0], QuantumCircuit)
    assert params["circuits"][0] == bell()


def test_tagged_json_decoder_does_not_claim_text_that_is_not_json() -> None:
    assert TaggedJsonDecoder().qcourier_decode_result("Traceback: boom", RESULT) is None


def settings_tag(module: str, name: str, value: dict[str, Any]) -> str:
    return json.dumps(
        {
            "op": {
                "__type__": "settings",
                "__module__": module,
                "__class__": name,
                "__value__": value,
            }
        }
    )


def test_a_settings_tag_outside_the_allow_list_stays_a_dict_and_imports_nothing() -> None:
    module = "qcourier_tests_never_imported"
    payload = settings_tag(module, "Anything", {"x": 1})
    decoded = TaggedJsonDecoder().qcourier_decode_result(payload, RESULT)
    assert isinstance(decoded, dict)
    assert decoded["op"]["__module__"] == module
    assert module not in sys.modules


def test_allow_unsafe_decoding_rebuilds_a_settings_tag_of_any_class() -> None:
    payload = settings_tag("fractions", "Fraction", {"numerator": 3, "denominator": 4})
    unsafe = DecodeContext(kind="result", job_id="j1", allow_unsafe=True)
    decoded = TaggedJsonDecoder().qcourier_decode_result(payload, unsafe)
    assert decoded == {"op": Fraction(3, 4)}


TRIPPED: list[bool] = []


def trip() -> None:
    TRIPPED.append(True)


class Tripwire:
    """Unpickling this object calls :func:`trip` (pickled by reference, so it is this one)."""

    def __reduce__(self) -> tuple[Callable[[], None], tuple[()]]:
        return (trip, ())


def test_an_ndarray_holding_pickled_objects_is_refused_and_never_unpickled() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([Tripwire()], dtype=object), allow_pickle=True)
    value = base64.standard_b64encode(zlib.compress(buffer.getvalue())).decode()
    payload = json.dumps({"__type__": "ndarray", "__value__": value})
    for context in (RESULT, DecodeContext(kind="result", job_id="j1", allow_unsafe=True)):
        with pytest.raises(IBMJobInvalidStateError, match="'ndarray' tag holds pickled"):
            TaggedJsonDecoder().qcourier_decode_result(payload, context)
    assert TRIPPED == []


# --- FastResult: what the user reads is exactly what plain qiskit gives ---------------------


def experiment(
    counts: dict[str, int],
    header: dict[str, Any] | None,
    memory: list[str] | None = None,
    meas_level: int = 2,
) -> dict[str, Any]:
    data: dict[str, Any] = {"counts": counts}
    if memory is not None:
        data["memory"] = memory
    exp: dict[str, Any] = {
        "shots": sum(counts.values()),
        "success": True,
        "data": data,
        "meas_level": meas_level,
    }
    if header is not None:
        exp["header"] = header
    return exp


def result_dict(*experiments: dict[str, Any]) -> dict[str, Any]:
    return {
        "backend_name": "aer_simulator",
        "backend_version": "1.0.0",
        "job_id": "j1",
        "success": True,
        "results": list(experiments),
    }


def both(document: dict[str, Any]) -> tuple[Result, FastResult]:
    """The same document as plain qiskit reads it and as the ``ibm_result`` decoder does."""
    fast = ResultDecoder().qcourier_decode_result(json.dumps(document), RESULT)
    assert isinstance(fast, FastResult)
    return Result.from_dict(copy.deepcopy(document)), fast


def outcome(call: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """What *call* returns, or the type and text of what it raises."""
    try:
        return "returned", call(*args)
    except Exception as exc:
        return "raised", (type(exc), str(exc))


def assert_same_counts(expected: Any, actual: Any) -> None:
    """Equal, of the same type, keys in the same order, and the same Counts internals."""
    assert type(actual) is type(expected)
    if isinstance(expected, list):
        assert len(actual) == len(expected)
        for want, got in zip(expected, actual, strict=True):
            assert_same_counts(want, got)
        return
    assert actual == expected
    assert list(actual) == list(expected)
    if isinstance(expected, Counts):
        assert vars(actual) == vars(expected)
        assert list(actual.hex_raw) == list(expected.hex_raw)
        assert list(actual.int_outcomes().items()) == list(expected.int_outcomes().items())
        assert list(actual.hex_outcomes().items()) == list(expected.hex_outcomes().items())


def assert_fast_path(keys: list[str] | dict[str, int], header: dict[str, Any]) -> None:
    """The numpy pass formats these keys itself (the comparison with qiskit tests it)."""
    formatted = fast_result.format_hex_outcomes(
        keys, len(keys), header.get("memory_slots"), header.get("creg_sizes")
    )
    assert formatted is not None


def random_hex_counts(rng: random.Random, bits: int, keys: int) -> dict[str, int]:
    return {hex(rng.getrandbits(bits)): rng.randint(1, 50) for _ in range(keys)}


def test_counts_with_several_registers_match_qiskit_key_for_key() -> None:
    rng = random.Random(1)
    header = {
        "name": "three-registers",
        "creg_sizes": [["a", 3], ["b", 5], ["c", 2]],
        "memory_slots": 10,
        "time_taken": 0.25,
    }
    hex_counts = random_hex_counts(rng, 10, 300)
    assert_fast_path(hex_counts, header)
    plain, fast = both(result_dict(experiment(hex_counts, header)))
    counts = fast.get_counts()
    assert_same_counts(plain.get_counts(), counts)
    assert all(len(key.split(" ")) == 3 for key in counts)
    assert counts.time_taken == 0.25


def test_hex_keys_with_leading_zeros_and_upper_case_digits_match_qiskit() -> None:
    rng = random.Random(2)
    counts: dict[str, int] = {}
    for _ in range(200):
        value = rng.getrandbits(12)
        counts[f"0x{value:05x}"] = 1  # leading zeros, more digits than the value needs
        counts[f"0x{value:X}"] = 2  # upper case
        counts[hex(value)] = 3  # the same value again: qiskit keeps the last count
    header = {"creg_sizes": [["meas", 12]], "memory_slots": 12}
    assert_fast_path(counts, header)
    plain, fast = both(result_dict(experiment(counts, header)))
    assert_same_counts(plain.get_counts(), fast.get_counts())


def test_memory_matches_qiskit_shot_for_shot() -> None:
    rng = random.Random(3)
    memory = [hex(rng.getrandbits(9)) for _ in range(500)]
    counts = {key: memory.count(key) for key in dict.fromkeys(memory)}
    header = {"name": "m", "creg_sizes": [["x", 4], ["y", 5]], "memory_slots": 9}
    assert_fast_path(memory, header)
    plain, fast = both(result_dict(experiment(counts, header, memory)))
    assert fast.get_memory() == plain.get_memory()
    assert fast.get_memory(0) == plain.get_memory(0)
    assert_same_counts(plain.get_counts(0), fast.get_counts(0))


def test_get_counts_by_index_name_circuit_and_for_all_experiments_match_qiskit() -> None:
    rng = random.Random(4)
    experiments = [
        experiment(
            random_hex_counts(rng, 7, 100),
            {"name": f"circuit-{i}", "creg_sizes": [["c", 7]], "memory_slots": 7},
        )
        for i in range(3)
    ]
    plain, fast = both(result_dict(*experiments))
    assert_same_counts(plain.get_counts(), fast.get_counts())
    assert isinstance(fast.get_counts(), list)
    for key in (0, 2, -1, "circuit-1", QuantumCircuit(1, name="circuit-2")):
        assert_same_counts(plain.get_counts(key), fast.get_counts(key))
    for key in (3, "missing", [0, 1]):
        assert outcome(fast.get_counts, key) == outcome(plain.get_counts, key)
        assert outcome(fast.get_counts, key)[0] == "raised"


def test_int_outcomes_of_registers_wider_than_64_bits_match_qiskit() -> None:
    rng = random.Random(5)
    header = {"creg_sizes": [["wide", 100], ["narrow", 30]], "memory_slots": 130}
    hex_counts = random_hex_counts(rng, 130, 100)
    assert_fast_path(hex_counts, header)
    plain, fast = both(result_dict(experiment(hex_counts, header)))
    assert_same_counts(plain.get_counts(), fast.get_counts())
    assert max(fast.get_counts().int_outcomes()) > 2**64


def test_empty_results_and_empty_counts_match_qiskit() -> None:
    plain, fast = both(result_dict())
    assert fast.get_counts() == plain.get_counts() == []
    header = {"creg_sizes": [["c", 2]], "memory_slots": 2}
    plain, fast = both(result_dict(experiment({}, header, memory=[])))
    assert_same_counts(plain.get_counts(), fast.get_counts())
    assert fast.get_memory() == plain.get_memory() == []


# Unusual headers and keys: some the numpy pass formats, the others it leaves to qiskit.
UNUSUAL: dict[str, tuple[dict[str, Any] | None, Callable[[random.Random], str]]] = {
    "no header": (None, lambda rng: hex(rng.getrandbits(6))),
    "no memory_slots": ({"creg_sizes": [["c", 6]]}, lambda rng: hex(rng.getrandbits(6))),
    "memory_slots 0": ({"memory_slots": 0}, lambda rng: hex(rng.getrandbits(6))),
    "value wider than memory_slots": ({"memory_slots": 4}, lambda rng: hex(rng.getrandbits(6))),
    "registers shorter than memory_slots": (
        {"creg_sizes": [["a", 2], ["b", 1]], "memory_slots": 6},
        lambda rng: hex(rng.getrandbits(6)),
    ),
    "registers longer than memory_slots": (
        {"creg_sizes": [["a", 4], ["b", 0], ["c", 5]], "memory_slots": 6},
        lambda rng: hex(rng.getrandbits(6)),
    ),
    "a register of size 0 only": (
        {"creg_sizes": [["a", 0]], "memory_slots": 6},
        lambda rng: hex(rng.getrandbits(6)),
    ),
    "bitstring keys": ({"memory_slots": 6}, lambda rng: format(rng.getrandbits(6), "06b")),
    "0b keys": ({"memory_slots": 6}, lambda rng: bin(rng.getrandbits(6))),
    "a key with a space": ({"memory_slots": 6}, lambda rng: hex(rng.getrandbits(6)) + " "),
    "a key with an underscore": (
        {"memory_slots": 8},
        lambda rng: "0x_" + f"{rng.getrandbits(6):x}",
    ),
}


@pytest.mark.parametrize("case", sorted(UNUSUAL))
def test_unusual_headers_and_keys_read_as_qiskit_reads_them(case: str) -> None:
    header, make_key = UNUSUAL[case]
    rng = random.Random(case)
    memory = [make_key(rng) for _ in range(100)]
    counts = {key: memory.count(key) for key in dict.fromkeys(memory)}
    plain, fast = both(result_dict(experiment(counts, header, memory)))
    assert outcome(fast.get_counts) == outcome(plain.get_counts)
    got, want = outcome(fast.get_counts), outcome(plain.get_counts)
    if want[0] == "returned":
        assert_same_counts(want[1], got[1])
    assert outcome(fast.get_memory) == outcome(plain.get_memory)


def test_statevector_level_1_memory_and_missing_memory_behave_as_in_qiskit() -> None:
    state = {
        "shots": 1,
        "success": True,
        "data": {"statevector": [[0.6, 0.0], [0.8, 0.0]]},
        "header": {"name": "sv"},
    }
    level_1 = experiment({}, {"memory_slots": 2}, meas_level=1)
    level_1["data"] = {"memory": [[[0.1, 0.2], [0.3, 0.4]]] * 40}
    no_memory = experiment({"0x0": 40}, {"memory_slots": 1})
    plain, fast = both(result_dict(state, level_1, no_memory))
    assert fast.get_counts(0) == plain.get_counts(0)
    assert np.array_equal(fast.get_memory(1), plain.get_memory(1))
    for key in (1, 2):
        assert outcome(fast.get_counts, key) == outcome(plain.get_counts, key)
    assert outcome(fast.get_memory, 2) == outcome(plain.get_memory, 2)
    assert outcome(fast.get_memory, 2)[0] == "raised"


def test_random_results_read_the_same_as_with_qiskit() -> None:
    rng = random.Random(6)
    for _ in range(40):
        slots = rng.choice([1, 5, 8, 20, 64, 65])
        sizes = [rng.randint(0, slots) for _ in range(rng.randint(0, 3))]
        header: dict[str, Any] = {"memory_slots": slots}
        if sizes:
            header["creg_sizes"] = [[f"r{i}", size] for i, size in enumerate(sizes)]
        memory = [hex(rng.getrandbits(rng.randint(1, slots))) for _ in range(rng.randint(1, 200))]
        counts = {key: memory.count(key) for key in dict.fromkeys(memory)}
        plain, fast = both(result_dict(experiment(counts, header, memory)))
        assert_same_counts(plain.get_counts(), fast.get_counts())
        assert fast.get_memory() == plain.get_memory()


def test_few_keys_take_qiskits_own_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    hex_bytes = fast_result._hex_bytes
    monkeypatch.setattr(
        fast_result, "_hex_bytes", lambda keys, count: calls.append(count) or hex_bytes(keys, count)
    )
    header = {"memory_slots": 8}
    small = {hex(i): 1 for i in range(fast_result.SMALL - 1)}
    large = {hex(i): 1 for i in range(fast_result.SMALL)}
    plain, fast = both(result_dict(experiment(small, header), experiment(large, header)))
    assert_same_counts(plain.get_counts(), fast.get_counts())
    assert calls == [fast_result.SMALL]


def test_a_fast_result_pickles_as_a_plain_qiskit_result_and_copies_as_itself() -> None:
    header = {"creg_sizes": [["c", 6]], "memory_slots": 6}
    plain, fast = both(result_dict(experiment({hex(i): i + 1 for i in range(64)}, header)))
    loaded = pickle.loads(pickle.dumps(fast))
    assert type(loaded) is Result
    assert_same_counts(plain.get_counts(), loaded.get_counts())
    assert b"fast_result" not in pickle.dumps(fast)
    for copied in (copy.copy(fast), copy.deepcopy(fast)):
        assert isinstance(copied, FastResult)
        assert_same_counts(plain.get_counts(), copied.get_counts())
    deep = copy.deepcopy(fast)
    assert deep.results[0].data.counts is not fast.results[0].data.counts


def test_result_json_beyond_strict_json_is_parsed_as_json_parses_it() -> None:
    document = result_dict(experiment({"0x0": 3}, {"memory_slots": 1}))
    document["metadata"] = {
        "big": 2**70,
        "negative": -(2**63) - 1,
        "float": 0.1,
        "nan": float("nan"),
        "inf": float("inf"),
    }
    result = ResultDecoder().qcourier_decode_result(json.dumps(document), RESULT)
    assert isinstance(result, FastResult)
    assert result.metadata["big"] == 2**70
    assert isinstance(result.metadata["big"], int)
    assert result.metadata["negative"] == -(2**63) - 1
    assert result.metadata["float"] == 0.1
    assert np.isnan(result.metadata["nan"])
    assert result.metadata["inf"] == float("inf")


def test_loads_gives_what_json_loads_gives() -> None:
    texts = [
        '{"a": 1, "b": [1.5, -0.0, 1e-400, 1E2, true, null], "a": 2}',
        '{"n": 18446744073709551615, "m": 18446744073709551616, "k": -9223372036854775809}',
        '{"s": "caf\\u00e9 \\ud83d\\ude00", "lone": "\\ud800"}',
        '{"x": NaN, "y": -Infinity}',
        '{"digits": "0x1234567890123456789012"}',
    ]
    for text in texts:
        expected, got = json.loads(text), decoders._loads(text)
        assert repr(got) == repr(expected)
        assert list(got) == list(expected)
    for text in ('{"a": 1', "Traceback: boom", '{"a": "\x01"}'):
        with pytest.raises(json.JSONDecodeError):
            decoders._loads(text)


def test_a_counts_result_decoded_through_the_tagged_result_tag_is_a_fast_result() -> None:
    header = {"creg_sizes": [["c", 6]], "memory_slots": 6}
    document = result_dict(experiment({hex(i): 1 for i in range(40)}, header))
    tagged = json.dumps({"__type__": "Result", "__value__": document})
    decoded = TaggedJsonDecoder().qcourier_decode_result(tagged, RESULT)
    assert isinstance(decoded, FastResult)
    assert_same_counts(Result.from_dict(document).get_counts(), decoded.get_counts())


def test_duplicate_experiment_names_warn_and_read_the_first_as_qiskit_does() -> None:
    header = {"name": "twin", "creg_sizes": [["c", 6]], "memory_slots": 6}
    experiments = [experiment({hex(i): i + 1 for i in range(50)}, header)] * 2
    plain, fast = both(result_dict(*experiments))
    with pytest.warns(UserWarning, match="multiple results"):
        expected = plain.get_counts("twin")
    with pytest.warns(UserWarning, match="multiple results"):
        assert_same_counts(expected, fast.get_counts("twin"))
