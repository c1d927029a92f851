"""The baseline for the API benchmark: one trivial Flask route, served by the same gunicorn config."""

from __future__ import annotations

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/ping")
def ping():
    return jsonify({"ok": True})
