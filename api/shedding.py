"""Load shedding in the gunicorn worker: a request that waited in the worker's queue longer than
`api_queue_deadline_ms` is answered 503 with `Retry-After` and never reaches Flask.

Why in the worker: under overload a FIFO queue serves every request after its client gave up (the
issue measured 639 of 52,501 GETs answered within 5 s at 2x overload), and a 503 made by Flask costs
about as much as a small route. Here a shed request costs gunicorn's parse and one write.
The wait is counted from the moment the connection is handed to the thread pool (accepted, or
readable again when kept alive) until a thread picks it up; time spent waiting for a slow client to
send its request does not count.

Used by api/gunicorn.conf.py (`worker_class`). Setting api_queue_deadline_ms to 0 turns it off.
"""

from __future__ import annotations

import json
import time

from gunicorn.workers.gthread import ThreadWorker

from infra.config import load_settings

RETRY_AFTER_S = 1
_BODY = json.dumps(
    {
        "error": {
            "code": "overloaded",
            "message": "the API is over capacity and did not serve this request in time; retry later",
            "details": {"retry_after_s": RETRY_AFTER_S},
        }
    },
    separators=(",", ":"),
).encode()


def shed_response(keep_alive: bool) -> bytes:
    """The raw HTTP/1.1 503 a shed request gets (JSON, like every other answer)."""
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json\r\n"
        f"Retry-After: {RETRY_AFTER_S}\r\n"
        f"Content-Length: {len(_BODY)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode("latin-1") + _BODY


class SheddingWorker(ThreadWorker):
    """gunicorn's gthread worker, stamping each queued connection and shedding the stale ones."""

    def init_process(self) -> None:
        self.queue_deadline = load_settings().api_queue_deadline_ms / 1000
        super().init_process()

    def enqueue_req(self, conn) -> None:
        conn.queued_at = time.monotonic()
        super().enqueue_req(conn)

    def handle(self, conn):
        conn.waited = time.monotonic() - getattr(conn, "queued_at", time.monotonic())
        return super().handle(conn)

    def handle_request(self, req, conn):
        waited, conn.waited = getattr(conn, "waited", 0.0), 0.0  # pipelined requests did not wait
        if not self.queue_deadline or waited <= self.queue_deadline:
            return super().handle_request(req, conn)
        keep_alive = bool(self.alive and self.cfg.keepalive and not req.should_close())
        conn.sock.sendall(shed_response(keep_alive))
        from api import metrics  # here, in the worker: the arbiter imports this module too

        metrics.REQUESTS_SHED.inc()
        return keep_alive
