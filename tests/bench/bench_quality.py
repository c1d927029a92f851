"""Recommendation quality through the product path, as a user would get it (issue 11).

For each data set: split by its published protocol (tests/bench/quality_protocol.py), write ONLY the
training part as a CSV in the generic event format, run the product on it
(`python -m pipeline.up --data FILE --backend tensorflow`, its own var dir, broker and API port), ask the
running API `GET /recommendations/<user>?k=10` for every test user (seen items excluded by the API's
default), score the answers against the held-out part, and compute most-popular and the classic
yardstick (EASE on ML-100K, item-kNN cosine 100 neighbours on Beauty) on the same split in the same
run. Then `python -m training.train --backend pytorch` with the same environment; once the API answers
with model.backend == pytorch, score again. Everything the pipeline does to the data (its own
validation split, its choice of epochs) happens inside the product, as it would for a user.

Data sets (RECSYS_BENCH_SETS, comma-separated, default all):
  ml100k-stratified  ../shared/data/ml-100k/u.data, 75/25 stratified by item, seed 42
  ml100k-last        same file, each user's last event held out
  beauty-last        ../shared/data/amazon-beauty/beauty.csv, each user's last event held out
Environment: RECSYS_BENCH_BACKENDS (default "tensorflow,pytorch": the first runs `up`, the others are
trained after it), RECSYS_BENCH_API_PORT (default a free port), RECSYS_BROKER_PORT (default a free
port), RECSYS_BENCH_KEEP=1 keeps the per-data-set var dirs (under var/bench/quality/<set>).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import requests

from infra import procs
from infra.config import REPO_ROOT, load_settings
from model.artifact import current_manifest
from tests.bench import quality_protocol as qp
from tests.bench import row

SHARED = REPO_ROOT.parent / "shared" / "data"
K = 10
GAP = 0.005  # the two backends must agree within this NDCG@10 (3% relative on Beauty)
EASE_LAMBDA = 400.0
DATASETS = ("ml100k-stratified", "ml100k-last", "beauty-last")


def load(name: str) -> pd.DataFrame:
    """The raw events of a data set in the generic columns (+ rating), file order kept."""
    if name.startswith("ml100k"):
        path = Path(os.environ.get("RECSYS_ML100K") or SHARED / "ml-100k") / "u.data"
        df = pd.read_csv(path, sep="\t", names=[qp.USER, qp.ITEM, "rating", qp.TS])
        df["event_type"] = "rating"
        return df[[qp.USER, qp.ITEM, "event_type", qp.TS, "rating"]]
    path = Path(os.environ.get("RECSYS_BEAUTY") or SHARED / "amazon-beauty") / "beauty.csv"
    return pd.read_csv(path)


def split(name: str, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    if name == "ml100k-stratified":
        return qp.stratified_split(df, 0.75, seed=42, by=qp.ITEM)
    return qp.last_out_split(df, min_events=3)


def _env(var_dir: Path, api_port: int, broker_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "RECSYS_VAR_DIR": str(var_dir),
        "RECSYS_API_PORT": str(api_port),
        "RECSYS_BROKER_PORT": str(broker_port),
        "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }


def _run(cmd: list[str], env: dict[str, str], log: Path) -> float:
    """Run a product command to completion (output to `log`); returns its wall time."""
    started = time.monotonic()
    with log.open("w") as out:
        code = subprocess.call(cmd, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT)
    if code:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {code}); see {log}")
    return time.monotonic() - started


def ask_api(url: str, users: list[str], k: int = K, threads: int = 4) -> tuple[dict, dict]:
    """{user: [item ids]} from the API for every user, and {backend: answers} (which model answered)."""

    def work(chunk: list[str]) -> list[tuple[str, list[str], str]]:
        out = []
        with requests.Session() as session:
            for user in chunk:
                r = session.get(f"{url}/recommendations/{user}", params={"k": k}, timeout=30)
                r.raise_for_status()
                body = r.json()
                backend = f"{(body.get('model') or {}).get('backend')}/{body.get('strategy')}"
                out.append((user, [it["item_id"] for it in body["items"]], backend))
        return out

    chunks = [users[i::threads] for i in range(threads)]
    answers: dict[str, list[str]] = {}
    served: dict = {}
    by_user: dict[str, str] = {}
    with ThreadPoolExecutor(threads) as pool:
        for part in pool.map(work, chunks):
            for user, items, backend in part:
                answers[user] = items
                served[backend] = served.get(backend, 0) + 1
                by_user[user] = backend
    served["_by_user"] = by_user
    return answers, served


def wait_backend(url: str, user: str, backend: str, timeout: float = 180.0, in_a_row: int = 30) -> None:
    """Until `in_a_row` consecutive answers come from `backend` (every gunicorn worker reloads on its
    own: one answer from the new model does not mean all workers have it)."""
    deadline = time.monotonic() + timeout
    streak = 0
    with requests.Session() as session:
        while time.monotonic() < deadline:
            body = session.get(f"{url}/recommendations/{user}", params={"k": 1}, timeout=10).json()
            streak = streak + 1 if (body.get("model") or {}).get("backend") == backend else 0
            if streak >= in_a_row:
                return
            time.sleep(0.05 if streak else 0.5)
    raise TimeoutError(f"the API still does not serve {backend} after {timeout} s")


def _served_summary(var_dir: Path) -> dict:
    """What the served version's manifest says of its training run: epochs, held-out figures beside
    the run's own baselines, what it was refit on, warnings."""
    settings = load_settings(var_dir=var_dir)
    version, manifest = current_manifest(settings.registry_dir)
    if not manifest:
        return {}
    split = (manifest.get("heldout") or {}).get("split", "test")
    return {
        "version": version,
        "heldout": manifest.get("heldout"),
        "heldout_ndcg": (manifest.get("metrics") or {}).get(f"{split}_ndcg@10"),
        "baselines_ndcg": {k: v.get("ndcg@10") for k, v in (manifest.get("baselines") or {}).items()},
        "fit": manifest.get("fit"),
        "warnings": manifest.get("warnings"),
    }


