"""Smoke test: the real server (gunicorn, several workers) answers, shares the store, exposes metrics."""

from __future__ import annotations

import json
import time

import pytest
import requests

from infra.config import Settings
from ingest.schema import Event
from serving.store import open_store
from tests.api.server import gunicorn
from tests.fixtures.synthetic import publish_synthetic, synthetic_config


@pytest.mark.slow
def test_gunicorn_serves(settings: Settings) -> None:
    publish_synthetic(settings.registry_dir, synthetic_config(), "v00001-numpy")
    with gunicorn(settings) as url:
        body = requests.get(f"{url}/recommendations/nobody?k=3", timeout=5).json()
        assert body["strategy"] == "popular" and len(body["items"]) == 3
        bad = requests.get(f"{url}/recommendations/nobody?k=0", timeout=5)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_parameter"
        open_store(settings.online_store_url).add_events([Event("e1", "nobody", "i1", "view", time.time())])
        for _ in range(4):  # whichever worker answers sees the shared store
            body = requests.get(f"{url}/recommendations/nobody?k=49", timeout=5).json()
            assert body["strategy"] == "personalized"
            assert "i1" not in {it["item_id"] for it in body["items"]}
        metrics = requests.get(f"{url}/metrics", timeout=5).text
        assert 'recommendations_served_total{strategy="popular"}' in metrics
        assert 'model_version_info{backend="numpy",version="v00001-numpy"}' in metrics


@pytest.mark.slow
def test_json_logs_and_the_opt_in_access_log(settings: Settings) -> None:
    """RECSYS_LOG_FORMAT=json: the app's records and, with RECSYS_API_ACCESS_LOG, one access record a
    request are JSON lines in the API's log (gunicorn's own start-up lines stay its own)."""
    publish_synthetic(settings.registry_dir, synthetic_config(), "v00001-numpy")
    env = {"RECSYS_LOG_FORMAT": "json", "RECSYS_API_ACCESS_LOG": "-"}
    with gunicorn(settings, **env) as url:
        assert requests.get(f"{url}/recommendations/nobody?k=3", timeout=5).status_code == 200
        assert requests.get(f"{url}/recommendations/nobody?k=0", timeout=5).status_code == 400
        time.sleep(0.5)
        log = next(settings.run_dir.glob("gunicorn-*.log")).read_text()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [r for r in records if r["logger"] == "gunicorn.access"]
    assert {(r["path"], r["query"], r["status"]) for r in access} >= {
        ("/recommendations/nobody", "k=3", 200),
        ("/recommendations/nobody", "k=0", 400),
    }
    assert all(r["stage"] == "api" and r["duration_ms"] >= 0 for r in access)
    assert any(r["logger"] == "serving.loader" and "v00001-numpy" in r["message"] for r in records)
