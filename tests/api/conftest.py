"""An app over a tmp registry holding one small synthetic artifact and a tmp SQLite store."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from infra.config import Settings
from tests.fixtures.synthetic import publish_synthetic, synthetic_config


def make_app(settings: Settings, **config) -> Flask:
    return create_app(
        {"SETTINGS": settings, "TESTING": True, "RELOAD_INTERVAL": 0.0, "PRODUCE_TIMEOUT": 3.0, **config}
    )


@pytest.fixture
def app(settings: Settings) -> Flask:
    publish_synthetic(settings.registry_dir, synthetic_config(), "v00001-numpy")
    return make_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
