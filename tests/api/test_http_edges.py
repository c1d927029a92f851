"""HTTP at its edges: invented methods and paths do not grow /metrics, OPTIONS and too-long URIs
answer JSON, a chunked body over the limit is 413; through the real server where gunicorn answers."""

from __future__ import annotations

import re

import pytest
import requests
from flask.testing import FlaskClient

from api.metrics import KNOWN_METHODS
from infra.config import Settings
from tests.api.server import gunicorn
from tests.fixtures.synthetic import publish_synthetic, synthetic_config


def _series(text: str) -> set[str]:
    return {line.split(" ")[0] for line in text.splitlines() if line.startswith("api_request_seconds_count")}


def test_invented_methods_and_paths_do_not_grow_metrics(client: FlaskClient) -> None:
    for n in range(20):
        client.open(f"/recommendations/u{n}", method=f"INVENT{n}")
        client.get(f"/no/such/path/{n}")
    series = _series(client.get("/metrics").get_data(as_text=True))  # one registry for the session
    methods = {re.search(r'method="([^"]*)"', s).group(1) for s in series}
    endpoints = {re.search(r'endpoint="([^"]*)"', s).group(1) for s in series}
    assert "other" in methods and methods <= KNOWN_METHODS | {"other"}
    assert "unmatched" in endpoints and not any(e.startswith("/no/") for e in endpoints)


def test_options_answers_json_with_allow(client: FlaskClient) -> None:
    response = client.options("/recommendations/u1")
    assert response.status_code == 200 and response.is_json
    assert response.get_json() == {"allow": ["GET", "HEAD", "OPTIONS"]}
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert client.options("/events").get_json() == {"allow": ["OPTIONS", "POST"]}


def test_long_uri_is_json_414(client: FlaskClient) -> None:
    response = client.get("/recommendations/u1?category=" + "c" * 5000)
    assert response.status_code == 414 and response.get_json()["error"]["code"] == "uri_too_long"


@pytest.mark.slow
def test_edges_through_gunicorn(settings: Settings) -> None:
    publish_synthetic(settings.registry_dir, synthetic_config(), "v00001-numpy")
    with gunicorn(settings) as url:
        long = requests.get(f"{url}/recommendations/u1?category=" + "c" * 6000, timeout=10)
        assert long.status_code == 414 and long.json()["error"]["code"] == "uri_too_long"

        def chunks():  # no Content-Length: requests sends Transfer-Encoding: chunked
            for _ in range(40):
                yield b" " * 65536

        big = requests.post(
            f"{url}/events", data=chunks(), headers={"Content-Type": "application/json"}, timeout=10
        )
        assert big.status_code == 413 and big.json()["error"]["code"] == "request_entity_too_large"
        small = requests.post(
            f"{url}/events", data=iter([b"[", b"]"]), headers={"Content-Type": "application/json"}, timeout=10
        )
        assert small.status_code == 400  # a chunked body under the limit is read and judged as usual
        options = requests.options(f"{url}/recommendations/u1", timeout=10)
        assert options.status_code == 200 and options.json()["allow"] == ["GET", "HEAD", "OPTIONS"]
        for n in range(20):
            requests.request(f"INVENT{n}", f"{url}/health", timeout=10)
        methods = {
            re.search(r'method="([^"]*)"', s).group(1) for s in _series(requests.get(f"{url}/metrics").text)
        }
        assert methods <= {"GET", "POST", "OPTIONS", "other"}
