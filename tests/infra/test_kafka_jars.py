"""Where the embedded broker's jars come from: the pom, Maven, and the cache keyed by the pom."""

from __future__ import annotations

import pytest

from infra.kafka_jars import POM, SetupError, cache_file, classpath, java_major, kafka_version


def test_the_cache_is_keyed_by_the_pom(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    same, bumped = tmp_path / "same.xml", tmp_path / "bumped.xml"
    same.write_bytes(POM.read_bytes())
    version = kafka_version(POM)
    bumped.write_text(POM.read_text().replace(f">{version}<", ">9.9.9<"))
    assert cache_file(same) == cache_file(POM)
    assert cache_file(same).parent == tmp_path / "cache" / "streamrec"
    assert kafka_version(bumped) == "9.9.9" and cache_file(bumped) != cache_file(POM)
    assert cache_file(bumped).name.startswith("kafka-9.9.9-")


def test_a_cached_classpath_whose_jars_are_gone_is_resolved_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    stale = cache_file(POM)
    stale.parent.mkdir(parents=True)
    stale.write_text(str(tmp_path / "m2" / "gone.jar"))  # a cleaned ~/.m2
    monkeypatch.setenv("PATH", str(tmp_path))  # so resolving again must ask for Maven
    with pytest.raises(SetupError, match="Maven"):
        classpath(POM, announce=lambda _: None)


def test_java_versions_are_read_old_and_new_style():
    assert java_major('openjdk version "17.0.15" 2025-04-15') == 17
    assert java_major('openjdk version "25" 2025-09-16') == 25
    assert java_major('java version "1.8.0_402"') == 8
    assert java_major("no version here") is None
