"""Every rule of ingest/schema.py: what passes, what fails and the reason given."""

from __future__ import annotations

import json

import pytest

from ingest import schema as s

BASE = {"user_id": "u1", "item_id": "i1", "event_type": "view", "timestamp": 1_700_000_000}


def ok(**changes):
    return s.validate_event({**BASE, **changes})


def fails(match: str, raw=None, **changes):
    with pytest.raises(s.EventError, match=match):
        s.validate_event({**BASE, **changes} if raw is None else raw)


def test_minimal_event_is_normalised():
    event = ok()
    assert (event.user_id, event.item_id, event.event_type, event.timestamp) == ("u1", "i1", "view", 1.7e9)
    assert len(event.event_id) == 32 and event.schema_version == s.SCHEMA_VERSION
    assert event.session_id is None and event.rating is None and event.price is None
    assert ok(event_id="e1").event_id == "e1"
    assert ok().event_id != ok().event_id


def test_ids_accept_int_and_strip_but_reject_other_types():
    assert ok(user_id=42, item_id=" i9 ").user_id == "42" and ok(item_id=" i9 ").item_id == "i9"
    fails("user_id: missing", user_id=None)
    fails("item_id: missing", item_id="")
    fails("user_id: expected a string id", user_id=True)
    fails("item_id: expected a string id", item_id=1.5)
    fails("user_id: empty", user_id="   ")
    fails("item_id: longer than", item_id="x" * (s.MAX_ID_LENGTH + 1))
    assert ok(session_id="").session_id is None
    fails("session_id: expected a string id", session_id=["a"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000, 1.7e9),
        (1_700_000_000.5, 1_700_000_000.5),
        ("1700000000", 1.7e9),
        ("2023-11-14T22:13:20Z", 1.7e9),
        ("2023-11-14T22:13:20", 1.7e9),
        ("2023-11-14T23:13:20+01:00", 1.7e9),
    ],
)
def test_timestamp_forms(value, expected):
    assert s.parse_timestamp(value) == expected


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (None, "missing"),
        ("", "missing"),
        (True, "missing"),
        ("yesterday", "not unix seconds nor ISO-8601"),
        ([1], "expected number or ISO-8601"),
        (float("nan"), "outside"),
        (float("inf"), "outside"),
        (s.MIN_TIMESTAMP - 1, "outside"),
        (s.MAX_TIMESTAMP + 1, "outside"),
        (1_700_000_000_000, "outside"),  # milliseconds by mistake
    ],
)
def test_timestamp_rejections(value, match):
    with pytest.raises(s.EventError, match=f"timestamp: .*{match}|timestamp: {match}"):
        s.parse_timestamp(value)


def test_event_types_and_ratings():
    for kind in (s.VIEW, s.ADD_TO_CART, s.PURCHASE):
        assert ok(event_type=kind).event_type == kind
    fails("event_type: 'click' is not one of", event_type="click")
    fails("event_type: None", event_type=None)
    assert ok(event_type="rating", rating="4.5").rating == 4.5
    fails("rating: required for rating events", event_type="rating")
    fails("rating: 5.5 is outside", event_type="rating", rating=5.5)
    fails("rating: 0.0 is outside", event_type="rating", rating=0)
    fails("rating: only rating events carry a rating", rating=3)
    fails("rating: expected a number, got bool", event_type="rating", rating=True)
    fails("rating: expected a number", event_type="rating", rating="good")
    fails("rating: not finite", event_type="rating", rating=float("nan"))


def test_price_and_version_and_unknown_fields():
    assert ok(price="9.99").price == 9.99 and ok(price=0).price == 0.0
    fails("price: -1.0 is negative", price=-1)
    fails("price: not finite", price=float("inf"))
    assert ok(schema_version=1).schema_version == 1
    fails("schema_version: 2 is not supported", schema_version=2)
    fails(r"event: unknown fields \['colour'\]", colour="red")
    fails("event: expected a JSON object, got list", raw=[1, 2])


def test_event_type_codes_start_at_one():
    assert sorted(s.EVENT_TYPE_CODE.values()) == list(range(1, len(s.EVENT_TYPES) + 1))


def test_decode_and_encode_round_trip_and_limits():
    event = ok(event_id="e1", session_id="s1", price=3.5)
    payload = s.encode_event(event)
    assert s.decode_event(payload) == event
    assert json.loads(payload) == event.to_dict()
    with pytest.raises(s.EventError, match="payload: empty"):
        s.decode_event(None)
    with pytest.raises(s.EventError, match="over the 10-byte limit"):
        s.decode_event(payload, max_bytes=10)
    with pytest.raises(s.EventError, match="over the 10-byte limit"):
        s.encode_event(event, max_bytes=10)
    with pytest.raises(s.EventError, match="not valid JSON"):
        s.decode_event(b"{nope")
    with pytest.raises(s.EventError, match="not valid JSON"):
        s.decode_event(b"\xff\xfe")
    with pytest.raises(s.EventError, match="expected a JSON object"):
        s.decode_event(b"42")
    with pytest.raises(s.EventError, match="nested too deeply"):
        s.decode_event(b"[" * 50_000)


HUGE = int("9" * 400)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (json.dumps({**BASE, "timestamp": HUGE}), "timestamp: 400-digit integer is out of range"),
        (json.dumps({**BASE, "price": HUGE}), "price: 400-digit integer is out of range"),
        (json.dumps({**BASE, "event_type": "rating", "rating": HUGE}), "rating: 400-digit integer"),
        (json.dumps({**BASE, "price": 1}).replace("1}", "9" * 5000 + "}"), "not valid JSON .*digits"),
        (json.dumps({**BASE, "timestamp": "0001-01-01T00:00:00+14:00"}), "timestamp: .*outside"),
        ("[" * 50_000, "nested too deeply"),
        ('{"user_id": ' + "[" * 50_000, "not valid JSON"),
        (json.dumps({**BASE, "user_id": "a\u0000b"}), "user_id: contains a control character"),
        (json.dumps({**BASE, "item_id": "a\nb"}), "item_id: contains a control character"),
        (json.dumps({**BASE, "session_id": "s\u0085s"}), "session_id: contains a control character"),
        (json.dumps({**BASE, "event_id": "e\u007f"}), "event_id: contains a control character"),
        (json.dumps({**BASE, "user_id": {"a": 1}}), "user_id: expected a string id"),
        (json.dumps({**BASE, "price": [1]}), "price: expected a number"),
        (json.dumps({**BASE, "timestamp": {"t": 1}}), "timestamp: expected number"),
        (json.dumps({**BASE, "event_type": ["view"]}), "event_type: .* is not one of"),
        (json.dumps({**BASE, "schema_version": {}}), "schema_version: .* is not supported"),
    ],
)
def test_poison_payloads_are_refused_with_a_reason(payload, match):
    """Whatever a payload holds, decode_event raises EventError (dead-lettered), never another error."""
    with pytest.raises(s.EventError, match=match):
        s.decode_event(payload.encode(), max_bytes=1 << 20)
    with pytest.raises(s.EventError):  # the API's path: JSON parsed by Flask, then validated
        try:
            raw = json.loads(payload)
        except (ValueError, RecursionError):
            raise s.EventError("not JSON") from None
        s.validate_event(raw)
