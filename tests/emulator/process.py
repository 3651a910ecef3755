"""Run ``python -m qcourier.plugins.emulator`` as a child process, for tests that kill it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.emulator.wire import eventually


class EmulatorProcess:
    """A standalone emulator in a subprocess; :attr:`url` once its banner is printed."""

    def __init__(self, db: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "qcourier.plugins.emulator", "--port", "0", "--db"]
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [*command, str(db), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.banner: list[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.banner.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl-C"):
                break
        else:
            raise AssertionError(f"the emulator exited before its banner: {self.banner}")
        self.ready_after = time.monotonic() - self.started
        self.url = self.banner[0].rsplit(" ", 1)[-1]

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind."""
        self.process.kill()
        self.process.wait(30)
        self._close()

    def terminate(self) -> tuple[int, str]:
        """SIGTERM; returns the exit status and the rest of stdout."""
        self.process.send_signal(signal.SIGTERM)
        rest, _ = self.process.communicate(timeout=30)
        self._close()
        return self.process.returncode, rest

    def _close(self) -> None:
        if self.process.stdout is not None:
            self.process.stdout.close()


def until(predicate: object, what: str, timeout: float = 60.0) -> None:
    """Wait for a zero-argument callable to return True."""
    assert callable(predicate)
    eventually(lambda: True if predicate() else None, timeout, what)
