"""The API's services, attached to the app with `init_app`: settings, online store, model holder and
a lazily created Kafka producer. Routes reach them through `services()`."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, current_app
from kafka import KafkaProducer

from api import metrics
from infra.config import Settings, load_settings
from ingest.kafka_io import ensure_topics, make_producer
from serving.loader import ModelHolder
from serving.recommender import Recommender
from serving.store import OnlineStore, StoreError, open_store
from serving.store_consumer import LAG_KEY

log = logging.getLogger(__name__)


class Services:
    """One per worker process; every piece is thread-safe for gunicorn's threads."""

    def __init__(self, settings: Settings, config: dict[str, Any]) -> None:
        self.settings = settings
        self.store: OnlineStore = open_store(settings.online_store_url, settings.store_keep_per_user)
        self.holder = ModelHolder(
            settings.registry_dir,
            self.store,
            poll_interval=float(config.get("RELOAD_INTERVAL", 1.0)),
            background=bool(config.get("RELOAD_IN_BACKGROUND", True)),
            on_refused=lambda version, reason: metrics.MODELS_REFUSED.inc(),
            on_loaded=self._loaded,
            min_history=int(config.get("MIN_HISTORY", 1)),
        )
        self.produce_timeout = float(config.get("PRODUCE_TIMEOUT", 5.0))
        self._producer: KafkaProducer | None = None
        self._producer_lock = threading.Lock()
        self._served: tuple[str, str] | None = None
        self.holder.get()  # load the current model now, at worker start, not on the first request

    def _loaded(self, recommender: Recommender) -> None:
        new = (recommender.artifact.version, recommender.artifact.backend)
        metrics.model_changed(self._served, new, recommender.artifact.manifest)
        self._served = new

    def recommender(self) -> Recommender | None:
        return self.holder.get()

    def producer(self) -> KafkaProducer:
        """The process's producer, created (and the topic ensured) on first use."""
        with self._producer_lock:
            if self._producer is None:
                timeout_ms = int(self.produce_timeout * 1000)
                # The producer first: it gives up after bootstrap_timeout_ms when the broker is down.
                producer = make_producer(
                    self.settings,
                    max_block_ms=timeout_ms,
                    request_timeout_ms=timeout_ms,
                    bootstrap_timeout_ms=timeout_ms,
                    retries=2,
                )
                try:
                    ensure_topics(self.settings, [self.settings.events_topic], timeout=self.produce_timeout)
                except Exception:
                    producer.close(timeout=0)
                    raise
                self._producer = producer
            return self._producer

    def drop_producer(self) -> None:
        """Forget a producer that failed (a restarted broker leaves it unusable)."""
        with self._producer_lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception:  # closing a broken producer must never mask the original error
                log.debug("closing a failed producer", exc_info=True)

    def store_lag(self) -> float | None:
        try:
            return self.store.get_meta(LAG_KEY)
        except StoreError:
            return None


def init_app(app: Flask, settings: Settings | None = None) -> Services:
    svc = Services(settings or load_settings(), app.config)
    app.extensions["services"] = svc
    return svc


def services() -> Services:
    return current_app.extensions["services"]
