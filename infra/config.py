"""Settings in one place: environment variables over an optional TOML file over local defaults.

Every stage reads its addresses, topic names and paths from `load_settings()`, so the same code runs
on a laptop (embedded broker, local Spark, files under ./var) and on a cluster (set the variables).

Precedence: explicit keyword overrides > environment (`RECSYS_*`, `KAFKA_BOOTSTRAP_SERVERS`,
`SPARK_MASTER`) > the `[settings]` table of the config file (`RECSYS_CONFIG`, default ./recsys.toml
when present) > the defaults below.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

# Variables whose names predate the RECSYS_ prefix and that users of Kafka and Spark already know.
_PLAIN_ENV = {"kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS", "spark_master": "SPARK_MASTER"}


@dataclass(frozen=True)
class Settings:
    """Where things are. Field `x` is read from the environment variable `RECSYS_X`."""

    # Kafka. Empty bootstrap servers means: start and use the embedded broker on broker_host:broker_port.
    kafka_bootstrap_servers: str = ""
    broker_host: str = "127.0.0.1"
    broker_port: int = 9092
    events_topic: str = "events"
    dead_letter_topic: str = "events.dlq"
    topic_partitions: int = 4
    topic_replication: int = 1
    consumer_group: str = "landing"
    store_consumer_group: str = "online-store"
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 1000
    max_event_bytes: int = 64 * 1024
    # Files. Everything generated lives under var_dir unless a path is set on its own.
    var_dir: Path = REPO_ROOT / "var"
    data_dir: Path | None = None
    run_dir: Path | None = None
    models_dir: Path | None = None
    # Spark and serving.
    spark_master: str = "local[*]"
    spark_driver_memory: str = "2g"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # 3 processes x 2 threads on 2 cores: the same peak as 2 x 4, a third of its p99 at half of peak
    # (threads of one worker queue on its GIL); 2 threads still overlap a request waiting on Kafka.
    api_workers: int = 3
    api_threads: int = 2  # request threads per gunicorn worker (gthread)
    # A request that waited longer than this for a worker thread is answered 503 + Retry-After unserved
    # (api/shedding.py): its client has likely given up, and serving it would delay the ones behind.
    api_queue_deadline_ms: int = 1000  # 0: never shed
    # Logging (infra.logs): level, and text or json (one object a line); gunicorn's access log goes
    # to this file ("-": the API's stderr; empty: off).
    log_level: str = "INFO"
    log_format: str = "text"
    api_access_log: str = ""
    online_store_url: str = ""
    store_keep_per_user: int = 1000  # the online store keeps each user's newest N events (0: all)
    # Pass-through options of the engines, from the config file's own tables: [kafka] holds any
    # kafka-python client setting (security_protocol, sasl_*, ssl_*, client_id ...; each client takes
    # the ones it knows), [spark] any `spark.*` conf. They apply over the project's defaults.
    kafka_options: dict[str, Any] = field(default_factory=dict)
    spark_options: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, low, high in _RANGES:
            value = getattr(self, name)
            if not low <= value <= high:
                bound = f"between {low} and {high}" if high < _NO_LIMIT else f">= {low}"
                raise SettingsError(f"{name} ({_env_name(name)}) must be {bound}, not {value}")
        _check_engine_options(self.kafka_options, self.spark_options)
        object.__setattr__(self, "log_level", self.log_level.upper())
        for name, allowed in (("log_level", _LOG_LEVELS), ("log_format", ("text", "json"))):
            if getattr(self, name) not in allowed:
                raise SettingsError(
                    f"{name} ({_env_name(name)}) must be one of {list(allowed)}, not {getattr(self, name)!r}"
                )
        var = Path(self.var_dir)
        object.__setattr__(self, "var_dir", var)
        for name, sub in (("data_dir", "data"), ("run_dir", "run"), ("models_dir", "models")):
            value = getattr(self, name)
            object.__setattr__(self, name, Path(value) if value else var / sub)
        if not self.online_store_url:
            object.__setattr__(self, "online_store_url", f"sqlite:///{var / 'store' / 'online.sqlite'}")

    @property
    def embedded_broker(self) -> bool:
        """True when no external cluster is configured and the project runs its own broker."""
        return not self.kafka_bootstrap_servers

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap_servers or f"{self.broker_host}:{self.broker_port}"

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def processed_dir(self) -> Path:
        return self.data_dir / "processed"

    @property
    def registry_dir(self) -> Path:
        return self.models_dir / "registry"


class SettingsError(ValueError):
    """A setting with a wrong type or value; the message names the setting and where it came from."""


_NO_LIMIT = 2**63
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# (setting, lowest, highest): counts that must be positive, ports, and limits where 0 means "off".
_RANGES = (
    *((port, 1, 65535) for port in ("broker_port", "api_port")),
    *(
        (count, 1, _NO_LIMIT)
        for count in (
            "topic_partitions",
            "topic_replication",
            "session_timeout_ms",
            "heartbeat_interval_ms",
            "max_event_bytes",
            "api_workers",
            "api_threads",
        )
    ),
    *((off, 0, _NO_LIMIT) for off in ("api_queue_deadline_ms", "store_keep_per_user")),
)


# Set by the project itself: where the cluster is comes from KAFKA_BOOTSTRAP_SERVERS (or
# kafka_bootstrap_servers), and each consumer's group from its own setting.
_KAFKA_OWN = {"bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS", "group_id": "RECSYS_CONSUMER_GROUP"}
_DICT_FIELDS = ("kafka_options", "spark_options", "extra")


def _check_engine_options(kafka: dict[str, Any], spark: dict[str, Any]) -> None:
    bad = sorted(k for k in spark if not str(k).startswith("spark."))
    if bad:
        raise SettingsError(f"[spark]: {bad} are not Spark settings (they start with 'spark.')")
    if not kafka:
        return
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    own = sorted(set(kafka) & set(_KAFKA_OWN))
    if own:
        raise SettingsError(f"[kafka]: {own} are set by the project; use {[_KAFKA_OWN[k] for k in own]}")
    known = set(KafkaProducer.DEFAULT_CONFIG) | set(KafkaConsumer.DEFAULT_CONFIG)
    unknown = sorted(set(kafka) - known - set(KafkaAdminClient.DEFAULT_CONFIG))
    if unknown:
        raise SettingsError(f"[kafka]: {unknown} are not kafka-python client settings")


def _typed(name: str, value: Any, annotation: Any, source: str) -> Any:
    """`value` as the field's type, or a SettingsError naming the setting and its source."""
    kind = str(annotation)
    if "int" in kind and "Path" not in kind:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise SettingsError(f"{source}: {name} must be a whole number, not {value!r}")
    if "Path" in kind:
        if isinstance(value, str | Path):
            return Path(value)
        raise SettingsError(f"{source}: {name} must be a path, not {value!r}")
    if "dict" in kind:
        if isinstance(value, dict):
            return value
        raise SettingsError(f"{source}: {name} must be a table, not {value!r}")
    if isinstance(value, str):
        return value
    raise SettingsError(f"{source}: {name} must be a string, not {value!r}")


