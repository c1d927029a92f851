"""MovieLens files into the landing zone (a tiny fake u.data / u.item, never the real dataset)."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from ingest import schema as s
from ingest.catalog import SCHEMA as CATALOG_SCHEMA
from ingest.movielens import land_movielens
from ingest.parquet_sink import LANDING_SCHEMA

U_DATA = "1\t10\t5\t880000000\n2\t10\t3\t880000100\n1\t20\t4\t890000000\n"
GENRES = "|".join(["0"] * 19)
U_ITEM = f"10|Ten (1995)|01-Jan-1995||url|{GENRES[:-1]}1\n20|Twenty (1996)|01-Jan-1996||url|0|1{GENRES[3:]}\n"


def test_land_movielens_writes_contract_files(settings, tmp_path) -> None:
    data = tmp_path / "ml"
    data.mkdir()
    (data / "u.data").write_text(U_DATA)
    (data / "u.item").write_text(U_ITEM, encoding="latin-1")
    assert land_movielens(settings, data) == 3
    files = sorted((settings.landing_dir / "events").glob("event_date=*/part-*.parquet"))
    assert [f.parent.name for f in files] == ["event_date=1997-11-20", "event_date=1998-03-15"]
    table = pq.read_table(files[0], schema=LANDING_SCHEMA)
    assert table.schema.equals(LANDING_SCHEMA)
    rows = table.to_pylist()
    assert [(r[s.USER_ID], r[s.ITEM_ID], r[s.RATING]) for r in rows] == [("1", "10", 5.0), ("2", "10", 3.0)]
    assert {r[s.EVENT_TYPE] for r in rows} == {s.RATING_EVENT}
    assert len({r[s.EVENT_ID] for r in rows}) == 2
    catalog = pq.read_table(settings.data_dir / "catalog" / "items.parquet").to_pylist()
    assert pq.read_schema(settings.data_dir / "catalog" / "items.parquet").names == CATALOG_SCHEMA.names
    assert [(c["item_id"], c["category"], c["brand"]) for c in catalog] == [
        ("10", "Western", None),
        ("20", "Action", None),
    ]
    assert not list(settings.landing_dir.rglob(".*"))  # no temp files left


def test_a_bad_row_writes_nothing(settings, tmp_path) -> None:
    (tmp_path / "u.data").write_text(U_DATA + "3\t30\t9\t880000200\n")  # rating 9 is out of range
    with pytest.raises(s.EventError):
        land_movielens(settings, tmp_path)
    assert not settings.landing_dir.exists() or not any(settings.landing_dir.rglob("*.parquet"))


def test_missing_folder_is_a_clear_error(settings, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="MovieLens"):
        land_movielens(settings, tmp_path / "nowhere")
    assert not settings.landing_dir.exists() or not any(settings.landing_dir.rglob("*.parquet"))
