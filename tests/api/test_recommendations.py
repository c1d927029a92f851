"""GET /recommendations and /items/<id>/similar: strategies, filters, real time, parameter errors."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ingest.schema import Event


def _store(app: Flask, user: str, items: list[str], event_type: str = "view") -> None:
    now = time.time()
    events = [
        Event(f"{user}-{it}-{event_type}-{n}", user, it, event_type, now - 10 + n)
        for n, it in enumerate(items)
    ]
    app.extensions["services"].store.add_events(events)


def test_unknown_user_gets_popular(client: FlaskClient) -> None:
    body = client.get("/recommendations/nobody?k=5").get_json()
    assert body["user_id"] == "nobody" and body["strategy"] == "popular"
    assert body["model"] == {"backend": "numpy", "version": "v00001-numpy"}
    assert len(body["items"]) == 5
    scores = [it["score"] for it in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert {"item_id", "score", "category"} <= set(body["items"][0])


def test_trending_items_rise_in_popular(app: Flask, client: FlaskClient) -> None:
    before = [it["item_id"] for it in client.get("/recommendations/nobody?k=3").get_json()["items"]]
    target = next(f"i{i}" for i in range(1, 50) if f"i{i}" not in before)
    for n in range(30):
        _store(app, f"other{n}", [target])
    time.sleep(1.1)  # trending counts are cached for one second
    after = [it["item_id"] for it in client.get("/recommendations/nobody?k=3").get_json()["items"]]
    assert target in after


def test_history_makes_it_personal_and_excludes_seen(app: Flask, client: FlaskClient) -> None:
    _store(app, "u1", ["i1", "i2", "i3"])
    body = client.get("/recommendations/u1?k=20").get_json()
    assert body["strategy"] == "personalized"
    ids = [it["item_id"] for it in body["items"]]
    assert len(ids) == 20 and not {"i1", "i2", "i3"} & set(ids)
    kept = client.get("/recommendations/u1?k=49&exclude_seen=false").get_json()
    assert {"i1", "i2", "i3"} <= {it["item_id"] for it in kept["items"]}


def test_purchased_always_excluded(app: Flask, client: FlaskClient) -> None:
    _store(app, "u2", ["i5"], "purchase")
    ids = {
        it["item_id"] for it in client.get("/recommendations/u2?k=49&exclude_seen=false").get_json()["items"]
    }
    assert "i5" not in ids and len(ids) == 48


def test_new_events_change_recommendations(app: Flask, client: FlaskClient) -> None:
    _store(app, "u3", ["i1"])
    first = client.get("/recommendations/u3?k=10").get_json()["items"]
    _store(app, "u3", [f"i{i}" for i in range(20, 30)])
    second = client.get("/recommendations/u3?k=10").get_json()["items"]
    assert first != second


def test_category_filter(client: FlaskClient) -> None:
    items = client.get("/recommendations/nobody?k=100&category=c1").get_json()["items"]
    assert items and all(it["category"] == "c1" for it in items)
    assert client.get("/recommendations/nobody?category=none-such").get_json()["items"] == []


def test_category_filter_with_history_still_excludes_seen(app: Flask, client: FlaskClient) -> None:
    seen = [f"i{i}" for i in range(1, 31)]
    _store(app, "u4", seen)
    body = client.get("/recommendations/u4?k=100&category=c1").get_json()
    assert body["strategy"] == "personalized" and body["items"]
    assert all(it["category"] == "c1" and it["item_id"] not in seen for it in body["items"])
    with_seen = client.get("/recommendations/u4?k=100&category=c1&exclude_seen=false").get_json()["items"]
    assert len(with_seen) > len(body["items"]) and all(it["category"] == "c1" for it in with_seen)


@pytest.mark.parametrize("query", ["k=0", "k=101", "k=abc", "k=", "exclude_seen=maybe"])
def test_bad_parameters_are_400(client: FlaskClient, query: str) -> None:
    response = client.get(f"/recommendations/u1?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_parameter"


def test_similar_items(client: FlaskClient) -> None:
    body = client.get("/items/i7/similar?k=4").get_json()
    assert body["item_id"] == "i7" and len(body["items"]) == 4
    assert "i7" not in {it["item_id"] for it in body["items"]}
    missing = client.get("/items/nope/similar")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "unknown_item"
    assert client.get("/items/i7/similar?k=500").status_code == 400


def test_items_older_than_the_history_window_stay_excluded(app: Flask, client: FlaskClient) -> None:
    old = [f"i{i}" for i in range(1, 41)]
    _store(app, "u9", old)  # older than the 250 events below, which fill the history window
    now = time.time()
    recent = [Event(f"u9-r{n}", "u9", f"i{41 + n % 2}", "view", now + n) for n in range(250)]
    app.extensions["services"].store.add_events(recent)
    body = client.get("/recommendations/u9?k=7").get_json()
    assert body["strategy"] == "personalized"
    assert {it["item_id"] for it in body["items"]} == {f"i{i}" for i in range(43, 50)}
