"""Preprocessing across runs and split kinds: stable vocabularies, a failed run keeps the old outputs,
the benchmark split's per-item stratification, leave-last-out, config and CLI errors."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest

from infra.config import REPO_ROOT
from tests.training.prep.conftest import T0, clickstream, module_settings, ratings
from tests.training.prep.landing_data import event, write_events
from training.prep.preprocess import PreprocessConfig, preprocess


def read(settings, name: str) -> pd.DataFrame:
    return pq.read_table(settings.processed_dir / name).to_pandas()


def vocab_map(settings, name: str) -> dict[str, int]:
    key, idx = {"users": ("user_id", "user_idx"), "items": ("item_id", "item_idx")}[name]
    df = pq.read_table(settings.data_dir / "vocab" / f"{name}.parquet").to_pandas()
    return dict(zip(df[key], df[idx], strict=True))


@pytest.mark.spark
@pytest.mark.slow
def test_rerun_on_more_data_keeps_ids_and_a_failed_run_keeps_outputs(tmp_path_factory, spark) -> None:
    settings = module_settings(tmp_path_factory, "rerun")
    write_events(settings.landing_dir, clickstream(n_users=12, n_items=20, n_events=150, seed=2))
    preprocess(settings, PreprocessConfig(), spark=spark)
    users, items = vocab_map(settings, "users"), vocab_map(settings, "items")
    assert sorted(users.values()) == list(range(1, len(users) + 1))

    # More data: new users and items, some sorting before the old ones ("a..."), old ones again.
    more = clickstream(n_users=5, n_items=20, n_events=60, seed=3, user_prefix="a")
    more += [event("u_new", "a_item", T0 + 100), event("u0", "i001", T0 + 200, "purchase")]
    write_events(settings.landing_dir, more, offset=1000)
    manifest = preprocess(settings, PreprocessConfig(), spark=spark)
    users2, items2 = vocab_map(settings, "users"), vocab_map(settings, "items")
    assert {k: users2[k] for k in users} == users
    assert {k: items2[k] for k in items} == items
    assert min(v for k, v in items2.items() if k not in items) == max(items.values()) + 1
    assert sorted(users2.values()) == list(range(1, len(users2) + 1))
    assert manifest["vocab"]["n_users"] == len(users2) + 1
    assert read(settings, "vocab/items.parquet").set_index("item_id").item_idx.to_dict() == items2

    # A run that fails (a corrupt landed file) leaves the previous snapshot as it was.
    before = {
        p.relative_to(settings.processed_dir): p.read_bytes()
        for p in settings.processed_dir.rglob("*")
        if p.is_file()
    }
    bad = settings.landing_dir / "events" / "event_date=2024-01-02" / "part-corrupt.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(Exception):  # noqa: B017 (Spark raises its own error types)
        preprocess(settings, PreprocessConfig(), spark=spark)
    after = {
        p.relative_to(settings.processed_dir): p.read_bytes()
        for p in settings.processed_dir.rglob("*")
        if p.is_file()
    }
    assert after == before
    assert [p.name for p in settings.processed_dir.parent.iterdir() if p.name.startswith(".processed")] == []
    assert vocab_map(settings, "items") == items2


@pytest.mark.spark
@pytest.mark.slow
def test_benchmark_split_is_stratified_by_item(tmp_path_factory, spark) -> None:
    settings = module_settings(tmp_path_factory, "bench")
    write_events(settings.landing_dir, ratings(n_users=40, n_items=15, per_user=8, seed=4))
    config = PreprocessConfig(split="benchmark", valid_fraction=0.0)
    manifest = preprocess(settings, config, spark=spark)
    assert manifest["split"] == {
        "kind": "benchmark",
        "ratio": 0.75,
        "valid_fraction": 0.0,
        "seed": 42,
        "stratify_by": "item",
    }
    train, valid, test = (read(settings, s) for s in ("train", "valid", "test"))
    assert len(valid) == 0 and len(train) + len(test) == 40 * 8
    n_train, n_test = train.item_idx.value_counts(), test.item_idx.value_counts()
    for item, n in (n_train.add(n_test, fill_value=0)).items():
        assert n_train.get(item, 0) == int(n * 0.75 + 0.5), item  # round half up, per item
    # every rating an interaction, weighted by its value
    assert set(train.weight) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    # the same seed gives the same split
    again = preprocess(settings, config, spark=spark)
    assert again["counts"] == manifest["counts"]
    assert (
        read(settings, "test")
        .sort_values(["user_idx", "item_idx"])
        .reset_index(drop=True)
        .equals(test.sort_values(["user_idx", "item_idx"]).reset_index(drop=True))
    )


@pytest.mark.spark
@pytest.mark.slow
def test_leave_last_out_holds_out_each_users_newest(tmp_path_factory, spark) -> None:
    settings = module_settings(tmp_path_factory, "llo")
    rows = [event(f"u{u}", f"i{k:03d}", T0 + 60 * k + u) for u in range(6) for k in range(u + 1)]
    write_events(settings.landing_dir, rows)
    preprocess(settings, PreprocessConfig(split="leave_last_out", max_history=3), spark=spark)
    users = vocab_map(settings, "users")
    train, valid, test = (read(settings, s) for s in ("train", "valid", "test"))
    for name, idx in users.items():
        n = int(name[1:]) + 1  # user u<k> has k + 1 interactions, item i<j> at minute j
        got_test = test[test.user_idx == idx]
        got_valid = valid[valid.user_idx == idx]
        assert len(got_test) == (1 if n >= 2 else 0)
        assert len(got_valid) == (1 if n >= 3 else 0)
        assert len(train[train.user_idx == idx]) == n - len(got_test) - len(got_valid)
        if n >= 3:
            assert got_test.timestamp.iloc[0] > got_valid.timestamp.iloc[0]
            assert list(got_test.hist_items.iloc[0]) == list(got_valid.hist_items.iloc[0])  # train only
            assert len(got_test.hist_items.iloc[0]) == min(3, n - 2)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="split"):
        PreprocessConfig(split="random")
    with pytest.raises(ValueError, match="unknown event types"):
        PreprocessConfig(event_weights={"click": 1.0})
    with pytest.raises(ValueError, match=r"\[preprocess\]: unknown settings"):
        PreprocessConfig.load(None, colour="red")
    assert PreprocessConfig(split="benchmark").effective_test_fraction == 0.25
    assert PreprocessConfig.load(None, max_history=7, split=None).max_history == 7


def test_config_file_table_is_read(tmp_path) -> None:
    path = tmp_path / "recsys.toml"
    path.write_text('[preprocess]\nsplit = "leave_last_out"\nevent_weights = {purchase = 9.0}\n')
    config = PreprocessConfig.load(path, max_history=5)
    assert config.split == "leave_last_out" and config.max_history == 5
    assert config.event_weights["purchase"] == 9.0 and config.event_weights["view"] == 1.0


def test_missing_landing_zone_is_a_clear_error(tmp_path) -> None:
    env = {
        "RECSYS_VAR_DIR": str(tmp_path / "var"),
        "RECSYS_CONFIG": str(tmp_path / "none.toml"),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "training.prep", "--split", "temporal"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "no landed events" in done.stderr and "Traceback" not in done.stderr


def test_cli_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "training.prep", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "--max-history" in done.stdout and "--split" in done.stdout
