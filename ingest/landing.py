"""The landing consumer: Kafka events -> date-partitioned Parquet, durable before offsets move.

One consumer group (settings.consumer_group). Messages are decoded and validated with the schema
module; valid events are buffered and written as atomic Parquet files (see ingest.parquet_sink),
invalid ones go to the dead-letter topic (see ingest.dead_letter). A batch is flushed when it reaches
`batch_size` events or is `flush_interval_s` old, so trickles land within about a second. Only after
the files are on disk and the dead letters are acknowledged (acks=all) are the offsets committed:
SIGKILL at any moment loses nothing; redelivered events may land twice (Spark dedups by event_id).

    python -m ingest.landing [--max-events N] [--idle-timeout S]   (SIGTERM: finish batch, commit, exit 0)
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pyarrow.compute as pc
import pyarrow.dataset as ds
from kafka import ConsumerRebalanceListener, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from infra.config import Settings, load_settings
from ingest import dead_letter
from ingest.kafka_io import ensure_topics, make_consumer, make_producer
from ingest.parquet_sink import landed_files, write_partitioned
from ingest.schema import EVENT_ID, decode_event

log = logging.getLogger("ingest.landing")


@dataclass
class LandingSummary:
    """What one run_landing call did (this run only; landing_counts covers the whole zone)."""

    landed: int = 0
    dead_lettered: int = 0
    files: int = 0
    seconds: float = 0.0  # from the first message received to the last commit (group join excluded)


@dataclass
class _Batch:
    rows: list = field(default_factory=list)
    dead: list = field(default_factory=list)
    next_offsets: dict = field(default_factory=dict)
    started: float = 0.0

    def __len__(self) -> int:
        return len(self.rows) + len(self.dead)


class _Lander:
    """Holds the clients and the open batch; `flush` makes the batch durable, then commits."""

    def __init__(self, settings: Settings, batch_size: int) -> None:
        self.settings, self.batch_size = settings, batch_size
        self.summary, self.batch = LandingSummary(), _Batch()
        self.producer = make_producer(settings, linger_ms=0)
        self.consumer = make_consumer(settings, settings.consumer_group, max_poll_records=5000)
        self.consumer.subscribe([settings.events_topic], listener=_FlushOnRevoke(self))
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-writer")
        self.pending: tuple[Future | None, _Batch] | None = None

    def add(self, tp: TopicPartition, messages: list) -> None:
        """Decode and buffer one partition's messages (in offset order)."""
        if not messages:
            return
        if not self.batch:
            self.batch.started = time.monotonic()
        rows, dead, limit = self.batch.rows, self.batch.dead, self.settings.max_event_bytes
        for msg in messages:
            try:
                event = decode_event(msg.value, limit)
            except Exception as exc:  # any bad input (schema, JSON, nesting) is dead-lettered, never fatal
                dead.append((msg, str(exc) or type(exc).__name__))
            else:
                rows.append((event, msg.topic, msg.partition, msg.offset))
        self.batch.next_offsets[tp] = messages[-1].offset + 1

    def due(self, flush_interval_s: float) -> bool:
        return len(self.batch) >= self.batch_size or (
            bool(self.batch) and time.monotonic() - self.batch.started >= flush_interval_s
        )

    def flush(self, wait: bool = False) -> None:
        """Hand the open batch to the writer thread (one batch in flight) after committing the previous.

        Parquet encoding and fsync release the GIL, so the next batch is polled and decoded meanwhile.
        """
        batch, self.batch = self.batch, _Batch()
        self.complete_pending()
        if batch.next_offsets:
            rows = batch.rows
            future = self.writer.submit(write_partitioned, self.settings.landing_dir, rows) if rows else None
            self.pending = (future, batch)
        if wait:
            self.complete_pending()

    def complete_pending(self, only_if_done: bool = False) -> None:
        """Once the in-flight batch's files are durable: send its dead letters, then commit its offsets."""
        if self.pending is None:
            return
        future, batch = self.pending
        if only_if_done and future is not None and not future.done():
            return
        self.pending = None
        files = future.result() if future is not None else []  # a write error propagates: no commit
        self._dead_letter(batch.dead)
        offsets = {tp: OffsetAndMetadata(off, "", -1) for tp, off in batch.next_offsets.items()}
        self.consumer.commit(offsets)
        self.summary.landed += len(batch.rows)
        self.summary.dead_lettered += len(batch.dead)
        self.summary.files += len(files)
        log.info(
            "landed %d events in %d files, %d dead letters", len(batch.rows), len(files), len(batch.dead)
        )

    def _dead_letter(self, dead: list) -> None:
        if not dead:
            return
        topic = self.settings.dead_letter_topic
        futures = [
            dead_letter.send(
                self.producer,
                topic,
                m.value,
                m.key,
                dead_letter.headers(r, "landing", (m.topic, m.partition, m.offset)),
            )
            for m, r in dead
        ]
        self.producer.flush()
        for future in futures:
            future.get(timeout=30)  # raises if the broker did not acknowledge: no commit then
        entries = [
            {"topic": m.topic, "partition": m.partition, "offset": m.offset, "reason": r} for m, r in dead
        ]
        dead_letter.record_batch(self.settings.landing_dir, entries)

    def close(self) -> None:
        self.writer.shutdown(wait=True)
        self.consumer.close(autocommit=False)
        self.producer.close()


