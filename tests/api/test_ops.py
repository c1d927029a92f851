"""Health, readiness, metrics, OpenAPI, and the JSON error shape for every HTTP error."""

from __future__ import annotations

import subprocess
import sys

from flask.testing import FlaskClient

from infra.config import Settings
from tests.api.conftest import make_app
from tests.fixtures.synthetic import publish_synthetic, synthetic_config


def _error(response, status: int) -> dict:
    assert response.status_code == status
    assert response.is_json, response.data[:200]
    err = response.get_json()["error"]
    assert set(err) == {"code", "message", "details"}
    return err


def test_health_and_ready(client: FlaskClient) -> None:
    assert client.get("/health").get_json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.get_json()["model"]["version"] == "v00001-numpy"


def test_not_ready_without_model(settings: Settings) -> None:
    err = _error(make_app(settings).test_client().get("/ready"), 503)
    assert "model" in err["details"]
    _error(make_app(settings).test_client().get("/recommendations/u1"), 503)


def test_ready_reports_dead_stuck_and_lagging_consumers(settings: Settings, client: FlaskClient) -> None:
    import time

    from infra.heartbeat import GROWTH_WINDOW_S, Heartbeat
    from tests.infra.test_heartbeat import dead_consumer

    now = time.time()
    lagging = Heartbeat(settings.run_dir, "store")
    for n in range(4):
        lagging.beat(1000 * (n + 1), now=now - GROWTH_WINDOW_S + n * GROWTH_WINDOW_S / 3)
    ready = client.get("/ready")
    assert ready.status_code == 200  # still serving: only fresher events are late
    assert ready.get_json()["warnings"]["consumers"]["store"].startswith("lag growing: 1000 -> 4000")
    pid = dead_consumer(settings.run_dir, "landing")
    details = _error(client.get("/ready"), 503)["details"]
    assert details["consumers"]["landing"].startswith(f"dead: process {pid} is gone")
    assert "store" not in details["consumers"]
    Heartbeat(settings.run_dir, "store").beat(0, now=now - 120)
    details = _error(client.get("/ready"), 503)["details"]
    assert details["consumers"]["store"].startswith("stuck: no heartbeat for 12")


def test_http_errors_are_json(client: FlaskClient) -> None:
    _error(client.get("/no/such/route"), 404)
    assert _error(client.delete("/recommendations/u1"), 405)["code"] == "method_not_allowed"
    _error(client.post("/events", data="x" * (2 * 1024 * 1024), content_type="application/json"), 413)
    _error(client.post("/events", data="user_id=u1", content_type="application/x-www-form-urlencoded"), 415)


def test_metrics(client: FlaskClient) -> None:
    client.get("/recommendations/nobody")
    text = client.get("/metrics").get_data(as_text=True)
    for name in (
        "api_request_seconds_bucket",
        'recommendations_served_total{strategy="popular"}',
        'model_version_info{backend="numpy",version="v00001-numpy"} 1.0',
        "model_versions_refused_total",
        "online_store_consumer_lag",
    ):
        assert name in text
    assert 'endpoint="/recommendations/<user_id>"' in text


def test_openapi_describes_every_route(app, client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    documented = set(spec["paths"])
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            path = rule.rule.replace("<", "{").replace(">", "}")
            assert path in documented, path


def test_api_never_imports_deep_learning(settings: Settings) -> None:
    """A personalised answer, in a fresh process, with no TensorFlow/PyTorch/Keras imported."""
    publish_synthetic(settings.registry_dir, synthetic_config(), "v00001-numpy")
    code = f"""
import sys, time
from api import create_app
from infra.config import load_settings
from ingest.schema import Event
import serving.store_consumer
app = create_app({{'SETTINGS': load_settings(var_dir={str(settings.var_dir)!r})}})
app.extensions['services'].store.add_events([Event('e1', 'u1', 'i1', 'view', time.time())])
body = app.test_client().get('/recommendations/u1').get_json()
print(body['strategy'], [m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["personalized", "[]"]
