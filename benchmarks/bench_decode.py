"""Result decoding, from the text the service sends to what the user reads.

Ours is the connection's decoder chain (the ``qcourier.decoder`` plugins of the default
``decoders`` option, loaded through their entry points into a :class:`~qcourier.host.PluginHost`
and called by its ``decode``, as ``job.result()`` does). The reference is qiskit-ibm-runtime
0.51: ``RunnerResultDecoder`` (``RuntimeDecoder`` + ``Result.from_dict``) for circuit-runner
results and ``ResultDecoder`` (``RuntimeDecoder``) for sampler results. Both end where the user
reads: ``get_counts()`` of every experiment (``get_memory()`` too, when present) and
``BitArray.get_counts()`` of every pub; the values are asserted identical.

Payloads are generated with a seeded numpy generator in the wire formats of PROTOCOL.md §6.2
(a plain Result dict, hex keys) and §6.3 (tagged ``PrimitiveResult``, ``BitArray`` as
b64(zlib(npy))). Outcomes are uniform over all 2^20 bitstrings, so nearly every shot is a
distinct key: the worst case for counts, as from a scrambling circuit.
"""

from __future__ import annotations

import base64
import gc
import io
import json
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from harness import Report, Table, Target, main, min_median, ratio, seconds

SEED = 1234
NUM_BITS = 20
SPEEDUP_GOAL = 3.0

Decoder = Callable[[str], Any]
Reader = Callable[[Any], Any]


@dataclass
class Payload:
    """One result text and how the user reads it."""

    name: str
    program: str
    text: str
    read: Reader
    large: bool


def _random_outcomes(rng: np.random.Generator, shots: int) -> np.ndarray[Any, Any]:
    return rng.integers(0, 2**NUM_BITS, size=shots, dtype=np.int64)


def _experiment(
    index: int, shots: int, counts: dict[str, int], memory: list[str] | None, width: int
) -> dict[str, Any]:
    data: dict[str, Any] = {"counts": counts}
    if memory is not None:
        data["memory"] = memory
    return {
        "shots": shots,
        "success": True,
        "data": data,
        "meas_level": 2,
        "status": "DONE",
        "seed_simulator": SEED + index,
        "time_taken": 0.01,
        "header": {
            "name": f"circuit-{index}",
            "creg_sizes": [["meas", width]],
            "memory_slots": width,
            "qreg_sizes": [["q", width]],
            "n_qubits": width,
            "global_phase": 0.0,
            "metadata": {},
        },
    }


def _hex_counts(outcomes: np.ndarray[Any, Any]) -> dict[str, int]:
    values, counts = np.unique(outcomes, return_counts=True)
    return {hex(int(value)): int(count) for value, count in zip(values, counts, strict=True)}


def _result_text(experiments: list[dict[str, Any]]) -> str:
    """A circuit-runner ``/results`` body: a plain Result dict (PROTOCOL.md §6.2)."""
    return json.dumps(
        {
            "backend_name": "aer_simulator",
            "backend_version": "1.0.0",
            "qobj_id": "bench",
            "job_id": "bench",
            "success": True,
            "status": "COMPLETED",
            "date": "2026-01-05T12:00:03.000000Z",
            "header": {"backend_name": "aer_simulator", "backend_version": "1.0.0"},
            "results": experiments,
        }
    )


def _ndarray_tag(array: np.ndarray[Any, Any]) -> dict[str, Any]:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    packed = base64.standard_b64encode(zlib.compress(buffer.getvalue())).decode("ascii")
    return {"__type__": "ndarray", "__value__": packed}


def _sampler_text(rng: np.random.Generator, pubs: int, shots: int) -> str:
    """A sampler ``/results`` body: a tagged ``PrimitiveResult`` (PROTOCOL.md §6.3)."""
    results = []
    for _ in range(pubs):
        outcomes = _random_outcomes(rng, shots)
        # Big-endian bytes per shot: clbit 0 is the lowest bit of the last byte.
        packed = np.stack(
            [(outcomes >> 16) & 0xFF, (outcomes >> 8) & 0xFF, outcomes & 0xFF], axis=1
        ).astype(np.uint8)
        bits = {
            "__type__": "BitArray",
            "__value__": {"array": _ndarray_tag(packed), "num_bits": NUM_BITS},
        }
        data = {
            "__type__": "DataBin",
            "__value__": {"field_names": ["meas"], "shape": [], "fields": {"meas": bits}},
        }
        results.append(
            {
                "__type__": "SamplerPubResult",
                "__value__": {"data": data, "metadata": {"circuit_metadata": {}}},
            }
        )
    value = {"pub_results": results, "metadata": {"version": 2}}
    return json.dumps({"__type__": "PrimitiveResult", "__value__": value})


