"""The progress display: a line per long wait in a terminal, nothing anywhere else."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable

from rich.console import Console

from qcourier.host import PluginHost
from qcourier.plugins.emulator.server import EmulatorServer
from qcourier.plugins.progress import ProgressDisplay
from tests.circuits import bell
from tests.plugins.conftest import ibm_options, simulator

BuildHost = Callable[..., PluginHost]


def terminal() -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    return Console(file=screen, force_terminal=True, width=120), screen


def progress_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "qcourier-progress"]


def test_hook_qcourier_job_status_changed_shows_status_and_queue_position_of_long_waits(
    build_host: BuildHost, emulator: EmulatorServer
) -> None:
    console, screen = terminal()
    host = build_host(
        options=ibm_options(emulator, wait=["polling"]),
        plugins={"events:progress": ProgressDisplay(console)},
    )
    emulator.faults.pause_execution()
    job = simulator(host).run(bell(), shots=10)
    timer = threading.Timer(1.6, emulator.faults.pause_execution, args=(False,))
    timer.start()
    job.result(timeout=60)
    shown = screen.getvalue()
    assert job.job_id() in shown
    assert "QUEUED" in shown
    assert "position 1" in shown


def test_short_waits_show_nothing(build_host: BuildHost) -> None:
    console, screen = terminal()
    host = build_host(plugins={"events:progress": ProgressDisplay(console)})
    simulator(host).run(bell(), shots=10).result(timeout=60)
    assert screen.getvalue() == ""


def test_nothing_is_drawn_or_started_when_stderr_is_not_a_terminal(
    build_host: BuildHost, emulator: EmulatorServer
) -> None:
    screen = io.StringIO()
    display = ProgressDisplay(Console(file=screen))
    host = build_host(plugins={"events:progress": display})
    emulator.faults.slow_execution(1.2)
    simulator(host).run(bell(), shots=10).result(timeout=60)
    assert screen.getvalue() == ""
    assert "off (not a terminal)" in repr(display)


class BrokenScreen(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError("the terminal went away")


def test_a_broken_display_never_breaks_the_wait(
    build_host: BuildHost, emulator: EmulatorServer
) -> None:
    display = ProgressDisplay(Console(file=BrokenScreen(), force_terminal=True))
    host = build_host(
        options=ibm_options(emulator, wait=["polling"]),
        plugins={"events:progress": display},
    )
    emulator.faults.slow_execution(1.2)
    counts = simulator(host).run(bell(), shots=10).result(timeout=60).get_counts()
    assert sum(counts.values()) == 10
    host.close()
    assert progress_threads() == []
