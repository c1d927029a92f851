"""The interaction event: field names, allowed values and the one validation every stage uses.

Producers validate before sending, the landing consumer validates what it reads (and dead-letters
what fails), and the API validates `POST /events` bodies, all through `validate_event`.
Column names used downstream (Spark, training, serving) are the constants below.

`ingest.schema_batch.decode_batch` is the same validation over many payloads at once, in Arrow, for
the landing consumer's hot path; Arrow is imported only when a batch is decoded or a table built: the
API never loads it.
"""

from __future__ import annotations

import functools
import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SCHEMA_VERSION = 1
DEFAULT_MAX_EVENT_BYTES = 64 * 1024

# Field and column names: the one place they are spelled.
EVENT_ID = "event_id"
USER_ID = "user_id"
ITEM_ID = "item_id"
EVENT_TYPE = "event_type"
TIMESTAMP = "timestamp"
SESSION_ID = "session_id"
RATING = "rating"
PRICE = "price"
VERSION = "schema_version"

FIELDS = (EVENT_ID, USER_ID, ITEM_ID, EVENT_TYPE, TIMESTAMP, SESSION_ID, RATING, PRICE, VERSION)
_FIELD_SET = frozenset(FIELDS)

VIEW, ADD_TO_CART, PURCHASE, RATING_EVENT = "view", "add_to_cart", "purchase", "rating"
EVENT_TYPES = (VIEW, ADD_TO_CART, PURCHASE, RATING_EVENT)
# Small integer codes for event types in model inputs; 0 is padding.
EVENT_TYPE_CODE = {name: i + 1 for i, name in enumerate(EVENT_TYPES)}

RATING_MIN, RATING_MAX = 0.5, 5.0
MAX_ID_LENGTH = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc; ingest.schema_batch refuses the same
# Timestamps outside these bounds are data errors (unix seconds; 1995-01-01 .. 2100-01-01).
MIN_TIMESTAMP, MAX_TIMESTAMP = 788_918_400, 4_102_444_800


class EventError(ValueError):
    """An event that does not satisfy the schema; the message says which field and why."""


@dataclass(frozen=True)
class Event:
    """A validated event. `timestamp` is UTC unix seconds (float, sub-second kept)."""

    event_id: str
    user_id: str
    item_id: str
    event_type: str
    timestamp: float
    session_id: str | None = None
    rating: float | None = None
    price: float | None = None
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    def to_json_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()


