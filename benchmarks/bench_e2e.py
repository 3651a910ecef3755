"""End-to-end overhead: a Bell job through the embedded emulator vs Aer called directly.

Ours is ``backend.run(bell, shots=1024).result()`` on ``qcourier.connect()``'s embedded
emulator (real HTTP on loopback, SQLite, the default wait strategies); the baseline is
``AerSimulator().run(bell, shots=1024).result()`` in the same process, interleaved with ours so
both see the same machine load. HTTP requests are counted by the :mod:`probe` plugin, which
wraps the transport hook; websocket handshakes, which bypass the transport, are counted at the
server's websocket log line.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from harness import (
    Report,
    Table,
    Target,
    bell,
    connect,
    isolated,
    main,
    min_median,
    ratio,
    seconds,
    timed,
)

SHOTS = 1024
MAX_REQUESTS_PER_JOB = 4
MAX_OVERHEAD = 3.0


def _check(counts: dict[str, int]) -> None:
    if set(counts) - {"00", "11"} or sum(counts.values()) != SHOTS:
        raise AssertionError(f"a Bell job returned wrong counts: {counts}")


def run(quick: bool) -> Report:
    """Time single jobs and a back-to-back batch, ours and Aer's, and count requests."""
    import probe
    from qiskit_aer import AerSimulator

    singles = 10 if quick else 30
    batch = 50 if quick else 200
    batches = 2 if quick else 3
    circuit = bell()
    reused = AerSimulator()

    def aer_fresh() -> None:
        _check(AerSimulator().run(circuit, shots=SHOTS).result().get_counts())

    def aer_reused() -> None:
        _check(reused.run(circuit, shots=SHOTS).result().get_counts())

    with isolated() as directory:
        started = time.perf_counter()
        service = connect(directory)
        with service, probe.handshakes() as sockets:
            backend = service.backend("aer_simulator")
            connected = time.perf_counter() - started

            def ours() -> None:
                _check(backend.run(circuit, shots=SHOTS).result().get_counts())

            cold = timed(ours, 1)[0]
            aer_fresh()
            samples: dict[str, list[float]] = {"ours": [], "fresh": [], "reused": []}
            for _ in range(singles):
                for key, action in (("ours", ours), ("fresh", aer_fresh), ("reused", aer_reused)):
                    samples[key] += timed(action, 1)
            totals: dict[str, list[float]] = {"ours": [], "fresh": [], "reused": []}
            probe.PROBE.reset()
            sockets.reset()
            for _ in range(batches):
                totals["ours"] += timed(lambda: _repeat(ours, batch), 1)
                totals["fresh"] += timed(lambda: _repeat(aer_fresh, batch), 1)
                totals["reused"] += timed(lambda: _repeat(aer_reused, batch), 1)
            routes = probe.PROBE.snapshot()
            socket_count = sockets.count

    counted = batches * batch
    rest_per_job = sum(routes.values()) / counted
    http_per_job = rest_per_job + socket_count / counted
    single = Table(
        f"One Bell job, {SHOTS} shots ({singles} repeats, interleaved)",
        ["path", "min", "median", "median ratio"],
    )
    base = statistics.median(samples["fresh"])
    labels = {
        "fresh": "AerSimulator().run(...).result()  [baseline]",
        "reused": "sim.run(...).result(), one simulator",
        "ours": "qcourier backend.run(...).result()",
    }
    for key in ("fresh", "reused", "ours"):
        low, mid = min_median(samples[key])
        single.add(labels[key], seconds(low), seconds(mid), ratio(mid, base))
    single.notes.append(
        f"connect() + backend() took {seconds(connected)}; the first job after it "
        f"{seconds(cold)} (not in the table)"
    )
    back = Table(
        f"{batch} Bell jobs back to back ({batches} repeats)",
        ["path", "min total", "median total", "per job (median)", "median ratio"],
    )
    base_total = statistics.median(totals["fresh"])
    for key in ("fresh", "reused", "ours"):
        low, mid = min_median(totals[key])
        back.add(
            labels[key], seconds(low), seconds(mid), seconds(mid / batch), ratio(mid, base_total)
        )
    requests = Table(
        f"HTTP requests in the {counted} back-to-back jobs",
        ["request", "count", "per job"],
    )
    rows = [*sorted(routes.items()), ("websocket handshake (GET, Upgrade)", socket_count)]
    for name, count in rows:
        requests.add(name, count, f"{count / counted:.3f}")
    requests.add("total", sum(routes.values()) + socket_count, f"{http_per_job:.3f}")
    overhead = statistics.median(totals["ours"]) / base_total
    report = Report("e2e", [single, back, requests])
    report.targets.append(
        Target(
            "HTTP requests per job",
            f"≤ {MAX_REQUESTS_PER_JOB}",
            f"{http_per_job:.3f} ({rest_per_job:.3f} REST "
            f"+ {socket_count / counted:.3f} websocket)",
            http_per_job <= MAX_REQUESTS_PER_JOB,
        )
    )
    report.targets.append(
        Target(
            "back-to-back job time vs direct Aer",
            f"≤ {MAX_OVERHEAD:g}×",
            f"{overhead:.1f}× ({seconds(statistics.median(totals['ours']) / batch)} vs "
            f"{seconds(base_total / batch)} per job)",
            overhead <= MAX_OVERHEAD,
        )
    )
    return report


def _repeat(action: Callable[[], None], times: int) -> None:
    for _ in range(times):
        action()


if __name__ == "__main__":
    sys.exit(main(run))
