"""Hostile payloads: whatever a client sends to POST /events or puts in a path id is a 400 JSON error
with a reason, never a 500, and nothing is stored. The same corpus the consumers meet on the topic."""

from __future__ import annotations

import json
import time

import pytest
from flask.testing import FlaskClient

NOW = time.time()
HUGE = 10**400  # a valid JSON integer that no float can hold
DEEP = 100_000  # far past the json module's recursion limit


def _event(**extra) -> dict:
    return {"user_id": "u1", "item_id": "i1", "event_type": "view", "timestamp": NOW, **extra}


EVENTS: dict[str, object] = {
    "huge timestamp": _event(timestamp=HUGE),
    "huge price": _event(event_type="purchase", price=HUGE),
    "huge rating": _event(event_type="rating", rating=-HUGE),
    "NUL in user_id": _event(user_id="u\x001"),
    "escape in item_id": _event(item_id="i\x1b[31m"),
    "newline in session_id": _event(session_id="s\n1"),
    "DEL in user_id": _event(user_id="u\x7f"),
    "lone surrogate": _event(user_id="\ud800"),
    "id too long": _event(item_id="i" * 1000),
    "list as user_id": _event(user_id=["u1"]),
    "object as timestamp": _event(timestamp={"t": 1}),
    "list as price": _event(event_type="purchase", price=[1]),
    "bool as rating": _event(event_type="rating", rating=True),
    "list as event_type": _event(event_type=["view"]),
    "NaN timestamp": _event(timestamp=float("nan")),
    "nested object as event": {"a": {"b": [1, 2, {"c": None}]}},
    "string as event": "hello",
    "number as event": 12,
}

BODIES: dict[str, bytes] = {
    "deeply nested arrays": b"[" * DEEP + b"]" * DEEP,
    "deeply nested objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "nested inside an event": json.dumps(_event()).encode()[:-1]
    + b',"x":'
    + b"[" * DEEP
    + b"]" * DEEP
    + b"}",
    "bad UTF-8": b'{"user_id": "\xff\xfe", "item_id": "i1", "event_type": "view", "timestamp": 1.7e9}',
    "latin-1": '{"user_id": "é", "item_id": "i1", "event_type": "view", "timestamp": 1.7e9}'.encode(
        "latin-1"
    ),
    "integer over the parser's digit limit": b'{"timestamp": ' + b"9" * 5000 + b"}",
    "truncated": b'{"user_id": "u1", ',
    "empty": b"",
}


def _assert_400(response) -> dict:
    assert response.status_code == 400, response.data[:300]
    assert response.is_json
    return response.get_json()["error"]


def _stored(client: FlaskClient) -> list:
    return client.application.extensions["services"].store.user_events("u1", 100)


@pytest.mark.parametrize("name", list(EVENTS))
def test_hostile_events_are_400_with_a_reason(client: FlaskClient, name: str) -> None:
    body = json.dumps([_event(), EVENTS[name]], allow_nan=True)
    err = _assert_400(client.post("/events", data=body, content_type="application/json"))
    assert err["code"] == "invalid_events" and [d["index"] for d in err["details"]] == [1]
    assert err["details"][0]["reason"]
    assert _stored(client) == []


@pytest.mark.parametrize("name", list(BODIES))
def test_hostile_bodies_are_400(client: FlaskClient, name: str) -> None:
    err = _assert_400(client.post("/events", data=BODIES[name], content_type="application/json"))
    assert err["code"] in ("invalid_json", "invalid_events")
    assert _stored(client) == []


def test_control_characters_are_named(client: FlaskClient) -> None:
    err = _assert_400(client.post("/events", json=_event(user_id="u\x001")))
    assert err["details"][0]["reason"] == "user_id: holds the control character U+0000"


@pytest.mark.parametrize(
    "path",
    [
        "/recommendations/u%001",
        "/recommendations/u%0A",
        "/recommendations/%1b%5b31m",
        "/items/i%00/similar",
        "/recommendations/%ff%fe",  # not UTF-8: werkzeug would answer for user "\ufffd\ufffd"
        "/recommendations/%ED%A0%80",  # an encoded surrogate is not UTF-8 either
        "/recommendations/" + "u" * 300,
    ],
)
def test_hostile_path_ids_are_400(client: FlaskClient, path: str) -> None:
    err = _assert_400(client.get(path))
    assert err["code"] in ("invalid_parameter", "invalid_path")


def test_ordinary_unicode_ids_still_work(client: FlaskClient) -> None:
    assert client.get("/recommendations/%C3%A9l%C3%A8ve-%E2%9C%93").get_json()["user_id"] == "élève-✓"
