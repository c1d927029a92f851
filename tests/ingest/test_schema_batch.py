"""schema_batch.decode_batch against schema.decode_event: never wider, and the same events when it accepts.

A seeded generator mutates valid events field by field with awkward values (wrong JSON types, NaN,
padding, non-ASCII and surrogate escapes, empty strings, unknown fields, raw bytes that are not
JSON). For every payload alone, and for mixed batches: when decode_batch accepts, decode_event
accepts each payload and yields the same columns; when decode_event refuses any payload, the batch
is refused. Plain producer output must take the batch path, or the landing consumer loses its speed.
"""

from __future__ import annotations

import json
import math
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest import schema as s
from ingest.parquet_sink import landed_files, with_provenance, write_partitioned
from ingest.schema_batch import decode_batch
from ingest.simulator import generate

AWKWARD = [
    None,
    "",
    " ",
    " u1",
    "u1 ",
    "\tu1",
    "u\u00e91",
    "\u00e9",
    "\ud800",
    "a\u0000",
    "a\u0000b",
    "a\u007fb",
    "a\u0085b",
    "a\nb",
    "x" * 256,
    "x" * 257,
    0,
    7,
    -1,
    1.5,
    True,
    False,
    [],
    {},
    math.nan,
    math.inf,
    "4.5",
    "1700000000",
    "2024-01-01T00:00:00Z",
    1_700_000_000,
    1_700_000_000.5,
    1e20,
    0.5,
    5,
    5.5,
    "view",
    "rating",
    "purchase",
    "click",
]
RAW = [b"", b"null", b"42", b"[]", b"{nope", b"\xff\xfe", b'{"a":1}{"b":2}', b"{}\n{}", b"{}\r"]


def _payloads(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    base = [s.validate_event(e).to_dict() for e in generate(200, seed=seed).events]
    out = []
    for _ in range(n):
        raw = dict(rng.choice(base))
        for _ in range(rng.choice([0, 1, 1, 2])):
            name = rng.choice([*s.FIELDS, "extra"])
            if rng.random() < 0.1:
                raw.pop(name, None)
            else:
                raw[name] = rng.choice(AWKWARD)
        if rng.random() < 0.05:
            out.append(rng.choice(RAW))
        else:
            out.append(json.dumps(raw, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass"))
    return out


def _expected(payloads: list[bytes]):
    """decode_event of each, as a table; None if any is refused."""
    try:
        return s.events_table([s.decode_event(p) for p in payloads])
    except s.EventError:
        return None


def _same(got: pa.Table, want: pa.Table) -> None:
    generated = [len(e) == 32 for e in want[s.EVENT_ID].to_pylist()]  # uuid4().hex: differs per call
    drop = [i for i, g in enumerate(generated) if not g]
    assert got.schema == want.schema
    for name in s.FIELDS:
        if name == s.EVENT_ID:
            got_ids, want_ids = got[name].to_pylist(), want[name].to_pylist()
            assert [got_ids[i] for i in drop] == [want_ids[i] for i in drop]
            assert all(len(got_ids[i]) == 32 for i, g in enumerate(generated) if g)
        else:
            assert got[name].to_pylist() == want[name].to_pylist(), name


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_payload_alone(seed):
    accepted = 0
    for payload in _payloads(600, seed):
        got, want = decode_batch([payload]), _expected([payload])
        if got is None:
            continue
        assert want is not None, payload  # the batch path accepted what decode_event refuses
        _same(got, want)
        accepted += 1
    assert accepted > 100  # the unmutated share of the payloads takes the batch path


def test_mixed_batches():
    payloads = _payloads(3000, seed=9)
    rng = random.Random(9)
    for _ in range(200):
        batch = rng.sample(payloads, rng.choice([2, 5, 20]))
        got, want = decode_batch(batch), _expected(batch)
        if want is None:
            assert got is None, batch
        elif got is not None:
            _same(got, want)


def test_producer_output_takes_the_batch_path():
    events = [s.validate_event(e) for e in generate(5000, seed=3).events]
    payloads = [s.encode_event(e) for e in events]
    got = decode_batch(payloads)
    assert got is not None
    _same(got, s.events_table(events))
    assert decode_batch(payloads[:10] + [b"{nope"] + payloads[10:20]) is None
    assert decode_batch(payloads[:3], max_bytes=len(payloads[0]) - 1) is None
    assert decode_batch([]) is None and decode_batch([payloads[0], None]) is None


def test_surrogate_ids_are_refused_not_landed():
    with pytest.raises(s.EventError, match="user_id: not valid Unicode"):
        s.decode_event(b'{"user_id":"\\ud800","item_id":"i","event_type":"view","timestamp":1700000000}')


def test_write_partitioned_splits_by_utc_day(tmp_path):
    just_before_midnight = 1_704_153_599.9999996  # 2024-01-01T23:59:59.9999996Z rounds into 2024-01-02
    raw = [
        {"user_id": "u", "item_id": "i", "event_type": "view", "timestamp": ts}
        for ts in (1_704_067_200, just_before_midnight - 1, just_before_midnight, 1_704_240_000)
    ]
    fields = s.events_table([s.validate_event(r) for r in raw])
    files = write_partitioned(tmp_path, [with_provenance(fields, "t", 3, [10, 11, 12, 13])])
    assert files == landed_files(tmp_path)
    days = {f.parent.name: pq.read_table(f) for f in files}
    assert sorted(days) == ["event_date=2024-01-01", "event_date=2024-01-02", "event_date=2024-01-03"]
    assert days["event_date=2024-01-01"]["kafka_offset"].to_pylist() == [10, 11]
    assert days["event_date=2024-01-02"]["kafka_offset"].to_pylist() == [12]
    assert days["event_date=2024-01-02"]["kafka_partition"].to_pylist() == [3]
