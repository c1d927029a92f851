"""The WSGI entry point for gunicorn: `gunicorn -c api/gunicorn.conf.py api.wsgi:app`."""

from __future__ import annotations

from api import create_app
from infra.logs import setup_logging

setup_logging("api")
app = create_app()
