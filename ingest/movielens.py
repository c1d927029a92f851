"""MovieLens (u.data) straight into the landing zone, for the quality benchmark.

The benchmark needs the whole dataset in the pipeline's own input format without running Kafka, so
this reuses the ingest path minus the broker: the replay reader maps the file to events, each is
validated by the event schema, and the landing sink writes them as date-partitioned Parquet files
(atomic) with the provenance a consumer would add (topic "replay", offset = row number). The catalog
from u.item (category = first genre) is written where the simulator writes its own.
"""

from __future__ import annotations

from pathlib import Path

from infra.config import Settings
from ingest.catalog import write_catalog
from ingest.parquet_sink import with_provenance, write_partitioned
from ingest.replay import movielens_catalog, read_events
from ingest.schema import events_table, validate_event

TOPIC = "replay"


def land_movielens(settings: Settings, data_dir: str | Path) -> int:
    """Write `data_dir/u.data` (and its catalog from u.item) into the landing zone; returns the event
    count. Raises FileNotFoundError with the expected layout when the folder or file is missing, and
    EventError (before writing anything) when a row is not a valid event."""
    data_file = Path(data_dir) / "u.data"
    if not data_file.is_file():
        raise FileNotFoundError(f"{data_file} not found: expected the MovieLens 100K folder (u.data, u.item)")
    events = [validate_event(raw) for raw in read_events(data_file)]
    write_partitioned(
        settings.landing_dir, [with_provenance(events_table(events), TOPIC, 0, list(range(len(events))))]
    )
    catalog = movielens_catalog(data_file)
    if catalog is not None:
        write_catalog(settings, catalog)
    return len(events)
