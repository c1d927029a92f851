"""The landing consumer: Kafka events -> date-partitioned Parquet, durable before offsets move.

One consumer group (settings.consumer_group). The polling thread buffers messages; a batch is flushed
when it reaches `batch_size` events or is `flush_interval_s` old, so trickles land within about a
second. A writer process (ingest.land_writer) validates a flushed batch with the schema module, all at once in Arrow
(schema_batch.decode_batch) or, when the batch holds anything unusual, poll by poll and then message by
message (schema.decode_event); it writes the valid events as atomic Parquet files (see
ingest.parquet_sink) and hands back the invalid ones, which go to the dead-letter topic with their
reason (see ingest.dead_letter). Only after the files are on disk and the dead letters are
acknowledged (acks=all) are the offsets committed:
SIGKILL at any moment loses nothing; redelivered events may land twice (Spark dedups by event_id).

Commits happen on the polling thread only, never in a rebalance listener: kafka-python 3.x calls
listeners on its IO thread, where a blocking `commit()` raises (and a raising listener ends the
consumer). So a partition that moves to another member is redelivered to it from its last commit
(duplicates, never a gap), and what this member still holds of it lands and is committed as usual:
committing offsets whose events are durable is safe whoever owns the partition by then. A commit that
fails (a rebalance in progress, the broker away) is logged and carried into the next one.

    python -m ingest.landing [--max-events N] [--idle-timeout S]   (SIGTERM: finish batch, commit, exit 0)

Run without --max-events and --idle-timeout (a service, as `make up` runs it), it outlives broker and
disk errors: the run ends without committing what is not durable, and starts again with backoff
(infra.retry), re-reading from the last commit.
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import pyarrow.compute as pc
import pyarrow.dataset as ds
from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from infra.config import Settings, load_settings
from infra.heartbeat import Heartbeat
from infra.logs import setup_logging
from infra.retry import retry
from ingest import dead_letter
from ingest.kafka_io import ensure_topics, make_consumer, make_producer
from ingest.land_writer import WriterError, WriterProcess
from ingest.parquet_sink import landed_files
from ingest.schema import EVENT_ID

log = logging.getLogger("ingest.landing")
BATCH_SIZE = 20_000  # events per landed batch: large enough to amortise a Parquet file and its fsync


@dataclass
class LandingSummary:
    """What one run_landing call did (this run only; landing_counts covers the whole zone)."""

    landed: int = 0
    dead_lettered: int = 0
    files: int = 0
    seconds: float = 0.0  # from the first message received to the last commit (group join excluded)


@dataclass
class _Part:
    """One partition's share of one poll, as plain lists: the record objects are released at once
    (fewer objects for the garbage collector to scan) and the payloads go to the writer as they are."""

    tp: TopicPartition
    values: list
    keys: list
    offsets: list


@dataclass
class _Batch:
    polls: list = field(default_factory=list)  # per poll: [_Part], undecoded
    size: int = 0
    next_offsets: dict = field(default_factory=dict)
    started: float = 0.0

    def __len__(self) -> int:
        return self.size


class _Lander:
    """Holds the clients and the open batch; `flush` makes the batch durable, then commits.

    The polling thread only collects messages. The writer process (ingest.land_writer) validates a
    flushed batch, writes its files and names the invalid messages, while the next batch is polled.
    """

    def __init__(self, settings: Settings, batch_size: int) -> None:
        self.settings, self.batch_size = settings, batch_size
        self.summary, self.batch = LandingSummary(), _Batch()
        self.producer = make_producer(settings, linger_ms=0)
        self.consumer = make_consumer(
            settings, settings.consumer_group, settings.events_topic, max_poll_records=5000
        )
        self.writer = WriterProcess(settings.landing_dir, settings.max_event_bytes)  # starts while joining
        self.pending: _Batch | None = None  # submitted to the writer, not yet committed
        self.uncommitted: dict[TopicPartition, OffsetAndMetadata] = {}  # durable, commit failed

    def add(self, polled: dict[TopicPartition, list]) -> None:
        """Buffer one poll's messages (each partition's in offset order)."""
        parts = [
            _Part(tp, [m.value for m in msgs], [m.key for m in msgs], [m.offset for m in msgs])
            for tp, msgs in polled.items()
            if msgs
        ]
        if not parts:
            return
        batch = self.batch
        if not batch:
            batch.started = time.monotonic()
        batch.polls.append(parts)
        for part in parts:
            batch.size += len(part.offsets)
            batch.next_offsets[part.tp] = part.offsets[-1] + 1

    def due(self, flush_interval_s: float) -> bool:
        return len(self.batch) >= self.batch_size or (
            bool(self.batch) and time.monotonic() - self.batch.started >= flush_interval_s
        )

    def flush(self, wait: bool = False) -> None:
        """Hand the open batch to the writer (one batch in flight) after committing the previous."""
        batch, self.batch = self.batch, _Batch()
        self.complete_pending()
        if batch.next_offsets:
            layout = [[(p.tp.topic, p.tp.partition, p.offsets) for p in poll] for poll in batch.polls]
            self.writer.submit(layout, [v for poll in batch.polls for p in poll for v in p.values])
            self.pending = batch
        if wait:
            self.complete_pending()

    def complete_pending(self, only_if_done: bool = False) -> None:
        """Once the in-flight batch's files are durable: send its dead letters, then commit its offsets."""
        batch = self.pending
        if batch is None or (only_if_done and not self.writer.ready()):
            return
        self.pending = None
        done = self.writer.result()  # a decode or write error raises: no commit
        if done.dead:
            messages = [
                (p.tp, offset, value, key)
                for poll in batch.polls
                for p in poll
                for offset, value, key in zip(p.offsets, p.values, p.keys, strict=True)
            ]
            self._dead_letter([(*messages[i], reason) for i, reason in done.dead])
        self._commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in batch.next_offsets.items()})
        self.summary.landed += done.landed
        self.summary.dead_lettered += len(done.dead)
        self.summary.files += len(done.files)
        log.info(
            "landed %d events in %d files, %d dead letters", done.landed, len(done.files), len(done.dead)
        )

    def _commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        """Commit offsets of durable events; a failure only delays them to the next commit."""
        self.uncommitted.update(offsets)
        try:
            self.consumer.commit(dict(self.uncommitted))
        except KafkaError as exc:  # the events are on disk: redelivery would only duplicate them
            log.warning("commit failed, retried with the next batch: %r", exc)
        else:
            self.uncommitted.clear()

    def _dead_letter(self, dead: list) -> None:
        topic = self.settings.dead_letter_topic
        futures = [
            dead_letter.send(
                self.producer,
                topic,
                value,
                key,
                dead_letter.headers(reason, "landing", (tp.topic, tp.partition, offset)),
            )
            for tp, offset, value, key, reason in dead
        ]
        self.producer.flush()
        for future in futures:
            future.get(timeout=30)  # raises if the broker did not acknowledge: no commit then
        entries = [
            {"topic": tp.topic, "partition": tp.partition, "offset": offset, "reason": reason}
            for tp, offset, _, _, reason in dead
        ]
        dead_letter.record_batch(self.settings.landing_dir, entries)

    def close(self) -> None:
        """Release the writer, the consumer and the producer, each whatever the others do."""
        for name, close in (
            ("writer", self.writer.close),
            ("consumer", lambda: self.consumer.close(autocommit=False)),
            ("producer", self.producer.close),
        ):
            try:
                close()
            except Exception:  # never hide the error that ended the run behind one from closing
                log.exception("closing the landing %s failed", name)


