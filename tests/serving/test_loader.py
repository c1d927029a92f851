"""Hot reload on its own: ModelHolder follows the registry's `current` pointer, loads a new version
in the background, refuses a broken one once, and keeps serving the last good one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from model.registry import serving_dir, write_current
from serving.loader import ModelHolder
from serving.store import SqliteStore
from tests.fixtures.synthetic import publish_synthetic, synthetic_config


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return tmp_path / "registry"


def _holder(registry: Path, tmp_path: Path, **kw) -> tuple[ModelHolder, list, list]:
    refused, loaded = [], []
    holder = ModelHolder(
        registry,
        SqliteStore(tmp_path / "store.sqlite"),
        poll_interval=0.0,
        on_refused=lambda version, reason: refused.append((version, reason)),
        on_loaded=lambda rec: loaded.append(rec.artifact.version),
        **kw,
    )
    return holder, refused, loaded


def _wait_for(holder: ModelHolder, version: str, timeout: float = 5.0) -> str | None:
    deadline = time.monotonic() + timeout
    while holder.get() is not None and holder.version != version and time.monotonic() < deadline:
        time.sleep(0.01)
    return holder.version


def test_nothing_to_serve_before_the_first_version(registry: Path, tmp_path: Path):
    holder, refused, loaded = _holder(registry, tmp_path)
    assert holder.get() is None and refused == [] and loaded == []


def test_follows_the_pointer_in_the_background(registry: Path, tmp_path: Path):
    publish_synthetic(registry, synthetic_config(), "v00001-numpy")
    holder, _, loaded = _holder(registry, tmp_path)
    first = holder.get()  # the first load is synchronous
    assert first is not None and holder.version == "v00001-numpy"
    publish_synthetic(registry, synthetic_config(n_items=60), "v00002-pytorch", seed=1)
    assert _wait_for(holder, "v00002-pytorch") == "v00002-pytorch"
    assert holder.get() is not first and holder.get().cfg.n_items == 60
    assert loaded == ["v00001-numpy", "v00002-pytorch"]


def test_a_broken_version_is_refused_once_and_the_old_one_serves(registry: Path, tmp_path: Path):
    publish_synthetic(registry, synthetic_config(), "v00001-numpy")
    holder, refused, loaded = _holder(registry, tmp_path, background=False)
    assert holder.get() is not None
    broken = serving_dir(registry, "v00002-tensorflow")
    broken.mkdir(parents=True)  # no manifest: an incomplete version
    write_current(registry, "v00002-tensorflow")
    for _ in range(3):  # polled again and again, tried once
        assert holder.get().artifact.version == "v00001-numpy"
    assert [v for v, _ in refused] == ["v00002-tensorflow"] and "incomplete" in refused[0][1]
    assert holder.refused == {"v00002-tensorflow": refused[0][1]}
    write_current(registry, "v00001-numpy")
    publish_synthetic(registry, synthetic_config(), "v00003-tensorflow", seed=2)
    assert holder.get().artifact.version == "v00003-tensorflow"
    assert loaded == ["v00001-numpy", "v00003-tensorflow"]


def test_requests_during_the_first_load_wait_for_it(registry: Path, tmp_path: Path, monkeypatch):
    import threading

    from serving import loader

    publish_synthetic(registry, synthetic_config(), "v00001-numpy")
    slow_load = loader.load_serving_artifact

    def slow(path):
        time.sleep(0.3)  # a worker loading its model under load
        return slow_load(path)

    monkeypatch.setattr(loader, "load_serving_artifact", slow)
    holder, _, loaded = _holder(registry, tmp_path)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(holder.get())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 4 and all(a is not None for a in answers)  # none would have said 503
    assert loaded == ["v00001-numpy"]  # loaded once, the others waited for it
