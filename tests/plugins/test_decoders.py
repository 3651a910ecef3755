"""The result decoders: plain Result dicts, tagged JSON, and what they refuse to do."""

from __future__ import annotations

import base64
import io
import json
import sys
import zlib
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.primitives import PrimitiveResult
from qiskit.result import Result

from qcourier import IBMJobInvalidStateError, Service
from qcourier.decoding import DecodeContext
from qcourier.plugins.ibm_runtime import decoders
from qcourier.plugins.ibm_runtime.decoders import ResultDecoder, TaggedJsonDecoder
from tests.plugins.conftest import bell

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
    loads = json.loads
    monkeypatch.setattr(decoders.json, "loads", lambda text: parsed.append(text) or loads(text))
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
