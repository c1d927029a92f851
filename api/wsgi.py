"""The WSGI entry point for gunicorn: `gunicorn -c api/gunicorn.conf.py api.wsgi:app`."""

from __future__ import annotations

import logging

from api import create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
app = create_app()