def measure(name: str, root: Path, backends: list[str], api_port: int, broker_port: int) -> dict:
    """Every figure of one data set: {method: metrics}, plus timings."""
    df = load(name)
    train, test = split(name, df)
    relevant = qp.relevant_sets(test)
    users = sorted(relevant)
    var_dir = root / name
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    data_file = var_dir / f"{name}-train.csv"
    train.to_csv(data_file, index=False)
    env = _env(var_dir, api_port, broker_port)
    url = f"http://127.0.0.1:{api_port}"
    result: dict = {"figures": {}, "timings": {}, "counts": {"train": len(train), "test_users": len(users)}}

    started = time.monotonic()
    data = qp.Interactions(train)
    result["figures"]["most_popular"] = qp.score_lists(qp.most_popular(data, users, K), relevant, K)
    if len(data.items) <= 20_000:
        yard, answers = "ease", qp.ease(data, users, K, EASE_LAMBDA)
    else:
        yard, answers = "item_knn", qp.item_knn(data, users, K, 100)
    result["figures"][yard] = qp.score_lists(answers, relevant, K)
    result["timings"]["baselines_s"] = round(time.monotonic() - started, 1)

    try:
        for n, backend in enumerate(backends):
            log = var_dir / f"product-{backend}.log"
            if n == 0:
                cmd = [sys.executable, "-m", "pipeline.up", "--data", str(data_file), "--backend", backend]
                result["timings"][f"up_{backend}_s"] = round(
                    _run(cmd + ["--api-port", str(api_port)], env, log), 1
                )
            else:
                cmd = [sys.executable, "-m", "training.train", "--backend", backend]
                result["timings"][f"train_{backend}_s"] = round(_run(cmd, env, log), 1)
            wait_backend(url, users[0], backend)
            started = time.monotonic()
            answers, served = ask_api(url, users)
            late = [u for u, b in served.pop("_by_user").items() if not b.startswith(backend + "/")]
            if late:  # answered by a worker that had not reloaded yet: ask those users again
                time.sleep(3)
                again, _ = ask_api(url, late)
                answers.update(again)
                served["re-asked"] = len(late)
            result["timings"][f"ask_{backend}_s"] = round(time.monotonic() - started, 1)
            result["figures"][f"served_{backend}"] = qp.score_lists(answers, relevant, K)
            result[f"served_by_{backend}"] = served
            result[f"train_{backend}"] = _served_summary(var_dir)
            if n == 0:
                result["timings"]["up_stages"] = _stage_times(log)
    finally:
        subprocess.call([sys.executable, "-m", "pipeline.up", "--down"], env=env, cwd=REPO_ROOT)
    return result


