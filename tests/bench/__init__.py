"""Benchmarks (`make bench`): each bench_*.py module's `run()` returns rows built with `row`."""

from __future__ import annotations


def row(
    measure: str, value: float, unit: str = "", goal: str = "", ok: bool | None = None, digits: int = 2
) -> dict:
    """One result row. `ok` None: a figure for information; else the goal's verdict, PASS or FAIL."""
    return {
        "measure": measure,
        "value": round(float(value), digits),
        "unit": unit,
        "goal": goal,
        "verdict": "info" if ok is None else ("PASS" if ok else "FAIL"),
    }
