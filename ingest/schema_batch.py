"""`decode_batch`: the event validation of `ingest.schema` over many payloads at once, in Arrow, for
the landing consumer's hot path.

It is deliberately narrower than `decode_event`: it accepts a batch only when every payload is an
event in the plain form our producers write (string ids without surrounding spaces, numeric
timestamp, schema_version 1), and then yields exactly what `decode_event` would. Anything else, and
any batch holding one bad payload, makes it return None, and the caller decodes one by one with
`decode_event`, which says which events fail and why (tests/ingest/test_schema_batch.py holds the
two side by side).
"""

from __future__ import annotations

import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ingest.schema import (
    DEFAULT_MAX_EVENT_BYTES,
    EVENT_ID,
    EVENT_TYPE,
    EVENT_TYPES,
    FIELDS,
    ITEM_ID,
    MAX_ID_LENGTH,
    MAX_TIMESTAMP,
    MIN_TIMESTAMP,
    PRICE,
    RATING,
    RATING_EVENT,
    RATING_MAX,
    RATING_MIN,
    SCHEMA_VERSION,
    SESSION_ID,
    TIMESTAMP,
    USER_ID,
    VERSION,
    arrow_fields,
)

# An id the batch path takes as it is: printable ASCII at both ends (so str.strip() would not change
# it) and no control character between (schema refuses them); for optional ids "" too (it means
# absent). The length limit is checked beside the pattern.
_PLAIN_ID = r"^[!-~]([^\x00-\x1f\x7f-\x{9f}]*[!-~])?$"
_PLAIN_OPTIONAL_ID = r"^([!-~]([^\x00-\x1f\x7f-\x{9f}]*[!-~])?)?$"


def _all_true(mask) -> bool:
    return pc.all(mask.fill_null(False)).as_py()  # an empty or all-null mask is not "all true"


def _read_plain_json(payloads: list[bytes | None], max_bytes: int) -> pa.Table | None:
    """The payloads as one Arrow table (version as int64), or None unless each is one JSON object on
    a line of its own, within the size limit, with only known fields of the right JSON types."""
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
    return table if table.num_rows == len(payloads) else None  # "{...}{...}" on one line, or empty


def _plain_ids(table: pa.Table) -> bool:
    user_id, item_id, event_id, session_id = (table[c] for c in (USER_ID, ITEM_ID, EVENT_ID, SESSION_ID))
    return (
        _all_true(pc.match_substring_regex(user_id, _PLAIN_ID))  # null (missing) fails
        and _all_true(pc.match_substring_regex(item_id, _PLAIN_ID))
        and _all_true(pc.match_substring_regex(event_id, _PLAIN_OPTIONAL_ID).fill_null(True))
        and _all_true(pc.match_substring_regex(session_id, _PLAIN_OPTIONAL_ID).fill_null(True))
        and all(
            (pc.max(pc.utf8_length(c)).as_py() or 0) <= MAX_ID_LENGTH
            for c in (user_id, item_id, event_id, session_id)
        )
    )


def _valid_values(table: pa.Table) -> bool:
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
    return all(_all_true(check) for check in checks)


def decode_batch(payloads: list[bytes | None], max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> pa.Table | None:
    """Many Kafka payloads -> an Arrow table of their events (as `events_table` of `decode_event` of
    each), or None when any payload is not a valid event in the plain form (see the module docstring)."""
    table = _read_plain_json(payloads, max_bytes) if payloads else None
    if table is None or not _plain_ids(table) or not _valid_values(table):
        return None
    event_id, session_id = table[EVENT_ID], table[SESSION_ID]
    none = pa.scalar(None, pa.string())
    if pc.any(pc.equal(session_id, "")).as_py():  # "" means absent
        session_id = pc.if_else(pc.equal(session_id, ""), none, session_id)
    if pc.any(pc.equal(event_id, "")).as_py() or event_id.null_count:  # generated, as decode_event does
        absent = pc.equal(event_id, "").fill_null(True).combine_chunks()
        fresh = pa.array([uuid.uuid4().hex for _ in range(pc.sum(absent).as_py())])
        event_id = pc.replace_with_mask(event_id.combine_chunks(), absent, fresh)
    columns = [event_id, *(table[c] for c in (USER_ID, ITEM_ID, EVENT_TYPE, TIMESTAMP))]
    columns += [session_id, table[RATING], table[PRICE], pc.cast(table[VERSION], pa.int32())]
    return pa.Table.from_arrays(columns, schema=arrow_fields())
