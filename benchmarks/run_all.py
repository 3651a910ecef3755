"""Run every benchmark (``tox -e bench``), each in a fresh process, then summarise the targets.

    python benchmarks/run_all.py [--quick] [--only latency,e2e] [--markdown results.md]

Each ``bench_*.py`` also runs alone and takes ``--quick``. Numbers come from this machine
only: every benchmark measures its baseline in the same run and reports ratios.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Report, Table, machine

BENCHMARKS = ("latency", "e2e", "many", "decode", "import")
HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks and print every target met or missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (about 4 minutes)")
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--markdown", type=Path, help="also write every table here as markdown")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        choices = ", ".join(BENCHMARKS)
        parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {choices}")
    reports: list[Report] = []
    failed: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="qcourier-bench-reports-") as scratch:
        for name in chosen:
            saved = Path(scratch) / f"{name}.json"
            command = [sys.executable, str(HERE / f"bench_{name}.py"), "--report-json", str(saved)]
            print(f"\n######## bench_{name}.py", flush=True)
            if subprocess.run(command + (["--quick"] if args.quick else [])).returncode != 0:
                failed.append(name)
                continue
            reports.append(Report.from_json(json.loads(saved.read_text(encoding="utf-8"))))
    summary = Table("Targets", ["benchmark", "target", "goal", "measured", "verdict"])
    for report in reports:
        for target in report.targets:
            summary.add(
                report.name,
                target.what,
                target.goal,
                target.measured,
                "met" if target.met else "MISSED",
            )
    summary.notes.append(f"{len(chosen)} benchmark(s) in {time.monotonic() - started:.0f} s")
    if failed:
        summary.notes.append(f"FAILED to run: {', '.join(failed)}")
    print(summary.text(), flush=True)
    if args.markdown is not None:
        parts = [f"Machine: {machine()}", f"Commit: {_commit()}", ""]
        for report in reports:
            parts += [table.markdown() + "\n" for table in report.tables]
        parts.append(summary.markdown())
        args.markdown.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return 1 if failed else 0


def _commit() -> str:
    """The checked-out commit, marked ``+changes`` when the work tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=HERE,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + (" +changes" if dirty else "")


if __name__ == "__main__":
    sys.exit(main())
