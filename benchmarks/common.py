"""What the benchmark scripts share: a result row, the table printer, a timer.

Every script exposes `measure() -> list[Row]` and, run standalone, prints its own table
with `print_table(measure())`; `benchmarks/run` prints the rows of all of them in one.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Row:
    """One figure. `target` None: informational, no verdict. `measured` None: skipped
    (`note` says why). `note` also carries the side-by-side values of a ratio."""

    figure: str
    target: float | None
    measured: float | None
    unit: str = "s"
    lower_is_better: bool = True
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "skipped"
        if self.target is None:
            return "-"
        if self.lower_is_better:
            return "ok" if self.measured <= self.target else "MISSED"
        return "ok" if self.measured >= self.target else "MISSED"


def _number(value: float | None, unit: str, lower_is_better: bool = True) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "s" and value < 1:
        return f"{value * 1000:.0f} ms" if value >= 0.01 else f"{value * 1000:.2f} ms"
    if math.isclose(value, round(value)) and unit not in ("s", "ms"):
        return f"{value:.0f} {unit}".rstrip()
    return f"{value:.2f} {unit}".rstrip() if value < 100 else f"{value:.0f} {unit}".rstrip()


def format_target(row: Row) -> str:
    if row.target is None:
        return "-"
    return ("<= " if row.lower_is_better else ">= ") + _number(row.target, row.unit)


def print_table(rows: Sequence[Row], file: Any = None, title: str | None = None) -> None:
    """One table: figure, target, measured, verdict (and the note, if any)."""
    out = file or sys.stdout
    cells = [(r.figure, format_target(r), _number(r.measured, r.unit), r.verdict, r.note)
             for r in rows]
    header = ("figure", "target", "measured", "verdict", "")
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(4)]
    if title:
        print(title, file=out)
    line = (f"{header[0]:<{widths[0]}}  {header[1]:>{widths[1]}}  "
            f"{header[2]:>{widths[2]}}  {header[3]:<{widths[3]}}")
    print(line, file=out)
    print("-" * len(line), file=out)
    for figure, target, measured, verdict, note in cells:
        text = (f"{figure:<{widths[0]}}  {target:>{widths[1]}}  {measured:>{widths[2]}}  "
                f"{verdict:<{widths[3]}}")
        print((text + ("  " + note if note else "")).rstrip(), file=out)


def best_of(runs: int, fn: Callable[[], Any], reduce: Callable[[list[float]], float]
            = statistics.median) -> float:
    """Wall time in seconds of `runs` calls to `fn`, reduced (median by default; pass
    `min` for a best-of)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return reduce(times)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


def cli_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def cli(config: Path, *args: str, env: dict[str, str] | None = None,
        ok: Sequence[int] = (0,)) -> tuple[float, subprocess.CompletedProcess]:
    """Wall time of `python -m bedform.cli -c CONFIG ARGS...` (interpreter start-up
    included); raises if its exit code is not in `ok`."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bedform.cli", "-c", str(config), *args],
                          cwd=REPO, capture_output=True, text=True, check=False,
                          env=env or cli_env())
    elapsed = time.perf_counter() - started
    if proc.returncode not in ok:
        raise RuntimeError(f"bedform {' '.join(args)} failed ({proc.returncode}):\n"
                           f"{proc.stdout}\n{proc.stderr}")
    return elapsed, proc