class _FlushOnRevoke(ConsumerRebalanceListener):
    """Commit what we hold before partitions move to another member (fewer duplicates)."""

    def __init__(self, lander: _Lander) -> None:
        self.lander = lander

    def on_partitions_revoked(self, revoked) -> None:
        self.lander.flush(wait=True)

    def on_partitions_assigned(self, assigned) -> None:
        pass


def run_landing(
    settings: Settings,
    max_events: int | None = None,
    idle_timeout_s: float | None = None,
    stop: threading.Event | None = None,
    batch_size: int = 50_000,
    flush_interval_s: float = 0.5,
) -> LandingSummary:
    """Consume until `stop` is set, `max_events` messages are handled, or nothing came for `idle_timeout_s`."""
    ensure_topics(settings)
    stop = stop or threading.Event()
    lander = _Lander(settings, batch_size)
    handled, last_seen, first_seen = 0, time.monotonic(), None
    try:
        while not stop.is_set():
            remaining = None if max_events is None else max_events - handled
            if remaining is not None and remaining <= 0:
                break
            polled = lander.consumer.poll(timeout_ms=100, max_records=remaining)
            if polled and first_seen is None:
                first_seen = time.monotonic()
            for tp, messages in polled.items():
                lander.add(tp, messages)
                handled += len(messages)
                last_seen = time.monotonic()
            if not lander.consumer.assignment():
                last_seen = time.monotonic()  # idle time counts from joining the group, not from start
            if lander.due(flush_interval_s):
                lander.flush()
            lander.complete_pending(only_if_done=True)
            if idle_timeout_s is not None and time.monotonic() - last_seen >= idle_timeout_s:
                break
        lander.flush(wait=True)
        lander.summary.seconds = time.monotonic() - first_seen if first_seen is not None else 0.0
    finally:
        lander.close()
    return lander.summary


def landing_counts(settings: Settings) -> dict[str, int]:
    """The whole landing zone: distinct event ids, rows, files, and dead letters recorded by consumers."""
    files = landed_files(settings.landing_dir)
    landed = rows = 0
    if files:
        ids = ds.dataset([str(f) for f in files], format="parquet").to_table(columns=[EVENT_ID])[EVENT_ID]
        rows, landed = len(ids), pc.count_distinct(ids).as_py()
    return {
        "landed": landed,
        "rows": rows,
        "files": len(files),
        "dead_lettered": dead_letter.count_recorded(settings.landing_dir),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest.landing", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--max-events", type=int, default=None, help="stop after N messages (default: run forever)"
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=None, help="stop after S seconds without messages"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # connection chatter drowns the landing log
    settings = load_settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info(
        "consuming %s as group %s from %s",
        settings.events_topic,
        settings.consumer_group,
        settings.bootstrap_servers,
    )
    try:
        summary = run_landing(settings, args.max_events, args.idle_timeout, stop)
    except KafkaError as exc:  # nothing was committed after the last durable batch: safe to restart
        print(f"landing: Kafka at {settings.bootstrap_servers} failed: {exc!r}", file=sys.stderr)
        return 1
    print(
        f"landing: {summary.landed} events landed in {summary.files} files, {summary.dead_lettered} dead-lettered"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