def run_landing(
    settings: Settings,
    max_events: int | None = None,
    idle_timeout_s: float | None = None,
    stop: threading.Event | None = None,
    batch_size: int = BATCH_SIZE,
    flush_interval_s: float = 0.5,
) -> LandingSummary:
    """Consume until `stop` is set, `max_events` messages are handled, or nothing came for `idle_timeout_s`."""
    ensure_topics(settings)
    stop = stop or threading.Event()
    lander = _Lander(settings, batch_size)
    handled, last_seen, first_seen = 0, time.monotonic(), None
    heartbeat = Heartbeat(settings.run_dir, "landing")  # liveness for the API's /ready
    try:
        while not stop.is_set():
            heartbeat.beat()
            remaining = None if max_events is None else max_events - handled
            if remaining is not None and remaining <= 0:
                break
            polled = lander.consumer.poll(timeout_ms=100, max_records=remaining)
            if polled and first_seen is None:
                first_seen = time.monotonic()
            if polled:
                lander.add(polled)
                handled += sum(len(messages) for messages in polled.values())
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
        heartbeat.close()
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


def tune_gc() -> None:
    """Garbage-collector settings for the landing process (its entry point calls this once set up).

    Every poll allocates thousands of short-lived, acyclic objects (kafka-python's records), which with
    the default thresholds run a young collection every 700 allocations and a full one every few
    batches over everything the process holds: about a fifth of the landing time, measured on 200,000
    events. Objects alive after start-up are frozen out of the collector's sight, and young collections
    run every 20,000 allocations. Cycles are still collected.
    """
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest.landing", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--max-events", type=int, default=None, help="stop after N messages (default: run forever)"
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=None, help="stop after S seconds without messages"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_SIZE,
        help=f"events per landed batch, at most (default {BATCH_SIZE}); smaller batches land sooner in "
        "more files",
    )
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    setup_logging("landing")
    settings = load_settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    tune_gc()
    log.info(
        "consuming %s as group %s from %s",
        settings.events_topic,
        settings.consumer_group,
        settings.bootstrap_servers,
    )

    def run() -> LandingSummary:
        return run_landing(settings, args.max_events, args.idle_timeout, stop, args.batch_size)

    try:
        if args.max_events is None and args.idle_timeout is None:  # a service: outlive the errors
            summary = retry(run, (KafkaError, WriterError, OSError), stop, log) or LandingSummary()
        else:  # a bounded run: its caller decides
            summary = run()
    except KafkaError as exc:  # nothing was committed after the last durable batch: safe to restart
        print(f"landing: Kafka at {settings.bootstrap_servers} failed: {exc!r}", file=sys.stderr)
        return 1
    print(
        f"landing: {summary.landed} events landed in {summary.files} files, {summary.dead_lettered} dead-lettered"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
