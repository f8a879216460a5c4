"""What the stack benchmarks share on the way out: percentiles and the results file."""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, date, datetime
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """The value at quantile q (nearest rank) of values; 0.0 when there are none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


REPOSITORY = Path(__file__).resolve().parents[1]


def _shown(value: Path | date) -> str:
    """A path as the repository names it (no machine's folders in a results file)."""
    if isinstance(value, Path) and value.is_absolute():
        try:
            return str(value.relative_to(REPOSITORY))
        except ValueError:
            return value.name
    return str(value)


def run_file(benchmark: str) -> Path:
    """A new bench/<benchmark>/runs/<time>/results.json for one run.

    Runs never overwrite the committed bench/<benchmark>/results.json: that one holds curated
    results, copied from a run folder by hand (runs/ is not committed).
    """
    folder = REPOSITORY / "bench" / benchmark / "runs" / datetime.now(UTC).strftime(
        "%Y%m%dT%H%M%SZ")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "results.json"


def output_file(benchmark: str, output: Path | None) -> Path:
    """Where a run's results go: --output when given (its folder made), else a new run folder."""
    if output is None:
        return run_file(benchmark)
    output.parent.mkdir(parents=True, exist_ok=True)
    return output


def write_record(benchmark: str, args: argparse.Namespace, results: dict) -> None:
    """Write results with the machine, the moment and the options to args.output.

    Without --output, a new run folder (see run_file).
    """
    args.output = output_file(benchmark, args.output)
    record = {
        "benchmark": benchmark, "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "note": args.note,
        "parameters": {k: (_shown(v) if isinstance(v, Path | date) else v)
                       for k, v in vars(args).items()},
        **results,
    }
    args.output.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.output}")
