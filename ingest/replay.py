"""Read a data set file as raw events in timestamp order (the producer validates and sends them).

Formats (`fmt`, or "auto" from the file name/header):
  movielens  MovieLens 100K `u.data`: tab separated user, item, rating, unix time, no header
  ratings    MovieLens `ratings.csv`: header userId,movieId,rating,timestamp
  csv        generic CSV with header user_id,item_id,event_type,timestamp[,rating][,session_id]
             (event_id and price columns are accepted too)
  parquet    the generic columns in a Parquet file
MovieLens rows become `rating` events with a deterministic event_id, so a second replay of the same
file is deduplicated downstream instead of doubling the data.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from ingest import schema as s

FORMATS = ("auto", "movielens", "ratings", "csv", "parquet")
GENERIC_REQUIRED = (s.USER_ID, s.ITEM_ID, s.EVENT_TYPE, s.TIMESTAMP)
ML_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]


class ReplayError(ValueError):
    """The file cannot be read in the requested format; the message says why."""


def detect_format(path: Path) -> str:
    """Guess the format from the name, then from the first line."""
    if path.suffix == ".parquet":
        return "parquet"
    if path.name == "u.data" or path.suffix == ".data":
        return "movielens"
    with path.open(encoding="utf-8", errors="replace") as fh:
        header = fh.readline().strip().lower()
    if header.startswith("userid,movieid,rating"):
        return "ratings"
    if all(col in header.split(",") for col in GENERIC_REQUIRED):
        return "csv"
    raise ReplayError(f"{path}: unknown format (header {header[:80]!r}); pass fmt= one of {FORMATS[1:]}")


def _movielens(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    frame = frame.astype({"user": str, "item": str})
    frame["event_id"] = prefix + "-" + frame["user"] + "-" + frame["item"] + "-" + frame["ts"].astype(str)
    return pd.DataFrame(
        {
            s.EVENT_ID: frame["event_id"],
            s.USER_ID: frame["user"],
            s.ITEM_ID: frame["item"],
            s.EVENT_TYPE: s.RATING_EVENT,
            s.TIMESTAMP: frame["ts"],
            s.RATING: frame["rating"].astype(float),
        }
    )


def _generic(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in GENERIC_REQUIRED if c not in frame.columns]
    unknown = [c for c in frame.columns if c not in s.FIELDS]
    if missing or unknown:
        raise ReplayError(f"{path}: missing columns {missing}, unknown columns {unknown}")
    return frame


def _load(path: Path, fmt: str) -> pd.DataFrame:
    try:
        if fmt == "movielens":
            names = ["user", "item", "rating", "ts"]
            return _movielens(pd.read_csv(path, sep="\t", header=None, names=names), "ml100k")
        if fmt == "ratings":
            frame = pd.read_csv(path).rename(
                columns={"userId": "user", "movieId": "item", "rating": "rating", "timestamp": "ts"}
            )
            return _movielens(frame, "mlcsv")
        if fmt == "parquet":
            return _generic(pd.read_parquet(path), path)
        return _generic(pd.read_csv(path, dtype=str, keep_default_na=False), path)
    except (pd.errors.ParserError, KeyError, ValueError, OSError) as exc:
        if isinstance(exc, ReplayError):
            raise
        raise ReplayError(f"{path}: cannot read as {fmt}: {exc}") from exc


def _sort_key(value: Any) -> float:
    try:
        return s.parse_timestamp(value)
    except s.EventError:
        return math.inf  # invalid times go last; the producer dead-letters them with the reason


def _clean(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    return value.item() if hasattr(value, "item") else value


def read_events(path: str | Path, fmt: str = "auto") -> Iterator[dict[str, Any]]:
    """Raw event dicts from `path`, sorted by timestamp (stable; unparseable times last)."""
    path = Path(path)
    if fmt not in FORMATS:
        raise ReplayError(f"unknown format {fmt!r}; one of {FORMATS}")
    if not path.is_file():
        raise ReplayError(f"{path}: no such file")
    frame = _load(path, detect_format(path) if fmt == "auto" else fmt)
    keys = [_sort_key(v) for v in frame[s.TIMESTAMP].tolist()]
    frame = frame.assign(_key=keys).sort_values("_key", kind="stable").drop(columns="_key")
    return _rows(frame)  # the file is read and checked now; rows are built lazily


def _rows(frame: pd.DataFrame) -> Iterator[dict[str, Any]]:
    columns = list(frame.columns)
    for row in frame.itertuples(index=False, name=None):
        yield {c: v for c, v in zip(columns, map(_clean, row), strict=True) if v is not None and v != ""}


def movielens_catalog(data_path: str | Path) -> pd.DataFrame | None:
    """The catalog from `u.item` beside a MovieLens `u.data` (category = first genre), or None."""
    item_file = Path(data_path).with_name("u.item")
    if not item_file.is_file():
        return None
    genre_file = item_file.with_name("u.genre")
    genres = ML_GENRES
    if genre_file.is_file():
        lines = genre_file.read_text(encoding="latin-1").splitlines()
        genres = [line.split("|")[0] for line in lines if line.strip()]
    raw = pd.read_csv(item_file, sep="|", header=None, encoding="latin-1", dtype=str, keep_default_na=False)
    flags = raw.iloc[:, 5 : 5 + len(genres)].to_numpy() == "1"
    category = [genres[row.argmax()] if row.any() else None for row in flags]
    return pd.DataFrame(
        {
            "item_id": raw[0].str.strip(),
            "category": category,
            "brand": None,
            "price": float("nan"),
            "title": raw[1],
        }
    )
