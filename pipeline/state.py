"""What `make up` has done for which data set, kept in var/state.json so a re-run reuses it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infra.files import atomic_write_text


def dataset_key(data: Path | None, events: int, seed: int) -> str:
    """Identifies the input: the file (path, size, modification time) or the simulator's arguments."""
    if data is None:
        return f"simulator:{events}:{seed}"
    stat = data.stat()
    digest = hashlib.sha256(f"{data.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
    return f"file:{data.name}:{digest[:12]}"


@dataclass
class PipelineState:
    dataset: str = ""
    stages: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def path(var_dir: Path) -> Path:
        return var_dir / "state.json"

    @classmethod
    def load(cls, var_dir: Path) -> PipelineState:
        try:
            return cls(**json.loads(cls.path(var_dir).read_text()))
        except (OSError, ValueError, TypeError):
            return cls()

    def save(self, var_dir: Path) -> None:
        atomic_write_text(self.path(var_dir), json.dumps(asdict(self), indent=2))
