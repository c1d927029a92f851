"""A run's report: the metrics table (JSON and Markdown) and its training curves as PNG.

`write_report(out_dir, table, curves)`: `table` maps a row name (a backend, a baseline) to its
metrics; `curves` maps a run name to per-epoch series ({"loss": [...], "valid_ndcg@10": [...]}).
One PNG per series name, with one line per run, so both backends share an axis.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a display
import matplotlib.pyplot as plt  # noqa: E402

from infra.files import atomic_write_text  # noqa: E402

Table = dict[str, dict[str, float]]
Curves = dict[str, dict[str, list[float]]]


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def markdown_table(table: Table) -> str:
    """Rows = table keys, columns = every metric any row has, in first-seen order."""
    columns: list[str] = []
    for metrics in table.values():
        columns += [c for c in metrics if c not in columns]
    lines = ["| model | " + " | ".join(columns) + " |", "| --- |" + " --- |" * len(columns)]
    for name, metrics in table.items():
        lines.append(f"| {name} | " + " | ".join(_cell(metrics.get(c, "")) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def curve_filename(series: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", series).strip("_") + ".png"


def plot_curves(out_dir: Path, curves: Curves) -> list[Path]:
    """One PNG per series name (loss, valid_ndcg@10, ...), epochs on x, one line per run."""
    series_names: list[str] = []
    for runs in curves.values():
        series_names += [s for s in runs if s not in series_names]
    written = []
    for series in series_names:
        fig, ax = plt.subplots(figsize=(6, 4))
        for run, runs in curves.items():
            values = runs.get(series)
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", label=run)
        ax.set(xlabel="epoch", ylabel=series, title=series)
        ax.grid(alpha=0.3)
        ax.legend()
        path = out_dir / curve_filename(series)
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)
    return written


def write_report(
    out_dir: str | Path, table: Table, curves: Curves, warnings: list[str] | None = None
) -> dict[str, Path]:
    """Write report.json, report.md and the curve PNGs under out_dir; returns name -> path.
    Warnings go first in report.md, in bold, and into report.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = plot_curves(out_dir, curves)
    warnings = list(warnings or [])
    body = {"metrics": table, "curves": curves, "plots": [p.name for p in pngs], "warnings": warnings}
    atomic_write_text(out_dir / "report.json", json.dumps(body, indent=2, sort_keys=True, default=float))
    images = "".join(f"\n![{p.stem}]({p.name})\n" for p in pngs)
    alerts = "".join(f"**WARNING: {w}**\n\n" for w in warnings)
    atomic_write_text(
        out_dir / "report.md", "# Evaluation report\n\n" + alerts + markdown_table(table) + images
    )
    return {"json": out_dir / "report.json", "md": out_dir / "report.md", **{p.stem: p for p in pngs}}
