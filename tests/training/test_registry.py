"""`python -m training.registry`: list, show, promote (with the publish checks) and rollback, on
versions published by the real publish path of both backends."""

from __future__ import annotations

import json

from infra.config import Settings
from model.registry import read_current, read_history, serving_dir
from tests.training.test_publish import _publish
from training import registry


def test_list_show_promote_and_rollback(settings: Settings, capsys):
    first, _ = _publish(settings, "pytorch")
    second, _ = _publish(settings, "tensorflow")
    assert read_history(settings.registry_dir) == [first, second]
    assert registry.main(["list"], settings) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1].startswith(f"  {first}") and listing[2].startswith(f"* {second}")
    rows = {r["version"]: r for r in registry.rows(settings.registry_dir)}
    assert rows[first]["backend"] == "pytorch" and rows[second]["current"]
    assert rows[second]["ndcg@10"] is None and rows[second]["snapshot_id"].startswith("synthetic")

    assert registry.main(["show", first], settings) == 0
    assert json.loads(capsys.readouterr().out)["backend"] == "pytorch"

    assert registry.main(["rollback"], settings) == 0
    assert read_current(settings.registry_dir) == first
    assert f"{second} -> {first}" in capsys.readouterr().out
    assert registry.main(["promote", second], settings) == 0
    assert "checked: serving artifact and native model" in capsys.readouterr().out
    assert read_current(settings.registry_dir) == second
    assert read_history(settings.registry_dir) == [first, second]  # rollback popped, promote pushed
    assert registry.main(["rollback"], settings) == 0 and read_current(settings.registry_dir) == first
    assert registry.main(["rollback"], settings) == 2  # first ever served: nothing before it
    assert "nothing before it" in capsys.readouterr().err


def test_a_version_that_fails_the_checks_is_not_promoted(settings: Settings, capsys):
    first, _ = _publish(settings, "pytorch")
    second, _ = _publish(settings, "pytorch")
    (serving_dir(settings.registry_dir, first) / "users.json").write_text('{"user_id": ["", "mallory"]}')
    assert registry.main(["promote", first], settings) == 2
    assert "does not load as the API would load it" in capsys.readouterr().err
    assert read_current(settings.registry_dir) == second
    assert registry.main(["promote", "v00009-pytorch"], settings) == 2
    assert "no such model version" in capsys.readouterr().err
    assert registry.main(["rollback"], settings) == 2 and read_current(settings.registry_dir) == second
