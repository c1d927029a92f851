"""The Spark session, built from settings: `local[*]` on a laptop, a cluster URL in production."""

from __future__ import annotations

import os
import sys

from infra.config import Settings, load_settings


def build_spark(
    master: str | None = None,
    app_name: str = "streamrec",
    shuffle_partitions: int | None = None,
    settings: Settings | None = None,
):
    """A SparkSession in UTC, with Arrow on; master and driver memory from settings unless given."""
    from pyspark.sql import SparkSession

    settings = settings or load_settings()
    master = master or settings.spark_master
    if master.startswith("local"):
        # Local executors run the driver's interpreter (the project's venv); a cluster's workers
        # have their own Python, set by PYSPARK_PYTHON or spark.pyspark.python in [spark].
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")  # stage bars would flood make up's output
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
    )
    if shuffle_partitions is not None:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    for key, value in settings.spark_options.items():  # the config file's [spark] table, last
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else str(value))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session
