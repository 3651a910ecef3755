"""What every benchmark shares: timing, statistics, tables, targets and an isolated emulator.

Machines are noisy and shared, so a benchmark measures its baseline in the same run, repeats,
and reports min and median. Each ``bench_*.py`` builds a :class:`Report` and hands it to
:func:`main`, which prints it and, with ``--report-json``, saves it for ``run_all.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from qcourier import Service
    from qcourier.plugins.emulator.server import EmulatorServer

__all__ = [
    "Report",
    "ServerProcess",
    "Table",
    "Target",
    "bell",
    "connect",
    "isolated",
    "machine",
    "main",
    "min_median",
    "percentile",
    "ratio",
    "seconds",
    "served",
    "server_process",
    "timed",
]

#: The API key of emulators a benchmark starts itself (loopback only, never a real secret).
BENCH_KEY = "qcourier-bench-key"


@dataclass
class Table:
    """One printed table with notes below it; its ratios are against a row of the same run."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        """Append a row; cells are shown with ``str``."""
        self.rows.append([str(cell) for cell in cells])

    def text(self) -> str:
        """The table as aligned plain text, notes below it."""
        widths = [
            max(len(row[i]) for row in [self.columns, *self.rows]) for i in range(len(self.columns))
        ]

        def line(cells: Sequence[str]) -> str:
            first = cells[0].ljust(widths[0])
            rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
            return "  ".join([first, *rest]).rstrip()

        out = [f"\n== {self.title}", line(self.columns), line(["-" * w for w in widths])]
        out += [line(row) for row in self.rows]
        out += [f"   {note}" for note in self.notes]
        return "\n".join(out)

    def markdown(self) -> str:
        """The table as GitHub-flavoured markdown, notes as a list below it."""
        out = [f"#### {self.title}", "", "| " + " | ".join(self.columns) + " |"]
        out.append(
            "|" + "|".join("---" if i == 0 else "--:" for i in range(len(self.columns))) + "|"
        )
        out += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.notes:
            out += ["", *[f"- {note}" for note in self.notes]]
        return "\n".join(out)


@dataclass
class Target:
    """A goal from the benchmark issue, what was measured, and whether it was met."""

    what: str
    goal: str
    measured: str
    met: bool


@dataclass
class Report:
    """Everything one benchmark found."""

    name: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    def text(self) -> str:
        """Tables, then a line per target."""
        out = [table.text() for table in self.tables]
        for target in self.targets:
            verdict = "MET   " if target.met else "MISSED"
            out.append(f"[{verdict}] {target.what}: {target.measured} (goal {target.goal})")
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form, read back by :meth:`from_json`."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        """Rebuild a report saved with :meth:`to_json`."""
        return cls(
            name=data["name"],
            tables=[Table(**table) for table in data["tables"]],
            targets=[Target(**target) for target in data["targets"]],
        )


def percentile(samples: Sequence[float], q: float) -> float:
    """The *q*-th percentile (0-100) with linear interpolation, as numpy's default."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def seconds(value: float) -> str:
    """A duration in the unit that suits it (µs, ms or s)."""
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1e3:.1f} ms" if value < 0.1 else f"{value * 1e3:.0f} ms"
    return f"{value:.2f} s"


def ratio(value: float, baseline: float) -> str:
    """``value / baseline`` as ``2.31×``."""
    return f"{value / baseline:.2f}×" if baseline > 0 else "n/a"


