"""The interaction event: field names, allowed values and the one validation every stage uses.

Producers validate before sending, the landing consumer validates what it reads (and dead-letters
what fails), and the API validates `POST /events` bodies, all through `validate_event`.
Column names used downstream (Spark, training, serving) are the constants below.

`decode_batch` is the same validation over many payloads at once, in Arrow, for the landing
consumer's hot path. It is deliberately narrower: it accepts a batch only when every payload is an
event in the plain form our producers write (string ids without surrounding spaces, numeric
timestamp, schema_version 1), and then yields exactly what `decode_event` would. Anything else, and
any batch holding one bad payload, makes it return None, and the caller decodes one by one with
`decode_event`, which says which events fail and why. Arrow is imported only when a batch is decoded:
the API never loads it.
"""

from __future__ import annotations

import functools
import json
import math
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
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate from a "\ud800" escape: Parquet cannot hold it
            raise EventError(f"{name}: not valid Unicode ({exc.reason})") from exc
    return text


def parse_timestamp(value: Any) -> float:
    """Unix seconds (int/float or numeric string) or ISO-8601 (naive means UTC) -> UTC unix seconds."""
    if isinstance(value, bool) or value is None or value == "":
        raise EventError("timestamp: missing")
    if isinstance(value, int | float):
        seconds = float(value)
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
            seconds = parsed.timestamp()
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
        number = float(value)
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
    return validate_event(raw)


def encode_event(event: Event, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> bytes:
    """A validated Event -> JSON bytes, refusing events over the size limit."""
    data = event.to_json_bytes()
    if len(data) > max_bytes:
        raise EventError(f"payload: {len(data)} bytes is over the {max_bytes}-byte limit")
    return data


# --- The batch path (Arrow) ------------------------------------------------------------------------

# An id the batch path takes as it is: printable ASCII at both ends (so str.strip() would not change
# it); for optional ids "" too (it means absent). The length limit is checked beside the pattern.
_PLAIN_ID = r"(?s)^[!-~](.*[!-~])?$"
_PLAIN_OPTIONAL_ID = r"(?s)^([!-~](.*[!-~])?)?$"


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


def decode_batch(payloads: list[bytes | None], max_bytes: int = DEFAULT_MAX_EVENT_BYTES):
    """Many Kafka payloads -> an Arrow table of their events (as `events_table` of `decode_event` of
    each), or None when any payload is not a valid event in the plain form (see the module docstring)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    if not payloads:
        return None
    try:
        joined = b"\n".join(payloads)
    except TypeError:  # a tombstone (None)
        return None
    # One line per payload (a raw line break inside one would split it), each within the size limit,
    # each line "{...}": a top-level value that is not an object (a bare `null` crashes Arrow's
    # reader) goes to decode_event, which refuses it.
    lines = len(payloads) - 1
    if (
        joined.count(b"\n") != lines
        or joined.count(b"}\n{") != lines
        or not (joined.startswith(b"{") and joined.endswith(b"}"))
        or b"\r" in joined
        or max(map(len, payloads)) > max_bytes
    ):
        return None
    try:
        joined.decode("utf-8")
    except UnicodeDecodeError:
        return None
    read_schema = arrow_fields().set(len(FIELDS) - 1, pa.field(VERSION, pa.int64()))
    try:
        table = pj.read_json(
            pa.BufferReader(joined),
            read_options=pj.ReadOptions(use_threads=False, block_size=len(joined) + 1),
            parse_options=pj.ParseOptions(explicit_schema=read_schema, unexpected_field_behavior="error"),
        )
    except pa.ArrowInvalid:  # not JSON, not an object, a field of the wrong JSON type, an unknown field
        return None
    if table.num_rows != len(payloads):  # "{...}{...}" on one line, or an empty payload
        return None

    def all_true(mask) -> bool:
        return pc.all(mask.fill_null(False)).as_py()  # an empty or all-null mask is not "all true"

    user_id, item_id, event_id, session_id = (table[c] for c in (USER_ID, ITEM_ID, EVENT_ID, SESSION_ID))
    ids_ok = (
        all_true(pc.match_substring_regex(user_id, _PLAIN_ID))  # null (missing) fails
        and all_true(pc.match_substring_regex(item_id, _PLAIN_ID))
        and all_true(pc.match_substring_regex(event_id, _PLAIN_OPTIONAL_ID).fill_null(True))
        and all_true(pc.match_substring_regex(session_id, _PLAIN_OPTIONAL_ID).fill_null(True))
        and all(
            (pc.max(pc.utf8_length(c)).as_py() or 0) <= MAX_ID_LENGTH
            for c in (user_id, item_id, event_id, session_id)
        )
    )
    if not ids_ok:
        return None
    event_type, timestamp, rating, price = (table[c] for c in (EVENT_TYPE, TIMESTAMP, RATING, PRICE))
    is_rating = pc.equal(event_type, RATING_EVENT)
    checks = (
        pc.is_in(event_type, value_set=pa.array(EVENT_TYPES)),
        pc.equal(table[VERSION], SCHEMA_VERSION),  # absent reads as null: left to decode_event
        pc.and_(pc.greater_equal(timestamp, MIN_TIMESTAMP), pc.less_equal(timestamp, MAX_TIMESTAMP)),
        # rating events carry a rating in range, other events none (a NaN fails the comparisons)
        pc.if_else(
            is_rating,
            pc.and_(pc.greater_equal(rating, RATING_MIN), pc.less_equal(rating, RATING_MAX)),
            pc.is_null(rating),
        ),
        pc.or_kleene(pc.is_null(price), pc.and_(pc.is_finite(price), pc.greater_equal(price, 0))),
    )
    if not all(all_true(check) for check in checks):
        return None
    none = pa.scalar(None, pa.string())
    if pc.any(pc.equal(session_id, "")).as_py():  # "" means absent
        session_id = pc.if_else(pc.equal(session_id, ""), none, session_id)
    if pc.any(pc.equal(event_id, "")).as_py() or event_id.null_count:  # generated, as decode_event does
        absent = pc.equal(event_id, "").fill_null(True).combine_chunks()
        fresh = pa.array([uuid.uuid4().hex for _ in range(pc.sum(absent).as_py())])
        event_id = pc.replace_with_mask(event_id.combine_chunks(), absent, fresh)
    columns = [event_id, user_id, item_id, event_type, timestamp, session_id, rating, price]
    columns.append(pc.cast(table[VERSION], pa.int32()))
    return pa.Table.from_arrays(columns, schema=arrow_fields())
