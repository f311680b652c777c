"""`cairn-dev logs`: the last lines of a component's log, optionally following it."""

import time
from pathlib import Path

import click

_BLOCK = 64 * 1024


def last_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines, reading backwards so a big log costs no more than its tail."""
    if count <= 0:
        return []
    with path.open("rb") as f:
        f.seek(0, 2)
        end = f.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= count:
            start = max(0, end - _BLOCK)
            f.seek(start)
            data = f.read(end - start) + data
            end = start
    return data.decode(errors="replace").splitlines()[-count:]


def follow(path: Path, *, poll: float = 0.25) -> None:
    """Print what gets appended until Ctrl-C; starts over if the file is truncated or replaced."""
    with path.open("rb") as f:
        f.seek(0, 2)
        inode = path.stat().st_ino
        while True:
            chunk = f.read()
            if chunk:
                click.echo(chunk.decode(errors="replace"), nl=False)
                continue
            try:
                current = path.stat()
            except FileNotFoundError:
                time.sleep(poll)
                continue
            if current.st_ino != inode or current.st_size < f.tell():
                f.close()
                follow_from_start(path, poll=poll)
                return
            time.sleep(poll)


def follow_from_start(path: Path, *, poll: float) -> None:
    with path.open("rb") as f:
        click.echo(f.read().decode(errors="replace"), nl=False)
    follow(path, poll=poll)
