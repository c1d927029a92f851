"""Producers: validated events -> the events topic (acks=all, keyed by user_id), invalid -> dead letters.

python -m ingest.produce simulate --events N --seed S [--summary FILE]
python -m ingest.produce replay PATH [--format auto|movielens|ratings|csv|parquet] [--speedup X] [--summary FILE]

--summary writes the counts as JSON (atomically) once every event is acknowledged: `make up` waits
for that many events to land. Events the broker did not acknowledge make the command exit with 3 and
say how many; no summary is written then.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka.errors import KafkaError
from tqdm import tqdm

from infra.config import Settings, load_settings
from infra.files import atomic_write_text
from ingest import dead_letter
from ingest.catalog import write_catalog
from ingest.kafka_io import ensure_topics, make_producer
from ingest.replay import FORMATS, ReplayError, movielens_catalog, read_events
from ingest.schema import TIMESTAMP, USER_ID, EventError, encode_event, parse_timestamp, validate_event
from ingest.simulator import generate


@dataclass(frozen=True)
class ProduceSummary:
    """Counts of *acknowledged* records: `sent` events on the events topic, `dead_lettered` on the
    dead-letter topic; `lost` is what was handed to the producer but never acknowledged, or never
    handed over because the broker stopped answering (the run then stops early)."""

    sent: int
    dead_lettered: int
    seconds: float
    lost: int = 0

    @property
    def rate(self) -> float:
        """Events (sent + dead-lettered) per second."""
        return (self.sent + self.dead_lettered) / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        text = (
            f"produced {self.sent} events, {self.dead_lettered} dead-lettered, "
            f"in {self.seconds:.1f} s ({self.rate:,.0f} events/s)"
        )
        return text + (f"; LOST {self.lost} events the broker never acknowledged" if self.lost else "")


class _Acks:
    """Acknowledgements counted from the send futures' callbacks (they run on the producer's IO
    thread): flush() returns even when a batch failed, so only the futures say what arrived."""

    def __init__(self) -> None:
        self.acked = {"event": 0, "dead": 0}
        self.failed = 0
        self.first_error: BaseException | None = None
        self._lock = threading.Lock()

    def track(self, future: Any, kind: str) -> None:
        future.add_callback(self._ok, kind).add_errback(self._failed)

    def _ok(self, kind: str, _metadata: Any) -> None:
        with self._lock:
            self.acked[kind] += 1

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self.failed += 1
            self.first_error = self.first_error or exc


def _original_bytes(raw: Any) -> bytes:
    if isinstance(raw, bytes):
        return raw
    try:
        return json.dumps(raw, default=str).encode()
    except (TypeError, ValueError):
        return repr(raw).encode()


def _key(raw: Any) -> bytes | None:
    user = raw.get(USER_ID) if isinstance(raw, Mapping) else None
    return str(user).encode() if user is not None else None


def produce_events(
    settings: Settings, events: Iterable[Mapping], progress: bool = True, **producer_config: Any
) -> ProduceSummary:
    """Validate and send every event; invalid ones go to the dead-letter topic with the reason.
    Counts only what the broker acknowledged (acks=all). When a send cannot even be handed over
    (the broker is gone), the run stops there: the rest count as lost. `producer_config` overrides
    the producer's settings (timeouts)."""
    ensure_topics(settings)
    producer = make_producer(settings, **{"batch_size": 256 * 1024, "linger_ms": 20, **producer_config})
    acks, attempted = _Acks(), 0
    started = time.perf_counter()
    bar = tqdm(events, unit="ev", disable=not progress, desc="events -> Kafka", mininterval=0.5)
    try:
        for raw in bar:
            attempted += 1
            try:
                event = validate_event(raw)
                payload = encode_event(event, settings.max_event_bytes)
            except EventError as exc:
                hdrs = dead_letter.headers(str(exc), "produce")
                future = dead_letter.send(
                    producer, settings.dead_letter_topic, _original_bytes(raw), _key(raw), hdrs
                )
                acks.track(future, "dead")
                continue
            acks.track(
                producer.send(settings.events_topic, value=payload, key=event.user_id.encode()), "event"
            )
        # Bounded: with its broker gone, kafka-python's flush() can wait forever on batches that
        # never expire (seen here); past the delivery timeout they count as lost.
        producer.flush(timeout=producer.config["delivery_timeout_ms"] / 1000 + 5)
    except KafkaError as exc:  # a send that could not be handed over: stop, count the rest as lost
        acks.first_error = acks.first_error or exc
        attempted += sum(1 for _ in bar)
    finally:
        bar.close()
        producer.close(timeout=5)
    done = acks.acked["event"] + acks.acked["dead"]
    summary = ProduceSummary(
        acks.acked["event"], acks.acked["dead"], time.perf_counter() - started, max(attempted - done, 0)
    )
    if progress:
        print(summary, file=sys.stderr)
    if summary.lost:
        print(f"error: {summary.lost} events were not acknowledged: {acks.first_error}", file=sys.stderr)
    return summary


