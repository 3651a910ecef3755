"""Many jobs: a thousand Bell jobs submitted, then awaited together with ``as_completed``.

The emulator runs in a child process here, so every thread and every byte of this process is
the client's: threads are sampled every few milliseconds (those alive before connecting, such
as the main thread, are not counted) and RSS is read from ``/proc/self/status`` (``VmHWM``, the
peak, reset before each run). The embedded emulator is measured too, with its threads told
apart by name. The baseline is the
same circuits run one after the other on ``AerSimulator`` in this process: the compute floor.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness import (
    Report,
    Table,
    Target,
    bell,
    connect,
    isolated,
    main,
    ratio,
    seconds,
    server_process,
)

if TYPE_CHECKING:
    from qcourier import IBMBackend

SHOTS = 1024
MAX_CLIENT_THREADS = 8
MAX_RSS_GROWTH_MB = 200.0
#: Threads of the embedded emulator: its workers, heartbeat and HTTP server, and the AnyIO
#: pool FastAPI runs synchronous handlers in.
EMULATOR_THREADS = ("qcourier-emulator-", "AnyIO worker thread")
_SAMPLE_EVERY = 0.005
_THREAD_NUMBER = re.compile(r"[-_][0-9a-f_-]+$")


def _rss_kib(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field_name}")


def _family(name: str) -> str:
    """A thread name without its number or id: ``qcourier-watcher-7f3a`` → ``qcourier-watcher``."""
    return _THREAD_NUMBER.sub("", name) or name


@dataclass
class Usage:
    """Peak client threads and memory while a block ran."""

    peak_threads: int = 0
    peak_names: Counter[str] = field(default_factory=Counter)
    rss_before_kib: int = 0
    rss_peak_kib: int = 0

    @property
    def rss_growth_mb(self) -> float:
        """Peak RSS minus RSS at the start, in MiB."""
        return max(0, self.rss_peak_kib - self.rss_before_kib) / 1024


@contextlib.contextmanager
def sampled(before: set[threading.Thread]) -> Iterator[Usage]:
    """Sample client threads and the peak RSS while the block runs.

    :param before: threads alive before the client connected, not counted: the main thread
        and pools earlier code left behind (Aer's job executor, from the baseline).
    """
    usage = Usage()
    stop = threading.Event()

    def sample() -> None:
        me = threading.current_thread()
        while not stop.wait(_SAMPLE_EVERY):
            names = [
                thread.name
                for thread in threading.enumerate()
                if thread is not me
                and thread not in before
                and not thread.name.startswith(EMULATOR_THREADS)
            ]
            if len(names) > usage.peak_threads:
                usage.peak_threads = len(names)
                usage.peak_names = Counter(_family(name) for name in names)

    # Writing 5 to clear_refs resets VmHWM, so the peak below is this block's own.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    usage.rss_before_kib = _rss_kib("VmRSS")
    sampler = threading.Thread(target=sample, name="bench-sampler", daemon=True)
    sampler.start()
    try:
        yield usage
    finally:
        stop.set()
        sampler.join()
        usage.rss_peak_kib = _rss_kib("VmHWM")


def _check(counts: dict[str, int]) -> None:
    if set(counts) - {"00", "11"} or sum(counts.values()) != SHOTS:
        raise AssertionError(f"a Bell job returned wrong counts: {counts}")


async def _as_completed(backend: IBMBackend, jobs: int) -> None:
    from qcourier.aio import as_completed

    circuit = bell()
    submitted = [backend.run(circuit, shots=SHOTS) for _ in range(jobs)]
    finished = 0
    async for job in as_completed(submitted, timeout=600):
        _check(job.result().get_counts())
        finished += 1
    if finished != jobs:
        raise AssertionError(f"{finished} of {jobs} jobs came back")


def _one_by_one(backend: IBMBackend, jobs: int) -> None:
    circuit = bell()
    submitted = [backend.run(circuit, shots=SHOTS) for _ in range(jobs)]
    for job in submitted:
        _check(job.result(timeout=600).get_counts())


def _aer(jobs: int) -> None:
    from qiskit_aer import AerSimulator

    circuit = bell()
    for _ in range(jobs):
        _check(AerSimulator().run(circuit, shots=SHOTS).result().get_counts())


def run(quick: bool) -> Report:
    """Run the baseline, then each client variant, sampling threads and memory."""
    import probe

    jobs = 100 if quick else 1000
    table = Table(
        f"{jobs} Bell jobs ({SHOTS} shots) submitted, then awaited",
        ["variant", "wall time", "per job", "ratio", "peak client threads", "peak RSS growth"],
    )
    threads_seen: dict[str, Counter[str]] = {}
    started = time.perf_counter()
    _aer(jobs)
    floor = time.perf_counter() - started
    idle = set(threading.enumerate())
    table.add(
        "AerSimulator, one after another [baseline]",
        seconds(floor),
        seconds(floor / jobs),
        "1.00×",
        "-",
        "-",
    )
    primary = Usage()
    requests = 0.0
    with isolated() as directory:
        with server_process(directory) as server:
            for label, waiting in (
                ("as_completed, emulator in a child process", "async"),
                ("result() one by one, emulator in a child process", "blocking"),
            ):
                with connect(directory, server) as service:
                    backend = service.backend("aer_simulator")
                    backend.run(bell(), shots=SHOTS).result()
                    probe.PROBE.reset()
                    with sampled(idle) as usage:
                        started = time.perf_counter()
                        if waiting == "async":
                            asyncio.run(_as_completed(backend, jobs))
                        else:
                            _one_by_one(backend, jobs)
                        wall = time.perf_counter() - started
                if waiting == "async":
                    primary, requests = usage, probe.PROBE.total() / jobs
                threads_seen[label] = usage.peak_names
                table.add(
                    label,
                    seconds(wall),
                    seconds(wall / jobs),
                    ratio(wall, floor),
                    usage.peak_threads,
                    f"{usage.rss_growth_mb:.0f} MiB",
                )
        with connect(directory) as service:
            backend = service.backend("aer_simulator")
            backend.run(bell(), shots=SHOTS).result()
            label = "as_completed, embedded emulator (local channel)"
            with sampled(idle) as usage:
                started = time.perf_counter()
                asyncio.run(_as_completed(backend, jobs))
                wall = time.perf_counter() - started
            threads_seen[label] = usage.peak_names
            table.add(
                label,
                seconds(wall),
                seconds(wall / jobs),
                ratio(wall, floor),
                usage.peak_threads,
                f"{usage.rss_growth_mb:.0f} MiB (with the emulator's)",
            )
    for label, names in threads_seen.items():
        listed = ", ".join(f"{name} ×{count}" for name, count in sorted(names.items()))
        table.notes.append(f"threads at the peak, {label}: {listed or 'none'}")
    table.notes.append(
        f"as_completed sent {requests:.2f} REST requests per job (submit, polls, result)"
    )
    report = Report("many", [table])
    report.targets += [
        Target(
            "peak client threads, as_completed",
            f"≤ {MAX_CLIENT_THREADS} beyond the emulator's",
            str(primary.peak_threads),
            primary.peak_threads <= MAX_CLIENT_THREADS,
        ),
        Target(
            "client RSS growth, as_completed",
            f"≤ {MAX_RSS_GROWTH_MB:.0f} MiB",
            f"{primary.rss_growth_mb:.0f} MiB",
            primary.rss_growth_mb <= MAX_RSS_GROWTH_MB,
        ),
    ]
    return report


if __name__ == "__main__":
    sys.exit(main(run))