def _read_counts(result: Any) -> Any:
    return result.get_counts()


def _read_counts_and_memory(result: Any) -> Any:
    return result.get_counts(), [result.get_memory(i) for i in range(len(result.results))]


def _read_sampler(result: Any) -> Any:
    return [pub.data.meas.get_counts() for pub in result]


def payloads(quick: bool) -> list[Payload]:
    """The four payloads of the issue, deterministic for a given seed."""
    rng = np.random.default_rng(SEED)
    zeros = int(rng.binomial(1024, 0.5))
    bell = _result_text([_experiment(0, 1024, {"0x0": zeros, "0x3": 1024 - zeros}, None, 2)])
    counts = _result_text(
        [
            _experiment(i, 4096, _hex_counts(_random_outcomes(rng, 4096)), None, NUM_BITS)
            for i in range(100)
        ]
    )
    memory_experiments = []
    for i in range(10):
        outcomes = _random_outcomes(rng, 10_000)
        memory = [hex(int(value)) for value in outcomes]
        memory_experiments.append(_experiment(i, 10_000, _hex_counts(outcomes), memory, NUM_BITS))
    return [
        Payload(
            "1 Bell result (2 qubits, 1024 shots)", "circuit-runner", bell, _read_counts, False
        ),
        Payload(
            "100 circuits × 20 qubits × 4096 shots, counts",
            "circuit-runner",
            counts,
            _read_counts,
            True,
        ),
        Payload(
            "10 circuits × 20 qubits × 10,000 shots, counts + memory",
            "circuit-runner",
            _result_text(memory_experiments),
            _read_counts_and_memory,
            True,
        ),
        Payload(
            "SamplerV2: 10 pubs × 20 qubits × 10,000 shots",
            "sampler",
            _sampler_text(rng, 10, 10_000),
            _read_sampler,
            True,
        ),
    ]


def our_decoder() -> Callable[[str, str], Any]:
    """``PluginHost.decode`` over the default decoder chain, loaded by entry point."""
    from qcourier import hookimpl
    from qcourier.config import Options
    from qcourier.decoding import DecodeContext
    from qcourier.discovery import GROUPS, load_named
    from qcourier.endpoint import Endpoint
    from qcourier.host import PluginHost

    class NoChannel:
        """Names an endpoint nobody calls: decoding sends no request."""

        @hookimpl
        def qcourier_open_channel(self, options: Options) -> Endpoint:
            return Endpoint(runtime_url="http://127.0.0.1:9/api/v1", iam_url="http://127.0.0.1:9")

    class NoApi:
        """An API plugin whose client is never used."""

        @hookimpl
        def qcourier_api_client(self) -> object:
            return self

    options = Options()
    plugins: list[tuple[str, Any]] = [("channel:none", NoChannel()), ("api:none", NoApi())]
    plugins += [
        (f"decoder:{name}", load_named(GROUPS["decoder"], name)) for name in options.decoders
    ]
    host = PluginHost(options, plugins)

    def decode(text: str, program: str) -> Any:
        return host.decode(text, DecodeContext(kind="result", job_id="bench", program_id=program))

    return decode


def reference_decoder() -> tuple[str, Callable[[str, str], Any]]:
    """qiskit-ibm-runtime's decoders, or a labelled stand-in when it is not installed."""
    try:
        # Installed in the bench env only, so the type env cannot see it.
        from qiskit_ibm_runtime.decoders.result_decoder import (  # type: ignore[import-not-found, unused-ignore]
            ResultDecoder,
        )
        from qiskit_ibm_runtime.decoders.runner import (  # type: ignore[import-not-found, unused-ignore]
            RunnerResultDecoder,
        )
    except ImportError:
        return (
            "fallback reference (qiskit-ibm-runtime not installed): json + an object hook "
            "reimplementing RuntimeDecoder's tags, then Result.from_dict",
            _fallback_decode,
        )
    from importlib.metadata import version

    def decode(text: str, program: str) -> Any:
        if program == "sampler":
            return ResultDecoder.decode(text)
        return RunnerResultDecoder.decode(text)

    return f"qiskit-ibm-runtime {version('qiskit-ibm-runtime')}", decode


