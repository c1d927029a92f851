"""Load shedding through the real server: a request that waited past the queue deadline is a fast
JSON 503 with Retry-After, never served late. One worker thread, held busy by a POST /events that
waits seconds for an unreachable broker, makes the wait certain (no timing race in the assertion)."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest
import requests

from api.shedding import RETRY_AFTER_S
from infra.config import Settings
from tests.api.server import gunicorn
from tests.fixtures.synthetic import publish_synthetic, synthetic_config

EVENT = {"user_id": "u1", "item_id": "i1", "event_type": "view", "timestamp": time.time()}


@pytest.mark.slow
def test_a_request_queued_past_its_deadline_is_shed(settings: Settings) -> None:
    publish_synthetic(settings.registry_dir, synthetic_config(), "v00001-numpy")
    one_thread = dataclasses.replace(settings, api_workers=1, api_threads=1)
    with gunicorn(one_thread, RECSYS_API_QUEUE_DEADLINE_MS="200") as url:
        shed = None
        for _ in range(5):  # until a GET queues behind a POST that holds the only thread
            blocker = threading.Thread(target=requests.post, args=(f"{url}/events",), kwargs={"json": EVENT})
            blocker.start()
            time.sleep(0.3)
            response = requests.get(f"{url}/recommendations/u1", timeout=30)
            blocker.join()
            if response.status_code == 503:
                shed = response
                break
        assert shed is not None, "no request was shed"
        assert shed.headers["Retry-After"] == str(RETRY_AFTER_S)
        assert shed.json()["error"]["code"] == "overloaded"
        assert requests.get(f"{url}/recommendations/u1", timeout=10).status_code == 200  # not queued now
        assert "api_requests_shed_total 1.0" in requests.get(f"{url}/metrics", timeout=10).text
