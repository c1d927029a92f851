"""Hot reload: follow the registry's `current` pointer without restarts or failed requests.

`ModelHolder.get()` is called on every request: it returns the recommender being served and, at most
every `poll_interval` seconds, reads the pointer (one small file). A changed pointer is loaded and
validated on a background thread; only a fully valid version replaces the served one (a single
reference assignment). A corrupt or incomplete version is refused, logged, counted, and not retried
until the pointer changes again; the previous version keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from model.artifact import ArtifactError, load_serving_artifact
from model.registry import read_current, version_dir
from serving.recommender import Recommender
from serving.store import OnlineStore

log = logging.getLogger(__name__)


class ModelHolder:
    """The recommender for the current registry version, swapped atomically on change."""

    def __init__(
        self,
        registry_dir: Path,
        store: OnlineStore,
        *,
        poll_interval: float = 1.0,
        background: bool = True,
        on_refused: Callable[[str, str], None] | None = None,
        on_loaded: Callable[[Recommender], None] | None = None,
        **recommender_kw,
    ) -> None:
        self.registry_dir = Path(registry_dir)
        self.store = store
        self.poll_interval = poll_interval
        self.background = background
        self.on_refused = on_refused
        self.on_loaded = on_loaded
        self.recommender_kw = recommender_kw
        self.current: Recommender | None = None
        self.refused: dict[str, str] = {}
        self._attempted: str | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def get(self) -> Recommender | None:
        """The recommender to answer with (None until a valid version exists)."""
        now = time.monotonic()
        if now - self._checked >= self.poll_interval or self.current is None:
            self._checked = now
            self.check()
        return self.current

    def check(self) -> None:
        """Start loading the pointed version if it is new (first load is synchronous)."""
        version = read_current(self.registry_dir)
        if version is None or (version == self._attempted and self.current is not None):
            return
        # Before the first model is in, a request waits for the load another thread has started
        # (else it would answer 503 meanwhile); after it, the old model serves during a reload.
        if not self._lock.acquire(blocking=self.current is None):
            return
        if version == self._attempted:  # loaded or refused by the thread this one waited for
            self._lock.release()
            return
        self._attempted = version
        if self.background and self.current is not None:
            threading.Thread(target=self._load, args=(version,), daemon=True, name="model-reload").start()
        else:
            self._load(version)

    def _load(self, version: str) -> None:
        try:
            artifact = load_serving_artifact(version_dir(self.registry_dir, version))
            if artifact.version and artifact.version != version:
                raise ArtifactError(f"{version}: manifest says version {artifact.version!r}")
            recommender = Recommender(artifact, self.store, **self.recommender_kw)
        except Exception as exc:  # any failure refuses this version; it must never stop serving the old one
            self.refused[version] = str(exc)
            log.error("refused model version %s, still serving %s: %s", version, self.version, exc)
            if self.on_refused:
                self.on_refused(version, str(exc))
        else:
            self.current = recommender
            log.info("serving model version %s (%s)", artifact.version, artifact.backend)
            if self.on_loaded:
                self.on_loaded(recommender)
        finally:
            self._lock.release()

    @property
    def version(self) -> str | None:
        return self.current.artifact.version if self.current else None
