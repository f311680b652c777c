"""Detached processes: pid files, telling our process from a reused pid, stopping a group."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cairn_dev import process

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)", "cairn-dev-test-sleeper"]


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc, _ = process.spawn(SLEEPER, env=os.environ, cwd=tmp_path, log_file=tmp_path / "s.log")
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_a_spawned_process_leads_its_own_session(sleeper: subprocess.Popen[bytes]) -> None:
    assert os.getpgid(sleeper.pid) == sleeper.pid
    assert os.getsid(sleeper.pid) == sleeper.pid


def test_is_alive_checks_the_program_not_just_the_pid(sleeper: subprocess.Popen[bytes]) -> None:
    assert process.is_alive(sleeper.pid, "cairn-dev-test-sleeper")
    assert not process.is_alive(sleeper.pid, "kafka.Kafka")  # a reused pid is not ours


def test_stop_terminates_the_group_and_it_is_gone(sleeper: subprocess.Popen[bytes]) -> None:
    assert process.stop(sleeper.pid, timeout=10) == "stopped"
    assert not process.is_alive(sleeper.pid, "cairn-dev-test-sleeper")
    sleeper.wait(timeout=5)  # stop() may have reaped it already: no exit status to compare


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    stubborn = [
        sys.executable,
        "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('armed', flush=True); time.sleep(60)",
    ]
    proc, offset = process.spawn(
        stubborn, env=os.environ, cwd=tmp_path, log_file=tmp_path / "s.log"
    )
    try:
        while "armed" not in process.read_from(tmp_path / "s.log", offset):
            assert proc.poll() is None
        assert process.stop(proc.pid, timeout=0.5).startswith("killed")
    finally:
        proc.wait(timeout=5)


def test_the_log_gets_a_header_and_the_output(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    proc, offset = process.spawn(
        [sys.executable, "-c", "print('hello')"], env=os.environ, cwd=tmp_path, log_file=log
    )
    proc.wait(timeout=10)

    assert "----- cairn-dev" in log.read_text()
    assert process.read_from(log, offset) == "hello"


def test_a_large_log_moves_aside_when_its_component_starts(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("old run\n")
    process.rotate(log, limit=1024)
    assert log.read_text() == "old run\n"  # small: kept, the next run appends

    log.write_text("x" * 1024)
    (tmp_path / "x.log.1").write_text("older")
    process.rotate(log, limit=1024)
    assert not log.exists()
    assert (tmp_path / "x.log.1").read_text() == "x" * 1024  # the one before is gone

    process.rotate(tmp_path / "absent.log", limit=1024)  # nothing to move: no error


def test_pid_files(tmp_path: Path) -> None:
    pid_file = tmp_path / "run" / "x.pid"

    assert process.read_pid(pid_file) is None
    process.write_pid(pid_file, 1234)
    assert process.read_pid(pid_file) == 1234
    pid_file.write_text("garbage")
    assert process.read_pid(pid_file) is None


def test_a_vanished_pid_is_not_alive() -> None:
    assert not process.is_alive(2**22 + 7, "")  # above the kernel's pid_max default
