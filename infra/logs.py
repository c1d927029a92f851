"""One logging setup for every process: `setup_logging(stage)`.

RECSYS_LOG_LEVEL (DEBUG, INFO, WARNING, ERROR; default INFO) and RECSYS_LOG_FORMAT (`text`, one
readable line a record; `json`, one JSON object a line for a log shipper) come from the settings.
Every record carries the process id and the stage (landing, store-consumer, preprocess, train, api,
...), in both formats. Kafka's client chatter stays at WARNING unless the level is DEBUG.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from infra.config import Settings, load_settings

TEXT = "%(asctime)s %(levelname)s %(stage)s[%(process)d] %(name)s: %(message)s"


class _StageFilter(logging.Filter):
    def __init__(self, stage: str) -> None:
        super().__init__()
        self.stage = stage

    def filter(self, record: logging.LogRecord) -> bool:
        record.stage = getattr(record, "stage", self.stage)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, stage, process, logger, message, and the
    traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "stage": getattr(record, "stage", ""),
            "process": record.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(stage: str, settings: Settings | None = None) -> None:
    """Configure the root logger of this process for `stage` (replacing any handler it had)."""
    settings = settings or load_settings()
    handler = logging.StreamHandler()
    handler.addFilter(_StageFilter(stage))
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    if settings.log_level != "DEBUG":
        logging.getLogger("kafka").setLevel(logging.WARNING)  # connection chatter drowns the stage's log