def simulate(settings: Settings, n_events: int, seed: int = 0, progress: bool = True) -> ProduceSummary:
    """Generate `n_events` simulated events, write the catalog, and produce them."""
    sim = generate(n_events, seed=seed)
    path = write_catalog(settings, sim.catalog)
    if progress:
        print(f"catalog: {len(sim.catalog)} items -> {path}", file=sys.stderr)
    return produce_events(settings, sim.events, progress=progress)


def paced(events: Iterable[dict], speedup: float) -> Iterable[dict]:
    """Yield events so that `speedup` seconds of event time pass per wall-clock second."""
    if speedup <= 0:
        raise ValueError("speedup must be > 0")
    first_event = start_wall = None
    for event in events:
        try:
            ts = parse_timestamp(event.get(TIMESTAMP))
        except EventError:
            yield event  # the producer dead-letters it; it does not set the pace
            continue
        if first_event is None:
            first_event, start_wall = ts, time.monotonic()
        delay = start_wall + (ts - first_event) / speedup - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield event


def replay(
    settings: Settings,
    path: str | Path,
    fmt: str = "auto",
    speedup: float | None = None,
    progress: bool = True,
) -> ProduceSummary:
    """Replay a data set file in timestamp order (catalog from u.item when it sits beside u.data)."""
    events: Iterable[dict] = read_events(path, fmt)
    catalog = movielens_catalog(path) if Path(path).name == "u.data" or fmt == "movielens" else None
    if catalog is not None:
        written = write_catalog(settings, catalog)
        if progress:
            print(f"catalog: {len(catalog)} items -> {written}", file=sys.stderr)
    if speedup is not None:
        events = paced(events, speedup)
    return produce_events(settings, events, progress=progress)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest.produce", description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--no-progress", action="store_true", help="no progress bar")
    common.add_argument("--summary", type=Path, help="write the counts to this JSON file at the end")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", parents=[common], help="stream a simulated e-commerce clickstream")
    sim.add_argument("--events", type=int, default=100_000, help="number of events (default 100000)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    rep = sub.add_parser("replay", parents=[common], help="replay a data set file in timestamp order")
    rep.add_argument("path", type=Path)
    rep.add_argument("--format", default="auto", choices=FORMATS)
    rep.add_argument(
        "--speedup", type=float, default=None, help="event seconds per wall second (default: max)"
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    try:
        if args.command == "simulate":
            summary = simulate(settings, args.events, args.seed, progress=not args.no_progress)
        else:
            summary = replay(settings, args.path, args.format, args.speedup, progress=not args.no_progress)
    except (ReplayError, ValueError, KafkaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.no_progress:  # with progress on, produce_events has printed it already
        print(summary)
    if summary.lost:
        return 3  # no summary file: `make up` runs this step again rather than wait for lost events
    if args.summary:
        atomic_write_text(args.summary, json.dumps(dataclasses.asdict(summary)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