def timed(action: Callable[[], object], repeats: int) -> list[float]:
    """Run *action* *repeats* times and return each run's wall time in seconds."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def min_median(samples: Sequence[float]) -> tuple[float, float]:
    """The fastest and the median sample."""
    return min(samples), statistics.median(samples)


def machine() -> str:
    """One line naming the machine and the versions that matter for the numbers."""
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for package in ("qiskit", "qiskit-aer", "qiskit-ibm-runtime", "numpy"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} not installed")
    # What nproc reports: the CPUs this process may run on.
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"nproc {cpus} ({cpu}), Python {platform.python_version()}, " + ", ".join(versions)


def bell() -> QuantumCircuit:
    """The two-qubit Bell circuit every end-to-end benchmark runs."""
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


@contextlib.contextmanager
def isolated() -> Iterator[Path]:
    """A temporary directory, with qcourier's config file pointed at an empty one inside it.

    A user's ``default_profile`` or ``QCOURIER_*`` variables must not steer a benchmark to
    another channel, so both are masked while the block runs.
    """
    saved = {key: value for key, value in os.environ.items() if key.startswith("QCOURIER_")}
    with tempfile.TemporaryDirectory(prefix="qcourier-bench-") as raw:
        directory = Path(raw)
        config = directory / "config.toml"
        config.write_text("", encoding="utf-8")
        for key in saved:
            del os.environ[key]
        os.environ["QCOURIER_CONFIG"] = str(config)
        try:
            yield directory
        finally:
            os.environ.pop("QCOURIER_CONFIG", None)
            os.environ.update(saved)


@contextlib.contextmanager
def served(directory: Path) -> Iterator[EmulatorServer]:
    """An emulator started in this process, for benchmarks that drive its fault injector.

    It is the server the ``local`` channel embeds, on a loopback port, with its SQLite file in
    *directory*; :func:`connect` reaches it through the ``ibm_quantum_platform`` channel.
    """
    from qcourier.plugins.emulator.server import EmulatorServer

    server = EmulatorServer(directory / "served.sqlite3", api_keys=[BENCH_KEY])
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class ServerProcess:
    """An emulator running as ``python -m qcourier.plugins.emulator`` in a child process."""

    url: str
    runtime_url: str
    instance: str

    def instance_for(self, api_key: str) -> str:
        """The instance CRN of the benchmark key, as the server printed it."""
        return self.instance


@contextlib.contextmanager
def server_process(directory: Path, startup: float = 60.0) -> Iterator[ServerProcess]:
    """Run an emulator in a child process, so this process holds only the client.

    :param startup: seconds to wait for the server's banner.
    """
    command = [
        sys.executable,
        "-m",
        "qcourier.plugins.emulator",
        "--db",
        str(directory / "child.sqlite3"),
        "--api-key",
        BENCH_KEY,
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        banner: list[str] = []

        def read_banner() -> None:
            assert child.stdout is not None
            for line in child.stdout:
                banner.append(line.strip())
                if line.startswith("Press Ctrl-C"):
                    return

        reader = threading.Thread(target=read_banner, name="bench-banner", daemon=True)
        reader.start()
        reader.join(startup)
        found = dict(line.split(": ", 1) for line in banner if ": " in line)
        for line in banner:
            if line.startswith("qcourier emulator listening on "):
                found["url"] = line.rsplit(" ", 1)[1]
        if {"url", "runtime API", "instance"} - set(found):
            raise RuntimeError(f"the emulator process did not start within {startup:g} s")
        yield ServerProcess(found["url"], found["runtime API"], found["instance"])
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def connect(
    directory: Path, server: EmulatorServer | ServerProcess | None = None, **options: Any
) -> Service:
    """Connect to *server*, or else to a fresh embedded emulator with its file in *directory*.

    The :mod:`probe` observer is the only ``qcourier.events`` plugin loaded, so its counts
    are the connection's own and no progress display writes to the terminal.
    """
    import probe

    import qcourier

    probe.install()
    options.setdefault("events", [probe.NAME])
    if server is None:
        return qcourier.connect(emulator_db=str(directory / "emulator.sqlite3"), **options)
    return qcourier.connect(
        channel="ibm_quantum_platform",
        base_url=server.runtime_url,
        iam_url=server.url,
        api_key=BENCH_KEY,
        instance=server.instance_for(BENCH_KEY),
        **options,
    )


def main(run: Callable[[bool], Report], argv: Sequence[str] | None = None) -> int:
    """Parse the common flags, run the benchmark, print its report and save it if asked."""
    parser = argparse.ArgumentParser(description=(sys.modules[run.__module__].__doc__ or ""))
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run")
    parser.add_argument("--report-json", type=Path, help="also write the report here as JSON")
    args = parser.parse_args(argv)
    # stevedore caches entry-point scans under XDG_CACHE_HOME, read once at its import: keep
    # this run's scans (the probe adds a distribution) out of the user's cache.
    cache = tempfile.TemporaryDirectory(prefix="qcourier-bench-cache-")
    os.environ["XDG_CACHE_HOME"] = cache.name
    print(f"machine: {machine()}", flush=True)
    with cache:
        report = run(args.quick)
    print(report.text(), flush=True)
    if args.report_json is not None:
        args.report_json.write_text(json.dumps(report.to_json(), indent=1), encoding="utf-8")
    return 0
