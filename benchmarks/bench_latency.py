"""Status notification latency: from the emulator recording a job's end to the client knowing.

The emulator runs in this process (the server ``connect()`` embeds) and each strategy gets its
own connection to it. Jobs are Bell circuits that the emulator holds for a random time first
(its ``slow_execution`` fault, a sleep), so a job ends at a uniformly random point of any poll
cycle up to the span: what a poller sees with real jobs, rather than the artefact of jobs that
all end a few ms after submission. Strategies take turns job by job, so all see the same load.

*Recorded* is the job's ``finished`` time in the emulator's metrics (``timestamps.finished``,
written in the same SQLite transaction as the state change, microsecond UTC). *Observed* is when
the client's job object took the final status (its ``qcourier_job_finished`` event, seen by the
:mod:`probe` plugin). Server and client share this process and its clock.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from harness import (
    Report,
    Table,
    Target,
    bell,
    connect,
    isolated,
    main,
    percentile,
    ratio,
    seconds,
    served,
)

if TYPE_CHECKING:
    from qcourier import IBMBackend, IBMCircuitJob, Service
    from qcourier.plugins.emulator.faults import FaultInjector

SEED = 20260105
SHOTS = 1024
WEBSOCKET_P50 = 0.005
WEBSOCKET_P99 = 0.050
#: Upstream's fixed poll intervals: qiskit-ibm-runtime 0.51 and qiskit-ibm-provider 0.11.
RUNTIME_INTERVAL = 0.5
PROVIDER_INTERVAL = 3.0


@dataclass
class Strategy:
    """One way of waiting, and what it measured."""

    label: str
    wait: tuple[str, ...]
    interval: float | None = None
    latencies: list[float] = field(default_factory=list)
    returned: list[float] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    service: Service | None = None
    backend: IBMBackend | None = None

    def wait_for(self, job: IBMCircuitJob) -> None:
        """Wait as this strategy does; fixed polling is upstream's loop: status, then sleep."""
        if self.interval is None:
            job.wait_for_final_state(timeout=120)
            return
        deadline = time.monotonic() + 120
        while not job.in_final_state():
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job.job_id()} did not finish")
            time.sleep(self.interval)


def _recorded(service: Service, job_id: str) -> float:
    """The emulator's ``finished`` timestamp of *job_id*, as epoch seconds."""
    finished = service.host.api.job_metrics(job_id)["timestamps"]["finished"]
    return datetime.fromisoformat(finished.replace("Z", "+00:00")).timestamp()


def _measure(
    group: list[Strategy], jobs: int, span: float, rng: random.Random, faults: FaultInjector
) -> None:
    """Run *jobs* rounds; in each, every strategy waits for one job held a random time."""
    import probe

    circuit = bell()
    for _ in range(jobs):
        for strategy in group:
            assert strategy.backend is not None
            assert strategy.service is not None
            faults.slow_execution(rng.uniform(0.0, span))
            before = probe.PROBE.snapshot()
            job = strategy.backend.run(circuit, shots=SHOTS)
            strategy.wait_for(job)
            returned = time.time()
            strategy.requests += probe.PROBE.snapshot() - before
            recorded = _recorded(strategy.service, job.job_id())
            strategy.latencies.append(probe.PROBE.finished_at[job.job_id()] - recorded)
            strategy.returned.append(returned - recorded)


def _table(title: str, group: list[Strategy], jobs: int, baseline: Strategy) -> Table:
    table = Table(
        title,
        ["strategy", "p50", "p99", "max", "p50 wait returned", "requests/job", "p50 ratio"],
    )
    base = percentile(baseline.latencies, 50)
    for strategy in group:
        p50 = percentile(strategy.latencies, 50)
        table.add(
            strategy.label,
            seconds(p50),
            seconds(percentile(strategy.latencies, 99)),
            seconds(max(strategy.latencies)),
            seconds(percentile(strategy.returned, 50)),
            f"{sum(strategy.requests.values()) / jobs:.1f}",
            ratio(p50, base),
        )
    return table


def _group(interval: float, upstream: str) -> list[Strategy]:
    """The strategies compared in one group; the first, upstream's fixed polling, is the base."""
    return [
        Strategy(f"fixed {interval:g} s polling ({upstream}) [baseline]", ("polling",), interval),
        Strategy("websocket wait (default)", ("websocket", "polling")),
        Strategy("adaptive polling", ("polling",)),
    ]


def run(quick: bool) -> Report:
    """Measure every strategy on jobs ending 0-0.5 s, then 0-3 s, after submission."""
    rng = random.Random(SEED)
    groups = [
        (
            f"Jobs ending 0-{RUNTIME_INTERVAL:g} s after submission",
            RUNTIME_INTERVAL,
            30 if quick else 200,
            _group(RUNTIME_INTERVAL, "rt 0.51"),
        ),
        (
            f"Jobs ending 0-{PROVIDER_INTERVAL:g} s after submission "
            "(fewer: each fixed 3 s wait costs 3 s)",
            PROVIDER_INTERVAL,
            5 if quick else 20,
            _group(PROVIDER_INTERVAL, "prov 0.11"),
        ),
    ]
    strategies = [strategy for *_, group in groups for strategy in group]
    with isolated() as directory, served(directory) as server:
        for strategy in strategies:
            strategy.service = connect(directory, server, wait=list(strategy.wait))
            strategy.backend = strategy.service.backend("aer_simulator")
            strategy.backend.run(bell(), shots=SHOTS).result()
        try:
            for _, span, jobs, group in groups:
                _measure(group, jobs, span, rng, server.faults)
        finally:
            server.faults.slow_execution(0.0)
            for strategy in strategies:
                assert strategy.service is not None
                strategy.service.close()
    tables = [
        _table(f"{title}, {jobs} per strategy", group, jobs, group[0])
        for title, _, jobs, group in groups
    ]
    tables[-1].notes += [
        "latency = client's job object takes the final status - emulator's timestamps.finished;",
        "'wait returned' is when wait_for_final_state() (or the fixed loop) gave control back;",
        "requests/job: REST requests from submission to the end of the wait "
        "(the websocket wait also opens one stream per job).",
    ]
    report = Report("latency", tables)
    ws = groups[0][3][1].latencies
    p50, p99 = percentile(ws, 50), percentile(ws, 99)
    report.targets.append(
        Target(
            "websocket notification latency",
            f"p50 ≤ {seconds(WEBSOCKET_P50)}, p99 ≤ {seconds(WEBSOCKET_P99)}",
            f"p50 {seconds(p50)}, p99 {seconds(p99)} over {len(ws)} jobs",
            p50 <= WEBSOCKET_P50 and p99 <= WEBSOCKET_P99,
        )
    )
    return report


if __name__ == "__main__":
    sys.exit(main(run))
