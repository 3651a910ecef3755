"""``qcourier serve``: run the emulator in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from qcourier.plugins.emulator.server import EmulatorServer, EmulatorStartError, default_db_path
from qcourier.plugins.emulator.store import StoreError

__all__ = ["main", "register", "serve"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` subcommand to the ``qcourier`` command line."""
    parser = subparsers.add_parser(
        "serve",
        help="run the local emulator of the IBM Quantum service",
        description="Run the emulator of the IBM Quantum runtime service on this machine.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=serve)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to *parser*."""
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: any free one)")
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="SQLite job store path (default: emulator.sqlite3 in the user data directory)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        dest="api_keys",
        metavar="KEY",
        help="accept this API key (repeatable; default: one generated and kept in the db)",
    )
    parser.add_argument("--workers", type=int, default=None, help="simulation threads")
    parser.add_argument(
        "--token-ttl", type=float, default=3600.0, help="bearer token lifetime in seconds"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible runs")
    parser.add_argument(
        "--admin-secret",
        default=None,
        help="enable POST /admin/faults for loopback callers sending this X-Admin-Secret",
    )


def serve(args: argparse.Namespace) -> int:
    """Run the emulator described by *args* until interrupted; returns the exit status."""
    server = EmulatorServer(
        db_path=args.db or default_db_path(),
        host=args.host,
        port=args.port,
        api_keys=tuple(args.api_keys),
        workers=args.workers,
        token_ttl=args.token_ttl,
        seed=args.seed,
        admin_secret=args.admin_secret,
        log_level="info",
    )
    try:
        server.start()
    except (EmulatorStartError, StoreError) as exc:
        print(f"qcourier serve: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _print_banner(server)
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    print("qcourier serve: stopped", flush=True)
    return 0


def _print_banner(server: EmulatorServer) -> None:
    key = server.api_keys[0]
    instance = server.instance_for(key)
    lines = [
        f"qcourier emulator listening on {server.url}",
        f"runtime API: {server.runtime_url}",
        *(f"API key: {k}" for k in server.api_keys),
        f"instance: {instance}",
        "",
        "Connect from Python:",
        f'  qcourier.connect(channel="ibm_quantum_platform", base_url="{server.runtime_url}", '
        f'iam_url="{server.url}", api_key="{key}", instance="{instance}")',
        "",
        "Or from the environment:",
        f"  QCOURIER_BASE_URL={server.runtime_url}",
        f"  QCOURIER_IAM_URL={server.url}",
        f"  QCOURIER_API_KEY={key}",
        f"  QCOURIER_INSTANCE={instance}",
        "",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m qcourier.plugins.emulator``: the same as ``qcourier serve``."""
    parser = argparse.ArgumentParser(
        prog="python -m qcourier.plugins.emulator",
        description="Run the emulator of the IBM Quantum runtime service on this machine.",
    )
    add_arguments(parser)
    return serve(parser.parse_args(argv))