def _id_field(raw: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            raise EventError(f"{name}: missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EventError(f"{name}: expected a string id, got {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise EventError(f"{name}: empty")
    if len(text) > MAX_ID_LENGTH:
        raise EventError(f"{name}: longer than {MAX_ID_LENGTH} characters")
    if _CONTROL.search(text):  # a NUL or a line break in an id breaks logs, CSV exports and C clients
        raise EventError(f"{name}: contains a control character")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate from a "\ud800" escape: Parquet cannot hold it
            raise EventError(f"{name}: not valid Unicode ({exc.reason})") from exc
    return text


def _to_float(value: Any, name: str) -> float:
    """float(value), with a too large integer (float() raises OverflowError) refused as bad input."""
    try:
        return float(value)
    except OverflowError as exc:
        raise EventError(f"{name}: {len(str(value))}-digit integer is out of range") from exc


def parse_timestamp(value: Any) -> float:
    """Unix seconds (int/float or numeric string) or ISO-8601 (naive means UTC) -> UTC unix seconds."""
    if isinstance(value, bool) or value is None or value == "":
        raise EventError("timestamp: missing")
    if isinstance(value, int | float):
        seconds = _to_float(value, TIMESTAMP)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError as exc:
                raise EventError(f"timestamp: not unix seconds nor ISO-8601: {text[:40]!r}") from exc
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            try:
                seconds = parsed.timestamp()
            except (OverflowError, OSError, ValueError) as exc:  # a date the platform cannot convert
                raise EventError(f"timestamp: {text[:40]!r} is outside 1995..2100") from exc
    else:
        raise EventError(f"timestamp: expected number or ISO-8601 string, got {type(value).__name__}")
    if not math.isfinite(seconds) or not MIN_TIMESTAMP <= seconds <= MAX_TIMESTAMP:
        raise EventError(f"timestamp: {value!r} is outside 1995..2100")
    return seconds


def _number(raw: Mapping[str, Any], name: str) -> float | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise EventError(f"{name}: expected a number, got bool")
    try:
        number = _to_float(value, name)
    except EventError:
        raise
    except (TypeError, ValueError) as exc:
        raise EventError(f"{name}: expected a number, got {value!r:.40}") from exc
    if not math.isfinite(number):
        raise EventError(f"{name}: not finite")
    return number


def validate_event(raw: Any) -> Event:
    """Check one event (a mapping, as decoded from JSON) and return it normalised, or raise EventError."""
    if not isinstance(raw, Mapping):
        raise EventError(f"event: expected a JSON object, got {type(raw).__name__}")
    unknown = raw.keys() - _FIELD_SET
    if unknown:
        raise EventError(f"event: unknown fields {sorted(unknown)}")
    version = raw.get(VERSION, SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise EventError(f"schema_version: {version!r} is not supported (expected {SCHEMA_VERSION})")
    event_type = raw.get(EVENT_TYPE)
    if event_type not in EVENT_TYPES:
        raise EventError(f"event_type: {event_type!r} is not one of {list(EVENT_TYPES)}")
    rating = _number(raw, RATING)
    if event_type == RATING_EVENT:
        if rating is None:
            raise EventError("rating: required for rating events")
        if not RATING_MIN <= rating <= RATING_MAX:
            raise EventError(f"rating: {rating} is outside {RATING_MIN}..{RATING_MAX}")
    elif rating is not None:
        raise EventError(f"rating: only rating events carry a rating (event_type={event_type})")
    price = _number(raw, PRICE)
    if price is not None and price < 0:
        raise EventError(f"price: {price} is negative")
    return Event(
        event_id=_id_field(raw, EVENT_ID, required=False) or uuid.uuid4().hex,
        user_id=_id_field(raw, USER_ID),
        item_id=_id_field(raw, ITEM_ID),
        event_type=event_type,
        timestamp=parse_timestamp(raw.get(TIMESTAMP)),
        session_id=_id_field(raw, SESSION_ID, required=False),
        rating=rating,
        price=price,
    )


def decode_event(payload: bytes | None, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> Event:
    """Bytes from Kafka -> a validated Event, or EventError saying why not (size, JSON, schema)."""
    if payload is None:
        raise EventError("payload: empty (tombstone)")
    if len(payload) > max_bytes:
        raise EventError(f"payload: {len(payload)} bytes is over the {max_bytes}-byte limit")
    try:
        raw = json.loads(payload.decode("utf-8"))  # JSON on the wire is UTF-8 (RFC 8259)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventError(f"payload: not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})") from exc
    except RecursionError as exc:  # deeply nested arrays/objects: bad input, not a crash
        raise EventError("payload: not valid JSON (nested too deeply)") from exc
    except ValueError as exc:  # an integer of more than 4,300 digits (sys.set_int_max_str_digits)
        raise EventError(f"payload: not valid JSON ({exc})") from exc
    try:
        return validate_event(raw)
    except EventError:
        raise
    except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:
        # A payload no rule above foresaw: still bad input for the dead-letter topic, never a crash.
        raise EventError(f"payload: {type(exc).__name__}: {str(exc)[:200]}") from exc


def encode_event(event: Event, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> bytes:
    """A validated Event -> JSON bytes, refusing events over the size limit."""
    data = event.to_json_bytes()
    if len(data) > max_bytes:
        raise EventError(f"payload: {len(data)} bytes is over the {max_bytes}-byte limit")
    return data


# --- Arrow: the landing zone's columns (ingest.parquet_sink, ingest.schema_batch) -----------------


@functools.cache
def arrow_fields():
    """The Arrow schema of validated events, one column per field (timestamp in UTC unix seconds)."""
    import pyarrow as pa

    return pa.schema(
        [
            (EVENT_ID, pa.string()),
            (USER_ID, pa.string()),
            (ITEM_ID, pa.string()),
            (EVENT_TYPE, pa.string()),
            (TIMESTAMP, pa.float64()),
            (SESSION_ID, pa.string()),
            (RATING, pa.float64()),
            (PRICE, pa.float64()),
            (VERSION, pa.int32()),
        ]
    )


def events_table(events: list[Event]):
    """Validated Events -> an Arrow table in `arrow_fields()`."""
    import pyarrow as pa

    columns = {name: [getattr(e, name) for e in events] for name in FIELDS}
    return pa.Table.from_pydict(columns, schema=arrow_fields())
