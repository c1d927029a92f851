"""The model registry's layout, defined once: versioned directories and the `current` pointer.

    <registry_dir>/versions/v00001-pytorch/{native/, serving/, version.json}
    <registry_dir>/current        (text: the version name; replaced atomically)
    <registry_dir>/history        (text: the versions published or promoted to `current`, one a
                                   line, oldest first: a stack that `rollback` pops)

Training writes versions (`training.publish`), serving loads the one `current` names, and `make
status` reports it; every one of them finds a version through `version_dir` and `serving_dir`. Kept
free of training and framework imports so the API process stays small.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from infra.files import atomic_write_text

VERSION_RE = re.compile(r"^v(\d{5})-([a-z]+)$")
VERSIONS, CURRENT, HISTORY = "versions", "current", "history"
NATIVE, SERVING, VERSION_RECORD = "native", "serving", "version.json"


def versions_dir(registry_dir: Path) -> Path:
    return Path(registry_dir) / VERSIONS


def version_dir(registry_dir: Path, version: str) -> Path:
    """Where `version` lives (whether or not it exists)."""
    return versions_dir(registry_dir) / version


def serving_dir(registry_dir: Path, version: str) -> Path:
    """The framework-neutral artifact of `version` (model.artifact's format)."""
    return version_dir(registry_dir, version) / SERVING


def list_versions(registry_dir: Path) -> list[str]:
    """Complete versions, oldest first (temp and rejected dirs are not versions)."""
    root = versions_dir(registry_dir)
    names = [p.name for p in root.iterdir() if VERSION_RE.match(p.name)] if root.is_dir() else []
    return sorted(names, key=lambda n: int(VERSION_RE.match(n).group(1)))


def next_version_name(registry_dir: Path, backend: str) -> str:
    """The name the next published version of `backend` takes: one past the newest."""
    versions = list_versions(registry_dir)
    number = int(VERSION_RE.match(versions[-1]).group(1)) + 1 if versions else 1
    return f"v{number:05d}-{backend}"


def read_current(registry_dir: Path) -> str | None:
    """The version named by `current`, or None before the first publish."""
    try:
        return (Path(registry_dir) / CURRENT).read_text().strip() or None
    except (FileNotFoundError, IsADirectoryError):
        return None


def write_current(registry_dir: Path, version: str, *, record: bool = True) -> None:
    """Point `current` at an existing version, atomically (readers never see half a name), and push it
    on the history (`record`; a rollback moves `current` without it)."""
    if not version_dir(registry_dir, version).is_dir():
        raise FileNotFoundError(f"no such model version: {version}")
    atomic_write_text(Path(registry_dir) / CURRENT, version + "\n")
    if record:
        with (Path(registry_dir) / HISTORY).open("a") as fh:  # one short line: appends do not interleave
            fh.write(version + "\n")


def roll_back(registry_dir: Path, check: Callable[[str], object] = lambda version: None) -> tuple[str, str]:
    """Pop the current version off the history and point `current` at the one below it, once
    `check(that version)` has passed (it raises to refuse); returns (from, to). Raises LookupError when
    nothing served before it."""
    current = read_current(registry_dir)
    if current is None:
        raise LookupError("nothing serves yet: there is nothing to roll back")
    history = read_history(registry_dir)
    if not history or history[-1] != current:  # a registry from before the history, or a hand-set pointer
        history.append(current)
    if len(history) < 2:
        raise LookupError(f"{current} is the first version that served: nothing before it")
    previous = history[-2]
    check(previous)
    write_current(registry_dir, previous, record=False)
    atomic_write_text(Path(registry_dir) / HISTORY, "".join(v + "\n" for v in history[:-1]))
    return current, previous


def read_history(registry_dir: Path) -> list[str]:
    """The versions `current` was moved to, oldest first (empty for a registry without history)."""
    try:
        return [v for v in (Path(registry_dir) / HISTORY).read_text().split() if VERSION_RE.match(v)]
    except FileNotFoundError:
        return []
