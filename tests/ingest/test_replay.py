"""Replay: MovieLens u.data (+ u.item catalog), ratings.csv and the generic CSV/Parquet, in time order."""

from __future__ import annotations

import subprocess
import sys
import time

import pandas as pd
import pytest

from infra.config import REPO_ROOT
from ingest import schema as s
from ingest.produce import paced, replay
from ingest.replay import ReplayError, detect_format, movielens_catalog, read_events
from tests.ingest.helpers import read_topic

U_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n196\t302\t5\t881250900\n"
U_ITEM = (
    "242|Kolya (1996)|24-Jan-1997||http://x|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "302|L.A. Confidential (1997)|01-Jan-1997||http://x|0|0|0|0|0|0|1|0|0|0|0|0|0|1|0|0|1|0|0\n"
    "377|Heavyweights (1994)|01-Jan-1994||http://x|0|0|0|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
)


def test_movielens_u_data_sorted_rating_events(tmp_path):
    path = tmp_path / "u.data"
    path.write_text(U_DATA)
    events = list(read_events(path))
    assert detect_format(path) == "movielens"
    assert [e[s.TIMESTAMP] for e in events] == [878887116, 881250900, 881250949, 891717742]
    assert events[0] == {
        s.EVENT_ID: "ml100k-22-377-878887116",
        s.USER_ID: "22",
        s.ITEM_ID: "377",
        s.EVENT_TYPE: "rating",
        s.TIMESTAMP: 878887116,
        s.RATING: 1.0,
    }
    assert all(s.validate_event(e) for e in events)


def test_movielens_catalog_from_u_item(tmp_path):
    (tmp_path / "u.data").write_text(U_DATA)
    (tmp_path / "u.item").write_text(U_ITEM, encoding="latin-1")
    catalog = movielens_catalog(tmp_path / "u.data")
    assert catalog["item_id"].tolist() == ["242", "302", "377"]
    assert catalog["category"].tolist() == ["Comedy", "Crime", "Children's"]
    assert catalog["brand"].isna().all() and catalog["price"].isna().all()
    assert movielens_catalog(tmp_path / "elsewhere" / "u.data") is None


def test_ratings_csv(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,1029,3.0,1260759100\n")
    events = list(read_events(path))
    assert detect_format(path) == "ratings"
    assert [(e[s.ITEM_ID], e[s.RATING]) for e in events] == [("1029", 3.0), ("31", 2.5)]


def test_generic_csv_and_parquet(tmp_path):
    csv = tmp_path / "events.csv"
    csv.write_text(
        "user_id,item_id,event_type,timestamp,rating,session_id\n"
        "a,x,view,2024-01-02T00:00:00Z,,s1\n"
        "b,y,rating,1704067200,4.5,\n"
        "c,z,view,not-a-time,,\n"
    )
    events = list(read_events(csv))
    assert [e[s.USER_ID] for e in events] == ["b", "a", "c"]  # by time; the bad time last
    assert events[0] == {
        "user_id": "b",
        "item_id": "y",
        "event_type": "rating",
        "timestamp": "1704067200",
        "rating": "4.5",
    }
    assert events[1][s.SESSION_ID] == "s1"
    pq_path = tmp_path / "events.parquet"
    pd.DataFrame(
        {
            "user_id": ["a", "b"],
            "item_id": ["x", "y"],
            "event_type": ["view", "purchase"],
            "timestamp": [20.0e8, 10.0e8],
            "price": [1.0, None],
        }
    ).to_parquet(pq_path)
    events = list(read_events(pq_path))
    assert [e[s.USER_ID] for e in events] == ["b", "a"] and s.PRICE not in events[0]


def test_bad_files_raise_clear_errors(tmp_path):
    with pytest.raises(ReplayError, match="no such file"):
        list(read_events(tmp_path / "missing.csv"))
    odd = tmp_path / "odd.csv"
    odd.write_text("who,what\n1,2\n")
    with pytest.raises(ReplayError, match="unknown format"):
        list(read_events(odd))
    extra = tmp_path / "extra.csv"
    extra.write_text("user_id,item_id,event_type,timestamp,colour\na,b,view,1704067200,red\n")
    with pytest.raises(ReplayError, match=r"unknown columns \['colour'\]"):
        read_events(extra)
    with pytest.raises(ReplayError, match="missing columns"):
        read_events(odd, "csv")
    with pytest.raises(ReplayError, match="unknown format 'xml'"):
        read_events(odd, "xml")


def test_paced_replay_compresses_time():
    events = [{"timestamp": 1_704_067_200 + i * 10} for i in range(3)]
    started = time.monotonic()
    assert list(paced(events, speedup=100.0)) == events
    assert 0.15 < time.monotonic() - started < 2.0  # 20 event seconds at 100x = 0.2 s


@pytest.mark.kafka
def test_replay_produces_and_writes_catalog(kafka_settings, tmp_path):
    (tmp_path / "u.data").write_text(U_DATA)
    (tmp_path / "u.item").write_text(U_ITEM, encoding="latin-1")
    summary = replay(kafka_settings, tmp_path / "u.data", progress=False)
    assert (summary.sent, summary.dead_lettered) == (4, 0)
    records = read_topic(kafka_settings, kafka_settings.events_topic, expected=4)
    assert sorted(r.key for r in records) == [b"186", b"196", b"196", b"22"]
    catalog = pd.read_parquet(kafka_settings.data_dir / "catalog" / "items.parquet")
    assert catalog["category"].tolist() == ["Comedy", "Crime", "Children's"]


def test_produce_cli_help_and_bad_path():
    run = [sys.executable, "-m", "ingest.produce"]
    out = subprocess.run(
        [*run, "replay", "--help"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert "--speedup" in out.stdout and "--format" in out.stdout
    bad = subprocess.run(
        [*run, "replay", "/nonexistent/u.data"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "no such file" in bad.stderr and "Traceback" not in bad.stderr
