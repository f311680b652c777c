"""Cached downloads and builds under ~/.cache/cairn-dev, keyed by version.

A build writes to a temporary path and is renamed into place only when complete, so an interrupted
build is never mistaken for a finished one. A file lock keeps two cairn-dev runs from building the
same thing at once (the second waits and reuses the result).
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import click

from cairn_dev import process, tools, versions
from cairn_dev.errors import CairnDevError


@contextlib.contextmanager
def build_lock(lock_path: Path, what: str) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            click.echo(f"waiting for another cairn-dev to finish {what}...")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run(argv: Sequence[str], *, cwd: Path, env: dict[str, str], log_file: Path) -> None:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("wb") as log:
        log.write(f"$ {' '.join(argv)}\n".encode())
        log.flush()
        code = subprocess.run(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    if code != 0:
        raise CairnDevError(
            f"`{' '.join(argv)}` failed with status {code}. Its log {log_file} ends with:\n"
            f"{process.read_from(log_file, 0)}"
        )


def _build_env(**extra: str) -> dict[str, str]:
    # Static Go binaries: no C toolchain needed, nothing to break when system libraries change.
    return {**os.environ, "CGO_ENABLED": "0", **extra}


def _timed_notice(notice: str) -> float:
    click.echo(notice)
    return time.monotonic()


def _done(what: str, started: float) -> None:
    click.echo(f"{what} in {time.monotonic() - started:.0f}s")


def go_install(
    cache: Path, *, tool: str, label: str, module: str, version: str, minutes: int, log_file: Path
) -> Path:
    """`<cache>/<tool>/<version>/bin/<tool>`, built with `GOBIN=... go install module@version`."""
    final = cache / tool / version / "bin" / tool
    if final.is_file():
        return final
    with build_lock(cache / tool / f"{version}.lock", f"building {label}"):
        if final.is_file():
            return final
        go = tools.require("go", f"to build {label}")
        started = _timed_notice(f"building {label} {version} (first time only, ~{minutes} min)")
        tmp = final.parent.parent / f".build-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            _run(
                [str(go), "install", f"{module}@{version}"],
                cwd=tmp,
                env=_build_env(GOBIN=str(tmp)),
                log_file=log_file,
            )
            final.parent.mkdir(parents=True, exist_ok=True)
            (tmp / tool).replace(final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _done(f"built {label}", started)
    return final


def kafka_libs(cache: Path, repo: Path, *, log_file: Path) -> Path:
    """`<cache>/kafka/<version>/libs`: Kafka's jars fetched from Maven Central."""
    final = cache / "kafka" / versions.KAFKA / "libs"
    if final.is_dir():
        return final
    with build_lock(cache / "kafka" / f"{versions.KAFKA}.lock", "fetching Kafka"):
        if final.is_dir():
            return final
        mvn = tools.require("mvn", "to fetch Kafka's jars")
        tools.require("java", "to run Kafka")
        started = _timed_notice(
            f"fetching Kafka {versions.KAFKA} jars from Maven Central (first time only, ~15 s)"
        )
        tmp = cache / "kafka" / f".{versions.KAFKA}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            _run(
                [
                    str(mvn),
                    "-q",
                    "-B",
                    "-f",
                    str(repo / "deploy/local/kafka/pom.xml"),
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={tmp / 'libs'}",
                    f"-Dkafka.version={versions.KAFKA}",
                    f"-Dlog4j.version={versions.LOG4J}",
                    f"-Dslf4j.version={versions.SLF4J}",
                ],
                cwd=repo,
                env=dict(os.environ),
                log_file=log_file,
            )
            final.parent.mkdir(parents=True, exist_ok=True)
            (tmp / "libs").rename(final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _done("fetched Kafka", started)
    return final


FERRETDB_MODULE = "github.com/FerretDB/FerretDB"


def _ferretdb_inputs(source: Path) -> list[Path]:
    return [source / "go.mod", source / "go.sum", source / "main.go", *_ferretdb_patches(source)]


def _ferretdb_patches(source: Path) -> list[Path]:
    return sorted((source / "patches").glob("*.patch"))


def _source_digest(source: Path, files: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        name = path.relative_to(source).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _patched_ferretdb(source: Path, work: Path, *, go: Path, git: Path, log_file: Path) -> None:
    """Our FerretDB program in ``work``, built against FerretDB's module with our patches
    applied (``deploy/local/ferretdb/patches``, each explains itself)."""
    for name in ("go.mod", "go.sum", "main.go"):
        shutil.copy2(source / name, work / name)
    found = subprocess.run(
        [str(go), "mod", "download", "-json", f"{FERRETDB_MODULE}@{versions.FERRETDB}"],
        cwd=work,
        env=_build_env(),
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        raise CairnDevError(f"`go mod download {FERRETDB_MODULE}` failed:\n{found.stderr.decode()}")
    module = work / "ferretdb-src"
    shutil.copytree(json.loads(found.stdout)["Dir"], module)
    for path in [module, *module.rglob("*")]:  # the module cache is read-only
        path.chmod(path.stat().st_mode | 0o200)
    for patch in _ferretdb_patches(source):
        _run([str(git), "apply", str(patch)], cwd=module, env=dict(os.environ), log_file=log_file)
    _run(
        [str(go), "mod", "edit", f"-replace={FERRETDB_MODULE}=./ferretdb-src"],
        cwd=work,
        env=_build_env(),
        log_file=log_file,
    )


def ferretdb_binary(cache: Path, repo: Path, *, log_file: Path) -> Path:
    """`<cache>/ferretdb/<version>/cairn-ferretdb`, rebuilt when deploy/local/ferretdb changes."""
    source = repo / "deploy" / "local" / "ferretdb"
    final = cache / "ferretdb" / versions.FERRETDB / "cairn-ferretdb"
    stamp = final.with_name("cairn-ferretdb.sha256")
    digest = _source_digest(source, _ferretdb_inputs(source))

    def fresh() -> bool:
        return final.is_file() and stamp.is_file() and stamp.read_text().strip() == digest

    if fresh():
        return final
    with build_lock(final.with_name("build.lock"), "building FerretDB"):
        if fresh():
            return final
        go = tools.require("go", "to build FerretDB")
        git = tools.require("git", "to patch FerretDB")
        why = "deploy/local/ferretdb changed" if final.is_file() else "first time only, ~80 s"
        started = _timed_notice(f"building FerretDB {versions.FERRETDB} ({why})")
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".cairn-ferretdb.{os.getpid()}.tmp")
        work = final.with_name(f".build.{os.getpid()}")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        try:
            _patched_ferretdb(source, work, go=go, git=git, log_file=log_file)
            _run(
                [str(go), "build", "-trimpath", "-buildvcs=false", "-o", str(tmp), "."],
                cwd=work,
                env=_build_env(),
                log_file=log_file,
            )
            tmp.replace(final)
        finally:
            tmp.unlink(missing_ok=True)
            shutil.rmtree(work, ignore_errors=True)
        stamp_tmp = stamp.with_name(f".{stamp.name}.tmp")
        stamp_tmp.write_text(digest + "\n")
        stamp_tmp.replace(stamp)
        _done("built FerretDB", started)
    return final
