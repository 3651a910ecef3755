"""Import and start: ``import qcourier`` vs ``import qiskit`` (and the runtime client).

Every sample is a fresh ``python -c`` process, timed from outside, runs taking turns so a load
spike hits all of them alike; one discarded warm-up run of each fills the bytecode caches.
*Net* subtracts the median of ``python -c pass`` (interpreter start-up). ``connect()`` to the
first backend list is timed inside fresh processes too: import, start of the embedded
emulator, IAM token, ``GET /backends``.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import (
    Report,
    Table,
    Target,
    connect,
    isolated,
    main,
    min_median,
    ratio,
    seconds,
    timed,
)

IMPORT_GOAL = 1.2
_START = """
import json, sys, time
started = time.perf_counter()
import qcourier
imported = time.perf_counter()
service = qcourier.connect(emulator_db=sys.argv[1])
connected = time.perf_counter()
names = [backend.name for backend in service.backends()]
listed = time.perf_counter()
service.close()
print(json.dumps([imported - started, connected - imported, listed - connected, names]))
"""


def _python(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, capture_output=True)
    return time.perf_counter() - started


def run(quick: bool) -> Report:
    """Time imports in fresh processes, then connect() to the first backend list."""
    import probe

    repeats = 5 if quick else 11
    modules = ["qiskit", "qcourier"]
    if importlib.util.find_spec("qiskit_ibm_runtime") is not None:
        modules.append("qiskit_ibm_runtime")
    commands = {"(interpreter start-up)": "pass", **{name: f"import {name}" for name in modules}}
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for code in commands.values():
        _python("-c", code)
    for _ in range(repeats):
        for name, code in commands.items():
            samples[name].append(_python("-c", code))
    startup = statistics.median(samples["(interpreter start-up)"])
    base = statistics.median(samples["qiskit"])
    imports = Table(
        f"python -c 'import X' in a fresh process ({repeats} runs each)",
        ["import", "min", "median", "net median", "ratio", "net ratio"],
    )
    for name in commands:
        low, mid = min_median(samples[name])
        net = mid - startup
        shown = "-" if name.startswith("(") else ratio(mid, base)
        shown_net = "-" if name.startswith("(") else ratio(net, base - startup)
        imports.add(name, seconds(low), seconds(mid), seconds(max(net, 0.0)), shown, shown_net)
    if "qiskit_ibm_runtime" not in modules:
        imports.notes.append("qiskit-ibm-runtime is not installed here (it is in tox -e bench)")
    imports.notes.append("net = median minus the median interpreter start-up; ratios vs qiskit")

    start = Table(
        f"connect() to the first backend list, embedded emulator ({repeats} fresh processes)",
        ["step", "min", "median"],
    )
    phases: list[list[float]] = [[], [], []]
    with isolated() as directory:
        database = str(directory / "start.sqlite3")
        _python("-c", _START, database)
        for _ in range(repeats):
            out = subprocess.run(
                [sys.executable, "-c", _START, database], check=True, capture_output=True, text=True
            )
            *times, names = json.loads(out.stdout)
            if not names:
                raise AssertionError("the emulator listed no backend")
            for phase, value in zip(phases, times, strict=True):
                phase.append(value)
        with connect(Path(directory)) as service:
            service.backends()
        probe.PROBE.reset()
        again = timed(lambda: _connect_and_list(directory), repeats)
        requests = probe.PROBE.snapshot()
    labels = ["import qcourier", "connect() (starts the emulator)", "service.backends()"]
    for label, values in zip(labels, phases, strict=True):
        start.add(label, *(seconds(value) for value in min_median(values)))
    totals = [sum(parts) for parts in zip(*phases, strict=True)]
    start.add("total, fresh process", *(seconds(value) for value in min_median(totals)))
    start.add(
        "connect() + backends(), again in a warm process",
        *(seconds(value) for value in min_median(again)),
    )
    listed = ", ".join(f"{name} ×{count // repeats}" for name, count in sorted(requests.items()))
    start.notes.append(f"requests per connect() + backends(): {listed}")
    net_ratio = (statistics.median(samples["qcourier"]) - startup) / (base - startup)
    report = Report("import", [imports, start])
    report.targets.append(
        Target(
            "import qcourier vs import qiskit (net of interpreter start-up)",
            f"≤ {IMPORT_GOAL:g}×",
            f"{net_ratio:.2f}×",
            net_ratio <= IMPORT_GOAL,
        )
    )
    return report


def _connect_and_list(directory: Path) -> None:
    with connect(directory) as service:
        service.backends()


if __name__ == "__main__":
    sys.exit(main(run))
