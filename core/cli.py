"""The ``qcourier`` command line: run circuits, inspect jobs, list plugins, show config."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qcourier.discovery import GROUPS, available, load_named
from qcourier.errors import IBMJobError, PluginError, QcourierError

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]
BAR_WIDTH = 40


def _connect(args: argparse.Namespace) -> Any:
    from qcourier.service import connect

    options = {"profile": args.profile} if args.profile else {}
    return connect(channel=args.channel, **options)


def load_qasm(path: Path) -> Any:
    """Parse an OpenQASM 2 or 3 file into a circuit, with an error that names file and line."""
    from qiskit import qasm2, qasm3

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise QcourierError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise QcourierError(f"{path} is not a text file in UTF-8; OpenQASM is plain text") from None
    if not text.strip():
        raise QcourierError(f"{path} is empty; write an OpenQASM 2 or 3 program in it")
    try:
        if text.lstrip().startswith("OPENQASM 3"):
            return qasm3.loads(text)
        return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except Exception as exc:  # qiskit's parsers raise several unrelated types
        raise QcourierError(
            f"{path} is not valid OpenQASM: {exc}; fix the file and retry"
        ) from None


def _histogram(counts: dict[str, int]) -> list[str]:
    total = sum(counts.values()) or 1
    peak = max(counts.values(), default=1)
    width = max((len(key) for key in counts), default=0)
    lines = []
    for outcome, count in sorted(counts.items()):
        bar = "█" * max(1, round(BAR_WIDTH * count / peak))
        lines.append(f"{outcome:>{width}}  {count:>7}  {100 * count / total:5.1f}%  {bar}")
    return lines


def _run(args: argparse.Namespace) -> int:
    from qiskit import transpile

    circuit = load_qasm(Path(args.file))
    if circuit.num_clbits == 0:
        raise QcourierError(
            f"{args.file} measures nothing, so there are no counts to show; "
            "add e.g. `measure q -> c;`"
        )
    with _connect(args) as service:
        backend = service.backend(args.backend)
        compiled = transpile(circuit, backend=backend, seed_transpiler=0)
        job = backend.run(compiled, shots=args.shots, job_tags=args.tag or None)
        if not args.wait:
            print(json.dumps({"job_id": job.job_id()}) if args.json else job.job_id())
            return 0
        counts = job.result(timeout=args.timeout).get_counts()
        if args.json:
            print(json.dumps({"job_id": job.job_id(), "backend": backend.name, "counts": counts}))
        else:
            print(f"job {job.job_id()} on {backend.name}: {sum(counts.values())} shots")
            print("\n".join(_histogram(counts)))
    return 0


def _jobs(args: argparse.Namespace) -> int:
    with _connect(args) as service:
        found = service.jobs(
            limit=args.limit, status=args.status, backend_name=args.backend, tags=args.tag or None
        )
        rows = [
            {
                "id": job.job_id(),
                "status": job.last_status().name,
                "created": job.creation_date().isoformat(timespec="seconds"),
                "tags": job.tags(),
            }
            for job in found
        ]
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            print(f"{row['id']}  {row['status']:<10}{row['created']}  {','.join(row['tags'])}")
    return 0


def _job(args: argparse.Namespace) -> int:
    with _connect(args) as service:
        job = service.job(args.job_id)
        status = job.status()
        info: dict[str, Any] = {
            "id": job.job_id(),
            "status": status.name,
            "backend": job.backend().name if job.backend() else None,
            "created": str(job.creation_date()),
            "tags": job.tags(),
            "name": job.name(),
            "queue_position": job.queue_position(refresh=True),
            "steps": {key: str(value) for key, value in (job.time_per_step() or {}).items()},
        }
        if status.name == "DONE":
            info["counts"] = job.result().get_counts()
        elif status.name == "ERROR":
            info["error"] = job.error_message()
    if args.json:
        print(json.dumps(info))
    else:
        for key, value in info.items():
            print(f"{key:>15}: {value}")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    with _connect(args) as service:
        service.job(args.job_id).cancel()
    print(f"job {args.job_id} cancelled")
    return 0


def _plugins(args: argparse.Namespace) -> int:
    for concern, group in GROUPS.items():
        print(f"{group}  ({concern})")
        for name in available(group):
            try:
                load_named(group, name)
                state = "ok"
            except PluginError as exc:
                state = f"FAILS: {exc}"
            print(f"    {name:<24}{state}")
    return 0


def _config(args: argparse.Namespace) -> int:
    from qcourier.config import config_path, resolve_options

    options = resolve_options({"profile": args.profile} if args.profile else {})
    print(f"config file: {config_path()}")
    for name, value, source in options.describe():
        shown = options.auth_name if name == "auth" and not value else value
        print(f"  {name:<22}{shown:<40} {source}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full parser, including subcommands that plugins contribute."""
    parser = argparse.ArgumentParser(
        prog="qcourier", description="Send quantum circuits to IBM-Quantum-style services."
    )
    parser.add_argument("--channel", help="local (default) or ibm_quantum_platform")
    parser.add_argument("--profile", help="profile of the config file to use")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run an OpenQASM file and print the counts")
    run.add_argument("file", help="an OpenQASM 2 or 3 file")
    run.add_argument("--backend", default="aer_simulator")
    run.add_argument("--shots", type=int, default=1024)
    run.add_argument("--tag", action="append", help="tag the job (repeatable)")
    run.add_argument("--wait", action=argparse.BooleanOptionalAction, default=True)
    run.add_argument("--timeout", type=float, default=None, help="seconds to wait")
    run.add_argument("--json", action="store_true", help="print JSON")
    run.set_defaults(handler=_run)

    jobs = commands.add_parser("jobs", help="list your jobs, newest first")
    jobs.add_argument("--status", help="done, error, cancelled, queued, running")
    jobs.add_argument("--backend")
    jobs.add_argument("--tag", action="append")
    jobs.add_argument("--limit", type=int, default=20)
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(handler=_jobs)

    job = commands.add_parser("job", help="show one job")
    job.add_argument("job_id")
    job.add_argument("--json", action="store_true")
    job.set_defaults(handler=_job)

    cancel = commands.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id")
    cancel.set_defaults(handler=_cancel)

    plugins = commands.add_parser("plugins", help="list plugins per group and whether they load")
    plugins.set_defaults(handler=_plugins)

    config = commands.add_parser("config", help="show the effective config (secrets masked)")
    config.set_defaults(handler=_config)

    for name in available(GROUPS["commands"]):
        try:
            load_named(GROUPS["commands"], name)(commands)
        except PluginError as exc:
            print(f"qcourier: warning: command plugin {name!r} skipped: {exc}", file=sys.stderr)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qcourier`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("qcourier: interrupted", file=sys.stderr)
        return 130
    except (QcourierError, IBMJobError, ValueError) as exc:
        print(f"qcourier: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