def _stage_times(log: Path) -> dict[str, float]:
    """make up's own per-stage timings ('    <stage>: done in X s')."""
    out = {}
    for line in log.read_text().splitlines():
        line = line.strip()
        if ": done in " in line and line.endswith(" s"):
            stage, secs = line.rsplit(": done in ", 1)
            out[stage] = float(secs[:-2])
    return out


def _rows(name: str, res: dict, backends: list[str]) -> list[dict]:
    figs = res["figures"]
    yard = "ease" if "ease" in figs else "item_knn"
    keys = (
        ["ndcg@10", "precision@10", "recall@10", "map"]
        if name == "ml100k-stratified"
        else ["ndcg@10", "hit_rate@10"]
    )
    out = []
    for method, metrics in figs.items():
        for key in keys:
            ok = None
            goal = ""
            if method.startswith("served_") and key == "ndcg@10":
                goal = f">= {yard} ({figs[yard][key]:.4f}), > most_popular"
                ok = metrics[key] >= figs[yard][key] and metrics[key] > figs["most_popular"][key]
            out.append(row(f"{name} {method} {key}", metrics[key], goal=goal, ok=ok, digits=4))
    served = [figs[f"served_{b}"]["ndcg@10"] for b in backends if f"served_{b}" in figs]
    if len(served) == 2:
        gap = abs(served[0] - served[1])
        limit = max(GAP, 0.03 * max(served)) if name.startswith("beauty") else GAP
        out.append(
            row(f"{name} |NDCG@10 backend gap|", gap, goal=f"<= {limit:.4f}", ok=gap <= limit, digits=4)
        )
    for key, value in res["timings"].items():
        if isinstance(value, (int, float)):
            out.append(row(f"{name} {key.removesuffix('_s')}", value, unit="s", digits=1))
    return out


def run() -> list[dict]:
    settings = load_settings()
    names = [n for n in os.environ.get("RECSYS_BENCH_SETS", ",".join(DATASETS)).split(",") if n]
    backends = os.environ.get("RECSYS_BENCH_BACKENDS", "tensorflow,pytorch").split(",")
    api_port = int(os.environ.get("RECSYS_BENCH_API_PORT") or procs.free_port())
    broker_port = int(os.environ.get("RECSYS_BROKER_PORT") or procs.free_port())
    root = settings.var_dir / "bench" / "quality"
    rows, results = [], {}
    for name in names:
        res = measure(name, root, backends, api_port, broker_port)
        results[name] = res
        (root / f"{name}.json").write_text(json.dumps(res, indent=2))
        print(json.dumps({name: res}, indent=1), flush=True)
        rows.extend(_rows(name, res, backends))
        if not os.environ.get("RECSYS_BENCH_KEEP"):
            for sub in ("data", "models", "store", "run"):
                shutil.rmtree(root / name / sub, ignore_errors=True)
    return rows
