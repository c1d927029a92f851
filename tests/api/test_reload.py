"""Hot reload: a new `current` version is served without restart; a corrupt one is refused."""

from __future__ import annotations

import time

from flask import Flask
from flask.testing import FlaskClient

from infra.config import Settings
from model.registry import serving_dir, write_current
from tests.fixtures.synthetic import publish_synthetic, synthetic_config


def _version_after(client: FlaskClient, expected: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/recommendations/nobody?k=3")
        assert response.status_code == 200  # never a failed request while reloading
        version = response.get_json()["model"]["version"]
        if version == expected or time.monotonic() > deadline:
            return version
        time.sleep(0.02)


def test_new_version_is_picked_up(settings: Settings, app: Flask, client: FlaskClient) -> None:
    assert _version_after(client, "v00001-numpy") == "v00001-numpy"
    publish_synthetic(settings.registry_dir, synthetic_config(n_items=60), "v00002-pytorch", seed=1)
    assert _version_after(client, "v00002-pytorch") == "v00002-pytorch"
    body = client.get("/recommendations/nobody?k=3").get_json()
    assert body["model"]["backend"] == "pytorch"
    assert client.get("/items/i59/similar").status_code == 200  # only v2 has 60 items


def test_corrupt_version_is_refused(settings: Settings, app: Flask, client: FlaskClient) -> None:
    assert _version_after(client, "v00001-numpy") == "v00001-numpy"
    bad = publish_synthetic(settings.registry_dir, synthetic_config(), "v00002-tensorflow", seed=2)
    write_current(settings.registry_dir, "v00001-numpy")
    with (bad / "serving" / "weights.safetensors").open("r+b") as fh:
        fh.seek(200)
        fh.write(b"\xff" * 16)
    write_current(settings.registry_dir, "v00002-tensorflow")
    time.sleep(0.5)
    assert _version_after(client, "v00002-tensorflow", timeout=1.0) == "v00001-numpy"
    holder = app.extensions["services"].holder
    assert "sha256" in holder.refused["v00002-tensorflow"]
    assert "model_versions_refused_total 1.0" in client.get("/metrics").get_data(as_text=True)
    incomplete = serving_dir(settings.registry_dir, "v00003-tensorflow")
    incomplete.mkdir(parents=True)
    write_current(settings.registry_dir, "v00003-tensorflow")
    assert _version_after(client, "v00003-tensorflow", timeout=1.0) == "v00001-numpy"
    assert "incomplete" in holder.refused["v00003-tensorflow"]
    assert client.get("/ready").status_code == 200