def _env_name(name: str) -> str:
    return _PLAIN_ENV.get(name, f"RECSYS_{name.upper()}")


def config_file_section(section: str, path: str | Path | None = None) -> dict[str, Any]:
    """One table of the TOML config file (empty when there is no file): stages keep their own tables."""
    candidate = Path(path or os.environ.get("RECSYS_CONFIG") or REPO_ROOT / "recsys.toml")
    if not candidate.is_file():
        return {}
    with candidate.open("rb") as fh:
        return dict(tomllib.load(fh).get(section, {}))


def section_values(
    cls: type,
    section: str,
    config_path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    env: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The one config loader: the dataclass `cls`'s values from the `[section]` table of the config
    file, then `env`, then keyword `overrides` (None means not given). A key that is not a field of
    `cls` is an error that names it."""
    values = config_file_section(section, config_path)
    values.update(env or {})
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"[{section}]: unknown settings {sorted(unknown)}")
    return values


def load_settings(config_path: str | Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from defaults, the config file, the environment and `overrides`, in that order."""
    fields = {f.name: f.type for f in dataclasses.fields(Settings)}
    env: dict[str, Any] = {}
    for name, kind in fields.items():
        raw = os.environ.get(_env_name(name)) if name not in _DICT_FIELDS else None
        if raw is not None and raw != "":
            env[name] = _typed(name, raw, kind, f"{_env_name(name)}={raw!r}")
    values = section_values(Settings, "settings", config_path, overrides, env)
    for name, table in (("kafka_options", "kafka"), ("spark_options", "spark")):
        if name not in values:
            values[name] = config_file_section(table, config_path)
    source = f"[settings] of {config_path or os.environ.get('RECSYS_CONFIG') or 'recsys.toml'}"
    for name, value in values.items():
        if name not in env and not (overrides and overrides.get(name) is not None):
            values[name] = _typed(name, value, fields[name], source)
    return Settings(**values)


def env_help() -> list[tuple[str, str]]:
    """(environment variable, default) for every setting: the README's configuration table."""
    defaults = Settings(var_dir=Path("var"))
    return [
        (_env_name(f.name), str(getattr(defaults, f.name)))
        for f in dataclasses.fields(Settings)
        if f.name not in _DICT_FIELDS
    ]
