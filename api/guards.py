"""Checks every request passes before a route runs, and the id rules the routes share.

Ids (user, item, session, event) may not hold control characters: a NUL or an escape in an id is
never a real user or item, and it would reach the store, Kafka and the landed Parquet as it came.
Path ids must also be valid UTF-8 (werkzeug would otherwise replace bad bytes with U+FFFD and answer
for a different user), and a URI over MAX_URI_BYTES is answered 414 here, in JSON: gunicorn's own
limit (api/gunicorn.conf.py) is set higher so that only absurd request lines meet its HTML page.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from flask import Flask, request

from api.errors import ApiError
from ingest.schema import MAX_ID_LENGTH

MAX_URI_BYTES = 4096
# Client event ids: what UUIDs, ULIDs and hex or dotted ids are made of; short enough to index.
EVENT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def id_problem(value: Any) -> str | None:
    """Why `value` cannot be an id (None when it can or is not a string: the schema judges types)."""
    if not isinstance(value, str):
        return None
    if len(value) > MAX_ID_LENGTH:
        return f"longer than {MAX_ID_LENGTH} characters"
    for ch in value:
        kind = unicodedata.category(ch)
        if kind == "Cc":
            return f"holds the control character U+{ord(ch):04X}"
        if kind == "Cs":
            return f"is not valid Unicode (lone surrogate U+{ord(ch):04X})"
    return None


def event_id_problem(value: Any) -> str | None:
    """Why a client-supplied event_id is refused (None when it is absent or acceptable)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return f"expected a string, got {type(value).__name__}"
    if not EVENT_ID_PATTERN.fullmatch(str(value)):
        return "must be 1-128 characters of A-Z a-z 0-9 . _ : - (starting with a letter or digit)"
    return None


def _raw_uri(environ: dict) -> str:
    """The request target as the client sent it (gunicorn and werkzeug set RAW_URI); else rebuilt
    from WSGI's latin-1 path, which is the raw bytes percent-decoded."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return raw
    path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/")
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def _check_request() -> None:
    uri = _raw_uri(request.environ)
    if len(uri) > MAX_URI_BYTES:
        raise ApiError(414, "uri_too_long", f"the request URI is over {MAX_URI_BYTES} bytes")
    try:
        unquote_to_bytes(uri.partition("?")[0]).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_path", "the request path is not valid UTF-8") from None
    for name, value in (request.view_args or {}).items():
        problem = id_problem(value)
        if problem:
            raise ApiError(400, "invalid_parameter", f"{name} {problem}", {name: value})


def init_app(app: Flask) -> None:
    app.before_request(_check_request)
