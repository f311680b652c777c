"""What the ``registry`` and ``automation`` commands share: errors as one clear line, tables,
and the API client for an ``--entity``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

import click

from cairn.api.public import Api
from cairn.errors import CairnError, PermissionDeniedError

P = ParamSpec("P")
R = TypeVar("R")


def friendly(command: Callable[P, R]) -> Callable[P, R]:
    """Our errors and bad input become one line and exit code 1, not a traceback; a refusal
    for lack of a role says who may do it."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except PermissionDeniedError as exc:
            hint = (
                "an admin of the entity must do this (`cairn whoami` shows your roles)"
                if exc.code == "alias_protected" or "admin" in str(exc)
                else "`cairn whoami` shows your roles"
            )
            raise click.ClickException(f"{exc} (HTTP 403: {hint})") from exc
        except (CairnError, ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def open_api(entity: str | None) -> Api:
    """The public API, with ``entity`` as the default entity when given."""
    return Api(overrides={"entity": entity} if entity else None)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Left-aligned columns, as wide as their widest cell."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def short_time(value: str | None) -> str:
    """``2026-01-31T12:00:00.123+00:00`` → ``2026-01-31 12:00:00``."""
    if not value:
        return ""
    return value.replace("T", " ")[:19]
