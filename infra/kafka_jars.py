"""Apache Kafka's jars for the embedded broker: resolved once by Maven from infra/kafka/pom.xml.

The broker runs from the official `org.apache.kafka:kafka_2.13` artifact and its runtime
dependencies, nothing built here. Maven downloads them into its local repository (~/.m2, one copy of
each jar) and prints their classpath; that classpath is kept in the user's cache
(`$XDG_CACHE_HOME/streamrec`, default ~/.cache/streamrec) under a name made of the Kafka version and
a hash of the pom, so a version bump in the pom resolves again and a warm start runs no Maven at all.
A cached classpath whose jars are gone (a cleaned ~/.m2) is resolved again too.

Java 17 runs the broker; Maven is needed for the first resolve only. Both are checked here, so a
missing one is said in one sentence instead of a stack trace.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
LOG4J_CONFIG = POM.parent / "log4j2.properties"
MIN_JAVA = 17
MAVEN_TIMEOUT_S = 900.0


class SetupError(RuntimeError):
    """Java or Maven missing or too old, or Maven failing: the message says what to do."""


def kafka_version(pom: Path = POM) -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom.read_text())
    if not match:
        raise ValueError(f"{pom} does not set <kafka.version>")
    return match.group(1)


def java_major(version_output: str) -> int | None:
    """The feature release in `java -version`'s output (17 for "17.0.15", 8 for "1.8.0_402")."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def java() -> str:
    """The `java` that runs the broker ($JAVA_HOME/bin/java when JAVA_HOME is set, else the PATH's)."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not found or not os.access(found, os.X_OK):
        where = f"JAVA_HOME={home}" if home else "PATH"
        raise SetupError(
            f"Java {MIN_JAVA} or newer is needed to run the embedded Apache Kafka broker, and no `java` "
            f"was found on {where}. Install a JDK {MIN_JAVA} (Debian/Ubuntu: apt-get install "
            "openjdk-17-jdk-headless), or set KAFKA_BOOTSTRAP_SERVERS to use an existing Kafka cluster."
        )
    out = subprocess.run([found, "-version"], capture_output=True, text=True, timeout=60)
    major = java_major(out.stderr + out.stdout)
    if major is not None and major < MIN_JAVA:
        raise SetupError(
            f"Apache Kafka 4 needs Java {MIN_JAVA} or newer; {found} is Java {major}. "
            "Install a JDK 17 and put it first on PATH (or set JAVA_HOME)."
        )
    return found


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "streamrec"


def cache_file(pom: Path = POM) -> Path:
    """Where the classpath of this pom is kept: a new version or any edit of the pom gets a new file."""
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    return cache_dir() / f"kafka-{kafka_version(pom)}-{digest}.classpath"


def _cached(path: Path) -> str | None:
    """The cached classpath if every jar on it still exists."""
    try:
        classpath = path.read_text().strip()
    except OSError:
        return None
    jars = classpath.split(os.pathsep)
    return classpath if jars and all(Path(jar).is_file() for jar in jars) else None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One resolve at a time (make up and a test session may start together)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _maven() -> str:
    found = shutil.which("mvn")
    if not found:
        raise SetupError(
            "Maven (`mvn`) is needed once, to download Apache Kafka's jars for the embedded broker, and "
            "none was found on PATH. Install Maven 3.8 or newer (Debian/Ubuntu: apt-get install maven), "
            "or set KAFKA_BOOTSTRAP_SERVERS to use an existing Kafka cluster."
        )
    return found


def resolve(pom: Path, output: Path, mvn: str) -> None:
    """Ask Maven for the runtime classpath of `pom` and write it to `output`."""
    cmd = [
        mvn,
        "--batch-mode",
        "--quiet",
        "--file",
        str(pom),
        "dependency:build-classpath",
        "-Dmdep.includeScope=runtime",
        f"-Dmdep.outputFile={output}",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_S)
    if done.returncode or not output.is_file():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise SetupError(f"Maven could not resolve Apache Kafka from {pom} (exit {done.returncode}):\n{tail}")


def classpath(pom: Path = POM, announce: Callable[[str], None] = print) -> str:
    """The broker's classpath: from the cache, else resolved by Maven now (once per pom)."""
    path = cache_file(pom)
    found = _cached(path)
    if found:
        return found
    with _locked(path.with_suffix(".lock")):
        found = _cached(path)  # resolved by another process while this one waited
        if found:
            return found
        mvn = _maven()
        announce(
            f"Resolving Apache Kafka {kafka_version(pom)} with Maven (once; on an empty Maven cache "
            "about 30 s and 66 MB in ~/.m2)"
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            resolve(pom, tmp, mvn)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    found = _cached(path)
    if not found:
        raise SetupError(f"Maven wrote a classpath with missing jars: {path}")
    return found
