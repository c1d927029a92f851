"""`make bench`: run every benchmark module (tests/bench/bench_*.py) or those named, print one table.

Each module has `run() -> list[dict]`, rows with keys: benchmark, measure, value, unit, goal, verdict.
Figures that compare two things are measured side by side in the same run and reported as ratios.
Results also go to var/bench/results.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from infra.config import load_settings

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all): {', '.join(available())}")
    args = parser.parse_args(argv)
    rows: list[dict] = []
    for name in args.names or available():
        started = time.perf_counter()
        module = importlib.import_module(f"tests.bench.bench_{name}")
        print(f"== {name}", flush=True)
        for row in module.run():
            rows.append({"benchmark": name, **row})
            print(
                f"   {row['measure']}: {row['value']} {row.get('unit', '')}  {row.get('verdict', '')}",
                flush=True,
            )
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    header = "| benchmark | measure | value | unit | goal | verdict |\n| --- | --- | --- | --- | --- | --- |"
    print("\n" + header)
    for r in rows:
        cells = [
            r["benchmark"],
            r["measure"],
            r["value"],
            r.get("unit", ""),
            r.get("goal", ""),
            r.get("verdict", ""),
        ]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    out = load_settings().var_dir / "bench" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "cpus": __import__("os").cpu_count(),
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
