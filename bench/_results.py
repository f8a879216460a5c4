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


def write_record(benchmark: str, args: argparse.Namespace, results: dict) -> None:
    """Write results with the machine, the moment and the options to args.output."""
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
