"""POST /events: validation (all or nothing), Kafka with acks=all, the online store, broker down."""

from __future__ import annotations

import json
import time

import pytest
from flask.testing import FlaskClient

from infra.config import Settings
from ingest.kafka_io import make_consumer
from tests.api.conftest import make_app
from tests.fixtures.synthetic import publish_synthetic, synthetic_config

NOW = time.time()


def _event(user: str, item: str, **extra) -> dict:
    return {"user_id": user, "item_id": item, "event_type": "view", "timestamp": NOW, **extra}


def _stored(client: FlaskClient, user: str) -> list:
    return client.application.extensions["services"].store.user_events(user, 100)


def test_invalid_events_reject_the_whole_batch(client: FlaskClient) -> None:
    body = [_event("u1", "i1"), {"user_id": "u1"}, _event("u1", "i2", event_type="rating")]
    response = client.post("/events", json=body)
    assert response.status_code == 400
    err = response.get_json()["error"]
    assert err["code"] == "invalid_events" and [d["index"] for d in err["details"]] == [1, 2]
    assert "event_type" in err["details"][0]["reason"] and "rating" in err["details"][1]["reason"]
    assert _stored(client, "u1") == []


@pytest.mark.parametrize("body", ["{not json", "[]"])
def test_bad_bodies_are_400(client: FlaskClient, body: str) -> None:
    response = client.post("/events", data=body, content_type="application/json")
    assert response.status_code == 400 and response.is_json


@pytest.mark.parametrize(
    "event_id", ["has space", "-leading-dash", "x" * 129, "é", "a/b", "a\x00", ["e1"], 1.5, True, 10**200]
)
def test_client_event_ids_are_checked(client: FlaskClient, event_id: object) -> None:
    response = client.post("/events", json=_event("u1", "i1", event_id=event_id))
    assert response.status_code == 400
    assert response.get_json()["error"]["details"][0]["reason"].startswith("event_id: ")


def test_client_event_id_pattern_matches_openapi(client: FlaskClient) -> None:
    from api.guards import EVENT_ID_PATTERN

    spec = client.get("/openapi.json").get_json()["components"]["schemas"]["Event"]["properties"]
    assert spec["event_id"]["pattern"] == f"^{EVENT_ID_PATTERN.pattern}$"


def test_broker_unreachable_is_503_and_nothing_stored(client: FlaskClient) -> None:
    # The `settings` fixture points Kafka at 127.0.0.1:1, where nothing listens.
    response = client.post("/events", json=_event("u1", "i1"))
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "broker_unavailable"
    assert _stored(client, "u1") == []


@pytest.fixture
def kafka_client(kafka_settings: Settings) -> FlaskClient:
    publish_synthetic(kafka_settings.registry_dir, synthetic_config(), "v00001-numpy")
    return make_app(kafka_settings, PRODUCE_TIMEOUT=10.0).test_client()


@pytest.mark.kafka
def test_events_reach_kafka_and_the_store(kafka_settings: Settings, kafka_client: FlaskClient) -> None:
    e1 = "01JE.retry:7_e-1"  # a client's own id, every character class allowed
    response = kafka_client.post("/events", json=[_event("u1", "i1", event_id=e1), _event("u1", "i2")])
    assert response.status_code == 202
    body = response.get_json()
    assert body["accepted"] == 2 and body["event_ids"][0] == e1
    assert {row[0] for row in _stored(kafka_client, "u1")} == {"i1", "i2"}
    assert kafka_client.post("/events", json=_event("u1", "i1", event_id=e1)).status_code == 202  # a retry
    assert len(_stored(kafka_client, "u1")) == 2  # same event_id: stored once
    consumer = make_consumer(kafka_settings, None, kafka_settings.events_topic, consumer_timeout_ms=5000)
    try:
        ids = [json.loads(r.value)["event_id"] for r in consumer]
    finally:
        consumer.close()
    assert sorted(ids) == sorted([*body["event_ids"], e1])  # the Spark job drops the copy


@pytest.mark.kafka
def test_posted_events_change_recommendations(kafka_client: FlaskClient) -> None:
    before = kafka_client.get("/recommendations/newcomer?k=10").get_json()
    assert before["strategy"] == "popular"
    assert (
        kafka_client.post("/events", json=[_event("newcomer", f"i{i}") for i in (3, 4, 5)]).status_code == 202
    )
    after = kafka_client.get("/recommendations/newcomer?k=10").get_json()
    assert after["strategy"] == "personalized" and after["items"] != before["items"]
    assert not {"i3", "i4", "i5"} & {it["item_id"] for it in after["items"]}