def _fallback_hook(obj: dict[str, Any]) -> Any:
    """RuntimeDecoder.object_hook of qiskit-ibm-runtime 0.51, for the tags these payloads use."""
    from qiskit.primitives.containers import (
        BitArray,
        DataBin,
        PrimitiveResult,
        PubResult,
        SamplerPubResult,
    )
    from qiskit.result import Result

    if "__type__" not in obj:
        return obj
    kind, value = obj["__type__"], obj["__value__"]
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "ndarray":
        if isinstance(value, int | list):
            return np.array(value)
        return np.load(io.BytesIO(zlib.decompress(base64.standard_b64decode(value))))
    if kind == "Result":
        return Result.from_dict(value)
    if kind == "BitArray":
        return BitArray(**value)
    if kind == "DataBin":
        shape = tuple(value["shape"]) if isinstance(value["shape"], list) else value["shape"]
        return DataBin(shape=shape, **value["fields"])
    containers = {
        "SamplerPubResult": SamplerPubResult,
        "PubResult": PubResult,
        "PrimitiveResult": PrimitiveResult,
    }
    if kind in containers:
        return containers[kind](**value)
    return obj


def _fallback_decode(text: str, program: str) -> Any:
    from qiskit.result import Result

    decoded = json.loads(text, object_hook=_fallback_hook)
    return decoded if program == "sampler" else Result.from_dict(decoded)


def _sample(decode: Callable[[str, str], Any], payload: Payload) -> tuple[float, float, Any]:
    """One run: seconds to the decoded object, seconds to read it, and what was read."""
    gc.collect()
    started = time.perf_counter()
    decoded = decode(payload.text, payload.program)
    parsed = time.perf_counter()
    values = payload.read(decoded)
    return parsed - started, time.perf_counter() - parsed, values


def run(quick: bool) -> Report:
    """Decode each payload with both paths, interleaved, and compare times and values."""
    reference_label, reference = reference_decoder()
    ours = our_decoder()
    table = Table(
        "Result text → what the user reads (min / median)",
        ["payload", "path", "decode", "read counts", "total", "speedup (median)"],
    )
    table.notes.append(f"reference: {reference_label}")
    report = Report("decode", [table])
    for payload in payloads(quick):
        repeats = (50 if quick else 200) if not payload.large else (3 if quick else 7)
        times: dict[str, list[tuple[float, float]]] = {"reference": [], "ours": []}
        for _ in range(repeats):
            for name, decode in (("reference", reference), ("ours", ours)):
                decoded, read, values = _sample(decode, payload)
                times[name].append((decoded, read))
                if name == "reference":
                    expected = values
                elif values != expected:
                    raise AssertionError(f"{payload.name}: our values differ from the reference")
        totals = {name: [a + b for a, b in samples] for name, samples in times.items()}
        base = statistics.median(totals["reference"])
        size = f"{len(payload.text) / 1e6:.1f} MB" if payload.large else f"{len(payload.text)} B"
        for name in ("reference", "ours"):
            decode_mm = min_median([a for a, _ in times[name]])
            read_mm = min_median([b for _, b in times[name]])
            total_mm = min_median(totals[name])
            table.add(
                f"{payload.name} ({size})" if name == "reference" else "",
                name,
                " / ".join(seconds(value) for value in decode_mm),
                " / ".join(seconds(value) for value in read_mm),
                " / ".join(seconds(value) for value in total_mm),
                ratio(base, total_mm[1]),
            )
        if payload.large:
            speedup = base / statistics.median(totals["ours"])
            report.targets.append(
                Target(
                    f"decoding speed, {payload.name}",
                    f"≥ {SPEEDUP_GOAL:g}× the reference, identical values",
                    f"{speedup:.2f}× (values identical)",
                    speedup >= SPEEDUP_GOAL,
                )
            )
    table.notes.append(f"{'3' if quick else '7'} repeats of each large payload, interleaved")
    return report


if __name__ == "__main__":
    sys.exit(main(run))
