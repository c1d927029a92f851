"""gunicorn's access log as JSON lines, one object a request (time, stage, process, method, path,
query, status, bytes, duration, client): api/gunicorn.conf.py uses this logger class when
RECSYS_LOG_FORMAT=json (gunicorn's own combined format otherwise). On only when
RECSYS_API_ACCESS_LOG names a file ("-": stderr)."""

from __future__ import annotations

import json
import os
import traceback
from datetime import UTC, datetime

from gunicorn.glogging import Logger


class JsonAccessLogger(Logger):
    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "stage": "api",
            "process": os.getpid(),
            "logger": "gunicorn.access",
            "method": atoms.get("m"),
            "path": atoms.get("U"),
            "query": atoms.get("q") or "",
            "status": int(str(atoms.get("s", "0")).split()[0] or 0),
            "bytes": atoms.get("B"),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "client": atoms.get("h"),
            "user_agent": atoms.get("a"),
        }
        try:
            self.access_log.info(json.dumps(record, ensure_ascii=False, default=str))
        except Exception:
            self.error(traceback.format_exc())
