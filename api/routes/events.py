"""POST /events: one event or a list, all or nothing.

The rule: every event is validated first; if any is invalid the answer is 400 with a reason per
invalid event and NOTHING is produced or stored. Valid batches are produced to Kafka (acks=all) and
each send is awaited; only when all are acknowledged are they written to the online store and 202
returned with the count and the event ids. If the broker is unreachable or any send fails, the answer
is 503 and nothing is stored; some events may already sit in Kafka, which is harmless because every
consumer is idempotent by event_id: clients that set `event_id` themselves can retry the same body
safely (ids assigned by the API differ on a retry).

Whatever a body holds, the answer is a 400 with a reason, never a 500: numbers too large for a float,
JSON nested too deeply for the parser, bad UTF-8, control characters in ids (api.guards), wrong types.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from kafka.errors import KafkaError

from api import metrics
from api.errors import ApiError
from api.guards import event_id_problem, id_problem
from api.services import services
from ingest.schema import (
    EVENT_ID,
    ITEM_ID,
    SESSION_ID,
    USER_ID,
    Event,
    EventError,
    encode_event,
    validate_event,
)

log = logging.getLogger(__name__)
bp = Blueprint("events", __name__)
MAX_EVENTS_PER_REQUEST = 1000
# What the schema may still raise on hostile input besides EventError (e.g. float(10**400)).
PAYLOAD_ERRORS = (EventError, ArithmeticError, ValueError, TypeError, RecursionError)


def _parse() -> list:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "POST /events takes Content-Type: application/json")
    data = request.get_data(cache=True)
    request.stream.read(1)  # a chunked body cut at the size limit raises 413 here, not a JSON error
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        raise ApiError(400, "invalid_json", "the body is not valid JSON (nested too deeply)") from None
    if body is None:
        reason = "the body is empty" if not data else "the body is not valid JSON"
        raise ApiError(400, "invalid_json", reason)
    raw = body if isinstance(body, list) else [body]
    if not raw:
        raise ApiError(400, "invalid_events", "the list of events is empty")
    if len(raw) > MAX_EVENTS_PER_REQUEST:
        raise ApiError(400, "too_many_events", f"at most {MAX_EVENTS_PER_REQUEST} events per request")
    return raw


def _check_ids(item: object) -> None:
    """The API's own id rules, on top of the schema's (which judges types and lengths)."""
    if not isinstance(item, dict):
        return
    for name in (USER_ID, ITEM_ID, SESSION_ID, EVENT_ID):
        problem = id_problem(item.get(name))
        if problem:
            raise EventError(f"{name}: {problem}")
    problem = event_id_problem(item.get(EVENT_ID))
    if problem:
        raise EventError(f"{EVENT_ID}: {problem}")


def _validate(raw: list, max_bytes: int) -> tuple[list[Event], list[bytes]]:
    events, payloads, errors = [], [], []
    for i, item in enumerate(raw):
        try:
            _check_ids(item)
            event = validate_event(item)
            payloads.append(encode_event(event, max_bytes))
            events.append(event)
        except EventError as exc:
            errors.append({"index": i, "reason": str(exc)})
        except PAYLOAD_ERRORS as exc:  # the schema did not foresee it: still the payload's fault
            errors.append({"index": i, "reason": f"event: {type(exc).__name__}: {str(exc)[:200]}"})
    if errors:
        raise ApiError(
            400, "invalid_events", f"{len(errors)} of {len(raw)} events are invalid; none accepted", errors
        )
    return events, payloads


def _produce(events: list[Event], payloads: list[bytes]) -> None:
    svc = services()
    try:
        producer = svc.producer()
        futures = [
            producer.send(svc.settings.events_topic, key=e.user_id.encode(), value=p)
            for e, p in zip(events, payloads, strict=True)
        ]
        producer.flush(timeout=svc.produce_timeout)
        for future in futures:
            future.get(timeout=svc.produce_timeout)
    except (KafkaError, TimeoutError, OSError) as exc:
        svc.drop_producer()
        log.warning("events not accepted, broker unavailable: %s", exc)
        raise ApiError(
            503,
            "broker_unavailable",
            "the event broker did not acknowledge the events; none accepted, retry with the same event_ids",
            {"reason": type(exc).__name__},
        ) from exc


@bp.post("/events")
def post_events():
    svc = services()
    events, payloads = _validate(_parse(), svc.settings.max_event_bytes)
    _produce(events, payloads)
    svc.store.add_events(events)
    metrics.EVENTS_ACCEPTED.inc(len(events))
    return jsonify({"accepted": len(events), "event_ids": [e.event_id for e in events]}), 202
